import { str, int, bool, obj, arr, opt, type Static } from './schema.ts';
import { Machine, DNS, CredentialsRef, EtcdFirewall, Conditions, replicaStatus, LocalObjectReference, JoinFailures } from './shared.ts';
import * as P from './patterns.ts';
import type { KindDefinition, KubeObject } from './kind.ts';
import { ETCD_CLUSTER_CONDITIONS } from './condition-types.ts';
import { maxObjectNameLength } from './names.ts';

export const ETCD_REPLICAS = [1, 3, 5, 7] as const;
export const SUPPORTED_ETCD_MINORS = ['3.5', '3.6'] as const;

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
