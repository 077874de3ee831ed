// Benchmark suites for `npm run bench`. HARDWAY_BENCH=queue,memory selects some.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import type { Figure } from './run.ts';
import { Controller } from '../../src/runtime/controller.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { Metrics } from '../../src/runtime/metrics.ts';
import { startCluster, kubeBinariesPresent, kubectlPath, freePort } from '../env/cluster.ts';
import { ClientNodeKube, loadKubeConfig } from '../../src/kube/adapter.ts';
import { EtcdClusters } from '../../src/kube/resources.ts';
import { sampleOf } from '../helpers/samples.ts';
import type { KObject } from '../../src/kube/port.ts';
import { execFileSync } from 'node:child_process';

const silent = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

async function queueThroughput(): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const concurrency of [1, 4]) {
    const keys = 200_000;
    let done = 0;
    let finish!: () => void;
    const finished = new Promise<void>((r) => (finish = r));
    const c = new Controller({
      kind: 'Bench',
      log: silent,
      metrics: new Metrics({ defaultMetrics: false }),
      concurrency,
      reconcile: async () => {
        if (++done === keys) finish();
      },
    });
    const start = process.hrtime.bigint();
    c.start();
    for (let i = 0; i < keys; i++) c.enqueue(`ns/obj-${i}`);
    await finished;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    await c.stop();
    figures.push({ name: `queue: no-op reconciles, ${concurrency} worker(s), metrics on`, value: Math.round(keys / seconds), unit: 'per second' });
  }
  return figures;
}

const rssKiB = (pid: number) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)![1]);

interface OperatorRun {
  pid: number;
  port: number;
  reconciled(): Promise<number>;
  stop(): Promise<void>;
}

/** Starts the compiled operator (as a container would run it) and resolves once its informers synced. */
async function runOperator(kubeconfig: string): Promise<OperatorRun> {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/main.js', `--kubeconfig=${kubeconfig}`, '--leader-elect=false', `--metrics-bind-address=127.0.0.1:${port}`, '--digitalocean-api-url=http://127.0.0.1:9', '--cloudflare-api-url=http://127.0.0.1:9'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let synced = 0;
  await new Promise<void>((resolve) => createInterface({ input: child.stdout! }).on('line', (l) => l.includes('informer synced') && ++synced === 3 && resolve()));
  return {
    pid: child.pid!,
    port,
    reconciled: async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return Number(text.match(/hardway_reconcile_total\{kind="EtcdCluster",result="success"\} (\d+)/)?.[1] ?? 0);
    },
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('exit', r));
    },
  };
}

/** Waits for a process to go quiet before reading its memory (a measurement, not a test). */
const idle = () => new Promise((r) => setTimeout(r, 5000));

async function idleMemory(): Promise<Figure[]> {
  if (!kubeBinariesPresent()) {
    console.log('memory: skipped (no kube-apiserver; run test/env/setup.sh)');
    return [];
  }
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  const objects = 1000;
  const cluster = await startCluster();
  const kube = new ClientNodeKube(loadKubeConfig({ kubeconfig: cluster.kubeconfig }));
  try {
    execFileSync(kubectlPath, ['--kubeconfig', cluster.kubeconfig, 'apply', '--validate=false', '-f', 'crds/'], { stdio: 'ignore' });
    execFileSync(kubectlPath, ['--kubeconfig', cluster.kubeconfig, 'wait', '--for=condition=Established', 'crd', '--all'], { stdio: 'ignore' });

    const empty = await runOperator(cluster.kubeconfig);
    await idle();
    const baseline = rssKiB(empty.pid);
    await empty.stop();

    // Paused: the figure is the operator's memory with 1,000 objects cached, not cloud traffic.
    const sample = sampleOf('EtcdCluster') as unknown as KObject;
    const names = Array.from({ length: objects }, (_, i) => `bench-${i}`);
    for (let i = 0; i < names.length; i += 20) {
      await Promise.all(names.slice(i, i + 20).map((name) => kube.create(EtcdClusters, { ...sample, metadata: { name, namespace: 'default', annotations: { 'hardway.dev/paused': 'true' } } })));
    }
    const started = Date.now();
    const full = await runOperator(cluster.kubeconfig);
    while ((await full.reconciled()) < objects) await new Promise((r) => setTimeout(r, 100));
    const firstPass = (Date.now() - started) / 1000;
    await idle();
    const loaded = rssKiB(full.pid);
    await full.stop();
    const mib = (kib: number) => Math.round(kib / 102.4) / 10;
    return [
      { name: `operator: start to ${objects} paused EtcdClusters reconciled (finalizer and status written)`, value: Math.round(firstPass * 10) / 10, unit: 's' },
      { name: 'operator: resident memory, idle, no objects (dist/main.js)', value: mib(baseline), unit: 'MiB' },
      { name: `operator: resident memory, idle, ${objects} EtcdClusters cached`, value: mib(loaded), unit: 'MiB' },
    ];
  } finally {
    kube.close();
    await cluster.stop();
  }
}

