// Restoring an EtcdCluster from a snapshot: which snapshot (named, or the newest with a manifest), checked
// against its manifest before any droplet is made (read as a stream, never whole in memory), and a
// presigned URL for the seed member to fetch it by (src/bootstrap/restore.ts).
import { createHash } from 'node:crypto';
import type { EtcdCluster, SnapshotRecord } from '../../api/v1alpha1/index.ts';
import { manifestKey, parseManifest } from '../../backup/manifest.ts';
import { newest } from '../../backup/retention.ts';
import { storageError } from '../../backup/store.ts';
import { openStorage, recordOf, type BackupDeps } from './backup.ts';

/**
 * How long the seed has to fetch the snapshot (droplet creation and boot take minutes). SigV4 presigned
 * URLs must expire within a week (@smithy/signature-v4, the SDK's signer, refuses more).
 */
export const RESTORE_URL_SECONDS = 6 * 3600;

export interface RestoreSource {
  record: SnapshotRecord;
  url: string;
  sha256: string;
}

/** Whether this reconcile may seed from spec.restore: a new cluster, or a lost one the restore did not itself make. */
export function restoreApplies(o: Pick<EtcdCluster, 'spec' | 'status'>, planned: 'create-seed' | 'lost' | string): boolean {
  if (!o.spec.restore) return false;
  if (planned === 'create-seed') return true;
  return planned === 'lost' && (!o.status?.restore?.clusterID || o.status.restore.clusterID !== o.status.clusterID);
}

/**
 * The snapshot spec.restore names, verified: its manifest exists and the object's SHA-256 and size match
 * it. `verified` remembers objects checked before (key → sha256) so a retried create does not read it again.
 */
export async function resolveRestore(d: Pick<BackupDeps, 'stores' | 'readSecret' | 'metrics'>, o: EtcdCluster, verified: Map<string, string>): Promise<RestoreSource | { error: string }> {
  const storage = o.spec.restore?.storage ?? o.spec.backup?.storage;
  if (!storage) return { error: 'spec.restore names no storage, and there is no spec.backup.storage to take it from' };
  const opened = await openStorage(d, o, storage);
  if ('error' in opened) return opened;
  const where = (key: string) => `s3://${storage.bucket}/${key}`;
  const started = Date.now();
  try {
    const key = o.spec.restore!.snapshot ?? newest(await opened.store.list(opened.prefix));
    if (!key) return { error: `no snapshot with a manifest under ${where(opened.prefix)}` };
    const text = await opened.store.getText(manifestKey(key));
    if (text === undefined) return { error: `${where(key)} has no manifest (${manifestKey(key).split('/').pop()}): an upload that did not finish, or not a hardway snapshot` };
    const manifest = parseManifest(text, manifestKey(key));
    if (verified.get(key) !== manifest.sha256) {
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of await opened.store.read(key)) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      const got = hash.digest('hex');
      d.metrics?.observeBackup('restore-check', got === manifest.sha256 && size === manifest.size, (Date.now() - started) / 1000);
      if (got !== manifest.sha256 || size !== manifest.size) return { error: `${where(key)} does not match its manifest (SHA-256 ${got}, ${size} bytes; the manifest says ${manifest.sha256}, ${manifest.size} bytes): it is corrupt or was replaced` };
      verified.set(key, manifest.sha256);
    }
    const url = await opened.store.presignGet(key, RESTORE_URL_SECONDS);
    return { record: recordOf(manifest, storage.bucket), url, sha256: manifest.sha256 };
  } catch (e) {
    return { error: `reading the snapshot from ${where(opened.prefix)}: ${storageError(e)}` };
  }
}
