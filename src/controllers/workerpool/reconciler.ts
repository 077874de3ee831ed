// The WorkerPool reconciler: finalizer, paused, validate, credentials, the ControlPlane it joins,
// bootstrap tokens and approval of kubelet serving certificates, health (kubelet, kube-proxy, the Node's Ready condition from the workload API),
// a rolling plan within maxSurge/maxUnavailable, cordon and drain before a droplet goes, firewall, status.
import { Secrets, WorkerPools } from '../../kube/resources.ts';
import type { Reconcile, ReconcileResult, TerminalError } from '../../runtime/controller.ts';
import type { Logger } from '../../runtime/logger.ts';
import { Reason, ConditionType as T, WORKER_POOL_CONDITIONS, validateWorkerPool, getCondition, type ControlPlane, type WorkerPool, type ConditionInput, type MachineStatus } from '../../api/v1alpha1/index.ts';
import { dropletName } from '../../api/v1alpha1/names.ts';
import type { FirewallSpec } from '../../cloud/ports.ts';
import { FLEET_TAG, ownerTag, machineTag, versionTag, clusterTag, REMOVING_TAG } from '../../cloud/tags.ts';
import { LEAF_VALIDITY_DAYS } from '../../pki/certs.ts';
import { renderWorker } from '../../bootstrap/roles.ts';
import { newBootstrapToken, tokenString, BOOTSTRAP_GROUP } from '../../pki/bootstrap-token.ts';
import { servingVerdict, KUBELET_SERVING_SIGNER } from './serving-csr.ts';
import type { KubeHealth, WorkerHealth } from '../../health/kube.ts';
import { WorkloadError, type WorkloadCluster, type WorkloadConnector, type WorkloadNode } from '../../workload/port.ts';
import type { Clouds } from '../clouds.ts';
import { readSecret } from '../secrets.ts';
import { MANAGED_KINDS } from '../kinds.ts';
import { dependencyCondition } from '../observe.ts';
import { writeStatus, nextStatus, type Observed } from '../status.ts';
import { workerVersionGate, heldVersion, showRefusal } from '../machines/version-gates.ts';
import { holdForFailures, showGaveUp } from '../machines/join-failures.ts';
import { ownedMachinesReported, ensureFirewallReported, createMachineOrForget, deleteMachine, cleanupOwner } from '../machines/cloud.ts';
import { mapLimit } from '../../runtime/limit.ts';
import { prepare, withCloudErrors, terminalReporter, warnOncePerGeneration, trackJoins, nodeMemories, probeAddressOf, DEFAULT_NODE_TIMING, type NodeTiming, type NodeMemory, type ProvisionerDeps, NOT_PAUSED, NOT_DELETING } from '../machines/lifecycle.ts';
import { planRollout, resolveRollout, type RolloutDecision } from '../machines/rollout.ts';
import { machineOf, machineStatus, lowestVersion, healthCondition, type Machine } from '../machines/status.ts';
import { clusterNetwork } from '../controlplane/reconciler.ts';
import { caSecretName, leafSecretName, nodeNotAfter } from '../controlplane/pki.ts';

export const WORKER_POOL_FINALIZER = 'hardway.dev/workerpool-cleanup';

export interface WorkerPoolTiming extends NodeTiming {
  /** A drain that has not finished after this long is given up: the node is deleted anyway. */
  drainTimeoutMs: number;
}

export const DEFAULT_WORKER_POOL_TIMING: WorkerPoolTiming = { ...DEFAULT_NODE_TIMING, drainTimeoutMs: 600_000 };

export interface WorkerPoolDeps extends ProvisionerDeps<WorkerPool & Observed, WorkerPoolTiming> {
  getControlPlane: (key: string) => (ControlPlane & Observed) | undefined;
  health: KubeHealth;
  workload: WorkloadConnector;
}

type Obj = WorkerPool & Observed;
type CP = ControlPlane & Observed;


const KIND = MANAGED_KINDS.find((k) => k.def.kind === 'WorkerPool')!;
/** Nodes probed at once. */
const PROBE_CONCURRENCY = 16;
const LEAF_LIFETIME_MS = LEAF_VALIDITY_DAYS * 86_400_000;

