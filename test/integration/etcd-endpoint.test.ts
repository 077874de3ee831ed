// Day-2 changes with the whole cluster attached: real etcd 3.5 members and real kube-apiservers from the
// node simulator, the operator against the real management API server. While a client writes and reads a
// ConfigMap through every API server in the endpoint once a second:
// 1. one apply changes the EtcdCluster, ControlPlane and WorkerPool versions together (as Argo CD syncs
//    them): etcd rolls first, then the control plane, then the workers;
// 2. a killed etcd member is healed;
// 3. etcd scales 3 → 5 → 3.
// Every member is replaced in (1) and again in (2)/(3): API servers given members' names would be cut off;
// given the cluster endpoint, they never are (a member leaving or killed may fail the requests an API server sends it in its last second). Figures per phase are printed (requests, failures, longest
// gap between successful round trips).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'node:https';
import { Writable } from 'node:stream';
import { parse, stringify } from 'yaml';
import { readFileSync } from 'node:fs';
import { kubeEnv, freshNamespace, type KubeEnv } from './env.ts';
import { FakeDigitalOcean } from '../../src/cloud/fake/digitalocean.ts';
import { FakeCloudflare } from '../../src/cloud/fake/cloudflare.ts';
import { startOperator, type RunningOperator } from '../../src/operator.ts';
import { parseConfig } from '../../src/runtime/config.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { digitalOceanContract, cloudflareContract } from '../helpers/contracts.ts';
import { NodeSimulator } from '../helpers/simulator.ts';
import { samplesDir } from '../helpers/samples.ts';
import type { Creds } from '../helpers/https-get.ts';

let env: KubeEnv;
before(async () => (env = await kubeEnv()));
after(async () => env?.close());


/** One request to an API server at an address, verified for the endpoint name. Resolves to the status, or an error's message. */
function call(ip: string, creds: Creds, method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: string } | string> {
  return new Promise((resolve) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      { host: ip, port: 6443, path: urlPath, method, servername: 'api.demo.example.com', ...creds, agent: false, timeout: 5_000, headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', (e) => resolve(e.message));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(data);
  });
}

/** Writes a ConfigMap through one API server and reads it back; undefined when both worked, else why not. */
async function roundTrip(ip: string, creds: Creds, ns: string, n: number, tag = 'probe'): Promise<string | undefined> {
  const name = `${tag}-${ip.replace(/\./g, '-')}`;
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data: { n: String(n) } };
  const put = await call(ip, creds, 'PUT', `/api/v1/namespaces/${ns}/configmaps/${name}`, cm);
  const wrote = typeof put !== 'string' && put.status === 404 ? await call(ip, creds, 'POST', `/api/v1/namespaces/${ns}/configmaps`, cm) : put;
  if (typeof wrote === 'string') return `write: ${wrote}`;
  if (wrote.status >= 300) return `write: HTTP ${wrote.status} ${wrote.body.slice(0, 200)}`;
  const got = await call(ip, creds, 'GET', `/api/v1/namespaces/${ns}/configmaps/${name}`);
  if (typeof got === 'string') return `read: ${got}`;
  if (got.status !== 200) return `read: HTTP ${got.status} ${got.body.slice(0, 200)}`;
  return (JSON.parse(got.body) as { data?: { n?: string } }).data?.n === String(n) ? undefined : 'read: a stale value';
}

