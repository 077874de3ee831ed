// Backup and disaster recovery end to end: the operator against the real management API server, real
// etcd 3.5 members on simulated droplets, and a real S3-compatible server (s3rver) on loopback.
// 1. spec.backup: a first snapshot, then one on request (the annotation), each with its manifest;
// 2. a key written through etcd's API; every droplet destroyed: the cluster stops (ClusterLost) and
//    creates nothing;
// 3. spec.restore: the seed member restores the newest snapshot (the simulator runs the rendered restore
//    script: curl of the presigned URL, sha256sum, etcdutl) and the cluster grows back to 3; the key reads
//    back, at a revision past the one before (bumped);
// 4. a snapshot whose object no longer matches its manifest is refused for a restore (RestoreFailed) and
//    no droplet is made.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { parse, stringify } from 'yaml';
import { kubeEnv, freshNamespace, type KubeEnv } from './env.ts';
import { FakeDigitalOcean } from '../../src/cloud/fake/digitalocean.ts';
import { FakeCloudflare } from '../../src/cloud/fake/cloudflare.ts';
import { startOperator, type RunningOperator } from '../../src/operator.ts';
import { parseConfig } from '../../src/runtime/config.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { digitalOceanContract, cloudflareContract } from '../helpers/contracts.ts';
import { NodeSimulator } from '../helpers/simulator.ts';
import { samplesDir } from '../helpers/samples.ts';
import { startS3, S3_KEY, type S3Server } from '../helpers/s3.ts';
import { etcdKv } from '../helpers/etcd.ts';
import { s3Store } from '../../src/cloud/s3/store.ts';

