// The three kinds as the runtime sees them: API resource, definition and validator.
import { EtcdClusters, ControlPlanes, WorkerPools } from '../kube/resources.ts';
import type { Resource } from '../kube/port.ts';
import {
  etcdClusterKind,
  controlPlaneKind,
  workerPoolKind,
  validateEtcdCluster,
  validateControlPlane,
  validateWorkerPool,
  type KindDefinition,
  type Problem,
} from '../api/v1alpha1/index.ts';

export interface ManagedKind {
  resource: Resource;
  def: KindDefinition;
  validate: (raw: unknown) => { problems: Problem[] };
  /** Name of the field in spec that refers to the object this kind depends on, and that object's kind. */
  dependsOn?: { kind: ManagedKind['def']['kind']; ref: (spec: { etcdClusterRef?: { name?: string }; controlPlaneRef?: { name?: string } }) => string | undefined };
}

export const MANAGED_KINDS: ManagedKind[] = [
  { resource: EtcdClusters, def: etcdClusterKind, validate: validateEtcdCluster },
  { resource: ControlPlanes, def: controlPlaneKind, validate: validateControlPlane, dependsOn: { kind: 'EtcdCluster', ref: (s) => s.etcdClusterRef?.name } },
  { resource: WorkerPools, def: workerPoolKind, validate: validateWorkerPool, dependsOn: { kind: 'ControlPlane', ref: (s) => s.controlPlaneRef?.name } },
];
