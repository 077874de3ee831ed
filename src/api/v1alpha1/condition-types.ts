// Condition types and reasons (BRIEF section 3), vocabulary after Cluster API's v1beta2 conditions.

export const ConditionType = {
  Ready: 'Ready',
  Paused: 'Paused',
  Deleting: 'Deleting',
  ScalingUp: 'ScalingUp',
  ScalingDown: 'ScalingDown',
  RollingOut: 'RollingOut',
  CertificatesAvailable: 'CertificatesAvailable',
  MachinesProvisioned: 'MachinesProvisioned',
  DNSReady: 'DNSReady',
  EtcdClusterHealthy: 'EtcdClusterHealthy',
  EtcdAvailable: 'EtcdAvailable',
  APIServerHealthy: 'APIServerHealthy',
  ControllerManagerHealthy: 'ControllerManagerHealthy',
  SchedulerHealthy: 'SchedulerHealthy',
  AddonsReady: 'AddonsReady',
  ControlPlaneAvailable: 'ControlPlaneAvailable',
  NodesReady: 'NodesReady',
  BackupHealthy: 'BackupHealthy',
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

const T = ConditionType;

/** Every condition each kind writes, in the order they appear in status (Ready first). */
export const ETCD_CLUSTER_CONDITIONS = [
  T.Ready,
  T.CertificatesAvailable,
  T.MachinesProvisioned,
  T.DNSReady,
  T.EtcdClusterHealthy,
  T.ScalingUp,
  T.ScalingDown,
  T.RollingOut,
  T.BackupHealthy,
  T.Deleting,
  T.Paused,
] as const;

export const CONTROL_PLANE_CONDITIONS = [
  T.Ready,
  T.EtcdAvailable,
  T.CertificatesAvailable,
  T.MachinesProvisioned,
  T.DNSReady,
  T.APIServerHealthy,
  T.ControllerManagerHealthy,
  T.SchedulerHealthy,
  T.AddonsReady,
  T.ScalingUp,
  T.ScalingDown,
  T.RollingOut,
  T.Deleting,
  T.Paused,
] as const;

export const WORKER_POOL_CONDITIONS = [
  T.Ready,
  T.ControlPlaneAvailable,
  T.MachinesProvisioned,
  T.NodesReady,
  T.ScalingUp,
  T.ScalingDown,
  T.RollingOut,
  T.Deleting,
  T.Paused,
] as const;

/** Conditions read from remote health endpoints: they keep their value through a probe grace period. */
export const REMOTE_HEALTH_CONDITIONS: readonly ConditionType[] = [
  T.EtcdClusterHealthy,
  T.EtcdAvailable,
  T.APIServerHealthy,
  T.ControllerManagerHealthy,
  T.SchedulerHealthy,
  T.NodesReady,
];

export const Reason = {
  // Generic
  Ready: 'Ready',
  NotReady: 'NotReady',
  ReadyUnknown: 'ReadyUnknown',
  NotYetObserved: 'NotYetObserved',
  InvalidSpec: 'InvalidSpec',
  InternalError: 'InternalError',
  // Remote health (Cluster API v1beta2 vocabulary)
  Healthy: 'Healthy',
  NotHealthy: 'NotHealthy',
  HealthUnknown: 'HealthUnknown',
  InspectionFailed: 'InspectionFailed',
  ConnectionDown: 'ConnectionDown',
  // Availability of what an object depends on
  Available: 'Available',
  NotAvailable: 'NotAvailable',
  WaitingForEtcdCluster: 'WaitingForEtcdCluster',
  WaitingForControlPlane: 'WaitingForControlPlane',
  ReferenceNotFound: 'ReferenceNotFound',
  // Provisioning
  Provisioned: 'Provisioned',
  Provisioning: 'Provisioning',
  ProvisioningFailed: 'ProvisioningFailed',
  /** Cloudflare refused a record for good (a name held by a record this object does not own, a plan limit). */
  DNSRecordRefused: 'DNSRecordRefused',
  /** spec.version asks for a change the version gates refuse; machines stay at the version they run. */
  VersionChangeRefused: 'VersionChangeRefused',
  /** Every member of an etcd cluster that held data is gone: nothing is seeded until a person says so. */
  ClusterLost: 'ClusterLost',
  /** New machines failed again and again (an etcd member never joined): nothing more is tried until the spec changes. */
  RetriesExhausted: 'RetriesExhausted',
  CredentialsNotFound: 'CredentialsNotFound',
  CredentialsInvalid: 'CredentialsInvalid',
  RateLimited: 'RateLimited',
  CloudAPIError: 'CloudAPIError',
  // Certificates and DNS
  CertificatesAvailable: 'CertificatesAvailable',
  CertificatesNotAvailable: 'CertificatesNotAvailable',
  CertificatesExpiringSoon: 'CertificatesExpiringSoon',
  DNSRecordsReady: 'DNSRecordsReady',
  DNSRecordsNotReady: 'DNSRecordsNotReady',
  // Scale, rollout, lifecycle
  ScalingUp: 'ScalingUp',
  NotScalingUp: 'NotScalingUp',
  ScalingDown: 'ScalingDown',
  NotScalingDown: 'NotScalingDown',
  RollingOut: 'RollingOut',
  NotRollingOut: 'NotRollingOut',
  WaitingForQuorumSafety: 'WaitingForQuorumSafety',
  Deleting: 'Deleting',
  NotDeleting: 'NotDeleting',
  WaitingForDependents: 'WaitingForDependents',
  Paused: 'Paused',
  NotPaused: 'NotPaused',
  // Addons and nodes
  AddonsApplied: 'AddonsApplied',
  AddonsNotApplied: 'AddonsNotApplied',
  NodesReady: 'NodesReady',
  NodesNotReady: 'NodesNotReady',
  // Backups and restore (EtcdCluster)
  /** The newest snapshot is recent and the last attempt succeeded. */
  SnapshotTaken: 'SnapshotTaken',
  /** The last snapshot attempt failed (etcd, the storage or its credentials). */
  SnapshotFailed: 'SnapshotFailed',
  /** The newest snapshot is older than twice the schedule's interval. */
  SnapshotOutdated: 'SnapshotOutdated',
  /** No spec.backup: no snapshots are taken. */
  BackupNotConfigured: 'BackupNotConfigured',
  /** spec.backup is set; no snapshot was taken yet. */
  NoSnapshotYet: 'NoSnapshotYet',
  /** spec.restore cannot be used: no snapshot, no manifest, a hash that does not match, storage refused. */
  RestoreFailed: 'RestoreFailed',
  /** The first member is being started from a snapshot. */
  Restoring: 'Restoring',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

/** Annotation that stops reconciling one object until removed or set to anything but "true". */
export const PAUSED_ANNOTATION = 'hardway.dev/paused';
/** Set to an EtcdCluster's status.clusterID: the person accepts that its data is gone and a new, empty cluster is seeded. */
export const ACCEPT_DATA_LOSS_ANNOTATION = 'hardway.dev/accept-data-loss';
/** On an EtcdCluster with spec.backup: any new value asks for a snapshot now (status.backup.handledRequest says when it was acted upon). */
export const SNAPSHOT_REQUEST_ANNOTATION = 'hardway.dev/snapshot-request';
