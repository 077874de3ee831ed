import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeWorkloadCluster, FakeWorkloadConnector } from './fake.ts';
import { WorkloadError, type WorkloadTarget } from './port.ts';
import { manifestPath } from './adapter.ts';

const t0 = new Date('2026-01-01T00:00:00Z');
const t1 = new Date('2026-01-01T00:05:00Z');

test('nodes: add, readiness, listing copies, removal', async () => {
  const c = new FakeWorkloadCluster().addNode('w1').addNode('w2', { kubeletVersion: 'v1.34.2' });
  c.setReady('w1', 'False', 'KubeletNotReady: container runtime down');
  const nodes = await c.listNodes();
  assert.deepEqual(nodes.map((n) => [n.name, n.ready, n.unschedulable]), [['w1', 'False', false], ['w2', 'True', false]]);
  assert.equal(nodes[0]!.message, 'KubeletNotReady: container runtime down');
  nodes[0]!.unschedulable = true;
  assert.equal(c.node('w1')!.unschedulable, false, 'callers get copies');
  c.removeNode('w2');
  assert.deepEqual((await c.listNodes()).map((n) => n.name), ['w1']);
});

test('cordon marks the node and keeps the first drain start; an unknown node is 404', async () => {
  const c = new FakeWorkloadCluster().addNode('w1');
  assert.deepEqual(await c.cordon('w1', t0), t0);
  assert.deepEqual(await c.cordon('w1', t1), t0, 'idempotent: the first time is kept');
  assert.deepEqual(c.node('w1'), { name: 'w1', ready: 'True', unschedulable: true, drainStartedAt: t0 });
  await assert.rejects(c.cordon('nope', t0), (e: unknown) => e instanceof WorkloadError && e.status === 404 && e.operation === 'cordon');
});

test('evictPods: evictable pods go, DaemonSet/mirror/finished pods are ignored, PDB-blocked ones stay until unblocked', async () => {
  const c = new FakeWorkloadCluster()
    .addNode('w1')
    .addPod({ name: 'web-1', node: 'w1' })
    .addPod({ name: 'db-0', namespace: 'data', node: 'w1', blocked: true })
    .addPod({ name: 'slow', node: 'w1', graceful: true })
    .addPod({ name: 'proxy', namespace: 'kube-system', node: 'w1', daemonSet: true })
    .addPod({ name: 'static', namespace: 'kube-system', node: 'w1', mirror: true })
    .addPod({ name: 'job', node: 'w1', phase: 'Succeeded' })
    .addPod({ name: 'elsewhere', node: 'w2' });
  assert.deepEqual(await c.evictPods('w1'), { remaining: ['data/db-0', 'default/slow'], blocked: ['data/db-0'] });
  assert.equal(c.pods('w1').find((p) => p.name === 'slow')!.terminating, true, 'graceful pods terminate');
  assert.deepEqual(c.pods('w2').map((p) => p.name), ['elsewhere']);

  // Terminating pods are waited for but not evicted again.
  assert.deepEqual(await c.evictPods('w1'), { remaining: ['data/db-0', 'default/slow'], blocked: ['data/db-0'] });
  c.finishTerminating('w1');
  c.unblockPod('data', 'db-0');
  assert.deepEqual(await c.evictPods('w1'), { remaining: [], blocked: [] });
  assert.deepEqual(c.pods('w1').map((p) => p.name).sort(), ['job', 'proxy', 'static']);
});

test('deleteNode: gone is success; pods stay, as on a real server', async () => {
  const c = new FakeWorkloadCluster().addNode('w1').addPod({ name: 'p', node: 'w1' });
  await c.deleteNode('w1');
  await c.deleteNode('w1');
  assert.deepEqual(await c.listNodes(), []);
  assert.equal(c.pods('w1').length, 1);
});

test('apply records objects (last wins) and refuses unknown kinds without applying anything', async () => {
  const c = new FakeWorkloadCluster();
  const cm = (data: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'coredns', namespace: 'kube-system' }, data: { Corefile: data } });
  await c.apply([cm('one'), { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'flannel' } }]);
  await c.apply([cm('two')]);
  assert.deepEqual(c.appliedObject('v1', 'ConfigMap', 'coredns', 'kube-system')?.data, { Corefile: 'two' });
  assert.equal(c.applied().length, 2);
  const unknown = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };
  await assert.rejects(c.apply([cm('three'), unknown]), /Widget w: kind not supported/);
  assert.deepEqual(c.appliedObject('v1', 'ConfigMap', 'coredns', 'kube-system')?.data, { Corefile: 'two' });
});

test('unreachable: every call throws status 0, readyz answers not ok; failNext fails exactly once', async () => {
  const c = new FakeWorkloadCluster().addNode('w1');
  assert.deepEqual(await c.readyz(), { ok: true });
  c.unreachable = true;
  for (const call of [() => c.listNodes(), () => c.cordon('w1', t0), () => c.evictPods('w1'), () => c.deleteNode('w1'), () => c.apply([])]) {
    await assert.rejects(call(), (e: unknown) => e instanceof WorkloadError && e.status === 0);
  }
  assert.equal((await c.readyz()).ok, false);
  c.unreachable = false;

  c.failNext('listNodes').failNext('listNodes', new WorkloadError('listNodes', 403, 'forbidden'));
  await assert.rejects(c.listNodes(), (e: unknown) => e instanceof WorkloadError && e.status === 500);
  await assert.rejects(c.listNodes(), (e: unknown) => e instanceof WorkloadError && e.status === 403);
  assert.equal((await c.listNodes()).length, 1);
  c.failNext('readyz');
  assert.deepEqual(await c.readyz(), { ok: false, message: 'workload API readyz: injected failure' });
  assert.deepEqual(c.calls.slice(-4), ['listNodes', 'listNodes', 'listNodes', 'readyz']);
});

test('the connector hands out one fake per serverName and records targets', () => {
  const conn = new FakeWorkloadConnector();
  const target = (serverName: string, ip: string): WorkloadTarget => ({ ip, serverName, ca: 'ca', cert: 'cert', key: 'key' });
  const prepared = conn.cluster('api.demo.example.com').addNode('w1');
  assert.equal(conn.connect(target('api.demo.example.com', '10.0.0.1')), prepared);
  assert.equal(conn.connect(target('api.demo.example.com', '10.0.0.2')), prepared);
  assert.notEqual(conn.connect(target('api.other.example.com', '10.0.0.3')), prepared);
  assert.deepEqual(conn.targets.map((t) => t.ip), ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
});

test('manifestPath: core, grouped, cluster-scoped; a namespaced kind needs a namespace', () => {
  assert.equal(manifestPath({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'kube-dns', namespace: 'kube-system' } }), '/api/v1/namespaces/kube-system/services/kube-dns');
  assert.equal(manifestPath({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'coredns', namespace: 'kube-system' } }), '/apis/apps/v1/namespaces/kube-system/deployments/coredns');
  assert.equal(manifestPath({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'system:coredns' } }), '/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Acoredns');
  assert.equal(manifestPath({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } }), '/api/v1/namespaces/x');
  assert.throws(() => manifestPath({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }), /namespace required/);
});
