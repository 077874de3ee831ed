// Replacement that gives up: a machine that never becomes healthy (an etcd member that never joins, a node
// whose API server or kubelet never comes up) is replaced with backoff, counted in status, and after
// MAX_JOIN_FAILURES in a row nothing more is created until the spec changes: an endless create/delete
// cycle costs money and hides the cause. Pure: the status, the clock and the decision come in.
import { ConditionType as T, Reason, type ConditionInput, type JoinFailures } from '../../api/v1alpha1/index.ts';
import type { RolloutDecision } from './rollout.ts';

/** Failures in a row after which nothing more is created until the spec changes. */
export const MAX_JOIN_FAILURES = 3;

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The failures that count: those under the current generation (a spec change, the fix, starts afresh). */
export function countingFailures(status: { joinFailures?: JoinFailures } | undefined, generation: number | undefined): JoinFailures | undefined {
  const f = status?.joinFailures;
  return f && f.generation === generation ? f : undefined;
}

/** One more failure. */
export function recordFailure(prev: JoinFailures | undefined, generation: number, machine: string, message: string, nowMs: number): JoinFailures {
  return { count: (prev?.count ?? 0) + 1, generation, lastMachine: machine, lastMessage: message.slice(0, 300), lastTime: iso(nowMs) };
}

export type Retry = { kind: 'go' } | { kind: 'wait'; why: string } | { kind: 'gave-up'; why: string };

/** Whether a new machine may be created now: after a failure the next waits backoffMs, doubled per failure. */
export function nextTry(f: JoinFailures | undefined, nowMs: number, backoffMs: number, what: string): Retry {
  if (!f) return { kind: 'go' };
  if (f.count >= MAX_JOIN_FAILURES) return { kind: 'gave-up', why: gaveUpMessage(f, what) };
  const at = Date.parse(f.lastTime) + backoffMs * 2 ** (f.count - 1);
  if (nowMs < at) return { kind: 'wait', why: `${what} did not become healthy (${f.count} of ${MAX_JOIN_FAILURES} tries); the next try in ${Math.ceil((at - nowMs) / 1000)} s` };
  return { kind: 'go' };
}

export const gaveUpMessage = (f: JoinFailures, what: string): string =>
  `${f.count} new ${what}s in a row did not become healthy; the last, ${f.lastMachine}: ${f.lastMessage}. None is created until the spec changes: fix the cause (machine size or image, firewall, region), then edit the spec`;

/**
 * A rollout decision held back by failures: no creation while waiting or given up; a machine that never
 * became healthy is then kept (not deleted) once given up, so that it can be looked at.
 */
export function holdForFailures(decision: RolloutDecision, retry: Retry): RolloutDecision {
  if (retry.kind === 'go' || (!decision.create && !decision.remove.some((r) => r.why === 'unhealthy for too long'))) return decision;
  const remove = retry.kind === 'gave-up' ? decision.remove.filter((r) => r.why !== 'unhealthy for too long') : decision.remove;
  return { create: 0, remove, waiting: retry.why };
}

/** Ready shows a give-up (RetriesExhausted: Degraded in Argo CD). */
export function showGaveUp(conditions: ConditionInput[], retry: Retry): ConditionInput[] {
  if (retry.kind !== 'gave-up') return conditions;
  return conditions.map((c) => (c.type === T.Ready ? { type: T.Ready, status: 'False', reason: Reason.RetriesExhausted, message: retry.why } : c));
}

export interface NodeFailureInput {
  /** The failures that count now (countingFailures). */
  failed?: JoinFailures;
  generation: number;
  now: number;
  machines: { name: string; createdAt: string; healthy: boolean }[];
  /** Machines unhealthy long enough to be replaced, now. */
  failing: string[];
  /** Machines seen healthy at least once, and failures already counted (kept in memory: after a restart a
   *  node that dies, or one failing still, may count once more). */
  everHealthy: ReadonlySet<string>;
  counted: ReadonlySet<string>;
  /** What its last probe said, for the record. */
  message: (machine: string) => string;
}

/**
 * Failures after this reconcile: cleared once a machine made after the last failure is healthy; one more
 * for each machine that is failing now, was never healthy and was not counted yet. Counted when it starts
 * failing, before its replacement is decided: a replacement surges before the failed machine goes.
 */
export function trackNodeFailures(p: NodeFailureInput): { failures?: JoinFailures; added: { machine: string; message: string }[] } {
  let failures = p.failed;
  if (failures && p.machines.some((m) => m.healthy && Date.parse(m.createdAt) > Date.parse(failures!.lastTime))) failures = undefined;
  const added: { machine: string; message: string }[] = [];
  for (const name of p.failing) {
    if (p.everHealthy.has(name) || p.counted.has(name)) continue;
    const message = p.message(name);
    failures = recordFailure(failures, p.generation, name, message, p.now);
    added.push({ machine: name, message });
  }
  return { failures, added };
}