test('etcd rolled, healed and scaled 3 → 5 → 3 under a Ready control plane: API servers keep reaching etcd through the cluster endpoint; versions change etcd → control plane → workers', { timeout: 900_000 }, async () => {
  const ns = await freshNamespace(env, 'etcd-endpoint');
  const root = mkdtempSync(path.join(tmpdir(), 'hardway-etcd-endpoint-'));
  const compute = await new FakeDigitalOcean({ tokens: ['dop_v1_e2e'], provisionDelayMs: 300, contract: digitalOceanContract(), minuteLimit: 100_000 }).start();
  const dns = await new FakeCloudflare({ tokens: ['cf-e2e'], zones: ['example.com'], contract: cloudflareContract(), limitPer5Min: 100_000 }).start();
  const sim = new NodeSimulator(compute, dns, path.join(root, 'nodes'), { restartDelayMs: 1_000 }).start();
  let operator: RunningOperator | undefined;
  const get = async (kind: string, name: string) => JSON.parse(await env.kubectl('get', '-n', ns, kind, name, '-o', 'json'));
  const cond = (o: any, type: string) => o.status?.conditions?.find((c: { type: string }) => c.type === type);
  const droplets = (prefix: string) => [...compute.droplets.values()].filter((d) => d.name.startsWith(prefix));
  let writing = true;
  let unfinished = (): { requests: number; failed: string[] } => ({ requests: 0, failed: [] });
  let writer: Promise<void> | undefined;
  let watchOrder: NodeJS.Timeout | undefined;
  try {
    await env.kubectl('create', 'secret', 'generic', 'demo-credentials', '-n', ns, '--from-literal=digitalocean-token=dop_v1_e2e', '--from-literal=cloudflare-api-token=cf-e2e');
    const cfg = parseConfig([`--kubeconfig=${env.kubeconfig}`, `--namespace=${ns}`, '--leader-elect=false', '--metrics-bind-address=127.0.0.1:0', `--digitalocean-api-url=${compute.url}`, `--cloudflare-api-url=${dns.url}`], {});
    // The operator's log, kept to show what it did just before a failed request.
    const logLines: { time: number; msg: string }[] = [];
    const log = createLogger({
      level: 'info',
      destination: new Writable({
        write: (c, _e, cb) => {
          const l = JSON.parse(String(c));
          logLines.push({ time: Date.parse(l.time) || Date.now(), msg: `${l.kind ?? ''} ${l.msg} ${l.machine ?? ''}${l.why ? ` (${l.why})` : ''}` });
          cb();
        },
      }),
    });
    const fast = { waitMs: 500, steadyMs: 2_000, graceMs: 5_000 };
    operator = await startOperator(cfg, {
      log,
      onFatal: (r) => assert.fail(r),
      etcdTiming: { ...fast, probeTimeoutMs: 1_000, unhealthyAfterMs: 6_000, endpointDrainMs: 2_000 },
      // Nodes leave the endpoint records 3 s before they go: the writer reads the records every second.
      controlPlaneTiming: { ...fast, rotationDrainMs: 3_000 },
      workerPoolTiming: { ...fast, drainTimeoutMs: 5_000 },
      handOver: sim.handOver,
    });

    // The samples, smaller: 3 members, 2 control-plane nodes (two API servers to write through), 1 worker.
    const sample = (file: string, patch: (o: any) => void) => {
      const o = parse(readFileSync(path.join(samplesDir, file), 'utf8'));
      patch(o);
      return stringify(o);
    };
    const apply = (etcd: { replicas: number; version: string }, cp: { version: string }, wp: { version?: string }) =>
      env.kubectlInput(
        [
          sample('etcdcluster.yaml', (o) => Object.assign(o.spec, etcd)),
          sample('controlplane.yaml', (o) => Object.assign(o.spec, { replicas: 2, ...cp })),
          sample('workerpool.yaml', (o) => Object.assign(o.spec, { replicas: 1, ...wp })),
        ].join('---\n'),
        'apply', '-n', ns, '-f', '-',
      );
    await apply({ replicas: 3, version: '3.5.21' }, { version: 'v1.34.2' }, {});
    const allReady = async (timeout: string) => {
      await env.kubectl('wait', '-n', ns, '--for=condition=Ready', `--timeout=${timeout}`, 'etcdcluster/demo', 'controlplane/demo', 'workerpool/demo-general');
    };
    await allReady('300s');
    const etcd0 = await get('etcdcluster', 'demo');
    assert.equal(etcd0.status.clientEndpoint, 'https://demo-etcd.example.com:2379');
    for (const d of droplets('demo-cp-')) assert.match(d.userData!, /--etcd-servers=https:\/\/demo-etcd\.example\.com:2379\s/, 'API servers are given the cluster endpoint alone');

    // The client: every second, a write and a read through each API server the endpoint lists.
    const kc = parse(Buffer.from(JSON.parse(await env.kubectl('get', 'secret', '-n', ns, 'demo-kubeconfig', '-o', 'json')).data.value, 'base64').toString('utf8'));
    const b = (s: string) => Buffer.from(s, 'base64').toString('utf8');
    const creds: Creds = { ca: b(kc.clusters[0].cluster['certificate-authority-data']), cert: b(kc.users[0].user['client-certificate-data']), key: b(kc.users[0].user['client-key-data']) };
    interface Figures { requests: number; failed: string[]; lastOk: number; longestGapMs: number; start: number; end?: number }
    let phase: Figures = { requests: 0, failed: [], lastOk: Date.now(), longestGapMs: 0, start: Date.now() };
    unfinished = () => phase;
    let n = 0;
    writer = (async () => {
      while (writing) {
        const started = Date.now();
        const ips = sim.resolve('api.demo.example.com');
        const results = await Promise.all(ips.map((ip) => roundTrip(ip, creds, 'default', ++n).then((why) => [ip, why] as const)));
        const f = phase;
        for (const [ip, why] of results) {
          f.requests++;
          if (why) f.failed.push(`${new Date().toISOString()} ${ip}: ${why}`);
        }
        if (results.length && results.every(([, why]) => !why)) {
          f.longestGapMs = Math.max(f.longestGapMs, Date.now() - f.lastOk);
          f.lastOk = Date.now();
        }
        await new Promise((r) => setTimeout(r, Math.max(0, 1_000 - (Date.now() - started))));
      }
    })();
    const figures: Record<string, Figures> = {};
    const endPhase = async (name: string) => {
      figures[name] = { ...phase, end: Date.now() };
      phase = { requests: 0, failed: [], lastOk: Date.now(), longestGapMs: 0, start: Date.now() };
      console.log(`${name}: ${figures[name]!.requests} round trips, ${figures[name]!.failed.length} failed, longest gap ${(figures[name]!.longestGapMs / 1000).toFixed(1)} s`);
      for (const f of figures[name]!.failed.slice(0, 10)) {
        console.log(`  ${f}`);
        const at = Date.parse(f.split(' ')[0]!);
        for (const l of logLines.filter((x) => x.time > at - 10_000 && x.time <= at)) console.log(`    ${new Date(l.time).toISOString()} ${l.msg}`);
      }
      // Every API server, in the endpoint or not, still reaches etcd.
      for (const d of droplets('demo-cp-')) assert.equal(await roundTrip(d.publicIp!, creds, 'default', ++n, 'check'), undefined, `${name}: ${d.name} reaches etcd`);
    };

    // 1. One apply changes all three: etcd 3.5.21 → 3.5.22, Kubernetes v1.34.2 → v1.34.3 (pool included).
    const seen = new Map<string, number>();
    const order: string[] = [];
    watchOrder = setInterval(() => {
      for (const d of compute.droplets.values()) {
        if (seen.has(d.name)) continue;
        seen.set(d.name, Date.now());
        order.push(d.name);
      }
    }, 20);
    for (const d of compute.droplets.values()) seen.set(d.name, 0);
    const membersBefore = new Set(droplets('demo-etcd-').map((d) => d.name));
    await apply({ replicas: 3, version: '3.5.22' }, { version: 'v1.34.3' }, { version: 'v1.34.3' });
    const waiting = await (async () => {
      for (;;) {
        const cp = await get('controlplane', 'demo');
        if (cond(cp, 'RollingOut')?.reason === 'WaitingForEtcdCluster') return cp;
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    console.log(`control plane while etcd rolls: RollingOut ${cond(waiting, 'RollingOut').reason}: ${cond(waiting, 'RollingOut').message}`);
    const settled = async (what: string, pred: () => Promise<boolean>, ms: number) => {
      const deadline = Date.now() + ms;
      while (!(await pred())) {
        if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    const versions = (prefix: string) => droplets(prefix).map((d) => d.tags.find((t) => t.startsWith('hardway:version:')));
    await settled('all three rolled', async () => versions('demo-etcd-').every((v) => v === 'hardway:version:3-5-22') && versions('demo-cp-').every((v) => v === 'hardway:version:v1-34-3') && versions('demo-general-').every((v) => v === 'hardway:version:v1-34-3') && droplets('demo-cp-').length === 2 && droplets('demo-general-').length === 1, 420_000);
    await allReady('120s');
    clearInterval(watchOrder);
    const kindOf = (name: string) => (name.startsWith('demo-etcd-') ? 'etcd' : name.startsWith('demo-cp-') ? 'control plane' : 'workers');
    const created = order.filter((x) => seen.get(x)! > 0).map(kindOf);
    console.log(`machines created, in order: ${created.join(', ')}`);
    assert.deepEqual(created, [...created].sort((a, b) => ['etcd', 'control plane', 'workers'].indexOf(a) - ['etcd', 'control plane', 'workers'].indexOf(b)), 'etcd first, then the control plane, then the workers');
    assert.deepEqual([...new Set(created)], ['etcd', 'control plane', 'workers']);
    assert.ok(droplets('demo-etcd-').every((d) => !membersBefore.has(d.name)), 'every etcd member was replaced');
    await endPhase('version roll (etcd, then control plane, then workers)');

    // 2. A member dies; the operator replaces it.
    const victim = (await get('etcdcluster', 'demo')).status.members.find((m: { leader: boolean }) => !m.leader).name;
    await sim.kill(victim);
    await settled('healed', async () => {
      const e = await get('etcdcluster', 'demo');
      return cond(e, 'Ready')?.status === 'True' && e.status.members.length === 3 && !e.status.members.some((m: { name: string }) => m.name === victim);
    }, 180_000);
    await endPhase('heal a killed member');

    // 3. 3 → 5 → 3.
    await env.kubectl('scale', '-n', ns, 'etcdcluster/demo', '--replicas=5');
    await settled('5 members', async () => {
      const e = await get('etcdcluster', 'demo');
      return cond(e, 'Ready')?.status === 'True' && e.status.members.length === 5 && e.status.observedGeneration === e.metadata.generation;
    }, 180_000);
    assert.equal(dns.records.size > 0 && sim.resolve('demo-etcd.example.com').length, 5, 'the cluster endpoint lists five members');
    await env.kubectl('scale', '-n', ns, 'etcdcluster/demo', '--replicas=3');
    await settled('3 members', async () => {
      const e = await get('etcdcluster', 'demo');
      return cond(e, 'Ready')?.status === 'True' && e.status.members.length === 3 && e.status.observedGeneration === e.metadata.generation;
    }, 180_000);
    assert.equal(sim.resolve('demo-etcd.example.com').length, 3);
    await endPhase('scale 3 → 5 → 3');

    writing = false;
    await writer;
    const cp = await get('controlplane', 'demo');
    assert.equal(cond(cp, 'Ready').status, 'True');
    assert.deepEqual(cp.status.staleEtcdEndpoints ?? [], [], "no stale endpoints (an empty list is left out of status)");
    const all = Object.values(figures);
    console.log(`in all: ${all.reduce((a, f) => a + f.requests, 0)} round trips, ${all.reduce((a, f) => a + f.failed.length, 0)} failed, longest gap ${(Math.max(...all.map((f) => f.longestGapMs)) / 1000).toFixed(1)} s`);
    for (const [name, f] of Object.entries(figures)) assert.ok(f.requests > 10, `${name}: the client wrote throughout`);
    // A member removed by choice has left the endpoint 60 s (here 2 s) before, but an API server keeps the
    // connection it already has: gRPC does not re-resolve a name while its connection lives. The removed
    // member then serves one more second before it stops (etcd v3.5.21 server/etcdserver/server.go
    // applyEntries: stopWithDelay(10*100ms)), and a write sent to it in that second fails ("raft: stopped",
    // seen in CI on 2026-11-30); its connection then closes and the client redials a current member. A member
    // that dies unannounced takes the requests in flight on it ("transport is closing", CI 2026-11-30).
    // So in every phase: a failure comes only in the seconds after a member left or died, at most one per API
    // server for each, and the API is back within 10 s.
    const unplanned = 'heal a killed member';
    const removals = logLines.filter((l) => /removed member/.test(l.msg)).map((l) => l.time);
    const apiServers = 2;
    for (const [name, f] of Object.entries(figures)) {
      const events = removals.filter((r) => r >= f.start && r <= f.end!).length;
      for (const x of f.failed) {
        const at = Date.parse(x.split(' ')[0]!);
        if (name !== unplanned) assert.ok(removals.some((r) => at >= r && at - r < 3_000), `${name}: a request failed outside the second after a member removal: ${x}`);
      }
      assert.ok(f.failed.length <= apiServers * events, `${name}: at most one failed request per API server per member leaving (${f.failed.length})`);
      assert.ok(f.longestGapMs < 10_000, `${name}: the API back within 10 s (${f.longestGapMs} ms)`);
    }
    assert.deepEqual(compute.violations, []);
    assert.deepEqual(dns.violations, []);
  } finally {
    clearInterval(watchOrder); // else a failure before it is cleared keeps the file's process alive
    writing = false;
    await writer;
    // A phase that did not finish (the test failed in it): its figures say what the client saw.
    if (unfinished().requests) console.log(`unfinished phase: ${unfinished().requests} round trips, ${unfinished().failed.length} failed; first: ${unfinished().failed.slice(0, 3).join(' | ')}`);
    await operator?.stop();
    await sim.stop();
    await compute.stop();
    await dns.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
