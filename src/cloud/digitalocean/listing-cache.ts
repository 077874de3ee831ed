// One account-wide listing (firewalls, load balancers) shared by every object using the token, kept for
// ttlMs: with N clusters on one token a routine check costs ⌈items/200⌉ calls per ttlMs, not one listing
// per object. This process's own writes are applied to the kept copy (put/remove), so an object never
// misses what it just made and never makes it twice; anything else (drift, deletion out of band) shows
// within ttlMs. Callers arriving while a listing is in flight share it.
import type { Result } from '../ports.ts';

export interface ListingCacheOptions {
  ttlMs: number;
  now?: () => number;
}

export class ListingCache<T extends { id: string }> {
  private snapshot?: { at: number; items: T[] };
  private inFlight?: Promise<T[]>;
  /** Bumped by every write seen here; a listing that overlapped one is served but not kept. */
  private generation = 0;
  private readonly now: () => number;

  constructor(
    private readonly list: () => Promise<Result<T[]>>,
    private readonly o: ListingCacheOptions,
  ) {
    this.now = o.now ?? Date.now;
  }

  /** Every item, at most ttlMs old (maxAgeMs, when given, may ask for younger). */
  async all(maxAgeMs = this.o.ttlMs): Promise<T[]> {
    if (this.snapshot && this.now() - this.snapshot.at < Math.min(maxAgeMs, this.o.ttlMs)) return this.snapshot.items;
    if (!this.inFlight) {
      const started = this.generation;
      const at = this.now();
      const listing: Promise<T[]> = this.list()
        .then((r) => {
          if (started === this.generation) this.snapshot = { at, items: r.data };
          return r.data;
        })
        .finally(() => {
          if (this.inFlight === listing) this.inFlight = undefined;
        });
      this.inFlight = listing;
    }
    return this.inFlight;
  }

  /** An item this process created or replaced (the answer to its POST or PUT). */
  put(item: T): void {
    this.write();
    if (this.snapshot) this.snapshot = { at: this.snapshot.at, items: [...this.snapshot.items.filter((x) => x.id !== item.id), item] };
  }

  /** An item this process deleted. */
  remove(id: string): void {
    this.write();
    if (this.snapshot) this.snapshot = { at: this.snapshot.at, items: this.snapshot.items.filter((x) => x.id !== id) };
  }

  /** A write whose outcome is unknown (no answer): the next caller lists again. */
  invalidate(): void {
    this.write();
    this.snapshot = undefined;
  }

  private write(): void {
    this.generation++;
    this.inFlight = undefined;
  }
}
