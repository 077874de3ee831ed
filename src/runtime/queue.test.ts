import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue } from './queue.ts';
import { ManualClock } from './clock.ts';
import { KeyedBackoff, TokenBucket } from './backoff.ts';

test('a key added many times while waiting is handed out once', async () => {
  const q = new WorkQueue({ clock: new ManualClock() });
  q.add('a');
  q.add('b');
  q.add('a');
  assert.equal(q.length, 2);
  assert.equal(await q.get(), 'a');
  assert.equal(await q.get(), 'b');
});

test('a key being processed is not handed to a second worker; re-added, it comes back after done()', async () => {
  const q = new WorkQueue({ clock: new ManualClock() });
  q.add('a');
  const first = await q.get();
  q.add('a'); // a change arrives while a worker reconciles 'a'
  assert.equal(q.length, 0, 'not queued while processing');
  let second: string | undefined;
  void q.get().then((k) => (second = k));
  await Promise.resolve();
  assert.equal(second, undefined, 'no second worker gets it');
  q.done(first!);
  await Promise.resolve();
  assert.equal(second, 'a', 'processed again after the first worker finished');
});

test('a waiting worker is woken by add', async () => {
  const q = new WorkQueue({ clock: new ManualClock() });
  const got = q.get();
  q.add('x');
  assert.equal(await got, 'x');
});

test('addAfter: delayed, and the earliest pending delay for a key wins', async () => {
  const clock = new ManualClock();
  const q = new WorkQueue({ clock });
  q.addAfter('a', 5000);
  q.addAfter('a', 1000);
  q.addAfter('a', 9000);
  clock.advance(999);
  assert.equal(q.length, 0);
  clock.advance(1);
  assert.equal(q.length, 1);
  clock.advance(10_000);
  assert.equal(q.length, 1, 'the later delays were dropped');
});

test('per-key exponential backoff: 1 s base, doubling, 5 min cap; forget resets', () => {
  const b = new KeyedBackoff();
  const waits = Array.from({ length: 12 }, () => b.next('k'));
  assert.deepEqual(waits, [1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000, 300000, 300000]);
  assert.equal(b.next('other'), 1000, 'keys back off independently');
  b.forget('k');
  assert.equal(b.next('k'), 1000);
});

test('token bucket: burst, then spaced at the rate', () => {
  const clock = new ManualClock();
  const bucket = new TokenBucket(10, 3, clock);
  assert.deepEqual([bucket.reserve(), bucket.reserve(), bucket.reserve()], [0, 0, 0]);
  assert.equal(bucket.reserve(), 100);
  assert.equal(bucket.reserve(), 200);
  clock.advance(1000);
  assert.equal(bucket.reserve(), 0, 'refilled after a quiet second');
});

test('addRateLimited waits for the longer of key backoff and global bucket', () => {
  const clock = new ManualClock();
  const q = new WorkQueue({ clock, bucket: { ratePerSecond: 1, burst: 1 } });
  assert.equal(q.addRateLimited('a'), 1000, 'own backoff');
  assert.equal(q.addRateLimited('b'), 1000, 'bucket empty: 1 s');
  assert.equal(q.addRateLimited('c'), 2000, 'bucket: 2 s');
  assert.equal(q.addRateLimited('a'), 3000, 'bucket (3 s) beats own backoff (2 s)');
});

test('shutdown wakes waiting workers and hands out nothing more', async () => {
  const clock = new ManualClock();
  const q = new WorkQueue({ clock });
  const waiting = q.get();
  q.addAfter('later', 1000);
  q.shutdown();
  assert.equal(await waiting, undefined);
  q.add('x');
  assert.equal(await q.get(), undefined);
  assert.equal(clock.pending(), 0, 'delayed adds cancelled');
});

test('observer sees depth, latency and retries', async () => {
  const clock = new ManualClock();
  const seen = { depth: [] as number[], latency: [] as number[], retries: 0 };
  const q = new WorkQueue({ clock, observer: { depth: (n) => seen.depth.push(n), latency: (s) => seen.latency.push(s), retry: () => seen.retries++ } });
  q.add('a');
  clock.advance(1500);
  await q.get();
  q.addRateLimited('a');
  assert.deepEqual(seen.depth, [1, 0]);
  assert.deepEqual(seen.latency, [1.5]);
  assert.equal(seen.retries, 1);
});
