import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBudget, BudgetExceeded, DIGITALOCEAN_LIMITS, CLOUDFLARE_LIMITS } from './token-budget.ts';

function budget(o: Partial<ConstructorParameters<typeof TokenBudget>[0]> = {}) {
  let clock = 1_800_000_000_000;
  const slept: number[] = [];
  const b = new TokenBudget({
    windows: DIGITALOCEAN_LIMITS,
    now: () => clock,
    sleep: async (ms) => {
      slept.push(ms);
      clock += ms;
    },
    ...o,
  });
  return { b, slept, advance: (ms: number) => (clock += ms), now: () => clock };
}

test('DigitalOcean: 80 % of 250 a minute for urgent work, 75 % of that for routine listings', async () => {
  const { b } = budget();
  for (let i = 0; i < 150; i++) await b.acquire('routine');
  assert.ok(b.delayMs('routine') > 0, 'routine waits at 150 in a minute');
  assert.equal(b.delayMs('urgent'), 0, 'urgent still goes');
  for (let i = 0; i < 50; i++) await b.acquire('urgent');
  assert.ok(b.delayMs('urgent') > 0, 'urgent waits at 200 in a minute');
});

test('a full minute frees one request at a time as the oldest leave the window; waits are slept, not refused', async () => {
  const { b, advance } = budget();
  for (let i = 0; i < 200; i++) {
    await b.acquire('urgent');
    advance(100); // 200 requests over 20 s
  }
  // The oldest was sent 20 s ago: room in 40 s.
  assert.equal(b.delayMs('urgent'), 40_000);
  await assert.rejects(b.acquire('urgent'), (e: unknown) => e instanceof BudgetExceeded && e.waitSeconds === 40);
  const patient = budget({ maxWaitMs: 60_000 });
  for (let i = 0; i < 201; i++) await patient.b.acquire('urgent');
  assert.deepEqual(patient.slept, [60_000], 'the 201st waited a minute for the first to leave');
});

test('the hour: 4,000 of DigitalOcean’s 5,000, however they are spread over the minutes', async () => {
  const { b, advance } = budget();
  for (let i = 0; i < 4_000; i++) {
    await b.acquire('urgent');
    advance(800); // 75 a minute
  }
  const wait = b.delayMs('urgent');
  assert.ok(wait > 0 && wait <= 3_600_000 - 3_199_999, `waits for the hour's oldest to leave (${wait} ms)`);
});

test('the provider’s own count wins: other users of the token leave less room', async () => {
  const { b, now } = budget();
  // 1,200 left of 5,000: 3,800 used elsewhere; routine may use 3,000, urgent 4,000.
  b.observe(1_200, 5_000, new Date(now() + 120_000));
  assert.equal(b.delayMs('routine'), 120_000, 'routine waits for the reset');
  assert.equal(b.delayMs('urgent'), 0);
  b.observe(1_100, 5_000, new Date(now() + 120_000));
  assert.equal(b.remaining(), 1_100);
  await b.acquire('urgent');
  assert.equal(b.remaining(), 1_099, 'what was sent since the last response counts');
  b.observe(900, 5_000, new Date(now() + 30_000));
  assert.equal(b.delayMs('urgent'), 30_000, 'urgent too waits at 4,100 used');
});

test('a 429 holds every priority until retry-after', () => {
  const { b, advance } = budget();
  b.hold(30);
  assert.equal(b.waitSeconds(), 30);
  assert.equal(b.delayMs('urgent'), 30_000);
  advance(30_000);
  assert.equal(b.delayMs('urgent'), 0);
});

test('Cloudflare: 960 urgent or 720 routine per five minutes', async () => {
  const { b } = budget({ windows: CLOUDFLARE_LIMITS });
  for (let i = 0; i < 720; i++) await b.acquire('routine');
  assert.ok(b.delayMs('routine') > 0);
  for (let i = 0; i < 240; i++) await b.acquire('urgent');
  assert.ok(b.delayMs('urgent') > 0);
});
