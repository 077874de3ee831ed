// A Cloudflare API v4 (zones and DNS records) on 127.0.0.1, faithful in what the operator depends on
// (../shared/contracts/FACTS.md §3): the envelope, result_info pagination with `result: []` past the last
// page (the SDK's paginator asks one page too far), exact name/comment/tag filters in both spellings,
// per-plan zones (record tags refused on Free), conflicts 81053/81054/81057/81058, 1,200 requests per 5
// minutes per token with Ratelimit headers, and 429 code 971.
//
// Every refusal names its source beside it. Validation errors have come without the 1004 "DNS Validation
// Error" wrapper and its error_chain since 2024-10-01 (cloudflare/cloudflare-docs#15317), so the cause's
// own code and message come directly, as the 2024–2026 reports cited below show. Where a code or text is
// unknown the fake still refuses (strict) and says "unverified".
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackFake } from './loopback.ts';
import { randomBytes, randomUUID } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { ContractCheck } from './contract.ts';
import type { Json } from '../json.ts';

export type ZonePlan = 'free' | 'pro' | 'business' | 'enterprise';

export interface FakeCloudflareOptions {
  tokens: string[];
  /** Zones every token may see; a bare name is a Free zone (the strictest plan). */
  zones: (string | { name: string; plan: ZonePlan })[];
  now?: () => number;
  contract?: ContractCheck;
  limitPer5Min?: number;
}

/**
 * DNS limits per plan. Tags and comments: cloudflare-docs src/content/plans/index.json (dns.record_tags:
 * not on Free, 20 per record on paid plans; dns.record_comments.character_limit: Free 100, paid 500).
 * TTL floor: 60, 30 on Enterprise (API reference, FACTS.md §3.4).
 */
const LIMITS: Record<ZonePlan, { tags: number; comment: number; minTtl: number }> = {
  free: { tags: 0, comment: 100, minTtl: 60 },
  pro: { tags: 20, comment: 500, minTtl: 60 },
  business: { tags: 20, comment: 500, minTtl: 60 },
  enterprise: { tags: 20, comment: 500, minTtl: 30 },
};

class CfError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly chain?: { code: number; message: string }[],
  ) {
    super(message);
  }
}

const WINDOW = 300_000;
const hex32 = () => randomBytes(16).toString('hex');
const ID = /^[0-9a-f]{32}$/;

export class FakeCloudflare extends LoopbackFake {
  readonly violations: string[] = [];
  /** Every request, with its headers (which credentials arrived is part of what tests check). */
  readonly calls: { method: string; path: string; query: string; status: number; headers: IncomingHttpHeaders }[] = [];
  readonly zones = new Map<string, Json>();
  readonly records = new Map<string, Json>();
  private readonly windows = new Map<string, number[]>();
  private readonly now: () => number;
  /** While set, every request gets 429 code 971 with this retry-after. */
  throttleRetryAfterSeconds?: number;
  /**
   * retry-after as an HTTP-date instead of seconds. RFC 9110 §10.2.3 allows either; Cloudflare is seen to
   * send seconds (FACTS.md §3.2). For clients' tests.
   */
  retryAfterAsDate = false;
  private faults: { remaining: number; status: number }[] = [];

  constructor(private readonly o: FakeCloudflareOptions) {
    super('/client/v4');
    this.now = o.now ?? Date.now;
    for (const z of o.zones) {
      const id = hex32();
      const { name, plan } = typeof z === 'string' ? { name: z, plan: 'free' as const } : z;
      this.zones.set(id, this.zoneJson(id, name, plan));
    }
  }

  failNext(count: number, status = 500): void {
    this.faults.push({ remaining: count, status });
  }

  count(method?: string, pathPart?: string): number {
    return this.calls.filter((c) => (!method || c.method === method) && (!pathPart || c.path.includes(pathPart))).length;
  }

  private iso(ms = this.now()): string {
    return new Date(ms).toISOString();
  }

