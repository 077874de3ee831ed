// The steps every provisioning controller takes before and around converging: finalizer, paused,
// validation, every condition written on the first visit, credentials; and what cloud failures mean for
// status (refused token, failing API, rate limit, refused machine). Shared by the three kinds.
import type { KubeClient, Resource } from '../../kube/port.ts';
import { TerminalError, type ReconcileResult } from '../../runtime/controller.ts';
import type { Metrics } from '../../runtime/metrics.ts';
import type { PkiContext } from '../../pki/certs.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import type { Logger } from '../../runtime/logger.ts';
import { PAUSED_ANNOTATION, Reason, ConditionType as T, formatProblems, type ConditionInput, type Problem } from '../../api/v1alpha1/index.ts';
import { CloudError } from '../../cloud/errors.ts';
import { MachineRefused } from './cloud.ts';
import type { CloudFactory, Clouds } from '../clouds.ts';
import { reportTerminal, type Observed } from '../status.ts';
import type { JoinFailures } from '../../api/v1alpha1/index.ts';
import type { RolloutMachine } from './rollout.ts';
import { countingFailures, trackNodeFailures, nextTry, MAX_JOIN_FAILURES, type Retry } from './join-failures.ts';
import type { PinnedDigests } from '../../bootstrap/manifest.ts';

export interface LifecycleDeps {
  kube: KubeClient;
  events: EventRecorder;
  clouds: CloudFactory;
}

/** The revisit and health timings every node-running kind has. */
export interface NodeTiming {
  /** Revisit while converging (a node booting, a removal under way). */
  waitMs: number;
  /** Revisit a Ready object to probe it. */
  steadyMs: number;
  /** A node unhealthy this long is replaced. */
  unhealthyAfterMs: number;
  /** Remote health keeps its last value this long when nothing answers. */
  graceMs: number;
  /** DNS, firewall (and addons) are re-checked at least this often even if nothing changed. */
  cloudSyncMs: number;
  /** After a node that never became healthy, the next is created this long later, doubled per failure. */
  joinBackoffMs: number;
}

export const DEFAULT_NODE_TIMING: NodeTiming = { waitMs: 5_000, steadyMs: 30_000, unhealthyAfterMs: 600_000, graceMs: 60_000, cloudSyncMs: 600_000, joinBackoffMs: 60_000 };

/** What every provisioning controller is given (the kind-specific deps extend it). */
export interface ProvisionerDeps<T extends Observed, Timing> extends LifecycleDeps {
  /** Reads the object from the informer cache. */
  get: (key: string) => T | undefined;
  metrics?: Metrics;
  fieldManager: string;
  now: () => Date;
  randomBytes: (n: number) => Uint8Array;
  pki: Omit<PkiContext, 'now'>;
  timing?: Partial<Timing>;
  /**
   * Which address probes use: `public` (the default; the management cluster is outside the VPC and the
   * firewall admits its managementCIDRs) or `private` (it runs in the same VPC).
   */
  probeNetwork?: 'public' | 'private';
  /** Digests of pinned downloads the install script checks (default: upstream's). */
  pins?: PinnedDigests;
}

/** Records a terminal error (invalid spec) on the object: Ready=False with its reason, and an event. */
export function terminalReporter<T extends Observed>(d: ProvisionerDeps<T, unknown>, resource: Resource, order: readonly string[]) {
  return async (key: string, err: TerminalError): Promise<void> => {
    const o = d.get(key);
    if (o) await reportTerminal({ ...d, resource, order }, o, err);
  };
}

export type Report = (inputs: ConditionInput[]) => Promise<unknown>;

export const NOT_PAUSED: ConditionInput = { type: T.Paused, status: 'False', reason: Reason.NotPaused };
export const NOT_DELETING: ConditionInput = { type: T.Deleting, status: 'False', reason: Reason.NotDeleting };

/**
 * Finalizer, paused, validation, first visit and credentials. Returns the clouds to converge with, or
 * the reconcile result when there is nothing more to do now.
 */
