// Snapshots streamed from a real etcd 3.5 member into a real S3-compatible server (s3rver), part by part:
// a whole one restores with the real etcdutl; one cut short (the member dies, or the storage does) leaves
// no object and no manifest behind.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { Transform } from 'node:stream';
import { EtcdClient, type EtcdEndpoint } from '../../src/health/etcd.ts';
import { renderEtcdMember } from '../../src/bootstrap/roles.ts';
import { ensureCA, reconcileLeaves } from '../../src/pki/certs.ts';
import { etcdLeafSpecs, etcdPeerLeafSpecs } from '../../src/pki/profiles.ts';
import { realRenderContext } from '../helpers/cluster.ts';
import { startMember, eventually, etcdutlPath, fillEtcd, type RunningMember } from '../helpers/etcd.ts';
import { startS3, type S3Server } from '../helpers/s3.ts';
import { s3Store, PART_SIZE } from '../../src/cloud/s3/store.ts';
import { takeSnapshot, type SnapshotSource } from '../../src/controllers/etcdcluster/backup.ts';

const work = mkdtempSync(path.join(tmpdir(), 'hardway-etcd-snapshot-'));
const running: RunningMember[] = [];
const servers: S3Server[] = [];
after(async () => {
  await Promise.all([...running.map((m) => m.kill()), ...servers.map((s) => s.stop())]);
  rmSync(work, { recursive: true, force: true });
});

const MiB = 1024 * 1024;

/** The member's snapshot stream, with `after(bytesSoFar)` called as it flows (errors pass through). */
function watched(source: NodeJS.ReadableStream & { destroy(e?: Error): void }, after: (seen: number) => void) {
  let seen = 0;
  const t = new Transform({
    transform(chunk: Buffer, _e, cb) {
      seen += chunk.length;
      after(seen);
      cb(null, chunk);
    },
  });
  source.on('error', (e: Error) => t.destroy(e));
  return source.pipe(t);
}

/** One member with about `mib` MiB of data (random values: nothing compresses). */
async function memberWithData(name: string, address: string, mib: number) {
  const ctx = realRenderContext();
  const ca = ensureCA(undefined, 'etcd-ca', ctx).bundle;
  const peerCA = ensureCA(undefined, 'etcd-peer-ca', ctx).bundle;
  const m = { name, address };
  const leaves = { ...reconcileLeaves({}, etcdLeafSpecs([m]), ca, ctx).bundles, ...reconcileLeaves({}, etcdPeerLeafSpecs([m]), peerCA, ctx).bundles };
  const member = startMember(renderEtcdMember({ member: m, cluster: [m], token: 't', state: 'new', version: '3.5.30', certs: { ca: ca.cert, peerCA: peerCA.cert, server: leaves[`etcd-server-${name}`]!, peer: leaves[`etcd-peer-${name}`]! } }), address, path.join(work, name));
  running.push(member);
  const op = leaves['etcd-client-operator']!;
  const tls = { ca: ca.cert, cert: op.cert, key: op.key };
  const client = new EtcdClient(tls, { timeoutMs: 5_000 });
  const ep: EtcdEndpoint = { ip: address, dnsName: address };
  await eventually(running, 'member healthy', async () => ((await client.health(ep)).healthy ? true : undefined));
  await fillEtcd(address, tls, mib);
  return { member, client, ep };
}

test('a snapshot streamed part by part restores with etcdutl; cut short by the member or by the storage, it leaves no object and no manifest', { timeout: 180_000 }, async () => {
  const { member, client, ep } = await memberWithData('m1', '127.0.0.41', 24);
  let s3 = await startS3(path.join(work, 's3'));
  servers.push(s3);
  const store = () => s3Store(s3.location);

  // Whole.
  const m = await takeSnapshot(client, ep, store(), { key: 'p/etcd-whole.db', cluster: 'ns/demo', member: 'm1', now: () => new Date() });
  assert.ok(m.size > 2 * PART_SIZE, `more than two parts (${m.size} bytes)`);
  const chunks: Buffer[] = [];
  for await (const c of await store().read('p/etcd-whole.db')) chunks.push(c as Buffer);
  const object = Buffer.concat(chunks);
  assert.equal(createHash('sha256').update(object).digest('hex'), m.sha256, "the manifest's SHA-256 is the object's");
  assert.deepEqual(object.subarray(-32), createHash('sha256').update(object.subarray(0, -32)).digest(), "etcd's own SHA-256 of the db ends the object");
  const file = path.join(work, 'whole.db');
  writeFileSync(file, object);
  const r = spawnSync(etcdutlPath, ['snapshot', 'restore', file, '--name=r', '--initial-cluster=r=https://127.0.0.1:2380', '--initial-advertise-peer-urls=https://127.0.0.1:2380', '--bump-revision=1000', '--mark-compacted', `--data-dir=${path.join(work, 'restored')}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(path.join(work, 'restored/member/snap/db')), 'etcdutl checked the hash and restored it');

  // Cut short by the member: it dies after 10 MiB have gone by.
  const dying: SnapshotSource = {
    status: (e) => client.status(e),
    snapshot: (e) => watched(client.snapshot(e), (seen) => seen > 10 * MiB && void member.kill()),
  };
  await assert.rejects(takeSnapshot(dying, ep, store(), { key: 'p/etcd-cut.db', cluster: 'ns/demo', member: 'm1', now: () => new Date() }));
  assert.deepEqual((await store().list('p/')).map((o) => o.key).sort(), ['p/etcd-whole.db', 'p/etcd-whole.db.manifest.json'], 'nothing of the cut snapshot');

  // Cut short by the storage: the server dies mid-upload (a second member, the data again).
  const second = await memberWithData('m2', '127.0.0.42', 24);
  const killing: SnapshotSource = {
    status: (e) => second.client.status(e),
    snapshot: (e) => watched(second.client.snapshot(e), (seen) => seen > 12 * MiB && s3.proc.exitCode === null && void s3.stop()),
  };
  await assert.rejects(takeSnapshot(killing, second.ep, store(), { key: 'p/etcd-storage-died.db', cluster: 'ns/demo', member: 'm2', now: () => new Date() }));
  s3 = await startS3(path.join(work, 's3'));
  servers.push(s3);
  assert.deepEqual((await store().list('p/')).map((o) => o.key).sort(), ['p/etcd-whole.db', 'p/etcd-whole.db.manifest.json'], 'nothing of the snapshot whose storage died');
});
