// Certificate Secrets owned by the object that needs them: deleted with it by garbage collection, and
// labelled so a person can find them. Get-or-create: a CA is never replaced while its Secret exists.
import type { KubeClient, KObject } from '../kube/port.ts';
import { Secrets } from '../kube/resources.ts';
import { isConflict } from '../kube/errors.ts';
import { API_VERSION } from '../api/v1alpha1/kind.ts';
import { issueLeaf, reissueReason, type CertBundle, type LeafSpec, type PkiContext } from '../pki/certs.ts';

export type SecretObject = KObject & { data?: Record<string, string>; type?: string };

export function ownerReference(owner: KObject) {
  return { apiVersion: owner.apiVersion ?? API_VERSION, kind: owner.kind ?? '', name: owner.metadata.name, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/** The Secret's data (decoded) if it exists, else the result of make(), stored first. */
export async function getOrCreateSecret(
  kube: KubeClient,
  owner: KObject,
  name: string,
  make: () => Record<string, string>,
  labels: Record<string, string> = {},
): Promise<{ data: Record<string, string>; created: boolean }> {
  const namespace = owner.metadata.namespace;
  const existing = await kube.tryGet<SecretObject>(Secrets, { namespace, name });
  if (existing) return { data: decode(existing), created: false };
  const data = make();
  try {
    await kube.create<SecretObject>(Secrets, {
      metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'hardway', ...labels }, ownerReferences: [ownerReference(owner)] },
      type: 'Opaque',
      data: encode(data),
    });
    return { data, created: true };
  } catch (e) {
    // Created meanwhile (another replica before it lost the lease): use that one, never ours.
    if (!isConflict(e)) throw e;
    return { data: decode(await kube.get<SecretObject>(Secrets, { namespace, name })), created: false };
  }
}

const decode = (s: SecretObject) => Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
const encode = (data: Record<string, string>) => Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));

/**
 * A leaf certificate kept in its own Secret (tls.crt, tls.key, ca.crt): issued when missing, re-issued
 * when its names, subject or CA changed or when less than renewWhenLeft of its life is left.
 * Returns the bundle and, when it issued, why.
 */
export async function ensureLeafSecret(
  kube: KubeClient,
  owner: KObject,
  name: string,
  ca: CertBundle,
  spec: LeafSpec,
  ctx: PkiContext,
  o: { labels?: Record<string, string>; renewWhenLeft?: number } = {},
): Promise<{ bundle: CertBundle; issued?: string }> {
  const namespace = owner.metadata.namespace;
  const existing = await kube.tryGet<SecretObject>(Secrets, { namespace, name });
  const data = existing ? decode(existing) : undefined;
  const current = data?.['tls.crt'] && data['tls.key'] ? { cert: data['tls.crt'], key: data['tls.key'], ca: data['ca.crt'] ?? ca.cert } : undefined;
  const reason = reissueReason(current, spec, ca, ctx.now, o.renewWhenLeft);
  if (!reason) return { bundle: current! };
  const leaf = issueLeaf(ca, spec, ctx);
  await putSecret(kube, owner, name, { 'tls.crt': leaf.cert, 'tls.key': leaf.key, 'ca.crt': ca.cert }, o.labels, existing);
  return { bundle: leaf, issued: reason };
}

/** Creates the Secret, or replaces its data (conditionally on the version read, so a race fails loudly). */
export async function putSecret(kube: KubeClient, owner: KObject, name: string, data: Record<string, string>, labels: Record<string, string> = {}, existing?: SecretObject): Promise<void> {
  const metadata = { name, namespace: owner.metadata.namespace, labels: { 'app.kubernetes.io/managed-by': 'hardway', ...labels }, ownerReferences: [ownerReference(owner)] };
  if (existing) await kube.replace<SecretObject>(Secrets, { ...existing, metadata: { ...existing.metadata, labels: metadata.labels }, data: encode(data) });
  else await kube.create<SecretObject>(Secrets, { metadata, type: 'Opaque', data: encode(data) });
}

/** A Secret's data decoded, or undefined. */
export async function readSecret(kube: KubeClient, namespace: string | undefined, name: string): Promise<Record<string, string> | undefined> {
  const s = await kube.tryGet<SecretObject>(Secrets, { namespace, name });
  return s ? decode(s) : undefined;
}
