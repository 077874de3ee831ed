// Bench child (suites.ts 'snapshot'): one real etcd member filled with SIZE_MIB of data, s3rver, and one
// snapshot streamed from the member into a multipart upload by the operator's own code. Prints JSON with
// the snapshot's size, the time it took and this process's peak RSS during it (VmHWM, reset before).
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EtcdClient } from '../../src/health/etcd.ts';
import { renderEtcdMember } from '../../src/bootstrap/roles.ts';
import { ensureCA, reconcileLeaves } from '../../src/pki/certs.ts';
import { etcdLeafSpecs, etcdPeerLeafSpecs } from '../../src/pki/profiles.ts';
import { realRenderContext } from '../helpers/cluster.ts';
import { startMember, eventually, fillEtcd } from '../helpers/etcd.ts';
import { startS3 } from '../helpers/s3.ts';
import { s3Store } from '../../src/cloud/s3/store.ts';
import { takeSnapshot } from '../../src/controllers/etcdcluster/backup.ts';

const mib = Number(process.env.SIZE_MIB ?? 600);
const work = mkdtempSync(path.join(tmpdir(), 'hardway-bench-snapshot-'));
const ctx = realRenderContext();
const ca = ensureCA(undefined, 'etcd-ca', ctx).bundle;
const peerCA = ensureCA(undefined, 'etcd-peer-ca', ctx).bundle;
const m = { name: 'b1', address: '127.0.0.61' };
const leaves = { ...reconcileLeaves({}, etcdLeafSpecs([m]), ca, ctx).bundles, ...reconcileLeaves({}, etcdPeerLeafSpecs([m]), peerCA, ctx).bundles };
const member = startMember(renderEtcdMember({ member: m, cluster: [m], token: 't', state: 'new', version: '3.5.30', certs: { ca: ca.cert, peerCA: peerCA.cert, server: leaves['etcd-server-b1']!, peer: leaves['etcd-peer-b1']! } }), m.address, path.join(work, 'b1'));
const s3 = await startS3(path.join(work, 's3'));
try {
  const op = leaves['etcd-client-operator']!;
  const tls = { ca: ca.cert, cert: op.cert, key: op.key };
  const client = new EtcdClient(tls, { timeoutMs: 10_000 });
  const ep = { ip: m.address, dnsName: m.address };
  await eventually([member], 'member healthy', async () => ((await client.health(ep)).healthy ? true : undefined));
  await fillEtcd(m.address, tls, mib);
  (globalThis as { gc?: () => void }).gc?.();
  writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM: the peak from here on
  const started = process.hrtime.bigint();
  const manifest = await takeSnapshot(client, ep, s3Store(s3.location), { key: 'bench/etcd.db', cluster: 'bench/demo', member: 'b1', now: () => new Date() });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const hwm = Number(readFileSync('/proc/self/status', 'utf8').match(/VmHWM:\s+(\d+)/)![1]);
  console.log(JSON.stringify({ size: manifest.size, seconds, peakRssKiB: hwm }));
} finally {
  await member.kill();
  await s3.stop();
  rmSync(work, { recursive: true, force: true });
}
