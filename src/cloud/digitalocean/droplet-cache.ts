// All droplets carrying the operator's fleet tag, listed once and shared for a short while: a resync of
// the whole fleet costs one paginated listing (⌈droplets/200⌉ calls), not one call per object. Callers
// that arrive while a listing is in flight share it. Writes invalidate the cache.
import type { Compute, Droplet, RateLimitState } from '../ports.ts';

export interface DropletCacheOptions {
  /** The tag every droplet the operator creates carries. */
  fleetTag: string;
  ttlMs?: number;
  now?: () => number;
}

export class DropletCache {
  private snapshot?: { at: number; droplets: Droplet[]; rateLimit: RateLimitState };
  private inFlight?: Promise<{ droplets: Droplet[]; rateLimit: RateLimitState }>;
  private generation = 0;
  private readonly now: () => number;

  constructor(
    private readonly compute: Compute,
    private readonly o: DropletCacheOptions,
  ) {
    this.now = o.now ?? Date.now;
  }

  /** Every fleet droplet, at most ttlMs old. */
  async all(): Promise<Droplet[]> {
    const ttl = this.o.ttlMs ?? 10_000;
    if (this.snapshot && this.now() - this.snapshot.at < ttl) return this.snapshot.droplets;
    if (!this.inFlight) {
      const started = this.generation;
      const at = this.now();
      const listing: Promise<{ droplets: Droplet[]; rateLimit: RateLimitState }> = this.compute
        .listDroplets(this.o.fleetTag)
        .then((r) => {
          // A write during the listing makes it stale: serve it to its waiters, do not keep it.
          if (started === this.generation) this.snapshot = { at, droplets: r.data, rateLimit: r.rateLimit };
          return { droplets: r.data, rateLimit: r.rateLimit };
        })
        .finally(() => {
          if (this.inFlight === listing) this.inFlight = undefined;
        });
      this.inFlight = listing;
    }
    return (await this.inFlight).droplets;
  }

  /** Fleet droplets that carry every one of these tags (an owner tag, a role tag). */
  async withTags(...tags: string[]): Promise<Droplet[]> {
    const want = tags.map((t) => t.toLowerCase());
    return (await this.all()).filter((d) => want.every((t) => d.tags.some((x) => x.toLowerCase() === t)));
  }

  /** After a create or delete: the next read lists again. */
  invalidate(): void {
    this.generation++;
    this.snapshot = undefined;
    // A listing that started before the write may miss what was written: later callers must not share it,
    // or an object could look for its new droplet, not find it, and create a second one.
    this.inFlight = undefined;
  }
}
