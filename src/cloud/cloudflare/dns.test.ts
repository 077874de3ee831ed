// The Cloudflare adapter (official SDK) against the loopback fake, contract-checked.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { CloudflareDns, COMMENT_MAX, RecordNotOwnedError } from './dns.ts';
import { FakeCloudflare } from '../fake/cloudflare.ts';
import { CloudError } from '../errors.ts';
import { RECORD_NOT_OWNED, type Compute } from '../ports.ts';
import { syncRecords } from '../../controllers/machines/cloud.ts';
import { cloudsFor } from '../../controllers/clouds.ts';
import { cloudflareContract } from '../../../test/helpers/contracts.ts';

const UID = '6f1c2a9e-3b7d-4c55-9a10-2f8e4d6b1c01'; // a Kubernetes UID: 36 characters
const OTHER = '0b9d8c7e-1111-4222-8333-944455556666';

const fakes: FakeCloudflare[] = [];
async function fake(o: { now?: () => number } = {}) {
  // example.com is Free (the fake's default, and the plan where tags are refused); example.org is Pro.
  const f = await new FakeCloudflare({ tokens: ['cf-test-token'], zones: ['example.com', { name: 'example.org', plan: 'pro' }], contract: cloudflareContract(), ...o }).start();
  fakes.push(f);
  return f;
}
const dns = (f: FakeCloudflare, o: { token?: string; perPage?: number; now?: () => number } = {}) =>
  new CloudflareDns({ token: o.token ?? 'cf-test-token', baseUrl: f.url, timeoutMs: 5000, perPage: o.perPage, now: o.now });

afterEach(async () => {
  for (const f of fakes.splice(0)) {
    await f.stop();
    assert.deepEqual(f.violations, [], 'requests and responses match the contract');
  }
});

const a = (name: string, content: string, owner = UID) => ({ name, type: 'A' as const, content, ttl: 60, owner, comment: 'hardway EtcdCluster default/demo' });
const bodies = (f: FakeCloudflare) => f.calls.filter((c) => c.method === 'POST' || c.method === 'PATCH');

test('zones are found by name once, then served from the cache', async () => {
  const f = await fake();
  const d = dns(f);
  const z1 = (await d.findZone('example.com')).data;
  const z2 = (await d.findZone('example.com')).data;
  assert.equal(z1?.name, 'example.com');
  assert.deepEqual(z1, z2);
  assert.equal(f.count('GET', '/zones'), 1);
  assert.equal((await d.findZone('not-mine.net')).data, undefined);
  assert.equal((await d.verifyToken()).data, true);
});

test('a Free zone gets records: no tags are sent, the owner is marked in the comment and listed by it', async () => {
  const f = await fake();
  const d = dns(f);
  const zone = (await d.findZone('example.com')).data!;
  assert.equal([...f.zones.values()].find((z) => z.name === 'example.com')!.plan.legacy_id, 'free');
  const r = (await d.createRecord(zone.id, a('demo-etcd-abcde.example.com', '127.10.0.1'))).data;
  assert.equal(r.proxied, false);
  assert.deepEqual([r.owner, r.comment], [UID, 'hardway EtcdCluster default/demo']);
  const stored = f.records.get(r.id)!;
  assert.deepEqual(stored.tags, [], 'no tags reached Cloudflare');
  assert.equal(stored.comment, `hardway owner=${UID} hardway EtcdCluster default/demo`);
  await d.createRecord(zone.id, a('api.demo.example.com', '127.20.0.1'));
  await d.createRecord(zone.id, a('api.demo.example.com', '127.20.0.2'));
  await d.createRecord(zone.id, a('other.example.com', '127.20.0.3', OTHER));
  assert.equal((await d.listRecords(zone.id, { name: 'api.demo.example.com', type: 'A' })).data.length, 2);
  assert.equal((await d.listRecords(zone.id, { owner: UID })).data.length, 3);
  assert.deepEqual((await d.listRecords(zone.id, { owner: OTHER })).data.map((x) => x.name), ['other.example.com']);
  assert.equal((await d.listRecords(zone.id, { owner: 'nobody' })).data.length, 0);
  assert.ok(f.calls.some((c) => c.query.includes('name.exact=api.demo.example.com')), 'the SDK sends name.exact');
  assert.ok(f.calls.some((c) => c.query.includes(`comment.startswith=hardway%20owner%3D${UID}`)), 'the SDK sends comment.startswith');
});

