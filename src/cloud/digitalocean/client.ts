// A thin DigitalOcean API client on Node's fetch. Per instance: base URL, token, timeout — no global
// state, so two clients never share credentials. Reads and deletes are retried on 5xx and network errors;
// POSTs never are (a retried droplet create can make a second droplet). A 429 is not retried here: the
// caller requeues after `retryAfterSeconds` instead of sleeping.
import { CloudError } from '../errors.ts';
import type { RateLimitState } from '../ports.ts';
import type { Json } from '../json.ts';
import { parseRetryAfter } from '../retry-after.ts';
import { BudgetExceeded, type Priority, type TokenBudget } from '../token-budget.ts';

export interface DigitalOceanClientOptions {
  token: string;
  baseUrl?: string;
  timeoutMs?: number;
  /** Waits between attempts of a retried read or delete. */
  retryDelaysMs?: number[];
  /** Called after every response (metrics). */
  observe?: (operation: string, status: number, rateLimit: RateLimitState) => void;
  now?: () => number;
  /** Shared by every client of this token: its requests are paced, and a rate limit seen by one holds all back (token-budget.ts). */
  budget?: TokenBudget;
}

export interface Response<T> {
  status: number;
  body: T;
  rateLimit: RateLimitState;
}


export const PER_PAGE = 200;

export class DigitalOceanClient {
  private readonly base: string;
  private lastRateLimit: RateLimitState = { provider: 'digitalocean' };

  constructor(private readonly o: DigitalOceanClientOptions) {
    this.base = (o.baseUrl ?? 'https://api.digitalocean.com').replace(/\/$/, '');
  }

  get rateLimit(): RateLimitState {
    return this.lastRateLimit;
  }

  private parseRateLimit(h: Headers): RateLimitState {
    const num = (k: string) => (h.has(k) ? Number(h.get(k)) : undefined);
    const reset = num('ratelimit-reset');
    const state: RateLimitState = {
      provider: 'digitalocean',
      limit: num('ratelimit-limit'),
      remaining: num('ratelimit-remaining'),
      resetAt: reset !== undefined ? new Date(reset * 1000) : undefined,
    };
    if (state.remaining !== undefined) this.lastRateLimit = state;
    return state;
  }

  private async once<T>(operation: string, method: string, path: string, body?: unknown, priority: Priority = 'urgent'): Promise<Response<T>> {
    const held = this.o.budget?.waitSeconds() ?? 0;
    if (held > 0) {
      // Not sent: DigitalOcean would answer 429 until then (FACTS §2.2).
      throw new CloudError('digitalocean', operation, 429, 'too_many_requests', `not sent: this token is rate limited for ${held}s more`, undefined, held);
    }
    try {
      await this.o.budget?.acquire(priority);
    } catch (e) {
      if (e instanceof BudgetExceeded) throw new CloudError('digitalocean', operation, 429, 'too_many_requests', e.message, undefined, e.waitSeconds);
      throw e;
    }
    let res: globalThis.Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.o.token}`,
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 30_000),
        redirect: 'error',
      });
    } catch (e) {
      this.o.observe?.(operation, 0, this.lastRateLimit);
      throw new CloudError('digitalocean', operation, 0, undefined, e instanceof Error ? e.message : String(e));
    }
    const rateLimit = this.parseRateLimit(res.headers);
    // A 429's own figures are left to its retry-after: on a burst refusal ratelimit-remaining can read 0
    // though the hour is not used up (FACTS §2.2).
    if (res.status !== 429) this.o.budget?.observe(rateLimit.remaining, rateLimit.limit, rateLimit.resetAt);
    this.o.observe?.(operation, res.status, rateLimit);
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    if (!res.ok) {
      const err = (typeof parsed === 'object' && parsed ? parsed : {}) as Json;
      const now = this.o.now?.() ?? Date.now();
      // retry-after is documented in seconds (FACTS §2.2) but HTTP also allows a date (RFC 9110 §10.2.3).
      const retryAfter = parseRetryAfter(res.headers.get('retry-after'), now);
      const untilReset = rateLimit.remaining === 0 && rateLimit.resetAt ? Math.max(1, Math.ceil((rateLimit.resetAt.getTime() - now) / 1000)) : undefined;
      const wait = retryAfter ?? (res.status === 429 ? untilReset : undefined);
      if (res.status === 429) this.o.budget?.hold(wait ?? 60);
      throw new CloudError(
        'digitalocean',
        operation,
        res.status,
        err.id,
        // {id, message} on most endpoints; {error, root_causes} on POST /v2/tags (FACTS §2.1).
        String(err.message ?? err.error ?? (typeof parsed === 'string' && parsed ? parsed.slice(0, 200) : res.statusText)),
        err.request_id ?? res.headers.get('x-request-id') ?? undefined,
        wait,
      );
    }
    return { status: res.status, body: parsed as T, rateLimit };
  }

  /** A request that is safe to repeat (GET, DELETE): retried on no response and 5xx. */
  async idempotent<T>(operation: string, method: 'GET' | 'DELETE', path: string, body?: unknown, priority: Priority = 'urgent'): Promise<Response<T>> {
    const delays = this.o.retryDelaysMs ?? [500, 2000];
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once<T>(operation, method, path, body, priority);
      } catch (e) {
        const retryable = e instanceof CloudError && (e.status === 0 || e.status >= 500);
        if (!retryable || attempt >= delays.length) throw e;
        await new Promise((r) => setTimeout(r, delays[attempt]));
      }
    }
  }

  /** A request that must not be repeated blindly (POST, PUT): exactly one attempt. */
  async write<T>(operation: string, method: 'POST' | 'PUT', path: string, body: unknown): Promise<Response<T>> {
    return this.once<T>(operation, method, path, body);
  }

  /**
   * Every item of a collection: page = 1, 2, … with per_page=200 until there is no `next`, with the
   * item count and meta.total as backstops. The absolute `next` URL is never followed: it names a host,
   * and this client would send its token there.
   */
  async listAll<T>(operation: string, path: string, key: string, query: Record<string, string> = {}, priority: Priority = 'routine'): Promise<Response<T[]>> {
    const items: T[] = [];
    let last: Response<Json> | undefined;
    for (let page = 1; ; page++) {
      const qs = new URLSearchParams({ ...query, page: String(page), per_page: String(PER_PAGE) });
      // Listings are mostly the routine checks: they yield to creates, deletes and reads by id (token-budget.ts).
      last = await this.idempotent<Json>(operation, 'GET', `${path}?${qs}`, undefined, priority);
      const batch = (last.body[key] ?? []) as T[];
      items.push(...batch);
      const hasNext = !!last.body.links?.pages?.next;
      const total = last.body.meta?.total;
      if (!hasNext || batch.length < PER_PAGE || (typeof total === 'number' && items.length >= total)) break;
    }
    return { status: last.status, body: items, rateLimit: last.rateLimit };
  }
}