async function pkiAndRender(): Promise<Figure[]> {
  const { renderCluster } = await import('../../src/bootstrap/cluster.ts');
  const { sampleCluster, realRenderContext } = await import('../helpers/cluster.ts');
  const cluster = sampleCluster();
  const machines = cluster.etcd.spec.replicas + cluster.controlPlane.spec.replicas + cluster.workerPools.reduce((n, p) => n + p.spec.replicas, 0);
  renderCluster(cluster, realRenderContext()); // warm up
  const runs = 20;
  let total = 0;
  let pkiOnly = 0;
  let leaves = 0;
  const { buildClusterPki } = await import('../../src/pki/cluster.ts');
  for (let i = 0; i < runs; i++) {
    let t = process.hrtime.bigint();
    renderCluster(cluster, realRenderContext());
    total += Number(process.hrtime.bigint() - t) / 1e6;
    t = process.hrtime.bigint();
    const pki = buildClusterPki(
      {
        etcdMembers: [1, 2, 3].map((n) => ({ name: `e${n}`, address: `e${n}.example.com` })),
        controlPlane: { endpointHost: 'api.example.com', nodes: [1, 2, 3].map((n) => ({ name: `c${n}`, address: `c${n}.example.com` })), kubernetesServiceIP: '10.32.0.1', clusterDomain: 'cluster.local' },
      },
      realRenderContext(),
    );
    pkiOnly += Number(process.hrtime.bigint() - t) / 1e6;
    leaves = Object.keys(pki.etcd).length + Object.keys(pki.etcdPeer).length + Object.keys(pki.kubernetes).length + Object.keys(pki.frontProxy).length;
  }
  const pkiMs = pkiOnly / runs;
  const renderPerMachine = (total / runs - pkiMs) / machines;
  return [
    { name: `PKI for a whole cluster (4 CAs, ${machines} machines, ${leaves} leaves, ECDSA P-256)`, value: Math.round(pkiMs), unit: 'ms' },
    { name: 'render one machine’s user-data (after PKI)', value: Math.round(renderPerMachine * 100) / 100, unit: 'ms' },
  ];
}

