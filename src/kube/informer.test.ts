import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once, EventEmitter } from 'node:events';
import { FakeKube } from './fake.ts';
import { EtcdClusters, ControlPlanes } from './resources.ts';
import { Informer, enqueueOwn, enqueueReferencing, referencedBy, type InformerEvent } from './informer.ts';
import type { KObject } from './port.ts';

const key = { namespace: 'ns', name: 'a' };

async function started(k: FakeKube, opts: { resyncMs?: number } = {}) {
  const inf = new Informer<KObject>(k.listWatch(EtcdClusters), { name: 'etcd', restartBackoff: { initialMs: 1, maxMs: 5 }, ...opts });
  const events: InformerEvent<KObject>[] = [];
  const bus = new EventEmitter();
  inf.on((e) => (events.push(e), bus.emit('event', e)));
  await inf.start();
  return { inf, events, bus };
}

test('the first list is delivered as adds and the informer reports synced', async () => {
  const k = new FakeKube();
  await k.create(EtcdClusters, { metadata: { name: 'a', namespace: 'ns' }, spec: {} });
  const { inf, events } = await started(k);
  assert.equal(inf.hasSynced(), true);
  assert.deepEqual(events.map((e) => [e.type, e.object.metadata.name, e.significant]), [['add', 'a', true]]);
  assert.equal(inf.get('ns/a')?.metadata.name, 'a');
  await inf.stop();
});

test('status writes are not significant; spec, label, finalizer and deletion changes are', async () => {
  const k = new FakeKube();
  const { inf, events } = await started(k);
  const o = await k.create(EtcdClusters, { metadata: { name: 'a', namespace: 'ns' }, spec: { replicas: 3 } });
  await k.applyStatus(EtcdClusters, key, { observedGeneration: 1 }, { fieldManager: 't' });
  await k.mergePatch(EtcdClusters, key, { spec: { replicas: 5 } });
  await k.mergePatch(EtcdClusters, key, { metadata: { labels: { x: 'y' } } });
  await k.mergePatch(EtcdClusters, key, { metadata: { annotations: { 'hardway.dev/paused': 'true' } } });
  const withFinalizer = await k.addFinalizer(EtcdClusters, await k.get(EtcdClusters, key), 'f');
  await k.delete(EtcdClusters, key);
  await k.removeFinalizer(EtcdClusters, await k.get(EtcdClusters, key), 'f');
  assert.ok(o && withFinalizer);
  assert.deepEqual(
    events.map((e) => `${e.type}:${e.significant}`),
    ['add:true', 'update:false', 'update:true', 'update:true', 'update:true', 'update:true', 'update:true', 'delete:true'],
  );
  const queued: string[] = [];
  const handler = enqueueOwn<KObject>((key) => queued.push(key));
  events.forEach(handler);
  assert.equal(queued.length, 7, 'everything but the status write enqueues');
  await inf.stop();
});

test('after a watch error the informer restarts, relists and misses nothing', async () => {
  const k = new FakeKube();
  const { inf, bus } = await started(k);
  k.breakWatches(new Error('connection reset by peer'));
  // While the watch is down, an object appears; the restart's relist must deliver it.
  await k.create(EtcdClusters, { metadata: { name: 'late', namespace: 'ns' }, spec: {} });
  const [e] = (await once(bus, 'event')) as [InformerEvent<KObject>];
  assert.equal(e.type, 'add');
  assert.equal(e.object.metadata.name, 'late');
  assert.ok(inf.restarts >= 1);
  await inf.stop();
});

test('resync re-delivers every cached object as significant', async () => {
  const k = new FakeKube();
  await k.create(EtcdClusters, { metadata: { name: 'a', namespace: 'ns' }, spec: {} });
  await k.create(EtcdClusters, { metadata: { name: 'b', namespace: 'ns' }, spec: {} });
  const { inf, events } = await started(k);
  events.length = 0;
  inf.resync();
  assert.deepEqual(events.map((e) => `${e.type}:${e.object.metadata.name}:${e.significant}`).sort(), ['resync:a:true', 'resync:b:true']);
  await inf.stop();
});

test('a change to a referenced object enqueues the objects that refer to it, status changes included', async () => {
  const k = new FakeKube();
  const cps = new Informer<KObject>(k.listWatch(ControlPlanes), { name: 'cp' });
  await k.create(ControlPlanes, { metadata: { name: 'cp1', namespace: 'ns' }, spec: { etcdClusterRef: { name: 'a' } } });
  await k.create(ControlPlanes, { metadata: { name: 'cp2', namespace: 'ns' }, spec: { etcdClusterRef: { name: 'other' } } });
  await cps.start();
  const { inf } = await started(k);
  const queued: string[] = [];
  inf.on(enqueueReferencing(referencedBy(cps, (o) => (o.spec as { etcdClusterRef: { name: string } }).etcdClusterRef.name), (key) => queued.push(key)));
  await k.create(EtcdClusters, { metadata: { name: 'a', namespace: 'ns' }, spec: {} });
  await k.applyStatus(EtcdClusters, key, { ready: true }, { fieldManager: 't' });
  assert.deepEqual(queued, ['ns/cp1', 'ns/cp1']);
  // A probe's timestamp alone wakes nobody; what it found does.
  await k.applyStatus(EtcdClusters, key, { ready: true, machines: [{ name: 'm', lastProbeTime: '2026-12-01T00:00:00Z' }] }, { fieldManager: 't' });
  await k.applyStatus(EtcdClusters, key, { ready: true, machines: [{ name: 'm', lastProbeTime: '2026-12-01T00:00:30Z' }] }, { fieldManager: 't' });
  await k.applyStatus(EtcdClusters, key, { ready: true, conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-12-01T00:00:30Z' }], machines: [{ name: 'm', lastProbeTime: '2026-12-01T00:01:00Z' }] }, { fieldManager: 't' });
  assert.deepEqual(queued, ['ns/cp1', 'ns/cp1', 'ns/cp1', 'ns/cp1']);
  await Promise.all([inf.stop(), cps.stop()]);
});

test('a throwing handler does not stop other handlers or the informer', async () => {
  const k = new FakeKube();
  const warnings: string[] = [];
  const inf = new Informer<KObject>(k.listWatch(EtcdClusters), { name: 'etcd', log: { warn: (_o, m) => warnings.push(m), info: () => {} } });
  const seen: string[] = [];
  inf.on(() => {
    throw new Error('bug');
  });
  inf.on((e) => seen.push(e.object.metadata.name));
  await inf.start();
  await k.create(EtcdClusters, { metadata: { name: 'a', namespace: 'ns' }, spec: {} });
  await k.create(EtcdClusters, { metadata: { name: 'b', namespace: 'ns' }, spec: {} });
  assert.deepEqual(seen, ['a', 'b']);
  assert.equal(warnings.length, 2);
  await inf.stop();
});
