// Renders charts/hardway-operator with test/env/helm-render (Go text/template + sprig: Helm's engine), built
// and cached by test/env/build-helm-render.sh on first use.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from './samples.ts';

const run = promisify(execFile);
export const chartDir = path.join(repoRoot, 'charts/hardway-operator');

let binary: string | undefined;
/** Path of the helm-render binary (built once per machine, then cached outside the repository). */
export function helmRenderBinary(): string {
  if (!binary) {
    const out = execFileSync('bash', [path.join(repoRoot, 'test/env/build-helm-render.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    binary = out.trim().split('\n').pop()!;
  }
  return binary;
}

export interface RenderOptions {
  name?: string;
  namespace?: string;
  set?: Record<string, string | number | boolean>;
  skipCrds?: boolean;
}

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

function args(o: RenderOptions): string[] {
  return [
    `--name=${o.name ?? 'hardway'}`,
    `--namespace=${o.namespace ?? 'hardway-system'}`,
    ...Object.entries(o.set ?? {}).flatMap(([k, v]) => ['--set', `${k}=${v}`]),
    ...(o.skipCrds ? ['--skip-crds'] : []),
  ];
}

/** The chart's manifests as `helm template --include-crds` prints them, and parsed. */
export async function renderChart(o: RenderOptions = {}): Promise<{ text: string; docs: Manifest[] }> {
  const { stdout } = await run(helmRenderBinary(), [...args(o), chartDir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const docs = parseAllDocuments(stdout).map((d) => {
    if (d.errors.length) throw new Error(`rendered chart does not parse: ${d.errors[0]!.message}`);
    return d.toJS() as Manifest;
  });
  return { text: stdout, docs: docs.filter(Boolean) };
}

/** Rejects with helm-render's message when rendering fails (e.g. a `fail` or `required`). */
export async function renderChartError(o: RenderOptions): Promise<string> {
  try {
    await run(helmRenderBinary(), [...args(o), chartDir], { encoding: 'utf8' });
  } catch (e) {
    return (e as { stderr: string }).stderr;
  }
  throw new Error('rendering succeeded');
}

export async function renderNotes(o: RenderOptions = {}): Promise<string> {
  return (await run(helmRenderBinary(), [...args(o), '--notes', chartDir], { encoding: 'utf8' })).stdout;
}

/** The values the templates see (values.yaml merged with --set), for the JSON Schema check. */
export async function mergedValues(o: RenderOptions = {}): Promise<unknown> {
  return JSON.parse((await run(helmRenderBinary(), [...args(o), '--values-json', chartDir], { encoding: 'utf8' })).stdout);
}

export const find = (docs: Manifest[], kind: string, name?: string): Manifest => {
  const d = docs.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (!d) throw new Error(`no ${kind}${name ? ` ${name}` : ''} in the rendered manifests`);
  return d;
};
