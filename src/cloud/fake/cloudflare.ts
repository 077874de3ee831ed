// A Cloudflare API v4 (zones and DNS records) on 127.0.0.1, faithful in what the operator depends on
// (../shared/contracts/FACTS.md §3): the envelope, result_info pagination with `result: []` past the last
// page (the SDK's paginator asks one page too far), exact name/tag filters in both spellings, conflicts
// 81053/81057/81058, 1,200 requests per 5 minutes per token with Ratelimit headers, and 429 code 971.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackFake } from './loopback.ts';
import { randomBytes, randomUUID } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { ContractCheck } from './contract.ts';
import type { Json } from '../json.ts';


export interface FakeCloudflareOptions {
  tokens: string[];
  /** Zones every token may see. */
  zones: string[];
  now?: () => number;
  contract?: ContractCheck;
  limitPer5Min?: number;
}

class CfError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const WINDOW = 300_000;
const hex32 = () => randomBytes(16).toString('hex');

export class FakeCloudflare extends LoopbackFake {
  readonly violations: string[] = [];
  readonly calls: { method: string; path: string; query: string; status: number }[] = [];
  readonly zones = new Map<string, Json>();
  readonly records = new Map<string, Json>();
  private readonly windows = new Map<string, number[]>();
  private readonly now: () => number;
  /** While set, every request gets 429 code 971 with this retry-after. */
  throttleRetryAfterSeconds?: number;
  private faults: { remaining: number; status: number }[] = [];

