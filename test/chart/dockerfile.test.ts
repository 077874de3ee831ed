// The Dockerfile cannot be built here (no container runtime), so it is checked by reading: multi-stage,
// production dependencies only in the runtime stage, a Node.js LTS slim base, a numeric non-root user, an
// entrypoint that is what `npm run build` produces, and a .dockerignore that lets in exactly what it copies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/samples.ts';

const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const [op, ...rest] = l.split(/\s+/);
    return { op: op!.toUpperCase(), args: rest.join(' ') };
  });
const stages: { from: string; name?: string; body: { op: string; args: string }[] }[] = [];
for (const i of instructions) {
  if (i.op === 'FROM') {
    const m = i.args.match(/^(\S+)(?:\s+AS\s+(\S+))?$/i)!;
    stages.push({ from: m[1]!, name: m[2], body: [] });
  } else stages.at(-1)?.body.push(i);
}

test('Dockerfile: multi-stage on a Node.js LTS slim image; the runtime stage has production dependencies only', () => {
  const nodeVersion = instructions.find((i) => i.op === 'ARG' && i.args.startsWith('NODE_VERSION='))!.args.split('=')[1]!;
  assert.ok(Number(nodeVersion) >= 22 && Number(nodeVersion) % 2 === 0, `Node.js ${nodeVersion} is an even (LTS) line, 22 or newer`);
  assert.ok(stages.length >= 2, 'multi-stage');
  for (const s of stages) assert.equal(s.from, 'node:${NODE_VERSION}-bookworm-slim');
  const runtime = stages.at(-1)!;
  const deps = stages.find((s) => s.body.some((i) => i.op === 'RUN' && /npm ci .*--omit=dev/.test(i.args)));
  assert.ok(deps, 'a stage installs production dependencies only');
  const copies = runtime.body.filter((i) => i.op === 'COPY');
  assert.ok(copies.some((c) => c.args.includes(`--from=${deps!.name}`) && c.args.includes('node_modules')), 'node_modules come from the production-deps stage');
  assert.ok(!copies.some((c) => /--from=build\b.*node_modules/.test(c.args)), 'no dev dependencies in the runtime image');
  assert.ok(runtime.body.some((i) => i.op === 'ENV' && i.args === 'NODE_ENV=production'));
});

test('Dockerfile: runs as a numeric non-root user the chart\'s runAsNonRoot accepts; entrypoint is the compiled main', () => {
  const runtime = stages.at(-1)!;
  const user = runtime.body.filter((i) => i.op === 'USER').at(-1)!.args;
  assert.match(user, /^[1-9]\d*:[1-9]\d*$/, 'numeric UID:GID, not root');
  const values = readFileSync(path.join(repoRoot, 'charts/hardway-operator/values.yaml'), 'utf8');
  assert.match(values, new RegExp(`runAsUser: ${user.split(':')[0]}\\b`), 'the chart runs the same UID');
  const entry = JSON.parse(runtime.body.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
  assert.equal(entry[0], 'node');
  const build = JSON.parse(readFileSync(path.join(repoRoot, 'tsconfig.build.json'), 'utf8')).compilerOptions;
  assert.equal(entry.at(-1), `${build.outDir}/main.js`, 'dist/main.js is what tsc makes of src/main.ts');
  assert.equal(build.rootDir, 'src');
  assert.ok(existsSync(path.join(repoRoot, 'src/main.ts')));
  assert.ok(runtime.body.some((i) => i.op === 'EXPOSE' && i.args === '8080'));
});

test('.dockerignore lets in exactly the files the build copies, and no tests', () => {
  const rules = readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  assert.equal(rules[0], '*', 'everything is excluded unless listed');
  const allowed = rules.filter((r) => r.startsWith('!')).map((r) => r.slice(1).replace(/\/$/, ''));
  const sources = instructions
    .filter((i) => i.op === 'COPY' && !i.args.includes('--from='))
    .flatMap((i) => i.args.replace(/--\S+/g, '').trim().split(/\s+/).slice(0, -1));
  for (const s of sources) {
    assert.ok(allowed.includes(s.replace(/\/$/, '')), `${s} is let in by .dockerignore`);
    assert.ok(existsSync(path.join(repoRoot, s)), `${s} exists`);
  }
  assert.ok(rules.includes('src/**/*.test.ts'));
});
