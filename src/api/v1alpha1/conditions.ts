// Condition helpers (BRIEF section 3). Pure: the caller passes the clock's reading and the generation.
import type { Condition } from './shared.ts';
import { Reason } from './condition-types.ts';

export type { Condition };
export type ConditionStatus = Condition['status'];

/** What a reconciler decides; the helper adds lastTransitionTime and observedGeneration. */
export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message?: string;
}

export interface ConditionContext {
  now: Date;
  /** metadata.generation the decision was made from. */
  generation?: number;
  /** Every type the kind writes, Ready first: missing ones are added as Unknown, and this is the order. */
  order?: readonly string[];
}

/** metav1.Time has second precision; writing milliseconds would make equal times compare unequal. */
export function formatTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function getCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return getCondition(conditions, type)?.status === 'True';
}

function build(previous: Condition | undefined, input: ConditionInput, ctx: ConditionContext): Condition {
  const c: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    // Only a change of status is a transition; a new reason or message is not.
    lastTransitionTime:
      previous && previous.status === input.status ? previous.lastTransitionTime : formatTime(ctx.now),
  };
  if (input.message) c.message = input.message;
  if (ctx.generation !== undefined) c.observedGeneration = ctx.generation;
  return c;
}

function sortConditions(list: Condition[], order: readonly string[] | undefined): Condition[] {
  const rank = (t: string) => {
    if (t === 'Ready') return -1;
    const i = order?.indexOf(t) ?? -1;
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  };
  return [...list].sort((a, b) => rank(a.type) - rank(b.type) || a.type.localeCompare(b.type));
}

/** Sets one condition, returning a new list; the input is not modified. */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  input: ConditionInput,
  ctx: ConditionContext,
): Condition[] {
  return mergeConditions(conditions, [input], ctx);
}

/**
 * Applies every input over the existing list. Types in ctx.order that are neither present nor given are
 * added as Unknown/NotYetObserved, so the first visit writes every condition. Existing types not given are
 * kept as they are (their observedGeneration too: they were not re-evaluated).
 */
export function mergeConditions(
  conditions: readonly Condition[] | undefined,
  inputs: readonly ConditionInput[],
  ctx: ConditionContext,
): Condition[] {
  const byType = new Map<string, Condition>((conditions ?? []).map((c) => [c.type, c]));
  for (const input of inputs) byType.set(input.type, build(byType.get(input.type), input, ctx));
  for (const type of ctx.order ?? []) {
    if (!byType.has(type)) {
      byType.set(type, build(undefined, { type, status: 'Unknown', reason: Reason.NotYetObserved }, ctx));
    }
  }
  return sortConditions([...byType.values()], ctx.order);
}

/** Removes a condition type; returns a new list. */
export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}

/** True when two lists say the same thing, so a status write can be skipped. */
export function conditionsEqual(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return (
    x.length === y.length &&
    x.every((c, i) => {
      const d = y[i]!;
      return (
        c.type === d.type &&
        c.status === d.status &&
        c.reason === d.reason &&
        (c.message ?? '') === (d.message ?? '') &&
        c.lastTransitionTime === d.lastTransitionTime &&
        c.observedGeneration === d.observedGeneration
      );
    })
  );
}
