import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { observeReconciler, terminalRecorder, type ObserveDeps } from './observe.ts';
import { MANAGED_KINDS } from './kinds.ts';
import { FakeKube } from '../kube/fake.ts';
import { Informer } from '../kube/informer.ts';
import { Events } from '../kube/resources.ts';
import { EventRecorder } from '../runtime/events.ts';
import { TerminalError } from '../runtime/controller.ts';
import { createLogger } from '../runtime/logger.ts';
import { sampleOf } from '../../test/helpers/samples.ts';
import type { Observed } from './status.ts';

const log = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const kind = MANAGED_KINDS.find((k) => k.def.kind === 'EtcdCluster')!;

async function setup(mutate: (o: any) => void = () => {}) {
  const kube = new FakeKube();
  const obj = sampleOf('EtcdCluster') as any;
  obj.metadata.namespace = 'ns';
  mutate(obj);
  await kube.create(kind.resource, obj);
  const informer = new Informer<Observed>(kube.listWatch(kind.resource), { name: 'etcd' });
  await informer.start();
  const deps: ObserveDeps = { kube, kind, get: (key) => informer.get(key), events: new EventRecorder(kube, { component: 'hardway', log }), fieldManager: 'hardway', now: () => new Date('2026-01-01T00:00:00Z') };
  return { kube, deps, reconcile: observeReconciler(deps) };
}

test('first visit writes every condition once; a second visit writes nothing', async () => {
  const { kube, reconcile } = await setup();
  await reconcile('ns/demo', { log });
  const o = await kube.get<Observed>(kind.resource, { namespace: 'ns', name: 'demo' });
  assert.deepEqual(o.status!.conditions!.map((c) => c.type), [...kind.def.conditions]);
  assert.equal(o.status!.observedGeneration, 1);
  assert.equal(o.status!.conditions!.find((c) => c.type === 'Paused')!.status, 'False');
  const writes = kube.calls.filter((c) => c.verb === 'applyStatus').length;
  await reconcile('ns/demo', { log });
  assert.equal(kube.calls.filter((c) => c.verb === 'applyStatus').length, writes, 'nothing changed, nothing written');
});

test('an invalid spec is a terminal error, recorded as Ready=False InvalidSpec and a Warning event', async () => {
  const { kube, deps, reconcile } = await setup((o) => (o.spec.replicas = 4));
  const err = await reconcile('ns/demo', { log }).catch((e: unknown) => e);
  assert.ok(err instanceof TerminalError);
  assert.equal(err.reason, 'InvalidSpec');
  assert.match(err.message, /spec\.replicas: must be one of 1, 3, 5, 7/);
  await terminalRecorder(deps)('ns/demo', err);
  const o = await kube.get<Observed>(kind.resource, { namespace: 'ns', name: 'demo' });
  const ready = o.status!.conditions![0]!;
  assert.deepEqual([ready.type, ready.status, ready.reason], ['Ready', 'False', 'InvalidSpec']);
  const [event] = (await kube.list<any>(Events)).items;
  assert.equal(event.type, 'Warning');
  assert.equal(event.reason, 'InvalidSpec');
});

test('the paused annotation stops reconciling and says so', async () => {
  const { kube, reconcile } = await setup((o) => {
    o.metadata.annotations = { 'hardway.dev/paused': 'true' };
    o.spec.replicas = 4; // even an invalid spec is left alone while paused
  });
  await reconcile('ns/demo', { log });
  const o = await kube.get<Observed>(kind.resource, { namespace: 'ns', name: 'demo' });
  const paused = o.status!.conditions!.find((c) => c.type === 'Paused')!;
  assert.deepEqual([paused.status, paused.reason], ['True', 'Paused']);
});

test('a ControlPlane says whether its EtcdCluster is available, and why not', async () => {
  const kube = new FakeKube();
  const cpKind = MANAGED_KINDS.find((k) => k.def.kind === 'ControlPlane')!;
  const cps = new Informer<Observed>(kube.listWatch(cpKind.resource), { name: 'cp' });
  const etcds = new Informer<Observed>(kube.listWatch(kind.resource), { name: 'etcd' });
  await Promise.all([cps.start(), etcds.start()]);
  const cp = sampleOf('ControlPlane') as any;
  cp.metadata.namespace = 'ns';
  await kube.create(cpKind.resource, cp);
  const deps: ObserveDeps = { kube, kind: cpKind, get: (k) => cps.get(k), getDependency: (k) => etcds.get(k), events: new EventRecorder(kube, { component: 'hardway', log }), fieldManager: 'hardway', now: () => new Date('2026-01-01T00:00:00Z') };
  const reconcile = observeReconciler(deps);
  const conditions = async () => {
    await reconcile('ns/demo', { log });
    const o = await kube.get<Observed>(cpKind.resource, { namespace: 'ns', name: 'demo' });
    const pick = (t: string) => o.status!.conditions!.find((c) => c.type === t)!;
    return { etcd: pick('EtcdAvailable'), ready: pick('Ready') };
  };

  let c = await conditions();
  assert.deepEqual([c.etcd.status, c.etcd.reason, c.etcd.message], ['False', 'ReferenceNotFound', 'EtcdCluster demo does not exist in namespace ns']);
  assert.deepEqual([c.ready.status, c.ready.reason], ['False', 'ReferenceNotFound']);

  const etcd = sampleOf('EtcdCluster') as any;
  etcd.metadata.namespace = 'ns';
  await kube.create(kind.resource, etcd);
  await kube.applyStatus(kind.resource, { namespace: 'ns', name: 'demo' }, { conditions: [{ type: 'Ready', status: 'False', reason: 'Provisioning', message: '1/3 droplets running', lastTransitionTime: '2026-01-01T00:00:00Z' }] }, { fieldManager: 't' });
  c = await conditions();
  assert.deepEqual([c.etcd.status, c.etcd.reason, c.etcd.message], ['False', 'WaitingForEtcdCluster', 'EtcdCluster demo is not Ready: 1/3 droplets running']);
  assert.equal(c.ready.reason, 'WaitingForEtcdCluster');

  await kube.applyStatus(kind.resource, { namespace: 'ns', name: 'demo' }, { conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', lastTransitionTime: '2026-01-01T00:00:00Z' }] }, { fieldManager: 't' });
  c = await conditions();
  assert.deepEqual([c.etcd.status, c.etcd.reason], ['True', 'Available']);
  assert.deepEqual([c.ready.status, c.ready.reason], ['Unknown', 'NotYetObserved'], 'its own provisioning is not implemented yet, and it says so');
  await Promise.all([cps.stop(), etcds.stop()]);
});
