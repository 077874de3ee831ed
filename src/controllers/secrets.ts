// Certificate Secrets owned by the object that needs them: deleted with it by garbage collection, and
// labelled so a person can find them. Get-or-create: a CA is never replaced while its Secret exists.
import type { KubeClient, KObject } from '../kube/port.ts';
import { Secrets } from '../kube/resources.ts';
import { isConflict } from '../kube/errors.ts';
import { API_VERSION } from '../api/v1alpha1/kind.ts';

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
  const decode = (s: SecretObject) => Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  const existing = await kube.tryGet<SecretObject>(Secrets, { namespace, name });
  if (existing) return { data: decode(existing), created: false };
  const data = make();
  try {
    await kube.create<SecretObject>(Secrets, {
      metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'hardway', ...labels }, ownerReferences: [ownerReference(owner)] },
      type: 'Opaque',
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    });
    return { data, created: true };
  } catch (e) {
    // Created meanwhile (another replica before it lost the lease): use that one, never ours.
    if (!isConflict(e)) throw e;
    return { data: decode(await kube.get<SecretObject>(Secrets, { namespace, name })), created: false };
  }
}
