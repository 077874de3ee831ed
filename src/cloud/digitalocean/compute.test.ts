// The DigitalOcean adapter against the loopback fake; every request and response is checked against
// ../shared/contracts and a violation fails the test.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { DigitalOceanCompute } from './compute.ts';
import { DropletCache } from './droplet-cache.ts';
import { FakeDigitalOcean } from '../fake/digitalocean.ts';
import { CloudError } from '../errors.ts';
import { TokenBudget, DIGITALOCEAN_LIMITS } from '../token-budget.ts';
import type { DropletSpec } from '../ports.ts';
import { digitalOceanContract } from '../../../test/helpers/contracts.ts';

const fakes: FakeDigitalOcean[] = [];
let clock = 1_800_000_000_000;

async function fake(opts: Partial<ConstructorParameters<typeof FakeDigitalOcean>[0]> = {}) {
  const f = await new FakeDigitalOcean({ tokens: ['dop_v1_test-token-a'], now: () => clock, contract: digitalOceanContract(), ...opts }).start();
  fakes.push(f);
  return f;
}

const compute = (f: FakeDigitalOcean, token = 'dop_v1_test-token-a') => new DigitalOceanCompute({ token, baseUrl: f.url, retryDelaysMs: [1, 1], now: () => clock });

afterEach(async () => {
  for (const f of fakes.splice(0)) {
    await f.stop();
    assert.deepEqual(f.violations, [], 'requests and responses match the contract');
  }
});

const spec = (name: string, extra: Partial<DropletSpec> = {}): DropletSpec => ({
  name,
  region: 'fra1',
  size: 's-1vcpu-1gb',
  image: 'ubuntu-24-04-x64',
  tags: ['hardway', 'hardway:owner:0f1e2d3c'],
  ...extra,
});

test('create is chunked at ten names per request, grouped by identical settings', async () => {
  const f = await fake();
  const c = compute(f);
  const same = Array.from({ length: 23 }, (_, i) => spec(`demo-worker-${i}`));
  const { data } = await c.createDroplets(same);
  assert.equal(data.length, 23);
  assert.equal(f.count('POST', '/v2/droplets'), 3, '10 + 10 + 3');
  const different = [spec('a', { userData: '#cloud-config\nhostname: a\n' }), spec('b', { userData: '#cloud-config\nhostname: b\n' })];
  await c.createDroplets(different);
  assert.equal(f.count('POST', '/v2/droplets'), 5, 'different user-data: one request each');
  assert.equal(f.userDataOf('b'), '#cloud-config\nhostname: b\n');
});

test('listing pages by counter with per_page=200 and never follows the absolute next link', async () => {
  let trapped = 0;
  const trap = createServer((_req, res) => {
    trapped++;
    res.end('{}');
  });
  await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
  try {
    const f = await fake({ linkOrigin: `http://127.0.0.1:${(trap.address() as { port: number }).port}` });
    const c = compute(f);
    await c.createDroplets(Array.from({ length: 450 }, (_, i) => spec(`n${i}`)));
    const before = f.count('GET', '/v2/droplets');
    const { data } = await c.listDroplets('hardway');
    assert.equal(data.length, 450);
    assert.equal(f.count('GET', '/v2/droplets') - before, 3, '⌈450/200⌉ list calls');
    assert.ok(f.calls.filter((x) => x.method === 'GET').every((x) => /per_page=200/.test(x.query)));
    assert.equal(trapped, 0, 'the token never went to the host named in links.pages.next');
  } finally {
    trap.close();
  }
});

test('a droplet is new without addresses, then active with private and public IPv4 in 127/8', async () => {
  const f = await fake({ provisionDelayMs: 30_000 });
  const c = compute(f);
  const [d] = (await c.createDroplets([spec('demo-etcd-abcde')])).data;
  assert.equal(d!.status, 'new');
  assert.equal(d!.privateIPv4, undefined);
  clock += 30_000;
  const got = (await c.getDroplet(d!.id)).data!;
  assert.equal(got.status, 'active');
  assert.match(got.privateIPv4!, /^127\.1\d\./);
  assert.match(got.publicIPv4!, /^127\.2\d\./);
  assert.deepEqual(got.tags, ['hardway', 'hardway:owner:0f1e2d3c']);
});

