// The Dns port over the official `cloudflare` SDK: no SDK retries (maxRetries 0: the controller requeues),
// explicit base URL and timeout, nothing taken from the environment, zone ids cached, records never
// proxied (proxying breaks mTLS), ownership marked in the comment, and "already exists" (81057/81058)
// answered by adopting the existing record only if it carries our owner mark.
import Cloudflare from 'cloudflare';
import { CloudError } from '../errors.ts';
import { RECORD_NOT_OWNED } from '../ports.ts';
import type { Dns, DnsRecord, DnsRecordSpec, RateLimitState, RecordFilter, Result, Zone } from '../ports.ts';
import type { Json } from '../json.ts';
import { parseRetryAfter } from '../retry-after.ts';
import { BudgetExceeded, type TokenBudget } from '../token-budget.ts';

export interface CloudflareDnsOptions {
  token: string;
  baseUrl?: string;
  timeoutMs?: number;
  observe?: (operation: string, status: number, rateLimit: RateLimitState) => void;
  now?: () => number;
  /** Records per list request (default 500). */
  perPage?: number;
  /** Shared by every client of this token (token-budget.ts). */
  budget?: TokenBudget;
}


/** Codes meaning "this record is there already": adopt it if it is ours. */
export const EXISTS_CODES = [81057, 81058];

/**
 * Ownership lives in the comment: record tags are not offered on Free zones (HTTP 400, 9300 "DNS record
 * has 1 tags, exceeding the quota of 0."; cloudflare/terraform-provider-cloudflare#3217), comments are on
 * every plan. The mark leads the comment so that `comment.startswith` finds an owner's records in one
 * listing (filter in FACTS.md §3.3 and contracts/cloudflare/cloudflare-v4.operator.json).
 */
export const OWNER_MARK = 'hardway owner=';
/**
 * Longest comment every plan accepts: 100 characters on Free, 500 on paid plans (cloudflare-docs
 * src/content/plans/index.json, dns.record_comments.character_limit); longer is refused with 9313
 * (STRRL/cloudflare-tunnel-ingress-controller#168). A UID is 36, the mark 50: the note gets the rest.
 */
export const COMMENT_MAX = 100;

/** `hardway owner=<uid> <note>`, the note cut to fit; comments may not hold \r or \n (FACTS.md §3.4). */
export function ownerComment(owner: string | undefined, note: string | undefined): string | undefined {
  const text = [owner && `${OWNER_MARK}${owner}`, note?.replace(/[\r\n]+/g, ' ')].filter(Boolean).join(' ');
  const chars = [...text]; // the limit counts characters, not UTF-16 units
  return chars.length <= COMMENT_MAX ? text || undefined : `${chars.slice(0, COMMENT_MAX - 1).join('')}…`;
}

/** The owner and note back out of a record; a record tagged `owner:<uid>` by earlier versions is its owner's too. */
function ownership(r: Json): { owner?: string; comment?: string } {
  if (typeof r.comment === 'string' && r.comment.startsWith(OWNER_MARK)) {
    const [owner, ...note] = r.comment.slice(OWNER_MARK.length).split(' ');
    return { owner, ...(note.length ? { comment: note.join(' ') } : {}) };
  }
  const legacy = (r.tags as string[] | undefined)?.find((t) => t.startsWith('owner:'))?.slice('owner:'.length);
  return { ...(legacy ? { owner: legacy } : {}), ...(r.comment ? { comment: r.comment } : {}) };
}

function toRecord(r: Json): DnsRecord {
  return { id: r.id, name: r.name, type: r.type, content: r.content, ttl: r.ttl, proxied: !!r.proxied, ...ownership(r) };
}

/** A create met a record of that name and type that this owner did not make: it is left alone. */
export class RecordNotOwnedError extends CloudError {
  constructor(
    cause: CloudError,
    readonly record: { name: string; type: string },
    readonly owners: (string | undefined)[],
  ) {
    const whose = owners.some(Boolean) ? `marked for ${owners.filter(Boolean).join(', ')}` : 'not marked by hardway';
    super(
      'cloudflare',
      cause.operation,
      cause.status,
      RECORD_NOT_OWNED,
      `${record.name} ${record.type} already exists and is not owned by this object (${whose}); it is left unchanged: delete or rename it`,
      cause.requestId,
    );
    this.name = 'RecordNotOwnedError';
  }
}

/**
 * The `cloudflare` SDK fills every option left undefined from the environment, and CLOUDFLARE_CUSTOM_HEADERS
 * always (node_modules/cloudflare/client.js, BaseCloudflare constructor and buildHeaders): a global key in
 * the operator's environment would ride along with every object's own token. Options are all given
 * (null = none); the headers, which no option can stop, are filtered here: only the SDK's own and our token.
 */
