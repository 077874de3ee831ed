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
        workers: [1, 2].map((n) => ({ name: `w${n}`, address: `w${n}.example.com` })),
      },
      realRenderContext(),
    );
    pkiOnly += Number(process.hrtime.bigint() - t) / 1e6;
    leaves = Object.keys(pki.etcd).length + Object.keys(pki.kubernetes).length + Object.keys(pki.frontProxy).length;
  }
  const pkiMs = pkiOnly / runs;
  const renderPerMachine = (total / runs - pkiMs) / machines;
  return [
    { name: `PKI for a whole cluster (3 CAs, ${machines} machines, ${leaves} leaves, ECDSA P-256)`, value: Math.round(pkiMs), unit: 'ms' },
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

export const suites: { id: string; run: () => Promise<Figure[]> }[] = [
  { id: 'cloud', run: cloudCalls },
  { id: 'pki', run: pkiAndRender },
  { id: 'queue', run: queueThroughput },
  { id: 'memory', run: idleMemory },
];
