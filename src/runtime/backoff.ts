import type { Clock } from './clock.ts';

/** Per-key exponential backoff: base·2^failures, capped. Forget a key after it succeeds. */
export class KeyedBackoff<K = string> {
  private readonly failures = new Map<K, number>();

  constructor(
    readonly baseMs = 1000,
    readonly maxMs = 5 * 60_000,
  ) {}

  /** Records a failure and returns how long to wait before the next try. */
  next(key: K): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return Math.min(this.maxMs, this.baseMs * 2 ** Math.min(n, 30));
  }

  retries(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: K): void {
    this.failures.delete(key);
  }
}

/**
 * Global token bucket (rate per second, burst). reserve() takes a token now or in the future and returns
 * the wait; a storm of retries is spread out instead of hammering the API servers and cloud APIs.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly clock: Clock,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  reserve(): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.ratePerSecond) * 1000);
  }
}
