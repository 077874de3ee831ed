// Assembles the operator from its configuration: Kubernetes access, informers, controllers, leader
// election and the health/metrics server. main.ts adds the process concerns (signals, exit codes).
import type { Config } from './runtime/config.ts';
import type { Logger } from './runtime/logger.ts';
import { Metrics } from './runtime/metrics.ts';
import { Controller } from './runtime/controller.ts';
import { LeaderElector } from './runtime/leader.ts';
import { EventRecorder } from './runtime/events.ts';
import { startHealthServer } from './runtime/http.ts';
import { ClientNodeKube, loadKubeConfig } from './kube/adapter.ts';
import { Informer, enqueueOwn, enqueueReferencing, referencedBy } from './kube/informer.ts';
import { keyOf, type KubeClient } from './kube/port.ts';
import { MANAGED_KINDS } from './controllers/kinds.ts';
import { observeReconciler, terminalRecorder } from './controllers/observe.ts';
import type { Observed } from './controllers/status.ts';
import { CloudFactory } from './controllers/clouds.ts';
import { etcdClusterController, type EtcdTiming } from './controllers/etcdcluster/reconciler.ts';
import { s3Store } from './cloud/s3/store.ts';
import { controlPlaneController, type ControlPlaneTiming } from './controllers/controlplane/reconciler.ts';
import { workerPoolController, type WorkerPoolTiming } from './controllers/workerpool/reconciler.ts';
import { HttpKubeHealth } from './health/probes.ts';
import { HttpsWorkloadConnector } from './workload/adapter.ts';
import type { KubeHealth } from './health/kube.ts';
import type { WorkloadConnector } from './workload/port.ts';
import type { NodeHandOver } from './handover/port.ts';
import { SshHandOver } from './handover/ssh.ts';
import { generateKey } from './pki/x509.ts';
import { randomBytes } from 'node:crypto';
import type { PinnedDigests } from './bootstrap/manifest.ts';

export interface RunningOperator {
  /** Port of the metrics/health server (useful when configured with port 0). */
  port: number;
  metrics: Metrics;
  isLeader(): boolean;
  /** Graceful stop: release the lease, finish reconciles in flight, stop watching. */
  stop(): Promise<void>;
}

export interface OperatorDeps {
  log: Logger;
  /** Called when the operator cannot go on (lost leadership); the process should exit non-zero. */
  onFatal: (reason: string) => void;
  kube?: KubeClient;
  /** Faster timings for tests. */
  etcdTiming?: Partial<EtcdTiming>;
  controlPlaneTiming?: Partial<ControlPlaneTiming>;
  workerPoolTiming?: Partial<WorkerPoolTiming>;
  /** Component probes and workload-cluster access (tests may substitute). */
  health?: KubeHealth;
  workload?: WorkloadConnector;
  /** How control-plane nodes get their keys (default: SSH), and the port (default 22). */
  handOver?: NodeHandOver;
  handOverPort?: number;
  /**
   * Digests the install scripts check pinned downloads against (default: upstream's, src/bootstrap/digests.ts).
   * Tests whose release server serves stand-ins for those files give theirs.
   */
  pins?: PinnedDigests;
}

/**
 * Sharding: each replica set serves one shard, the objects labelled hardway.dev/shard=<name>, and elects
 * its own leader; the replicas started without --shard serve every object without the label. A cluster's
 * EtcdCluster, ControlPlane and WorkerPools carry the same label (a reference is looked up in the shard's
 * own caches). Moving an object is relabelling it: the API server tells the old shard's watch it is gone
 * and the new one's that it is there (a watch with a label selector sees an object leave or enter it as
 * DELETED or ADDED; checked against the real kube-apiserver by test/integration/operator.test.ts).
 */
export const SHARD_LABEL = 'hardway.dev/shard';
export const shardSelector = (shard: string): string => (shard ? `${SHARD_LABEL}=${shard}` : `!${SHARD_LABEL}`);
export const leaseName = (cfg: Pick<Config, 'leaderElectionId' | 'shard'>): string => (cfg.shard ? `${cfg.leaderElectionId}-${cfg.shard}` : cfg.leaderElectionId);