test('rate-limit state rides on every result', async () => {
  const f = await fake();
  const c = compute(f);
  const first = await c.getAccount();
  const second = await c.listDroplets('hardway');
  assert.equal(first.rateLimit.limit, 5000);
  assert.equal(first.rateLimit.remaining, 4999);
  assert.equal(second.rateLimit.remaining, 4998);
  assert.ok(second.rateLimit.resetAt!.getTime() > clock, 'reset is when the oldest counted request expires');
});

test('a burst 429 carries retry-after and is not retried; an exhausted hour says when quota returns', async () => {
  const f = await fake();
  const c = compute(f);
  await c.getAccount();
  f.burstRetryAfterSeconds = 7;
  const before = f.calls.length;
  const burst = await c.listDroplets('hardway').catch((e: unknown) => e);
  assert.ok(burst instanceof CloudError);
  assert.equal(burst.status, 429);
  assert.equal(burst.code, 'too_many_requests');
  assert.equal(burst.retryAfterSeconds, 7);
  assert.equal(burst.transient, true);
  assert.equal(f.calls.length - before, 1, 'no automatic retry of a 429: the controller requeues');
  f.burstRetryAfterSeconds = undefined;
  f.hourExhausted = true;
  const hour = await c.getAccount().catch((e: unknown) => e);
  assert.ok(hour instanceof CloudError && hour.rateLimited);
  assert.equal(hour.retryAfterSeconds, 3600, 'until ratelimit-reset: the oldest request expires an hour after it was made');
});

test('retry-after as an HTTP-date is read as seconds from now, not NaN', async () => {
  const f = await fake();
  f.burstRetryAfterSeconds = 42;
  f.retryAfterAsDate = true;
  const e = await compute(f).getAccount().catch((x: unknown) => x);
  assert.ok(e instanceof CloudError && e.rateLimited);
  assert.equal(e.retryAfterSeconds, 42);
});

test('a 429 seen by one client holds back every client of the same token until retry-after, without sending', async () => {
  const f = await fake({ tokens: ['dop_v1_test-token-a', 'dop_v1_test-token-b'] });
  const budget = new TokenBudget({ windows: DIGITALOCEAN_LIMITS, now: () => clock });
  const one = new DigitalOceanCompute({ token: 'dop_v1_test-token-a', baseUrl: f.url, now: () => clock, budget });
  const two = new DigitalOceanCompute({ token: 'dop_v1_test-token-a', baseUrl: f.url, now: () => clock, budget });
  const other = new DigitalOceanCompute({ token: 'dop_v1_test-token-b', baseUrl: f.url, now: () => clock, budget: new TokenBudget({ windows: DIGITALOCEAN_LIMITS, now: () => clock }) });
  f.burstRetryAfterSeconds = 30;
  await assert.rejects(one.getAccount(), (e: CloudError) => e.rateLimited);
  f.burstRetryAfterSeconds = undefined;
  const sent = f.calls.length;
  const held = await two.listDroplets('hardway').catch((e: unknown) => e);
  assert.ok(held instanceof CloudError && held.rateLimited && held.retryAfterSeconds === 30, String(held));
  assert.equal(f.calls.length, sent, 'nothing sent while the token is held');
  await other.getAccount();
  assert.equal(f.calls.length, sent + 1, 'another token is not held');
  clock += 30_000;
  await two.getAccount();
});

