import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeStatus } from './status.ts';
import { canonical } from '../api/canonical.ts';
import { FakeKube } from '../kube/fake.ts';
import { EtcdClusters } from '../kube/resources.ts';

test('canonical: key order at any depth and undefined fields do not matter; values and array order do', () => {
  assert.equal(canonical({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } }), canonical({ a: { d: [1, { x: 1, y: 2 }] }, b: 1 }));
  assert.notEqual(canonical({ a: [1, 2] }), canonical({ a: [2, 1] }));
  assert.notEqual(canonical({ a: 1 }), canonical({ a: '1' }));
});

test('writeStatus writes once, and not again for the same status in another key order', async () => {
  const kube = new FakeKube();
  const obj = await kube.create(EtcdClusters, { metadata: { name: 'x', namespace: 'ns' }, spec: {} });
  const status = { observedGeneration: 1, members: [{ name: 'm', healthy: true, dnsName: 'm.example.com' }] };
  assert.equal(await writeStatus(kube, EtcdClusters, obj, status, 'hardway'), true);
  const stored = await kube.get(EtcdClusters, { namespace: 'ns', name: 'x' });
  const reordered = { members: [{ dnsName: 'm.example.com', healthy: true, name: 'm' }], observedGeneration: 1 };
  assert.equal(await writeStatus(kube, EtcdClusters, stored, reordered, 'hardway'), false);
  assert.equal(kube.calls.filter((c) => c.verb === 'applyStatus').length, 1);
});
