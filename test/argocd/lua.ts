// Runs an Argo CD health script with the real Lua 5.1 interpreter (`lua5.1`, Debian package lua5.1), the
// way Argo CD does: the live object is the global `obj`, the script's chunk returns `hs` ({status, message}).
// Argo CD's interpreter is gopher-lua, a Lua 5.1; JSON arrays become sequences, null becomes nil.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const run = promisify(execFile);
export const LUA = process.env.HARDWAY_LUA ?? 'lua5.1';

/** A JSON value as a Lua 5.1 expression. */
export function toLua(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v).replace(/\\u([0-9a-f]{4})/gi, (_, h: string) => `\\${parseInt(h, 16)}`);
  if (Array.isArray(v)) return `{${v.map(toLua).join(', ')}}`;
  return `{${Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== null && x !== undefined)
    .map(([k, x]) => `[${toLua(k)}] = ${toLua(x)}`)
    .join(', ')}}`;
}

export interface Health {
  status: string;
  message: string;
}

/** Runs `script` (a file) against `obj`; rejects if Lua fails or the result is not {status, message}. */
export async function runHealth(script: string, obj: unknown): Promise<Health> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hardway-lua-'));
  try {
    const harness = path.join(dir, 'harness.lua');
    await writeFile(
      harness,
      [
        `obj = ${toLua(obj)}`,
        `local chunk = assert(loadfile(${toLua(path.resolve(script))}))`,
        'local hs = chunk()',
        'assert(type(hs) == "table", "the script returned no table")',
        'assert(type(hs.status) == "string", "hs.status is not a string")',
        'io.write(hs.status, "\\n", tostring(hs.message or ""))',
      ].join('\n'),
    );
    const { stdout } = await run(LUA, [harness], { encoding: 'utf8' });
    const [status, ...rest] = stdout.split('\n');
    return { status: status!, message: rest.join('\n') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
