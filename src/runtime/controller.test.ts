import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Controller, TerminalError, type Reconcile } from './controller.ts';
import { ManualClock } from './clock.ts';
import { createLogger } from './logger.ts';
import { Metrics } from './metrics.ts';

function setup(reconcile: Reconcile, opts: { concurrency?: number; requeueJitter?: number; random?: () => number } = {}) {
  const clock = new ManualClock();
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: 'debug', destination: new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }) });
  const metrics = new Metrics({ defaultMetrics: false });
  const terminal: [string, TerminalError][] = [];
  const c = new Controller({ kind: 'Test', reconcile, log, metrics, concurrency: opts.concurrency, requeueJitter: opts.requeueJitter, random: opts.random, queue: { clock }, onTerminalError: async (k, e) => void terminal.push([k, e]) });
  return { c, clock, lines, metrics, terminal };
}

/** What a worker does with one key: take it, reconcile it, mark it done. */
async function step(c: Controller) {
  const key = (await c.queue.get())!;
  await c.process(key);
  c.queue.done(key);
}

test('a thrown error is caught and retried after the key backoff (1 s, then 2 s)', async () => {
  let calls = 0;
  const { c, clock, lines, metrics } = setup(async () => {
    calls++;
    throw new Error('cloud said 500');
  });
  await c.process('ns/a');
  assert.equal(calls, 1);
  clock.advance(999);
  assert.equal(c.queue.length, 0);
  clock.advance(1);
  assert.equal(c.queue.length, 1, 'back after 1 s');
  await step(c);
  clock.advance(1999);
  assert.equal(c.queue.length, 0);
  clock.advance(1);
  assert.equal(c.queue.length, 1, 'back after 2 s');
  const err = lines.find((l) => l.msg === 'reconcile failed; retrying with backoff')!;
  assert.equal(err.key, 'ns/a', 'the object key is on the line');
  assert.equal(err.kind, 'Test');
  assert.match(await metrics.registry.getSingleMetricAsString('hardway_reconcile_errors_total'), /kind="Test"} 2/);
});

test('throwing a non-Error (a string) is handled the same way', async () => {
  const { c, clock } = setup(async () => {
    throw 'oops';
  });
  await c.process('k');
  clock.advance(1000);
  assert.equal(c.queue.length, 1);
});

test('success forgets the backoff; requeueAfter schedules the next visit', async () => {
  let fail = true;
  const { c, clock } = setup(async () => {
    if (fail) throw new Error('x');
    return { requeueAfterMs: 30_000 };
  });
  await c.process('k');
  await c.process('k');
  fail = false;
  await c.process('k');
  assert.equal(c.queue.backoff.retries('k'), 0, 'forgotten');
  clock.advance(4000); // the earlier failure's retry (2 s) fires; drain it
  await step(c);
  clock.advance(29_999);
  assert.equal(c.queue.length, 0);
  clock.advance(1);
  assert.equal(c.queue.length, 1);
});

test('requeues are spread: up to requeueJitter longer, by the random input', async () => {
  for (const [draw, at] of [[0, 30_000], [0.5, 31_500], [1, 33_000]] as const) {
    const { c, clock } = setup(async () => ({ requeueAfterMs: 30_000 }), { requeueJitter: 0.1, random: () => draw });
    await c.process('k');
    clock.advance(at - 1);
    assert.equal(c.queue.length, 0, `not before ${at} ms`);
    clock.advance(1);
    assert.equal(c.queue.length, 1, `at ${at} ms`);
  }
});

test('a terminal error is recorded once and not retried', async () => {
  const { c, clock, terminal } = setup(async () => {
    throw new TerminalError('InvalidSpec', 'spec.replicas: must be odd');
  });
  await c.process('ns/x');
  clock.advance(10 * 60_000);
  assert.equal(c.queue.length, 0);
  assert.equal(terminal.length, 1);
  assert.equal(terminal[0]![1].reason, 'InvalidSpec');
});

test('workers reconcile different keys concurrently but never one key twice at once', async () => {
  const running = new Set<string>();
  let maxParallel = 0;
  const releases: (() => void)[] = [];
  const seenTwice: string[] = [];
  const { c } = setup(
    async (key) => {
      if (running.has(key)) seenTwice.push(key);
      running.add(key);
      maxParallel = Math.max(maxParallel, running.size);
      await new Promise<void>((r) => releases.push(r));
      running.delete(key);
    },
    { concurrency: 3 },
  );
  c.start();
  for (const k of ['a', 'b', 'a', 'c', 'a']) c.enqueue(k);
  // Let the workers pick keys up, then release reconciles one by one until all are done.
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setImmediate(r));
    releases.shift()?.();
  }
  c.enqueue('a');
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setImmediate(r));
    releases.shift()?.();
  }
  await c.stop();
  assert.equal(maxParallel, 3, 'a, b and c ran in parallel');
  assert.deepEqual(seenTwice, []);
});
