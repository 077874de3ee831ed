// One per API token, shared by every client and object using that token (controllers/clouds.ts): the
// token's requests are counted in the provider's own windows and kept under a share of its published
// limits, so that a fleet on one token slows itself down instead of being refused.
// - Headroom: at most `headroom` (80 %) of each published limit is used by this process; the rest is left
//   for people and other tools sharing the token.
// - Priority: routine work (listings, the periodic checks) may use only `routineShare` of that; creating,
//   healing and deleting (writes, and reads of one resource by id) may use all of it, so a full budget
//   delays checks first and repairs last.
// - The provider's word wins: a 429 (retry-after) holds every user of the token; the remaining quota the
//   provider reports (DigitalOcean's ratelimit-remaining, Cloudflare's Ratelimit r=) counts too, so other
//   users of the token, or another replica, are taken into account.
// A request that would wait longer than maxWaitMs is not sent: the caller gets a 429-like CloudError with
// the wait, and the controller requeues after it instead of holding a worker.

export type Priority = 'urgent' | 'routine';

export interface BudgetWindow {
  /** The provider's published limit: `limit` requests per `ms`. */
  ms: number;
  limit: number;
}

export interface TokenBudgetOptions {
  windows: BudgetWindow[];
  /** Share of each published limit this process uses (default 0.8). */
  headroom?: number;
  /** Share of that which routine work may use (default 0.75). */
  routineShare?: number;
  /** The longest a request waits for room before it is refused (default 10 s). */
  maxWaitMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** DigitalOcean: 5,000 requests per hour and 250 per minute per token (../shared/contracts/FACTS.md §2.2). */
export const DIGITALOCEAN_LIMITS: BudgetWindow[] = [
  { ms: 3_600_000, limit: 5_000 },
  { ms: 60_000, limit: 250 },
];
/** Cloudflare: 1,200 requests per five minutes per user (FACTS.md §3.2); crossing it blocks every call for five minutes. */
export const CLOUDFLARE_LIMITS: BudgetWindow[] = [{ ms: 300_000, limit: 1_200 }];

export class BudgetExceeded extends Error {
  override name = 'BudgetExceeded';
  constructor(readonly waitSeconds: number) {
    super(`not sent: this token's budget is spent for ${waitSeconds}s more`);
  }
}

export class TokenBudget {
  private until = 0;
  /** When each request of the longest window was sent, oldest first. */
  private readonly sent: number[] = [];
  /** The provider's last word on its main window, and how many were sent since. */
  private server?: { remaining: number; limit: number; resetAt: number; sentSince: number };
  private readonly now: () => number;
  private readonly longest: number;

  constructor(private readonly o: TokenBudgetOptions) {
    this.now = o.now ?? Date.now;
    this.longest = Math.max(...o.windows.map((w) => w.ms));
  }

  /** Nobody uses the token for this many seconds from now (a later hold only extends it). */
  hold(seconds: number): void {
    this.until = Math.max(this.until, this.now() + seconds * 1000);
  }

  /** Whole seconds the provider asked every user to wait; 0 when it did not. */
  waitSeconds(): number {
    const ms = this.until - this.now();
    return ms > 0 ? Math.ceil(ms / 1000) : 0;
  }

  /** What the provider said is left of its main window (a response's rate-limit headers). */
  observe(remaining: number | undefined, limit: number | undefined, resetAt: Date | undefined): void {
    if (remaining === undefined || !Number.isFinite(remaining)) return;
    // Both providers send the reset with the count (DigitalOcean ratelimit-reset, Cloudflare's t=; FACTS §2.2,
    // §3.2); without one the figure is trusted for a minute only, not assumed to last a window.
    this.server = { remaining, limit: limit ?? remaining, resetAt: resetAt?.getTime() ?? this.now() + 60_000, sentSince: 0 };
  }

  /** The quota left as best known: the provider's last figure less what was sent since (the metric). */
  remaining(): number | undefined {
    if (!this.server) return undefined;
    return Math.max(0, this.server.remaining - this.server.sentSince);
  }

  /** Milliseconds until a request of this priority may be sent (0: now). */
  delayMs(priority: Priority): number {
    const now = this.now();
    while (this.sent.length && this.sent[0]! <= now - this.longest) this.sent.shift();
    const share = (this.o.headroom ?? 0.8) * (priority === 'routine' ? (this.o.routineShare ?? 0.75) : 1);
    let wait = Math.max(0, this.until - now);
    for (const w of this.o.windows) {
      const allowed = Math.max(1, Math.floor(w.limit * share));
      const inWindow = this.countSince(now - w.ms);
      if (inWindow >= allowed) {
        // Room comes when the allowed-th newest request leaves the window.
        wait = Math.max(wait, this.sent[this.sent.length - allowed]! + w.ms - now);
      }
    }
    if (this.server && this.server.resetAt > now) {
      const allowed = Math.floor(this.server.limit * share);
      if (this.server.limit - this.server.remaining + this.server.sentSince >= allowed) wait = Math.max(wait, this.server.resetAt - now);
    }
    return wait;
  }

  /** Waits for room (at most maxWaitMs), then counts the request as sent. */
  async acquire(priority: Priority): Promise<void> {
    for (;;) {
      const wait = this.delayMs(priority);
      if (wait <= 0) break;
      if (wait > (this.o.maxWaitMs ?? 10_000)) throw new BudgetExceeded(Math.ceil(wait / 1000));
      await (this.o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))))(wait);
    }
    this.sent.push(this.now());
    if (this.server) this.server.sentSince++;
  }

  private countSince(t: number): number {
    // sent is sorted: binary search for the first entry after t.
    let lo = 0;
    let hi = this.sent.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sent[mid]! > t) hi = mid;
      else lo = mid + 1;
    }
    return this.sent.length - lo;
  }
}
