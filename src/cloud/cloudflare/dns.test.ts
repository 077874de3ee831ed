// The Cloudflare adapter (official SDK) against the loopback fake, contract-checked.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { CloudflareDns } from './dns.ts';
import { FakeCloudflare } from '../fake/cloudflare.ts';
import { CloudError } from '../errors.ts';
import { cloudflareContract } from '../../../test/helpers/contracts.ts';

const fakes: FakeCloudflare[] = [];
async function fake() {
  const f = await new FakeCloudflare({ tokens: ['cf-test-token'], zones: ['example.com', 'example.org'], contract: cloudflareContract() }).start();
  fakes.push(f);
  return f;
}
const dns = (f: FakeCloudflare, o: { token?: string; perPage?: number } = {}) => new CloudflareDns({ token: o.token ?? 'cf-test-token', baseUrl: f.url, timeoutMs: 5000, perPage: o.perPage });

afterEach(async () => {
  for (const f of fakes.splice(0)) {
    await f.stop();
    assert.deepEqual(f.violations, [], 'requests and responses match the contract');
  }
});

const a = (name: string, content: string) => ({ name, type: 'A' as const, content, ttl: 60, tags: ['managed-by:hardway', 'owner:uid-1'], comment: 'hardway: demo' });

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

test('records are created unproxied with their owner tags and listed by name, type and tag', async () => {
  const f = await fake();
  const d = dns(f);
  const zone = (await d.findZone('example.com')).data!;
  const r = (await d.createRecord(zone.id, a('demo-etcd-abcde.example.com', '127.10.0.1'))).data;
  assert.equal(r.proxied, false);
  assert.deepEqual(r.tags, ['managed-by:hardway', 'owner:uid-1']);
  await d.createRecord(zone.id, a('api.demo.example.com', '127.20.0.1'));
  await d.createRecord(zone.id, a('api.demo.example.com', '127.20.0.2'));
  assert.equal((await d.listRecords(zone.id, { name: 'api.demo.example.com', type: 'A' })).data.length, 2);
  assert.equal((await d.listRecords(zone.id, { tag: 'owner:uid-1' })).data.length, 3);
  assert.equal((await d.listRecords(zone.id, { tag: 'owner:someone-else' })).data.length, 0);
  assert.ok(f.calls.some((c) => c.query.includes('name.exact=api.demo.example.com')), 'the SDK sends name.exact');
});

test('"already exists" (81058) is adopted and brought to the wanted state, not an error', async () => {
  const f = await fake();
  const d = dns(f);
  const zone = (await d.findZone('example.com')).data!;
  const first = (await d.createRecord(zone.id, { ...a('x.example.com', '127.10.0.9'), tags: [] })).data;
  // A crash after create, before we noted it: the retry sees 81058 and adopts the record, with our tags.
  const again = (await d.createRecord(zone.id, a('x.example.com', '127.10.0.9'))).data;
  assert.equal(again.id, first.id);
  assert.deepEqual(again.tags, ['managed-by:hardway', 'owner:uid-1']);
  assert.equal(f.records.size, 1);
  // A name taken by another type is a real conflict (81053): reported, not adopted.
  const clash = await d.createRecord(zone.id, { name: 'x.example.com', type: 'CNAME', content: 'elsewhere.example.org', ttl: 60 }).catch((e: unknown) => e);
  assert.ok(clash instanceof CloudError);
  assert.deepEqual([clash.status, clash.code], [400, 81053]);
});

test('listing pages until a short page (no extra empty request), and updates and deletes', async () => {
  const f = await fake();
  const d = dns(f, { perPage: 5 });
  const zone = (await d.findZone('example.com')).data!;
  for (let i = 0; i < 12; i++) await d.createRecord(zone.id, a(`n${i}.example.com`, `127.10.1.${i + 1}`));
  const before = f.count('GET', '/dns_records');
  const all = (await d.listRecords(zone.id, { tag: 'owner:uid-1' })).data;
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

test('a wrong token is an error with the provider code, and two clients keep their tokens', async () => {
  const f = await fake();
  const bad = await dns(f, { token: 'wrong' }).findZone('example.com').catch((e: unknown) => e);
  assert.ok(bad instanceof CloudError);
  assert.equal(bad.code, 6003);
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
