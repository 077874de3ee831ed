// A keyed work queue with client-go's guarantees: a key waiting in the queue is there once however often
// it is added; a key being processed is never handed to a second worker, and if it is added meanwhile it
// is processed again afterwards; delayed and rate-limited adds.
import { realClock, type Clock, type TimerHandle } from './clock.ts';
import { KeyedBackoff, TokenBucket } from './backoff.ts';

export interface QueueObserver {
  depth(n: number): void;
  /** Seconds a key waited between being added and being handed to a worker. */
  latency(seconds: number): void;
  retry(): void;
}

export interface QueueOptions {
  clock?: Clock;
  backoff?: KeyedBackoff<string>;
  /** Global limit on rate-limited (retry) adds. */
  bucket?: { ratePerSecond: number; burst: number };
  observer?: QueueObserver;
}

/** FIFO with O(1) take: Array.shift() copies the whole array once it is large (100k keys on a resync). */
class Fifo {
  private items: (string | undefined)[] = [];
  private head = 0;

  push(v: string) {
    this.items.push(v);
  }

  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const v = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return v;
  }

  get length() {
    return this.items.length - this.head;
  }
}

export class WorkQueue {
  private readonly queue = new Fifo();
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly addedAt = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; timer: TimerHandle }>();
  private waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;
  private readonly clock: Clock;
  readonly backoff: KeyedBackoff<string>;
  private readonly bucket: TokenBucket;

  constructor(private readonly opts: QueueOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.backoff = opts.backoff ?? new KeyedBackoff(1000, 5 * 60_000);
    this.bucket = new TokenBucket(opts.bucket?.ratePerSecond ?? 10, opts.bucket?.burst ?? 100, this.clock);
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.addedAt.set(key, this.clock.now());
    if (this.processing.has(key)) return; // done() puts it back
    this.push(key);
  }

  private push(key: string) {
    const waiter = this.waiters.shift();
    if (waiter) {
      this.take(key);
      waiter(key);
    } else {
      this.queue.push(key);
      this.opts.observer?.depth(this.queue.length);
    }
  }

  private take(key: string) {
    this.dirty.delete(key);
    this.processing.add(key);
    const at = this.addedAt.get(key);
    this.addedAt.delete(key);
    if (at !== undefined) this.opts.observer?.latency((this.clock.now() - at) / 1000);
  }

  /** Adds the key after ms; an earlier pending delay for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = this.clock.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    existing?.timer.cancel();
    const timer = this.clock.setTimer(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, timer });
  }

  /** Adds the key after its own backoff or the global bucket's wait, whichever is longer. */
  addRateLimited(key: string): number {
    const wait = Math.max(this.backoff.next(key), this.bucket.reserve());
    this.opts.observer?.retry();
    this.addAfter(key, wait);
    return wait;
  }

  /** The key succeeded: its next failure starts from the base delay again. */
  forget(key: string): void {
    this.backoff.forget(key);
  }

  /** Waits for the next key; undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    // After shutdown nothing more is handed out: reconcile is level-based, the next start (or the next
    // leader) sees the same world and redoes whatever was still queued.
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.opts.observer?.depth(this.queue.length);
      this.take(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The worker finished the key. If it was added meanwhile, it goes back in the queue. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) this.push(key);
  }

  get length(): number {
    return this.queue.length;
  }

  isProcessing(key: string): boolean {
    return this.processing.has(key);
  }

  shutdown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) timer.cancel();
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}
