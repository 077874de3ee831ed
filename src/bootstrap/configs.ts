// Configuration files of the node components, rendered as YAML/JSON/TOML text.
import { stringify } from 'yaml';
import type { EncryptionKey } from '../pki/encryption.ts';

export interface KubeletOptions {
  nodeName: string;
  clusterDNS: string;
  clusterDomain: string;
  certDir: string;
  taints?: { key: string; value?: string; effect: string }[];
  /**
   * TLS bootstrap (workers): kubelet asks for its client and serving certificates and renews them
   * (rotateCertificates, serverTLSBootstrap); otherwise the operator's certificate serves.
   */
  bootstrap?: boolean;
}

export function kubeletConfig(o: KubeletOptions): string {
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: `${o.certDir}/ca.crt` } },
    authorization: { mode: 'Webhook' },
    cgroupDriver: 'systemd',
    clusterDNS: [o.clusterDNS],
    clusterDomain: o.clusterDomain,
    containerRuntimeEndpoint: 'unix:///run/containerd/containerd.sock',
    resolvConf: '/run/systemd/resolve/resolv.conf',
    ...(o.bootstrap ? {} : { tlsCertFile: `${o.certDir}/kubelet.crt`, tlsPrivateKeyFile: `${o.certDir}/kubelet.key` }),
    rotateCertificates: !!o.bootstrap,
    serverTLSBootstrap: !!o.bootstrap,
    ...(o.taints?.length ? { registerWithTaints: o.taints } : {}),
  });
}

export function kubeProxyConfig(o: { kubeconfig: string; clusterCIDR: string }): string {
  return stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig: o.kubeconfig },
    mode: 'iptables',
    clusterCIDR: o.clusterCIDR,
    healthzBindAddress: '0.0.0.0:10256',
    metricsBindAddress: '127.0.0.1:10249',
  });
}

/** containerd 2.x (config version 3) with runc and the systemd cgroup driver. */
export const containerdConfig = `version = 3

[plugins.'io.containerd.cri.v1.runtime']
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
    runtime_type = 'io.containerd.runc.v2'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
      BinaryName = '/usr/local/sbin/runc'
      SystemdCgroup = true
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['/opt/cni/bin']
    conf_dir = '/etc/cni/net.d'
`;

/** Pod networking through flannel (VXLAN); portmap for hostPort. */
export const cniConfig = JSON.stringify(
  {
    cniVersion: '1.0.0',
    name: 'cbr0',
    plugins: [
      { type: 'flannel', delegate: { hairpinMode: true, isDefaultGateway: true } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  },
  null,
  2,
);

export const flannelNetConf = (podCIDR: string) => JSON.stringify({ Network: podCIDR, EnableIPv4: true, Backend: { Type: 'vxlan' } }, null, 2);

/**
 * Secrets encrypted at rest with the operator's keys, the first one writing (src/pki/encryption.ts);
 * identity last, so Secrets stored before encryption was on are still read.
 */
export function encryptionConfig(keys: EncryptionKey[]): string {
  return stringify({
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'EncryptionConfiguration',
    resources: [{ resources: ['secrets'], providers: [...keys.map((k) => ({ [k.provider]: { keys: [{ name: k.name, secret: k.secret }] } })), { identity: {} }] }],
  });
}

/** Metadata for everything, nothing for the noisy read-only health and event traffic. */
export const auditPolicy = stringify({
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived'],
  rules: [
    { level: 'None', nonResourceURLs: ['/healthz*', '/livez*', '/readyz*', '/version'] },
    { level: 'None', resources: [{ group: '', resources: ['events'] }] },
    { level: 'Metadata' },
  ],
});

/** Kernel settings every Kubernetes node needs (bridged traffic through iptables, forwarding). */
export const sysctlConf = `net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1
`;
export const modulesConf = `overlay
br_netfilter
`;
