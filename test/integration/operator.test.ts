// The operator as a process (`src/main.ts`), against a real kube-apiserver: it reconciles the samples,
// serves /readyz and /metrics, and hands leadership over between replicas.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { EventEmitter } from 'node:events';
import { kubeEnv, freshNamespace, type KubeEnv } from './env.ts';
import { Leases, EtcdClusters } from '../../src/kube/resources.ts';
import type { KObject } from '../../src/kube/port.ts';
import type { Lease } from '../../src/runtime/leader.ts';
import { freePort } from '../env/cluster.ts';

let env: KubeEnv;
/** Tests never reach the internet: the clouds are a closed port on loopback here. */
const NO_CLOUD = ['--digitalocean-api-url=http://127.0.0.1:9', '--cloudflare-api-url=http://127.0.0.1:9'];
before(async () => (env = await kubeEnv()));
after(async () => env?.close());

interface Replica {
  name: string;
  child: ChildProcess;
  port: number;
  lines: Record<string, unknown>[];
  bus: EventEmitter;
  exit: Promise<number | null>;
}

async function startReplica(name: string, ns: string, leaseName: string, extra: string[] = []): Promise<Replica> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/main.ts', `--kubeconfig=${env.kubeconfig}`, `--namespace=${ns}`, `--leader-election-namespace=${ns}`, `--leader-election-id=${leaseName}`, `--identity=${name}`, `--metrics-bind-address=127.0.0.1:${port}`, ...NO_CLOUD, ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const r: Replica = { name, child, port, lines: [], bus: new EventEmitter(), exit: new Promise((res) => child.on('exit', (code) => res(code))) };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      const entry = JSON.parse(line);
      r.lines.push(entry);
      r.bus.emit('line', entry);
    } catch {
      r.lines.push({ msg: line });
    }
  });
  child.stderr!.on('data', (d) => r.lines.push({ stderr: String(d) }));
  return r;
}

/** Resolves when the replica logs a line with this message (or has already logged it). */
function logged(r: Replica, msg: string): Promise<Record<string, unknown>> {
  const seen = r.lines.find((l) => l.msg === msg);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const on = (l: Record<string, unknown>) => l.msg === msg && (r.bus.off('line', on), resolve(l));
    r.bus.on('line', on);
    void r.exit.then((code) => reject(new Error(`${r.name} exited (${code}) before logging "${msg}": ${JSON.stringify(r.lines.slice(-5))}`)));
  });
}

async function holder(ns: string, lease: string): Promise<string | undefined> {
  return (await env.kube.get<Lease>(Leases, { namespace: ns, name: lease })).spec?.holderIdentity;
}

