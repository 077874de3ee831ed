// The reconcile every kind starts with: stop if paused, refuse an invalid spec (terminally, recorded as a
// condition and an event), and make sure every condition exists. Provisioning phases come after this one.
import type { KubeClient } from '../kube/port.ts';
import { TerminalError, type Reconcile } from '../runtime/controller.ts';
import type { EventRecorder } from '../runtime/events.ts';
import { PAUSED_ANNOTATION, Reason, ConditionType, formatProblems, getCondition, type ConditionInput } from '../api/v1alpha1/index.ts';
import type { ManagedKind } from './kinds.ts';
import { writeStatus, nextStatus, reportTerminal, type Observed } from './status.ts';

export interface ObserveDeps {
  kube: KubeClient;
  kind: ManagedKind;
  /** Reads the object from the informer cache. */
  get: (key: string) => Observed | undefined;
  events: EventRecorder;
  fieldManager: string;
  now: () => Date;
  /** Reads the object this kind depends on (its EtcdCluster, its ControlPlane) from its informer. */
  getDependency?: (key: string) => Observed | undefined;
}

const AVAILABLE = { EtcdCluster: ConditionType.EtcdAvailable, ControlPlane: ConditionType.ControlPlaneAvailable } as const;
const WAITING = { EtcdCluster: Reason.WaitingForEtcdCluster, ControlPlane: Reason.WaitingForControlPlane } as const;

/** Whether what an object depends on is Ready, as a condition (EtcdAvailable, ControlPlaneAvailable). */
export function dependencyCondition(d: Pick<ObserveDeps, 'kind' | 'getDependency'>, obj: Observed): ConditionInput | undefined {
  const dep = d.kind.dependsOn;
  if (!dep || (dep.kind !== 'EtcdCluster' && dep.kind !== 'ControlPlane')) return undefined;
  const type = AVAILABLE[dep.kind];
  const name = dep.ref((obj.spec ?? {}) as never);
  const target = name ? d.getDependency?.(`${obj.metadata.namespace}/${name}`) : undefined;
  if (!target) return { type, status: 'False', reason: Reason.ReferenceNotFound, message: `${dep.kind} ${name} does not exist in namespace ${obj.metadata.namespace}` };
  const ready = getCondition(target.status?.conditions, ConditionType.Ready);
  if (ready?.status === 'True') return { type, status: 'True', reason: Reason.Available, message: `${dep.kind} ${name} is Ready` };
  return { type, status: 'False', reason: WAITING[dep.kind], message: `${dep.kind} ${name} is not Ready${ready?.message ? `: ${ready.message}` : ''}` };
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

    const dependency = dependencyCondition(d, obj);
    const ready: ConditionInput =
      dependency && dependency.status !== 'True'
        ? { type: ConditionType.Ready, status: 'False', reason: dependency.reason, message: dependency.message }
        : { type: ConditionType.Ready, status: 'Unknown', reason: Reason.NotYetObserved, message: `${d.kind.def.kind} provisioning is not implemented in this version of hardway` };
    const status = nextStatus(
      obj,
      [{ type: ConditionType.Paused, status: 'False', reason: Reason.NotPaused }, ...(dependency ? [dependency] : []), ready],
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
    if (obj) await reportTerminal({ ...d, resource: d.kind.resource, order: d.kind.def.conditions }, obj, err);
  };
}
