// The whole operator in memory for the benches: FakeKube, informers, the three real controllers wired as
// operator.ts wires them, the contract-checked DigitalOcean and Cloudflare fakes, an in-memory etcd, fake
// component health, workload API and key hand-over, and "kubelets" that register a Ready Node for every
// running Kubernetes droplet. `clusters` 3+3+3 sample clusters (one namespace each, all on one token) are
// made when `apply()` is called.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Controller } from '../../src/runtime/controller.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { Metrics } from '../../src/runtime/metrics.ts';
import { FakeKube } from '../../src/kube/fake.ts';
import { Informer, enqueueOwn, enqueueReferencing, referencedBy } from '../../src/kube/informer.ts';
import { ControlPlanes, WorkerPools, Secrets, EtcdClusters } from '../../src/kube/resources.ts';
import { EventRecorder } from '../../src/runtime/events.ts';
import { FakeDigitalOcean } from '../../src/cloud/fake/digitalocean.ts';
import { FakeCloudflare } from '../../src/cloud/fake/cloudflare.ts';
import { CloudFactory } from '../../src/controllers/clouds.ts';
import { etcdClusterController, type EtcdTiming } from '../../src/controllers/etcdcluster/reconciler.ts';
import { controlPlaneController, type ControlPlaneTiming } from '../../src/controllers/controlplane/reconciler.ts';
import { workerPoolController, type WorkerPoolTiming } from '../../src/controllers/workerpool/reconciler.ts';
import { FakeWorkloadConnector } from '../../src/workload/fake.ts';
import { FakeHandOver } from '../../src/handover/fake.ts';
import type { PkiContext } from '../../src/pki/certs.ts';
import type { Observed } from '../../src/controllers/status.ts';
import { FakeKubeHealth } from './fake-kube-health.ts';
import { FakeEtcd } from './fake-etcd.ts';
import { digitalOceanContract, cloudflareContract } from './contracts.ts';
import { sampleOf } from './samples.ts';

export type Obj = Observed & { spec: Record<string, any> };

export interface InMemoryOperatorOptions {
  provisionMs: number;
  fleetCacheTtlMs: number;
  etcd: Partial<EtcdTiming>;
  controlPlane: Partial<ControlPlaneTiming>;
  workerPool: Partial<WorkerPoolTiming>;
  /** Informers' resync (the operator's --resync-seconds); none when undefined. */
  resyncMs?: number;
  pki: Omit<PkiContext, 'now'>;
  /** How many 3+3+3 clusters (default 1). */
  clusters?: number;
  /** The fakes' and the cloud caches' clock (a test may run it faster than real time). */
  clock?: () => number;
  /** The fakes' rate limits (default: far above anything measured; the published ones are 250/min, 5,000/h, 1,200/5 min). */
  limits?: { doMinute?: number; doHour?: number; cfPer5Min?: number };
  /** DropletCache's msPerPage, scaled like the other timings. */
  fleetMsPerPage?: number;
  listingCacheTtlMs?: number;
  /** How the token budgets wait, and for how long at most (CloudEndpoints). */
  sleep?: (ms: number) => Promise<void>;
  budgetMaxWaitMs?: number;
}

