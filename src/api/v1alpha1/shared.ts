// Blocks shared by the three kinds. Names are the same wherever a block appears.
import { str, int, bool, obj, arr, opt, strEnum, intOrPercent, type Static } from './schema.ts';
import * as P from './patterns.ts';
import { MAX_ZONE_LENGTH } from './names.ts';

export const LocalObjectReference = (what: string) =>
  obj(`Reference, in the same namespace, to ${what}.`, {
    name: str(`Name of ${what}.`, { minLength: 1, maxLength: 253 }),
  });
export type LocalObjectReference = Static<ReturnType<typeof LocalObjectReference>>;

export const DEFAULT_IMAGE = 'ubuntu-24-04-x64';

export const Machine = obj(
  'Where and on what DigitalOcean droplets of this object run. Changing region, size or image rolls the machines.',
  {
    region: str('DigitalOcean region slug for every droplet, for example "fra1" or "nyc3".', {
      pattern: P.REGION,
      hint: 'a DigitalOcean region slug such as fra1 or nyc3',
    }),
    size: str('DigitalOcean droplet size slug, for example "s-2vcpu-4gb".', {
      pattern: P.SLUG,
      hint: 'a DigitalOcean size slug such as s-2vcpu-4gb (lowercase letters, digits and dashes)',
      maxLength: 64,
    }),
    image: str(`DigitalOcean image slug the droplets boot from. Defaults to "${DEFAULT_IMAGE}".`, {
      pattern: P.SLUG,
      hint: 'a DigitalOcean image slug such as ubuntu-24-04-x64',
      maxLength: 64,
      default: DEFAULT_IMAGE,
    }),
    sshKeys: opt(
      arr(
        'SSH keys added to root on every droplet, as DigitalOcean key IDs or MD5 fingerprints. Empty means no SSH access.',
        str('A DigitalOcean SSH key ID (digits) or its MD5 fingerprint (aa:bb:...).', {
          pattern: P.SSH_KEY,
          hint: 'a DigitalOcean SSH key ID (digits) or MD5 fingerprint like 3b:16:bf:...:e4 (16 hex pairs)',
        }),
        { listType: 'set', maxItems: 32 },
      ),
    ),
    vpcUUID: opt(
      str("UUID of the DigitalOcean VPC for private networking. Empty means the region's default VPC.", {
        pattern: P.UUID,
        hint: 'a VPC UUID such as 5a4981aa-9653-4bd1-bef5-d6bff52042e4',
      }),
    ),
    tags: opt(
      arr(
        'Extra DigitalOcean tags put on every droplet. Tags starting with "hardway" are reserved for ownership.',
        str('A DigitalOcean tag: letters, digits, "_", "-" and ":" only (no dots).', {
          pattern: P.DO_TAG,
          hint: 'a DigitalOcean tag (letters, digits, "_", "-", ":"; no dots or spaces)',
          maxLength: 255,
        }),
        { listType: 'set', maxItems: 20 },
      ),
    ),
  },
);
export type Machine = Static<typeof Machine>;

export const DNS = obj('Cloudflare DNS settings. Every name the cluster uses is created in this zone.', {
  zone: str('Cloudflare zone (domain) that holds the records, for example "example.com".', {
    pattern: P.DOMAIN,
    hint: 'a lowercase domain such as example.com',
    maxLength: MAX_ZONE_LENGTH,
  }),
});
export type DNS = Static<typeof DNS>;

export const CredentialsRef = obj(
  'Secret in the same namespace with the keys "digitalocean-token" and "cloudflare-api-token".',
  {
    name: str('Name of the credentials Secret.', { minLength: 1, maxLength: 253 }),
  },
);
export type CredentialsRef = Static<typeof CredentialsRef>;

export const ENDPOINT_MODES = ['DNS', 'LoadBalancer'] as const;

export const Endpoint = obj('How clients reach the Kubernetes API of the new cluster.', {
  host: str(
    'DNS name of the Kubernetes API, inside spec.dns.zone, for example "api.prod.example.com". It is in the serving certificate and the kubeconfig.',
    { pattern: P.DOMAIN, hint: 'a lowercase DNS name such as api.prod.example.com', maxLength: 253 },
  ),
  mode: strEnum(
    'DNS: one A record per control-plane node under host (round robin, no extra cost). LoadBalancer: a DigitalOcean load balancer in front of the control-plane droplets, host points at it.',
    ENDPOINT_MODES,
    'DNS',
  ),
});
export type Endpoint = Static<typeof Endpoint>;

