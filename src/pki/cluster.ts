// Every certificate and key a cluster needs, issued (or kept) in one go. Used by the renderer CLI and
// the bench; controllers do the same per Secret.
import { randomBytes } from 'node:crypto';
import { ensureCA, reconcileLeaves, type CertBundle, type PkiContext } from './certs.ts';
import { etcdLeafSpecs, etcdPeerLeafSpecs, controlPlaneLeafSpecs, FRONT_PROXY_SPECS, type MachineIdentity, type ControlPlaneIdentity } from './profiles.ts';
import { generateKey, type KeyPair } from './x509.ts';

export interface ClusterPki {
  /** etcd's client CA (client port 2379): API server and operator client certificates, member server certificates. */
  etcdCA: CertBundle;
  /** etcd's peer CA (peer port 2380): member peer certificates only. */
  etcdPeerCA: CertBundle;
  kubernetesCA: CertBundle;
  frontProxyCA: CertBundle;
  serviceAccount: KeyPair;
  /** 32 random bytes, base64: the key for Secrets at rest (src/pki/encryption.ts). */
  encryptionKey: string;
  etcd: Record<string, CertBundle>;
  etcdPeer: Record<string, CertBundle>;
  kubernetes: Record<string, CertBundle>;
  frontProxy: Record<string, CertBundle>;
}

export interface ClusterIdentities {
  etcdMembers: MachineIdentity[];
  controlPlane: ControlPlaneIdentity;
}

export function defaultPkiContext(now = new Date()): PkiContext {
  return { now, randomHex: (n) => randomBytes(n).toString('hex'), newKey: generateKey };
}

export function buildClusterPki(ids: ClusterIdentities, ctx: PkiContext, existing: Partial<ClusterPki> = {}): ClusterPki {
  const etcdCA = ensureCA(existing.etcdCA, 'etcd-ca', ctx).bundle;
  const etcdPeerCA = ensureCA(existing.etcdPeerCA, 'etcd-peer-ca', ctx).bundle;
  const kubernetesCA = ensureCA(existing.kubernetesCA, 'kubernetes-ca', ctx).bundle;
  const frontProxyCA = ensureCA(existing.frontProxyCA, 'front-proxy-ca', ctx).bundle;
  return {
    etcdCA,
    etcdPeerCA,
    kubernetesCA,
    frontProxyCA,
    serviceAccount: existing.serviceAccount ?? ctx.newKey(),
    encryptionKey: existing.encryptionKey ?? Buffer.from(ctx.randomHex(32), 'hex').toString('base64'),
    etcd: reconcileLeaves(existing.etcd ?? {}, etcdLeafSpecs(ids.etcdMembers), etcdCA, ctx).bundles,
    etcdPeer: reconcileLeaves(existing.etcdPeer ?? {}, etcdPeerLeafSpecs(ids.etcdMembers), etcdPeerCA, ctx).bundles,
    kubernetes: reconcileLeaves(existing.kubernetes ?? {}, controlPlaneLeafSpecs(ids.controlPlane), kubernetesCA, ctx).bundles,
    frontProxy: reconcileLeaves(existing.frontProxy ?? {}, FRONT_PROXY_SPECS, frontProxyCA, ctx).bundles,
  };
}
