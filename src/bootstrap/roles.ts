// What each role's droplet receives: files (certificates, keys 0600, kubeconfigs, component configs),
// systemd units and the install script, as one #cloud-config document. Pure: everything comes in.
import type { CertBundle } from '../pki/certs.ts';
import type { KeyPair } from '../pki/x509.ts';
import type { EncryptionKey } from '../pki/encryption.ts';
import type { MachineIdentity } from '../pki/profiles.ts';
import { renderKubeconfig } from '../pki/kubeconfig.ts';
import { renderCloudConfig, secretFile, publicFile, handedOverFile, type NodeFile } from './cloudconfig.ts';
import { handOverFiles, handOverSshKeys, HANDOVER_UNIT, type HandOverAccess } from './handover.ts';
import { renderService, nodeEnvUnit, nodeEnvScript, NODE_ENV_UNIT, METADATA_BLOCK_UNIT, METADATA_BLOCK_SCRIPT, metadataBlockScript, metadataBlockUnit, type ServiceUnit } from './units.ts';
import { renderInstallScript } from './install.ts';
import { etcdArtifact, nodeArtifacts, type PinnedDigests } from './manifest.ts';
import { kubeletConfig, kubeProxyConfig, containerdConfig, cniConfig, flannelNetConf, encryptionConfig, auditPolicy, sysctlConf, modulesConf } from './configs.ts';
import { stringify } from 'yaml';
import { etcdRestoreFiles, ETCD_RESTORE_SCRIPT, type EtcdRestore } from './restore.ts';

const INSTALL = '/usr/local/sbin/hardway-install';

export interface RenderedNode {
  role: 'etcd' | 'control-plane' | 'worker';
  name: string;
  userData: string;
  /** Every file the node ends up with, handed-over ones included. */
  files: NodeFile[];
  /** The files the operator hands over once the node runs (not in user-data); empty for other roles. */
  handOver: NodeFile[];
}

function finish(role: RenderedNode['role'], name: string, files: NodeFile[], units: ServiceUnit[], install: string, sshKeys?: Record<string, string>): RenderedNode {
  const all: NodeFile[] = [
    { path: '/usr/local/sbin/hardway-node-env', content: nodeEnvScript, permissions: '0755' },
    publicFile(`/etc/systemd/system/${NODE_ENV_UNIT}`, nodeEnvUnit),
    ...files,
    ...units.map((u) => publicFile(`/etc/systemd/system/${u.name}`, renderService(u))),
    { path: INSTALL, content: install, permissions: '0755' },
  ];
  return { role, name, files: all, handOver: all.filter((f) => f.handOver), userData: renderCloudConfig({ hostname: name, files: all, runcmd: [[INSTALL]], sshKeys }) };
}

// ---------------------------------------------------------------------------------------------- etcd

export interface EtcdMemberBootstrap {
  member: MachineIdentity;
  /** Every member of the initial cluster, this one included. */
  cluster: MachineIdentity[];
  /** Unique per cluster (the EtcdCluster's UID), so two clusters' members never join each other. */
  token: string;
  /** new for the founding members; existing for a member added to a running cluster (after `member add`). */
  state: 'new' | 'existing';
  version: string;
  certs: {
    /** The etcd CA: --trusted-ca-file of the client port (API server, operator, this member's own gateway). */
    ca: string;
    /**
     * --peer-trusted-ca-file: the etcd peer CA, which signs peer certificates only; during the transition
     * of a cluster made before it, the etcd CA too (see src/pki/etcd.ts).
     */
    peerCA: string;
    /** Signed by the etcd CA. */
    server: CertBundle;
    /** Signed by the peer CA (cert may carry intermediates after the leaf). */
    peer: CertBundle;
  };
  /** The seed of a restored cluster: its data directory comes from this snapshot (restore.ts). */
  restore?: EtcdRestore;
}

export const ETCD_DIR = '/etc/etcd';
export const ETCD_DATA_DIR = '/var/lib/etcd';

/**
 * The etcd flags, also used by the test that runs a real etcd cluster from them. Clients and peers are
 * verified against different CA files: --trusted-ca-file for the client port, --peer-trusted-ca-file for
 * the peer port (etcd op-guide/security.md, "Basic setup": "The peer options work the same way as the
 * client-to-server options"; flags listed in server/etcdmain/help.go, etcd v3.5.21). A client certificate
 * signed by the etcd CA is therefore refused on 2380.
 */
