// Which snapshots to delete. Pure. The newest snapshot with a manifest is never deleted, whatever the
// rules say; objects without a manifest (an upload that completed but whose manifest write failed) are
// deleted once older than a day, when no upload can still be writing them.
import { MANIFEST_SUFFIX } from './manifest.ts';

export interface StoredObject {
  key: string;
  lastModified: Date;
}

export interface Prune {
  /** Snapshots to delete: the manifest first, then the object. */
  snapshots: string[];
  /** Objects with no manifest. */
  orphans: string[];
}

export const ORPHAN_AGE_MS = 86_400_000;

export function toPrune(objects: StoredObject[], rules: { count: number; maxAgeMs?: number }, now: Date): Prune {
  const keys = new Set(objects.map((o) => o.key));
  const snapshots = objects
    .filter((o) => !o.key.endsWith(MANIFEST_SUFFIX) && keys.has(`${o.key}${MANIFEST_SUFFIX}`))
    .sort((a, b) => b.key.localeCompare(a.key) || b.lastModified.getTime() - a.lastModified.getTime());
  const old = snapshots.slice(1).filter((o, i) => i + 1 >= rules.count || (rules.maxAgeMs !== undefined && now.getTime() - o.lastModified.getTime() > rules.maxAgeMs));
  const orphans = objects.filter((o) => !o.key.endsWith(MANIFEST_SUFFIX) && !keys.has(`${o.key}${MANIFEST_SUFFIX}`) && now.getTime() - o.lastModified.getTime() > ORPHAN_AGE_MS);
  return { snapshots: old.map((o) => o.key), orphans: orphans.map((o) => o.key) };
}

/** The newest snapshot with a manifest, if any. */
export function newest(objects: StoredObject[]): string | undefined {
  const keys = new Set(objects.map((o) => o.key));
  return objects
    .filter((o) => !o.key.endsWith(MANIFEST_SUFFIX) && keys.has(`${o.key}${MANIFEST_SUFFIX}`))
    .map((o) => o.key)
    .sort()
    .at(-1);
}