test('reads and deletes retry on 5xx; POST never does', async () => {
  const f = await fake();
  const c = compute(f);
  f.failNext(2, 503, (m) => m === 'GET');
  const listed = await c.listDroplets('hardway');
  assert.deepEqual(listed.data, []);
  assert.equal(f.count('GET', '/v2/droplets'), 3, 'two failures, then success');

  f.failNext(1, 500, (m) => m === 'POST');
  const err = await c.createDroplets([spec('once')]).catch((e: unknown) => e);
  assert.ok(err instanceof CloudError && err.status === 500);
  assert.equal(f.count('POST', '/v2/droplets'), 1, 'a create is never repeated: it could make a second droplet');
  assert.equal(f.droplets.size, 0);

  const [d] = (await c.createDroplets([spec('doomed')])).data;
  f.failNext(1, 500, (m) => m === 'DELETE');
  await c.deleteDroplet(d!.id);
  assert.equal(f.droplets.size, 0, 'delete retried after a 500');
  await c.deleteDroplet(d!.id); // 404: already gone is success
  await c.deleteDropletsByTag('hardway:owner:0f1e2d3c');
});

test('errors map to status, provider id, message and request id; missing things are undefined', async () => {
  const f = await fake({ dropletLimit: 2 });
  const c = compute(f);
  const bad = await c.createDroplets([spec('bad_name')]).catch((e: unknown) => e);
  // bad_name also violates the contract: clear that expected violation after checking the adapter's error.
  f.violations.length = 0;
  assert.ok(bad instanceof CloudError);
  assert.deepEqual([bad.status, bad.code], [422, 'unprocessable_entity']);
  assert.match(bad.detail, /valid hostname characters/);
  assert.match(bad.requestId!, /^[0-9a-f-]{36}$/);
  const big = await c.createDroplets([spec('big', { userData: 'x'.repeat(64 * 1024 + 1) })]).catch((e: unknown) => e);
  assert.ok(big instanceof CloudError && big.status === 422 && /64 KiB/.test(big.detail));
  const limit = await c.createDroplets([spec('a'), spec('b'), spec('c')]).catch((e: unknown) => e);
  assert.ok(limit instanceof CloudError && /droplet limit/.test(limit.detail));
  assert.equal((await c.getDroplet(123)).data, undefined);
  assert.equal((await c.getImage('no-such-image')).data, undefined);
  assert.equal((await c.getImage('ubuntu-24-04-x64')).data?.slug, 'ubuntu-24-04-x64');
  const wrong = await compute(f, 'dop_v1_wrong').getAccount().catch((e: unknown) => e);
  assert.ok(wrong instanceof CloudError && wrong.unauthorized && wrong.code === 'unauthorized');
});

test('two clients keep their own token and base URL', async () => {
  const a = await fake({ tokens: ['dop_v1_token-a'] });
  const b = await fake({ tokens: ['dop_v1_token-b'] });
  const ca = compute(a, 'dop_v1_token-a');
  const cb = compute(b, 'dop_v1_token-b');
  await Promise.all([ca.createDroplets([spec('in-a')]), cb.createDroplets([spec('in-b')]), ca.getAccount(), cb.getAccount()]);
  assert.deepEqual([...a.droplets.values()].map((d) => d.name), ['in-a']);
  assert.deepEqual([...b.droplets.values()].map((d) => d.name), ['in-b']);
  assert.ok(a.calls.every((x) => x.token === 'dop_v1'));
  assert.ok(a.calls.every((x) => x.status !== 401) && b.calls.every((x) => x.status !== 401), 'neither sent the other’s token');
});