test('syncRecords converges a Free zone (tags would be refused there with 9300), one listing when converged', async () => {
  const f = await fake();
  const d = dns(f);
  // The zone's shared listing, as CloudFactory makes it, on a clock the test moves past its period.
  let clock = 0;
  const clouds = cloudsFor({} as Compute, d, { now: () => clock });
  const zone = (await d.findZone('example.com')).data!;
  const wanted = [
    { name: 'api.demo.example.com', type: 'A' as const, content: '127.20.0.1', ttl: 60, comment: 'hardway ControlPlane default/demo endpoint' },
    { name: 'api.demo.example.com', type: 'A' as const, content: '127.20.0.2', ttl: 60, comment: 'hardway ControlPlane default/demo endpoint' },
  ];
  const first = await syncRecords(clouds, zone.id, UID, wanted);
  assert.equal(first.created.length, 2);
  assert.equal(f.records.size, 2);
  assert.ok([...f.records.values()].every((r) => r.tags.length === 0 && r.comment.startsWith(`hardway owner=${UID} `)));
  const before = f.calls.length;
  assert.deepEqual(await syncRecords(clouds, zone.id, UID, wanted), { created: [], deleted: [], kept: [], unproxied: [] });
  assert.equal(f.calls.length - before, 0, 'a converged zone costs nothing while its listing is younger than its period');
  clock += 300_000;
  assert.deepEqual(await syncRecords(clouds, zone.id, UID, wanted), { created: [], deleted: [], kept: [], unproxied: [] });
  assert.equal(f.calls.length - before, 1, 'then one listing, for every owner in the zone');
  assert.match(f.calls.at(-1)!.query, /comment\.startswith=hardway%20owner%3D(&|$)/);
  // Someone turned Cloudflare's proxy on for one (it would terminate TLS and break client certificates): turned off in place.
  const proxied = [...f.records.values()].find((r) => r.content === '127.20.0.2')!;
  proxied.proxied = true;
  clock += 300_000;
  const repaired = await syncRecords(clouds, zone.id, UID, wanted);
  assert.deepEqual(repaired, { created: [], deleted: [], kept: [], unproxied: [{ name: 'api.demo.example.com', content: '127.20.0.2' }] });
  assert.equal(f.records.size, 2);
  assert.ok([...f.records.values()].every((r) => r.proxied === false && r.ttl === 60));
  const shrunk = await syncRecords(clouds, zone.id, UID, wanted.slice(1));
  assert.deepEqual(shrunk.deleted, [{ name: 'api.demo.example.com', content: '127.20.0.1' }]);
});

test('a long note is cut so the comment fits the Free plan’s 100 characters, the owner mark intact', async () => {
  const f = await fake();
  const d = dns(f);
  const zone = (await d.findZone('example.com')).data!;
  const long = `hardway ControlPlane ${'n'.repeat(63)}/${'x'.repeat(60)} endpoint`;
  const r = (await d.createRecord(zone.id, { ...a('long.example.com', '127.10.0.7'), comment: long })).data;
  const stored = f.records.get(r.id)!.comment as string;
  assert.equal([...stored].length, COMMENT_MAX);
  assert.ok(stored.startsWith(`hardway owner=${UID} hardway ControlPlane nnn`) && stored.endsWith('…'));
  assert.equal((await d.listRecords(zone.id, { owner: UID })).data[0]?.id, r.id);
});

test('"already exists" (81058) after a lost answer: our own record is adopted, not duplicated', async () => {
  const f = await fake();
  const d = dns(f);
  const zone = (await d.findZone('example.com')).data!;
  // The create is carried out but its answer never arrives (a crash, a cut connection).
  f.loseResponses(1, (m) => m === 'POST');
  await assert.rejects(d.createRecord(zone.id, a('x.example.com', '127.10.0.9')));
  const [first] = f.records.values();
  // The retry meets 81058, finds the record marked with its owner, and brings it to the wanted state.
  const again = (await d.createRecord(zone.id, { ...a('x.example.com', '127.10.0.9'), comment: 'renamed note' })).data;
  assert.equal(again.id, first!.id);
  assert.deepEqual([again.owner, again.comment], [UID, 'renamed note']);
  assert.equal(f.records.size, 1);
  // A name taken by another type is a real conflict (81053): reported, not adopted.
  const clash = await d.createRecord(zone.id, { name: 'x.example.com', type: 'CNAME', content: 'elsewhere.example.org', ttl: 60, owner: UID }).catch((e: unknown) => e);
  assert.ok(clash instanceof CloudError);
  assert.deepEqual([clash.status, clash.code], [400, 81053]);
});

