// A DigitalOcean API v2 on 127.0.0.1, faithful in what the operator depends on (../shared/contracts/FACTS.md
// §2): per-token rolling rate limits with the real headers, page-counter pagination with links built from
// the fake's own origin, droplets new → active with private and public IPv4 (from distinct 127/8 ranges),
// actions, tags created on use, firewalls waiting → succeeded, load balancers new → active, and the real
// error bodies (401, 404, 422, 429, 5xx). Lifecycles advance with the injected clock; nothing runs on timers.
// With a ContractCheck, every request and response is validated and violations are collected.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackFake } from './loopback.ts';
import { randomUUID } from 'node:crypto';
import type { ContractCheck } from './contract.ts';
import type { Json } from '../json.ts';
import { FIREWALL_LIMITS, USER_DATA_MAX_BYTES, firewallOverLimits } from '../limits.ts';

export interface FakeDigitalOceanOptions {
  tokens: string[];
  /** Time from create to active (droplets), succeeded (firewalls), active (load balancers). */
  provisionDelayMs?: number;
  now?: () => number;
  contract?: ContractCheck;
  dropletLimit?: number;
  hourlyLimit?: number;
  minuteLimit?: number;
  /** Origin for pagination links instead of the request's own (tests prove clients never follow them). */
  linkOrigin?: string;
  /**
   * A droplet shows in list responses only this long after its create; GET by id sees it at once.
   * DigitalOcean's lists are eventually consistent (FACTS §2.4: create answers 202 "accepted, not
   * finished"); the real lag is not published, so tests choose it.
   */
  listLagMs?: number;
  /** A deleted droplet stays listed (and readable by id) this long: deletion takes a moment. */
  deleteDelayMs?: number;
  /**
   * Addresses for the n-th droplet or load balancer (n from 1), when they must be reachable somewhere
   * other than loopback (the test machines' network). By default each fake takes a random block of 127/8.
   */
  addresses?: { private(n: number): string; public(n: number): string };
}

interface DropletRecord {
  id: number;
  name: string;
  region: string;
  size: string;
  image: string;
  tags: string[];
  vpcUUID?: string;
  userData?: string;
  createdAt: number;
  privateIp: string;
  publicIp?: string;
  actionId: number;
  /** Set by DELETE; the droplet vanishes deleteDelayMs later. */
  deletedAt?: number;
}

interface Call {
  method: string;
  path: string;
  query: string;
  status: number;
  token: string;
  /** When it arrived, on the fake's clock. */
  at: number;
}


const REGIONS = ['fra1', 'nyc3', 'ams3', 'sfo3', 'sgp1'];
const SIZES: Record<string, { memory: number; vcpus: number; disk: number; price: number }> = {
  's-1vcpu-1gb': { memory: 1024, vcpus: 1, disk: 25, price: 6 },
  's-2vcpu-4gb': { memory: 4096, vcpus: 2, disk: 80, price: 24 },
  's-4vcpu-8gb': { memory: 8192, vcpus: 4, disk: 160, price: 48 },
};
const IMAGES: Record<string, number> = { 'ubuntu-24-04-x64': 160000001, 'debian-12-x64': 160000002 };
const NAME = /^[a-zA-Z0-9]?[a-z0-9A-Z.-]*[a-z0-9A-Z]$/;
const TAG = /^[a-zA-Z0-9_:-]+$/;
const HOUR = 3_600_000;
const MINUTE = 60_000;
/** The real 422 message, from godo's rendering of it in kubicorn/kubicorn#587 ("tag testing-master does not exist"). */
const TAG_MISSING_MESSAGE = (name: string) => `tag ${name} does not exist`;

/**
 * Firewall limits (numbers and sources in ../limits.ts). The real 422 text is known only for droplet IDs
 * ("must have no more than 10 droplets", alphaonedev/ai-memory-mcp#1537, a fragment); the others are
 * unverified and this fake's own words.
 */
