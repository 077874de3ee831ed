import { str, int, obj, arr, opt, strEnum, stringMap, type Static } from './schema.ts';
import { Machine, CredentialsRef, Rollout, Conditions, replicaStatus, MachineStatus, LocalObjectReference, JoinFailures } from './shared.ts';
import * as P from './patterns.ts';
import type { KindDefinition, KubeObject } from './kind.ts';
import { WORKER_POOL_CONDITIONS } from './condition-types.ts';
import { maxObjectNameLength } from './names.ts';

export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;

export const Taint = obj('A taint the kubelet registers its node with.', {
  key: str('Taint key, for example "dedicated" or "example.com/gpu".', {
    pattern: P.QUALIFIED_NAME,
    hint: 'a qualified name such as dedicated or example.com/gpu',
    maxLength: 316,
  }),
  value: opt(str('Taint value; may be empty.', { pattern: P.LABEL_VALUE, hint: 'at most 63 letters, digits, "-", "_" or "."', maxLength: 63 })),
  effect: strEnum('What happens to pods that do not tolerate the taint.', TAINT_EFFECTS),
});
export type Taint = Static<typeof Taint>;

export const WorkerPoolSpec = obj('Desired state of a pool of identical worker nodes for a ControlPlane.', {
  replicas: int('Number of worker nodes. 0 keeps the pool but deletes its droplets.', { minimum: 0, maximum: 200, default: 1 }),
  controlPlaneRef: LocalObjectReference('the ControlPlane whose cluster the nodes join'),
  version: opt(
    str("Kubernetes version of kubelet and kube-proxy, for example \"v1.34.2\". Defaults to the ControlPlane's version; may not be newer than it.", {
      pattern: P.KUBE_VERSION,
      hint: 'a Kubernetes version such as v1.34.2 (with a leading "v")',
    }),
  ),
  machine: Machine,
  credentialsRef: opt(CredentialsRef),
  nodeLabels: opt(
    stringMap(
      'Labels the kubelet registers its node with. Keys in the kubernetes.io/ and k8s.io/ namespaces are refused (NodeRestriction forbids kubelets to set them), except under node.kubernetes.io/ and kubelet.kubernetes.io/.',
      'Label value: at most 63 letters, digits, "-", "_" or ".".',
    ),
  ),
  nodeTaints: opt(arr('Taints the kubelet registers its node with.', Taint, { listType: 'atomic', maxItems: 32 })),
  rollout: Rollout,
});
export type WorkerPoolSpec = Static<typeof WorkerPoolSpec>;

export const WorkerPoolStatus = obj('Observed state of the worker pool.', {
  ...replicaStatus(),
  version: opt(str('Lowest Kubernetes version running on any node of the pool.')),
  endpoint: opt(str("URL of the Kubernetes API the nodes joined (the ControlPlane's endpoint).")),
  machines: opt(arr('Worker droplets, as last observed.', MachineStatus, { listType: 'map', mapKeys: ['name'] })),
  joinFailures: opt(JoinFailures('workers')),
  readyNodes: opt(int('Nodes of this pool whose Node object is Ready in the workload cluster.', { minimum: 0 })),
  conditions: Conditions(),
});
export type WorkerPoolStatus = Static<typeof WorkerPoolStatus>;

export type WorkerPool = KubeObject<'WorkerPool', WorkerPoolSpec, WorkerPoolStatus>;

export const workerPoolKind: KindDefinition = {
  kind: 'WorkerPool',
  plural: 'workerpools',
  singular: 'workerpool',
  shortNames: ['wp', 'hwwp'],
  description:
    'WorkerPool is a group of identical worker nodes (kubelet, kube-proxy, containerd, flannel) that join the cluster of a ControlPlane.',
  spec: WorkerPoolSpec,
  status: WorkerPoolStatus,
  conditions: WORKER_POOL_CONDITIONS,
  scale: true,
  maxNameLength: maxObjectNameLength('WorkerPool'),
  printerColumns: [
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Whether the pool is Ready.' },
    { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas', description: 'Desired nodes.' },
    { name: 'Ready-Nodes', type: 'integer', jsonPath: '.status.readyNodes', description: 'Ready nodes.' },
    { name: 'Version', type: 'string', jsonPath: '.status.version', description: 'Kubernetes version the nodes run.' },
    { name: 'Endpoint', type: 'string', jsonPath: '.status.endpoint', description: 'Kubernetes API the nodes joined.' },
    { name: 'ControlPlane', type: 'string', jsonPath: '.spec.controlPlaneRef.name', description: 'ControlPlane the nodes join.', priority: 1 },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};