test('a record someone else owns, or nobody marked, is never adopted or modified', async () => {
  const f = await fake();
  const d = dns(f);
  const zone = (await d.findZone('example.com')).data!;
  const theirs = (await d.createRecord(zone.id, a('mail.example.com', '127.30.0.1', OTHER))).data;
  const manual = (await d.createRecord(zone.id, { name: 'www.example.com', type: 'A', content: '127.30.0.2', ttl: 300, comment: 'made by hand' })).data;
  const snapshot = JSON.stringify([...f.records.values()]);
  const writes = bodies(f).length;
  for (const [name, content, whose] of [
    ['mail.example.com', '127.30.0.1', `marked for ${OTHER}`],
    ['www.example.com', '127.30.0.2', 'not marked by hardway'],
  ] as const) {
    const err = await d.createRecord(zone.id, a(name, content)).catch((e: unknown) => e);
    assert.ok(err instanceof RecordNotOwnedError, String(err));
    assert.ok(err instanceof CloudError && err.code === RECORD_NOT_OWNED && err.status === 400 && !err.transient);
    assert.match(err.message, new RegExp(`${name} A already exists and is not owned by this object \\(${whose}\\)`));
  }
  assert.equal(bodies(f).length - writes, 2, 'only the two refused creates: nothing patched');
  assert.equal(JSON.stringify([...f.records.values()]), snapshot, 'their records are untouched');
  assert.deepEqual([theirs.owner, manual.owner, manual.comment], [OTHER, undefined, 'made by hand']);
  // Without an owner of its own, a create adopts nothing either.
  const anon = await d.createRecord(zone.id, { name: 'www.example.com', type: 'A', content: '127.30.0.2', ttl: 60 }).catch((e: unknown) => e);
  assert.ok(anon instanceof CloudError && anon.code === RECORD_NOT_OWNED);
});

test('a record tagged owner:<uid> by an earlier version (paid zone) is still its owner’s, and adopted', async () => {
  const f = await fake();
  const d = dns(f);
  const zone = (await d.findZone('example.org')).data!;
  const res = await fetch(`${f.url}/zones/${zone.id}/dns_records`, {
    method: 'POST',
    headers: { authorization: 'Bearer cf-test-token', 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'A', name: 'old.example.org', content: '127.40.0.1', ttl: 60, tags: ['managed-by:hardway', `owner:${UID}`], comment: 'hardway EtcdCluster default/demo' }),
  });
  assert.equal(res.status, 200);
  const adopted = (await d.createRecord(zone.id, a('old.example.org', '127.40.0.1'))).data;
  assert.equal(adopted.owner, UID);
  assert.equal(f.records.size, 1);
  assert.ok(f.records.get(adopted.id)!.comment.startsWith(`hardway owner=${UID}`), 'now marked the new way');
});

test('listing pages until a short page (no extra empty request), and updates and deletes', async () => {
  const f = await fake();
  const d = dns(f, { perPage: 5 });
  const zone = (await d.findZone('example.com')).data!;
  for (let i = 0; i < 12; i++) await d.createRecord(zone.id, a(`n${i}.example.com`, `127.10.1.${i + 1}`));
  const before = f.count('GET', '/dns_records');
  const all = (await d.listRecords(zone.id, { owner: UID })).data;
  assert.equal(all.length, 12);
  assert.equal(f.count('GET', '/dns_records') - before, 3, '5 + 5 + 2');
  const updated = (await d.updateRecord(zone.id, all[0]!.id, { ...a(all[0]!.name, '127.10.9.9') })).data;
  assert.equal(updated.content, '127.10.9.9');
  await d.deleteRecord(zone.id, all[0]!.id);
  await d.deleteRecord(zone.id, all[0]!.id); // already gone is success
  assert.equal(f.records.size, 11);
});

test('429 code 971 maps to a rate-limited error with retry-after, made once (SDK retries off)', async () => {
  const f = await fake();
  const d = dns(f);
  const zone = (await d.findZone('example.com')).data!;
  const ok = await d.listRecords(zone.id, {});
  assert.equal(ok.rateLimit.remaining, 1198);
  assert.equal(ok.rateLimit.limit, 1200);
  f.throttleRetryAfterSeconds = 42;
  const before = f.calls.length;
  const err = await d.createRecord(zone.id, a('y.example.com', '127.10.0.5')).catch((e: unknown) => e);
  assert.ok(err instanceof CloudError);
  assert.deepEqual([err.status, err.code, err.retryAfterSeconds], [429, 971, 42]);
  assert.equal(f.calls.length - before, 1);
  f.throttleRetryAfterSeconds = undefined;
  f.failNext(1, 502);
  const five = await d.listRecords(zone.id, {}).catch((e: unknown) => e);
  assert.ok(five instanceof CloudError && five.status === 502 && five.transient);
});

