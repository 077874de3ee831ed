// DigitalOcean tags the operator puts on droplets. DO tags allow letters, digits, "_", "-" and ":" only.
// Status can be rebuilt from these alone: owner (object UID), machine name and version.

/** On every droplet the operator creates: the fleet listing is one listing of this tag. */
export const FLEET_TAG = 'hardway';

export const ownerTag = (uid: string): string => `hardway:owner:${uid}`;
export const machineTag = (name: string): string => `hardway:machine:${name}`;
/** Versions have dots, which tags do not allow: 3.5.21 → 3-5-21. */
export const versionTag = (version: string): string => `hardway:version:${version.replace(/\./g, '-')}`;
/** Put on control-plane droplets so the etcd firewall can let them in by tag. */
export const etcdClientTag = (etcdUid: string): string => `hardway:etcd-client:${etcdUid}`;

/** On every control-plane and worker droplet of one Kubernetes cluster (the ControlPlane's UID): firewalls admit the cluster by it. */
export const clusterTag = (controlPlaneUid: string): string => `hardway:cluster:${controlPlaneUid}`;
/** Control-plane droplets behind the load balancer carry it; taking it off takes a node out of rotation. */
export const loadBalancerTag = (controlPlaneUid: string): string => `hardway:lb:${controlPlaneUid}`;

/**
 * On control-plane droplets given the etcd cluster endpoint (`<etcd>-etcd.<zone>`, whose records follow the
 * members) rather than members' names: those without it are stale once the EtcdCluster publishes one.
 */
export const ETCD_ENDPOINT_TAG = 'hardway:etcd-endpoint:cluster';

/**
 * Which encryption-at-rest configuration a control-plane node was made with (src/pki/encryption.ts
 * encryptionConfigId: key names, providers and order, never keys): nodes with another one are replaced.
 */
export const encryptionTag = (configId: string): string => `hardway:encryption:${configId}`;

/** Put on a droplet whose removal has started (out of rotation, draining): a level the next reconcile reads. */
export const REMOVING_TAG = 'hardway:removing';

export function tagValue(tags: string[], prefix: 'hardway:machine:' | 'hardway:version:' | 'hardway:encryption:'): string | undefined {
  const t = tags.find((x) => x.startsWith(prefix));
  if (!t) return undefined;
  const v = t.slice(prefix.length);
  return prefix === 'hardway:version:' ? v.replace(/-/g, '.') : v;
}

/**
 * A control-plane droplet made to receive its keys after boot (docs/security.md); the second tag once the
 * operator has handed them over. A droplet with neither predates the hand-over: its keys are in its
 * user-data, and it is replaced.
 */
export const HANDOVER_TAG = 'hardway:handover';
export const HANDED_OVER_TAG = 'hardway:handed-over';