export const workerFirewallName = (o: Obj) => `hardway-${o.metadata.namespace}-${o.metadata.name}-workers`;

export function workerFirewall(o: Obj, cp: CP): FirewallSpec {
  const cluster = { tags: [clusterTag(cp.metadata.uid!)] };
  const mgmt = cp.spec.firewall.managementCIDRs ?? [];
  const admin = cp.spec.firewall.adminCIDRs ?? [];
  const tcp = (ports: string, targets: FirewallSpec['inbound'][number]['targets']) => ({ protocol: 'tcp' as const, ports, targets });
  return {
    name: workerFirewallName(o),
    tags: [ownerTag(o.metadata.uid!)],
    inbound: [
      tcp('10250', cluster),
      { protocol: 'udp', ports: '8472', targets: cluster },
      ...(mgmt.length ? ['10250', '10256'].map((p) => tcp(p, { addresses: mgmt })) : []),
      ...(admin.length ? [tcp('22', { addresses: admin })] : []),
    ],
    outbound: (['tcp', 'udp', 'icmp'] as const).map((protocol) => ({ protocol, ports: '0', targets: { addresses: ['0.0.0.0/0', '::/0'] } })),
  };
}

/** Where the operator reaches the workload API: a running control-plane node, verified as the endpoint. */
export function workloadAddresses(cp: CP, network: 'public' | 'private' | undefined): string[] {
  const machines = ((cp.status as { machines?: MachineStatus[] } | undefined)?.machines ?? []).filter((m) => m.phase === 'Running');
  const healthyFirst = [...machines].sort((a, b) => Number(b.healthy === true) - Number(a.healthy === true));
  return healthyFirst.map((m) => (network === 'private' ? m.privateIP : (m.publicIP ?? m.privateIP))).filter((x): x is string => !!x);
}

