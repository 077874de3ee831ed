// Snapshots of an EtcdCluster to object storage: when one is due, streaming it from a healthy member into
// a multipart upload, the manifest beside it, retention, and what status and BackupHealthy say. The store
// is a port (src/backup/store.ts); the schedule, manifest and retention rules are pure (src/backup/*).
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { EtcdCluster, SnapshotStorage, SnapshotRecord, ConditionInput } from '../../api/v1alpha1/index.ts';
import { ConditionType as T, SNAPSHOT_REQUEST_ANNOTATION } from '../../api/v1alpha1/index.ts';
import type { EtcdEndpoint, EtcdStatus } from '../../health/etcd.ts';
import type { Readable } from 'node:stream';
import { storageError, type SnapshotStore, type SnapshotStoreFactory } from '../../backup/store.ts';
import { snapshotDue, backupHealth, parseAge } from '../../backup/schedule.ts';
import { defaultPrefix, snapshotKey, manifestKey, type SnapshotManifest } from '../../backup/manifest.ts';
import { toPrune } from '../../backup/retention.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import type { Metrics } from '../../runtime/metrics.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { Observed } from '../status.ts';

type Obj = EtcdCluster & Observed;

export type BackupStatus = NonNullable<NonNullable<EtcdCluster['status']>['backup']>;

/** What taking a snapshot needs of etcd. */
export interface SnapshotSource {
  status(ep: EtcdEndpoint): Promise<EtcdStatus>;
  snapshot(ep: EtcdEndpoint): Readable;
}

