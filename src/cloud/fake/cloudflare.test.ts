// The Cloudflare fake's refusals, each sent as a raw HTTP request on loopback and checked for the status,
// code and message Cloudflare gives, with the source of each beside it (the same sources are cited in
// cloudflare.ts). "unverified" marks a refusal whose real code or text is not known: the fake is strict.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { FakeCloudflare } from './cloudflare.ts';
import { cloudflareContract } from '../../../test/helpers/contracts.ts';
import type { Json } from '../json.ts';

const TOKEN = 'cf-fake-test';
const fakes: FakeCloudflare[] = [];

async function fake(o: { now?: () => number } = {}) {
  const f = await new FakeCloudflare({
    tokens: [TOKEN],
    zones: ['free.example', { name: 'pro.example', plan: 'pro' }, { name: 'ent.example', plan: 'enterprise' }],
    contract: cloudflareContract(),
    ...o,
  }).start();
  fakes.push(f);
  return f;
}

afterEach(async () => {
  for (const f of fakes.splice(0)) {
    await f.stop();
    // Requests here are wrong on purpose; the answers must still be the provider's shapes.
    assert.deepEqual(f.violations.filter((v) => v.startsWith('response')), [], 'responses match the contract');
  }
});

interface Answer {
  status: number;
  body: Json;
  headers: Headers;
}

