// Leader election on a coordination.k8s.io/v1 Lease, with client-go's timing and rules: a lease is taken
// over only when its record has not changed for leaseDuration as measured on *our* clock (no trust in
// other nodes' clocks); the leader renews every retryPeriod and gives up when it could not renew within
// renewDeadline; on a clean shutdown it releases the lease so a standby takes over at once.
import type { KubeClient, KObject } from '../kube/port.ts';
import { isConflict, isNotFound } from '../kube/errors.ts';
import { Leases } from '../kube/resources.ts';
import { realClock, type Clock, type TimerHandle } from './clock.ts';
import type { Logger } from './logger.ts';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export type Lease = KObject & { spec?: LeaseSpec };

export interface LeaderElectionOptions {
  kube: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: Clock;
  log: Logger;
  onStartedLeading: () => void;
  /** Called once when leadership is lost (not after release()). The process should exit. */
  onStoppedLeading: () => void;
}

/** metav1.MicroTime: RFC 3339 with microseconds. */
const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class LeaderElector {
  private readonly clock: Clock;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private observedRecord = '';
  private observedAt = 0;
  private lastRenew = 0;
  private leading = false;
  private stopped = false;
  /** A renewal under way: release waits for it, or its write would conflict with ours. */
  private inFlight?: Promise<void>;
  private timer?: TimerHandle;
  private lease?: Lease;

  constructor(private readonly o: LeaderElectionOptions) {
    this.clock = o.clock ?? realClock;
    this.leaseDurationMs = o.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = o.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = o.retryPeriodMs ?? 2_000;
    if (!(this.leaseDurationMs > this.renewDeadlineMs && this.renewDeadlineMs > this.retryPeriodMs)) {
      throw new Error('leader election needs leaseDuration > renewDeadline > retryPeriod');
    }
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Starts trying to acquire; keeps renewing once leading. */
  start(): void {
    this.stopped = false;
    void this.tick();
  }

  private schedule(ms: number) {
    this.timer?.cancel();
    if (!this.stopped) this.timer = this.clock.setTimer(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    let ok = false;
    try {
      const attempt = this.tryAcquireOrRenew();
      this.inFlight = attempt.then(() => undefined, () => undefined);
      ok = await attempt;
    } catch (err) {
      this.o.log.warn({ err, lease: `${this.o.namespace}/${this.o.name}` }, 'leader election: could not read or write the lease');
    }
    if (this.stopped) return;
    const now = this.clock.now();
    if (ok) {
      this.lastRenew = now;
      if (!this.leading) {
        this.leading = true;
        this.o.log.info({ identity: this.o.identity, lease: `${this.o.namespace}/${this.o.name}` }, 'became leader');
        this.o.onStartedLeading();
      }
    } else if (this.leading && now - this.lastRenew >= this.renewDeadlineMs) {
      this.leading = false;
      this.stopped = true;
      this.o.log.error({ identity: this.o.identity }, 'leader election lost: lease not renewed within the renew deadline');
      this.o.onStoppedLeading();
      return;
    }
    this.schedule(this.retryPeriodMs);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { kube, namespace, name, identity } = this.o;
    const now = this.clock.now();
    const desired: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.round(this.leaseDurationMs / 1000),
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: 0,
    };
    let lease: Lease | undefined;
    try {
      lease = await kube.get<Lease>(Leases, { namespace, name });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        this.lease = await kube.create<Lease>(Leases, { metadata: { name, namespace }, spec: desired });
        this.observe(desired, now);
        return true;
      } catch (e) {
        if (isConflict(e)) return false; // another candidate created it first
        throw e;
      }
    }
    const spec = lease.spec ?? {};
    const record = JSON.stringify(spec);
    if (record !== this.observedRecord) this.observe(spec, now);
    const held = !!spec.holderIdentity && spec.holderIdentity !== identity;
    if (held && this.observedAt + this.leaseDurationMs > now) return false;

    const renewing = spec.holderIdentity === identity;
    const next: LeaseSpec = {
      ...desired,
      acquireTime: renewing ? spec.acquireTime : desired.acquireTime,
      leaseTransitions: (spec.leaseTransitions ?? 0) + (renewing ? 0 : 1),
    };
    try {
      this.lease = await kube.replace<Lease>(Leases, { ...lease, spec: next });
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
    this.observe(next, now);
    return true;
  }

  private observe(spec: LeaseSpec, now: number) {
    this.observedRecord = JSON.stringify(spec);
    this.observedAt = now;
  }

  /** Stops electing; if leading, hands the lease back so another candidate need not wait for it to expire. */
  async release(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.inFlight;
    if (!this.leading || !this.lease) return;
    this.leading = false;
    // Twice: a write that raced ours (a late renewal) makes the first attempt conflict.
    for (let attempt = 1; ; attempt++) {
      try {
        const current = await this.o.kube.get<Lease>(Leases, { namespace: this.o.namespace, name: this.o.name });
        if (current.spec?.holderIdentity !== this.o.identity) return;
        await this.o.kube.replace<Lease>(Leases, {
          ...current,
          spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(this.clock.now()) },
        });
        this.o.log.info({ identity: this.o.identity }, 'released leader lease');
        return;
      } catch (err) {
        if (attempt < 2 && isConflict(err)) continue;
        this.o.log.warn({ err }, 'could not release the leader lease; it expires by itself');
        return;
      }
    }
  }
}
