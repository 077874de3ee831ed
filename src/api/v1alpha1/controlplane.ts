import { str, strEnum, int, bool, obj, arr, opt, type Static } from './schema.ts';
import {
  Machine,
  DNS,
  CredentialsRef,
  Endpoint,
  Network,
  Firewall,
  Conditions,
  replicaStatus,
  MachineStatus,
  LocalObjectReference,
  JoinFailures,
} from './shared.ts';
import * as P from './patterns.ts';
import type { KindDefinition, KubeObject } from './kind.ts';
import { CONTROL_PLANE_CONDITIONS } from './condition-types.ts';
import { maxObjectNameLength } from './names.ts';

export const SUPPORTED_KUBE_MINORS = [32, 33, 34, 35] as const;

export const ControlPlaneSpec = obj(
  'Desired state of a Kubernetes control plane (kube-apiserver, controller-manager, scheduler, kubelet) on DigitalOcean droplets.',
  {
    replicas: int(
      'Number of control-plane nodes. 3 survives the loss of one node. Changes roll one node at a time.',
      { minimum: 1, maximum: 9, default: 3 },
    ),
    version: str(`Kubernetes version with a leading "v", for example "v1.34.2". Supported minors: 1.${SUPPORTED_KUBE_MINORS[0]} to 1.${SUPPORTED_KUBE_MINORS.at(-1)}.`, {
      pattern: P.KUBE_VERSION,
      hint: 'a Kubernetes version such as v1.34.2 (with a leading "v")',
    }),
    etcdClusterRef: LocalObjectReference('the EtcdCluster this control plane stores its state in'),
    machine: Machine,
    dns: DNS,
    credentialsRef: CredentialsRef,
    endpoint: Endpoint,
    network: Network,
    firewall: Firewall,
    encryptionAtRest: bool(
      'Encrypt Secrets in etcd (secretbox) with a key the operator makes and keeps in the Secret <name>-encryption. Defaults to true. Once a cluster has a key, setting this to false does not decrypt anything: Secrets stay encrypted.',
      true,
    ),
    encryptionKeyGeneration: int(
      'Raise to replace the encryption key: the operator makes a new key, rolls the control plane three times (every API server learns to read it; it becomes the one that writes, and every Secret is rewritten with it; the old key is removed) and reports progress in status.encryption. Defaults to 0.',
      { minimum: 0, default: 0 },
    ),
    audit: bool('Write an API audit log on every control-plane node (metadata level). Defaults to true.', true),
  },
  {
    rules: [
      {
        rule: `self.endpoint.host == self.dns.zone || self.endpoint.host.endsWith('.' + self.dns.zone)`,
        message: 'spec.endpoint.host must be inside spec.dns.zone',
        fieldPath: 'spec.endpoint.host',
      },
      {
        rule: `!has(self.network) || self.network.podCIDR != self.network.serviceCIDR`,
        message: 'spec.network.serviceCIDR must not overlap spec.network.podCIDR',
        fieldPath: 'spec.network.serviceCIDR',
      },
    ],
  },
);
export type ControlPlaneSpec = Static<typeof ControlPlaneSpec>;

export const CertificateStatus = obj('Expiry of the certificates this control plane issued.', {
  earliestExpiry: opt(str('notAfter of the certificate that expires first (RFC 3339).', { format: 'date-time' })),
  earliestExpiryName: opt(str('Which certificate expires first, for example "apiserver".')),
  caExpiry: opt(str('notAfter of the Kubernetes CA (RFC 3339).', { format: 'date-time' })),
});
export type CertificateStatus = Static<typeof CertificateStatus>;

export const ControlPlaneStatus = obj('Observed state of the control plane.', {
  ...replicaStatus(),
  endpoint: opt(str('URL of the Kubernetes API, for example "https://api.prod.example.com:6443".')),
  kubeconfigSecretRef: opt(LocalObjectReference('the Secret whose key "value" holds an admin kubeconfig')),
  version: opt(str('Lowest Kubernetes version running on any control-plane node.')),
  etcdEndpoint: opt(str("The EtcdCluster's cluster endpoint new control-plane nodes are given (--etcd-servers), once it publishes one.")),
  staleEtcdEndpoints: opt(
    arr(
      "Control-plane nodes given etcd members' names instead of the cluster endpoint (made before it existed). They are replaced one at a time; the EtcdCluster removes no member by choice until this is empty.",
      str('A node name.'),
      { listType: 'atomic' },
    ),
  ),
  machines: opt(arr('Control-plane droplets, as last observed.', MachineStatus, { listType: 'map', mapKeys: ['name'] })),
  certificates: opt(CertificateStatus),
  encryption: opt(
    obj('Encryption of Secrets at rest: the key that writes and where a key rotation stands.', {
      key: str('Name of the key new Secrets are written with, for example "key2".'),
      provider: strEnum('Provider of that key.', ['secretbox', 'aescbc'] as const),
      generation: int('The spec.encryptionKeyGeneration this key was made for.', { minimum: 0 }),
      stage: strEnum(
        'Stable: one key. Introduce: nodes are replaced by ones that can read the new key. Switch: nodes are replaced by ones that write with it, then every Secret is rewritten.',
        ['Stable', 'Introduce', 'Switch'] as const,
      ),
    }),
  ),
  joinFailures: opt(JoinFailures('control-plane nodes')),
  conditions: Conditions(),
});
export type ControlPlaneStatus = Static<typeof ControlPlaneStatus>;

export type ControlPlane = KubeObject<'ControlPlane', ControlPlaneSpec, ControlPlaneStatus>;

export const controlPlaneKind: KindDefinition = {
  kind: 'ControlPlane',
  plural: 'controlplanes',
  singular: 'controlplane',
  shortNames: ['cp', 'hwcp'],
  description:
    'ControlPlane is the Kubernetes control plane of one workload cluster, on DigitalOcean droplets, with its API endpoint in Cloudflare DNS and an admin kubeconfig in the Secret <name>-kubeconfig.',
  spec: ControlPlaneSpec,
  status: ControlPlaneStatus,
  conditions: CONTROL_PLANE_CONDITIONS,
  scale: true,
  maxNameLength: maxObjectNameLength('ControlPlane'),
  printerColumns: [
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Whether the control plane is Ready.' },
    { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas', description: 'Desired control-plane nodes.' },
    { name: 'Ready-Nodes', type: 'integer', jsonPath: '.status.readyReplicas', description: 'Healthy control-plane nodes.', priority: 1 },
    { name: 'Version', type: 'string', jsonPath: '.spec.version', description: 'Kubernetes version.' },
    { name: 'Endpoint', type: 'string', jsonPath: '.status.endpoint', description: 'Kubernetes API URL.' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};