export function etcdArgs(b: EtcdMemberBootstrap): string[] {
  const url = (m: MachineIdentity, port: number) => `https://${m.address}:${port}`;
  return [
    `--name=${b.member.name}`,
    `--data-dir=${ETCD_DATA_DIR}`,
    // The public address too: the operator probes from outside the VPC, where the firewall admits only
    // spec.firewall.managementCIDRs to 2379.
    '--listen-client-urls=https://${PRIVATE_IPV4}:2379,https://${PUBLIC_IPV4}:2379',
    `--advertise-client-urls=${url(b.member, 2379)}`,
    '--listen-peer-urls=https://${PRIVATE_IPV4}:2380',
    `--initial-advertise-peer-urls=${url(b.member, 2380)}`,
    `--initial-cluster=${b.cluster.map((m) => `${m.name}=${url(m, 2380)}`).join(',')}`,
    `--initial-cluster-state=${b.state}`,
    `--initial-cluster-token=${b.token}`,
    '--client-cert-auth',
    `--trusted-ca-file=${ETCD_DIR}/ca.crt`,
    `--cert-file=${ETCD_DIR}/server.crt`,
    `--key-file=${ETCD_DIR}/server.key`,
    '--peer-client-cert-auth',
    `--peer-trusted-ca-file=${ETCD_DIR}/peer-ca.crt`,
    `--peer-cert-file=${ETCD_DIR}/peer.crt`,
    `--peer-key-file=${ETCD_DIR}/peer.key`,
  ];
}

export function renderEtcdMember(b: EtcdMemberBootstrap): RenderedNode {
  const files = [
    publicFile(`${ETCD_DIR}/ca.crt`, b.certs.ca),
    publicFile(`${ETCD_DIR}/peer-ca.crt`, b.certs.peerCA),
    publicFile(`${ETCD_DIR}/server.crt`, b.certs.server.cert),
    secretFile(`${ETCD_DIR}/server.key`, b.certs.server.key),
    publicFile(`${ETCD_DIR}/peer.crt`, b.certs.peer.cert),
    secretFile(`${ETCD_DIR}/peer.key`, b.certs.peer.key),
  ];
  const unit: ServiceUnit = {
    name: 'etcd.service',
    description: `etcd member ${b.member.name}`,
    exec: '/usr/local/bin/etcd',
    args: etcdArgs(b),
    // A founding member's start (Type=notify) ends only once the cluster has quorum: with systemd's
    // default 90 s start timeout, a member whose peers booted later was killed and cloud-init ended in
    // error (seen on a real machine, test/integration/machines-etcd.test.ts). No start timeout, as etcd's
    // own multi-node units have (etcd-io/etcd contrib/systemd/etcd3-multinode/README.md: TimeoutStartSec=0);
    // the install script bounds the wait instead (START_WINDOW_S).
    service: { Type: 'notify', TimeoutStartSec: '0', LimitNOFILE: '65536' },
  };
  if (b.restore) files.push(...etcdRestoreFiles(b.restore, { name: b.member.name, initialCluster: etcdArgs(b).find((a) => a.startsWith('--initial-cluster='))!.slice('--initial-cluster='.length), peerURL: `https://${b.member.address}:2380`, token: b.token }));
  const install = renderInstallScript({
    artifacts: [etcdArtifact(b.version)],
    prepare: [`install -d -m 0700 ${ETCD_DATA_DIR}`],
    // After etcdutl is installed, before etcd starts.
    beforeStart: b.restore ? [ETCD_RESTORE_SCRIPT] : [],
    units: [NODE_ENV_UNIT, 'etcd.service'],
  });
  return finish('etcd', b.member.name, files, [unit], install);
}

// ------------------------------------------------------------------------------- Kubernetes nodes

export interface NetworkSettings {
  podCIDR: string;
  serviceCIDR: string;
  clusterDomain: string;
  /** Tenth address of the service range. */
  clusterDNS: string;
}

const K = '/var/lib/kubernetes';
const KUBELET = '/var/lib/kubelet';
const PROXY = '/var/lib/kube-proxy';
/**
 * Where kubelet keeps its current client certificate and key, one file, in its --cert-dir (default
 * /var/lib/kubelet/pki; kubernetes/website .../kubelet-tls-bootstrapping.md names kubelet-client-current.pem).
 */
const KUBELET_CLIENT_PEM = `${KUBELET}/pki/kubelet-client-current.pem`;