  constructor(private readonly o: FakeCloudflareOptions) {
    super('/client/v4');
    this.now = o.now ?? Date.now;
    for (const name of o.zones) {
      const id = hex32();
      this.zones.set(id, this.zoneJson(id, name));
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

  private zoneJson(id: string, name: string): Json {
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
        throw new CfError(400, 6007, 'Malformed JSON in request body');
      }
      if (this.o.contract) for (const v of this.o.contract.checkRequest(method, url.pathname, url.searchParams, body)) this.violations.push(`request ${v}`);
      if (!this.o.tokens.includes(token)) throw new CfError(400, 6003, 'Invalid request headers');
      this.rateLimit(token, headers);
      const fault = this.faults.find((f) => f.remaining > 0);
      if (fault) {
        fault.remaining--;
        throw new CfError(fault.status, 10000, 'Internal Server Error');
      }
      [status, out] = this.route(method, url, body as Json | undefined);
    } catch (e) {
      const err = e instanceof CfError ? e : new CfError(500, 10000, 'Internal Server Error');
      status = err.status;
      Object.assign(headers, err.headers);
      out = { success: false, errors: [{ code: err.code, message: err.message }], messages: [], result: null };
    }
    this.calls.push({ method, path: url.pathname, query: url.search, status });
    if (this.o.contract) for (const v of this.o.contract.checkResponse(method, url.pathname, status, out)) this.violations.push(`response ${v}`);
    if (this.loseAnswer(res, status, method, url.pathname)) return;
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(out));
  }

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
      throw new CfError(429, 971, 'Please wait and consider throttling your request speed', { ...headers, 'retry-after': String(retry) });
    }
    window.push(now);
    headers.ratelimit = `"default";r=${limit - window.length};t=${reset}`;
  }

  private paged(url: URL, items: Json[], defaults: { perPage: number; max: number }): Json {
    const page = Number(url.searchParams.get('page') ?? 1);
    const perPage = Number(url.searchParams.get('per_page') ?? defaults.perPage);
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

  /** Lower-case FQDN; "@" and relative names are expanded (the operator always sends FQDNs). */
  private fqdn(name: string, zone: string): string {
    const n = name.toLowerCase().replace(/\.$/, '');
    if (n === '@' || n === zone) return zone;
    return n.endsWith(`.${zone}`) ? n : `${n}.${zone}`;
  }

  private recordFrom(body: Json | undefined, zone: Json, existing?: Json): Json {
    const merged = { ...(existing ?? {}), ...(body ?? {}) };
    const type = merged.type;
    if (!['A', 'AAAA', 'CNAME', 'TXT'].includes(type)) throw new CfError(400, 9004, 'This record type is not supported by this fake');
    if (!merged.name || !merged.content) throw new CfError(400, 9005, 'name and content are required');
    if (type === 'A' && !isIPv4(merged.content)) throw new CfError(400, 9005, 'Content for A record must be a valid IPv4 address.');
    if (type === 'AAAA' && !isIPv6(merged.content)) throw new CfError(400, 9005, 'Content for AAAA record must be a valid IPv6 address.');
    const ttl = merged.ttl ?? 1;
    if (!(ttl === 1 || (ttl >= 30 && ttl <= 86400))) throw new CfError(400, 9021, 'Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.');
    if (typeof merged.comment === 'string' && /[\r\n]/.test(merged.comment)) throw new CfError(400, 9100, 'comment must not contain newlines');
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
      // A proxied record's TTL is Auto (FACTS §3.4).
      ttl: proxied ? 1 : ttl,
      locked: false,
      meta: { auto_added: false, managed_by_apps: false, managed_by_argo_tunnel: false, source: 'primary' },
      tags: merged.tags ?? [],
      created_on: existing?.created_on ?? now,
      modified_on: now,
    };
    if (typeof merged.comment === 'string') rec.comment = merged.comment;
    return rec;
  }

  private conflicts(rec: Json): void {
    for (const other of this.records.values()) {
      if (other.id === rec.id || other.zone_id !== rec.zone_id || other.name !== rec.name) continue;
      if (other.type === rec.type && other.content === rec.content) throw new CfError(400, 81058, 'An identical record already exists.');
      if (other.type === 'CNAME' && rec.type === 'CNAME') throw new CfError(400, 81057, 'The record already exists.');
      if ((other.type === 'CNAME') !== (rec.type === 'CNAME') && [other.type, rec.type].every((t) => ['A', 'AAAA', 'CNAME'].includes(t))) {
        throw new CfError(400, 81053, 'An A, AAAA, or CNAME record with that host already exists.');
      }
    }
  }

  private route(method: string, url: URL, body: Json | undefined): [number, Json] {
    const p = url.pathname.replace(/^\/client\/v4/, '');
    const q = url.searchParams;
    let m: RegExpMatchArray | null;
    const notFound = (what: string, code: number) => new CfError(404, code, `${what} not found`);

    if (method === 'GET' && p === '/user/tokens/verify') return [200, this.ok({ id: randomUUID().replace(/-/g, ''), status: 'active' })];
    if (method === 'GET' && p === '/zones') {
      const name = q.get('name') ?? q.get('name.exact');
      const list = [...this.zones.values()].filter((z) => !name || z.name === name.toLowerCase());
      return [200, this.paged(url, list, { perPage: 20, max: 50 })];
    }
    if ((m = p.match(/^\/zones\/([^/]+)(\/dns_records(?:\/([^/]+))?)?$/))) {
      const zone = this.zones.get(m[1]!);
      if (!zone) throw notFound('Zone', 7003);
      if (!m[2]) {
        if (method === 'GET') return [200, this.ok(zone)];
        throw new CfError(405, 10405, 'Method not allowed');
      }
      const recordId = m[3];
      if (!recordId) {
        if (method === 'GET') {
          const name = q.get('name.exact') ?? q.get('name');
          const tag = q.get('tag.exact') ?? q.get('tag');
          const type = q.get('type');
          const content = q.get('content.exact') ?? q.get('content');
          const list = [...this.records.values()]
            .filter((r) => r.zone_id === zone.id)
            .filter((r) => !name || r.name === this.fqdn(name, zone.name))
            .filter((r) => !type || r.type === type)
            .filter((r) => !content || r.content === content)
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
        const existing = this.records.get(recordId);
        if (!existing || existing.zone_id !== zone.id) throw notFound('Record', 81044);
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
    throw new CfError(404, 7003, 'No route for the URI');
  }
}
