// The Argo CD health check (charts/hardway-operator/argocd/health.lua) run by the real Lua 5.1 interpreter
// against status fixtures, in Argo CD's own test layout (health_test.yaml + testdata/), and the argocd-cm
// snippet shipped with the chart checked against the script.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { runHealth } from './lua.ts';
import { repoRoot } from '../helpers/samples.ts';
import { ARGOCD_DIR, argoCdHealthKeys, renderArgoCdSnippet } from '../../src/api/argocd.ts';
import { KINDS } from '../../src/api/v1alpha1/index.ts';
import { ETCD_CLUSTER_CONDITIONS, CONTROL_PLANE_CONDITIONS, WORKER_POOL_CONDITIONS } from '../../src/api/v1alpha1/condition-types.ts';

const here = path.join(repoRoot, 'test/argocd');
const script = path.join(repoRoot, ARGOCD_DIR, 'health.lua');

interface Case {
  inputPath: string;
  healthStatus: { status: string; message: string };
}
const cases = (parse(readFileSync(path.join(here, 'health_test.yaml'), 'utf8')) as { tests: Case[] }).tests;

for (const c of cases) {
  test(`health.lua: ${c.inputPath} is ${c.healthStatus.status}`, async () => {
    const obj = parse(readFileSync(path.join(here, c.inputPath), 'utf8'));
    assert.deepEqual(await runHealth(script, obj), c.healthStatus);
  });
}

test('health.lua: every fixture in testdata/ is listed in health_test.yaml, and every status Argo CD knows appears', async () => {
  const { readdirSync } = await import('node:fs');
  const listed = new Set(cases.map((c) => c.inputPath));
  for (const f of readdirSync(path.join(here, 'testdata'))) assert.ok(listed.has(`testdata/${f}`), `testdata/${f} is not in health_test.yaml`);
  assert.deepEqual([...new Set(cases.map((c) => c.healthStatus.status))].sort(), ['Degraded', 'Healthy', 'Progressing', 'Suspended']);
});

test('health.lua: every kind with its full first-visit condition set (all Unknown) is Progressing, never an error', async () => {
  const sets = { EtcdCluster: ETCD_CLUSTER_CONDITIONS, ControlPlane: CONTROL_PLANE_CONDITIONS, WorkerPool: WORKER_POOL_CONDITIONS };
  for (const [kind, types] of Object.entries(sets)) {
    const obj = {
      apiVersion: 'hardway.dev/v1alpha1',
      kind,
      metadata: { name: 'x', generation: 1 },
      status: { observedGeneration: 1, conditions: types.map((type) => ({ type, status: 'Unknown', reason: 'NotYetObserved', observedGeneration: 1 })) },
    };
    assert.equal((await runHealth(script, obj)).status, 'Progressing', kind);
  }
});

test('health.lua: odd but possible objects (no metadata.generation, empty conditions, messages with quotes and non-ASCII) do not break it', async () => {
  assert.equal((await runHealth(script, { metadata: {}, status: { conditions: [] } })).status, 'Progressing');
  const odd = { metadata: { generation: 1 }, status: { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'say "hi" \\ 3/3 – ok\nnext' }] } };
  assert.deepEqual(await runHealth(script, odd), { status: 'Healthy', message: 'say "hi" \\ 3/3 – ok\nnext' });
});

test('argocd-cm.yaml carries health.lua verbatim for each of the three kinds (run npm run generate)', () => {
  const lua = readFileSync(script, 'utf8');
  const text = readFileSync(path.join(repoRoot, ARGOCD_DIR, 'argocd-cm.yaml'), 'utf8');
  assert.equal(text, renderArgoCdSnippet(lua), 'argocd-cm.yaml is stale: run npm run generate');
  const data = (parse(text) as { data: Record<string, string> }).data;
  assert.deepEqual(Object.keys(data), argoCdHealthKeys());
  assert.equal(argoCdHealthKeys().length, KINDS.length);
  for (const key of argoCdHealthKeys()) assert.equal(data[key], lua, key);
});
