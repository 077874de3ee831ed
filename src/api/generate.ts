// `npm run generate`: writes crds/ from src/api. `--check` exits 1 when crds/ is stale instead of writing.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { renderCrds } from './render.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const check = process.argv.includes('--check');
let stale = 0;
await mkdir(path.join(root, 'crds'), { recursive: true });
for (const { file, text } of renderCrds()) {
  const target = path.join(root, 'crds', file);
  const current = await readFile(target, 'utf8').catch(() => '');
  if (current === text) continue;
  if (check) {
    console.error(`crds/${file} is stale: run npm run generate`);
    stale++;
  } else {
    await writeFile(target, text);
    console.log(`wrote crds/${file}`);
  }
}
process.exitCode = stale ? 1 : 0;