export interface BackupDeps {
  stores: SnapshotStoreFactory;
  readSecret: (namespace: string, name: string) => Promise<Record<string, string> | undefined>;
  events: EventRecorder;
  metrics?: Metrics;
  now: () => Date;
}

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The store and folder a storage block names, or why not (a Secret or a key missing). */
export async function openStorage(d: Pick<BackupDeps, 'stores' | 'readSecret'>, o: Pick<EtcdCluster, 'metadata'>, s: SnapshotStorage): Promise<{ store: SnapshotStore; prefix: string } | { error: string }> {
  const secret = await d.readSecret(o.metadata.namespace!, s.credentialsSecretRef.name);
  if (!secret) return { error: `Secret ${s.credentialsSecretRef.name} (storage credentials) is not there` };
  const accessKeyId = secret['access-key-id'];
  const secretAccessKey = secret['secret-access-key'];
  if (!accessKeyId || !secretAccessKey) return { error: `Secret ${s.credentialsSecretRef.name} lacks the key access-key-id or secret-access-key` };
  try {
    return {
      store: d.stores({ endpoint: s.endpoint, region: s.region ?? 'us-east-1', bucket: s.bucket, forcePathStyle: s.forcePathStyle ?? false, accessKeyId, secretAccessKey }),
      prefix: s.prefix ?? defaultPrefix(o.metadata.namespace!, o.metadata.name!),
    };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/**
 * Streams one snapshot into the store, then writes its manifest: the upload never holds more than its
 * parts in memory, and a snapshot without a manifest (cut short, failed) is never used or counted.
 */
export async function takeSnapshot(source: SnapshotSource, ep: EtcdEndpoint, store: SnapshotStore, p: { key: string; cluster: string; clusterID?: string; member: string; now: () => Date }): Promise<SnapshotManifest> {
  const st = await source.status(ep);
  const time = p.now();
  const hash = createHash('sha256');
  let size = 0;
  const count = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const body = source.snapshot(ep);
  const reading = pipeline(body, count);
  const uploading = store.upload(p.key, count);
  try {
    await Promise.all([reading, uploading]);
  } catch (e) {
    // Either side failing (etcd cut the stream, the upload failed) ends both: no request left open.
    body.destroy();
    count.destroy();
    await Promise.allSettled([reading, uploading]);
    throw e;
  }
  const manifest: SnapshotManifest = {
    kind: 'hardway.dev/etcd-snapshot',
    version: 1,
    key: p.key,
    cluster: p.cluster,
    ...(p.clusterID ? { clusterID: p.clusterID } : {}),
    etcdVersion: st.version,
    revision: st.revision,
    size,
    sha256: hash.digest('hex'),
    member: p.member,
    time: time.toISOString(),
  };
  await store.putText(manifestKey(p.key), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

export const recordOf = (m: SnapshotManifest, bucket: string): SnapshotRecord => ({
  key: m.key,
  bucket,
  time: iso(new Date(m.time)),
  revision: m.revision,
  size: m.size,
  sha256: m.sha256,
  member: m.member,
  etcdVersion: m.etcdVersion,
});

export interface BackupResult {
  status: BackupStatus;
  condition: ConditionInput;
  /** When to look again for the next snapshot (epoch ms). */
  nextAt: number;
}

/**
 * The backup status to go on: what this process last wrote wins over an older one read from the cache,
 * which can lag behind its own write; otherwise a request already handled, or a snapshot just taken,
 * would be taken again (and retention would then prune the one the status names).
 */
export function latestBackupStatus(seen: BackupStatus | undefined, written: BackupStatus | undefined): BackupStatus {
  if (!written) return seen ?? {};
  return (written.lastAttemptTime ?? '') >= (seen?.lastAttemptTime ?? '') ? written : (seen ?? {});
}

/**
 * One reconcile's backup work for a cluster that answers: a snapshot if one is due (the schedule, a
 * request, a retry after a failure), retention after a good one, and the condition. source/ep: a healthy
 * member; undefined when none is (then nothing is taken and health is judged on what was).
 */
export async function reconcileBackup(
  d: BackupDeps,
  o: Obj,
  p: { source?: SnapshotSource; ep?: EtcdEndpoint; member?: string; clusterID?: string; retryMs: number; log: Logger; written?: BackupStatus },
): Promise<BackupResult | undefined> {
  const spec = o.spec.backup;
  if (!spec) return undefined;
  const now = d.now();
  const prev: BackupStatus = { ...latestBackupStatus(o.status?.backup, p.written) };
  const cluster = `${o.metadata.namespace}/${o.metadata.name}`;
  const lastSnapshot = prev.lastSnapshot ? new Date(prev.lastSnapshot.time) : undefined;
  const lastFailed = !!prev.lastFailureTime && (!lastSnapshot || Date.parse(prev.lastFailureTime) > lastSnapshot.getTime());
  const request = o.metadata.annotations?.[SNAPSHOT_REQUEST_ANNOTATION];
  const due = snapshotDue({ schedule: spec.schedule, now, lastAttempt: prev.lastAttemptTime ? new Date(prev.lastAttemptTime) : undefined, lastSnapshot, request, handledRequest: prev.handledRequest, retryMs: p.retryMs, lastFailed });
  let status = prev;
  if (due.due && p.source && p.ep) {
    const started = Date.now();
    const fail = async (message: string) => {
      status = { ...status, lastAttemptTime: iso(d.now()), lastFailureTime: iso(d.now()), lastFailureMessage: message, ...(request ? { handledRequest: request } : {}) };
      d.metrics?.observeBackup('snapshot', false, (Date.now() - started) / 1000);
      p.log.warn({ why: message }, 'etcd snapshot failed');
      await d.events.record(o, 'Warning', 'SnapshotFailed', message);
    };
    const opened = await openStorage(d, o, spec.storage);
    if ('error' in opened) await fail(opened.error);
    else {
      const key = snapshotKey(opened.prefix, now);
      try {
        p.log.info({ key, why: due.why, member: p.member }, 'taking an etcd snapshot');
        const m = await takeSnapshot(p.source, p.ep, opened.store, { key, cluster, clusterID: p.clusterID, member: p.member ?? p.ep.dnsName, now: d.now });
        const seconds = (Date.now() - started) / 1000;
        status = { ...status, lastSnapshot: recordOf(m, spec.storage.bucket), lastAttemptTime: iso(d.now()), ...(request ? { handledRequest: request } : {}) };
        delete status.lastFailureTime;
        delete status.lastFailureMessage;
        d.metrics?.observeBackup('snapshot', true, seconds, cluster, m.size, new Date(m.time));
        p.log.info({ key, size: m.size, revision: m.revision, seconds }, 'etcd snapshot stored');
        await d.events.record(o, 'Normal', 'SnapshotTaken', `s3://${spec.storage.bucket}/${key}: ${m.size} bytes, revision ${m.revision}, from ${m.member} in ${seconds.toFixed(1)} s (${due.why})`);
        await prune(d, o, opened.store, opened.prefix, p.log);
      } catch (e) {
        await fail(`s3://${spec.storage.bucket}/${key}: ${storageError(e)}`);
      }
    }
  }
  const newestAt = status.lastSnapshot ? new Date(status.lastSnapshot.time) : undefined;
  const failedNow = !!status.lastFailureTime && (!newestAt || Date.parse(status.lastFailureTime) > newestAt.getTime());
  const next = snapshotDue({ schedule: spec.schedule, now: d.now(), lastAttempt: status.lastAttemptTime ? new Date(status.lastAttemptTime) : undefined, lastSnapshot: newestAt, handledRequest: status.handledRequest, request: status.handledRequest, retryMs: p.retryMs, lastFailed: failedNow });
  const nextAt = next.due ? d.now().getTime() : next.next.getTime();
  // Overdue (no healthy member to take it from): the time it fell due stays, rather than "now" on every visit.
  status = { ...status, nextScheduledTime: next.due ? (status.nextScheduledTime ?? iso(new Date(nextAt))) : iso(new Date(nextAt)) };
  const h = backupHealth({ schedule: spec.schedule, now: d.now(), lastSnapshot: newestAt, lastFailed: failedNow, failure: status.lastFailureMessage });
  const where = status.lastSnapshot ? `s3://${status.lastSnapshot.bucket ?? spec.storage.bucket}/${status.lastSnapshot.key}` : '';
  const condition: ConditionInput = h.healthy
    ? { type: T.BackupHealthy, status: 'True', reason: h.reason, message: `${where} at ${status.lastSnapshot!.time} (revision ${status.lastSnapshot!.revision}, ${status.lastSnapshot!.size} bytes)` }
    : { type: T.BackupHealthy, status: 'False', reason: h.reason, message: `${h.message}${where ? `; the newest is ${where} at ${status.lastSnapshot!.time}` : ''}` };
  if (!p.source && due.due && !h.healthy) condition.message += '; no healthy member to take one from';
  return { status, condition, nextAt };
}

/** Retention after a good snapshot: by count and age, never the newest; a failure here is logged, not fatal. */
async function prune(d: BackupDeps, o: Obj, store: SnapshotStore, prefix: string, log: Logger): Promise<void> {
  const spec = o.spec.backup!;
  const started = Date.now();
  try {
    const objects = await store.list(prefix);
    const r = toPrune(objects, { count: spec.retention?.count ?? 7, maxAgeMs: spec.retention?.maxAge ? parseAge(spec.retention.maxAge) : undefined }, d.now());
    if (!r.snapshots.length && !r.orphans.length) return;
    // The manifest first: a snapshot half-deleted is then one nobody uses, never a manifest without data.
    for (const key of r.snapshots) await store.delete([manifestKey(key), key]);
    await store.delete(r.orphans);
    d.metrics?.observeBackup('prune', true, (Date.now() - started) / 1000);
    log.info({ deleted: r.snapshots.length, orphans: r.orphans.length }, 'old etcd snapshots deleted');
    await d.events.record(o, 'Normal', 'SnapshotsPruned', `deleted ${r.snapshots.length} snapshot(s) beyond the retention${r.orphans.length ? ` and ${r.orphans.length} object(s) without a manifest` : ''}`);
  } catch (e) {
    d.metrics?.observeBackup('prune', false, (Date.now() - started) / 1000);
    log.warn({ why: storageError(e) }, 'deleting old etcd snapshots failed; tried again after the next snapshot');
    await d.events.record(o, 'Warning', 'SnapshotPruneFailed', storageError(e));
  }
}
