// Many clusters on one token, against fakes that enforce DigitalOcean's and Cloudflare's published limits
// (250 a minute and 5,000 an hour per DigitalOcean token, FACTS.md §2.2; 1,200 per five minutes per
// Cloudflare user, §3.2). Created all at once, their first minutes ask for more than a minute's quota;
// the token's budget (src/cloud/token-budget.ts) paces them, so every cluster becomes Ready with no 429
// storm. Time runs SCALE times faster: the fakes, the cloud caches and the budgets read a clock that
// runs SCALE times faster than the wall clock, and every controller timing is divided by SCALE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { generateKey } from '../../src/pki/x509.ts';
import { inMemoryOperator } from '../helpers/in-memory-operator.ts';
import { DEFAULT_ETCD_TIMING } from '../../src/controllers/etcdcluster/reconciler.ts';
import { DEFAULT_CONTROL_PLANE_TIMING } from '../../src/controllers/controlplane/reconciler.ts';
import { DEFAULT_WORKER_POOL_TIMING } from '../../src/controllers/workerpool/reconciler.ts';

const SCALE = 20;
const CLUSTERS = 25;
const MINUTE = 60_000;

test(`${CLUSTERS} clusters created at once on one token: the budget keeps every minute under DigitalOcean's 250, no 429 storm, all Ready`, async (t) => {
  const t0 = Date.now();
  const clock = () => t0 + (Date.now() - t0) * SCALE;
  const scaled = <T extends object>(t: T) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, (v as number) / SCALE])) as T;
  const op = await inMemoryOperator({
    clusters: CLUSTERS,
    clock,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms / SCALE)),
    // A minute of operator time: the budget waits rather than refusing while a minute's room comes back.
    budgetMaxWaitMs: MINUTE,
    limits: { doMinute: 250, doHour: 5_000, cfPer5Min: 1_200 },
    // On the fakes' clock (operator time), as in production.
    provisionMs: MINUTE,
    fleetCacheTtlMs: 30_000,
    listingCacheTtlMs: 300_000,
    // On the wall clock: divided by SCALE.
    etcd: scaled(DEFAULT_ETCD_TIMING),
    controlPlane: scaled(DEFAULT_CONTROL_PLANE_TIMING),
    workerPool: scaled(DEFAULT_WORKER_POOL_TIMING),
    pki: { newKey: generateKey, randomHex: (n: number) => randomBytes(n).toString('hex') },
  });
  try {
    await op.apply();
    const deadline = Date.now() + 240_000;
    while (!op.allReady()) {
      assert.ok(Date.now() < deadline, `not all Ready in time: ${op.problems.slice(-3).join(' | ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const doCalls = op.compute.calls;
    t.diagnostic(`all Ready after ${Math.round((clock() - t0) / 1000)} operator-seconds; ${doCalls.length} DigitalOcean and ${op.dns.calls.length} Cloudflare calls`);
    const refused = doCalls.filter((c) => c.status === 429);
    assert.equal(refused.length, 0, `DigitalOcean answered 429 ${refused.length} times`);
    assert.equal(op.dns.calls.filter((c) => c.status === 429).length, 0, 'Cloudflare answered 429');
    // The budget was what held them back: creating them asked for more than one minute's quota.
    const at = doCalls.map((c) => c.at);
    let busiest = 0;
    for (let i = 0, j = 0; i < at.length; i++) {
      while (at[i]! - at[j]! >= MINUTE) j++;
      busiest = Math.max(busiest, i - j + 1);
    }
    assert.ok(doCalls.length > 250, `${doCalls.length} DigitalOcean calls in all`);
    // The budget aims at 200 (80 %); the fake counts arrivals, the budget departures, a few ms apart on a clock run 20 times faster.
    assert.ok(busiest < 250, `busiest operator-minute: ${busiest} calls (DigitalOcean allows 250)`);
    assert.ok(busiest >= 150, `busiest operator-minute: ${busiest} calls: the budget was not what paced them`);
  } finally {
    await op.stop();
  }
});
