// Table tests of the pure backup rules: when a snapshot is due, when backups are unhealthy, which
// snapshots retention deletes, keys and manifests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { snapshotDue, backupHealth, nextRun, interval, checkSchedule, parseAge } from './schedule.ts';
import { toPrune, newest, ORPHAN_AGE_MS } from './retention.ts';
import { snapshotKey, manifestKey, parseManifest, defaultPrefix } from './manifest.ts';

const at = (s: string) => new Date(s);
const SIX_HOURLY = '0 */6 * * *';

test('snapshotDue: a request, a retry after a failure (not before retryMs), none yet, the schedule', () => {
  const base = { schedule: SIX_HOURLY, retryMs: 300_000, lastFailed: false };
  const cases: [string, Parameters<typeof snapshotDue>[0], string][] = [
    ['no snapshot yet', { ...base, now: at('2026-11-30T10:00:00Z') }, 'due: no snapshot yet'],
    ['before the next run', { ...base, now: at('2026-11-30T11:59:00Z'), lastSnapshot: at('2026-11-30T06:00:05Z'), lastAttempt: at('2026-11-30T06:00:05Z') }, 'next 2026-11-30T12:00:00.000Z'],
    ['at the next run', { ...base, now: at('2026-11-30T12:00:00Z'), lastSnapshot: at('2026-11-30T06:00:05Z') }, 'due: scheduled (2026-11-30T12:00:00.000Z)'],
    ['a missed run is taken at once', { ...base, now: at('2026-12-02T09:00:00Z'), lastSnapshot: at('2026-11-30T06:00:05Z') }, 'due: scheduled (2026-11-30T12:00:00.000Z)'],
    ['a new request', { ...base, now: at('2026-11-30T07:00:00Z'), lastSnapshot: at('2026-11-30T06:00:05Z'), request: 'b', handledRequest: 'a' }, 'due: requested (b)'],
    ['a handled request', { ...base, now: at('2026-11-30T07:00:00Z'), lastSnapshot: at('2026-11-30T06:00:05Z'), request: 'b', handledRequest: 'b' }, 'next 2026-11-30T12:00:00.000Z'],
    ['failed: waits retryMs', { ...base, lastFailed: true, now: at('2026-11-30T07:02:00Z'), lastSnapshot: at('2026-11-30T06:00:05Z'), lastAttempt: at('2026-11-30T07:00:00Z') }, 'next 2026-11-30T07:05:00.000Z'],
    ['failed: then tries again', { ...base, lastFailed: true, now: at('2026-11-30T07:05:00Z'), lastSnapshot: at('2026-11-30T06:00:05Z'), lastAttempt: at('2026-11-30T07:00:00Z') }, 'due: the last attempt failed'],
  ];
  for (const [name, input, want] of cases) {
    const r = snapshotDue(input);
    assert.equal(r.due ? `due: ${r.why}` : `next ${r.next.toISOString()}`, want, name);
  }
});

test('backupHealth: False when the last attempt failed, none was taken, or the newest is older than twice the interval', () => {
  const cases: [string, Parameters<typeof backupHealth>[0], string][] = [
    ['recent', { schedule: SIX_HOURLY, now: at('2026-11-30T17:00:00Z'), lastSnapshot: at('2026-11-30T06:00:00Z'), lastFailed: false }, 'True SnapshotTaken'],
    ['just over 12 h', { schedule: SIX_HOURLY, now: at('2026-11-30T18:01:00Z'), lastSnapshot: at('2026-11-30T06:00:00Z'), lastFailed: false }, 'False SnapshotOutdated'],
    ['failed', { schedule: SIX_HOURLY, now: at('2026-11-30T07:00:00Z'), lastSnapshot: at('2026-11-30T06:00:00Z'), lastFailed: true, failure: 'AccessDenied' }, 'False SnapshotFailed'],
    ['none yet', { schedule: SIX_HOURLY, now: at('2026-11-30T07:00:00Z'), lastFailed: false }, 'False NoSnapshotYet'],
  ];
  for (const [name, input, want] of cases) {
    const h = backupHealth(input);
    assert.equal(`${h.healthy ? 'True' : 'False'} ${h.reason}`, want, name);
  }
  assert.match(backupHealth({ schedule: SIX_HOURLY, now: at('2026-11-30T07:00:00Z'), lastFailed: true, failure: 'AccessDenied (HTTP 403)' }).message, /AccessDenied \(HTTP 403\)/);
});

test('schedules: five fields, UTC; intervals; durations', () => {
  assert.equal(nextRun('30 2 * * *', at('2026-11-30T02:30:00Z')).toISOString(), '2026-12-01T02:30:00.000Z');
  assert.equal(interval(SIX_HOURLY, at('2026-11-30T01:00:00Z')), 6 * 3_600_000);
  assert.throws(() => checkSchedule('*/5 * * *'), /not five cron fields/);
  assert.throws(() => checkSchedule('61 * * * *'));
  assert.doesNotThrow(() => checkSchedule('@daily'.replace('@daily', '0 0 * * *')));
  assert.equal(parseAge('168h'), 168 * 3_600_000);
  assert.equal(parseAge('30d'), 30 * 86_400_000);
  assert.throws(() => parseAge('1w'));
});

