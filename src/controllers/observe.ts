// The reconcile every kind starts with: stop if paused, refuse an invalid spec (terminally, recorded as a
// condition and an event), and make sure every condition exists. Provisioning phases come after this one.
import type { KubeClient } from '../kube/port.ts';
import { TerminalError, type Reconcile } from '../runtime/controller.ts';
import type { EventRecorder } from '../runtime/events.ts';
import { PAUSED_ANNOTATION, Reason, ConditionType, formatProblems } from '../api/v1alpha1/index.ts';
import type { ManagedKind } from './kinds.ts';
import { writeStatus, nextStatus, type Observed } from './status.ts';

export interface ObserveDeps {
  kube: KubeClient;
  kind: ManagedKind;
  /** Reads the object from the informer cache. */
  get: (key: string) => Observed | undefined;
  events: EventRecorder;
  fieldManager: string;
  now: () => Date;
}

export function observeReconciler(d: ObserveDeps): Reconcile {
  const order = d.kind.def.conditions;
  return async (key, { log }) => {
    const obj = d.get(key);
    if (!obj) return; // deleted: nothing left to do
    if (obj.metadata.deletionTimestamp) return;

    if (obj.metadata.annotations?.[PAUSED_ANNOTATION] === 'true') {
      const status = nextStatus(obj, [{ type: ConditionType.Paused, status: 'True', reason: Reason.Paused, message: `annotation ${PAUSED_ANNOTATION} is "true"` }], order, d.now());
      if (await writeStatus(d.kube, d.kind.resource, obj, status, d.fieldManager)) log.info('paused');
      return;
    }

    const { problems } = d.kind.validate(obj);
    if (problems.length) throw new TerminalError(Reason.InvalidSpec, formatProblems(problems));

    const status = nextStatus(
      obj,
      [
        { type: ConditionType.Paused, status: 'False', reason: Reason.NotPaused },
        { type: ConditionType.Ready, status: 'Unknown', reason: Reason.NotYetObserved, message: `${d.kind.def.kind} provisioning is not implemented in this version of hardway` },
      ],
      order,
      d.now(),
    );
    if (await writeStatus(d.kube, d.kind.resource, obj, status, d.fieldManager)) log.debug('status written');
  };
}

/** Records a terminal error as Ready=False with the error's reason, and a Warning event. */
export function terminalRecorder(d: ObserveDeps) {
  return async (key: string, err: TerminalError): Promise<void> => {
    const obj = d.get(key);
    if (!obj) return;
    const status = nextStatus(
      obj,
      [
        { type: ConditionType.Ready, status: 'False', reason: err.reason, message: err.message },
        { type: ConditionType.Paused, status: 'False', reason: Reason.NotPaused },
      ],
      d.kind.def.conditions,
      d.now(),
    );
    await writeStatus(d.kube, d.kind.resource, obj, status, d.fieldManager);
    await d.events.record(obj, 'Warning', err.reason, err.message);
  };
}