test('leadership: one replica leads and reconciles; SIGTERM hands over at once; kill -9 after the lease expires; a stolen lease makes the leader exit non-zero', { timeout: 180_000 }, async () => {
  const ns = await freshNamespace(env, 'operator');
  await env.kubectl('apply', '-n', ns, '-f', 'config/samples/');
  const lease = 'hardway-test';
  const a = await startReplica('a', ns, lease);
  await logged(a, 'became leader');
  const b = await startReplica('b', ns, lease);
  await logged(b, 'informer synced');
  const replicas = [a, b];
  try {
    assert.equal(await holder(ns, lease), 'a');

    // The leader reconciles: every sample gets its conditions, observedGeneration and Ready first.
    await env.kubectl('wait', '-n', ns, '--for=condition=Paused=false', '--timeout=60s', 'etcdcluster/demo', 'controlplane/demo', 'workerpool/demo-general');
    const etcd = await env.kube.get<KObject & { status: { conditions: { type: string }[]; observedGeneration: number } }>(EtcdClusters, { namespace: ns, name: 'demo' });
    assert.equal(etcd.status.conditions[0]!.type, 'Ready');
    assert.equal(etcd.status.observedGeneration, 1);

    // Both replicas are ready (a standby with warm caches can take over), and the leader exports metrics.
    for (const r of [a, b]) assert.equal((await fetch(`http://127.0.0.1:${r.port}/readyz`)).status, 200, `${r.name} ready`);
    const metrics = await (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text();
    assert.match(metrics, /hardway_leader 1/);
    assert.match(metrics, /hardway_reconcile_total\{kind="EtcdCluster",result="success"\} [1-9]/);
    assert.match(await (await fetch(`http://127.0.0.1:${b.port}/metrics`)).text(), /hardway_leader 0/);

    // Graceful stop: a releases the lease and exits 0; b takes over on its next retry (2 s), not after 15 s.
    const stoppedAt = Date.now();
    a.child.kill('SIGTERM');
    assert.equal(await a.exit, 0);
    await logged(b, 'became leader');
    assert.ok(Date.now() - stoppedAt < 10_000, `handover after release took ${Date.now() - stoppedAt} ms`);
    assert.equal(await holder(ns, lease), 'b');

    // Crash: c waits until b's lease has gone unrenewed for 15 s by its own clock, then leads.
    const c = await startReplica('c', ns, lease);
    replicas.push(c);
    await logged(c, 'informer synced');
    const killedAt = Date.now();
    b.child.kill('SIGKILL');
    await b.exit;
    await logged(c, 'became leader');
    const waited = Date.now() - killedAt;
    assert.ok(waited >= 13_000 && waited < 30_000, `takeover after a crash took ${waited} ms (lease 15 s)`);

    // Someone else takes the lease: c cannot renew, gives up after the renew deadline and exits non-zero.
    const current = await env.kube.get<Lease>(Leases, { namespace: ns, name: lease });
    await env.kube.replace(Leases, { ...current, spec: { ...current.spec, holderIdentity: 'intruder', leaseDurationSeconds: 3600 } });
    assert.equal(await c.exit, 1);
    assert.ok(c.lines.some((l) => l.msg === 'leader election lost: lease not renewed within the renew deadline'));
  } finally {
    for (const r of replicas) r.child.kill('SIGKILL');
  }
});

test('shards: a replica with --shard serves only objects labelled for it, under its own Lease; the others are served by the unsharded replica; relabelling moves an object', { timeout: 120_000 }, async () => {
  const ns = await freshNamespace(env, 'shards');
  await env.kubectl('apply', '-n', ns, '-f', 'config/samples/');
  await env.kubectl('label', '-n', ns, 'etcdcluster', 'demo', 'hardway.dev/shard=blue');
  const lease = 'hardway-shards';
  const blue = await startReplica('blue', ns, lease, ['--shard=blue']);
  const rest = await startReplica('rest', ns, lease);
  try {
    await Promise.all([logged(blue, 'became leader'), logged(rest, 'became leader')]);
    assert.equal(await holder(ns, `${lease}-blue`), 'blue');
    assert.equal(await holder(ns, lease), 'rest');
    await env.kubectl('wait', '-n', ns, '--for=condition=Paused=false', '--timeout=60s', 'etcdcluster/demo', 'controlplane/demo', 'workerpool/demo-general');
    // Reconciles of a kind, whatever their result (with no cloud here, most end in an error and a retry).
    const reconciled = async (r: Replica, kind: string) =>
      [...(await (await fetch(`http://127.0.0.1:${r.port}/metrics`)).text()).matchAll(new RegExp(`hardway_reconcile_total\\{kind="${kind}",result="[a-z]+"\\} (\\d+)`, 'g'))].reduce((n, m) => n + Number(m[1]), 0);
    assert.ok((await reconciled(blue, 'EtcdCluster')) > 0, 'blue reconciles its EtcdCluster');
    assert.equal(await reconciled(blue, 'ControlPlane'), 0, 'and nothing unlabelled');
    assert.ok((await reconciled(rest, 'ControlPlane')) > 0, 'the unsharded replica reconciles the unlabelled');
    assert.equal(await reconciled(rest, 'EtcdCluster'), 0, 'and not the labelled EtcdCluster');
    // Relabelled: the API server's watch tells blue it is gone and rest that it is there.
    await env.kubectl('label', '-n', ns, 'etcdcluster', 'demo', 'hardway.dev/shard-');
    await until(async () => (await reconciled(rest, 'EtcdCluster')) > 0, 'rest takes the EtcdCluster over');
    const startLine = blue.lines.find((l) => l.msg === 'hardway operator starting');
    assert.equal(startLine?.shard, 'blue');
    assert.equal(startLine?.lease, `${lease}-blue`);
  } finally {
    for (const r of [blue, rest]) r.child.kill('SIGKILL');
  }
});

async function until(check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('bad flags fail fast with every problem listed', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--concurrency=0', '--log-level=loud'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise((r) => child.on('exit', r));
  assert.equal(code, 2);
  assert.match(stderr, /--concurrency: "0" is not a whole number from 1 to 64/);
  assert.match(stderr, /--log-level: "loud" is not one of/);
});
