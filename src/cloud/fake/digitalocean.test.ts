// The DigitalOcean fake refuses what DigitalOcean refuses: each refused request is sent raw and the
// status, error id and message are the ones the source beside it gives (or, where no source gives the
// text, the fake's own words, marked unverified). Lists lag creates and deletes take time on request.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { FakeDigitalOcean } from './digitalocean.ts';
import { digitalOceanContract } from '../../../test/helpers/contracts.ts';

const TOKEN = 'dop_v1_fake-refusals';
let clock = 1_800_000_000_000;
const f = await new FakeDigitalOcean({ tokens: [TOKEN], now: () => clock, contract: digitalOceanContract(), dropletLimit: 3, listLagMs: 5_000, deleteDelayMs: 2_000 }).start();
after(async () => {
  await f.stop();
  // Refusals are answered in the contract's error shapes too (requests may break it on purpose).
  assert.deepEqual(f.violations.filter((v) => v.startsWith('response')), []);
});

async function call(method: string, path: string, body?: unknown, token = TOKEN) {
  const res = await fetch(`${f.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const droplet = (name: string, extra: object = {}) => ({ name, region: 'fra1', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64', ...extra });
const rule = (tags: string[]) => ({ protocol: 'tcp', ports: '22', sources: { tags } });

test('refusals: status, id and message as DigitalOcean sends them', async () => {
  await call('POST', '/v2/tags', { name: 'known' });
  const cases: [string, () => Promise<{ status: number; body: any }>, number, string, string | RegExp][] = [
    // FACTS §2.1: 401 "Unable to authenticate you."
    ['a wrong token', () => call('GET', '/v2/account', undefined, 'dop_v1_wrong'), 401, 'unauthorized', 'Unable to authenticate you.'],
    // FACTS §2.1: 404 "The resource you requested could not be found."
    ['an unknown droplet', () => call('GET', '/v2/droplets/1'), 404, 'not_found', 'The resource you requested could not be found.'],
    // FACTS §2.1 from doctl#257 and outline-server#1404.
    ['a droplet name with "_"', () => call('POST', '/v2/droplets', droplet('bad_name')), 422, 'unprocessable_entity', 'Only valid hostname characters are allowed. (a-z, A-Z, 0-9, . and -)'],
    // FACTS §2.4 ("Up to ten Droplets"); the message is the fake's own (unverified).
    ['eleven names in one create', () => call('POST', '/v2/droplets', { ...droplet('x'), name: undefined, names: Array.from({ length: 11 }, (_, i) => `n${i}`) }), 422, 'unprocessable_entity', /up to 10 Droplets/],
    // Contract droplet_create.user_data "may not exceed 64 KiB"; no real message is known (unverified).
    ['user_data over 64 KiB', () => call('POST', '/v2/droplets', droplet('big', { user_data: 'x'.repeat(65_537) })), 422, 'unprocessable_entity', /may not exceed 64 KiB/],
    // FACTS §2.1 from OpenRouterLabs/spawn#3059.
    ['more droplets than the account allows', () => call('POST', '/v2/droplets', { ...droplet('x'), name: undefined, names: ['a', 'b', 'c', 'd'] }), 422, 'unprocessable_entity', 'creating this/these droplet(s) will exceed your droplet limit'],
    // Contract existing_tags_array ("Tag names must exist"); message from kubicorn/kubicorn#587.
    ['a firewall applied to a tag that does not exist', () => call('POST', '/v2/firewalls', { name: 'fw', tags: ['nope'], inbound_rules: [rule(['known'])] }), 422, 'unprocessable_entity', 'tag nope does not exist'],
    ['a firewall rule naming a tag that does not exist', () => call('POST', '/v2/firewalls', { name: 'fw', tags: ['known'], inbound_rules: [rule(['missing-too'])] }), 422, 'unprocessable_entity', 'tag missing-too does not exist'],
    // DigitalOcean's firewall limits page (src/cloud/limits.ts); the droplet text from alphaonedev/ai-memory-mcp#1537.
    ['a firewall with 11 droplet IDs', () => call('POST', '/v2/firewalls', { name: 'fw', droplet_ids: Array.from({ length: 11 }, (_, i) => i + 1), inbound_rules: [rule(['known'])] }), 422, 'unprocessable_entity', 'must have no more than 10 droplets'],
    ['a firewall with 6 tags', () => call('POST', '/v2/firewalls', { name: 'fw', tags: Array(6).fill('known'), inbound_rules: [rule(['known'])] }), 422, 'unprocessable_entity', /6 tags \(at most 5\)/],
    ['a firewall with 51 rules', () => call('POST', '/v2/firewalls', { name: 'fw', inbound_rules: Array.from({ length: 51 }, () => rule(['known'])) }), 422, 'unprocessable_entity', /51 rules \(at most 50\)/],
    // The contract does not say whether a load balancer's tag must exist: strict (unverified).
    ['a load balancer on a tag that does not exist', () => call('POST', '/v2/load_balancers', { name: 'lb', region: 'fra1', tag: 'nope', forwarding_rules: [{ entry_protocol: 'tcp', entry_port: 6443, target_protocol: 'tcp', target_port: 6443 }] }), 422, 'unprocessable_entity', 'tag nope does not exist'],
    // FACTS §2.3: per_page at most 200.
    ['per_page=201', () => call('GET', '/v2/droplets?per_page=201'), 400, 'bad_request', /per_page/],
    // FACTS §2.5: tag URLs must use the canonical capitalisation.
    ['a tag URL in another capitalisation', () => call('GET', '/v2/tags/KNOWN'), 404, 'not_found', 'The resource you requested could not be found.'],
  ];
  for (const [what, send, status, id, message] of cases) {
    const r = await send();
    assert.equal(r.status, status, what);
    assert.equal(r.body.id, id, what);
    if (typeof message === 'string') assert.equal(r.body.message, message, what);
    else assert.match(r.body.message, message, what);
  }
  // POST /v2/tags answers 400 in error_with_root_causes, not {id, message} (FACTS §2.1, contract tags_bad_request).
  const tag = await call('POST', '/v2/tags', { name: 'has space' });
  assert.equal(tag.status, 400);
  assert.match(tag.body.error, /contains invalid characters/);
  assert.equal(tag.body.messages, null);
  assert.equal(tag.body.root_causes.length, 1);
  assert.equal(f.droplets.size, 0, 'nothing refused was made');
});

test('rate limits: a burst 429 says when in retry-after (seconds, or an HTTP-date on request); a spent hour does not', async () => {
  f.burstRetryAfterSeconds = 9;
  const burst = await call('GET', '/v2/account');
  assert.deepEqual([burst.status, burst.body.id, burst.body.message, burst.headers.get('retry-after')], [429, 'too_many_requests', 'API Rate limit exceeded.', '9']);
  f.retryAfterAsDate = true;
  assert.equal((await call('GET', '/v2/account')).headers.get('retry-after'), new Date(clock + 9_000).toUTCString());
  f.burstRetryAfterSeconds = undefined;
  f.retryAfterAsDate = false;
  f.hourExhausted = true;
  const hour = await call('GET', '/v2/account');
  assert.deepEqual([hour.status, hour.headers.get('retry-after'), hour.headers.get('ratelimit-remaining')], [429, null, '0']);
  f.hourExhausted = false;
});

test('lists lag creates and deleted droplets linger a moment; GET by id sees a new droplet at once', async () => {
  const created = await call('POST', '/v2/droplets', droplet('lagging', { tags: ['lag'] }));
  assert.equal(created.status, 202);
  const id = created.body.droplet.id;
  assert.deepEqual((await call('GET', '/v2/droplets?tag_name=lag')).body.droplets, [], 'not listed yet');
  assert.equal((await call('GET', `/v2/droplets/${id}`)).status, 200);
  clock += 5_000;
  assert.equal((await call('GET', '/v2/droplets?tag_name=lag')).body.droplets.length, 1);
  assert.equal((await call('DELETE', `/v2/droplets/${id}`)).status, 204);
  assert.equal((await call('GET', '/v2/droplets?tag_name=lag')).body.droplets.length, 1, 'still listed while being deleted');
  clock += 2_000;
  assert.deepEqual((await call('GET', '/v2/droplets?tag_name=lag')).body.droplets, []);
  assert.equal((await call('GET', `/v2/droplets/${id}`)).status, 404);
});