test('a retry-after given as an HTTP-date (RFC 9110 §10.2.3) becomes seconds, not NaN', async () => {
  const now = () => Date.UTC(2026, 0, 1, 12, 0, 0);
  const f = await fake({ now });
  const d = dns(f, { now });
  f.throttleRetryAfterSeconds = 42;
  f.retryAfterAsDate = true;
  const err = await d.verifyToken().catch((e: unknown) => e);
  assert.ok(err instanceof CloudError && err.rateLimited, String(err));
  assert.equal(f.calls.at(-1)!.status, 429);
  assert.equal(err.retryAfterSeconds, 42);
});

test('the SDK’s environment variables are ignored: only this client’s Bearer token is sent', async () => {
  const f = await fake();
  const env = {
    CLOUDFLARE_API_TOKEN: 'env-token',
    CLOUDFLARE_API_KEY: 'env-global-key',
    CLOUDFLARE_EMAIL: 'env@example.com',
    CLOUDFLARE_API_USER_SERVICE_KEY: 'v1.0-env-service-key',
    CLOUDFLARE_BASE_URL: 'http://127.0.0.1:9/client/v4',
    CLOUDFLARE_CUSTOM_HEADERS: 'X-Env-Header: leaked\nAuthorization: Bearer env-token',
    CLOUDFLARE_LOG: 'off',
  };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    const d = dns(f);
    assert.equal((await d.verifyToken()).data, true);
    const zone = (await d.findZone('example.com')).data!;
    await d.createRecord(zone.id, a('env.example.com', '127.10.0.4'));
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  assert.equal(f.calls.length, 3);
  for (const c of f.calls) {
    assert.equal(c.headers.authorization, 'Bearer cf-test-token');
    for (const h of ['x-auth-key', 'x-auth-email', 'x-auth-user-service-key', 'x-env-header']) assert.equal(c.headers[h], undefined, `${h} not sent`);
  }
});

test('a wrong token is an error with the provider code, and two clients keep their tokens', async () => {
  const f = await fake();
  const bad = await dns(f, { token: 'wrong' }).findZone('example.com').catch((e: unknown) => e);
  assert.ok(bad instanceof CloudError);
  assert.equal(bad.code, 6003);
  assert.match(bad.detail, /Invalid request headers: Invalid format for Authorization header/, 'the cause from error_chain is kept');
  const good = await dns(f).findZone('example.com');
  assert.equal(good.data?.name, 'example.com');
});

test('1,200 requests per 5 minutes per token: the next one is refused with 971 until the window moves', async () => {
  let now = 1_800_000_000_000;
  const f = await new FakeCloudflare({ tokens: ['cf-test-token'], zones: ['example.com'], contract: cloudflareContract(), limitPer5Min: 3, now: () => now }).start();
  fakes.push(f);
  const d = dns(f);
  await d.verifyToken();
  await d.verifyToken();
  const third = await d.verifyToken();
  assert.equal(third.rateLimit.remaining, 0);
  const over = await d.verifyToken().catch((e: unknown) => e);
  assert.ok(over instanceof CloudError && over.rateLimited && over.code === 971 && over.retryAfterSeconds === 300);
  now += 300_001;
  assert.equal((await d.verifyToken()).data, true, 'allowed again once the window has moved on');
});

test('the contract check catches a malformed record (so the checks above can fail)', async () => {
  const f = await fake();
  const zone = [...f.zones.values()][0]!;
  const res = await fetch(`${f.url}/zones/${zone.id}/dns_records`, {
    method: 'POST',
    headers: { authorization: 'Bearer cf-test-token', 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'A', name: 'bad.example.com', content: 'not-an-ip', ttl: 5 }),
  });
  await res.text();
  assert.ok(f.violations.some((v) => /content must match format "ipv4"/.test(v)), f.violations.join('\n'));
  assert.ok(f.violations.some((v) => /ttl must be >= 30/.test(v)));
  f.violations.length = 0;
});

test('past the last page the fake answers 200 with an empty result, as the SDK’s paginator expects', async () => {
  const f = await fake();
  const zone = [...f.zones.values()][0]!;
  const res = await fetch(`${f.url}/zones/${zone.id}/dns_records?page=7&per_page=5`, { headers: { authorization: 'Bearer cf-test-token' } });
  const body = (await res.json()) as { result: unknown[]; result_info: object };
  assert.equal(res.status, 200);
  assert.deepEqual(body.result, []);
  assert.deepEqual(body.result_info, { page: 7, per_page: 5, count: 0, total_count: 0, total_pages: 0 });
});
