// The Kubernetes adapter and informers against a real kube-apiserver.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { kubeEnv, freshNamespace, type KubeEnv } from './env.ts';
import { EtcdClusters, Secrets } from '../../src/kube/resources.ts';
import { Informer, type InformerEvent } from '../../src/kube/informer.ts';
import { isConflict, isNotFound, KubeError } from '../../src/kube/errors.ts';
import type { KObject } from '../../src/kube/port.ts';
import { sampleOf } from '../helpers/samples.ts';
import { startCluster } from '../env/cluster.ts';
import { ClientNodeKube, loadKubeConfig } from '../../src/kube/adapter.ts';

let env: KubeEnv;
before(async () => (env = await kubeEnv()));
after(async () => env?.close());

async function etcdCluster(ns: string, name = 'demo'): Promise<KObject> {
  const o = sampleOf('EtcdCluster') as unknown as KObject;
  o.metadata = { name, namespace: ns };
  return env.kube.create(EtcdClusters, o);
}

/** Waits for the first informer event matching pred; events are what we synchronise on, never time. */
function nextEvent<T extends KObject>(bus: EventEmitter, pred: (e: InformerEvent<T>) => boolean): Promise<InformerEvent<T>> {
  return new Promise((resolve) => {
    const on = (e: InformerEvent<T>) => {
      if (!pred(e)) return;
      bus.off('event', on);
      resolve(e);
    };
    bus.on('event', on);
  });
}

test('the informer sees add, update and delete; our own status writes are not significant', async () => {
  const ns = await freshNamespace(env, 'informer');
  const informer = new Informer<KObject>(env.kube.listWatch(EtcdClusters, { namespace: ns }), { name: 'etcd' });
  const bus = new EventEmitter();
  informer.on((e) => bus.emit('event', e));
  await informer.start();
  try {
    const added = nextEvent(bus, (e) => e.type === 'add');
    const created = await etcdCluster(ns);
    assert.equal((await added).object.metadata.uid, created.metadata.uid);

    const statusSeen = nextEvent(bus, (e) => e.type === 'update');
    await env.kube.applyStatus(EtcdClusters, { namespace: ns, name: 'demo' }, { observedGeneration: 1 }, { fieldManager: 'test' });
    assert.equal((await statusSeen).significant, false, 'a status write does not wake the controller');

    const specSeen = nextEvent(bus, (e) => e.type === 'update');
    await env.kube.mergePatch(EtcdClusters, { namespace: ns, name: 'demo' }, { spec: { replicas: 5 } });
    const spec = await specSeen;
    assert.equal(spec.significant, true);
    assert.equal(spec.object.metadata.generation, 2);

    const deleted = nextEvent(bus, (e) => e.type === 'delete');
    await env.kube.delete(EtcdClusters, { namespace: ns, name: 'demo' });
    assert.equal((await deleted).object.metadata.name, 'demo');
    assert.equal(informer.get(`${ns}/demo`), undefined);
  } finally {
    await informer.stop();
  }
});