async function send(f: FakeCloudflare, method: string, path: string, body?: unknown, o: { token?: string; raw?: string } = {}): Promise<Answer> {
  const res = await fetch(`${f.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${o.token ?? TOKEN}`, 'content-type': 'application/json' },
    ...(o.raw !== undefined ? { body: o.raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Json, headers: res.headers };
}

function refused(a: Answer, status: number, code: number, message: string): void {
  assert.equal(a.status, status, JSON.stringify(a.body));
  assert.equal(a.body.success, false);
  assert.equal(a.body.result, null);
  assert.deepEqual(a.body.messages, []);
  assert.equal(a.body.errors.length, 1);
  assert.deepEqual([a.body.errors[0].code, a.body.errors[0].message], [code, message]);
}

const zoneId = (f: FakeCloudflare, name: string) => [...f.zones.values()].find((z) => z.name === name)!.id as string;
const records = (f: FakeCloudflare, zone: string) => `/zones/${zoneId(f, zone)}/dns_records`;
const rec = (name: string, content = '192.0.2.1', more: Json = {}) => ({ type: 'A', name, content, ttl: 60, ...more });

test('zones carry their plan; a bare zone name is a Free zone', async () => {
  const f = await fake();
  const list = await send(f, 'GET', '/zones');
  const plans = Object.fromEntries(list.body.result.map((z: Json) => [z.name, z.plan.legacy_id]));
  assert.deepEqual(plans, { 'free.example': 'free', 'pro.example': 'pro', 'ent.example': 'enterprise' });
});

test('a token the fake does not know: 400 6003 with cause 6111 (jeessy2/ddns-go#240; revoked tokens unverified)', async () => {
  const f = await fake();
  const a = await send(f, 'GET', '/zones', undefined, { token: 'not-a-token' });
  refused(a, 400, 6003, 'Invalid request headers');
  assert.deepEqual(a.body.errors[0].error_chain, [{ code: 6111, message: 'Invalid format for Authorization header' }]);
});

test('the fake keeps each request’s headers (which credentials arrived)', async () => {
  const f = await fake();
  await fetch(`${f.url}/user/tokens/verify`, { headers: { authorization: `Bearer ${TOKEN}`, 'x-auth-key': 'global' } });
  assert.deepEqual([f.calls[0]!.headers.authorization, f.calls[0]!.headers['x-auth-key']], [`Bearer ${TOKEN}`, 'global']);
});

test('record tags on a Free zone: 400 9300 "exceeding the quota of 0" (cloudflare/terraform-provider-cloudflare#3217)', async () => {
  const f = await fake();
  refused(await send(f, 'POST', records(f, 'free.example'), rec('t.free.example', '192.0.2.1', { tags: ['owner:x'] })), 400, 9300, 'DNS record has 1 tags, exceeding the quota of 0.');
  // The same on an update that adds them.
  const made = await send(f, 'POST', records(f, 'free.example'), rec('t.free.example'));
  assert.equal(made.status, 200);
  refused(await send(f, 'PATCH', `${records(f, 'free.example')}/${made.body.result.id}`, { tags: ['a:1', 'b:2'] }), 400, 9300, 'DNS record has 2 tags, exceeding the quota of 0.');
  // Paid plans have 20 per record (cloudflare-docs plans/index.json; the text for 20 is inferred).
  assert.equal((await send(f, 'POST', records(f, 'pro.example'), rec('t.pro.example', '192.0.2.1', { tags: ['owner:x'] }))).status, 200);
  const many = Array.from({ length: 21 }, (_, i) => `t${i}:v`);
  refused(await send(f, 'POST', records(f, 'pro.example'), rec('u.pro.example', '192.0.2.1', { tags: many })), 400, 9300, 'DNS record has 21 tags, exceeding the quota of 20.');
});

test('a comment over the plan’s limit: 400 9313 (STRRL/cloudflare-tunnel-ingress-controller#168; Free 100, paid 500)', async () => {
  const f = await fake();
  refused(await send(f, 'POST', records(f, 'free.example'), rec('c.free.example', '192.0.2.1', { comment: 'x'.repeat(101) })), 400, 9313, 'DNS record comment exceeds the maximum length of 100 characters.');
  assert.equal((await send(f, 'POST', records(f, 'free.example'), rec('c.free.example', '192.0.2.1', { comment: 'x'.repeat(100) }))).status, 200);
  assert.equal((await send(f, 'POST', records(f, 'pro.example'), rec('c.pro.example', '192.0.2.1', { comment: 'x'.repeat(500) }))).status, 200);
  refused(await send(f, 'POST', records(f, 'pro.example'), rec('d.pro.example', '192.0.2.1', { comment: 'x'.repeat(501) })), 400, 9313, 'DNS record comment exceeds the maximum length of 500 characters.');
  // No \r or \n in a comment (FACTS.md §3.4); code and text unverified.
  refused(await send(f, 'POST', records(f, 'free.example'), rec('n.free.example', '192.0.2.1', { comment: 'a\nb' })), 400, 9100, 'comment must not contain newlines');
});

test('an identical record: 400 81058 (jeessy2/ddns-go#1378)', async () => {
  const f = await fake();
  assert.equal((await send(f, 'POST', records(f, 'free.example'), rec('same.free.example'))).status, 200);
  refused(await send(f, 'POST', records(f, 'free.example'), rec('same.free.example')), 400, 81058, 'An identical record already exists.');
  // Round robin: the same name with other content is fine.
  assert.equal((await send(f, 'POST', records(f, 'free.example'), rec('same.free.example', '192.0.2.2'))).status, 200);
});

test('CNAME clashes: 81053 (bearblog#105), 81054 (favonia/cloudflare-ddns#990), 81057 (NewFuture/DDNS#21; when, unverified)', async () => {
  const f = await fake();
  const z = records(f, 'free.example');
  assert.equal((await send(f, 'POST', z, rec('a.free.example'))).status, 200);
  refused(await send(f, 'POST', z, { type: 'CNAME', name: 'a.free.example', content: 'elsewhere.example', ttl: 60 }), 400, 81053, 'An A, AAAA, or CNAME record with that host already exists.');
  assert.equal((await send(f, 'POST', z, { type: 'CNAME', name: 'c.free.example', content: 'elsewhere.example', ttl: 60 })).status, 200);
  refused(await send(f, 'POST', z, rec('c.free.example')), 400, 81054, 'A CNAME record with that host already exists.');
  refused(await send(f, 'POST', z, { type: 'CNAME', name: 'c.free.example', content: 'other.example', ttl: 60 }), 400, 81057, 'The record already exists.');
});

test('a TTL outside 60..86400 (30 on Enterprise) or 1: 400 9021 (timothymiller/cloudflare-ddns#179)', async () => {
  const f = await fake();
  const text = 'TTL must be between 60 and 86400 seconds, or 1 for Automatic.';
  refused(await send(f, 'POST', records(f, 'free.example'), rec('t.free.example', '192.0.2.1', { ttl: 30 })), 400, 9021, text);
  refused(await send(f, 'POST', records(f, 'pro.example'), rec('t.pro.example', '192.0.2.1', { ttl: 59 })), 400, 9021, text);
  refused(await send(f, 'POST', records(f, 'free.example'), rec('t.free.example', '192.0.2.1', { ttl: 86401 })), 400, 9021, text);
  for (const ttl of [1, 60, 86400]) assert.equal((await send(f, 'POST', records(f, 'free.example'), rec(`t${ttl}.free.example`, '192.0.2.1', { ttl }))).status, 200);
  assert.equal((await send(f, 'POST', records(f, 'ent.example'), rec('t.ent.example', '192.0.2.1', { ttl: 30 }))).status, 200);
  refused(await send(f, 'POST', records(f, 'ent.example'), rec('u.ent.example', '192.0.2.1', { ttl: 29 })), 400, 9021, 'TTL must be between 30 and 86400 seconds, or 1 for Automatic.');
});

test('content that is not an address: 9005 for A (timothymiller/cloudflare-ddns#230), 9006 for AAAA (wherelse/cloudflare-ddns-script#15)', async () => {
  const f = await fake();
  refused(await send(f, 'POST', records(f, 'free.example'), rec('a.free.example', '2001:db8::1')), 400, 9005, 'Content for A record must be a valid IPv4 address.');
  refused(await send(f, 'POST', records(f, 'free.example'), { type: 'AAAA', name: 'a.free.example', content: '192.0.2.1', ttl: 60 }), 400, 9006, 'Content for AAAA record must be a valid IPv6 address.');
});

test('invalid names: 400 9000 "DNS name is invalid." (cisagov/manage.get.gov#5244; for these cases unverified)', async () => {
  const f = await fake();
  const z = records(f, 'free.example');
  const bad = [
    `${'a'.repeat(64)}.free.example`, // a label over 63 (FACTS.md §3.4)
    `${Array.from({ length: 20 }, () => 'b'.repeat(12)).join('.')}.free.example`, // over 253
    'a..free.example', // an empty label (octodns/octodns-cloudflare#109)
    'x.elsewhere.example', // outside the zone: the API would nest it (node-cloudflare-dynamic-dns#7); refused here
  ];
  for (const name of bad) refused(await send(f, 'POST', z, rec(name)), 400, 9000, 'DNS name is invalid.');
  // A label of 63, "@" and an undotted relative name are fine; relative names are expanded (FACTS.md §3.4).
  for (const [name, stored] of [
    [`${'a'.repeat(63)}.free.example`, `${'a'.repeat(63)}.free.example`],
    ['@', 'free.example'],
    ['WWW', 'www.free.example'],
  ]) {
    const a = await send(f, 'POST', z, rec(name!));
    assert.deepEqual([a.status, a.body.result?.name], [200, stored]);
  }
});

test('an unknown record: 404 81044 "Record does not exist." (zanjie1999/cloudflare-api-v4-ddns#5; 404 per FACTS.md §3.1)', async () => {
  const f = await fake();
  const missing = `${records(f, 'free.example')}/${'0'.repeat(32)}`;
  for (const method of ['GET', 'PATCH', 'PUT', 'DELETE']) {
    refused(await send(f, method, missing, method === 'PATCH' || method === 'PUT' ? rec('x.free.example') : undefined), 404, 81044, 'Record does not exist.');
  }
});

test('an unknown route or malformed id: 400 7003 "Could not route to …" (cloudflare-go#118, timothymiller/cloudflare-ddns#152)', async () => {
  const f = await fake();
  for (const path of ['/nothing/here', '/zones/free.example', `${records(f, 'free.example')}/12345`, `/zones/${'f'.repeat(32)}/dns_records`]) {
    refused(await send(f, 'GET', path), 400, 7003, `Could not route to /client/v4${path}, perhaps your object identifier is invalid?`);
  }
  // A path the contract does not have cannot be checked against it.
  const unchecked = f.violations.findIndex((v) => v === 'response GET /client/v4/nothing/here: no such operation in the contract');
  assert.ok(unchecked >= 0);
  f.violations.splice(unchecked, 1);
});

test('over the rate limit: 429 971 with retry-after in seconds (FACTS.md §3.2, workers-sdk#10025), or as an HTTP-date', async () => {
  const now = Date.UTC(2026, 0, 1);
  const f = await fake({ now: () => now });
  f.throttleRetryAfterSeconds = 7;
  const a = await send(f, 'GET', '/zones');
  refused(a, 429, 971, 'Please wait and consider throttling your request speed');
  assert.deepEqual([a.headers.get('retry-after'), a.headers.get('ratelimit')], ['7', '"default";r=0;t=7']);
  f.retryAfterAsDate = true;
  assert.equal((await send(f, 'GET', '/zones')).headers.get('retry-after'), 'Thu, 01 Jan 2026 00:00:07 GMT');
});

test('pagination out of bounds: 400, code and text unverified (bounds: zones per_page 5..50, FACTS.md §3.3)', async () => {
  const f = await fake();
  for (const q of ['per_page=51', 'per_page=0', 'page=0', 'page=x']) refused(await send(f, 'GET', `/zones?${q}`), 400, 1004, 'Invalid pagination parameters');
  refused(await send(f, 'GET', `${records(f, 'free.example')}?page=-1`), 400, 1004, 'Invalid pagination parameters');
});

test('a body that is not JSON: 400 6007, code and text unverified', async () => {
  const f = await fake();
  refused(await send(f, 'POST', records(f, 'free.example'), undefined, { raw: '{not json' }), 400, 6007, 'Malformed JSON in request body');
});

test('comment filters: `comment` (= exact) and comment.{exact,startswith,contains,endswith,present,absent}, case-insensitive (SDK docs)', async () => {
  const f = await fake();
  const z = records(f, 'free.example');
  await send(f, 'POST', z, rec('a.free.example', '192.0.2.1', { comment: 'hardway owner=U1 EtcdCluster ns/a' }));
  await send(f, 'POST', z, rec('b.free.example', '192.0.2.2', { comment: 'hardway owner=U2 EtcdCluster ns/b' }));
  await send(f, 'POST', z, rec('c.free.example', '192.0.2.3'));
  const names = async (q: string) => (await send(f, 'GET', `${z}?${q}`)).body.result.map((r: Json) => r.name[0]).join('');
  assert.equal(await names(`comment.startswith=${encodeURIComponent('hardway owner=U1')}`), 'a');
  assert.equal(await names(`comment.startswith=${encodeURIComponent('HARDWAY OWNER=u2')}`), 'b');
  assert.equal(await names('comment.contains=etcdcluster'), 'ab');
  assert.equal(await names('comment.endswith=ns%2Fb'), 'b');
  assert.equal(await names(`comment=${encodeURIComponent('hardway owner=U1 EtcdCluster ns/a')}`), 'a');
  assert.equal(await names(`comment.exact=${encodeURIComponent('hardway owner=U1')}`), '');
  assert.equal(await names('comment.present='), 'ab');
  assert.equal(await names('comment.absent='), 'c');
});
