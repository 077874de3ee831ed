// The CRDs and samples against a real kube-apiserver (v1.20: no CEL, so CRDs go in with --validate=false).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { kubeEnv, freshNamespace, type KubeEnv } from './env.ts';

let env: KubeEnv;
before(async () => (env = await kubeEnv()));
after(async () => env?.close());

test('the CRDs install (again: apply is idempotent) and are Established', async () => {
  const out = await env.kubectl('apply', '--validate=false', '-f', 'crds/');
  assert.match(out, /etcdclusters\.hardway\.dev (created|configured|unchanged)/);
  await env.kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/etcdclusters.hardway.dev', 'crd/controlplanes.hardway.dev', 'crd/workerpools.hardway.dev');
  const names = await env.kubectl('api-resources', '--api-group=hardway.dev', '-o', 'name');
  assert.deepEqual(names.trim().split('\n').sort(), ['controlplanes.hardway.dev', 'etcdclusters.hardway.dev', 'workerpools.hardway.dev']);
});

test('the samples apply, defaults are filled in, and kubectl get hardway shows the printer columns', async () => {
  const ns = await freshNamespace(env, 'samples');
  const out = await env.kubectl('apply', '-n', ns, '-f', 'config/samples/');
  assert.match(out, /etcdcluster.hardway.dev\/demo created/);
  assert.match(out, /controlplane.hardway.dev\/demo created/);
  assert.match(out, /workerpool.hardway.dev\/demo-general created/);
  const cp = JSON.parse(await env.kubectl('get', '-n', ns, 'cp', 'demo', '-o', 'json'));
  assert.equal(cp.spec.machine.image, 'ubuntu-24-04-x64', 'schema default applied by the server');
  const wp = JSON.parse(await env.kubectl('get', '-n', ns, 'wp', 'demo-general', '-o', 'json'));
  assert.deepEqual(wp.spec.rollout, { maxSurge: 1, maxUnavailable: 0 });
  const table = await env.kubectl('get', '-n', ns, 'hardway');
  assert.match(table, /NAME\s+READY\s+REPLICAS\s+VERSION\s+ENDPOINT\s+AGE/);
  assert.match(table, /etcdcluster.hardway.dev\/demo\s+3\s+3\.5\.21/);
  assert.match(table, /workerpool.hardway.dev\/demo-general/);
});

test('the API server rejects what the schema forbids, naming the field', async () => {
  const ns = await freshNamespace(env, 'bad');
  const bad = JSON.stringify({
    apiVersion: 'hardway.dev/v1alpha1',
    kind: 'EtcdCluster',
    metadata: { name: 'bad', namespace: ns },
    spec: { replicas: 4, version: 'v3.5', machine: { region: 'fra1', size: 's-1vcpu-1gb' }, dns: { zone: 'example.com' }, credentialsRef: { name: 'c' } },
  });
  await assert.rejects(env.kubectlInput(bad, 'apply', '--validate=false', '-f', '-'), (err: Error) => {
    assert.match(err.message, /spec\.replicas: Unsupported value: 4/);
    assert.match(err.message, /spec\.version in body should match/);
    return true;
  });
});

test('kubectl explain prints the field descriptions', async () => {
  // The API server publishes CRD schemas to its OpenAPI document asynchronously after a change.
  let out = '';
  for (let attempt = 0; attempt < 60 && !out; attempt++) {
    out = await env.kubectl('explain', 'controlplane.spec.network').catch(() => '');
    // Polling another process's state with a deadline: there is no event to wait for.
    if (!out) await new Promise((r) => setTimeout(r, 500));
  }
  assert.match(out, /Pod and service networking of the new cluster/);
  assert.match(out, /serviceCIDR/);
  const field = await env.kubectl('explain', 'etcdcluster.spec.replicas');
  assert.match(field, /1, 3, 5 or 7/);
});

test('deleting a namespace removes our objects in it (kube-controller-manager runs in the test environment)', { timeout: 120_000 }, async () => {
  const ns = await freshNamespace(env, 'gone');
  await env.kubectl('apply', '-n', ns, '-f', 'config/samples/etcdcluster.yaml');
  await env.kubectl('delete', 'namespace', ns, '--wait=true', '--timeout=90s');
  const left = await env.kubectl('get', 'etcdclusters', '--all-namespaces', '-o', 'name', `--field-selector=metadata.namespace=${ns}`);
  assert.equal(left.trim(), '');
  await assert.rejects(env.kubectl('get', 'namespace', ns), /NotFound|not found/);
});