test('status goes through the status subresource by server-side apply, with our field manager', async () => {
  const ns = await freshNamespace(env, 'status');
  await etcdCluster(ns);
  const key = { namespace: ns, name: 'demo' };
  const status = {
    observedGeneration: 1,
    conditions: [{ type: 'Ready', status: 'Unknown', reason: 'NotYetObserved', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' }],
  };
  const out = await env.kube.applyStatus<KObject>(EtcdClusters, key, status, { fieldManager: 'hardway-operator', force: true });
  assert.deepEqual((out.status as typeof status).conditions[0]!.reason, 'NotYetObserved');
  assert.equal(out.metadata.generation, 1, 'status does not bump generation');
  const managers = (out.metadata.managedFields as { manager: string; fieldsV1: { 'f:status'?: object } }[]).filter((m) => m.fieldsV1['f:status']);
  assert.deepEqual(managers.map((m) => m.manager), ['hardway-operator']);
  // Spec in a status apply is ignored by the subresource.
  const sneaky = await env.kube.mergePatch<KObject>(EtcdClusters, key, { spec: { replicas: 7 }, status: { replicas: 3 } }, { status: true });
  assert.equal((sneaky.spec as { replicas: number }).replicas, 3);
  assert.equal((sneaky.status as { replicas: number }).replicas, 3);
});

test('a write with a stale resourceVersion gets a conflict; errors map to NotFound and Invalid', async () => {
  const ns = await freshNamespace(env, 'conflict');
  const old = await etcdCluster(ns);
  await env.kube.mergePatch(EtcdClusters, old.metadata, { metadata: { labels: { a: 'b' } } });
  await assert.rejects(env.kube.mergePatch(EtcdClusters, old.metadata, { metadata: { labels: { a: 'c' } } }, { resourceVersion: old.metadata.resourceVersion }), isConflict);
  await assert.rejects(env.kube.replace(EtcdClusters, old), isConflict);
  await assert.rejects(env.kube.get(EtcdClusters, { namespace: ns, name: 'nope' }), isNotFound);
  assert.equal(await env.kube.tryGet(EtcdClusters, { namespace: ns, name: 'nope' }), undefined);
  await assert.rejects(env.kube.mergePatch(EtcdClusters, old.metadata, { spec: { replicas: 4 } }), (e) => e instanceof KubeError && e.reason === 'Invalid');
  await assert.rejects(env.kube.create(EtcdClusters, { ...old, metadata: { name: 'demo', namespace: ns } }), isConflict, 'AlreadyExists is a conflict');
  await assert.rejects(env.kube.create(EtcdClusters, old), /resourceVersion should not be set/, 'a resourceVersion on create is refused');
});

test('a finalizer holds deletion until it is removed', async () => {
  const ns = await freshNamespace(env, 'finalizer');
  let o = await etcdCluster(ns);
  o = await env.kube.addFinalizer(EtcdClusters, o, 'hardway.dev/cleanup');
  assert.deepEqual(o.metadata.finalizers, ['hardway.dev/cleanup']);
  assert.equal(await env.kube.addFinalizer(EtcdClusters, o, 'hardway.dev/cleanup'), o, 'adding twice is a no-op');
  await env.kube.delete(EtcdClusters, o.metadata);
  o = await env.kube.get(EtcdClusters, o.metadata);
  assert.ok(o.metadata.deletionTimestamp, 'still there, marked for deletion');
  assert.equal(await env.kube.removeFinalizer(EtcdClusters, o, 'hardway.dev/cleanup').then((r) => r?.metadata.finalizers?.length ?? 0), 0);
  await assert.rejects(env.kube.get(EtcdClusters, o.metadata), isNotFound);
  await assert.doesNotReject(env.kube.delete(EtcdClusters, o.metadata), 'deleting what is gone is success');
});

test('list by label selector; Secrets', async () => {
  const ns = await freshNamespace(env, 'secrets');
  for (const [name, tier] of [['a', 'ca'], ['b', 'leaf']] as const) {
    await env.kube.create(Secrets, { metadata: { name, namespace: ns, labels: { 'app.kubernetes.io/managed-by': 'hardway', tier } }, stringData: { v: name } });
  }
  const { items } = await env.kube.list<KObject & { data: Record<string, string> }>(Secrets, { namespace: ns, labelSelector: 'app.kubernetes.io/managed-by=hardway,tier=ca' });
  assert.deepEqual(items.map((i) => i.metadata.name), ['a']);
  assert.equal(Buffer.from(items[0]!.data.v!, 'base64').toString(), 'a');
  assert.equal(items[0]!.kind, 'Secret', 'list items carry their kind');
});

test('an informer survives its API server restarting, and catches up on what happened meanwhile', { timeout: 120_000 }, async () => {
  // A private control plane: restarting the shared one would disturb other tests.
  const cluster = await startCluster();
  const kube = new ClientNodeKube(loadKubeConfig({ kubeconfig: cluster.kubeconfig }));
  const informer = new Informer<KObject>(kube.listWatch(Secrets, { namespace: 'default' }), { name: 'secrets', restartBackoff: { initialMs: 200, maxMs: 2000 } });
  const bus = new EventEmitter();
  informer.on((e) => bus.emit('event', e));
  try {
    await informer.start();
    const seenBefore = nextEvent(bus, (e) => e.object.metadata.name === 'before');
    await kube.create(Secrets, { metadata: { name: 'before', namespace: 'default' } });
    await seenBefore;
    await cluster.stopApiServer();
    await cluster.startApiServer();
    const after = nextEvent(bus, (e) => e.type === 'add' && e.object.metadata.name === 'after');
    await kube.create(Secrets, { metadata: { name: 'after', namespace: 'default' } });
    await after;
    assert.ok(informer.restarts >= 1, 'the watch was restarted');
    assert.ok(informer.get('default/before') && informer.get('default/after'));
  } finally {
    await informer.stop();
    kube.close();
    await cluster.stop();
  }
});