  private zoneJson(id: string, name: string, plan: ZonePlan): Json {
    const t = this.iso();
    return {
      id,
      name,
      status: 'active',
      paused: false,
      type: 'full',
      development_mode: 0,
      name_servers: ['ada.ns.cloudflare.com', 'bob.ns.cloudflare.com'],
      original_name_servers: null,
      original_registrar: null,
      original_dnshost: null,
      created_on: t,
      modified_on: t,
      activated_on: t,
      owner: { id: hex32(), type: 'user', email: 'fake@example.com' },
      account: { id: hex32(), name: 'fake account' },
      meta: { step: 4, custom_certificate_quota: 0, page_rule_quota: 3, phishing_detected: false, multiple_railguns_allowed: false },
      permissions: ['#dns_records:edit', '#dns_records:read', '#zone:read'],
      // Fields as the SDK's Zone.Plan type (node_modules/cloudflare/resources/zones/zones.d.ts; not in the
      // 2024 contract's zones_zone); `legacy_id` is the plan's short name, as in cloudflare-go's fixtures.
      plan: {
        id: hex32(),
        name: `${plan[0]!.toUpperCase()}${plan.slice(1)} Website`,
        price: 0,
        currency: 'USD',
        frequency: 'monthly',
        is_subscribed: true,
        can_subscribe: false,
        legacy_id: plan,
        legacy_discount: false,
        externally_managed: false,
      },
    };
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const method = req.method ?? 'GET';
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    let status = 200;
    let out: Json;
    const headers: Record<string, string> = { 'cf-ray': `${hex32().slice(0, 16)}-FRA` };
    try {
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        throw new CfError(400, 6007, 'Malformed JSON in request body'); // code and text unverified
      }
      if (this.o.contract) for (const v of this.o.contract.checkRequest(method, url.pathname, url.searchParams, body)) this.violations.push(`request ${v}`);
      // A token that is not valid: 400 6003 with the 6111 cause (jeessy2/ddns-go#240, a malformed
      // Authorization header). What a well-formed but unknown or revoked token gets is unverified.
      if (!this.o.tokens.includes(token)) {
        throw new CfError(400, 6003, 'Invalid request headers', {}, [{ code: 6111, message: 'Invalid format for Authorization header' }]);
      }
      this.rateLimit(token, headers);
      const fault = this.faults.find((f) => f.remaining > 0);
      if (fault) {
        fault.remaining--;
        throw new CfError(fault.status, 10000, 'Internal Server Error'); // an injected fault, any 5xx
      }
      [status, out] = this.route(method, url, body as Json | undefined);
    } catch (e) {
      const err = e instanceof CfError ? e : new CfError(500, 10000, 'Internal Server Error');
      status = err.status;
      Object.assign(headers, err.headers);
      const error = { code: err.code, message: err.message, ...(err.chain ? { error_chain: err.chain } : {}) };
      out = { success: false, errors: [error], messages: [], result: null };
    }
    this.calls.push({ method, path: url.pathname, query: url.search, status, headers: req.headers });
    if (this.o.contract) for (const v of this.o.contract.checkResponse(method, url.pathname, status, out)) this.violations.push(`response ${v}`);
    if (this.loseAnswer(res, status, method, url.pathname)) return;
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(out));
  }

  /** 1,200 requests per 5 minutes per token, then 429 code 971 with retry-after (FACTS.md §3.2; workers-sdk#10025). */
  private rateLimit(token: string, headers: Record<string, string>) {
    const now = this.now();
    const limit = this.o.limitPer5Min ?? 1200;
    const window = (this.windows.get(token) ?? []).filter((t) => t > now - WINDOW);
    this.windows.set(token, window);
    const reset = Math.ceil(((window[0] ?? now) + WINDOW - now) / 1000);
    headers['ratelimit-policy'] = `"burst";q=${limit};w=300`;
    if (this.throttleRetryAfterSeconds !== undefined || window.length >= limit) {
      const retry = this.throttleRetryAfterSeconds ?? reset;
      headers.ratelimit = `"default";r=0;t=${retry}`;
      const retryAfter = this.retryAfterAsDate ? new Date(now + retry * 1000).toUTCString() : String(retry);
      throw new CfError(429, 971, 'Please wait and consider throttling your request speed', { ...headers, 'retry-after': retryAfter });
    }
    window.push(now);
    headers.ratelimit = `"default";r=${limit - window.length};t=${reset}`;
  }

  private paged(url: URL, items: Json[], defaults: { perPage: number; max: number }): Json {
    const page = Number(url.searchParams.get('page') ?? 1);
    const perPage = Number(url.searchParams.get('per_page') ?? defaults.perPage);
    // Bounds from the contract (zones: per_page 5..50; records: default 100; FACTS.md §3.3). Whether the
    // API refuses or clamps out-of-range values, and with which code, is unverified: refused here.
    if (!Number.isInteger(page) || page < 1 || !Number.isInteger(perPage) || perPage < 1 || perPage > defaults.max) {
      throw new CfError(400, 1004, 'Invalid pagination parameters');
    }
    // Past the last page: an empty page, not a 404 (the SDK's paginator asks for it).
    const result = items.slice((page - 1) * perPage, page * perPage);
    return {
      success: true,
      errors: [],
      messages: [],
      result,
      result_info: { page, per_page: perPage, count: result.length, total_count: items.length, total_pages: Math.ceil(items.length / perPage) },
    };
  }

  private ok(result: Json): Json {
    return { success: true, errors: [], messages: [], result };
  }

  /**
   * Lower-case FQDN; "@" and an undotted relative name are expanded (FACTS.md §3.4; the operator always
   * sends FQDNs). The API appends the zone to a dotted name outside it too ("site2.com.site1.com",
   * michaelkourlas/node-cloudflare-dynamic-dns#7); the fake refuses that instead, so an operator bug shows.
   * Labels of 1..63 and names of at most 253 characters (FACTS.md §3.4; an empty label fails in
   * octodns/octodns-cloudflare#109). Code and text: 9000 "DNS name is invalid." is one of the API's answers
   * (cisagov/manage.get.gov#5244); that it is the one for these cases is unverified.
   */
  private fqdn(name: string, zone: string): string {
    const n = name.toLowerCase().replace(/\.$/, '');
    const full = n === '@' || n === zone ? zone : n.endsWith(`.${zone}`) ? n : n.includes('.') ? undefined : `${n}.${zone}`;
    if (!full || full.length > 253 || full.split('.').some((l) => l.length < 1 || l.length > 63)) throw new CfError(400, 9000, 'DNS name is invalid.');
    return full;
  }

  private recordFrom(body: Json | undefined, zone: Json, existing?: Json): Json {
    const merged = { ...(existing ?? {}), ...(body ?? {}) };
    const type = merged.type;
    const limits = LIMITS[zone.plan.legacy_id as ZonePlan];
    if (!['A', 'AAAA', 'CNAME', 'TXT'].includes(type)) throw new CfError(400, 9004, 'This record type is not supported by this fake'); // the fake's own limit
    if (!merged.name || !merged.content) throw new CfError(400, 9005, 'name and content are required'); // code and text unverified
    // timothymiller/cloudflare-ddns#230 (9005) and wherelse/cloudflare-ddns-script#15 (9006).
    if (type === 'A' && !isIPv4(merged.content)) throw new CfError(400, 9005, 'Content for A record must be a valid IPv4 address.');
    if (type === 'AAAA' && !isIPv6(merged.content)) throw new CfError(400, 9006, 'Content for AAAA record must be a valid IPv6 address.');
    // 9021, text as in timothymiller/cloudflare-ddns#179 (TTL 30 on a non-Enterprise zone); the
    // Enterprise text (floor 30) is inferred from it.
    const ttl = merged.ttl ?? 1;
    if (!(ttl === 1 || (ttl >= limits.minTtl && ttl <= 86400))) {
      throw new CfError(400, 9021, `TTL must be between ${limits.minTtl} and 86400 seconds, or 1 for Automatic.`);
    }
    if (typeof merged.comment === 'string') {
      if (/[\r\n]/.test(merged.comment)) throw new CfError(400, 9100, 'comment must not contain newlines'); // rule FACTS.md §3.4; code and text unverified
      // 9313, text as in STRRL/cloudflare-tunnel-ingress-controller#168 (Free, 100); the 500 text is inferred.
      if ([...merged.comment].length > limits.comment) {
        throw new CfError(400, 9313, `DNS record comment exceeds the maximum length of ${limits.comment} characters.`);
      }
    }
    // 9300, text as in cloudflare/terraform-provider-cloudflare#3217 (Free: quota 0); paid quota 20 from
    // the plans table, its text inferred. HTTP 400 as for every validation error (FACTS.md §3.1).
    const tags: string[] = merged.tags ?? [];
    if (tags.length > limits.tags) throw new CfError(400, 9300, `DNS record has ${tags.length} tags, exceeding the quota of ${limits.tags}.`);
    const proxied = !!merged.proxied;
    const now = this.iso();
    const rec: Json = {
      id: existing?.id ?? hex32(),
      zone_id: zone.id,
      zone_name: zone.name,
      name: this.fqdn(merged.name, zone.name),
      type,
      content: merged.content,
      proxiable: type !== 'TXT',
      proxied,
      // A proxied record's TTL is Auto (FACTS.md §3.4).
      ttl: proxied ? 1 : ttl,
      locked: false,
      meta: { auto_added: false, managed_by_apps: false, managed_by_argo_tunnel: false, source: 'primary' },
      tags,
      created_on: existing?.created_on ?? now,
      modified_on: now,
    };
    if (typeof merged.comment === 'string') rec.comment = merged.comment;
    return rec;
  }

  /** Same-name conflicts, all HTTP 400 (FACTS.md §3.4; jeessy2/ddns-go#1378 shows the status). */
  private conflicts(rec: Json): void {
    for (const other of this.records.values()) {
      if (other.id === rec.id || other.zone_id !== rec.zone_id || other.name !== rec.name) continue;
      // jeessy2/ddns-go#1378
      if (other.type === rec.type && other.content === rec.content) throw new CfError(400, 81058, 'An identical record already exists.');
      // Text from NewFuture/DDNS#21; that a second CNAME of a name gets it is unverified.
      if (other.type === 'CNAME' && rec.type === 'CNAME') throw new CfError(400, 81057, 'The record already exists.');
      // A CNAME onto an A/AAAA name: HermanMartinus/bearblog#105. An A/AAAA onto a CNAME name: favonia/cloudflare-ddns#990.
      if (rec.type === 'CNAME' && ['A', 'AAAA'].includes(other.type)) throw new CfError(400, 81053, 'An A, AAAA, or CNAME record with that host already exists.');
      if (['A', 'AAAA'].includes(rec.type) && other.type === 'CNAME') throw new CfError(400, 81054, 'A CNAME record with that host already exists.');
    }
  }

  /**
   * The string filters of GET dns_records: `f` (alias of `f.exact`) and `f.{exact,contains,startswith,
   * endswith}`, case-insensitive, plus `f.present`/`f.absent` (contract; the SDK's RecordListParams docs).
   */
  private matches(q: URLSearchParams, field: string, value: string | undefined): boolean {
    const v = value?.toLowerCase();
    const get = (op: string) => q.get(`${field}.${op}`)?.toLowerCase();
    const exact = get('exact') ?? q.get(field)?.toLowerCase();
    if (exact !== undefined && v !== exact) return false;
    for (const [op, test] of [
      ['contains', (x: string, p: string) => x.includes(p)],
      ['startswith', (x: string, p: string) => x.startsWith(p)],
      ['endswith', (x: string, p: string) => x.endsWith(p)],
    ] as const) {
      const p = get(op);
      if (p !== undefined && !(v !== undefined && test(v, p))) return false;
    }
    if (q.has(`${field}.present`) && !v) return false;
    if (q.has(`${field}.absent`) && v) return false;
    return true;
  }

  private route(method: string, url: URL, body: Json | undefined): [number, Json] {
    const p = url.pathname.replace(/^\/client\/v4/, '');
    const q = url.searchParams;
    let m: RegExpMatchArray | null;
    // An unknown route or an id that is not one: 400 7003 (cloudflare/cloudflare-go#118 for the status,
    // timothymiller/cloudflare-ddns#152 for today's text). A well-formed unknown zone id gets the same
    // here; its real answer is unverified.
    const noRoute = () => new CfError(400, 7003, `Could not route to ${url.pathname}, perhaps your object identifier is invalid?`);

    if (method === 'GET' && p === '/user/tokens/verify') return [200, this.ok({ id: randomUUID().replace(/-/g, ''), status: 'active' })];
    if (method === 'GET' && p === '/zones') {
      const name = q.get('name') ?? q.get('name.exact');
      const list = [...this.zones.values()].filter((z) => !name || z.name === name.toLowerCase());
      return [200, this.paged(url, list, { perPage: 20, max: 50 })];
    }
    if ((m = p.match(/^\/zones\/([^/]+)(\/dns_records(?:\/([^/]+))?)?$/))) {
      const zone = ID.test(m[1]!) ? this.zones.get(m[1]!) : undefined;
      if (!zone) throw noRoute();
      if (!m[2]) {
        if (method === 'GET') return [200, this.ok(zone)];
        throw new CfError(405, 10405, 'Method not allowed'); // code and text unverified
      }
      const recordId = m[3];
      if (!recordId) {
        if (method === 'GET') {
          const tag = q.get('tag.exact') ?? q.get('tag');
          const type = q.get('type');
          const name = q.get('name.exact') ?? q.get('name');
          const list = [...this.records.values()]
            .filter((r) => r.zone_id === zone.id)
            .filter((r) => !name || r.name === name.toLowerCase().replace(/\.$/, ''))
            .filter((r) => !type || r.type === type)
            .filter((r) => this.matches(q, 'content', r.content) && this.matches(q, 'comment', r.comment))
            .filter((r) => !tag || (r.tags as string[]).includes(tag))
            .sort((a, b) => a.name.localeCompare(b.name) || a.content.localeCompare(b.content));
          return [200, this.paged(url, list, { perPage: 100, max: 5_000_000 })];
        }
        if (method === 'POST') {
          const rec = this.recordFrom(body, zone);
          this.conflicts(rec);
          this.records.set(rec.id, rec);
          return [200, this.ok(rec)];
        }
      } else {
        if (!ID.test(recordId)) throw noRoute();
        const existing = this.records.get(recordId);
        // 404 for an unknown id (FACTS.md §3.1); text from zanjie1999/cloudflare-api-v4-ddns#5.
        if (!existing || existing.zone_id !== zone.id) throw new CfError(404, 81044, 'Record does not exist.');
        if (method === 'GET') return [200, this.ok(existing)];
        if (method === 'PUT' || method === 'PATCH') {
          // PUT replaces: fields not sent return to their defaults.
          const base = method === 'PUT' ? { id: existing.id, created_on: existing.created_on } : existing;
          const rec = this.recordFrom(body, zone, base);
          this.conflicts(rec);
          this.records.set(rec.id, rec);
          return [200, this.ok(rec)];
        }
        if (method === 'DELETE') {
          this.records.delete(existing.id);
          return [200, this.ok({ id: existing.id })];
        }
      }
    }
    throw noRoute();
  }
}
