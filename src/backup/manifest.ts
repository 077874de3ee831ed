// Where snapshots live in a bucket and the manifest stored beside each. A snapshot counts only once its
// manifest exists: the manifest is written after the object is complete, so an interrupted upload never
// has one. Pure.

export interface SnapshotManifest {
  /** Format of this file. */
  kind: 'hardway.dev/etcd-snapshot';
  version: 1;
  key: string;
  /** The cluster it came from (namespace/name) and its etcd cluster ID. */
  cluster: string;
  clusterID?: string;
  etcdVersion: string;
  /** Revision when the snapshot started: the snapshot holds at least this. */
  revision: string;
  size: number;
  /** SHA-256 of the whole object (etcd's own SHA-256 of the db is its last 32 bytes). */
  sha256: string;
  member: string;
  /** RFC 3339. */
  time: string;
}

export const MANIFEST_SUFFIX = '.manifest.json';

/** The default folder of a cluster's snapshots. */
export const defaultPrefix = (namespace: string, name: string) => `hardway/${namespace}/${name}/`;

/**
 * Object key of a snapshot taken at `at`: sortable by time, to the millisecond, so that two snapshots in
 * one second (a requested one right after a scheduled one) never share a key and overwrite each other.
 */
export function snapshotKey(prefix: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, '');
  return `${prefix}etcd-${stamp}.db`;
}

export const manifestKey = (snapshot: string) => `${snapshot}${MANIFEST_SUFFIX}`;

/** Parses a manifest; throws with what is wrong (a manifest that is not ours is never trusted). */
export function parseManifest(text: string, key: string): SnapshotManifest {
  let m: Partial<SnapshotManifest>;
  try {
    m = JSON.parse(text) as Partial<SnapshotManifest>;
  } catch {
    throw new Error(`manifest ${key} is not JSON`);
  }
  if (m.kind !== 'hardway.dev/etcd-snapshot' || m.version !== 1) throw new Error(`${key} is not a hardway snapshot manifest (version 1)`);
  if (typeof m.key !== 'string' || typeof m.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.sha256) || typeof m.size !== 'number' || typeof m.time !== 'string') throw new Error(`manifest ${key} lacks key, sha256, size or time`);
  return m as SnapshotManifest;
}