function checkFirewallLimits(body: Json, targets: (Json | undefined)[]): void {
  const entries = (t: Json | undefined) => ['addresses', 'tags', 'droplet_ids', 'load_balancer_uids', 'kubernetes_ids'].reduce((n, k) => n + ((t?.[k] as unknown[] | undefined)?.length ?? 0), 0);
  const over = firewallOverLimits({ dropletIds: body.droplet_ids?.length ?? 0, tags: body.tags?.length ?? 0, rules: targets.length, largestTarget: Math.max(0, ...targets.map(entries)) });
  if ((body.droplet_ids?.length ?? 0) > FIREWALL_LIMITS.dropletIds) throw new HttpError(422, 'unprocessable_entity', `must have no more than ${FIREWALL_LIMITS.dropletIds} droplets`);
  if (over.length) throw new HttpError(422, 'unprocessable_entity', `firewall is over its limits: ${over.join(', ')}`);
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly id: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** A body other than the usual {id, message} (POST /v2/tags answers 400 with error_with_root_causes). */
    readonly body?: Json,
  ) {
    super(message);
  }
}

export class FakeDigitalOcean extends LoopbackFake {
  readonly violations: string[] = [];
  readonly calls: Call[] = [];
  readonly droplets = new Map<number, DropletRecord>();
  readonly tags = new Map<string, string>(); // lower-case → canonical
  readonly firewalls = new Map<string, Json & { createdAt: number }>();
  readonly loadBalancers = new Map<string, Json & { createdAt: number }>();
  private readonly windows = new Map<string, number[]>();
  private nextId = 300_000_000;
  private nextAction = 9_000_000;
  private nextIp = 1;
  /** A random block per fake, so two fakes (test files, runs) never hand out the same address. */
  private readonly block = { second: Math.floor(Math.random() * 10), third: Math.floor(Math.random() * 250) };
  private readonly now: () => number;

  // Switches for tests.
  /** Every request gets 429 with retry-after (the 250/min burst limit) while set. */
  burstRetryAfterSeconds?: number;
  /**
   * retry-after as an HTTP-date instead of seconds. DigitalOcean documents seconds (FACTS §2.2); HTTP
   * allows either (RFC 9110 §10.2.3), so a client must read both.
   */
  retryAfterAsDate = false;
  /** Every request gets 429 without retry-after (hourly quota used up) while true. */
  hourExhausted = false;
  /** Droplets that list responses leave out while GET by id still finds them: a list lagging behind. */
  readonly hiddenFromLists = new Set<number>();
  /** Added latency per request. */
  latencyMs = 0;
  /** The next n requests matching the predicate fail with this status (5xx injection). */
  private faults: { remaining: number; status: number; match: (method: string, path: string) => boolean }[] = [];

  constructor(private readonly o: FakeDigitalOceanOptions) {
    super('');
    this.now = o.now ?? Date.now;
  }

  failNext(count: number, status = 500, match: (method: string, path: string) => boolean = () => true): void {
    this.faults.push({ remaining: count, status, match });
  }



  /** Calls by method and path prefix, for counting what an operation cost. */
  count(method?: string, pathPrefix?: string): number {
    return this.calls.filter((c) => (!method || c.method === method) && (!pathPrefix || c.path.startsWith(pathPrefix))).length;
  }

