// Writing status: server-side apply of the whole status this operator owns, skipped when nothing changed.
import type { KubeClient, KObject, Resource } from '../kube/port.ts';
import { mergeConditions, conditionsEqual, ConditionType, Reason, type ConditionInput, type Condition } from '../api/v1alpha1/index.ts';
import type { EventRecorder } from '../runtime/events.ts';
import { canonical } from '../api/canonical.ts';

export interface StatusWithConditions {
  observedGeneration?: number;
  conditions?: Condition[];
  [field: string]: unknown;
}

export type Observed = KObject & { status?: StatusWithConditions };

/** Applies status unless it equals what the object already has. Returns whether it wrote. */
export async function writeStatus(kube: KubeClient, r: Resource, obj: Observed, status: StatusWithConditions, fieldManager: string): Promise<boolean> {
  const current = obj.status ?? {};
  const { conditions: a, ...restA } = current;
  const { conditions: b, ...restB } = status;
  if (conditionsEqual(a, b) && canonical(restA) === canonical(restB)) return false;
  await kube.applyStatus(r, { namespace: obj.metadata.namespace, name: obj.metadata.name }, status, { fieldManager, force: true });
  return true;
}

/** The object's status with conditions merged and observedGeneration stamped. */
export function nextStatus(obj: Observed, inputs: ConditionInput[], order: readonly string[], now: Date, extra: Record<string, unknown> = {}): StatusWithConditions {
  const generation = obj.metadata.generation;
  return {
    ...(obj.status ?? {}),
    ...extra,
    observedGeneration: generation,
    conditions: mergeConditions(obj.status?.conditions, inputs, { now, generation, order }),
  };
}

export interface TerminalReport {
  kube: KubeClient;
  resource: Resource;
  events: EventRecorder;
  fieldManager: string;
  order: readonly string[];
  now: () => Date;
}

/** A failure retrying cannot fix: `Ready=False` with its reason and message, and a Warning event. */
export async function reportTerminal(r: TerminalReport, obj: Observed, err: { reason: string; message: string }): Promise<void> {
  const inputs: ConditionInput[] = [
    { type: ConditionType.Ready, status: 'False', reason: err.reason, message: err.message },
    // Terminal errors come from validation, which runs only when the object is not paused.
    { type: ConditionType.Paused, status: 'False', reason: Reason.NotPaused },
  ];
  await writeStatus(r.kube, r.resource, obj, nextStatus(obj, inputs, r.order, r.now()), r.fieldManager);
  await r.events.record(obj, 'Warning', err.reason, err.message);
}