export const CNI_PLUGINS = ['flannel'] as const;

export const DEFAULT_NETWORK = {
  podCIDR: '10.200.0.0/16',
  serviceCIDR: '10.32.0.0/24',
  clusterDomain: 'cluster.local',
  cni: 'flannel',
} as const;

export const Network = obj(
  'Pod and service networking of the new cluster.',
  {
    podCIDR: str(
      `IPv4 range pods get their addresses from; each node gets a /24 of it. Must not overlap serviceCIDR or the VPC. Defaults to ${DEFAULT_NETWORK.podCIDR}.`,
      { pattern: P.CIDR4, hint: 'an IPv4 CIDR such as 10.200.0.0/16', default: DEFAULT_NETWORK.podCIDR },
    ),
    serviceCIDR: str(
      `IPv4 range for Service cluster IPs, between /12 and /28. Its first address is the "kubernetes" service, its tenth the cluster DNS. Defaults to ${DEFAULT_NETWORK.serviceCIDR}.`,
      { pattern: P.CIDR4, hint: 'an IPv4 CIDR such as 10.32.0.0/24', default: DEFAULT_NETWORK.serviceCIDR },
    ),
    clusterDomain: str(`DNS domain of Services inside the cluster. Defaults to "${DEFAULT_NETWORK.clusterDomain}".`, {
      pattern: P.DOMAIN_OR_SINGLE,
      hint: 'a lowercase DNS domain such as cluster.local',
      maxLength: 253,
      default: DEFAULT_NETWORK.clusterDomain,
    }),
    cni: strEnum('Pod network plugin. Only flannel (VXLAN) is supported: DigitalOcean does not carry IPIP.', CNI_PLUGINS, 'flannel'),
  },
  { default: {} },
);
export type Network = Static<typeof Network>;

const cidrList = (description: string) =>
  opt(
    arr(
      description,
      str('An IPv4 or IPv6 CIDR, for example "203.0.113.0/24" or "2001:db8::/32".', {
        pattern: P.CIDR_ANY,
        hint: 'an IPv4 or IPv6 CIDR such as 203.0.113.0/24',
      }),
      { listType: 'set', maxItems: 50 },
    ),
  );

const adminCIDRs = () => cidrList('Sources allowed to reach SSH (22/tcp). Empty means SSH is closed.');
const managementCIDRs = () =>
  cidrList(
    "Egress addresses of the management cluster running hardway. They may reach the ports its health probes use: etcd's client port, and the API server, controller-manager, scheduler, kubelet and kube-proxy; on control-plane droplets also SSH (22/tcp), over which the operator hands each node its keys (SFTP only). Without them the firewall blocks those probes: an EtcdCluster's health stays Unknown, a ControlPlane's nodes never get their keys, and neither becomes Ready.",
  );

export const EtcdFirewall = obj(
  'Who may reach the etcd droplets besides the etcd members and the control plane.',
  { adminCIDRs: adminCIDRs(), managementCIDRs: managementCIDRs() },
  { default: {} },
);
export type EtcdFirewall = Static<typeof EtcdFirewall>;

export const DEFAULT_API_CIDRS = ['0.0.0.0/0', '::/0'];

export const Firewall = obj(
  'Who may reach the control-plane and worker droplets besides the cluster itself.',
  {
    adminCIDRs: adminCIDRs(),
    apiCIDRs: opt(
      arr(
        'Sources allowed to reach the Kubernetes API (6443/tcp). Defaults to everywhere.',
        str('An IPv4 or IPv6 CIDR, for example "203.0.113.0/24" or "::/0".', {
          pattern: P.CIDR_ANY,
          hint: 'an IPv4 or IPv6 CIDR such as 203.0.113.0/24',
        }),
        { listType: 'set', maxItems: 50, default: DEFAULT_API_CIDRS },
      ),
    ),
    managementCIDRs: managementCIDRs(),
  },
  { default: {} },
);
export type Firewall = Static<typeof Firewall>;