let env: KubeEnv;
before(async () => (env = await kubeEnv()));
after(async () => env?.close());

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('snapshots to S3 (scheduled and on request), every member lost: ClusterLost and nothing created; restored from the newest snapshot: the data back at a higher revision; a corrupt snapshot refused', { timeout: 600_000 }, async () => {
  const ns = await freshNamespace(env, 'etcd-backup');
  const root = mkdtempSync(path.join(tmpdir(), 'hardway-etcd-backup-'));
  const compute = await new FakeDigitalOcean({ tokens: ['dop_v1_e2e'], provisionDelayMs: 300, contract: digitalOceanContract(), minuteLimit: 100_000 }).start();
  const dns = await new FakeCloudflare({ tokens: ['cf-e2e'], zones: ['example.com'], contract: cloudflareContract(), limitPer5Min: 100_000 }).start();
  const sim = new NodeSimulator(compute, dns, path.join(root, 'nodes')).start();
  let s3: S3Server | undefined;
  let operator: RunningOperator | undefined;
  const logLines: string[] = [];
  const get = async (name = 'demo') => JSON.parse(await env.kubectl('get', '-n', ns, 'etcdcluster', name, '-o', 'json'));
  const cond = (o: any, type: string) => o.status?.conditions?.find((c: { type: string }) => c.type === type);
  const until = async <T>(what: string, f: () => Promise<T | undefined>, ms = 180_000): Promise<T> => {
    const deadline = Date.now() + ms;
    let last: unknown;
    for (;;) {
      // Polls the API server as a user would, bounded.
      const v = await f().catch((e: unknown) => ((last = e), undefined));
      if (v !== undefined) return v;
      if (Date.now() > deadline) {
        const status = await env.kubectl('get', '-n', ns, 'etcdclusters', '-o', 'jsonpath={range .items[*]}{.metadata.name}: {.status.conditions}{"\\n"}{end}').catch(() => '');
        throw new Error(`${what}: not within ${ms} ms (${String(last ?? '')}); status: ${status}; droplets: ${[...compute.droplets.values()].map((d) => d.name).join(' ')}; log tail: ${logLines.slice(-15).join('')}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  try {
    s3 = await startS3(path.join(root, 's3'));
    await env.kubectl('create', 'secret', 'generic', 'demo-credentials', '-n', ns, '--from-literal=digitalocean-token=dop_v1_e2e', '--from-literal=cloudflare-api-token=cf-e2e');
    await env.kubectl('create', 'secret', 'generic', 'demo-spaces', '-n', ns, `--from-literal=access-key-id=${S3_KEY.accessKeyId}`, `--from-literal=secret-access-key=${S3_KEY.secretAccessKey}`);
    const cfg = parseConfig([`--kubeconfig=${env.kubeconfig}`, `--namespace=${ns}`, '--leader-elect=false', '--metrics-bind-address=127.0.0.1:0', `--digitalocean-api-url=${compute.url}`, `--cloudflare-api-url=${dns.url}`], {});
    const log = createLogger({ level: 'info', destination: new Writable({ write: (c, _e, cb) => (logLines.push(String(c)), cb()) }) });
    operator = await startOperator(cfg, { log, onFatal: (r) => assert.fail(r), etcdTiming: { waitMs: 500, steadyMs: 2_000, probeTimeoutMs: 1_000, graceMs: 3_000, endpointDrainMs: 1_000 } });

    const storage = { endpoint: s3.endpoint, bucket: s3.bucket, forcePathStyle: true, credentialsSecretRef: { name: 'demo-spaces' } };
    const manifest = (name: string, spec: object) => {
      const o = parse(readFileSync(path.join(samplesDir, 'etcdcluster.yaml'), 'utf8'));
      o.metadata.name = name;
      Object.assign(o.spec, spec);
      return stringify(o);
    };
    // Yearly: after the first snapshot, only requests take one.
    await env.kubectlInput(manifest('demo', { backup: { schedule: '0 0 1 1 *', retention: { count: 2 }, storage } }), 'apply', '-n', ns, '-f', '-');
    let seen: any;
    await until('Ready', async () => {
      seen = await get();
      return cond(seen, 'Ready')?.status === 'True' ? true : undefined;
    }, 240_000).catch((e: Error) => {
      throw new Error(`${e.message}\nconditions: ${JSON.stringify(seen?.status?.conditions)}`);
    });
    const first = await until('first snapshot', async () => {
      const o = await get();
      return cond(o, 'BackupHealthy')?.status === 'True' ? o : undefined;
    });
    console.log(`BackupHealthy: ${cond(first, 'BackupHealthy').message}`);
    assert.match(first.status.backup.lastSnapshot.key, /^hardway\/etcd-backup-[a-z0-9-]+\/demo\/etcd-\d{8}T\d{6}\.\d{3}Z\.db$/);

    // Data, written as an API server would.
    const secret = JSON.parse(await env.kubectl('get', 'secret', '-n', ns, 'demo-etcd-client-apiserver', '-o', 'json')).data;
    const tls = { ca: Buffer.from(secret['ca.crt'], 'base64').toString(), cert: Buffer.from(secret['tls.crt'], 'base64').toString(), key: Buffer.from(secret['tls.key'], 'base64').toString() };
    const memberIp = () => [...compute.droplets.values()].find((d) => d.name.startsWith('demo-etcd-'))!.privateIp;
    for (let i = 0; i < 20; i++) await etcdKv(memberIp(), tls, 'put', { key: b64(`/registry/configmaps/default/c${i}`), value: b64(`value ${i}`) });
    const before = Number((await etcdKv(memberIp(), tls, 'range', { key: b64('/registry/configmaps/default/c19') })).header.revision);

    // A snapshot now, asked for the GitOps way: an annotation whose value changes.
    await env.kubectl('annotate', '-n', ns, 'etcdcluster/demo', 'hardway.dev/snapshot-request=after-writes');
    const requested = await until('requested snapshot', async () => {
      const o = await get();
      return o.status?.backup?.handledRequest === 'after-writes' && o.status.backup.lastSnapshot ? o : undefined;
    });
    const snap = requested.status.backup.lastSnapshot;
    assert.ok(Number(snap.revision) >= before, `the snapshot holds revision ${before} (manifest says ${snap.revision})`);
    const store = s3Store(s3.location);
    const objects = (await store.list('hardway/')).map((o) => o.key).sort();
    assert.ok(objects.includes(snap.key) && objects.includes(`${snap.key}.manifest.json`), objects.join(' '));
    const stored = JSON.parse((await store.getText(`${snap.key}.manifest.json`))!);
    assert.equal(stored.sha256, snap.sha256);
    assert.equal(stored.size, snap.size);
    const events = await env.kubectl('get', 'events', '-n', ns, '-o', 'jsonpath={.items[*].reason}');
    assert.match(events, /SnapshotTaken/);
    const metrics = await (await fetch(`http://127.0.0.1:${operator.port}/metrics`)).text();
    assert.match(metrics, /hardway_etcd_backup_operations_total\{operation="snapshot",result="success"\} [2-9]/);

    // Retention (count 2): a third snapshot deletes the first, manifest and all.
    await env.kubectl('annotate', '--overwrite', '-n', ns, 'etcdcluster/demo', 'hardway.dev/snapshot-request=third');
    await until('third snapshot', async () => ((await get()).status?.backup?.handledRequest === 'third' ? true : undefined));
    const kept = (await store.list('hardway/')).map((o) => o.key).sort();
    assert.equal(kept.length, 4, `two snapshots and their manifests are kept: ${kept.join(' ')}`);
    assert.ok(!kept.includes(first.status.backup.lastSnapshot.key) && kept.includes(snap.key), 'the oldest went; the one taken after the writes stays');
    await until('SnapshotsPruned event', async () => ((await env.kubectl('get', 'events', '-n', ns, '--field-selector=reason=SnapshotsPruned', '-o', 'name')).trim() ? true : undefined));

    // Every droplet destroyed (out of band). The cluster stops: nothing seeded, a condition that says how to recover.
    const oldClusterID = requested.status.clusterID;
    for (const d of [...compute.droplets.values()].filter((x) => x.name.startsWith('demo-etcd-'))) {
      const r = await fetch(`${compute.url}/v2/droplets/${d.id}`, { method: 'DELETE', headers: { authorization: 'Bearer dop_v1_e2e' } });
      assert.equal(r.status, 204);
    }
    const lost = await until('ClusterLost', async () => {
      const o = await get();
      return cond(o, 'Ready')?.reason === 'ClusterLost' ? o : undefined;
    });
    console.log(`Ready=False ClusterLost: ${cond(lost, 'Ready').message}`);
    await until('ClusterLost event', async () => ((await env.kubectl('get', 'events', '-n', ns, '--field-selector=reason=ClusterLost', '-o', 'name')).trim() ? true : undefined));
    assert.equal([...compute.droplets.values()].filter((x) => x.name.startsWith('demo-etcd-')).length, 0, 'nothing seeded');

    // Restore: the newest snapshot under the backup prefix.
    await env.kubectl('patch', '-n', ns, 'etcdcluster/demo', '--type=merge', '-p', JSON.stringify({ spec: { restore: {} } }));
    const restored = await until('restored and Ready with 3 members', async () => {
      const o = await get();
      return cond(o, 'Ready')?.status === 'True' && o.status.members?.length === 3 && o.status.restore?.clusterID ? o : undefined;
    }, 300_000);
    const newestKey = kept.filter((k) => k.endsWith('.db')).sort().at(-1);
    assert.equal(restored.status.restore.snapshot.key, newestKey, 'the newest snapshot with a manifest');
    assert.notEqual(restored.status.clusterID, oldClusterID, 'a new etcd cluster (ID) holding the old data');
    const back = await etcdKv(memberIp(), tls, 'range', { key: b64('/registry/configmaps/default/c'), range_end: b64('/registry/configmaps/default/d') });
    assert.equal(back.kvs.length, 20);
    assert.equal(Buffer.from(back.kvs.find((x: any) => Buffer.from(x.key, 'base64').toString() === '/registry/configmaps/default/c7').value, 'base64').toString(), 'value 7');
    const after = Number(back.header.revision);
    console.log(`revision before: ${before}; after the restore: ${after}`);
    assert.ok(after > before + 999_000_000, 'the revision was bumped past anything a client saw');
    const restoreEvents = await env.kubectl('get', 'events', '-n', ns, '--field-selector=reason=RestoreStarted', '-o', 'jsonpath={.items[*].message}');
    assert.match(restoreEvents, /SHA-256 checked/);

    // A snapshot replaced under its manifest: refused before any droplet is made.
    await store.upload(snap.key, Readable.from([Buffer.from('not a snapshot')]));
    assert.notEqual(snap.key, newestKey);
    await env.kubectlInput(manifest('other', { restore: { storage: { ...storage, prefix: snap.key.replace(/[^/]+$/, '') }, snapshot: snap.key } }), 'apply', '-n', ns, '-f', '-');
    const refused = await until('RestoreFailed', async () => {
      const o = await get('other');
      return cond(o, 'Ready')?.reason === 'RestoreFailed' ? o : undefined;
    });
    console.log(`Ready=False RestoreFailed: ${cond(refused, 'Ready').message}`);
    assert.match(cond(refused, 'Ready').message, /does not match its manifest/);
    assert.equal([...compute.droplets.values()].filter((x) => x.name.startsWith('other-etcd-')).length, 0);
    assert.ok(!logLines.join('').includes('X-Amz-Signature'), 'the presigned URL never reaches the log');
    assert.deepEqual(compute.violations, []);
  } finally {
    await operator?.stop();
    await sim.stop();
    await s3?.stop();
    await compute.stop();
    await dns.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