export function workerPoolController(d: WorkerPoolDeps): { reconcile: Reconcile; onTerminalError: (key: string, err: TerminalError) => Promise<void> } {
  const t = { ...DEFAULT_WORKER_POOL_TIMING, ...d.timing };
  const memory = nodeMemories<JoinMemory>();
  const mem = memory.of;
  const order = WORKER_POOL_CONDITIONS;
  const probeAddress = (m: Machine) => probeAddressOf(d.probeNetwork, m);
  const status = (o: Obj, inputs: ConditionInput[], extra: Record<string, unknown> = {}) =>
    writeStatus(d.kube, WorkerPools, o, nextStatus(o, inputs, order, d.now(), extra), d.fieldManager);
  const credentialsOf = (o: Obj, cp: CP | undefined) => o.spec.credentialsRef?.name ?? cp?.spec.credentialsRef.name;

  /** The workload API through the first control-plane node that answers; undefined if none does. */
  async function connect(cp: CP): Promise<WorkloadCluster | undefined> {
    const admin = await readSecret(d.kube, cp.metadata.namespace, leafSecretName(cp.metadata.name, 'admin'));
    if (!admin?.['tls.crt']) return undefined;
    for (const ip of workloadAddresses(cp, d.probeNetwork)) {
      const w = d.workload.connect({ ip, serverName: cp.spec.endpoint.host, ca: admin['ca.crt']!, cert: admin['tls.crt'], key: admin['tls.key']! });
      if ((await w.readyz()).ok) return w;
    }
    return undefined;
  }

  const reconcile: Reconcile = async (key, { log }) => {
    const cached = d.get(key);
    if (!cached) return;
    const o = { ...cached, spec: validateWorkerPool(cached).object.spec } as Obj;
    const cp = d.getControlPlane(`${o.metadata.namespace}/${o.spec.controlPlaneRef.name}`);
    if (o.metadata.deletionTimestamp) return reconcileDelete(o, cp, log);
    const report = (inputs: ConditionInput[]) => status(o, inputs);
    const dep = dependencyCondition({ kind: KIND, getDependency: d.getControlPlane }, o)!;
    const credentials = credentialsOf(o, cp);
    if (!credentials || !cp) {
      // Without its ControlPlane a pool knows neither its credentials nor its cluster: wait for it.
      if (!o.metadata.finalizers?.includes(WORKER_POOL_FINALIZER)) await d.kube.addFinalizer(WorkerPools, o, WORKER_POOL_FINALIZER);
      await report([NOT_PAUSED, NOT_DELETING, dep, { type: T.Ready, status: 'False', reason: dep.reason, message: dep.message }]);
      return { requeueAfterMs: t.steadyMs };
    }
    const ready = await prepare(d, o, { resource: WorkerPools, finalizer: WORKER_POOL_FINALIZER, problems: validateWorkerPool(cached).problems, credentials, report, retryMs: t.steadyMs });
    if ('done' in ready) return ready.done;
    return withCloudErrors(d, o, { credentials, report, log, retryMs: t.steadyMs }, () => converge(o, cp, dep, ready.clouds, log));
  };

  /**
   * Takes one machine away: cordon and drain its Node (evictions honour PodDisruptionBudgets) until it is
   * empty or the drain timed out, then the droplet, the Node object and its Secret. Returns whether it is gone.
   */
  async function removeMachine(o: Obj, clouds: Clouds, x: Machine, workload: WorkloadCluster | undefined, node: WorkloadNode | undefined, drain: boolean, log: Logger): Promise<boolean> {
    const m = mem(o.metadata.uid!);
    const now = d.now();
    const since = m.removingSince.get(x.machine) ?? now.getTime();
    m.removingSince.set(x.machine, since);
    if (drain && !workload) {
      // The API does not answer: nothing can be drained (nor known to be empty) until the timeout.
      if (now.getTime() - since < t.drainTimeoutMs) return false;
      await d.events.record(o, 'Warning', 'DrainTimedOut', `node ${x.machine}: the workload API did not answer for ${Math.round(t.drainTimeoutMs / 1000)} s; deleting without a drain`);
    } else if (drain && node && workload) {
      const started = node.drainStartedAt ?? (await workload.cordon(x.machine, now));
      if (!node.drainStartedAt) await d.events.record(o, 'Normal', 'Draining', `node ${x.machine} cordoned; evicting its pods`);
      const r = await workload.evictPods(x.machine);
      const timedOut = now.getTime() - started.getTime() >= t.drainTimeoutMs;
      if (r.remaining.length && !timedOut) {
        log.info({ machine: x.machine, remaining: r.remaining.length, blocked: r.blocked }, 'draining');
        return false;
      }
      if (r.remaining.length) await d.events.record(o, 'Warning', 'DrainTimedOut', `node ${x.machine}: ${r.remaining.length} pod(s) still there after ${Math.round(t.drainTimeoutMs / 1000)} s${r.blocked.length ? ` (PodDisruptionBudget blocks ${r.blocked.slice(0, 3).join(', ')})` : ''}; deleting anyway`);
    }
    await deleteMachine(clouds, o.metadata.uid!, x.id);
    if (workload) await workload.deleteNode(x.machine).catch((e: unknown) => log.warn({ machine: x.machine, err: (e as Error).message }, 'could not delete the Node object'));
    // A node removed before it joined leaves its token unused: gone now rather than at its expiry.
    if (workload) await workload.deleteBootstrapTokens(x.machine).catch((e: unknown) => log.warn({ machine: x.machine, err: (e as Error).message }, 'could not delete its bootstrap token; it expires within the hour'));
    await d.kube.delete(Secrets, { namespace: o.metadata.namespace, name: x.machine });
    m.removingSince.delete(x.machine);
    m.notAfter.delete(x.machine);
    log.info({ machine: x.machine }, 'worker deleted');
    await d.events.record(o, 'Normal', 'MachineDeleted', `droplet ${x.machine}`);
    return true;
  }

  async function reconcileDelete(o: Obj, cp: CP | undefined, log: Logger): Promise<ReconcileResult | void> {
    if (!o.metadata.finalizers?.includes(WORKER_POOL_FINALIZER)) return;
    const deleting = (reason: string, message: string): ConditionInput => ({ type: T.Deleting, status: 'True', reason, message });
    const credentials = credentialsOf(o, cp);
    const clouds = credentials ? await d.clouds.forSecret(o.metadata.namespace!, credentials, { forCleanup: true }) : { reason: Reason.CredentialsNotFound, message: `ControlPlane ${o.spec.controlPlaneRef.name} does not exist and the pool names no credentials` };
    if ('reason' in clouds) {
      await status(o, [deleting(clouds.reason, `${clouds.message}: cannot clean up DigitalOcean; restore it, or remove the finalizer ${WORKER_POOL_FINALIZER} and clean up by hand`)]);
      return { requeueAfterMs: t.steadyMs };
    }
    const uid = o.metadata.uid!;
    // The whole cluster going away (its ControlPlane is deleted too, or gone): nothing to drain into.
    const wholeCluster = !cp || !!cp.metadata.deletionTimestamp;
    if (!wholeCluster) {
      const machines = (await clouds.droplets.withTags(ownerTag(uid))).map(machineOf);
      const reached = await connect(cp);
      const nodes = reached ? await reached.listNodes().catch(() => undefined) : undefined;
      const workload = nodes ? reached : undefined;
      let left = 0;
      for (const x of machines) {
        if (!x.removing) await clouds.compute.tagDroplets(REMOVING_TAG, [x.id], true).finally(() => clouds.droplets.invalidate(ownerTag(uid)));
        if (!(await removeMachine(o, clouds, x, workload, nodes?.find((n) => n.name === x.machine), true, log))) left++;
      }
      if (left) {
        await status(o, [deleting(Reason.Deleting, `draining ${left} node(s) before their droplets are deleted`)]);
        return { requeueAfterMs: t.waitMs };
      }
    }
    const left = await cleanupOwner(clouds, uid, {});
    if (left) {
      await status(o, [deleting(Reason.Deleting, `${left} droplets still being deleted`)]);
      return { requeueAfterMs: t.waitMs };
    }
    const secrets = await d.kube.list(Secrets, { namespace: o.metadata.namespace, labelSelector: `hardway.dev/workerpool=${o.metadata.name}` });
    for (const s of secrets.items) await d.kube.delete(Secrets, s.metadata, { uid: s.metadata.uid });
    await d.kube.removeFinalizer(WorkerPools, o, WORKER_POOL_FINALIZER);
    memory.forget(uid);
    log.info({ drained: !wholeCluster }, 'cleaned up: firewall, droplets and Secrets are gone');
    await d.events.record(o, 'Normal', 'Deleted', wholeCluster ? 'firewall, droplets and Secrets removed (the whole cluster is being deleted: nothing drained)' : 'nodes drained; firewall, droplets and Secrets removed');
  }

  async function converge(o: Obj, cp: CP, dep: ConditionInput, clouds: Clouds, log: Logger): Promise<ReconcileResult> {
    const base = [NOT_PAUSED, NOT_DELETING];
    const uid = o.metadata.uid!;
    const ns = o.metadata.namespace!;
    const m = mem(uid);
    const now = d.now();
    const nowMs = now.getTime();
    const waitFor = async (c: ConditionInput) => {
      await status(o, [...base, c, { type: T.Ready, status: 'False', reason: c.reason, message: c.message }]);
      return { requeueAfterMs: t.steadyMs };
    };
    const machines = (await ownedMachinesReported(d.events, o, clouds, o.status?.machines)).map(machineOf);
    // Workers follow the control plane as it runs (its nodes' versions), not as its spec asks: a pool
    // without a version of its own moves only once every API server has. A change the gates refuse is held
    // at the newest version the pool runs; with nothing running yet, nothing is created.
    const cpRunning = (cp.status?.machines ?? []).map((x) => x.version).filter((v): v is string => !!v);
    const cpVersions = cpRunning.length ? cpRunning : [cp.spec.version];
    const wanted = o.spec.version ?? lowestVersion(cpVersions)!;
    const poolRunning = machines.map((x) => x.version).filter((v): v is string => !!v);
    const gate = workerVersionGate(poolRunning, cpVersions, wanted);
    const held = gate.ok ? undefined : heldVersion(poolRunning);
    if (!gate.ok && !held) return waitFor({ type: T.RollingOut, status: 'False', reason: Reason.VersionChangeRefused, message: gate.message });
    if (!gate.ok) await warnOncePerGeneration(d.events, m, o, Reason.VersionChangeRefused, gate.message);
    const version = held ?? wanted;
    // Upgrade order: workers change version only once their ControlPlane has finished its own changes.
    const cpSettled = getCondition(cp.status?.conditions, T.Ready)?.status === 'True' && cp.status?.observedGeneration === cp.metadata.generation;
    const versionWaits = !cpSettled && machines.some((x) => !x.removing && x.version !== version) ? `Kubernetes ${version} waits for ControlPlane ${cp.metadata.name} to finish its changes (upgrade order: etcd, then the control plane, then workers)` : undefined;
    const caData = await readSecret(d.kube, ns, caSecretName(cp.metadata.name));
    const kubeletClient = await readSecret(d.kube, ns, leafSecretName(cp.metadata.name, 'apiserver-kubelet-client'));
    if ((dep.status !== 'True' && machines.length === 0) || !caData?.['tls.crt'] || !kubeletClient?.['tls.crt']) {
      return waitFor(dep.status === 'True' ? { ...dep, status: 'False', reason: Reason.WaitingForControlPlane, message: `ControlPlane ${cp.metadata.name}'s certificates are not there yet` } : dep);
    }
    const ca = { cert: caData['tls.crt']!, ca: caData['tls.crt']! };

    // Health: kubelet and kube-proxy of every running machine, and the Nodes as the workload API sees them.
    const running = machines.filter((x) => x.status === 'active' && x.privateIPv4);
    const creds = { ca: ca.cert, cert: kubeletClient['tls.crt'], key: kubeletClient['tls.key']! };
    // kubelet's serving certificate carries the node name (requested by kubelet itself under TLS bootstrap).
    const probes = new Map<string, WorkerHealth>(await mapLimit(running, PROBE_CONCURRENCY, async (x) => [x.machine, await d.health.worker({ ip: probeAddress(x)!, dnsName: x.machine }, creds)] as const));
    const reached = await connect(cp);
    let nodes: WorkloadNode[] | undefined;
    let nodesError: string | undefined;
    try {
      nodes = reached ? await reached.listNodes() : undefined;
    } catch (e) {
      if (!(e instanceof WorkloadError)) throw e;
      nodesError = e.message;
    }
    // Only an API that lists Nodes counts as reached (a Node missing from the list is then really gone).
    const workload = nodes ? reached : undefined;
    if (nodes) m.lastAnswerAt = nowMs;
    const nodeOf = (name: string) => nodes?.find((n) => n.name === name);
    const healthy = (name: string) => nodeOf(name)?.ready === 'True';

    for (const x of machines) if (!m.notAfter.has(x.machine)) m.notAfter.set(x.machine, await nodeNotAfter(d.kube, ns, x.machine));
    const certsDue = (name: string) => {
      const na = m.notAfter.get(name);
      return !!na && na.getTime() - nowMs < LEAF_LIFETIME_MS / 3;
    };
    // No answer from the API (an outage of the control plane or of its etcd) restarts every clock.
    if (!nodes) m.unhealthy.forget(() => false);
    const views = machines.map((x) => ({
      name: x.machine,
      dropletId: x.id,
      createdAt: x.createdAt,
      healthy: healthy(x.machine),
      outdated: (x.version !== version && cpSettled) || certsDue(x.machine),
      // Without an answer from the API nothing is known: no machine is judged unhealthy for it.
      unhealthySince: nodes ? m.unhealthy.observe(x.machine, healthy(x.machine), nowMs) : undefined,
      removing: x.removing,
    }));
    m.unhealthy.forget((name) => machines.some((x) => x.machine === name));
    const { maxSurge, maxUnavailable } = resolveRollout(o.spec.rollout, o.spec.replicas);
    // Workers that never became Ready: replaced with backoff, and after three in a row no more.
    const { failures, retry } = await trackJoins(d, m, o, { views, now: nowMs, timing: t, what: 'worker', log, message: (name) => (nodeOf(name) ? `Node ${nodeOf(name)!.ready}: ${nodeOf(name)!.message ?? ''}` : probes.get(name) && !probes.get(name)!.kubelet.ok ? `kubelet: ${probes.get(name)!.kubelet.message}` : 'no Node registered') });
    const decision: RolloutDecision =
      dep.status === 'True' && (nodes || machines.length === 0)
        ? holdForFailures(planRollout({ replicas: o.spec.replicas, machines: views, maxSurge, maxUnavailable, now: nowMs, unhealthyAfterMs: t.unhealthyAfterMs, oneAtATime: false }), retry)
        : { create: 0, remove: [], waiting: dep.status === 'True' ? `the workload API does not answer${nodesError ? `: ${nodesError}` : ''}` : dep.message };

    let did = false;
    for (const r of decision.remove) {
      await clouds.compute.tagDroplets(REMOVING_TAG, [r.machine.dropletId], true).finally(() => clouds.droplets.invalidate(ownerTag(uid)));
      machines.find((y) => y.machine === r.machine.name)!.removing = true;
      log.info({ machine: r.machine.name, why: r.why }, 'removing worker');
      await d.events.record(o, 'Normal', 'MachineRemoving', `${r.machine.name}: ${r.why}`);
      did = true;
    }
    for (const x of machines.filter((y) => y.removing)) {
      if (await removeMachine(o, clouds, x, workload, nodeOf(x.machine), true, log)) did = true;
    }
    // A new worker needs a bootstrap token in the workload cluster before it boots: none without an API.
    for (let i = 0; i < (workload ? decision.create : 0); i++) {
      await createNode(o, cp, clouds, workload!, ca, dropletName(o.metadata.name, 'WorkerPool', d.randomBytes(5)), version, log);
      did = true;
    }
    if (workload) await joinChores(o, m, workload, machines, nodeOf, log);

    const fw = workerFirewall(o, cp);
    const fingerprint = JSON.stringify([o.metadata.generation, cp.metadata.generation]);
    if (!m.lastSync || m.lastSync.fingerprint !== fingerprint || nowMs - m.lastSync.at >= t.cloudSyncMs) {
      m.firewallSpec = await ensureFirewallReported(d.events, o, clouds, uid, fw, m.firewallSpec);
      m.lastSync = { fingerprint, at: nowMs };
    }

    const after = did ? (await clouds.droplets.withTags(ownerTag(uid))).map(machineOf) : machines;
    const live = after.filter((x) => !x.removing);
    const conditions = workerPoolConditions({
      replicas: o.spec.replicas,
      version,
      dependency: dep,
      machines: live.length,
      active: live.filter((x) => x.status === 'active' && x.privateIPv4).length,
      outdated: views.filter((v) => v.outdated && !v.removing).length,
      removing: after.length - live.length,
      nodes: live.map((x) => ({ machine: x.machine, ok: healthy(x.machine), message: nodeOf(x.machine)?.message ?? (nodes ? 'no Node registered yet' : undefined) })),
      answered: !!nodes,
      unreachable: nodesError ?? (workload ? undefined : `no control-plane node of ${cp.metadata.name} answers`),
      withinGrace: m.lastAnswerAt !== undefined && nowMs - m.lastAnswerAt < t.graceMs,
      previous: getCondition(o.status?.conditions, T.NodesReady),
      decision,
      versionWaits,
    });
    await status(o, [...base, ...showGaveUp(showRefusal(conditions, gate), retry)], {
      ...(lowestVersion(after.map((x) => x.version)) ? { version: lowestVersion(after.map((x) => x.version)) } : {}),
      endpoint: `https://${cp.spec.endpoint.host}:6443`,
      machines: after.map((x) => {
        const p = probes.get(x.machine);
        const n = nodeOf(x.machine);
        const problem = n && n.ready !== 'True' ? `Node ${n.ready}: ${n.message ?? ''}` : p && !p.kubelet.ok ? `kubelet: ${p.kubelet.message}` : p && !p.kubeProxy.ok ? `kube-proxy: ${p.kubeProxy.message}` : undefined;
        return machineStatus(x, { healthy: nodes ? healthy(x.machine) && !!p?.kubelet.ok : undefined, message: problem, probedAt: now });
      }),
      readyNodes: live.filter((x) => healthy(x.machine)).length,
      replicas: after.length,
      readyReplicas: live.filter((x) => healthy(x.machine)).length,
      updatedReplicas: live.filter((x) => x.version === version && !certsDue(x.machine)).length,
      joinFailures: failures, // undefined removes a value written before
    });
    const isReady = conditions.find((c) => c.type === T.Ready)?.status === 'True';
    return { requeueAfterMs: isReady && !did ? t.steadyMs : t.waitMs };
  }

  /**
   * After a worker joined: its bootstrap token is deleted (once per node and operator run). Every pass:
   * kubelet serving-certificate requests of this pool's nodes are approved when they ask for exactly the
   * node's own name and addresses; any other request from one of them is reported once and left pending.
   */
  async function joinChores(o: Obj, m: NodeMemory & Partial<JoinMemory>, workload: WorkloadCluster, machines: Machine[], nodeOf: (name: string) => WorkloadNode | undefined, log: Logger) {
    m.tokensDeleted ??= new Set();
    m.refusedRequests ??= new Set();
    for (const x of machines) {
      if (!nodeOf(x.machine) || m.tokensDeleted.has(x.machine)) continue;
      await workload.deleteBootstrapTokens(x.machine);
      m.tokensDeleted.add(x.machine);
      log.info({ machine: x.machine }, 'joined: bootstrap token deleted');
    }
    m.tokensDeleted.forEach((name) => machines.some((x) => x.machine === name) || m.tokensDeleted!.delete(name));
    const own = new Map(machines.filter((x) => !x.removing).map((x) => [`system:node:${x.machine}`, { name: x.machine, addresses: [x.privateIPv4, x.publicIPv4].filter((a): a is string => !!a) }]));
    for (const r of await workload.listCertificateRequests()) {
      if (r.decided || r.signerName !== KUBELET_SERVING_SIGNER || !own.has(r.username)) continue;
      const verdict = servingVerdict(r, own.get(r.username));
      if (verdict.approve) {
        await workload.approveCertificateRequest(r.name, `hardway: serving certificate of node ${own.get(r.username)!.name}, its own name and addresses`);
        log.info({ csr: r.name, machine: own.get(r.username)!.name }, 'kubelet serving certificate approved');
      } else if (!m.refusedRequests.has(r.name)) {
        m.refusedRequests.add(r.name);
        log.warn({ csr: r.name, requester: r.username, why: verdict.why }, 'kubelet serving certificate request not approved');
        await d.events.record(o, 'Warning', 'CertificateRequestNotApproved', `${r.name} from ${r.username}: ${verdict.why}`);
      }
    }
  }

  async function createNode(o: Obj, cp: CP, clouds: Clouds, workload: WorkloadCluster, ca: { cert: string }, name: string, version: string, log: Logger) {
    const zone = cp.spec.dns.zone;
    const node = { name, address: `${name}.${zone}` };
    // The token first (a crash after it leaves a token that expires unused); the droplet's user-data holds
    // no key: kubelet makes its own and asks for certificates with it.
    const token = newBootstrapToken(name, d.now(), d.randomBytes);
    await workload.createBootstrapToken({ ...token, groups: [BOOTSTRAP_GROUP] });
    const rendered = renderWorker({
      node,
      version,
      apiServer: `https://${cp.spec.endpoint.host}:6443`,
      clusterName: cp.metadata.name,
      caCert: ca.cert,
      bootstrapToken: tokenString(token),
      network: clusterNetwork(cp),
      nodeLabels: o.spec.nodeLabels,
      nodeTaints: o.spec.nodeTaints,
      pins: d.pins,
    });
    const uid = o.metadata.uid!;
    const spec = o.spec.machine;
    const { droplet, created } = await createMachineOrForget(d.kube, o, clouds, uid, {
      name,
      region: spec.region,
      size: spec.size,
      image: spec.image,
      sshKeys: spec.sshKeys,
      vpcUUID: spec.vpcUUID,
      tags: [FLEET_TAG, ownerTag(uid), machineTag(name), versionTag(version), clusterTag(cp.metadata.uid!), ...(spec.tags ?? [])],
      userData: rendered.userData,
    });
    if (!created) return;
    log.info({ machine: name, dropletId: droplet.id }, 'droplet created');
    await d.events.record(o, 'Normal', 'MachineCreated', `droplet ${name} (${spec.size} in ${spec.region}, Kubernetes ${version})`);
  }

  return { reconcile, onTerminalError: terminalReporter(d, WorkerPools, order) };
}