export async function prepare(
  d: LifecycleDeps,
  o: Observed,
  x: { resource: Resource; finalizer: string; problems: Problem[]; credentials: string; report: Report; retryMs: number },
): Promise<{ clouds: Clouds } | { done: ReconcileResult | void }> {
  if (!o.metadata.finalizers?.includes(x.finalizer)) {
    await d.kube.addFinalizer(x.resource, o, x.finalizer);
    return { done: undefined }; // the finalizer change wakes us again
  }
  if (o.metadata.annotations?.[PAUSED_ANNOTATION] === 'true') {
    await x.report([{ type: T.Paused, status: 'True', reason: Reason.Paused, message: `annotation ${PAUSED_ANNOTATION} is "true"` }]);
    return { done: undefined };
  }
  if (x.problems.length) throw new TerminalError(Reason.InvalidSpec, formatProblems(x.problems));
  // Every condition is written on the first visit (Unknown until known), before any cloud call.
  if (!o.status?.conditions?.length) await x.report([NOT_PAUSED, NOT_DELETING]);
  const clouds = await d.clouds.forSecret(o.metadata.namespace!, x.credentials);
  if ('reason' in clouds) {
    await x.report([NOT_PAUSED, NOT_DELETING, { type: T.Ready, status: 'False', reason: clouds.reason, message: clouds.message }]);
    await d.events.record(o, 'Warning', clouds.reason, clouds.message);
    return { done: { requeueAfterMs: x.retryMs } };
  }
  return { clouds };
}

/**
 * Runs converge and turns cloud failures into status: a refused token and a refused machine are shown
 * and retried slowly or with backoff; a rate limit requeues after retry-after; a failing API is shown and
 * retried with backoff. Anything else propagates (backoff, logged).
 */
export async function withCloudErrors(
  d: LifecycleDeps,
  o: Observed,
  x: { credentials: string; report: Report; log: Logger; retryMs: number },
  converge: () => Promise<ReconcileResult>,
): Promise<ReconcileResult> {
  const base = [NOT_PAUSED, NOT_DELETING];
  const refused = async (message: string) => {
    await x.report([...base, { type: T.MachinesProvisioned, status: 'False', reason: Reason.ProvisioningFailed, message }, { type: T.Ready, status: 'False', reason: Reason.ProvisioningFailed, message }]);
    await d.events.record(o, 'Warning', Reason.ProvisioningFailed, message);
  };
  try {
    return await converge();
  } catch (e) {
    if (e instanceof MachineRefused) {
      // Retrying cannot help until the spec changes (which wakes the object); look again slowly.
      await refused(e.message);
      return { requeueAfterMs: x.retryMs };
    }
    if (!(e instanceof CloudError)) throw e;
    if (e.unauthorized) {
      const message = `the ${e.provider} token in Secret ${x.credentials} was refused (${e.detail})`;
      await x.report([...base, { type: T.Ready, status: 'False', reason: Reason.CredentialsInvalid, message }]);
      await d.events.record(o, 'Warning', Reason.CredentialsInvalid, message);
      return { requeueAfterMs: x.retryMs };
    }
    if (e.status === 0 || e.status >= 500) {
      // Unreachable or failing cloud: say so where users look, then retry with backoff.
      const message = `${e.provider} ${e.operation}: ${e.status ? `HTTP ${e.status}` : 'no response'} (${e.detail})`;
      await x.report([...base, { type: T.Ready, status: 'False', reason: Reason.CloudAPIError, message }]);
      throw e;
    }
    if (e.rateLimited) {
      x.log.warn({ provider: e.provider, retryAfterSeconds: e.retryAfterSeconds }, 'rate limited; requeueing');
      return { requeueAfterMs: Math.max(1, e.retryAfterSeconds ?? 60) * 1000 };
    }
    if (e.provider === 'cloudflare' && e.status >= 400 && e.status < 500 && !e.notFound) {
      // A record Cloudflare will not take as asked (a foreign record on the name, a plan limit): retrying
      // alone cannot help, so it is shown where people look, not only in the log.
      const message = `${e.operation}: ${e.detail}`;
      await x.report([...base, { type: T.DNSReady, status: 'False', reason: Reason.DNSRecordRefused, message }, { type: T.Ready, status: 'False', reason: Reason.DNSRecordRefused, message }]);
      await d.events.record(o, 'Warning', Reason.DNSRecordRefused, message);
      throw e;
    }
    if (e.status === 422) {
      // DigitalOcean refused the machine (size, image or region not available, droplet limit): say so.
      await refused(`${e.operation}: ${e.detail}`);
      throw e;
    }
    throw e;
  }
}

/** Remembers, per machine, since when it is unhealthy (kept in memory: a restart starts the clock again). */
export class UnhealthyClock {
  private readonly since = new Map<string, number>();
  observe(machine: string, healthy: boolean, now: number): number | undefined {
    if (healthy) this.since.delete(machine);
    else if (!this.since.has(machine)) this.since.set(machine, now);
    return this.since.get(machine);
  }
  forget(keep: (machine: string) => boolean): void {
    for (const k of this.since.keys()) if (!keep(k)) this.since.delete(k);
  }
}

