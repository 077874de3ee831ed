import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKube, matchesSelector, applyMergePatch } from './fake.ts';
import { EtcdClusters, Secrets } from './resources.ts';
import { isConflict, isNotFound } from './errors.ts';
import type { KObject } from './port.ts';

const ec = (name: string, spec: object = { replicas: 3 }): KObject => ({ metadata: { name, namespace: 'ns' }, spec });
const key = { namespace: 'ns', name: 'a' };

test('create sets uid, resourceVersion, generation 1 and drops status (status subresource)', async () => {
  const k = new FakeKube();
  const o = await k.create(EtcdClusters, { ...ec('a'), status: { x: 1 } });
  assert.ok(o.metadata.uid);
  assert.equal(o.metadata.generation, 1);
  assert.equal(o.status, undefined);
  await assert.rejects(k.create(EtcdClusters, ec('a')), isConflict, 'create of an existing name is a conflict');
  await assert.rejects(k.create(EtcdClusters, o), /resourceVersion should not be set/, 'as on a real server');
});

test('generation moves on spec changes only; resourceVersion on every change', async () => {
  const k = new FakeKube();
  const o = await k.create(EtcdClusters, ec('a'));
  const labelled = await k.mergePatch(EtcdClusters, key, { metadata: { labels: { a: 'b' } } });
  assert.equal(labelled.metadata.generation, 1);
  assert.notEqual(labelled.metadata.resourceVersion, o.metadata.resourceVersion);
  const withStatus = await k.applyStatus(EtcdClusters, key, { ready: true }, { fieldManager: 't' });
  assert.equal(withStatus.metadata.generation, 1, 'status writes do not bump generation');
  const changed = await k.mergePatch(EtcdClusters, key, { spec: { replicas: 5 } });
  assert.equal(changed.metadata.generation, 2);
  assert.deepEqual(changed.status, { ready: true }, 'spec writes leave status alone');
});

test('status writes touch only status', async () => {
  const k = new FakeKube();
  await k.create(EtcdClusters, ec('a'));
  const o = await k.mergePatch(EtcdClusters, key, { spec: { replicas: 7 }, status: { x: 1 } }, { status: true });
  assert.deepEqual(o.spec, { replicas: 3 });
  assert.deepEqual(o.status, { x: 1 });
});

test('a write with a stale resourceVersion is a 409 conflict', async () => {
  const k = new FakeKube();
  const o = await k.create(EtcdClusters, ec('a'));
  await k.mergePatch(EtcdClusters, key, { spec: { replicas: 5 } });
  await assert.rejects(k.mergePatch(EtcdClusters, key, { spec: { replicas: 1 } }, { resourceVersion: o.metadata.resourceVersion }), isConflict);
  await assert.rejects(k.replace(EtcdClusters, o), isConflict);
});

test('finalizers hold deletion: deletionTimestamp set, gone when the last finalizer goes', async () => {
  const k = new FakeKube(() => new Date('2026-01-01T00:00:00Z'));
  let o = await k.create(EtcdClusters, ec('a'));
  o = await k.addFinalizer(EtcdClusters, o, 'hardway.dev/cleanup');
  assert.deepEqual(o.metadata.finalizers, ['hardway.dev/cleanup']);
  await k.delete(EtcdClusters, key);
  o = await k.get(EtcdClusters, key);
  assert.equal(o.metadata.deletionTimestamp, '2026-01-01T00:00:00Z');
  await assert.doesNotReject(k.mergePatch(EtcdClusters, key, { metadata: { deletionTimestamp: null } }));
  assert.ok((await k.get(EtcdClusters, key)).metadata.deletionTimestamp, 'deletionTimestamp cannot be patched away');
  o = await k.get(EtcdClusters, key);
  assert.equal(await k.removeFinalizer(EtcdClusters, o, 'hardway.dev/cleanup'), undefined);
  await assert.rejects(k.get(EtcdClusters, key), isNotFound);
  await assert.doesNotReject(k.delete(EtcdClusters, key), 'deleting what is gone is fine');
});

test('delete with a uid precondition refuses a re-created object', async () => {
  const k = new FakeKube();
  const old = await k.create<KObject>(Secrets, { metadata: { name: 'a', namespace: 'ns' } });
  await k.delete(Secrets, key);
  await k.create(Secrets, { metadata: { name: 'a', namespace: 'ns' } });
  await assert.rejects(k.delete(Secrets, key, { uid: old.metadata.uid }), isConflict);
});

test('list filters by namespace and label selector', async () => {
  const k = new FakeKube();
  await k.create(Secrets, { metadata: { name: 'a', namespace: 'x', labels: { app: 'hw', tier: 'ca' } } });
  await k.create(Secrets, { metadata: { name: 'b', namespace: 'x', labels: { app: 'hw' } } });
  await k.create(Secrets, { metadata: { name: 'c', namespace: 'y', labels: { app: 'hw' } } });
  const names = async (o: object) => (await k.list(Secrets, o)).items.map((i) => i.metadata.name);
  assert.deepEqual(await names({ namespace: 'x', labelSelector: 'app=hw,tier=ca' }), ['a']);
  assert.deepEqual(await names({ labelSelector: 'app=hw,tier!=ca' }), ['b', 'c']);
  assert.deepEqual(await names({ labelSelector: '!tier' }), ['b', 'c']);
});

test('matchesSelector and applyMergePatch tables', () => {
  assert.equal(matchesSelector({ a: '1' }, 'a==1'), true);
  assert.equal(matchesSelector({ a: '1' }, 'a'), true);
  assert.equal(matchesSelector({}, 'a'), false);
  assert.deepEqual(applyMergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: null, e: 4 }, f: [1] }), { a: 1, b: { d: 3, e: 4 }, f: [1] });
});

test('a write that changes nothing keeps the resourceVersion and sends no event, as on a real server', async () => {
  const k = new FakeKube();
  const o = await k.create(EtcdClusters, ec('a', { replicas: 3, version: '3.5.21' }));
  let events = 0;
  k.subscribe(EtcdClusters, () => events++);
  const same = await k.mergePatch(EtcdClusters, key, { spec: { version: '3.5.21', replicas: 3 }, metadata: { labels: null } });
  assert.equal(same.metadata.resourceVersion, o.metadata.resourceVersion);
  assert.equal(events, 0);
  const changed = await k.mergePatch(EtcdClusters, key, { spec: { replicas: 5 } });
  assert.notEqual(changed.metadata.resourceVersion, o.metadata.resourceVersion);
  assert.equal(events, 1);
});
