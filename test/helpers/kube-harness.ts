// Everything a ControlPlane / WorkerPool converge test needs, in memory and fast: the fake API server, the
// cloud fakes (contract checked), component health and the workload cluster as fakes, "kubelets" that
// register a Node for every running node droplet, an EtcdCluster that is Ready (with its CA Secret), and
// the real ControlPlane and WorkerPool controllers with short timings.
import { randomBytes } from 'node:crypto';
import { Informer, enqueueOwn, enqueueReferencing, referencedBy } from '../../src/kube/informer.ts';
import { EtcdClusters, ControlPlanes, WorkerPools, Secrets } from '../../src/kube/resources.ts';
import type { Resource } from '../../src/kube/port.ts';
import { Controller } from '../../src/runtime/controller.ts';
import { KeyedBackoff } from '../../src/runtime/backoff.ts';
import { EventRecorder } from '../../src/runtime/events.ts';
import { CloudFactory } from '../../src/controllers/clouds.ts';
import { controlPlaneController, type ControlPlaneTiming } from '../../src/controllers/controlplane/reconciler.ts';
import { workerPoolController, type WorkerPoolTiming } from '../../src/controllers/workerpool/reconciler.ts';
import { FakeWorkloadConnector } from '../../src/workload/fake.ts';
import { FakeHandOver } from '../../src/handover/fake.ts';
import { createCA } from '../../src/pki/certs.ts';
import { generateKey } from '../../src/pki/x509.ts';
import type { Observed } from '../../src/controllers/status.ts';
import { FakeKubeHealth } from './fake-kube-health.ts';
import { harnessBase } from './harness-base.ts';
import { sampleOf } from './samples.ts';

export type Obj = Observed & { spec: Record<string, any> };

export const FAST_CP: Partial<ControlPlaneTiming> = { waitMs: 50, steadyMs: 500, unhealthyAfterMs: 3_000, graceMs: 2_000, cloudSyncMs: 60_000, rotationDrainMs: 100, joinBackoffMs: 200 };
export const FAST_WP: Partial<WorkerPoolTiming> = { waitMs: 50, steadyMs: 500, unhealthyAfterMs: 3_000, graceMs: 2_000, cloudSyncMs: 60_000, drainTimeoutMs: 2_000, joinBackoffMs: 200 };

const pki = { newKey: generateKey, randomHex: (n: number) => randomBytes(n).toString('hex') };