/** A Warning event once per generation of the object: a refused change is reported once, not on every visit. */
export async function warnOncePerGeneration(events: EventRecorder, m: { warnedGeneration?: number }, o: Observed, reason: string, message: string): Promise<void> {
  if (m.warnedGeneration === o.metadata.generation) return;
  m.warnedGeneration = o.metadata.generation;
  await events.record(o, 'Warning', reason, message);
}

/** What a node-running controller remembers per object between reconciles (lost on restart, by design). */
export interface NodeMemory {
  /** The generation a Warning was last recorded for (warnOncePerGeneration). */
  warnedGeneration?: number;
  unhealthy: UnhealthyClock;
  /** Fingerprint and time of the last DNS/firewall sync. */
  lastSync?: { fingerprint: string; at: number };
  /** The firewall spec this process last put in place (canonical): the same one wanted again means drift. */
  firewallSpec?: string;
  /** When a probe last got a good answer (remote health keeps its value for a grace period after). */
  lastAnswerAt?: number;
  /** When removal of a machine began. */
  removingSince: Map<string, number>;
  /** Earliest notAfter of the certificates baked into each machine, from its Secret. */
  notAfter: Map<string, Date | undefined>;
  /** Machines seen healthy at least once (one failing that never was is a failed join), and those counted. */
  everHealthy: Set<string>;
  countedFailures: Set<string>;
}

/** Per-object memory keyed by UID (plus what a kind adds); forget(uid) when the object is gone. */
export function nodeMemories<Extra extends object = object>() {
  const all = new Map<string, NodeMemory & Partial<Extra>>();
  return {
    of(uid: string): NodeMemory & Partial<Extra> {
      let m = all.get(uid);
      if (!m) all.set(uid, (m = { unhealthy: new UnhealthyClock(), removingSince: new Map(), notAfter: new Map(), everHealthy: new Set(), countedFailures: new Set() } as NodeMemory & Partial<Extra>));
      return m;
    },
    forget: (uid: string) => all.delete(uid),
  };
}

/** The address probes and workload calls use for a droplet (see ProvisionerDeps.probeNetwork). */
export const probeAddressOf = (network: 'public' | 'private' | undefined, m: { privateIPv4?: string; publicIPv4?: string }) =>
  network === 'private' ? m.privateIPv4 : (m.publicIPv4 ?? m.privateIPv4);

/**
 * Failed joins of a node-running kind for this reconcile (join-failures.ts): nodes that start failing
 * without ever having been healthy are counted (a Warning NodeJoinFailed each), and whether a new node may
 * be created now, later (backoff) or no more (RetriesExhausted, warned once per generation).
 */
export async function trackJoins(
  d: { events: EventRecorder },
  m: NodeMemory,
  o: Observed & { status?: { joinFailures?: JoinFailures } },
  p: { views: RolloutMachine[]; now: number; timing: NodeTiming; what: string; message: (machine: string) => string; log: Logger },
): Promise<{ failures?: JoinFailures; retry: Retry }> {
  for (const v of p.views) if (v.healthy) m.everHealthy.add(v.name);
  const tracked = trackNodeFailures({
    failed: countingFailures(o.status, o.metadata.generation),
    generation: o.metadata.generation!,
    now: p.now,
    machines: p.views,
    failing: p.views.filter((v) => !v.healthy && !v.removing && v.unhealthySince !== undefined && p.now - v.unhealthySince >= p.timing.unhealthyAfterMs).map((v) => v.name),
    everHealthy: m.everHealthy,
    counted: m.countedFailures,
    message: p.message,
  });
  for (const f of tracked.added) {
    m.countedFailures.add(f.machine);
    p.log.warn({ machine: f.machine, failures: tracked.failures!.count, why: f.message }, `a new ${p.what} never became healthy`);
    await d.events.record(o, 'Warning', 'NodeJoinFailed', `${f.machine} never became healthy (${tracked.failures!.count} of ${MAX_JOIN_FAILURES} tries): ${f.message}`);
  }
  const retry = nextTry(tracked.failures, p.now, p.timing.joinBackoffMs, p.what);
  if (retry.kind === 'gave-up') await warnOncePerGeneration(d.events, m, o, Reason.RetriesExhausted, retry.why);
  return { failures: tracked.failures, retry };
}
