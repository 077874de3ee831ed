// Which certificates a cluster needs, with subjects, names and usages (BRIEF section 6). Pure data.
import type { LeafSpec } from './certs.ts';

export interface MachineIdentity {
  /** Droplet name = node name = etcd member name. */
  name: string;
  /** Where the machine is reached: its DNS name in the zone (tests may use an IP). */
  address: string;
}

const LOOPBACK = ['localhost', '127.0.0.1'];

/** Signed by the etcd CA. Server and peer certificates also authenticate as clients (etcd's gateway does). */
export function etcdLeafSpecs(members: MachineIdentity[]): Record<string, LeafSpec> {
  const specs: Record<string, LeafSpec> = {
    'etcd-client-apiserver': { commonName: 'kube-apiserver-etcd-client', usages: ['client'] },
    'etcd-client-operator': { commonName: 'hardway-operator', usages: ['client'] },
  };
  for (const m of members) {
    specs[`etcd-server-${m.name}`] = { commonName: m.name, names: [m.address, ...LOOPBACK], usages: ['server', 'client'] };
    specs[`etcd-peer-${m.name}`] = { commonName: m.name, names: [m.address, ...LOOPBACK], usages: ['server', 'client'] };
  }
  return specs;
}

export interface ControlPlaneIdentity {
  endpointHost: string;
  nodes: MachineIdentity[];
  /** First address of the service range: the "kubernetes" Service's ClusterIP. */
  kubernetesServiceIP: string;
  clusterDomain: string;
}

/** The API server's names: endpoint, every control-plane node, the in-cluster Service names, loopback. */
export function apiServerNames(cp: ControlPlaneIdentity): string[] {
  return [
    cp.endpointHost,
    ...cp.nodes.map((n) => n.address),
    cp.kubernetesServiceIP,
    'kubernetes',
    'kubernetes.default',
    'kubernetes.default.svc',
    `kubernetes.default.svc.${cp.clusterDomain}`,
    ...LOOPBACK,
  ];
}

export const kubeletSpec = (node: MachineIdentity): LeafSpec => ({
  commonName: `system:node:${node.name}`,
  organizations: ['system:nodes'],
  names: [node.name, node.address],
  usages: ['server', 'client'],
});

/** Signed by the Kubernetes CA. */
export function controlPlaneLeafSpecs(cp: ControlPlaneIdentity): Record<string, LeafSpec> {
  const specs: Record<string, LeafSpec> = {
    apiserver: { commonName: 'kube-apiserver', names: apiServerNames(cp), usages: ['server'] },
    'apiserver-kubelet-client': { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'], usages: ['client'] },
    'controller-manager': { commonName: 'system:kube-controller-manager', usages: ['client'] },
    scheduler: { commonName: 'system:kube-scheduler', usages: ['client'] },
    admin: { commonName: 'admin', organizations: ['system:masters'], usages: ['client'] },
    'kube-proxy': { commonName: 'system:kube-proxy', organizations: ['system:node-proxier'], usages: ['client'] },
  };
  for (const n of cp.nodes) {
    specs[`kubelet-${n.name}`] = kubeletSpec(n);
    // Serving certificate of controller-manager and scheduler, so health probes verify them against our CA.
    specs[`serving-${n.name}`] = { commonName: n.name, names: [n.address, ...LOOPBACK], usages: ['server'] };
  }
  return specs;
}

/** Signed by the front-proxy CA (API aggregation). */
export const FRONT_PROXY_SPECS: Record<string, LeafSpec> = {
  'front-proxy-client': { commonName: 'front-proxy-client', usages: ['client'] },
};

export function workerLeafSpecs(nodes: MachineIdentity[]): Record<string, LeafSpec> {
  return Object.fromEntries(nodes.map((n) => [`kubelet-${n.name}`, kubeletSpec(n)]));
}
