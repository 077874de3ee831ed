// Which certificates a cluster needs, with subjects, names and usages (BRIEF section 6). Pure data.
import type { LeafSpec } from './certs.ts';

export interface MachineIdentity {
  /** Droplet name = node name = etcd member name. */
  name: string;
  /** Where the machine is reached: its DNS name in the zone (tests may use an IP). */
  address: string;
  /**
   * Further names its server certificate carries. An etcd member's: the cluster endpoint
   * `<cluster>-etcd.<zone>`, the name API servers reach whichever members there are by.
   */
  aliases?: string[];
}

const LOOPBACK = ['localhost', '127.0.0.1'];

/**
 * Signed by the etcd CA, the CA of etcd's client port (--trusted-ca-file). Server certificates also
 * authenticate as clients: etcd's gRPC gateway dials the member's own client port with them
 * (grpcGatewayDial in server/embed/etcd.go, etcd v3.5.21, which clones the client TLS config).
 * Peer certificates are not here: see etcdPeerLeafSpecs.
 */
export function etcdLeafSpecs(members: MachineIdentity[]): Record<string, LeafSpec> {
  const specs: Record<string, LeafSpec> = {
    'etcd-client-apiserver': { commonName: 'kube-apiserver-etcd-client', usages: ['client'] },
    'etcd-client-operator': { commonName: 'hardway-operator', usages: ['client'] },
  };
  for (const m of members) specs[`etcd-server-${m.name}`] = { commonName: m.name, names: [m.address, ...(m.aliases ?? []), ...LOOPBACK], usages: ['server', 'client'] };
  return specs;
}

/**
 * Signed by the etcd peer CA, which signs nothing else, so that no client certificate (the API server's,
 * the operator's) is accepted on the peer port 2380, which serves raft and the whole v3 gRPC API
 * (servePeers in server/embed/etcd.go, etcd v3.5.21). Server and client usage: a member serves 2380 with
 * its peer certificate and dials the other members' 2380 with the same one.
 */
export function etcdPeerLeafSpecs(members: MachineIdentity[]): Record<string, LeafSpec> {
  return Object.fromEntries(members.map((m) => [`etcd-peer-${m.name}`, { commonName: m.name, names: [m.address, ...LOOPBACK], usages: ['server', 'client'] } satisfies LeafSpec]));
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

