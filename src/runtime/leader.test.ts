import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { LeaderElector, type Lease } from './leader.ts';
import { ManualClock } from './clock.ts';
import { createLogger } from './logger.ts';
import { FakeKube } from '../kube/fake.ts';
import { Leases } from '../kube/resources.ts';
import { KubeError } from '../kube/errors.ts';

const log = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
/** Lets pending promise callbacks (fake API calls) run. */
const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

function candidate(kube: FakeKube, clock: ManualClock, identity: string) {
  const state = { started: 0, stopped: 0 };
  const e = new LeaderElector({
    kube,
    clock,
    namespace: 'kube-system',
    name: 'hardway',
    identity,
    log,
    onStartedLeading: () => state.started++,
    onStoppedLeading: () => state.stopped++,
  });
  return { e, state };
}

async function tick(clocks: ManualClock | ManualClock[], ms: number) {
  for (let t = 0; t < ms; t += 500) {
    for (const c of [clocks].flat()) c.advance(500);
    await settle();
  }
}

test('one of two candidates leads; the other takes over only after the lease expires (15 s, our clock)', async () => {
  const kube = new FakeKube();
  // Each candidate has its own clock: a process that dies simply stops ticking.
  const clockA = new ManualClock(1_000_000);
  const clockB = new ManualClock(5_000_000);
  const a = candidate(kube, clockA, 'a');
  const b = candidate(kube, clockB, 'b');
  a.e.start();
  await settle();
  b.e.start();
  await settle();
  assert.equal(a.e.isLeader(), true);
  assert.equal(b.e.isLeader(), false);
  const lease = await kube.get<Lease>(Leases, { namespace: 'kube-system', name: 'hardway' });
  assert.equal(lease.spec?.holderIdentity, 'a');
  assert.equal(lease.spec?.leaseDurationSeconds, 15);

  await tick([clockA, clockB], 60_000);
  assert.equal(b.e.isLeader(), false, 'a keeps renewing every 2 s, b keeps waiting');

  // a is killed (no release): b takes over once it has seen no renewal for 15 s on its own clock.
  await tick([clockB], 14_000);
  assert.equal(b.e.isLeader(), false, 'not before the lease duration');
  await tick([clockB], 4_000);
  assert.equal(b.e.isLeader(), true);
  assert.equal(b.state.started, 1);
  const after = await kube.get<Lease>(Leases, { namespace: 'kube-system', name: 'hardway' });
  assert.equal(after.spec?.holderIdentity, 'b');
  assert.equal(after.spec?.leaseTransitions, 1);
});

test('a leader that cannot renew within the renew deadline (10 s) steps down once', async () => {
  const kube = new FakeKube();
  const clock = new ManualClock(0);
  const a = candidate(kube, clock, 'a');
  a.e.start();
  await settle();
  assert.equal(a.e.isLeader(), true);
  kube.failNext = () => new KubeError('Other', 0, 'connection refused');
  await tick(clock, 8_000);
  assert.equal(a.state.stopped, 0, 'still within the renew deadline');
  await tick(clock, 4_000);
  assert.equal(a.state.stopped, 1);
  assert.equal(a.e.isLeader(), false);
  await tick(clock, 30_000);
  assert.equal(a.state.stopped, 1, 'reported once; the process exits');
});

test('release hands the lease over at once', async () => {
  const kube = new FakeKube();
  const clock = new ManualClock(0);
  const a = candidate(kube, clock, 'a');
  const b = candidate(kube, clock, 'b');
  a.e.start();
  await settle();
  b.e.start();
  await settle();
  await a.e.release();
  await tick(clock, 2_000);
  assert.equal(b.e.isLeader(), true, 'took over on its next retry, not after 15 s');
  assert.equal(a.state.stopped, 0, 'a clean release is not a loss');
});

test('timings must be ordered', () => {
  assert.throws(
    () => new LeaderElector({ kube: new FakeKube(), namespace: 'x', name: 'y', identity: 'z', log, leaseDurationMs: 5000, renewDeadlineMs: 10_000, onStartedLeading() {}, onStoppedLeading() {} }),
    /leaseDuration > renewDeadline > retryPeriod/,
  );
});
