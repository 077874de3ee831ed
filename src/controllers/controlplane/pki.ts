// A control plane's certificates and keys, each in a Secret it owns: the Kubernetes and front-proxy CAs
// (made once, never replaced), the service-account key pair and the encryption key (made once, shared by
// every node), the leaves every node shares (re-issued when a third of their life is left; the admin one
// at half-life), the admin kubeconfig, and per node the certificates only that node carries.
import type { KubeClient } from '../../kube/port.ts';
import { createCA, issueLeaf, earliestExpiry, type CertBundle, type PkiContext } from '../../pki/certs.ts';
import { controlPlaneLeafSpecs, kubeletSpec, FRONT_PROXY_SPECS, etcdLeafSpecs, type MachineIdentity } from '../../pki/profiles.ts';
import { renderKubeconfig } from '../../pki/kubeconfig.ts';
import type { KeyPair } from '../../pki/x509.ts';
import { getOrCreateSecret, ensureLeafSecret, putSecret, readSecret, type SecretObject } from '../secrets.ts';
import { Secrets } from '../../kube/resources.ts';
import type { ControlPlane } from '../../api/v1alpha1/index.ts';
import { initialEncryption, encryptionStateData, parseEncryptionState, type EncryptionState } from '../../pki/encryption.ts';
import type { Observed } from '../status.ts';
import { newSshKeyPair, type SshKeyPair } from '../../pki/ssh.ts';

type Obj = ControlPlane & Observed;

export const LEAVES = ['apiserver-kubelet-client', 'controller-manager', 'scheduler', 'kube-proxy', 'admin'] as const;

export interface SharedPki {
  ca: CertBundle;
  frontProxyCA: CertBundle;
  etcdCA: string;
  serviceAccount: KeyPair;
  /** Keys for Secrets at rest and where a rotation stands; undefined when the cluster is not encrypted. */
  encryption?: EncryptionState;
  leaves: Record<(typeof LEAVES)[number] | 'front-proxy-client' | 'apiserver-etcd-client', CertBundle>;
  /** The key the operator hands control-plane nodes their keys with (SFTP as root, nothing else). */
  handOverKey: SshKeyPair;
  /** What was issued in this pass, and why (for events). */
  issued: { name: string; reason: string }[];
}

export const caSecretName = (cp: string) => `${cp}-ca`;
export const leafSecretName = (cp: string, leaf: string) => `${cp}-${leaf}`;
export const kubeconfigSecretName = (cp: string) => `${cp}-kubeconfig`;

export interface PkiDeps {
  kube: KubeClient;
  ctx: PkiContext;
  randomBytes: (n: number) => Uint8Array;
}

const pairOf = (data: Record<string, string>): CertBundle => ({ cert: data['tls.crt']!, key: data['tls.key']!, ca: data['ca.crt'] ?? data['tls.crt']! });

/** Every shared certificate and key, made or renewed as needed. etcdCA is the EtcdCluster's CA (with key). */
export async function sharedPki(d: PkiDeps, o: Obj, etcdCA: CertBundle, identity: { kubernetesServiceIP: string }): Promise<SharedPki> {
  const name = o.metadata.name;
  const labels = { 'hardway.dev/controlplane': name };
  const ca = pairOf(
    (await getOrCreateSecret(d.kube, o, caSecretName(name), () => {
      const b = createCA(`kubernetes-ca ${o.metadata.namespace}/${name}`, d.ctx);
      return { 'tls.crt': b.cert, 'tls.key': b.key, 'ca.crt': b.cert };
    }, labels)).data,
  );
  const frontProxyCA = pairOf(
    (await getOrCreateSecret(d.kube, o, leafSecretName(name, 'front-proxy-ca'), () => {
      const b = createCA(`front-proxy-ca ${o.metadata.namespace}/${name}`, d.ctx);
      return { 'tls.crt': b.cert, 'tls.key': b.key, 'ca.crt': b.cert };
    }, labels)).data,
  );
  const sa = (await getOrCreateSecret(d.kube, o, leafSecretName(name, 'service-account'), () => {
    const k = d.ctx.newKey();
    return { 'sa.key': k.privateKeyPem, 'sa.pub': k.publicKeyPem };
  }, labels)).data;
  const hk = (await getOrCreateSecret(d.kube, o, leafSecretName(name, 'handover'), () => {
    const k = newSshKeyPair(d.randomBytes, `hardway-handover ${o.metadata.namespace}/${name}`);
    return { 'ssh-privatekey': k.privateKey, 'ssh-publickey': k.publicKey };
  }, labels)).data;
  // Made only when encryption is asked for; once made, kept and used (turning encryption off later would
  // leave API servers unable to read what is stored).
  const encName = leafSecretName(name, 'encryption');
  const enc = o.spec.encryptionAtRest
    ? (await getOrCreateSecret(d.kube, o, encName, () => encryptionStateData(initialEncryption(o.spec.encryptionKeyGeneration ?? 0, d.randomBytes(32))), labels)).data
    : await readSecret(d.kube, o.metadata.namespace, encName);
  const specs = controlPlaneLeafSpecs({ endpointHost: o.spec.endpoint.host, nodes: [], kubernetesServiceIP: identity.kubernetesServiceIP, clusterDomain: o.spec.network.clusterDomain });
  const issued: SharedPki['issued'] = [];
  const leaves = {} as SharedPki['leaves'];
  const leaf = async (key: keyof SharedPki['leaves'], issuer: CertBundle, spec: Parameters<typeof issueLeaf>[1], renewWhenLeft?: number) => {
    const r = await ensureLeafSecret(d.kube, o, leafSecretName(name, key), issuer, spec, d.ctx, { labels, renewWhenLeft });
    leaves[key] = r.bundle;
    if (r.issued) issued.push({ name: key, reason: r.issued });
  };
  for (const l of LEAVES) await leaf(l, ca, specs[l]!, l === 'admin' ? 1 / 2 : undefined);
  await leaf('front-proxy-client', frontProxyCA, FRONT_PROXY_SPECS['front-proxy-client']!);
  await leaf('apiserver-etcd-client', etcdCA, etcdLeafSpecs([])['etcd-client-apiserver']!);
  return {
    ca,
    frontProxyCA,
    etcdCA: etcdCA.cert,
    serviceAccount: { privateKeyPem: sa['sa.key']!, publicKeyPem: sa['sa.pub']! } as KeyPair,
    encryption: enc ? parseEncryptionState(enc) : undefined,
    leaves,
    handOverKey: { privateKey: hk['ssh-privatekey']!, publicKey: hk['ssh-publickey']! },
    issued,
  };
}