export async function kubeHarness(o: { provisionDelayMs?: number; cp?: Partial<ControlPlaneTiming>; wp?: Partial<WorkerPoolTiming>; registerNodes?: boolean } = {}) {
  const { kube, compute, dns, lines, bus, log, b64 } = await harnessBase({ provisionDelayMs: o.provisionDelayMs ?? 100 });
  const health = new FakeKubeHealth();
  const workload = new FakeWorkloadConnector();
  const host = (sampleOf('ControlPlane').spec as { endpoint: { host: string } }).endpoint.host;
  const api = workload.cluster(host);
  // Control-plane droplets answer nothing until their keys are handed over (their units wait for them).
  const byAddress = (a: string) => compute.activeDroplets().find((d) => d.privateIp === a || d.publicIp === a);
  const handOver = new FakeHandOver(byAddress, () => bus.emit('change'));
  const waitsForKeys = (d: { userData?: string }) => !!d.userData?.includes('hardway-handover.service');
  health.gate = (name) => {
    const d = compute.activeDroplets().find((x) => x.name === name);
    return d && waitsForKeys(d) && !handOver.pushes.has(name) ? { ok: false, message: 'connect ECONNREFUSED (keys not handed over yet)' } : undefined;
  };

  // An EtcdCluster that is Ready, with its CA: what the EtcdCluster controller leaves behind.
  const etcd = sampleOf('EtcdCluster') as unknown as Obj;
  etcd.metadata = { name: 'demo', namespace: 'ns' };
  const made = await kube.create(EtcdClusters, etcd);
  const etcdCA = createCA('etcd-ca ns/demo', { ...pki, now: new Date() });
  await kube.create(Secrets, { metadata: { name: 'demo-etcd-ca', namespace: 'ns' }, data: { 'tls.crt': b64(etcdCA.cert), 'tls.key': b64(etcdCA.key), 'ca.crt': b64(etcdCA.cert) } });
  await kube.applyStatus(EtcdClusters, made.metadata, {
    observedGeneration: made.metadata.generation,
    clientEndpoint: 'https://demo-etcd.example.com:2379',
    clientEndpoints: ['https://demo-etcd-aaaaa.example.com:2379'],
    conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: '3/3 members healthy', lastTransitionTime: new Date().toISOString() }],
  }, { fieldManager: 'test' });

  // "kubelets": every running control-plane or worker droplet registers a Ready Node (once).
  const registered = new Set<string>();
  const kubelets = setInterval(() => {
    if (o.registerNodes === false) return;
    for (const d of compute.activeDroplets()) {
      if (registered.has(d.name) || !d.userData?.includes('kubelet.service')) continue;
      if (waitsForKeys(d) && !handOver.pushes.has(d.name)) continue;
      registered.add(d.name);
      api.addNode(d.name, { ready: 'True', unschedulable: false, kubeletVersion: d.userData.match(/kubernetes\/release\/(v[\d.]+)/)?.[1] });
      bus.emit('change');
    }
  }, 20);

  const events = new EventRecorder(kube, { component: 'hardway', log });
  // The operator's clock, which a test may move forward (certificates age; timers do not).
  let offsetMs = 0;
  const boot = async () => {
    const informers = {
      EtcdCluster: new Informer<Obj>(kube.listWatch<Obj>(EtcdClusters), { name: 'etcd' }),
      ControlPlane: new Informer<Obj>(kube.listWatch<Obj>(ControlPlanes), { name: 'cp' }),
      WorkerPool: new Informer<Obj>(kube.listWatch<Obj>(WorkerPools), { name: 'wp' }),
    };
    const clouds = new CloudFactory(kube, { digitalOceanUrl: compute.url, cloudflareUrl: dns.url, fleetCacheTtlMs: 500, listingCacheTtlMs: 500, now: () => Date.now() + offsetMs });
    const common = { kube, clouds, events, fieldManager: 'hardway', now: () => new Date(Date.now() + offsetMs), randomBytes: (n: number) => randomBytes(n) as Uint8Array, pki, health, workload, handOver };
    const cp = controlPlaneController({
      ...common,
      get: (k) => informers.ControlPlane.get(k) as never,
      getEtcd: (k) => informers.EtcdCluster.get(k) as never,
      dependents: (ns, name) => informers.WorkerPool.list(ns).filter((w) => w.spec.controlPlaneRef?.name === name).map((w) => w.metadata.name),
      timing: { ...FAST_CP, ...o.cp },
    });
    const wp = workerPoolController({
      ...common,
      get: (k) => informers.WorkerPool.get(k) as never,
      getControlPlane: (k) => informers.ControlPlane.get(k) as never,
      timing: { ...FAST_WP, ...o.wp },
    });
    // Backoff scaled down with the other timings (production: 1 s doubling to 5 min).
    const queue = () => ({ backoff: new KeyedBackoff(50, 2_000) });
    const cpc = new Controller({ kind: 'ControlPlane', reconcile: cp.reconcile, onTerminalError: cp.onTerminalError, log, concurrency: 2, queue: queue() });
    const wpc = new Controller({ kind: 'WorkerPool', reconcile: wp.reconcile, onTerminalError: wp.onTerminalError, log, concurrency: 2, queue: queue() });
    informers.ControlPlane.on(enqueueOwn(cpc.enqueue));
    informers.WorkerPool.on(enqueueOwn(wpc.enqueue));
    informers.EtcdCluster.on(enqueueReferencing(referencedBy(informers.ControlPlane, (x) => x.spec?.etcdClusterRef?.name), cpc.enqueue));
    informers.ControlPlane.on(enqueueReferencing(referencedBy(informers.WorkerPool, (x) => x.spec?.controlPlaneRef?.name), wpc.enqueue));
    informers.WorkerPool.on((e) => e.type === 'delete' && cpc.enqueue(`${e.object.metadata.namespace}/${e.object.spec.controlPlaneRef.name}`));
    await Promise.all(Object.values(informers).map((i) => i.start()));
    cpc.start();
    wpc.start();
    return { informers, controllers: [cpc, wpc] };
  };
  let op = await boot();

  const watch = {
    ControlPlane: new Informer<Obj>(kube.listWatch<Obj>(ControlPlanes), { name: 'test-cp' }),
    WorkerPool: new Informer<Obj>(kube.listWatch<Obj>(WorkerPools), { name: 'test-wp' }),
  };
  for (const i of Object.values(watch)) {
    i.on(() => bus.emit('change'));
    await i.start();
  }

  /** Resolves when pred holds (checked on every change: objects, log lines, node registrations), or fails after ms. */
  const until = <T>(what: string, pred: () => T | undefined | false, ms = 30_000) =>
    new Promise<T>((resolve, reject) => {
      const check = () => {
        const v = pred();
        if (v) {
          clearTimeout(timer);
          bus.off('change', check);
          resolve(v);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        bus.off('change', check);
        const conds = (k: 'ControlPlane' | 'WorkerPool') => watch[k].list().map((x) => [x.metadata.name, x.status?.conditions?.filter((c) => c.status !== 'True' || c.type === 'Ready').map((c) => `${c.type}=${c.status} ${c.message ?? ''}`)]);
        reject(new Error(`${what}: not within ${ms} ms; cp ${JSON.stringify(conds('ControlPlane'))}; wp ${JSON.stringify(conds('WorkerPool'))}; last log: ${JSON.stringify(lines.slice(-6).map((l) => `${l.msg} ${l.err?.message ?? l.why ?? ''}`))}`));
      }, ms);
      if (!check()) bus.on('change', check);
    });
  const get = (kind: 'ControlPlane' | 'WorkerPool', name: string) => watch[kind].get(`ns/${name}`);
  const ready = (kind: 'ControlPlane' | 'WorkerPool', name: string) => () => {
    const x = get(kind, name);
    return x && x.status?.observedGeneration === x.metadata.generation && x.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? x : undefined;
  };

  return {
    kube,
    compute,
    dns,
    health,
    workload,
    handOver,
    api,
    host,
    lines,
    until,
    get,
    ready,
    /** Droplets of one owner (by the name prefix the kinds use), alive in the fake cloud. */
    droplets: (prefix: string) => [...compute.droplets.values()].filter((d) => d.name.startsWith(prefix)),
    resource: (kind: 'ControlPlane' | 'WorkerPool'): Resource => (kind === 'ControlPlane' ? ControlPlanes : WorkerPools),
    controlPlane(replicas = 3): Obj {
      const x = sampleOf('ControlPlane') as unknown as Obj;
      x.metadata = { name: 'demo', namespace: 'ns' };
      x.spec.replicas = replicas;
      return x;
    },
    workerPool(name = 'demo-general', replicas = 2): Obj {
      const x = sampleOf('WorkerPool') as unknown as Obj;
      x.metadata = { name, namespace: 'ns' };
      x.spec.replicas = replicas;
      return x;
    },
    /** Moves the operator's clock forward. */
    advance(ms: number) {
      offsetMs += ms;
    },
    /** Kills the operator (no clean shutdown) and starts a new one with empty memory. */
    async restart() {
      for (const c of op.controllers) void c.stop();
      await Promise.all(Object.values(op.informers).map((i) => i.stop()));
      op = await boot();
    },
    async stop() {
      clearInterval(kubelets);
      await Promise.all(op.controllers.map((c) => c.stop()));
      await Promise.all([...Object.values(op.informers), ...Object.values(watch)].map((i) => i.stop()));
      await compute.stop();
      await dns.stop();
    },
  };
}
