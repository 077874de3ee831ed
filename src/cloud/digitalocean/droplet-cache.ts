// All droplets carrying the operator's fleet tag, listed once and shared for a while: a resync of the
// whole fleet costs one paginated listing (⌈droplets/200⌉ calls), not one call per object. Callers that
// arrive while a listing is in flight share it. A write marks only its owner stale, and that owner's next
// lookup is one listing by its owner tag, so creating a cluster costs the same in any fleet size; so is an
// owner whose droplets are still booting (it wants to see them active soon, and pays for that alone).
// The fleet listing's period grows with its pages (msPerPage), so its cost per hour stays bounded however
// many clusters share the token: at the defaults, 1,000 calls an hour at most (a fifth of DigitalOcean's
// 5,000; FACTS §2.2), and a droplet deleted out of band is seen within max(ttlMs, pages × msPerPage):
// 30 s up to 1,600 droplets, 45 s at 2,250 (250 clusters of 3+3+3), far inside the heal timings (the
// nodes' unhealthyAfterMs is 5 and 10 minutes).
import type { Compute, Droplet } from '../ports.ts';

export interface DropletCacheOptions {
  /** The tag every droplet the operator creates carries. */
  fleetTag: string;
  /** The shortest period of the fleet listing (default 30 s). */
  ttlMs?: number;
  /** The period grows by this much per page of the last listing (default 3.6 s: 1,000 pages an hour). */
  msPerPage?: number;
  now?: () => number;
  /** How long a droplet this process created counts as existing while lists do not show it (default 5 min). */
  createdLagMs?: number;
}

export class DropletCache {
  private snapshot?: { at: number; droplets: Droplet[] };
  private inFlight?: Promise<Droplet[]>;
  /** Bumped by every invalidation; a listing that overlapped one is served but not kept. */
  private generation = 0;
  /** Owner tags written since the snapshot was taken, with the generation of their last write. */
  private readonly dirty = new Map<string, number>();
  /**
   * Droplets this process created, until a listing shows them or createdLagMs passes: DigitalOcean's
   * lists lag creates by seconds (digitalocean/api-v2#202, pydo#468), and a droplet missing from the list
   * right after its create must not be created again.
   */
  private readonly created = new Map<number, { droplet: Droplet; at: number }>();
  private readonly now: () => number;
  /** Droplets this process deleted, when (kept an hour). */
  private readonly deletions = new Map<number, number>();

  constructor(
    private readonly compute: Compute,
    private readonly o: DropletCacheOptions,
  ) {
    this.now = o.now ?? Date.now;
  }

  /** The fleet listing's period now: see the top of this file. */
  periodMs(): number {
    const pages = Math.max(1, Math.ceil((this.snapshot?.droplets.length ?? 0) / 200));
    return Math.max(this.o.ttlMs ?? 30_000, pages * (this.o.msPerPage ?? 3_600));
  }

  private fresh(): boolean {
    return !!this.snapshot && this.now() - this.snapshot.at < this.periodMs();
  }

  /** Every fleet droplet, at most ttlMs old and with no owner written since. */
  async all(): Promise<Droplet[]> {
    if (this.fresh() && this.dirty.size === 0) return this.snapshot!.droplets;
    if (!this.inFlight) {
      const started = this.generation;
      const at = this.now();
      const listing: Promise<Droplet[]> = this.compute
        .listDroplets(this.o.fleetTag)
        .then((r) => {
          if (started === this.generation) {
            this.snapshot = { at, droplets: r.data };
            this.dirty.clear();
          }
          return r.data;
        })
        .finally(() => {
          if (this.inFlight === listing) this.inFlight = undefined;
        });
      this.inFlight = listing;
    }
    return this.inFlight;
  }

  /**
   * Fleet droplets of one owner (its owner tag), optionally narrowed by more tags. An owner written
   * since the snapshot is listed on its own (one call) and merged in.
   */
  async withTags(ownerTag: string, ...more: string[]): Promise<Droplet[]> {
    const owner = ownerTag.toLowerCase();
    const has = (d: Droplet, t: string) => d.tags.some((x) => x.toLowerCase() === t);
    const pick = (list: Droplet[]) => {
      const mine = this.withCreated(list).filter((d) => has(d, owner));
      // Still booting: the owner's next lookup lists it alone (one call), not the whole fleet's age. Only
      // "new" boots; "off" and "archive" (the other non-active values: droplet.status in
      // ../shared/contracts/digitalocean/digitalocean-v2.operator.json) stay so, and are seen by the fleet listing.
      if (mine.some((d) => d.status === 'new') && !this.dirty.has(owner)) this.dirty.set(owner, this.generation);
      return mine.filter((d) => more.every((t) => has(d, t.toLowerCase())));
    };
    if (!this.fresh()) return pick(await this.all());
    const writtenAt = this.dirty.get(owner);
    if (writtenAt === undefined) return pick(this.snapshot!.droplets);
    const own = (await this.compute.listDroplets(ownerTag)).data;
    // Merge only if nothing newer was written for this owner meanwhile, and the snapshot is the same one.
    if (this.snapshot && this.dirty.get(owner) === writtenAt) {
      this.snapshot = { at: this.snapshot.at, droplets: [...this.snapshot.droplets.filter((d) => !has(d, owner)), ...own] };
      this.dirty.delete(owner);
    }
    return pick(own);
  }

  /** Remembers droplets just created (see `created`); their owner is re-read next time. */
  createdDroplets(ownerTag: string, droplets: Droplet[]): void {
    for (const d of droplets) this.created.set(d.id, { droplet: d, at: this.now() });
    this.invalidate(ownerTag);
  }

  /** Forgets a droplet deleted by this process (it may linger in lists a moment; that is DigitalOcean's to say). */
  deleted(ownerTag: string, id: number): void {
    this.created.delete(id);
    this.deletions.set(id, this.now());
    for (const [x, at] of this.deletions) if (this.now() - at > 3_600_000) this.deletions.delete(x);
    this.invalidate(ownerTag);
  }

  /** Whether this process deleted the droplet (in the last hour): its absence is then no drift. */
  deletedHere(id: number): boolean {
    return this.deletions.has(id);
  }

  /** A listing plus the droplets created here that it does not show yet; those it shows are forgotten. */
  private withCreated(list: Droplet[]): Droplet[] {
    if (this.created.size === 0) return list;
    const listed = new Set(list.map((d) => d.id));
    const extra: Droplet[] = [];
    for (const [id, c] of this.created) {
      if (listed.has(id) || this.now() - c.at > (this.o.createdLagMs ?? 300_000)) this.created.delete(id);
      else extra.push(c.droplet);
    }
    return extra.length ? [...list, ...extra] : list;
  }

  /**
   * After a create or delete. With the owner tag, only that owner is re-read next time; without, the
   * whole fleet is. Either way a listing still in flight is no longer shared: it may miss the write,
   * and an object that cannot see its new droplet would create a second one.
   */
  invalidate(ownerTag?: string): void {
    this.generation++;
    this.inFlight = undefined;
    if (ownerTag) this.dirty.set(ownerTag.toLowerCase(), this.generation);
    else this.snapshot = undefined;
  }
}