async function cloudCalls(): Promise<Figure[]> {
  const { FakeDigitalOcean } = await import('../../src/cloud/fake/digitalocean.ts');
  const { DigitalOceanCompute } = await import('../../src/cloud/digitalocean/compute.ts');
  const { DropletCache } = await import('../../src/cloud/digitalocean/droplet-cache.ts');
  const fake = await new FakeDigitalOcean({ tokens: ['dop_v1_bench'], minuteLimit: 1_000_000, hourlyLimit: 1_000_000 }).start();
  try {
    const compute = new DigitalOceanCompute({ token: 'dop_v1_bench', baseUrl: fake.url });
    const clusters = 300;
    const perCluster = 10;
    for (let c = 0; c < clusters; c++) {
      const specs = Array.from({ length: perCluster }, (_, i) => ({ name: `c${c}-n${i}`, region: 'fra1', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64', tags: ['hardway', `hardway:owner:c${c}`] }));
      await compute.createDroplets(specs);
    }
    // A full resync: every cluster's reconcile asks for its own droplets through the shared cache.
    const cache = new DropletCache(compute, { fleetTag: 'hardway', ttlMs: 30_000 });
    const before = fake.calls.length;
    const found = await Promise.all(Array.from({ length: clusters }, (_, c) => cache.withTags(`hardway:owner:c${c}`)));
    const resync = fake.calls.length - before;
    if (found.some((f) => f.length !== perCluster)) throw new Error('bench: a cluster did not find its droplets');

    // Creating a 3+3+3 cluster: per object, look up by owner tag (cache, invalidated by the previous
    // object's create), then create its machines; each machine has its own user-data, so one POST each.
    const startCreate = fake.calls.length;
    for (const [role, n] of [['etcd', 3], ['cp', 3], ['worker', 3]] as const) {
      await cache.withTags(`hardway:owner:new-${role}`);
      await compute.createDroplets(Array.from({ length: n }, (_, i) => ({ name: `new-${role}-${i}`, region: 'fra1', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64', tags: ['hardway', `hardway:owner:new-${role}`], userData: `#cloud-config\nhostname: new-${role}-${i}\n` })));
      cache.invalidate(`hardway:owner:new-${role}`);
    }
    const create = fake.calls.length - startCreate;
    return [
      { name: `DigitalOcean calls for a full resync of ${clusters * perCluster} droplets in ${clusters} clusters`, value: resync, unit: 'calls (⌈3000/200⌉ = 15)' },
      { name: 'DigitalOcean calls to create a 3+3+3 cluster’s droplets (owner lookups from the warm fleet cache + one create per machine)', value: create, unit: 'calls' },
    ];
  } finally {
    await fake.stop();
  }
}

/**
 * The whole operator in memory (FakeKube, informers, the three real controllers wired as operator.ts wires
 * them, the contract-checked DigitalOcean and Cloudflare fakes, an in-memory etcd, fake component health and
 * workload API) applying a 3+3+3 cluster: the time and cloud calls from creating the three objects to the
 * fake DigitalOcean having received the ninth droplet create. Short timings, droplets active 100 ms after
 * their create; each run is a fresh operator and fresh fakes.
 */
async function clusterApply(): Promise<Figure[]> {
  const { randomBytes } = await import('node:crypto');
  const { generateKey } = await import('../../src/pki/x509.ts');
  const { createCA, issueLeaf } = await import('../../src/pki/certs.ts');
  const { inMemoryOperator } = await import('../helpers/in-memory-operator.ts');

  const PROVISION_MS = 100;
  const WAIT_MS = 25;
  const FLEET_CACHE_TTL_MS = 50;
  const runs = 5;

  // Cost of one certificate (key + signature) alone, to estimate the PKI share of a run.
  let certificates = 0;
  const pki = {
    newKey: () => {
      certificates++;
      return generateKey();
    },
    randomHex: (n: number) => randomBytes(n).toString('hex'),
  };
  const ca = createCA('bench', { ...pki, now: new Date() });
  for (let i = 0; i < 20; i++) issueLeaf(ca, { commonName: 'warm', usages: ['client'] }, { ...pki, now: new Date() });
  const started = process.hrtime.bigint();
  for (let i = 0; i < 100; i++) issueLeaf(ca, { commonName: `leaf-${i}`, names: [`n${i}.example.com`, '10.0.0.1'], usages: ['server', 'client'] }, { ...pki, now: new Date() });
  const perCertificateMs = Number(process.hrtime.bigint() - started) / 1e6 / 100;

  async function once() {
    const fast = { waitMs: WAIT_MS, steadyMs: 1_000, unhealthyAfterMs: 60_000, graceMs: 10_000, cloudSyncMs: 60_000 };
    const op = await inMemoryOperator({
      provisionMs: PROVISION_MS,
      fleetCacheTtlMs: FLEET_CACHE_TTL_MS,
      etcd: { ...fast, probeTimeoutMs: 1_000 },
      controlPlane: { ...fast, rotationDrainMs: 100 },
      workerPool: { ...fast, drainTimeoutMs: 2_000 },
      pki,
    });
    const { compute, dns, etcd, informers, problems } = op;

    // Milestones: every droplet create (the fake records each call) and each kind's first Ready.
    const t0 = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
    const creates: number[] = [];
    const ready: Partial<Record<string, number>> = {};
    let done!: () => void;
    const allRequested = new Promise<void>((r) => (done = r));
    const push = compute.calls.push.bind(compute.calls);
    compute.calls.push = (...calls) => {
      for (const c of calls) if (c.method === 'POST' && c.path === '/v2/droplets' && c.status < 300 && creates.push(ms()) === 9) done();
      return push(...calls);
    };
    for (const i of Object.values(informers)) i.on((e) => e.object.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && (ready[e.object.kind ?? ''] ??= ms()));

    const cpu = process.cpuUsage();
    certificates = 0;
    await op.apply();
    const timeout = setTimeout(() => done(), 60_000);
    await allRequested;
    clearTimeout(timeout);
    const total = ms();
    const used = process.cpuUsage(cpu);
    const result = {
      total,
      cpuMs: (used.user + used.system) / 1000,
      certificates,
      creates,
      ready,
      digitalOcean: compute.calls.length,
      cloudflare: dns.calls.length,
      etcd: etcd.calls.length,
      violations: [...compute.violations, ...dns.violations],
      problems,
    };
    if (creates.length < 9) throw new Error(`cluster bench: only ${creates.length}/9 droplets requested within 60 s; last problems: ${problems.slice(-5).join(' | ')}`);
    // The etcd cluster was built as etcd builds it: seed, then two learners added and promoted.
    const members = etcd.members(informers.EtcdCluster.get('ns/demo')!.metadata.uid!);
    const ops = (op: string) => etcd.calls.filter((c) => c.op === op).length;
    if (members.length !== 3 || members.some((m) => m.isLearner || !m.name) || ops('memberAdd') !== 2 || ops('memberPromote') !== 2) {
      throw new Error(`cluster bench: etcd not built seed + 2 learners: ${JSON.stringify(members)}`);
    }
    await op.stop();
    return result;
  }

  const results = [];
  for (let i = 0; i < runs; i++) results.push(await once());
  const sorted = [...results].sort((a, b) => a.total - b.total);
  const median = sorted[Math.floor(runs / 2)]!;
  for (const r of results) {
    if (r.violations.length) console.log(`cluster: contract violations: ${r.violations.slice(0, 3).join('; ')}`);
    if (r.problems.length) console.log(`cluster: ${r.problems.length} warnings/errors logged, e.g. ${r.problems.slice(0, 3).join(' | ')}`);
  }
  const round = (x: number | undefined) => Math.round(x ?? NaN);
  const name = 'cluster 3+3+3';
  return [
    { name: `${name}: apply → all droplets requested (median of ${runs} runs; droplets active ${PROVISION_MS} ms after create, waitMs ${WAIT_MS}, fleet cache ${FLEET_CACHE_TTL_MS} ms)`, value: round(median.total), unit: `ms (runs: ${results.map((r) => round(r.total)).join(', ')})` },
    {
      name: `${name}: … EtcdCluster Ready (3 members, one at a time)`,
      value: round(median.ready.EtcdCluster),
      unit: `ms (then: first control-plane droplet at ${round(median.creates[3])} ms, ControlPlane Ready at ${round(median.ready.ControlPlane)} ms, first worker droplet at ${round(median.creates[6])} ms)`,
    },
    { name: `${name}: … DigitalOcean calls`, value: median.digitalOcean, unit: `calls (9 droplet creates; runs: ${results.map((r) => r.digitalOcean).join(', ')})` },
    { name: `${name}: … Cloudflare calls`, value: median.cloudflare, unit: `calls (runs: ${results.map((r) => r.cloudflare).join(', ')})` },
    { name: `${name}: … etcd calls (in-memory etcd)`, value: median.etcd, unit: 'calls' },
    { name: `${name}: … of which PKI (${median.certificates} certificates × ${perCertificateMs.toFixed(2)} ms each, measured alone)`, value: round(median.certificates * perCertificateMs), unit: 'ms' },
    { name: `${name}: … CPU time of the process (controllers, fakes, API server in memory)`, value: round(median.cpuMs), unit: 'ms' },
  ];
}

/**
 * Steady state: the cloud calls Ready 3+3+3 clusters cost per hour at the operator's default timings
 * (issue #18 asks for this figure). Time runs SCALE times faster: every timing the operator has (the three
 * controllers' defaults, the informers' resync, the cloud caches' periods, droplet provisioning) is divided
 * by SCALE, so an hour of operator time passes in HOUR_MS / SCALE real milliseconds; the calls the fakes
 * record in that window are the hour's. Measured from ten operator-minutes after every object is Ready.
 * Not scaled: each call's own latency on loopback (a few ms), so a reconcile takes longer in operator time
 * than it would (the figure can only be lower than at full speed).
 */
async function steadyRun(clusters: number) {
  const { randomBytes } = await import('node:crypto');
  const { generateKey } = await import('../../src/pki/x509.ts');
  const { inMemoryOperator } = await import('../helpers/in-memory-operator.ts');
  const { DEFAULT_ETCD_TIMING } = await import('../../src/controllers/etcdcluster/reconciler.ts');
  const { DEFAULT_CONTROL_PLANE_TIMING } = await import('../../src/controllers/controlplane/reconciler.ts');
  const { DEFAULT_WORKER_POOL_TIMING } = await import('../../src/controllers/workerpool/reconciler.ts');
  const { parseConfig } = await import('../../src/runtime/config.ts');
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
  const scaled = <T extends object>(t: T) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, (v as number) / SCALE])) as T;
  // The fakes, the cloud caches and the token budgets read a clock SCALE times faster than the wall clock:
  // their periods and windows stay in operator time (the defaults), and so do the providers' limits.
  const t0 = Date.now();
  const op = await inMemoryOperator({
    clusters,
    clock: () => t0 + (Date.now() - t0) * SCALE,
    sleep: (ms) => sleep(ms / SCALE),
    provisionMs: 60_000,
    // The defaults of DropletCache (30 s, 3.6 s a page) and of CloudFactory's listings (5 min).
    fleetCacheTtlMs: 30_000,
    fleetMsPerPage: 3_600,
    listingCacheTtlMs: 300_000,
    // The controllers' own timings are on the wall clock: divided by SCALE.
    etcd: scaled(DEFAULT_ETCD_TIMING),
    controlPlane: scaled(DEFAULT_CONTROL_PLANE_TIMING),
    workerPool: scaled(DEFAULT_WORKER_POOL_TIMING),
    resyncMs: (parseConfig([], {}).resyncSeconds * 1000) / SCALE,
    pki: { newKey: generateKey, randomHex: (n: number) => randomBytes(n).toString('hex') },
  });
  try {
    await op.apply();
    const deadline = Date.now() + 60_000 + clusters * 20_000;
    while (!op.allReady()) {
      if (Date.now() > deadline) throw new Error(`steady-state bench: not Ready in time; last problems: ${op.problems.slice(-5).join(' | ')}`);
      await sleep(50);
    }
    await sleep(HOUR_MS / 6 / SCALE);
    const from = { digitalOcean: op.compute.calls.length, cloudflare: op.dns.calls.length, problems: op.problems.length };
    const cpu = process.cpuUsage();
    await sleep(HOUR_MS / SCALE);
    const cpuMs = (() => {
      const u = process.cpuUsage(cpu);
      return (u.user + u.system) / 1000;
    })();
    if (!op.allReady()) throw new Error('steady-state bench: an object left Ready during the measured hour');
    const result = { clusters, doCalls: op.compute.calls.slice(from.digitalOcean), cfCalls: op.dns.calls.slice(from.cloudflare), cpuMs, problems: op.problems.slice(from.problems), firewalls: op.compute.firewalls.size, loadBalancers: op.compute.loadBalancers.size, records: op.dns.records.size };
    // Then a worker droplet deleted out of band (as in the DigitalOcean console): how long, in operator
    // time, until its pool has made a new one.
    const victim = [...op.compute.droplets.values()].find((x) => x.name.startsWith('demo-general-'))!;
    const owner = victim.tags.find((t) => t.startsWith('hardway:owner:'))!;
    const before = new Set([...op.compute.droplets.values()].filter((x) => x.tags.includes(owner)).map((x) => x.id));
    op.compute.droplets.delete(victim.id);
    const deletedAt = Date.now();
    while (![...op.compute.droplets.values()].some((x) => x.tags.includes(owner) && !before.has(x.id))) {
      if (Date.now() - deletedAt > HOUR_MS / SCALE) throw new Error('steady-state bench: a deleted droplet was not replaced within an operator-hour');
      await sleep(10);
    }
    return { ...result, replacedAfterS: Math.round(((Date.now() - deletedAt) * SCALE) / 1000) };
  } finally {
    await op.stop();
  }
}

const SCALE = 60;
const HOUR_MS = 3_600_000;

/** Calls by kind: method and path, ids folded, the fleet listing (tag_name=hardway) apart. */
function callKinds(calls: { method: string; path: string; query?: string }[]): Map<string, number> {
  const by = new Map<string, number>();
  for (const c of calls) {
    const fleet = c.method === 'GET' && c.path === '/v2/droplets' && /tag_name=hardway(&|$)/.test(c.query ?? '');
    const k = `${c.method} ${c.path.replace(/\/[0-9a-f-]{8,}(?=\/|$)|\/\d+(?=\/|$)/g, '/{id}')}${fleet ? ' (fleet)' : c.path === '/v2/droplets' && c.method === 'GET' ? ' (one owner)' : ''}`;
    by.set(k, (by.get(k) ?? 0) + 1);
  }
  return by;
}
const kindsText = (by: Map<string, number>) => [...by.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';

async function steadyState(): Promise<Figure[]> {
  const { DEFAULT_NODE_TIMING } = await import('../../src/controllers/machines/lifecycle.ts');
  const many = Number(process.env.HARDWAY_BENCH_CLUSTERS ?? 10);
  const one = await steadyRun(1);
  const fleet = await steadyRun(many);
  // 80 % of each provider's published limit (../shared/contracts/FACTS.md §2.2: 5,000 per hour per
  // DigitalOcean token; §3.2: 1,200 per five minutes per Cloudflare user).
  const DO_BUDGET = 0.8 * 5_000;
  const CF_BUDGET = 0.8 * 14_400;
  /**
   * Clusters per token, from the measured runs. Listings of the whole account (droplets by the fleet tag,
   * firewalls, load balancers) are shared by every cluster on the token: their number per hour is set by
   * the caches' periods, their pages grow with the fleet. Everything else is per cluster, taken from the
   * many-cluster run. So calls(N) = Σ listings/h × pages(N) + N × per-cluster, solved for the largest N
   * under the budget. Pages: 9 droplets, 3 firewalls and at most 1 load balancer per cluster, 200 a page.
   */
  const perHour = (period: number) => HOUR_MS / period;
  const pages = (n: number, size = 200) => Math.max(1, Math.ceil(n / size));
  // Per cluster, from the fakes: 9 droplets, its firewalls, load balancers and DNS records.
  const per = { firewalls: fleet.firewalls / many, loadBalancers: fleet.loadBalancers / many, records: fleet.records / many };
  const fleetPeriodMs = (n: number) => Math.max(30_000, pages(9 * n) * 3_600);
  const sharedDo = (n: number) => perHour(fleetPeriodMs(n)) * pages(9 * n) + perHour(300_000) * (pages(per.firewalls * n) + pages(per.loadBalancers * n));
  // One zone here; each zone has its own listing (500 records a page).
  const sharedCf = (n: number) => perHour(300_000) * pages(per.records * n, 500);
  const sharedDoKinds = /^GET \/v2\/(firewalls|load_balancers)$|\(fleet\)$/;
  const doKinds = callKinds(fleet.doCalls);
  const cfKinds = callKinds(fleet.cfCalls);
  const perClusterDo = [...doKinds.entries()].filter(([k]) => !sharedDoKinds.test(k)).reduce((a, [, n]) => a + n, 0) / many;
  const perClusterCf = [...cfKinds.entries()].filter(([k]) => !/^GET .*\/dns_records$/.test(k)).reduce((a, [, n]) => a + n, 0) / many;
  const doModel = (n: number) => sharedDo(n) + n * perClusterDo;
  const cfModel = (n: number) => sharedCf(n) + n * perClusterCf;
  // The most clusters with the model under the budget and the fleet listed at least every 300 s (the
  // shortest heal timing, an etcd member's unhealthyAfterMs), so deletions are still seen in time.
  const most = (model: (n: number) => number, budget: number, seenInTime: (n: number) => boolean = () => true) => {
    let n = 0;
    while (n < 100_000 && model(n + 1) <= budget && seenInTime(n + 1)) n++;
    return n;
  };
  const doMax = most(doModel, DO_BUDGET, (n) => fleetPeriodMs(n) <= 300_000);
  const cfMax = most(cfModel, CF_BUDGET);
  const objects = 3 * many;
  const cpuPerObjectHour = fleet.cpuMs / objects;
  const name = 'steady state, Ready 3+3+3 clusters at default timings';
  return [
    { name: `${name}: one cluster alone, DigitalOcean calls per hour`, value: one.doCalls.length, unit: `calls (${kindsText(callKinds(one.doCalls))})` },
    { name: `${name}: one cluster alone, Cloudflare calls per hour`, value: one.cfCalls.length, unit: `calls (${kindsText(callKinds(one.cfCalls))})` },
    { name: `${name}: ${many} clusters on one token, DigitalOcean calls per hour`, value: fleet.doCalls.length, unit: `calls (${kindsText(doKinds)})` },
    { name: `${name}: ${many} clusters on one token, Cloudflare calls per hour`, value: fleet.cfCalls.length, unit: `calls (${kindsText(callKinds(fleet.cfCalls))})` },
    { name: `${name}: … calls per cluster per hour besides the shared listings`, value: Math.round((perClusterDo + perClusterCf) * 100) / 100, unit: `calls (DigitalOcean ${perClusterDo}, Cloudflare ${perClusterCf})` },
    { name: `${name}: such clusters per DigitalOcean token under 80 % of 5,000/h`, value: doMax, unit: `clusters (goal: 250; at 250: ${Math.round(doModel(250))} calls/h, the fleet listed every ${fleetPeriodMs(250) / 1000} s; the bound is ${doModel(doMax + 1) > DO_BUDGET ? 'the budget' : 'a listing every 300 s'})` },
    { name: `${name}: such clusters per Cloudflare token under 80 % of 1,200/5 min`, value: cfMax, unit: `clusters in one zone (goal: 250; at 250: ${Math.round(cfModel(250))} calls/h; hourly average, creation bursts not counted)` },
    { name: `${name}: a worker droplet deleted out of band, replaced after`, value: fleet.replacedAfterS, unit: `operator-seconds with ${many} clusters (${one.replacedAfterS} with one; the heal timing for an unhealthy node is ${DEFAULT_NODE_TIMING.unhealthyAfterMs / 1000} s)` },
    { name: `${name}: CPU per object per operator-hour (operator and fakes in one process)`, value: Math.round(cpuPerObjectHour), unit: `ms (one replica on one core keeps ${Math.floor(HOUR_MS / cpuPerObjectHour).toLocaleString('en-US')} objects at these timings)` },
    ...[one, fleet].filter((r) => r.problems.length).map((r) => ({ name: `${name}: ${r.clusters} cluster(s), warnings and errors logged`, value: r.problems.length, unit: `(e.g. ${r.problems.slice(0, 2).join(' | ')})` })),
  ];
}

/**
 * An etcd snapshot streamed to S3 by the operator's code, in a child process: its size against the peak
 * RSS of that process while streaming (the chart's memory limit is 512 MiB; the snapshot is larger).
 */
async function snapshotStreaming(): Promise<Figure[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--expose-gc', 'test/bench/snapshot-child.ts'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SIZE_MIB: process.env.HARDWAY_BENCH_SNAPSHOT_MIB ?? '600' } });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  const line = out.split('\n').find((l) => l.startsWith('{"size"'));
  if (code !== 0 || !line) throw new Error(`snapshot bench failed (${code}): ${out.slice(-500)}`);
  const r = JSON.parse(line) as { size: number; seconds: number; peakRssKiB: number };
  return [
    { name: 'etcd snapshot to S3: size', value: Math.round(r.size / 1024 / 1024), unit: 'MiB' },
    { name: 'etcd snapshot to S3: throughput', value: Math.round(r.size / 1024 / 1024 / r.seconds), unit: 'MiB/s' },
    { name: 'etcd snapshot to S3: peak RSS of the streaming process', value: Math.round(r.peakRssKiB / 1024), unit: 'MiB' },
  ];
}

export const suites: { id: string; run: () => Promise<Figure[]> }[] = [
  { id: 'cloud', run: cloudCalls },
  { id: 'pki', run: pkiAndRender },
  { id: 'queue', run: queueThroughput },
  { id: 'memory', run: idleMemory },
  { id: 'cluster', run: clusterApply },
  { id: 'steady', run: steadyState },
  { id: 'snapshot', run: snapshotStreaming },
];