  // -------------------------------------------------------------------------------- plumbing

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const method = req.method ?? 'GET';
    let body: unknown;
    let status = 500;
    let out: unknown;
    const headers: Record<string, string> = { 'x-request-id': randomUUID() };
    try {
      if (this.latencyMs) await new Promise((r) => setTimeout(r, this.latencyMs));
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        throw new HttpError(400, 'bad_request', 'The request body is not valid JSON.');
      }
      if (this.o.contract) {
        for (const v of this.o.contract.checkRequest(method, url.pathname, url.searchParams, body)) this.violations.push(`request ${v}`);
      }
      if (!this.o.tokens.includes(token)) throw new HttpError(401, 'unauthorized', 'Unable to authenticate you.');
      this.rateLimit(token, headers);
      const fault = this.faults.find((f) => f.remaining > 0 && f.match(method, url.pathname));
      if (fault) {
        fault.remaining--;
        throw new HttpError(fault.status, 'server_error', 'Unexpected server-side error');
      }
      [status, out] = this.route(method, url, body as Json | undefined);
    } catch (e) {
      const err = e instanceof HttpError ? e : new HttpError(500, 'server_error', 'Unexpected server-side error');
      status = err.status;
      Object.assign(headers, err.headers);
      out = err.body ?? { id: err.id, message: err.message, request_id: headers['x-request-id'] };
    }
    this.calls.push({ method, path: url.pathname, query: url.search, status, token: token.slice(0, 6), at: this.now() });
    if (this.o.contract) {
      for (const v of this.o.contract.checkResponse(method, url.pathname, status, out)) this.violations.push(`response ${v}`);
    }
    if (this.loseAnswer(res, status, method, url.pathname)) return;
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(status === 204 || out === undefined ? undefined : JSON.stringify(out));
  }

  /** A rolling hour and minute per token; headers on every response, 429 when over. */
  private rateLimit(token: string, headers: Record<string, string>) {
    const now = this.now();
    const hourly = this.o.hourlyLimit ?? 5000;
    const perMinute = this.o.minuteLimit ?? 250;
    const window = (this.windows.get(token) ?? []).filter((t) => t > now - HOUR);
    this.windows.set(token, window);
    const oldest = window[0] ?? now;
    const setHeaders = (remaining: number) => {
      headers['ratelimit-limit'] = String(hourly);
      headers['ratelimit-remaining'] = String(Math.max(0, remaining));
      headers['ratelimit-reset'] = String(Math.ceil((oldest + HOUR) / 1000));
    };
    if (this.hourExhausted || window.length >= hourly) {
      setHeaders(0);
      throw new HttpError(429, 'too_many_requests', 'API Rate limit exceeded.', { ...headers });
    }
    const lastMinute = window.filter((t) => t > now - MINUTE);
    if (this.burstRetryAfterSeconds !== undefined || lastMinute.length >= perMinute) {
      const retry = this.burstRetryAfterSeconds ?? Math.ceil((lastMinute[0]! + MINUTE - now) / 1000);
      setHeaders(0);
      const retryAfter = this.retryAfterAsDate ? new Date(now + retry * 1000).toUTCString() : String(retry);
      throw new HttpError(429, 'too_many_requests', 'API Rate limit exceeded.', { ...headers, 'retry-after': retryAfter });
    }
    window.push(now);
    setHeaders(hourly - window.length);
  }

  private page<T>(url: URL, key: string, items: T[]): Json {
    const perPage = Number(url.searchParams.get('per_page') ?? 20);
    const page = Number(url.searchParams.get('page') ?? 1);
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > 200) throw new HttpError(400, 'bad_request', 'per_page must be between 1 and 200');
    if (!Number.isInteger(page) || page < 1) throw new HttpError(400, 'bad_request', 'page must be at least 1');
    const last = Math.max(1, Math.ceil(items.length / perPage));
    // Links point at the fake's own origin, keeping the query (FACTS §2.3).
    const link = (p: number) => {
      const u = new URL(url.toString());
      if (this.o.linkOrigin) {
        const o = new URL(this.o.linkOrigin);
        u.protocol = o.protocol;
        u.host = o.host;
      }
      u.searchParams.set('page', String(p));
      u.searchParams.set('per_page', String(perPage));
      return u.toString();
    };
    const pages: Json = {};
    if (page > 1) Object.assign(pages, { first: link(1), prev: link(page - 1) });
    if (page < last) Object.assign(pages, { next: link(page + 1), last: link(last) });
    return { [key]: items.slice((page - 1) * perPage, page * perPage), links: { pages }, meta: { total: items.length } };
  }

  // ------------------------------------------------------------------------------ resources

  private ip(kind: 'private' | 'public'): string {
    const n = this.nextIp++;
    if (this.o.addresses) return this.o.addresses[kind](n);
    // Distinct ranges inside 127/8 (private 127.10-19.x.y, public 127.20-29.x.y), so simulated nodes can
    // listen on them.
    const second = (kind === 'private' ? 10 : 20) + this.block.second;
    return `127.${second}.${(this.block.third + Math.floor(n / 250)) % 250}.${(n % 250) + 1}`;
  }

  private ready(createdAt: number): boolean {
    return this.now() - createdAt >= (this.o.provisionDelayMs ?? 0);
  }

  private iso(ms: number): string {
    return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  private regionJson(slug: string): Json {
    return { slug, name: slug.toUpperCase(), sizes: Object.keys(SIZES), available: true, features: ['private_networking', 'backups', 'ipv6', 'metadata'] };
  }

  private sizeJson(slug: string): Json {
    const s = SIZES[slug]!;
    return {
      slug,
      memory: s.memory,
      vcpus: s.vcpus,
      disk: s.disk,
      transfer: 1,
      price_monthly: s.price,
      price_hourly: Number((s.price / 730).toFixed(5)),
      regions: REGIONS,
      available: true,
      description: 'Basic',
    };
  }

  private imageJson(slug: string): Json {
    return {
      id: IMAGES[slug],
      name: slug,
      distribution: slug.startsWith('debian') ? 'Debian' : 'Ubuntu',
      slug,
      public: true,
      regions: REGIONS,
      created_at: '2024-04-25T00:00:00Z',
      type: 'base',
      min_disk_size: 7,
      size_gigabytes: 2.5,
      description: slug,
      tags: [],
      status: 'available',
    };
  }

  private dropletJson(d: DropletRecord): Json {
    const active = this.ready(d.createdAt);
    const v4 = active
      ? [
          { ip_address: d.privateIp, netmask: '255.255.0.0', gateway: 'nil', type: 'private' },
          ...(d.publicIp ? [{ ip_address: d.publicIp, netmask: '255.255.240.0', gateway: '127.20.0.1', type: 'public' }] : []),
        ]
      : [];
    const size = SIZES[d.size]!;
    return {
      id: d.id,
      name: d.name,
      memory: size.memory,
      vcpus: size.vcpus,
      disk: size.disk,
      locked: false,
      status: active ? 'active' : 'new',
      created_at: this.iso(d.createdAt),
      features: ['private_networking'],
      backup_ids: [],
      next_backup_window: null,
      snapshot_ids: [],
      image: this.imageJson(d.image),
      volume_ids: [],
      size: this.sizeJson(d.size),
      size_slug: d.size,
      networks: { v4, v6: [] },
      region: this.regionJson(d.region),
      tags: d.tags,
      ...(d.vpcUUID ? { vpc_uuid: d.vpcUUID } : {}),
    };
  }

  private actionJson(id: number, d: DropletRecord | undefined): Json {
    const done = d ? this.ready(d.createdAt) : true;
    return {
      id,
      status: done ? 'completed' : 'in-progress',
      type: 'create',
      started_at: this.iso(d?.createdAt ?? this.now()),
      completed_at: done ? this.iso((d?.createdAt ?? this.now()) + (this.o.provisionDelayMs ?? 0)) : null,
      resource_id: d?.id ?? 0,
      resource_type: 'droplet',
      region_slug: d?.region ?? 'fra1',
    };
  }

  /** Tags are created on use; the first capitalisation is canonical. */
  private useTag(name: string): string {
    if (!TAG.test(name) || name.length > 255) throw new HttpError(422, 'unprocessable_entity', `tag name "${name}" is invalid`);
    const key = name.toLowerCase();
    if (!this.tags.has(key)) this.tags.set(key, name);
    return this.tags.get(key)!;
  }

  private createDroplets(body: Json | undefined): [number, Json] {
    if (!body) throw new HttpError(422, 'unprocessable_entity', 'A request body is required.');
    const names: unknown[] = body.names ?? (body.name !== undefined ? [body.name] : []);
    if (!names.length) throw new HttpError(422, 'unprocessable_entity', 'name is required');
    if (names.length > 10) throw new HttpError(422, 'unprocessable_entity', 'You may only create up to 10 Droplets at a time.');
    for (const n of names) {
      if (typeof n !== 'string' || !NAME.test(n) || n.length > 255) {
        throw new HttpError(422, 'unprocessable_entity', 'Only valid hostname characters are allowed. (a-z, A-Z, 0-9, . and -)');
      }
    }
    if (!SIZES[body.size]) throw new HttpError(422, 'unprocessable_entity', 'You specified an invalid size for Droplet creation.');
    if (!IMAGES[body.image]) throw new HttpError(422, 'unprocessable_entity', 'You specified an invalid image for Droplet creation.');
    if (body.region && !REGIONS.includes(body.region)) throw new HttpError(422, 'unprocessable_entity', 'You specified an invalid region for Droplet creation.');
    // The limit is in the contract; the real error body is not (no public report found): this 422 is the fake's own.
    if (typeof body.user_data === 'string' && Buffer.byteLength(body.user_data) > USER_DATA_MAX_BYTES) {
      throw new HttpError(422, 'unprocessable_entity', 'user_data must be plain text and may not exceed 64 KiB');
    }
    this.purgeDeleted();
    if (this.droplets.size + names.length > (this.o.dropletLimit ?? 10_000)) {
      throw new HttpError(422, 'unprocessable_entity', 'creating this/these droplet(s) will exceed your droplet limit');
    }
    const tags = ((body.tags ?? []) as string[]).map((t) => this.useTag(t));
    const created = (names as string[]).map((name) => {
      const d: DropletRecord = {
        id: this.nextId++,
        name,
        region: body.region ?? 'fra1',
        size: body.size,
        image: body.image,
        tags,
        vpcUUID: body.vpc_uuid,
        userData: body.user_data,
        createdAt: this.now(),
        privateIp: this.ip('private'),
        publicIp: body.public_networking === false ? undefined : this.ip('public'),
        actionId: this.nextAction++,
      };
      this.droplets.set(d.id, d);
      return d;
    });
    const links = { actions: created.map((d) => ({ id: d.actionId, rel: 'create', href: `${this.url}/v2/actions/${d.actionId}` })) };
    return body.names ? [202, { droplets: created.map((d) => this.dropletJson(d)), links }] : [202, { droplet: this.dropletJson(created[0]!), links }];
  }

  private firewallJson(f: Json & { createdAt: number }): Json {
    const { createdAt, ...rest } = f;
    return { ...rest, status: this.ready(createdAt) ? 'succeeded' : 'waiting', created_at: this.iso(createdAt), pending_changes: [] };
  }

  private lbJson(l: Json & { createdAt: number }): Json {
    const { createdAt, ...rest } = l;
    const active = this.ready(createdAt);
    return { ...rest, status: active ? 'active' : 'new', ip: active ? rest.ip : '', created_at: this.iso(createdAt), region: this.regionJson(rest.region) };
  }

  /**
   * A tag a firewall or load balancer names must exist already: only droplet create makes tags on use.
   * Firewalls: the contract's `existing_tags_array` ("Tag names must exist in order to be referenced in a
   * request"), seen as a 422 in poseidon/typhoon#709 and kubicorn/kubicorn#587. Load balancers: the
   * contract does not say; the fake is strict (unverified) and refuses an unknown tag the same way.
   */
  private existingTag(name: string): string {
    const canonical = this.tags.get(String(name).toLowerCase());
    if (!canonical) throw new HttpError(422, 'unprocessable_entity', TAG_MISSING_MESSAGE(name));
    return canonical;
  }

  private firewallFrom(body: Json | undefined, id: string, createdAt: number): Json & { createdAt: number } {
    if (!body?.name || !/^[a-zA-Z0-9][a-zA-Z0-9.-]+$/.test(body.name)) throw new HttpError(422, 'unprocessable_entity', 'name must be a valid firewall name');
    const rules = [...((body.inbound_rules ?? []) as Json[]).map((r) => r.sources), ...((body.outbound_rules ?? []) as Json[]).map((r) => r.destinations)];
    checkFirewallLimits(body, rules);
    for (const t of [...(body.tags ?? []), ...rules.flatMap((x: Json | undefined) => x?.tags ?? [])]) this.existingTag(t);
    return { id, name: body.name, inbound_rules: body.inbound_rules ?? [], outbound_rules: body.outbound_rules ?? [], droplet_ids: body.droplet_ids ?? [], tags: body.tags ?? [], createdAt };
  }

  private loadBalancerFrom(body: Json | undefined, id: string, ip: string, createdAt: number): Json & { createdAt: number } {
    if (!body?.region || !body.forwarding_rules?.length || (!body.tag && !body.droplet_ids)) {
      throw new HttpError(422, 'unprocessable_entity', 'region, forwarding_rules and either tag or droplet_ids are required');
    }
    if (body.tag) this.existingTag(body.tag);
    return { ...body, id, ip, droplet_ids: [], createdAt } as Json & { createdAt: number };
  }

  private route(method: string, url: URL, body: Json | undefined): [number, Json | undefined] {
    const p = url.pathname;
    const q = url.searchParams;
    let m: RegExpMatchArray | null;
    const notFound = () => new HttpError(404, 'not_found', 'The resource you requested could not be found.');

    if (method === 'GET' && p === '/v2/account') {
      return [200, { account: { droplet_limit: this.o.dropletLimit ?? 10_000, floating_ip_limit: 10, email: 'fake@example.com', uuid: 'b6fc48dbf6d9906cace5f2b5e6e0d4d5d0ee18bb', email_verified: true, status: 'active', status_message: '' } }];
    }
    if (method === 'GET' && p === '/v2/regions') return [200, this.page(url, 'regions', REGIONS.map((r) => this.regionJson(r)))];
    if (method === 'GET' && p === '/v2/sizes') return [200, this.page(url, 'sizes', Object.keys(SIZES).map((s) => this.sizeJson(s)))];
    if (method === 'GET' && p === '/v2/images') return [200, this.page(url, 'images', Object.keys(IMAGES).map((s) => this.imageJson(s)))];
    if (method === 'GET' && (m = p.match(/^\/v2\/images\/([^/]+)$/))) {
      const slug = Object.keys(IMAGES).find((s) => s === m![1] || String(IMAGES[s]) === m![1]);
      if (!slug) throw notFound();
      return [200, { image: this.imageJson(slug) }];
    }

    this.purgeDeleted();
    if (p === '/v2/droplets') {
      if (method === 'GET') {
        const tag = q.get('tag_name');
        const name = q.get('name');
        const lag = this.o.listLagMs ?? 0;
        const list = [...this.droplets.values()]
          .filter((d) => this.now() - d.createdAt >= lag && !this.hiddenFromLists.has(d.id))
          .filter((d) => !tag || d.tags.some((t) => t.toLowerCase() === tag.toLowerCase()))
          .filter((d) => !name || d.name.toLowerCase() === name.toLowerCase())
          .sort((a, b) => a.id - b.id);
        return [200, this.page(url, 'droplets', list.map((d) => this.dropletJson(d)))];
      }
      if (method === 'POST') return this.createDroplets(body);
      if (method === 'DELETE') {
        const tag = q.get('tag_name');
        if (!tag) throw new HttpError(422, 'unprocessable_entity', 'tag_name is required');
        for (const d of [...this.droplets.values()]) if (d.tags.some((t) => t.toLowerCase() === tag.toLowerCase())) this.deleteDroplet(d);
        return [204, undefined];
      }
    }
    if ((m = p.match(/^\/v2\/droplets\/(\d+)$/))) {
      const d = this.droplets.get(Number(m[1]));
      if (!d) throw notFound();
      if (method === 'GET') return [200, { droplet: this.dropletJson(d) }];
      if (method === 'DELETE') {
        this.deleteDroplet(d);
        return [204, undefined];
      }
    }
    if (method === 'GET' && (m = p.match(/^\/v2\/actions\/(\d+)$/))) {
      const id = Number(m[1]);
      const d = [...this.droplets.values()].find((x) => x.actionId === id);
      if (!d && id >= this.nextAction) throw notFound();
      return [200, { action: this.actionJson(id, d) }];
    }

    if (p === '/v2/tags') {
      if (method === 'POST') {
        if (!body?.name || !TAG.test(body.name)) {
          // This endpoint's 400 uses error_with_root_causes (FACTS §2.1), worded as the contract's
          // tags_bad_request example.
          const error = `Error validating resource tag: "tag-name \\"${body?.name ?? ''}\\" contains invalid characters"`;
          throw new HttpError(400, 'bad_request', error, {}, { error, messages: null, root_causes: [`rpc error: code = InvalidArgument desc = ${error}`] });
        }
        const name = this.useTag(body.name);
        return [201, { tag: this.tagJson(name) }];
      }
      if (method === 'GET') return [200, this.page(url, 'tags', [...this.tags.values()].map((t) => this.tagJson(t)))];
    }
    if ((m = p.match(/^\/v2\/tags\/([^/]+)(\/resources)?$/))) {
      const name = decodeURIComponent(m[1]!);
      const canonical = this.tags.get(name.toLowerCase());
      if (!canonical || canonical !== name) throw notFound(); // URLs must use the canonical capitalisation
      if (!m[2] && method === 'GET') return [200, { tag: this.tagJson(canonical) }];
      if (!m[2] && method === 'DELETE') {
        this.tags.delete(name.toLowerCase());
        for (const d of this.droplets.values()) d.tags = d.tags.filter((t) => t !== canonical);
        return [204, undefined];
      }
      if (m[2] && (method === 'POST' || method === 'DELETE')) {
        for (const r of (body?.resources ?? []) as Json[]) {
          const d = this.droplets.get(Number(r.resource_id));
          if (!d) continue;
          d.tags = method === 'POST' ? [...new Set([...d.tags, canonical])] : d.tags.filter((t) => t !== canonical);
        }
        return [204, undefined];
      }
    }

    if (p === '/v2/firewalls') {
      if (method === 'GET') return [200, this.page(url, 'firewalls', [...this.firewalls.values()].map((f) => this.firewallJson(f)))];
      if (method === 'POST') {
        const f = this.firewallFrom(body, randomUUID(), this.now());
        this.firewalls.set(f.id, f);
        return [202, { firewall: this.firewallJson(f) }];
      }
    }
    if ((m = p.match(/^\/v2\/firewalls\/([^/]+)$/))) {
      const f = this.firewalls.get(m[1]!);
      if (!f) throw notFound();
      if (method === 'GET') return [200, { firewall: this.firewallJson(f) }];
      if (method === 'PUT') {
        // PUT replaces the whole firewall: omitted attributes reset to defaults (FACTS §2.6).
        const next = this.firewallFrom(body, f.id, this.now());
        this.firewalls.set(f.id, next);
        return [200, { firewall: this.firewallJson(next) }];
      }
      if (method === 'DELETE') {
        this.firewalls.delete(f.id);
        return [204, undefined];
      }
    }

    if (p === '/v2/load_balancers') {
      if (method === 'GET') return [200, this.page(url, 'load_balancers', [...this.loadBalancers.values()].map((l) => this.lbJson(l)))];
      if (method === 'POST') {
        const l = this.loadBalancerFrom(body, randomUUID(), this.ip('public'), this.now());
        this.loadBalancers.set(l.id, l);
        return [202, { load_balancer: this.lbJson(l) }];
      }
    }
    if ((m = p.match(/^\/v2\/load_balancers\/([^/]+)$/))) {
      const l = this.loadBalancers.get(m[1]!);
      if (!l) throw notFound();
      if (method === 'GET') return [200, { load_balancer: this.lbJson(l) }];
      if (method === 'PUT') {
        // PUT replaces the whole load balancer (FACTS §2.7); it keeps its id, address and age.
        const next = this.loadBalancerFrom(body, l.id, l.ip, l.createdAt);
        this.loadBalancers.set(l.id, next);
        return [200, { load_balancer: this.lbJson(next) }];
      }
      if (method === 'DELETE') {
        this.loadBalancers.delete(l.id);
        return [204, undefined];
      }
    }
    throw notFound();
  }

  private deleteDroplet(d: DropletRecord): void {
    d.deletedAt ??= this.now();
    this.purgeDeleted();
  }

  /** Deleted droplets vanish once deleteDelayMs has passed since their DELETE. */
  private purgeDeleted(): void {
    for (const d of [...this.droplets.values()]) if (d.deletedAt !== undefined && this.now() - d.deletedAt >= (this.o.deleteDelayMs ?? 0)) this.droplets.delete(d.id);
  }

  private tagJson(name: string): Json {
    const count = [...this.droplets.values()].filter((d) => d.tags.includes(name)).length;
    return {
      name,
      resources: {
        count,
        droplets: { count },
        images: { count: 0 },
        volumes: { count: 0 },
        volume_snapshots: { count: 0 },
        databases: { count: 0 },
      },
    };
  }

  /** Droplets that are active now, with what a node simulator needs to boot them. */
  activeDroplets(): { id: number; name: string; privateIp: string; publicIp?: string; userData?: string }[] {
    this.purgeDeleted();
    return [...this.droplets.values()].filter((d) => d.deletedAt === undefined && this.ready(d.createdAt)).map((d) => ({ id: d.id, name: d.name, privateIp: d.privateIp, publicIp: d.publicIp, userData: d.userData }));
  }

  /** The user-data a droplet was created with (tests check what nodes would receive). */
  userDataOf(name: string): string | undefined {
    return [...this.droplets.values()].find((d) => d.name === name)?.userData;
  }
}