/** The admin kubeconfig in <name>-kubeconfig (key "value"), rewritten when its certificate or endpoint changes. */
export async function ensureKubeconfig(kube: KubeClient, o: Obj, pki: SharedPki): Promise<boolean> {
  const value = renderKubeconfig({
    cluster: o.metadata.name,
    user: 'admin',
    server: `https://${o.spec.endpoint.host}:6443`,
    credentials: { kind: 'embedded', caPem: pki.ca.cert, certPem: pki.leaves.admin.cert, keyPem: pki.leaves.admin.key },
  });
  const name = kubeconfigSecretName(o.metadata.name);
  const existing = await kube.tryGet<SecretObject>(Secrets, { namespace: o.metadata.namespace, name });
  if (existing && Buffer.from(existing.data?.value ?? '', 'base64').toString('utf8') === value) return false;
  await putSecret(kube, o, name, { value }, { 'hardway.dev/controlplane': o.metadata.name }, existing);
  return true;
}

export interface NodePki {
  apiserver: CertBundle;
  serving: CertBundle;
  kubelet: CertBundle;
  /** The node's SSH host key, which the operator pins for the hand-over (absent on nodes made before it). */
  hostKey?: SshKeyPair;
  /** Earliest notAfter of every certificate baked into the node (its own and the shared ones). */
  notAfter: Date;
}

/**
 * The certificates only one control-plane node carries, in the Secret named after it. Made once when the
 * machine is created; the shared leaves' earliest expiry at that moment is kept with them, so the node
 * can be replaced before anything it carries expires.
 */
export async function nodePki(d: PkiDeps, o: Obj, pki: SharedPki, node: MachineIdentity, kubernetesServiceIP: string): Promise<NodePki> {
  const data = (await getOrCreateSecret(d.kube, o, node.name, () => {
    const specs = controlPlaneLeafSpecs({ endpointHost: o.spec.endpoint.host, nodes: [node], kubernetesServiceIP, clusterDomain: o.spec.network.clusterDomain });
    const apiserver = issueLeaf(pki.ca, specs.apiserver!, d.ctx);
    const serving = issueLeaf(pki.ca, specs[`serving-${node.name}`]!, d.ctx);
    const kubelet = issueLeaf(pki.ca, kubeletSpec(node), d.ctx);
    // The admin certificate is not on nodes; everything else shared is.
    const shared = Object.fromEntries(Object.entries(pki.leaves).filter(([k]) => k !== 'admin').map(([k, v]) => [k, v.cert]));
    const notAfter = earliestExpiry({ ...shared, apiserver: apiserver.cert, serving: serving.cert, kubelet: kubelet.cert })!.notAfter;
    return {
      'apiserver.crt': apiserver.cert,
      'apiserver.key': apiserver.key,
      'serving.crt': serving.cert,
      'serving.key': serving.key,
      'kubelet.crt': kubelet.cert,
      'kubelet.key': kubelet.key,
      'not-after': notAfter.toISOString(),
      ...(() => {
        const h = newSshKeyPair(d.randomBytes, `root@${node.name}`);
        return { 'ssh-host-key': h.privateKey, 'ssh-host-key.pub': h.publicKey };
      })(),
    };
  }, { 'hardway.dev/controlplane': o.metadata.name, 'hardway.dev/machine': node.name })).data;
  const b = (p: string): CertBundle => ({ cert: data[`${p}.crt`]!, key: data[`${p}.key`]!, ca: pki.ca.cert });
  const hostKey = data['ssh-host-key'] && data['ssh-host-key.pub'] ? { privateKey: data['ssh-host-key'], publicKey: data['ssh-host-key.pub'] } : undefined;
  return { apiserver: b('apiserver'), serving: b('serving'), kubelet: b('kubelet'), hostKey, notAfter: new Date(data['not-after']!) };
}

/** The notAfter a node's Secret records, without reading certificates (undefined: no Secret). */
export async function nodeNotAfter(kube: KubeClient, namespace: string | undefined, machine: string): Promise<Date | undefined> {
  const data = await readSecret(kube, namespace, machine);
  return data?.['not-after'] ? new Date(data['not-after']) : undefined;
}
