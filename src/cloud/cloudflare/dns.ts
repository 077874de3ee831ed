// The Dns port over the official `cloudflare` SDK: no SDK retries (maxRetries 0: the controller requeues),
// explicit base URL and timeout, zone ids cached, records never proxied (proxying breaks mTLS), and
// "already exists" (81057/81058) answered by adopting the existing record.
import Cloudflare from 'cloudflare';
import { CloudError } from '../errors.ts';
import type { Dns, DnsRecord, DnsRecordSpec, RateLimitState, RecordFilter, Result, Zone } from '../ports.ts';
import type { Json } from '../json.ts';

export interface CloudflareDnsOptions {
  token: string;
  baseUrl?: string;
  timeoutMs?: number;
  observe?: (operation: string, status: number, rateLimit: RateLimitState) => void;
  now?: () => number;
  /** Records per list request (default 500). */
  perPage?: number;
}


/** Codes meaning "this record is there already": adopt it. */
export const EXISTS_CODES = [81057, 81058];

function toRecord(r: Json): DnsRecord {
  return {
    id: r.id,
    name: r.name,
    type: r.type,
    content: r.content,
    ttl: r.ttl,
    proxied: !!r.proxied,
    tags: r.tags ?? [],
    ...(r.comment ? { comment: r.comment } : {}),
  };
}

export class CloudflareDns implements Dns {
  private readonly cf: Cloudflare;
  private readonly zoneIds = new Map<string, Zone>();
  private lastRateLimit: RateLimitState = { provider: 'cloudflare' };
  private readonly now: () => number;

  constructor(private readonly o: CloudflareDnsOptions) {
    this.now = o.now ?? Date.now;
    this.cf = new Cloudflare({ apiToken: o.token, baseURL: o.baseUrl ?? 'https://api.cloudflare.com/client/v4', maxRetries: 0, timeout: o.timeoutMs ?? 30_000 });
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
    try {
      const { data, response } = await run().withResponse();
      const rateLimit = this.parseRateLimit(response.headers);
      this.o.observe?.(operation, response.status, rateLimit);
      return { data, rateLimit };
    } catch (e) {
      throw this.mapError(operation, e);
    }
  }

  private mapError(operation: string, e: unknown): CloudError {
    if (e instanceof Cloudflare.APIError) {
      const rateLimit = this.parseRateLimit(e.headers);
      this.o.observe?.(operation, e.status ?? 0, rateLimit);
      const first = e.errors?.[0] as { code?: number; message?: string } | undefined;
      const retryAfter = e.headers?.get('retry-after');
      return new CloudError(
        'cloudflare',
        operation,
        e.status ?? 0,
        first?.code,
        first?.message ?? e.message,
        e.headers?.get('cf-ray') ?? undefined,
        retryAfter ? Number(retryAfter) : undefined,
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
      if (filter.tag) params.tag = { exact: filter.tag };
      const r = await this.call('records.list', () => this.cf.dns.records.list(params as never));
      rateLimit = r.rateLimit;
      const batch = r.data.result as unknown as Json[];
      out.push(...batch.map(toRecord));
      if (batch.length < perPage) break;
    }
    return { data: out, rateLimit };
  }

  private body(spec: DnsRecordSpec): Json {
    return {
      type: spec.type,
      name: spec.name,
      content: spec.content,
      ttl: spec.ttl,
      proxied: false,
      ...(spec.comment ? { comment: spec.comment } : {}),
      ...(spec.tags?.length ? { tags: spec.tags } : {}),
    };
  }

  async createRecord(zoneId: string, spec: DnsRecordSpec): Promise<Result<DnsRecord>> {
    try {
      const r = await this.call('records.create', () => this.cf.dns.records.create({ zone_id: zoneId, ...this.body(spec) } as never));
      return { data: toRecord(r.data as unknown as Json), rateLimit: r.rateLimit };
    } catch (e) {
      if (!(e instanceof CloudError && EXISTS_CODES.includes(Number(e.code)))) throw e;
      // Someone (our own earlier attempt, most likely) created it: adopt, then bring it to the wanted state.
      const existing = (await this.listRecords(zoneId, { name: spec.name, type: spec.type })).data;
      const match = existing.find((x) => x.content === spec.content) ?? existing[0];
      if (!match) throw e;
      return this.updateRecord(zoneId, match.id, spec);
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
