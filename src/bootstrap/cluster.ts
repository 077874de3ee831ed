// A whole cluster's machines and user-data from its three objects: what `hardway render` prints.
import type { EtcdCluster, ControlPlane, WorkerPool } from '../api/v1alpha1/index.ts';
import { dropletName } from '../api/v1alpha1/names.ts';
import { parseCidr, nthAddress, type Cidr } from '../api/v1alpha1/cidr.ts';
import { componentsFor, type PinnedDigests } from './manifest.ts';
import { buildClusterPki, type ClusterPki } from '../pki/cluster.ts';
import type { PkiContext } from '../pki/certs.ts';
import type { MachineIdentity } from '../pki/profiles.ts';
import { renderEtcdMember, renderControlPlane, renderWorker, type RenderedNode } from './roles.ts';
import { PREFERRED_PROVIDER } from '../pki/encryption.ts';
import { newBootstrapToken, tokenString, type BootstrapToken } from '../pki/bootstrap-token.ts';
import { newSshKeyPair, type SshKeyPair } from '../pki/ssh.ts';

export interface ClusterDescription {
  etcd: EtcdCluster;
  controlPlane: ControlPlane;
  workerPools: WorkerPool[];
}

export interface RenderContext extends PkiContext {
  randomBytes: (n: number) => Uint8Array;
}

const identity = (name: string, zone: string): MachineIdentity => ({ name, address: `${name}.${zone}` });

/**
 * tokens: the workers' bootstrap tokens, which must exist in the cluster (kube-system Secrets) before the
 * workers boot; the operator makes them itself. handOverKey: the key that may write control-plane nodes'
 * keys over SFTP (their `handOver` files), as the operator does.
 */
export function renderCluster(d: ClusterDescription, ctx: RenderContext, o: { pins?: PinnedDigests } = {}): { pki: ClusterPki; nodes: RenderedNode[]; tokens: BootstrapToken[]; handOverKey: SshKeyPair } {
  const tokens: BootstrapToken[] = [];
  const handOverKey = newSshKeyPair(ctx.randomBytes, `hardway-handover ${d.controlPlane.metadata.namespace ?? 'default'}/${d.controlPlane.metadata.name}`);
  const { etcd, controlPlane: cp } = d;
  const etcdMembers = Array.from({ length: etcd.spec.replicas }, () => identity(dropletName(etcd.metadata.name, 'EtcdCluster', ctx.randomBytes(5)), etcd.spec.dns.zone));
  const cpNodes = Array.from({ length: cp.spec.replicas }, () => identity(dropletName(cp.metadata.name, 'ControlPlane', ctx.randomBytes(5)), cp.spec.dns.zone));
  const workers = d.workerPools.flatMap((wp) =>
    Array.from({ length: wp.spec.replicas }, () => ({ pool: wp, id: identity(dropletName(wp.metadata.name, 'WorkerPool', ctx.randomBytes(5)), cp.spec.dns.zone) })),
  );
  const serviceRange = parseCidr(cp.spec.network.serviceCIDR) as Cidr;
  const network = {
    podCIDR: cp.spec.network.podCIDR,
    serviceCIDR: cp.spec.network.serviceCIDR,
    clusterDomain: cp.spec.network.clusterDomain,
    clusterDNS: nthAddress(serviceRange, 10),
  };
  const pki = buildClusterPki(
    {
      etcdMembers,
      controlPlane: { endpointHost: cp.spec.endpoint.host, nodes: cpNodes, kubernetesServiceIP: nthAddress(serviceRange, 1), clusterDomain: network.clusterDomain },
    },
    ctx,
  );
  componentsFor(cp.spec.version); // fail early on an unsupported version
  const endpoint = `https://${cp.spec.endpoint.host}:6443`;
  const nodes: RenderedNode[] = [];
  for (const m of etcdMembers) {
    nodes.push(
      renderEtcdMember({
        member: m,
        cluster: etcdMembers,
        token: etcd.metadata.uid ?? etcd.metadata.name,
        state: 'new',
        version: etcd.spec.version,
        // A new cluster: peers trust the peer CA alone (no member predates it).
        certs: { ca: pki.etcdCA.cert, peerCA: pki.etcdPeerCA.cert, server: pki.etcd[`etcd-server-${m.name}`]!, peer: pki.etcdPeer[`etcd-peer-${m.name}`]! },
      }),
    );
  }
  const k = pki.kubernetes;
  for (const n of cpNodes) {
    nodes.push(
      renderControlPlane({
        node: n,
        version: cp.spec.version,
        apiServer: endpoint,
        endpoint,
        clusterName: cp.metadata.name,
        ca: pki.kubernetesCA,
        etcdCA: pki.etcdCA.cert,
        frontProxyCA: pki.frontProxyCA.cert,
        etcdEndpoints: etcdMembers.map((m) => `https://${m.address}:2379`),
        serviceAccount: pki.serviceAccount,
        kubelet: k[`kubelet-${n.name}`]!,
        kubeProxy: k['kube-proxy']!,
        network,
        leaves: {
          apiserver: k.apiserver!,
          apiserverKubeletClient: k['apiserver-kubelet-client']!,
          apiserverEtcdClient: pki.etcd['etcd-client-apiserver']!,
          frontProxyClient: pki.frontProxy['front-proxy-client']!,
          controllerManager: k['controller-manager']!,
          scheduler: k.scheduler!,
          serving: k[`serving-${n.name}`]!,
        },
        encryption: cp.spec.encryptionAtRest ? [{ name: 'key1', provider: PREFERRED_PROVIDER, secret: pki.encryptionKey }] : undefined,
        audit: cp.spec.audit,
        access: { hostKey: newSshKeyPair(ctx.randomBytes, `root@${n.name}`), operatorKey: handOverKey.publicKey },
        pins: o.pins,
      }),
    );
  }
  for (const { pool, id } of workers) {
    nodes.push(
      renderWorker({
        node: id,
        version: pool.spec.version ?? cp.spec.version,
        apiServer: endpoint,
        clusterName: cp.metadata.name,
        caCert: pki.kubernetesCA.cert,
        bootstrapToken: tokenString(tokens[tokens.push(newBootstrapToken(id.name, ctx.now, ctx.randomBytes)) - 1]!),
        network,
        nodeLabels: pool.spec.nodeLabels,
        nodeTaints: pool.spec.nodeTaints,
        pins: o.pins,
      }),
    );
  }
  return { pki, nodes, tokens, handOverKey };
}
