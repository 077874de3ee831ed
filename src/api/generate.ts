// `npm run generate`: writes the CRDs from src/api into every place that ships them: crds/ (kubectl apply
// -f), the Helm chart's crds/ and the kustomize base config/crd/ (kustomize reads nothing outside its own
// directory, Helm nothing outside the chart). `--check` exits 1 when any copy is stale instead of writing.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { renderCrds, CRD_DIRS } from './render.ts';
import { renderArgoCdSnippet, ARGOCD_DIR } from './argocd.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const check = process.argv.includes('--check');
let stale = 0;
const lua = await readFile(path.join(root, ARGOCD_DIR, 'health.lua'), 'utf8');
const outputs = [
  ...CRD_DIRS.flatMap((dir) => renderCrds().map(({ file, text }) => ({ dir, file, text }))),
  { dir: ARGOCD_DIR, file: 'argocd-cm.yaml', text: renderArgoCdSnippet(lua) },
];
for (const { dir, file, text } of outputs) {
  {
    await mkdir(path.join(root, dir), { recursive: true });
    const target = path.join(root, dir, file);
    const current = await readFile(target, 'utf8').catch(() => '');
    if (current === text) continue;
    if (check) {
      console.error(`${dir}/${file} is stale: run npm run generate`);
      stale++;
    } else {
      await writeFile(target, text);
      console.log(`wrote ${dir}/${file}`);
    }
  }
}
process.exitCode = stale ? 1 : 0;