export const Rollout = obj(
  'How machines are replaced when the pool changes: surge new ones first, take old ones away as they become ready.',
  {
    maxSurge: intOrPercent('Machines created above spec.replicas during a rollout, as a count or a percentage. Defaults to 1.', 1),
    maxUnavailable: intOrPercent(
      'Machines that may be unavailable during a rollout, as a count or a percentage. Defaults to 0. maxSurge and maxUnavailable cannot both be 0.',
      0,
    ),
  },
  { default: {} },
);
export type Rollout = Static<typeof Rollout>;

export const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;

export const Condition = obj('One aspect of the observed state, in the metav1.Condition shape.', {
  type: str('Type of condition in UpperCamelCase, for example "Ready".', { maxLength: 316, pattern: P.CONDITION_TYPE }),
  status: strEnum('Status of the condition: True, False or Unknown.', CONDITION_STATUSES),
  reason: str("Machine-readable UpperCamelCase reason for the condition's last change.", {
    minLength: 1,
    maxLength: 1024,
    pattern: P.REASON,
  }),
  // Optional, unlike metav1.Condition: an empty message is left out, because server-side apply on
  // Kubernetes 1.20 turns "" into null and then rejects it.
  message: opt(str('Human-readable details about the last change; absent when there is nothing to add.', { maxLength: 32768 })),
  lastTransitionTime: str('When the status last changed (RFC 3339).', { format: 'date-time' }),
  observedGeneration: opt(int('metadata.generation the condition was computed from.', { minimum: 0 })),
});
export type Condition = Static<typeof Condition>;

export const Conditions = () =>
  opt(
    arr('Observed state of the object, Ready first. Each condition type appears once.', Condition, {
      listType: 'map',
      mapKeys: ['type'],
      maxItems: 32,
    }),
  );

/** Replica counts every kind reports, for kubectl, the scale subresource and kstatus. */
export const replicaStatus = () => ({
  observedGeneration: opt(int('metadata.generation the status was computed from.', { minimum: 0 })),
  replicas: opt(int('Machines that exist for this object, whatever their state.', { minimum: 0 })),
  readyReplicas: opt(int('Machines that are provisioned and healthy.', { minimum: 0 })),
  updatedReplicas: opt(int('Machines that match the current spec (version, machine settings).', { minimum: 0 })),
  selector: opt(str('Label selector of the machines, for the scale subresource.')),
});

/** Machines that did not join (never became healthy), in a row, under the current spec. */
export const JoinFailures = (what: string) =>
  obj(`${what[0]!.toUpperCase()}${what.slice(1)} that did not join (never became healthy), in a row, under the current spec.`, {
    count: int(`How many in a row; at 3 no more ${what} are created until the spec changes (Ready=False, RetriesExhausted).`, { minimum: 0 }),
    generation: int('The spec generation they failed under: a spec change starts the count afresh.', { minimum: 0 }),
    lastMachine: str('The last one that did not join.'),
    lastMessage: str('Why, as its last probe said.'),
    lastTime: str('When it was given up on (RFC 3339); the next try waits a minute after it, doubled per failure.', { format: 'date-time' }),
  });
export type JoinFailures = Static<ReturnType<typeof JoinFailures>>;

export const MachineStatus = obj('A droplet this object owns, as last observed.', {
  name: str('Droplet name, also the node name and the first label of its DNS name.'),
  dropletID: opt(int('DigitalOcean droplet ID.', { minimum: 0 })),
  privateIP: opt(str('Private (VPC) IPv4 address.')),
  publicIP: opt(str('Public IPv4 address.')),
  dnsName: opt(str('DNS name of this machine in spec.dns.zone.')),
  version: opt(str('Version the machine was built with.')),
  phase: opt(
    strEnum(
      'Lifecycle phase: Provisioning (droplet being created), Running, Deleting or Failed.',
      ['Provisioning', 'Running', 'Deleting', 'Failed'] as const,
    ),
  ),
  healthy: opt(bool('Whether the last health probe of this machine passed.')),
  lastProbeTime: opt(str('When the machine was last probed (RFC 3339).', { format: 'date-time' })),
  message: opt(str('Why the machine is not healthy, from the last probe.')),
});
export type MachineStatus = Static<typeof MachineStatus>;