interface JoinMemory {
  /** Machines whose bootstrap token was deleted after they joined. */
  tokensDeleted: Set<string>;
  /** Certificate requests already reported as not approved. */
  refusedRequests: Set<string>;
}

export interface WorkerPoolFacts {
  replicas: number;
  version: string;
  dependency: ConditionInput;
  machines: number;
  active: number;
  outdated: number;
  removing: number;
  nodes: { machine: string; ok: boolean; message?: string }[];
  answered: boolean;
  unreachable?: string;
  withinGrace: boolean;
  previous?: { status: 'True' | 'False' | 'Unknown'; reason: string; message?: string };
  decision: RolloutDecision;
  /** Why a version change has not started (the upgrade order), if it waits. */
  versionWaits?: string;
}

/** The conditions a WorkerPool reports. Pure. */
export function workerPoolConditions(f: WorkerPoolFacts): ConditionInput[] {
  const c: ConditionInput[] = [f.dependency];
  c.push(
    f.active === f.machines && f.machines === f.replicas && f.removing === 0
      ? { type: T.MachinesProvisioned, status: 'True', reason: Reason.Provisioned, message: `${f.machines} droplets running` }
      : { type: T.MachinesProvisioned, status: 'False', reason: Reason.Provisioning, message: `${f.active}/${f.replicas} droplets running${f.removing ? `, ${f.removing} being drained and removed` : ''}` },
  );
  let nodes: ConditionInput;
  if (f.replicas === 0 && f.machines === 0) nodes = { type: T.NodesReady, status: 'True', reason: Reason.NodesReady, message: 'no nodes wanted' };
  else {
    const h = healthCondition(T.NodesReady, 'node', f.nodes, { expected: f.machines, answered: f.answered, withinGrace: f.withinGrace, previous: f.previous });
    nodes =
      h.reason === Reason.Healthy
        ? { ...h, reason: Reason.NodesReady, message: h.message!.replace('healthy', 'Ready') }
        : h.reason === Reason.NotHealthy
          ? { ...h, reason: Reason.NodesNotReady, message: h.message!.replace('healthy', 'Ready') }
          : h.reason === Reason.ConnectionDown && f.unreachable
            ? { ...h, message: f.unreachable }
            : h;
  }
  c.push(nodes);
  const rolling = f.outdated > 0;
  c.push(!rolling && f.machines < f.replicas && f.machines > 0 ? { type: T.ScalingUp, status: 'True', reason: Reason.ScalingUp, message: `${f.machines} → ${f.replicas} nodes` } : { type: T.ScalingUp, status: 'False', reason: Reason.NotScalingUp });
  c.push(!rolling && f.machines + f.removing > f.replicas ? { type: T.ScalingDown, status: 'True', reason: Reason.ScalingDown, message: `${f.machines + f.removing} → ${f.replicas} nodes (drained first)` } : { type: T.ScalingDown, status: 'False', reason: Reason.NotScalingDown });
  c.push(
    rolling
      ? { type: T.RollingOut, status: 'True', reason: Reason.RollingOut, message: `replacing ${f.outdated} node(s) with Kubernetes ${f.version}` }
      : f.versionWaits
        ? { type: T.RollingOut, status: 'False', reason: Reason.WaitingForControlPlane, message: f.versionWaits }
        : { type: T.RollingOut, status: 'False', reason: Reason.NotRollingOut },
  );
  const notTrue = c.find((x) => [T.ControlPlaneAvailable, T.MachinesProvisioned, T.NodesReady].includes(x.type as never) && x.status !== 'True');
  const busy = c.find((x) => ([T.ScalingUp, T.ScalingDown, T.RollingOut].includes(x.type as never) && x.status === 'True') || (x.type === T.RollingOut && x.reason === Reason.WaitingForControlPlane));
  c.push(
    !notTrue && !busy
      ? { type: T.Ready, status: 'True', reason: Reason.Ready, message: nodes.message }
      : { type: T.Ready, status: 'False', reason: notTrue?.reason ?? busy?.reason ?? Reason.NotReady, message: notTrue?.message ?? busy?.message ?? f.decision.waiting ?? 'converging' },
  );
  return c;
}
