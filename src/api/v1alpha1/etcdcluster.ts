import { str, int, bool, obj, arr, opt, type Static } from './schema.ts';
import { Machine, DNS, CredentialsRef, EtcdFirewall, Conditions, replicaStatus, LocalObjectReference, JoinFailures } from './shared.ts';
import * as P from './patterns.ts';
import type { KindDefinition, KubeObject } from './kind.ts';
import { ETCD_CLUSTER_CONDITIONS } from './condition-types.ts';
import { maxObjectNameLength } from './names.ts';

export const ETCD_REPLICAS = [1, 3, 5, 7] as const;
export const SUPPORTED_ETCD_MINORS = ['3.5', '3.6'] as const;

export const SnapshotStorage = obj(
  'S3-compatible object storage for etcd snapshots: DigitalOcean Spaces (endpoint https://<region>.digitaloceanspaces.com) or any S3 endpoint.',
  {
    endpoint: str('Endpoint URL, for example "https://nyc3.digitaloceanspaces.com".', { pattern: '^https?://[^\\s/]+(/.*)?$', hint: 'an http(s) URL such as https://nyc3.digitaloceanspaces.com', maxLength: 2048 }),
    region: str('Region the requests are signed for. Default "us-east-1", which S3-compatible services commonly accept (for Spaces this is common practice; DigitalOcean\'s docs do not say): set the one your provider documents.', { default: 'us-east-1', minLength: 1, maxLength: 64 }),
    bucket: str('Bucket (Space) name.', { pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$', hint: 'a bucket name: 3-63 lowercase letters, digits, dots and dashes' }),
    prefix: opt(
      str('Folder inside the bucket, ending in "/". Default: "hardway/<namespace>/<name>/". Snapshots are etcd-<time>.db, each with <key>.manifest.json beside it.', {
        pattern: '^([^/\\s][^\\s]*/)?$',
        hint: 'a folder such as backups/demo/ (no leading "/", a trailing "/")',
        maxLength: 512,
      }),
    ),
    forcePathStyle: bool('Address the bucket in the path (https://endpoint/bucket/key) instead of the host name; needed by S3 servers without per-bucket host names.', false),
    credentialsSecretRef: LocalObjectReference('a Secret with the keys "access-key-id" and "secret-access-key" (a Spaces access key)'),
  },
);
export type SnapshotStorage = Static<typeof SnapshotStorage>;

export const Backup = obj(
  'Scheduled snapshots of etcd to object storage, streamed from a healthy member. The annotation hardway.dev/snapshot-request=<any new value> asks for one now.',
  {
    schedule: str('When to take snapshots: a cron expression of five fields, in UTC, for example "0 */6 * * *".', {
      pattern: '^\\S+( \\S+){4}$',
      hint: 'five cron fields such as "0 */6 * * *"',
      maxLength: 128,
    }),
    retention: obj(
      'How many snapshots to keep. The newest good snapshot is never deleted.',
      {
        count: int('Keep at most this many snapshots.', { minimum: 1, maximum: 1000, default: 7 }),
        maxAge: opt(str('Delete snapshots older than this (a duration such as "168h" or "30d"), the newest excepted.', { pattern: '^[0-9]+(m|h|d)$', hint: 'a duration such as 168h or 30d' })),
      },
      { default: { count: 7 } },
    ),
    storage: SnapshotStorage,
  },
);
export type Backup = Static<typeof Backup>;

export const Restore = obj(
  'Start this cluster from a snapshot instead of empty: the first member restores it (checked against its manifest SHA-256, the revision bumped and marked compacted), then the cluster grows to replicas as usual. Used for a new object, or for one whose members are all lost (Ready=False, ClusterLost).',
  {
    storage: opt(SnapshotStorage),
    snapshot: opt(str('Object key of the snapshot; default: the newest snapshot with a manifest under the storage prefix.', { minLength: 1, maxLength: 1024 })),
  },
);
export type Restore = Static<typeof Restore>;

export const SnapshotRecord = obj('One snapshot in object storage.', {
  key: str('Object key of the snapshot.'),
  bucket: opt(str('Bucket (Space) that holds it.')),
  time: str('When the snapshot was taken (RFC 3339).', { format: 'date-time' }),
  revision: opt(str('etcd revision when the snapshot started (the snapshot holds at least this).')),
  size: opt(int('Size in bytes.', { minimum: 0 })),
  sha256: opt(str('SHA-256 of the object, hex.')),
  member: opt(str('The member that served it.')),
  etcdVersion: opt(str('etcd version of that member.')),
});
export type SnapshotRecord = Static<typeof SnapshotRecord>;

export const EtcdClusterSpec = obj(
  'Desired state of a dedicated etcd cluster on DigitalOcean droplets.',
  {
    replicas: int(
      'Number of etcd members: 1, 3, 5 or 7. An odd count keeps a majority through one (3), two (5) or three (7) failures. Changes are applied one member at a time, never losing quorum.',
      { enum: [...ETCD_REPLICAS], default: 3 },
    ),
    version: str('etcd version to run, without a leading "v", for example "3.5.21". Supported: 3.5.x and 3.6.x.', {
      pattern: P.ETCD_VERSION,
      hint: 'an etcd version such as 3.5.21 (no leading "v")',
    }),
    machine: Machine,
    dns: DNS,
    credentialsRef: CredentialsRef,
    firewall: EtcdFirewall,
    backup: opt(Backup),
    restore: opt(Restore),
  },
  {
    rules: [
      {
        rule: `self.version.startsWith('3.5.') || self.version.startsWith('3.6.')`,
        message: 'spec.version: only etcd 3.5.x and 3.6.x are supported',
        fieldPath: 'spec.version',
      },
    ],
  },
);
export type EtcdClusterSpec = Static<typeof EtcdClusterSpec>;

export const EtcdMember = obj('One etcd member as last observed.', {
  name: str('Member name, the same as its droplet name.'),
  dropletID: opt(int('DigitalOcean droplet ID.', { minimum: 0 })),
  privateIP: opt(str('Private (VPC) IPv4 address; peers and clients use it.')),
  publicIP: opt(str('Public IPv4 address.')),
  dnsName: opt(str('DNS name of the member in spec.dns.zone; its certificates are issued for it.')),
  memberID: opt(str('etcd member ID in hexadecimal, once the member joined.')),
  healthy: opt(bool('Whether the last probe of /health on this member passed.')),
  leader: opt(bool('Whether this member was the Raft leader at the last probe.')),
  version: opt(str('etcd version the member reported.')),
  lastProbeTime: opt(str('When the member was last probed (RFC 3339).', { format: 'date-time' })),
  message: opt(str('Why the member is not healthy, from the last probe.')),
});
export type EtcdMember = Static<typeof EtcdMember>;

export const EtcdClusterStatus = obj('Observed state of the etcd cluster.', {
  ...replicaStatus(),
  members: opt(arr('etcd members and their droplets, as last observed.', EtcdMember, { listType: 'map', mapKeys: ['name'] })),
  clientEndpoint: opt(
    str(
      'The cluster endpoint, https://<name>-etcd.<zone>:2379: one DNS name whose A records are the healthy voting members (a member leaves it before it is removed) and which every member certificate carries. Control-plane nodes are given this URL alone, so member replacements never leave them pointing at names that are gone. Absent until a member that carries the name is healthy.',
    ),
  ),
  clientEndpoints: opt(
    arr('Client URLs of the members (https://<dnsName>:2379). They change as members are replaced: use clientEndpoint.', str('An etcd client URL.'), {
      listType: 'atomic',
    }),
  ),
  caSecretRef: opt(LocalObjectReference('the Secret holding the etcd CA certificate')),
  clusterID: opt(
    str(
      'The etcd cluster ID (hex) this object founded, recorded once its first member was healthy. While it is set, losing every member stops the operator (Ready=False, ClusterLost) instead of seeding an empty cluster; the annotation hardway.dev/accept-data-loss=<clusterID> allows a new, empty one.',
    ),
  ),
  joinFailures: opt(JoinFailures('new members')),
  backup: opt(
    obj('What the backups did.', {
      lastSnapshot: opt(SnapshotRecord),
      lastFailureTime: opt(str('When the last failed snapshot attempt ended.', { format: 'date-time' })),
      lastFailureMessage: opt(str('Why the last failed attempt failed.')),
      lastAttemptTime: opt(str('When the last snapshot attempt ended, good or not.', { format: 'date-time' })),
      nextScheduledTime: opt(str('When the next scheduled snapshot is due.', { format: 'date-time' })),
      handledRequest: opt(str('The last hardway.dev/snapshot-request value acted upon.')),
    }),
  ),
  restore: opt(
    obj('The snapshot this cluster was started from.', {
      snapshot: SnapshotRecord,
      clusterID: opt(str('The etcd cluster ID the restore made, once it answered.')),
    }),
  ),
  conditions: Conditions(),
});
export type EtcdClusterStatus = Static<typeof EtcdClusterStatus>;

export type EtcdCluster = KubeObject<'EtcdCluster', EtcdClusterSpec, EtcdClusterStatus>;

export const etcdClusterKind: KindDefinition = {
  kind: 'EtcdCluster',
  plural: 'etcdclusters',
  singular: 'etcdcluster',
  shortNames: ['etcdc', 'hwetcd'],
  description:
    'EtcdCluster is a dedicated etcd cluster on DigitalOcean droplets, with its own CA, DNS records and firewall. A ControlPlane refers to it.',
  spec: EtcdClusterSpec,
  status: EtcdClusterStatus,
  conditions: ETCD_CLUSTER_CONDITIONS,
  scale: true,
  maxNameLength: maxObjectNameLength('EtcdCluster'),
  printerColumns: [
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Whether the cluster is Ready.' },
    { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas', description: 'Desired members.' },
    { name: 'Healthy', type: 'integer', jsonPath: '.status.readyReplicas', description: 'Healthy members.' },
    { name: 'Version', type: 'string', jsonPath: '.spec.version', description: 'etcd version.' },
    { name: 'Endpoint', type: 'string', jsonPath: '.status.clientEndpoint', description: 'The cluster endpoint control-plane nodes use.' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};
