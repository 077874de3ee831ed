// Names derived from an object's name. They decide how long object names may be.

/** Role part of droplet names: `<object>-<role>-<suffix>`. */
export const DROPLET_ROLE = {
  EtcdCluster: 'etcd',
  ControlPlane: 'cp',
  WorkerPool: 'worker',
} as const;

export const DROPLET_SUFFIX_LENGTH = 5;
/** A droplet name is also a node name and the first label of its DNS name: one DNS label. */
export const DNS_LABEL_MAX = 63;
export const DNS_NAME_MAX = 253;

export function maxObjectNameLength(kind: keyof typeof DROPLET_ROLE): number {
  return DNS_LABEL_MAX - DROPLET_ROLE[kind].length - DROPLET_SUFFIX_LENGTH - 2;
}

/** Longest zone for which `<droplet>.<zone>` is still a valid DNS name. */
export const MAX_ZONE_LENGTH = DNS_NAME_MAX - DNS_LABEL_MAX - 1;

/** Tag prefix reserved for ownership tags the operator writes; users may not use it. */
export const RESERVED_TAG_PREFIX = 'hardway';

const SUFFIX_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** `<object>-<role>-<5 random chars>`; randomness is an input (bytes → characters). */
export function dropletName(objectName: string, kind: keyof typeof DROPLET_ROLE, random: Uint8Array): string {
  const suffix = Array.from(random.slice(0, DROPLET_SUFFIX_LENGTH), (b) => SUFFIX_ALPHABET[b % SUFFIX_ALPHABET.length]).join('');
  return `${objectName}-${DROPLET_ROLE[kind]}-${suffix}`;
}
