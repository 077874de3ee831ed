// Everything an EtcdCluster converge test needs: the in-memory API server, the cloud fakes (contract
// checked), the node simulator (real etcd), and the real controller with short timings.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Informer, enqueueOwn } from '../../src/kube/informer.ts';
import { EtcdClusters } from '../../src/kube/resources.ts';
import { Controller } from '../../src/runtime/controller.ts';
import { EventRecorder } from '../../src/runtime/events.ts';
import { CloudFactory } from '../../src/controllers/clouds.ts';
import { etcdClusterController, type EtcdTiming } from '../../src/controllers/etcdcluster/reconciler.ts';
import { generateKey } from '../../src/pki/x509.ts';
import type { Observed } from '../../src/controllers/status.ts';
import type { EtcdCluster } from '../../src/api/v1alpha1/index.ts';
import { harnessBase } from './harness-base.ts';
import { NodeSimulator } from './simulator.ts';
import { sampleOf } from './samples.ts';

export type Cluster = EtcdCluster & Observed;

export const FAST: Partial<EtcdTiming> = { waitMs: 300, steadyMs: 1_000, unhealthyAfterMs: 4_000, graceMs: 3_000, probeTimeoutMs: 1_000, cloudSyncMs: 60_000, endpointDrainMs: 1_000, joinTimeoutMs: 60_000, joinBackoffMs: 1_000 };

export async function etcdHarness(o: { timing?: Partial<EtcdTiming>; provisionDelayMs?: number; dependents?: () => string[] } = {}) {
  const root = mkdtempSync(path.join(tmpdir(), 'hardway-etcd-harness-'));
  const { kube, compute, dns, lines, bus, log } = await harnessBase({ provisionDelayMs: o.provisionDelayMs ?? 300 });
  const sim = new NodeSimulator(compute, dns, path.join(root, 'nodes')).start();
  const events = new EventRecorder(kube, { component: 'hardway', log });
  // The operator: rebuilt from nothing by restart(), as after a crash (no memory, no caches).
  const boot = async () => {
    const informer = new Informer<Cluster>(kube.listWatch<Cluster>(EtcdClusters), { name: 'etcd' });
    const clouds = new CloudFactory(kube, { digitalOceanUrl: compute.url, cloudflareUrl: dns.url, fleetCacheTtlMs: 500, listingCacheTtlMs: 500 });
    const c = etcdClusterController({
      kube,
      get: (key) => informer.get(key),
      dependents: () => o.dependents?.() ?? [],
      clouds,
      events,
      fieldManager: 'hardway',
      now: () => new Date(),
      randomBytes: (n) => randomBytes(n),
      pki: { newKey: generateKey, randomHex: (n) => randomBytes(n).toString('hex') },
      timing: { ...FAST, ...o.timing },
    });
    const controller = new Controller({ kind: 'EtcdCluster', reconcile: c.reconcile, onTerminalError: c.onTerminalError, log, concurrency: 2 });
    informer.on(enqueueOwn(controller.enqueue));
    await informer.start();
    controller.start();
    return { informer, controller };
  };
  let op = await boot();
  // Watches for until(): one informer for the test's whole life, independent of operator restarts.
  const informer = new Informer<Cluster>(kube.listWatch<Cluster>(EtcdClusters), { name: 'test' });
  informer.on(() => bus.emit('change'));
  await informer.start();

  /** Resolves when pred holds for the object (checked on every change), or fails after ms. */
  const until = (name: string, what: string, pred: (o: Cluster | undefined) => boolean, ms = 60_000) =>
    new Promise<Cluster | undefined>((resolve, reject) => {
      const check = () => {
        const obj = informer.get(`ns/${name}`);
        if (pred(obj)) {
          clearTimeout(timer);
          bus.off('change', check);
          resolve(obj);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        bus.off('change', check);
        const obj = informer.get(`ns/${name}`);
        reject(new Error(`${what}: not within ${ms} ms; conditions: ${JSON.stringify(obj?.status?.conditions?.map((x) => [x.type, x.status, x.message]))}; last log: ${JSON.stringify(lines.slice(-6).map((l) => l.msg + ' ' + (l.err?.message ?? l.action ?? '')))}`));
      }, ms);
      if (!check()) bus.on('change', check);
    });

  return {
    kube,
    compute,
    dns,
    sim,
    get controller() {
      return op.controller;
    },
    informer,
    lines,
    /** Every distinct successive value of f over the object's changes, from now on (a history to assert on). */
    history<T>(f: (o: Cluster) => T | undefined): T[] {
      const seen: T[] = [];
      informer.on((e) => {
        const v = f(e.object);
        if (v !== undefined && seen.at(-1) !== v) seen.push(v);
      });
      return seen;
    },
    /** Kills the operator (no clean shutdown) and starts a new one. */
    async restart() {
      void op.controller.stop();
      await op.informer.stop();
      op = await boot();
    },
    until,
    sample(name = 'demo', replicas = 3): Cluster {
      const obj = sampleOf('EtcdCluster') as unknown as Cluster;
      obj.metadata = { name, namespace: 'ns' };
      obj.spec.replicas = replicas as 1 | 3 | 5 | 7;
      return obj;
    },
    async stop() {
      await op.controller.stop();
      await op.informer.stop();
      await informer.stop();
      await sim.stop();
      await compute.stop();
      await dns.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export const condition = (o: Cluster | undefined, type: string) => o?.status?.conditions?.find((c) => c.type === type);