test('retention: by count and age, never the newest with a manifest; objects without one go after a day', () => {
  const now = at('2026-11-30T12:00:00Z');
  const snap = (stamp: string, iso: string, withManifest = true) => {
    const key = `p/etcd-${stamp}.db`;
    return [{ key, lastModified: at(iso) }, ...(withManifest ? [{ key: manifestKey(key), lastModified: at(iso) }] : [])];
  };
  const objects = [
    ...snap('20261130T060000Z', '2026-11-30T06:00:00Z'),
    ...snap('20261130T000000Z', '2026-11-30T00:00:00Z'),
    ...snap('20261129T180000Z', '2026-11-29T18:00:00Z'),
    ...snap('20261129T120000Z', '2026-11-29T12:00:00Z'),
    ...snap('20261130T110000Z', '2026-11-30T11:00:00Z', false), // an upload whose manifest is not written (yet)
    ...snap('20261128T000000Z', '2026-11-28T00:00:00Z', false), // an old one that never got one
  ];
  assert.deepEqual(toPrune(objects, { count: 2 }, now), { snapshots: ['p/etcd-20261129T180000Z.db', 'p/etcd-20261129T120000Z.db'], orphans: ['p/etcd-20261128T000000Z.db'] });
  assert.deepEqual(toPrune(objects, { count: 10, maxAgeMs: 13 * 3_600_000 }, now).snapshots, ['p/etcd-20261129T180000Z.db', 'p/etcd-20261129T120000Z.db']);
  // Every snapshot too old: the newest stays.
  assert.deepEqual(toPrune(objects, { count: 10, maxAgeMs: 60_000 }, now).snapshots, ['p/etcd-20261130T000000Z.db', 'p/etcd-20261129T180000Z.db', 'p/etcd-20261129T120000Z.db']);
  assert.deepEqual(toPrune(objects, { count: 1 }, now).snapshots.includes('p/etcd-20261130T060000Z.db'), false);
  assert.equal(newest(objects), 'p/etcd-20261130T060000Z.db', 'the newest with a manifest, not the one without');
  assert.equal(newest([]), undefined);
  assert.equal(ORPHAN_AGE_MS, 86_400_000);
});

test('keys sort by time; a manifest that is not ours is refused', () => {
  assert.equal(snapshotKey(defaultPrefix('ns', 'demo'), at('2026-11-30T09:08:07.123Z')), 'hardway/ns/demo/etcd-20261130T090807.123Z.db');
  // Two snapshots in one second keep both (a second-resolution key made the later overwrite the earlier).
  assert.ok(snapshotKey('p/', at('2026-11-30T09:08:07.123Z')) < snapshotKey('p/', at('2026-11-30T09:08:07.456Z')));
  assert.equal(manifestKey('a/b.db'), 'a/b.db.manifest.json');
  const good = { kind: 'hardway.dev/etcd-snapshot', version: 1, key: 'a/b.db', cluster: 'ns/demo', etcdVersion: '3.5.30', revision: '21', size: 20512, sha256: 'a'.repeat(64), member: 'm', time: '2026-11-30T09:08:07.000Z' };
  assert.deepEqual(parseManifest(JSON.stringify(good), 'k'), good);
  assert.throws(() => parseManifest('{', 'k'), /not JSON/);
  assert.throws(() => parseManifest(JSON.stringify({ ...good, kind: 'other' }), 'k'), /not a hardway snapshot manifest/);
  assert.throws(() => parseManifest(JSON.stringify({ ...good, sha256: 'xyz' }), 'k'), /lacks key, sha256/);
});

test('the backup status to go on: this process’s own last write unless the cache shows a later attempt', async () => {
  const { latestBackupStatus } = await import('../controllers/etcdcluster/backup.ts');
  const a = { lastAttemptTime: '2026-11-30T10:00:00Z', handledRequest: 'one' };
  const b = { lastAttemptTime: '2026-11-30T10:05:00Z', handledRequest: 'two' };
  const rows: [string, typeof a | undefined, typeof a | undefined, unknown][] = [
    ['nothing either way', undefined, undefined, {}],
    ['only the cache', a, undefined, a],
    ['only our write (first status not seen yet)', undefined, b, b],
    ['the cache lags behind our write', a, b, b],
    ['the same attempt both ways', b, b, b],
    ['the cache is newer (another leader wrote since)', b, a, b],
  ];
  for (const [name, seen, written, want] of rows) assert.deepEqual(latestBackupStatus(seen, written), want, name);
});