interface NodeCommon {
  node: MachineIdentity;
  version: string;
  /** https URL of the API the kubelet and kube-proxy talk to. */
  apiServer: string;
  clusterName: string;
  caCert: string;
  /**
   * How kubelet and kube-proxy authenticate: certificates made by the operator (control-plane nodes), or a
   * bootstrap token with which kubelet asks for its own (workers; kube-proxy then uses the kubelet's).
   */
  identity: { kind: 'certificates'; kubelet: CertBundle; kubeProxy: CertBundle } | { kind: 'bootstrap'; token: string };
  network: NetworkSettings;
  nodeLabels?: Record<string, string>;
  nodeTaints?: { key: string; value?: string; effect: string }[];
  /** Digests of pinned downloads (default: upstream's; see nodeArtifacts). */
  pins?: PinnedDigests;
}

const fileKubeconfig = (clusterName: string, user: string, server: string, dir: string, name: string) =>
  renderKubeconfig({ cluster: clusterName, user, server, credentials: { kind: 'files', caFile: `${dir}/ca.crt`, certFile: `${dir}/${name}.crt`, keyFile: `${dir}/${name}.key` } });

/** kubelet, kube-proxy, containerd and flannel: what every Kubernetes node runs. */
function nodeParts(c: NodeCommon): { files: NodeFile[]; units: ServiceUnit[] } {
  const files = [
    { path: METADATA_BLOCK_SCRIPT, content: metadataBlockScript, permissions: '0755' } as NodeFile,
    publicFile(`/etc/systemd/system/${METADATA_BLOCK_UNIT}`, metadataBlockUnit),
    publicFile('/etc/modules-load.d/kubernetes.conf', modulesConf),
    publicFile('/etc/sysctl.d/90-kubernetes.conf', sysctlConf),
    publicFile('/etc/containerd/config.toml', containerdConfig),
    publicFile('/etc/cni/net.d/10-flannel.conflist', cniConfig),
    publicFile('/etc/kube-flannel/net-conf.json', flannelNetConf(c.network.podCIDR)),
    publicFile(`${KUBELET}/pki/ca.crt`, c.caCert),
    ...(c.identity.kind === 'certificates'
      ? [
          handedOverFile(`${KUBELET}/pki/kubelet.crt`, c.identity.kubelet.cert, '0644'),
          handedOverFile(`${KUBELET}/pki/kubelet.key`, c.identity.kubelet.key),
          secretFile(`${KUBELET}/kubeconfig`, fileKubeconfig(c.clusterName, `system:node:${c.node.name}`, c.apiServer, `${KUBELET}/pki`, 'kubelet')),
          publicFile(`${PROXY}/ca.crt`, c.caCert),
          handedOverFile(`${PROXY}/kube-proxy.crt`, c.identity.kubeProxy.cert, '0644'),
          handedOverFile(`${PROXY}/kube-proxy.key`, c.identity.kubeProxy.key),
          secretFile(`${PROXY}/kubeconfig`, fileKubeconfig(c.clusterName, 'system:kube-proxy', c.apiServer, PROXY, 'kube-proxy')),
        ]
      : [
          // kubelet writes ${KUBELET}/kubeconfig itself once its certificate is issued.
          secretFile(`${KUBELET}/bootstrap-kubeconfig`, renderKubeconfig({ cluster: c.clusterName, user: 'kubelet-bootstrap', server: c.apiServer, credentials: { kind: 'token', caFile: `${KUBELET}/pki/ca.crt`, token: c.identity.token } })),
          // The node's own credential, which kubelet keeps current (rotation): nothing shared between nodes.
          secretFile(
            `${PROXY}/kubeconfig`,
            renderKubeconfig({ cluster: c.clusterName, user: `system:node:${c.node.name}`, server: c.apiServer, credentials: { kind: 'files', caFile: `${KUBELET}/pki/ca.crt`, certFile: KUBELET_CLIENT_PEM, keyFile: KUBELET_CLIENT_PEM } }),
          ),
        ]),
    publicFile(
      `${KUBELET}/config.yaml`,
      kubeletConfig({ nodeName: c.node.name, clusterDNS: c.network.clusterDNS, clusterDomain: c.network.clusterDomain, certDir: `${KUBELET}/pki`, taints: c.nodeTaints, bootstrap: c.identity.kind === 'bootstrap' }),
    ),
    publicFile(`${PROXY}/config.yaml`, kubeProxyConfig({ kubeconfig: `${PROXY}/kubeconfig`, clusterCIDR: c.network.podCIDR })),
  ];
  const bootstrap = c.identity.kind === 'bootstrap';
  // Control-plane nodes: their keys arrive after boot (handover.ts); what uses them waits.
  const handOver = c.identity.kind === 'certificates' ? { after: [HANDOVER_UNIT], requires: [HANDOVER_UNIT] } : { after: [], requires: [] };
  // Started before kubelet has its certificate, they would fail and be restarted until it has: wait instead.
  const waitFor = (file: string) => ({ ExecStartPre: `/bin/sh -c 'until [ -s ${file} ]; do sleep 1; done'`, TimeoutStartSec: '900' });
  const labels = Object.entries(c.nodeLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  const units: ServiceUnit[] = [
    {
      name: 'containerd.service',
      description: 'containerd container runtime',
      exec: '/usr/local/bin/containerd',
      args: ['--config=/etc/containerd/config.toml'],
      // No container starts before pods are kept from the metadata service.
      after: [METADATA_BLOCK_UNIT],
      requires: [METADATA_BLOCK_UNIT],
      service: { Type: 'notify', Delegate: 'yes', KillMode: 'process', LimitNOFILE: 'infinity', OOMScoreAdjust: '-999' },
    },
    {
      name: 'kubelet.service',
      description: 'Kubernetes kubelet',
      exec: '/usr/local/bin/kubelet',
      args: [
        `--config=${KUBELET}/config.yaml`,
        ...(bootstrap ? [`--bootstrap-kubeconfig=${KUBELET}/bootstrap-kubeconfig`] : []),
        `--kubeconfig=${KUBELET}/kubeconfig`,
        `--hostname-override=${c.node.name}`,
        '--node-ip=${PRIVATE_IPV4}',
        ...(labels.length ? [`--node-labels=${labels.join(',')}`] : []),
      ],
      after: ['containerd.service', METADATA_BLOCK_UNIT, ...handOver.after],
      requires: ['containerd.service', METADATA_BLOCK_UNIT, ...handOver.requires],
    },
    {
      name: 'kube-proxy.service',
      description: 'Kubernetes kube-proxy',
      exec: '/usr/local/bin/kube-proxy',
      args: [`--config=${PROXY}/config.yaml`, `--hostname-override=${c.node.name}`],
      ...handOver,
      ...(bootstrap ? { service: waitFor(KUBELET_CLIENT_PEM) } : {}),
    },
    {
      name: 'flanneld.service',
      description: 'flannel pod network (VXLAN)',
      exec: '/usr/local/bin/flanneld',
      args: ['--kube-subnet-mgr', `--kubeconfig-file=${KUBELET}/kubeconfig`, '--iface=${PRIVATE_IPV4}', '--ip-masq', '--net-config-path=/etc/kube-flannel/net-conf.json'],
      environment: { NODE_NAME: c.node.name },
      after: ['kubelet.service', ...handOver.after],
      requires: handOver.requires,
      ...(bootstrap ? { service: waitFor(`${KUBELET}/kubeconfig`) } : {}),
    },
  ];
  return { files, units };
}

const NODE_PREPARE = ['modprobe overlay', 'modprobe br_netfilter', 'sysctl --system >/dev/null', 'swapoff -a', 'install -d /opt/cni/bin /var/log/kubernetes'];

export type WorkerBootstrap = Omit<NodeCommon, 'identity'> & {
  /** "<id>.<secret>": kubelet's only credential until its own certificate is issued. */
  bootstrapToken: string;
};

export function renderWorker(w: WorkerBootstrap): RenderedNode {
  const { files, units } = nodeParts({ ...w, identity: { kind: 'bootstrap', token: w.bootstrapToken } });
  const install = renderInstallScript({ artifacts: nodeArtifacts(w.version, 'worker', w.pins), prepare: NODE_PREPARE, units: [NODE_ENV_UNIT, METADATA_BLOCK_UNIT, ...units.map((u) => u.name)] });
  return finish('worker', w.node.name, files, units, install);
}

export interface ControlPlaneBootstrap extends Omit<NodeCommon, 'caCert' | 'identity'> {
  kubelet: CertBundle;
  kubeProxy: CertBundle;
  /** The Kubernetes CA with its key: controller-manager signs with it. */
  ca: CertBundle;
  etcdCA: string;
  frontProxyCA: string;
  etcdEndpoints: string[];
  serviceAccount: KeyPair;
  /** https URL of the cluster endpoint; also the service-account token issuer. */
  endpoint: string;
  leaves: {
    apiserver: CertBundle;
    apiserverKubeletClient: CertBundle;
    apiserverEtcdClient: CertBundle;
    frontProxyClient: CertBundle;
    controllerManager: CertBundle;
    scheduler: CertBundle;
    serving: CertBundle;
  };
  /** Keys for Secrets at rest, the writer first (src/pki/encryption.ts); none: not encrypted. */
  encryption?: EncryptionKey[];
  audit: boolean;
  /** How the operator reaches the node to hand over its keys (handover.ts). */
  access: HandOverAccess;
}

export function renderControlPlane(cp: ControlPlaneBootstrap): RenderedNode {
  const local = 'https://127.0.0.1:6443';
  const { files: nodeFiles, units: nodeUnits } = nodeParts({
    ...cp,
    caCert: cp.ca.cert,
    identity: { kind: 'certificates', kubelet: cp.kubelet, kubeProxy: cp.kubeProxy },
    apiServer: local,
    nodeTaints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }, ...(cp.nodeTaints ?? [])],
  });
  // Handed over as pairs: a shared leaf re-issued between the droplet's create and the hand-over still
  // matches its key.
  const pair = (name: string, b: CertBundle) => [handedOverFile(`${K}/${name}.crt`, b.cert, '0644'), handedOverFile(`${K}/${name}.key`, b.key)];
  const files: NodeFile[] = [
    ...handOverFiles(cp.access),
    publicFile(`${K}/ca.crt`, cp.ca.cert),
    handedOverFile(`${K}/ca.key`, cp.ca.key),
    publicFile(`${K}/etcd-ca.crt`, cp.etcdCA),
    publicFile(`${K}/front-proxy-ca.crt`, cp.frontProxyCA),
    ...pair('apiserver', cp.leaves.apiserver),
    ...pair('apiserver-kubelet-client', cp.leaves.apiserverKubeletClient),
    ...pair('apiserver-etcd-client', cp.leaves.apiserverEtcdClient),
    ...pair('front-proxy-client', cp.leaves.frontProxyClient),
    ...pair('controller-manager', cp.leaves.controllerManager),
    ...pair('scheduler', cp.leaves.scheduler),
    ...pair('serving', cp.leaves.serving),
    handedOverFile(`${K}/service-account.key`, cp.serviceAccount.privateKeyPem),
    publicFile(`${K}/service-account.pub`, cp.serviceAccount.publicKeyPem),
    secretFile(`${K}/controller-manager.kubeconfig`, fileKubeconfig(cp.clusterName, 'system:kube-controller-manager', local, K, 'controller-manager')),
    secretFile(`${K}/scheduler.kubeconfig`, fileKubeconfig(cp.clusterName, 'system:kube-scheduler', local, K, 'scheduler')),
    publicFile(
      `${K}/kube-scheduler.yaml`,
      stringify({ apiVersion: 'kubescheduler.config.k8s.io/v1', kind: 'KubeSchedulerConfiguration', clientConnection: { kubeconfig: `${K}/scheduler.kubeconfig` }, leaderElection: { leaderElect: true } }),
    ),
    ...(cp.encryption?.length ? [handedOverFile(`${K}/encryption-config.yaml`, encryptionConfig(cp.encryption))] : []),
    ...(cp.audit ? [publicFile(`${K}/audit-policy.yaml`, auditPolicy)] : []),
    ...nodeFiles,
  ];
  const healthPaths = '--authorization-always-allow-paths=/healthz,/readyz,/livez';
  const units: ServiceUnit[] = [
    {
      name: 'kube-apiserver.service',
      description: 'Kubernetes API server',
      exec: '/usr/local/bin/kube-apiserver',
      args: [
        '--advertise-address=${PRIVATE_IPV4}',
        '--bind-address=0.0.0.0',
        '--secure-port=6443',
        '--allow-privileged=true',
        '--authorization-mode=Node,RBAC',
        '--enable-admission-plugins=NodeRestriction',
        // Workers join with bootstrap tokens (kube-system Secrets the operator makes and deletes); the flag
        // as kubernetes/website content/en/docs/reference/access-authn-authz/bootstrap-tokens.md gives it.
        '--enable-bootstrap-token-auth=true',
        `--client-ca-file=${K}/ca.crt`,
        `--tls-cert-file=${K}/apiserver.crt`,
        `--tls-private-key-file=${K}/apiserver.key`,
        `--etcd-servers=${cp.etcdEndpoints.join(',')}`,
        `--etcd-cafile=${K}/etcd-ca.crt`,
        `--etcd-certfile=${K}/apiserver-etcd-client.crt`,
        `--etcd-keyfile=${K}/apiserver-etcd-client.key`,
        `--kubelet-client-certificate=${K}/apiserver-kubelet-client.crt`,
        `--kubelet-client-key=${K}/apiserver-kubelet-client.key`,
        '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname',
        `--service-account-issuer=${cp.endpoint}`,
        `--service-account-key-file=${K}/service-account.pub`,
        `--service-account-signing-key-file=${K}/service-account.key`,
        `--service-cluster-ip-range=${cp.network.serviceCIDR}`,
        `--requestheader-client-ca-file=${K}/front-proxy-ca.crt`,
        '--requestheader-allowed-names=front-proxy-client',
        '--requestheader-extra-headers-prefix=X-Remote-Extra-',
        '--requestheader-group-headers=X-Remote-Group',
        '--requestheader-username-headers=X-Remote-User',
        `--proxy-client-cert-file=${K}/front-proxy-client.crt`,
        `--proxy-client-key-file=${K}/front-proxy-client.key`,
        ...(cp.encryption?.length ? [`--encryption-provider-config=${K}/encryption-config.yaml`] : []),
        ...(cp.audit
          ? [`--audit-policy-file=${K}/audit-policy.yaml`, '--audit-log-path=/var/log/kubernetes/audit.log', '--audit-log-maxage=7', '--audit-log-maxbackup=5', '--audit-log-maxsize=100']
          : []),
      ],
      after: [HANDOVER_UNIT],
      requires: [HANDOVER_UNIT],
      service: { LimitNOFILE: '65536' },
    },
    {
      name: 'kube-controller-manager.service',
      description: 'Kubernetes controller manager',
      exec: '/usr/local/bin/kube-controller-manager',
      args: [
        `--kubeconfig=${K}/controller-manager.kubeconfig`,
        `--authentication-kubeconfig=${K}/controller-manager.kubeconfig`,
        `--authorization-kubeconfig=${K}/controller-manager.kubeconfig`,
        '--bind-address=0.0.0.0',
        `--tls-cert-file=${K}/serving.crt`,
        `--tls-private-key-file=${K}/serving.key`,
        healthPaths,
        `--cluster-name=${cp.clusterName}`,
        '--allocate-node-cidrs=true',
        `--cluster-cidr=${cp.network.podCIDR}`,
        '--node-cidr-mask-size=24',
        `--service-cluster-ip-range=${cp.network.serviceCIDR}`,
        `--cluster-signing-cert-file=${K}/ca.crt`,
        `--cluster-signing-key-file=${K}/ca.key`,
        `--root-ca-file=${K}/ca.crt`,
        `--service-account-private-key-file=${K}/service-account.key`,
        '--use-service-account-credentials=true',
        // Every default controller (CSR approval and signing among them) and the two bootstrap-token ones
        // that are off by default: tokencleaner deletes expired tokens (same page: both are named there as
        // controller-manager controllers to enable).
        '--controllers=*,bootstrapsigner,tokencleaner',
        '--leader-elect=true',
      ],
      after: ['kube-apiserver.service', HANDOVER_UNIT],
      requires: [HANDOVER_UNIT],
    },
    {
      name: 'kube-scheduler.service',
      description: 'Kubernetes scheduler',
      exec: '/usr/local/bin/kube-scheduler',
      args: [
        `--config=${K}/kube-scheduler.yaml`,
        `--authentication-kubeconfig=${K}/scheduler.kubeconfig`,
        `--authorization-kubeconfig=${K}/scheduler.kubeconfig`,
        '--bind-address=0.0.0.0',
        `--tls-cert-file=${K}/serving.crt`,
        `--tls-private-key-file=${K}/serving.key`,
        healthPaths,
      ],
      after: ['kube-apiserver.service', HANDOVER_UNIT],
      requires: [HANDOVER_UNIT],
    },
    ...nodeUnits,
  ];
  const install = renderInstallScript({ artifacts: nodeArtifacts(cp.version, 'control-plane', cp.pins), prepare: NODE_PREPARE, units: [NODE_ENV_UNIT, METADATA_BLOCK_UNIT, HANDOVER_UNIT, ...units.map((u) => u.name)] });
  return finish('control-plane', cp.node.name, files, units, install, handOverSshKeys(cp.access));
}