export async function startOperator(cfg: Config, deps: OperatorDeps): Promise<RunningOperator> {
  const { log } = deps;
  const metrics = new Metrics();
  const kube =
    deps.kube ??
    new ClientNodeKube(loadKubeConfig({ kubeconfig: cfg.kubeconfig, context: cfg.context }), {
      observe: (method, _path, status) => metrics.kubeRequests.inc({ method, status: String(status) }),
    });
  const events = new EventRecorder(kube, { component: 'hardway-operator', host: cfg.identity, log });
  const namespace = cfg.namespace || undefined;

  const informers = new Map<string, Informer<Observed>>();
  for (const k of MANAGED_KINDS) {
    informers.set(
      k.def.kind,
      new Informer<Observed>(kube.listWatch<Observed>(k.resource, { namespace, labelSelector: shardSelector(cfg.shard) }), {
        name: k.def.plural,
        resyncMs: cfg.resyncSeconds * 1000,
        log,
      }),
    );
  }

  const kubeHealth = deps.health ?? new HttpKubeHealth();
  const workload = deps.workload ?? new HttpsWorkloadConnector();
  const handOver = deps.handOver ?? new SshHandOver();
  const clouds = new CloudFactory(kube, { digitalOceanUrl: cfg.digitalOceanUrl, cloudflareUrl: cfg.cloudflareUrl }, metrics);
  const controllers = MANAGED_KINDS.map((k) => {
    const informer = informers.get(k.def.kind)!;
    const dependency = k.dependsOn ? informers.get(k.dependsOn.kind) : undefined;
    const observeDeps = { kube, kind: k, get: (key: string) => informer.get(key), getDependency: dependency && ((key: string) => dependency.get(key)), events, fieldManager: cfg.fieldManager, now: () => new Date() };
    const common = {
      kube,
      clouds,
      events,
      metrics,
      fieldManager: cfg.fieldManager,
      now: () => new Date(),
      randomBytes: (n: number) => randomBytes(n) as Uint8Array,
      pki: { newKey: generateKey, randomHex: (n: number) => randomBytes(n).toString('hex') },
      probeNetwork: cfg.probeNetwork,
    };
    const referring = (kind: string, field: 'etcdClusterRef' | 'controlPlaneRef') => (namespace: string, name: string) =>
      informers
        .get(kind)!
        .list(namespace)
        .filter((x) => (x.spec as Record<string, { name?: string } | undefined> | undefined)?.[field]?.name === name)
        .map((x) => x.metadata.name);
    const handlers =
      k.def.kind === 'EtcdCluster'
        ? etcdClusterController({
            ...common,
            get: (key) => informer.get(key) as never,
            dependents: referring('ControlPlane', 'etcdClusterRef'),
            snapshotStores: s3Store,
            endpointUsers: (namespace, name) => informers.get('ControlPlane')!.list(namespace).filter((x) => (x.spec as { etcdClusterRef?: { name?: string } } | undefined)?.etcdClusterRef?.name === name) as never,
            timing: { unhealthyAfterMs: cfg.etcdReplaceUnhealthySeconds * 1000, ...deps.etcdTiming },
          })
        : k.def.kind === 'ControlPlane'
          ? controlPlaneController({
              ...common,
              get: (key) => informer.get(key) as never,
              getEtcd: (key) => informers.get('EtcdCluster')!.get(key) as never,
              dependents: referring('WorkerPool', 'controlPlaneRef'),
              health: kubeHealth,
              workload,
              handOver,
              handOverPort: deps.handOverPort,
              pins: deps.pins,
              timing: deps.controlPlaneTiming,
            })
          : k.def.kind === 'WorkerPool'
            ? workerPoolController({
                ...common,
                get: (key) => informer.get(key) as never,
                getControlPlane: (key) => informers.get('ControlPlane')!.get(key) as never,
                health: kubeHealth,
                workload,
                pins: deps.pins,
                timing: { drainTimeoutMs: cfg.drainTimeoutSeconds * 1000, ...deps.workerPoolTiming },
              })
            : { reconcile: observeReconciler(observeDeps), onTerminalError: terminalRecorder(observeDeps) };
    const controller = new Controller({
      kind: k.def.kind,
      reconcile: handlers.reconcile,
      onTerminalError: handlers.onTerminalError,
      log,
      metrics,
      concurrency: cfg.concurrency,
      // Periodic checks drift apart instead of arriving together after a start or a resync (issue #18).
      requeueJitter: 0.1,
    });
    informer.on(enqueueOwn(controller.enqueue));
    if (k.dependsOn) {
      // When the object we depend on changes (its status too, but not a probe's time alone), the objects referring to it re-evaluate.
      informers.get(k.dependsOn.kind)!.on(enqueueReferencing(referencedBy(informer, (o) => k.dependsOn!.ref((o.spec ?? {}) as never)), controller.enqueue));
    }
    return { controller, informer };
  });

  // When a dependent goes away, what it depended on may be waiting to be deleted: look at it now.
  const controllerOf = new Map(MANAGED_KINDS.map((k, i) => [k.def.kind, controllers[i]!.controller]));
  for (const k of MANAGED_KINDS) {
    if (!k.dependsOn) continue;
    const target = controllerOf.get(k.dependsOn.kind)!;
    informers.get(k.def.kind)!.on((e) => {
      const ref = k.dependsOn!.ref((e.object.spec ?? {}) as never);
      if (e.type === 'delete' && ref) target.enqueue(`${e.object.metadata.namespace}/${ref}`);
    });
  }

  let elector: LeaderElector | undefined;
  let leading = !cfg.leaderElect;
  const startControllers = () => {
    leading = true;
    metrics.leader.set(1);
    for (const { controller, informer } of controllers) {
      controller.start();
      for (const o of informer.list()) controller.enqueue(keyOf(o));
    }
  };

  const health = await startHealthServer({
    host: cfg.metricsHost,
    port: cfg.metricsPort,
    metrics,
    liveness: { ping: () => ({ ok: true }) },
    readiness: {
      informers: () => {
        const waiting = [...informers.entries()].filter(([, i]) => !i.hasSynced()).map(([k]) => k);
        return { ok: waiting.length === 0, message: waiting.length ? `not synced: ${waiting.join(', ')}` : undefined };
      },
      // A replica that believes it leads must still hold the lease; a standby is ready to take over.
      leaderLease: () => ({ ok: !leading || !elector || elector.isLeader(), message: 'leading but the lease is no longer held' }),
    },
  });
  log.info({ port: health.port, namespace: namespace ?? '(all)', shard: cfg.shard || '(objects without a shard label)', leaderElect: cfg.leaderElect, lease: cfg.leaderElect ? leaseName(cfg) : undefined }, 'hardway operator starting');

  // Caches start on every replica, so a standby that takes over has them warm.
  await Promise.all([...informers.values()].map((i) => i.start()));

  const stopAll = async () => {
    await Promise.all(controllers.map(({ controller }) => controller.stop()));
    await Promise.all([...informers.values()].map((i) => i.stop()));
    await health.close();
    (kube as Partial<ClientNodeKube>).close?.();
  };

  if (cfg.leaderElect) {
    elector = new LeaderElector({
      kube,
      namespace: cfg.leaderElectionNamespace,
      name: leaseName(cfg),
      identity: cfg.identity,
      log,
      onStartedLeading: startControllers,
      onStoppedLeading: () => {
        metrics.leader.set(0);
        for (const { controller } of controllers) controller.queue.shutdown();
        deps.onFatal('lost leader election');
      },
    });
    elector.start();
  } else {
    startControllers();
  }

  return {
    port: health.port,
    metrics,
    isLeader: () => leading && (!elector || elector.isLeader()),
    stop: async () => {
      await elector?.release();
      metrics.leader.set(0);
      await stopAll();
    },
  };
}