export async function inMemoryOperator(o: InMemoryOperatorOptions) {
  const kube = new FakeKube();
  const lim = o.limits ?? {};
  const compute = await new FakeDigitalOcean({ tokens: ['dop_v1_bench'], provisionDelayMs: o.provisionMs, contract: digitalOceanContract(), minuteLimit: lim.doMinute ?? 1_000_000, hourlyLimit: lim.doHour ?? 1_000_000, now: o.clock }).start();
  const dns = await new FakeCloudflare({ tokens: ['cf-bench'], zones: ['example.com'], contract: cloudflareContract(), limitPer5Min: lim.cfPer5Min ?? 1_000_000, now: o.clock }).start();
  const etcd = new FakeEtcd({ machines: compute, dns });
  const health = new FakeKubeHealth();
  const workload = new FakeWorkloadConnector();
  const handOver = new FakeHandOver((a) => compute.activeDroplets().find((d) => d.privateIp === a || d.publicIp === a));
  // Cluster i lives in namespace ns-i (ns for a single one), its API at api.demo-i.example.com.
  const count = o.clusters ?? 1;
  const namespaces = Array.from({ length: count }, (_, i) => (count === 1 ? 'ns' : `ns-${i}`));
  const sample = (kind: string, replicas: number, namespace: string) => {
    const x = sampleOf(kind) as unknown as Obj;
    x.metadata = { name: (x.metadata as { name: string }).name, namespace };
    x.spec.replicas = replicas;
    if (kind === 'ControlPlane' && count > 1) x.spec.endpoint.host = `api.${namespace}.example.com`;
    return x;
  };
  const objects = namespaces.flatMap((ns) => [sample('EtcdCluster', 3, ns), sample('ControlPlane', 3, ns), sample('WorkerPool', 3, ns)]);
  const hosts = objects.filter((x) => x.kind === 'ControlPlane').map((x) => x.spec.endpoint.host as string);
  const b64 = (x: string) => Buffer.from(x).toString('base64');
  for (const namespace of namespaces) await kube.create(Secrets, { metadata: { name: 'demo-credentials', namespace }, data: { 'digitalocean-token': b64('dop_v1_bench'), 'cloudflare-api-token': b64('cf-bench') } });

  // "kubelets": a running control-plane or worker droplet registers a Ready Node in its cluster.
  const registered = new Set<number>();
  const kubelets = setInterval(() => {
    for (const d of compute.activeDroplets()) {
      if (registered.has(d.id) || !d.userData?.includes('kubelet.service')) continue;
      const host = hosts.find((h) => d.userData!.includes(`https://${h}:`)) ?? hosts[0]!;
      registered.add(d.id);
      workload.cluster(host).addNode(d.name, { ready: 'True', unschedulable: false, kubeletVersion: d.userData.match(/kubernetes\/release\/(v[\d.]+)/)?.[1] });
    }
  }, 10);

  const informer = (resource: typeof EtcdClusters, name: string) => new Informer<Obj>(kube.listWatch<Obj>(resource), { name, ...(o.resyncMs ? { resyncMs: o.resyncMs } : {}) });
  const informers = { EtcdCluster: informer(EtcdClusters, 'etcd'), ControlPlane: informer(ControlPlanes, 'cp'), WorkerPool: informer(WorkerPools, 'wp') };
  const referring = (kind: 'ControlPlane' | 'WorkerPool', field: string) => (ns: string, name: string) =>
    informers[kind]
      .list(ns)
      .filter((x) => x.spec?.[field]?.name === name)
      .map((x) => x.metadata.name);
  // Warnings and errors (failed reconciles) are kept: a run that needed them is reported.
  const problems: string[] = [];
  const log = createLogger({
    level: 'warn',
    destination: new Writable({
      write: (c, _e, cb) => {
        const l = JSON.parse(String(c));
        problems.push(`${l.level}: ${l.msg} ${l.err?.message ?? ''}`);
        cb();
      },
    }),
  });
  const events = new EventRecorder(kube, { component: 'hardway', log });
  const clouds = new CloudFactory(kube, { digitalOceanUrl: compute.url, cloudflareUrl: dns.url, fleetCacheTtlMs: o.fleetCacheTtlMs, fleetMsPerPage: o.fleetMsPerPage, listingCacheTtlMs: o.listingCacheTtlMs, now: o.clock, sleep: o.sleep, budgetMaxWaitMs: o.budgetMaxWaitMs });
  const common = { kube, clouds, events, fieldManager: 'hardway', now: () => new Date(), randomBytes: (n: number) => randomBytes(n) as Uint8Array, pki: o.pki };
  const handlers = {
    EtcdCluster: etcdClusterController({ ...common, get: (k) => informers.EtcdCluster.get(k) as never, dependents: referring('ControlPlane', 'etcdClusterRef'), etcdClient: etcd.client, timing: o.etcd }),
    ControlPlane: controlPlaneController({
      ...common,
      get: (k) => informers.ControlPlane.get(k) as never,
      getEtcd: (k) => informers.EtcdCluster.get(k) as never,
      handOver,
      dependents: referring('WorkerPool', 'controlPlaneRef'),
      health,
      workload,
      timing: o.controlPlane,
    }),
    WorkerPool: workerPoolController({ ...common, get: (k) => informers.WorkerPool.get(k) as never, getControlPlane: (k) => informers.ControlPlane.get(k) as never, health, workload, timing: o.workerPool }),
  };
  const controllers = Object.fromEntries(
    (['EtcdCluster', 'ControlPlane', 'WorkerPool'] as const).map((kind) => [kind, new Controller({ kind, reconcile: handlers[kind].reconcile, onTerminalError: handlers[kind].onTerminalError, log, metrics: new Metrics({ defaultMetrics: false }), concurrency: 2, requeueJitter: 0.1 })]),
  ) as Record<keyof typeof informers, Controller>;
  for (const kind of Object.keys(informers) as (keyof typeof informers)[]) informers[kind].on(enqueueOwn(controllers[kind].enqueue));
  // As operator.ts: a dependency's change (its status too) re-enqueues its dependents; a dependent's delete its dependency.
  informers.EtcdCluster.on(enqueueReferencing(referencedBy(informers.ControlPlane, (x) => x.spec?.etcdClusterRef?.name), controllers.ControlPlane.enqueue));
  informers.ControlPlane.on(enqueueReferencing(referencedBy(informers.WorkerPool, (x) => x.spec?.controlPlaneRef?.name), controllers.WorkerPool.enqueue));
  informers.ControlPlane.on((e) => e.type === 'delete' && controllers.EtcdCluster.enqueue(`${e.object.metadata.namespace}/${e.object.spec.etcdClusterRef.name}`));
  informers.WorkerPool.on((e) => e.type === 'delete' && controllers.ControlPlane.enqueue(`${e.object.metadata.namespace}/${e.object.spec.controlPlaneRef.name}`));
  await Promise.all(Object.values(informers).map((i) => i.start()));
  for (const c of Object.values(controllers)) c.start();

  return {
    kube,
    compute,
    dns,
    etcd,
    informers,
    problems,
    namespaces,
    /** Creates the sample objects of every cluster (3 etcd members, 3 control-plane nodes, 3 workers each). */
    apply: () => Promise.all(objects.map((x) => kube.create(x.kind === 'EtcdCluster' ? EtcdClusters : x.kind === 'ControlPlane' ? ControlPlanes : WorkerPools, x))),
    /** Whether every object is Ready for its latest generation. */
    allReady: () => Object.values(informers).every((i) => i.list().length > 0 && i.list().every((x) => x.status?.observedGeneration === x.metadata.generation && x.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))),
    async stop() {
      clearInterval(kubelets);
      await Promise.all(Object.values(controllers).map((c) => c.stop()));
      await Promise.all(Object.values(informers).map((i) => i.stop()));
      await compute.stop();
      await dns.stop();
    },
  };
}