test('firewalls go waiting → succeeded; PUT sends the whole firewall; load balancers new → active', async () => {
  const f = await fake({ provisionDelayMs: 5_000 });
  const c = compute(f);
  const spec = {
    name: 'demo-etcd',
    tags: ['hardway-etcd-demo'],
    inbound: [{ protocol: 'tcp' as const, ports: '2379-2380', targets: { tags: ['hardway-etcd-demo', 'hardway-cp-demo'] } }],
    outbound: [{ protocol: 'tcp' as const, ports: '0', targets: { addresses: ['0.0.0.0/0', '::/0'] } }],
  };
  // Tags a firewall names must exist first; ensureTag is safe to repeat.
  await assert.rejects(c.createFirewall(spec), (e: CloudError) => e.status === 422 && e.detail === 'tag hardway-etcd-demo does not exist');
  for (const t of ['hardway-etcd-demo', 'hardway-cp-demo', 'hardway-cp-demo']) await c.ensureTag(t);
  const fw = (await c.createFirewall(spec)).data;
  assert.equal(fw.status, 'waiting');
  clock += 5_000;
  const [listed] = (await c.listFirewalls()).data;
  assert.equal(listed!.status, 'succeeded');
  assert.deepEqual(listed!.inbound[0]!.targets, { tags: ['hardway-etcd-demo', 'hardway-cp-demo'] });
  const updated = (await c.updateFirewall(fw.id, { ...listed!, inbound: [] })).data;
  assert.deepEqual(updated.inbound, []);
  const lbSpec = { name: 'demo-api', region: 'fra1', tag: 'hardway-cp-demo', forwarding: [{ entryPort: 6443, targetPort: 6443, protocol: 'tcp' as const }], healthCheck: { protocol: 'tcp' as const, port: 6443 } };
  const lb = (await c.createLoadBalancer(lbSpec)).data;
  assert.deepEqual([lb.status, lb.ip], ['new', '']);
  clock += 5_000;
  const active = (await c.getLoadBalancer(lb.id)).data!;
  assert.equal(active.status, 'active');
  assert.match(active.ip, /^127\.2\d\./);
  // PUT replaces the settings and keeps the address.
  const https = { protocol: 'https' as const, port: 6443, path: '/readyz' };
  const updatedLb = (await c.updateLoadBalancer(lb.id, { ...lbSpec, healthCheck: https })).data;
  assert.deepEqual([updatedLb.healthCheck, updatedLb.ip], [https, active.ip]);
  await c.deleteLoadBalancer(lb.id);
  await c.deleteFirewall(fw.id);
  assert.equal((await c.getLoadBalancer(lb.id)).data, undefined);
});

test('the fleet cache: one listing serves everyone until it expires or a write invalidates it', async () => {
  const f = await fake();
  const c = compute(f);
  await c.createDroplets([spec('a', { tags: ['hardway', 'hardway:owner:1'] }), spec('b', { tags: ['hardway', 'hardway:owner:2'] })]);
  const cache = new DropletCache(c, { fleetTag: 'hardway', ttlMs: 10_000, now: () => clock });
  const lists = () => f.count('GET', '/v2/droplets');
  const before = lists();
  const [one, two] = await Promise.all([cache.withTags('hardway:owner:1'), cache.withTags('hardway:owner:2'), cache.all()]);
  assert.deepEqual([one!.map((d) => d.name), two!.map((d) => d.name)], [['a'], ['b']]);
  assert.equal(lists() - before, 1, 'concurrent callers share one listing');
  await cache.all();
  assert.equal(lists() - before, 1, 'fresh enough: no call');
  clock += 10_000;
  await cache.all();
  assert.equal(lists() - before, 2, 'expired: listed again');
  // A write marks its owner stale: its next lookup is one listing by owner tag, the others stay cached.
  await c.createDroplets([spec('c', { tags: ['hardway', 'hardway:owner:1'] })]);
  cache.invalidate('hardway:owner:1');
  const mark = lists();
  assert.deepEqual((await cache.withTags('hardway:owner:1')).map((d) => d.name).sort(), ['a', 'c']);
  assert.deepEqual((await cache.withTags('hardway:owner:2')).map((d) => d.name), ['b']);
  assert.equal(lists() - mark, 1, 'one targeted listing, not the fleet');
  assert.ok(f.calls.at(-1)!.query.includes('tag_name=hardway%3Aowner%3A1'));
  await cache.withTags('hardway:owner:1');
  assert.equal(lists() - mark, 1, 'merged into the snapshot');

  // A write while a fleet listing is in flight: later callers must not be handed that listing.
  clock += 10_000;
  const stale = cache.all();
  await c.createDroplets([spec('d', { tags: ['hardway', 'hardway:owner:2'] })]);
  cache.invalidate('hardway:owner:2');
  const fresh = await cache.withTags('hardway:owner:2');
  await stale;
  assert.deepEqual(fresh.map((d) => d.name).sort(), ['b', 'd']);
});