const OWN_HEADERS = /^(?:accept|content-type|user-agent|api-version|x-stainless-[a-z-]+)$/;
function ownHeadersOnly(token: string): typeof fetch {
  return (input, init) => {
    const headers = new Headers();
    for (const [k, v] of new Headers(init?.headers)) if (OWN_HEADERS.test(k)) headers.set(k, v);
    headers.set('authorization', `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
}

export class CloudflareDns implements Dns {
  private readonly cf: Cloudflare;
  private readonly zoneIds = new Map<string, Zone>();
  private lastRateLimit: RateLimitState = { provider: 'cloudflare' };
  private readonly now: () => number;

  constructor(private readonly o: CloudflareDnsOptions) {
    this.now = o.now ?? Date.now;
    this.cf = new Cloudflare({
      apiToken: o.token,
      apiKey: null,
      apiEmail: null,
      userServiceKey: null,
      baseURL: o.baseUrl ?? 'https://api.cloudflare.com/client/v4',
      logLevel: 'warn', // not CLOUDFLARE_LOG: debug logging would print requests
      fetch: ownHeadersOnly(o.token),
      maxRetries: 0,
      timeout: o.timeoutMs ?? 30_000,
    });
  }

  /** `Ratelimit: "default";r=<remaining>;t=<seconds to reset>` */
  private parseRateLimit(h: Headers | undefined): RateLimitState {
    const m = h?.get('ratelimit')?.match(/r=(\d+);\s*t=(\d+)/);
    const q = h?.get('ratelimit-policy')?.match(/q=(\d+)/);
    if (!m) return this.lastRateLimit;
    this.lastRateLimit = { provider: 'cloudflare', remaining: Number(m[1]), resetAt: new Date(this.now() + Number(m[2]) * 1000), limit: q ? Number(q[1]) : undefined };
    return this.lastRateLimit;
  }

  /** Runs one SDK call, mapping its response and errors to ours. */
  private async call<T>(operation: string, run: () => { withResponse(): Promise<{ data: T; response: globalThis.Response }> }): Promise<{ data: T; rateLimit: RateLimitState }> {
    const held = this.o.budget?.waitSeconds() ?? 0;
    // Not sent: Cloudflare would refuse every call until then, and a call made while blocked may extend it (FACTS §3.2).
    if (held > 0) throw new CloudError('cloudflare', operation, 429, 971, `not sent: this token is rate limited for ${held}s more`, undefined, held);
    try {
      // Listings are the routine checks; writes go first (token-budget.ts).
      await this.o.budget?.acquire(operation.endsWith('.list') || operation === 'tokens.verify' ? 'routine' : 'urgent');
    } catch (e) {
      if (e instanceof BudgetExceeded) throw new CloudError('cloudflare', operation, 429, 971, e.message, undefined, e.waitSeconds);
      throw e;
    }
    try {
      const { data, response } = await run().withResponse();
      const rateLimit = this.parseRateLimit(response.headers);
      this.o.budget?.observe(rateLimit.remaining, rateLimit.limit, rateLimit.resetAt);
      this.o.observe?.(operation, response.status, rateLimit);
      return { data, rateLimit };
    } catch (e) {
      const err = this.mapError(operation, e);
      // Crossing the limit blocks the token for five minutes when Cloudflare names no wait (FACTS §3.2).
      if (err.status === 429) this.o.budget?.hold(err.retryAfterSeconds ?? 300);
      throw err;
    }
  }

  private mapError(operation: string, e: unknown): CloudError {
    if (e instanceof Cloudflare.APIError) {
      const rateLimit = this.parseRateLimit(e.headers);
      this.o.observe?.(operation, e.status ?? 0, rateLimit);
      // Before 2024-10-01 validation errors came as 1004 "DNS Validation Error" with the cause in error_chain
      // (cloudflare/terraform-provider-cloudflare#3217); since then the cause comes directly
      // (cloudflare/cloudflare-docs#15317). Other errors may still carry a chain (6003 → 6111).
      const first = e.errors?.[0] as { code?: number; message?: string; error_chain?: { message?: string }[] } | undefined;
      const cause = first?.error_chain?.[0]?.message;
      return new CloudError(
        'cloudflare',
        operation,
        e.status ?? 0,
        first?.code,
        (first?.message && cause ? `${first.message}: ${cause}` : first?.message) ?? e.message,
        e.headers?.get('cf-ray') ?? undefined,
        parseRetryAfter(e.headers?.get('retry-after'), this.now()),
      );
    }
    return new CloudError('cloudflare', operation, 0, undefined, e instanceof Error ? e.message : String(e));
  }

  async verifyToken(): Promise<Result<boolean>> {
    const r = await this.call('tokens.verify', () => this.cf.user.tokens.verify());
    return { data: r.data.status === 'active', rateLimit: r.rateLimit };
  }

  async findZone(name: string): Promise<Result<Zone | undefined>> {
    const cached = this.zoneIds.get(name);
    if (cached) return { data: cached, rateLimit: this.lastRateLimit };
    const r = await this.call('zones.list', () => this.cf.zones.list({ name, per_page: 5 }));
    const z = r.data.result.find((x) => x.name === name);
    if (!z) return { data: undefined, rateLimit: r.rateLimit };
    const zone = { id: z.id, name: z.name };
    this.zoneIds.set(name, zone);
    return { data: zone, rateLimit: r.rateLimit };
  }

  async listRecords(zoneId: string, filter: RecordFilter): Promise<Result<DnsRecord[]>> {
    const out: DnsRecord[] = [];
    let rateLimit = this.lastRateLimit;
    const perPage = this.o.perPage ?? 500;
    // Page by page, stopping at a short page: the SDK's auto-paginator always asks one page too far.
    for (let page = 1; ; page++) {
      const params: Json = { zone_id: zoneId, page, per_page: perPage };
      if (filter.name) params.name = { exact: filter.name };
      if (filter.type) params.type = filter.type;
      if (filter.owner || filter.anyOwner) params.comment = { startswith: `${OWNER_MARK}${filter.owner ?? ''}` };
      const r = await this.call('records.list', () => this.cf.dns.records.list(params as never));
      rateLimit = r.rateLimit;
      const batch = r.data.result as unknown as Json[];
      out.push(...batch.map(toRecord));
      if (batch.length < perPage) break;
    }
    // Comment filters are case-insensitive (the SDK's RecordListParams.Comment docs): check exactly.
    return { data: filter.owner ? out.filter((r) => r.owner === filter.owner) : filter.anyOwner ? out.filter((r) => r.owner) : out, rateLimit };
  }

  /** Never `tags` (refused on Free zones, see OWNER_MARK); `comment` omitted when empty (not nullable). */
  private body(spec: DnsRecordSpec): Json {
    const comment = ownerComment(spec.owner, spec.comment);
    return { type: spec.type, name: spec.name, content: spec.content, ttl: spec.ttl, proxied: false, ...(comment ? { comment } : {}) };
  }

  async createRecord(zoneId: string, spec: DnsRecordSpec): Promise<Result<DnsRecord>> {
    try {
      const r = await this.call('records.create', () => this.cf.dns.records.create({ zone_id: zoneId, ...this.body(spec) } as never));
      return { data: toRecord(r.data as unknown as Json), rateLimit: r.rateLimit };
    } catch (e) {
      if (!(e instanceof CloudError && EXISTS_CODES.includes(Number(e.code)))) throw e;
      // Ours from an earlier attempt whose answer was lost: adopt it and bring it to the wanted state.
      // Anyone else's (or nobody's) is never modified.
      const existing = (await this.listRecords(zoneId, { name: spec.name, type: spec.type })).data;
      const mine = existing.filter((x) => spec.owner && x.owner === spec.owner);
      const match = mine.find((x) => x.content === spec.content);
      if (match) return this.updateRecord(zoneId, match.id, spec);
      if (mine.length) throw e; // a clash with another record of ours: the caller's to sort out
      throw new RecordNotOwnedError(e, { name: spec.name, type: spec.type }, existing.map((x) => x.owner));
    }
  }

  async updateRecord(zoneId: string, id: string, spec: DnsRecordSpec): Promise<Result<DnsRecord>> {
    const r = await this.call('records.update', () => this.cf.dns.records.edit(id, { zone_id: zoneId, ...this.body(spec) } as never));
    return { data: toRecord(r.data as unknown as Json), rateLimit: r.rateLimit };
  }

  async deleteRecord(zoneId: string, id: string): Promise<Result<void>> {
    try {
      const r = await this.call('records.delete', () => this.cf.dns.records.delete(id, { zone_id: zoneId }));
      return { data: undefined, rateLimit: r.rateLimit };
    } catch (e) {
      if (e instanceof CloudError && e.notFound) return { data: undefined, rateLimit: this.lastRateLimit };
      throw e;
    }
  }
}