test('the fleet listing’s period grows with its pages; an owner whose droplets boot is listed alone until they are active', async () => {
  const f = await fake({ provisionDelayMs: 60_000 });
  const c = compute(f);
  const cache = new DropletCache(c, { fleetTag: 'hardway', now: () => clock });
  // 450 droplets of other owners (3 pages), active.
  for (let i = 0; i < 45; i++) await c.createDroplets(Array.from({ length: 10 }, (_, j) => spec(`x-${i}-${j}`, { tags: ['hardway', `hardway:owner:x${i}`] })));
  clock += 60_000;
  await cache.all();
  assert.equal(cache.periodMs(), 30_000, '3 pages × 3.6 s is under the 30 s floor');
  for (let i = 0; i < 155; i++) await c.createDroplets(Array.from({ length: 10 }, (_, j) => spec(`y-${i}-${j}`, { tags: ['hardway', `hardway:owner:y${i}`] })));
  clock += 60_000;
  await cache.all();
  assert.equal(cache.periodMs(), 36_000, '2,000 droplets: 10 pages × 3.6 s');
  // A new owner's droplet boots: that owner is listed by its tag on each lookup, the fleet is not.
  const [made] = (await c.createDroplets([spec('z', { tags: ['hardway', 'hardway:owner:z'] })])).data;
  cache.createdDroplets('hardway:owner:z', [made!]);
  const lists = () => f.count('GET', '/v2/droplets');
  const before = lists();
  for (let i = 0; i < 3; i++) assert.equal((await cache.withTags('hardway:owner:z'))[0]!.status, 'new');
  assert.equal(lists() - before, 3, 'one targeted listing per lookup while it boots');
  assert.ok(f.calls.slice(-3).every((x) => x.query.includes('tag_name=hardway%3Aowner%3Az')));
  clock += 40_000;
  await cache.withTags('hardway:owner:z'); // the fleet listing is due (2,001 droplets: 11 pages × 3.6 s): one; z still boots
  assert.equal(lists() - before, 3 + 11);
  const afterFleet = lists();
  clock += 20_000; // a minute after its create: active now
  assert.equal((await cache.withTags('hardway:owner:z'))[0]!.status, 'active');
  await cache.withTags('hardway:owner:z');
  assert.equal(lists() - afterFleet, 1, 'active: served from the snapshot again');
});

test('the contract check catches a malformed request (so the checks above can fail)', async () => {
  const f = await fake();
  const res = await fetch(`${f.url}/v2/droplets?per_page=500`, { headers: { authorization: 'Bearer dop_v1_test-token-a' } });
  await res.text();
  const r2 = await fetch(`${f.url}/v2/droplets`, {
    method: 'POST',
    headers: { authorization: 'Bearer dop_v1_test-token-a', 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'x', image: 'ubuntu-24-04-x64' }),
  });
  await r2.text();
  assert.ok(f.violations.some((v) => /query per_page: .* must be <= 200/.test(v)), f.violations.join('\n'));
  assert.ok(f.violations.some((v) => /request body: .* must have required property 'size'/.test(v)), f.violations.join('\n'));
  f.violations.length = 0;
});

test('every call is reported to the observer (metrics: operation, status, remaining quota)', async () => {
  const f = await fake();
  const seen: [string, number, number | undefined][] = [];
  const c = new DigitalOceanCompute({ token: 'dop_v1_test-token-a', baseUrl: f.url, retryDelaysMs: [1], observe: (op, status, rl) => seen.push([op, status, rl.remaining]) });
  await c.getAccount();
  await c.getDroplet(42);
  f.failNext(1, 500, (m) => m === 'GET');
  await c.listDroplets('hardway');
  assert.deepEqual(seen, [
    ['account.get', 200, 4999],
    ['droplets.get', 404, 4998],
    ['droplets.list', 500, 4997],
    ['droplets.list', 200, 4996],
  ]);
});
