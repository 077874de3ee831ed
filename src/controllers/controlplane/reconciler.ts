// The ControlPlane reconciler: ordered phases that return early — finalizer, paused, validate,
// credentials, the EtcdCluster it stores state in, certificates and kubeconfig, load balancer, health,
// one planned change (create, or take a node out of rotation and then delete it), DNS and firewall,
// addons through the workload API, status.
import { X509Certificate } from 'node:crypto';
import { Secrets, ControlPlanes } from '../../kube/resources.ts';
import type { Reconcile, ReconcileResult, TerminalError } from '../../runtime/controller.ts';
import type { Logger } from '../../runtime/logger.ts';
import { Reason, ConditionType as T, CONTROL_PLANE_CONDITIONS, validateControlPlane, getCondition, type ControlPlane, type EtcdCluster, type ConditionInput } from '../../api/v1alpha1/index.ts';
import { dropletName } from '../../api/v1alpha1/names.ts';
import { parseCidr, nthAddress, type Cidr } from '../../api/v1alpha1/cidr.ts';
import type { FirewallSpec, LoadBalancer, LoadBalancerSpec } from '../../cloud/ports.ts';
import { FLEET_TAG, ownerTag, machineTag, versionTag, etcdClientTag, clusterTag, loadBalancerTag, REMOVING_TAG, ETCD_ENDPOINT_TAG, encryptionTag, HANDOVER_TAG, HANDED_OVER_TAG } from '../../cloud/tags.ts';
import { HANDOVER_MARKER } from '../../bootstrap/handover.ts';
import { HandOverError, type NodeHandOver } from '../../handover/port.ts';
import { sshFingerprint } from '../../pki/ssh.ts';
import { LEAF_VALIDITY_DAYS, earliestExpiry } from '../../pki/certs.ts';
import { renderControlPlane } from '../../bootstrap/roles.ts';
import { renderAddons } from '../../bootstrap/addons.ts';
import { componentsFor } from '../../bootstrap/manifest.ts';
import type { KubeHealth, ControlPlaneHealth } from '../../health/kube.ts';
import type { WorkloadConnector } from '../../workload/port.ts';
import { WorkloadError } from '../../workload/port.ts';
import type { Clouds } from '../clouds.ts';
import { readSecret } from '../secrets.ts';
import { MANAGED_KINDS } from '../kinds.ts';
import { dependencyCondition } from '../observe.ts';
import { writeStatus, nextStatus, type Observed } from '../status.ts';
import { canonical } from '../../api/canonical.ts';
import { controlPlaneVersionGate, heldVersion, showRefusal } from '../machines/version-gates.ts';
import { holdForFailures, showGaveUp } from '../machines/join-failures.ts';
import { ownedMachinesReported, syncRecords, ensureFirewallReported, reportRecordDrift, createMachineOrForget, deleteMachine, cleanupOwner } from '../machines/cloud.ts';
import { mapLimit } from '../../runtime/limit.ts';
import { prepare, withCloudErrors, terminalReporter, warnOncePerGeneration, trackJoins, nodeMemories, probeAddressOf, DEFAULT_NODE_TIMING, type NodeTiming, type NodeMemory, type ProvisionerDeps, NOT_PAUSED, NOT_DELETING } from '../machines/lifecycle.ts';
import { planRollout, type RolloutDecision } from '../machines/rollout.ts';
import { machineOf, machineStatus, lowestVersion, healthCondition, type Machine } from '../machines/status.ts';
import { encryptionKeys, encryptionConfigId, type EncryptionKey, type EncryptionState } from '../../pki/encryption.ts';
import { startRotationIfDue, advanceRotation, nodeEncryptionId, wantedEncryptionId, encryptionStatus, rotationMessage } from './encryption.ts';
import { sharedPki, ensureKubeconfig, nodePki, nodeNotAfter, kubeconfigSecretName, caSecretName, type SharedPki } from './pki.ts';

export const CONTROL_PLANE_FINALIZER = 'hardway.dev/controlplane-cleanup';

export interface ControlPlaneTiming extends NodeTiming {
  /** A node taken out of rotation is deleted after this long (the endpoint records' TTL). */
  rotationDrainMs: number;
}

export const DEFAULT_CONTROL_PLANE_TIMING: ControlPlaneTiming = { ...DEFAULT_NODE_TIMING, rotationDrainMs: 60_000 };

export interface ControlPlaneDeps extends ProvisionerDeps<ControlPlane & Observed, ControlPlaneTiming> {
  getEtcd: (key: string) => (EtcdCluster & Observed) | undefined;
  /** Names of WorkerPools in a namespace that refer to this ControlPlane. */
  dependents: (namespace: string, name: string) => string[];
  health: KubeHealth;
  workload: WorkloadConnector;
  /** Hands control-plane nodes their keys (SSH in production). */
  handOver: NodeHandOver;
  /** The nodes' SSH port (22; tests may point elsewhere). */
  handOverPort?: number;
}

type Obj = ControlPlane & Observed;


/** When addons were last applied, for what spec, with what result. */
interface AddonsMemory {
  addons: { fingerprint: string; at: number; condition: ConditionInput };
  /** The last hand-over error per node (logged when it changes). */
  handOverErrors: Map<string, string>;
  /** The load balancer as last listed (or made), for which spec, when: listed again every cloudSyncMs. */
  lbSync: { fingerprint: string; at: number; lb?: LoadBalancer };
}

const KIND = MANAGED_KINDS.find((k) => k.def.kind === 'ControlPlane')!;
/** Nodes probed at once. */
const PROBE_CONCURRENCY = 16;
const LEAF_LIFETIME_MS = LEAF_VALIDITY_DAYS * 86_400_000;

export const firewallName = (o: Obj) => `hardway-${o.metadata.namespace}-${o.metadata.name}-cp`;
export const loadBalancerName = (o: Obj) => `hardway-${o.metadata.namespace}-${o.metadata.name}-api`;

/** The control plane's network facts: the service range's first address (kubernetes) and tenth (DNS). */
export function clusterNetwork(o: ControlPlane) {
  const range = parseCidr(o.spec.network.serviceCIDR) as Cidr;
  return {
    podCIDR: o.spec.network.podCIDR,
    serviceCIDR: o.spec.network.serviceCIDR,
    clusterDomain: o.spec.network.clusterDomain,
    clusterDNS: nthAddress(range, 10),
    kubernetesServiceIP: nthAddress(range, 1),
  };
}

/**
 * The API load balancer: TCP passthrough on 6443 (clients authenticate with certificates end to end),
 * and a node takes traffic only once its kube-apiserver answers /readyz over HTTPS (the contract's
 * health_check allows http, https and tcp with a path). /readyz is readable without credentials: the
 * system:public-info-viewer role grants it to everyone (Kubernetes docs, "API health endpoints").
 */
export function loadBalancerSpec(o: Obj): LoadBalancerSpec {
  return {
    name: loadBalancerName(o),
    region: o.spec.machine.region,
    tag: loadBalancerTag(o.metadata.uid!),
    ...(o.spec.machine.vpcUUID ? { vpcUUID: o.spec.machine.vpcUUID } : {}),
    forwarding: [{ entryPort: 6443, targetPort: 6443, protocol: 'tcp' }],
    healthCheck: { protocol: 'https', port: 6443, path: '/readyz' },
  };
}

/** Whether a load balancer already has every setting the spec wants (its name may differ: it is not compared). */
export const loadBalancerSettled = (l: LoadBalancer, spec: LoadBalancerSpec): boolean =>
  canonical([l.region, l.tag, l.forwarding, l.healthCheck]) === canonical([spec.region, spec.tag, spec.forwarding, spec.healthCheck]);

/** The settings of a load balancer that differ from the wanted ones, in words. */
export const loadBalancerDifferences = (l: LoadBalancer, spec: LoadBalancerSpec): string[] =>
  (
    [
      ['region', l.region, spec.region],
      ['target tag', l.tag, spec.tag],
      ['forwarding rules', l.forwarding, spec.forwarding],
      ['health check', l.healthCheck, spec.healthCheck],
    ] as const
  )
    .filter(([, a, b]) => canonical(a) !== canonical(b))
    .map(([what]) => what);

/**
 * EtcdAvailable: the EtcdCluster is Ready, or, once this control plane has nodes, at least serving (every
 * member healthy) while it changes its members: a roll or a scale of etcd is no reason to stop healing
 * or refreshing control-plane nodes. The first nodes wait for Ready.
 */
export function etcdAvailability(dep: ConditionInput, etcd: Observed | undefined, hasNodes: boolean): ConditionInput {
  if (dep.status === 'True' || !hasNodes || !etcd) return dep;
  const healthy = getCondition(etcd.status?.conditions, T.EtcdClusterHealthy);
  if (healthy?.status !== 'True') return dep;
  return { ...dep, status: 'True', reason: Reason.Available, message: `EtcdCluster ${etcd.metadata.name} serves (${healthy.message}) while it changes` };
}

/** Whether the EtcdCluster has finished every change it was asked for: Ready for its latest generation. */
export function etcdIsSettled(etcd: Observed): boolean {
  return getCondition(etcd.status?.conditions, T.Ready)?.status === 'True' && etcd.status?.observedGeneration === etcd.metadata.generation;
}

export function controlPlaneFirewall(o: Obj, lb?: LoadBalancer): FirewallSpec {
  const uid = o.metadata.uid!;
  const cluster = { tags: [clusterTag(uid)] };
  const mgmt = o.spec.firewall.managementCIDRs ?? [];
  const admin = o.spec.firewall.adminCIDRs ?? [];
  const api = o.spec.firewall.apiCIDRs ?? [];
  const tcp = (ports: string, targets: FirewallSpec['inbound'][number]['targets']) => ({ protocol: 'tcp' as const, ports, targets });
  return {
    name: firewallName(o),
    tags: [ownerTag(uid)],
    inbound: [
      tcp('6443', { ...cluster, ...(api.length ? { addresses: api } : {}), ...(lb ? { loadBalancerUids: [lb.id] } : {}) }),
      tcp('10250', cluster),
      { protocol: 'udp', ports: '8472', targets: cluster },
      // 22: the operator hands nodes their keys over SSH (SFTP only; docs/security.md).
      ...(mgmt.length ? ['22', '6443', '10250', '10256', '10257', '10259'].map((p) => tcp(p, { addresses: mgmt })) : []),
      ...(admin.length ? [tcp('22', { addresses: admin })] : []),
    ],
    outbound: (['tcp', 'udp', 'icmp'] as const).map((protocol) => ({ protocol, ports: '0', targets: { addresses: ['0.0.0.0/0', '::/0'] } })),
  };
}

export function controlPlaneController(d: ControlPlaneDeps): { reconcile: Reconcile; onTerminalError: (key: string, err: TerminalError) => Promise<void> } {
  const t = { ...DEFAULT_CONTROL_PLANE_TIMING, ...d.timing };
  const memory = nodeMemories<AddonsMemory>();
  const mem = memory.of;
  const order = CONTROL_PLANE_CONDITIONS;
  const probeAddress = (m: Machine) => probeAddressOf(d.probeNetwork, m);
  const status = (o: Obj, inputs: ConditionInput[], extra: Record<string, unknown> = {}) =>
    writeStatus(d.kube, ControlPlanes, o, nextStatus(o, inputs, order, d.now(), extra), d.fieldManager);

  const reconcile: Reconcile = async (key, { log }) => {
    const cached = d.get(key);
    if (!cached) return;
    const o = { ...cached, spec: validateControlPlane(cached).object.spec } as Obj;
    if (o.metadata.deletionTimestamp) return reconcileDelete(o, log);
    const report = (inputs: ConditionInput[]) => status(o, inputs);
    const credentials = o.spec.credentialsRef.name;
    const ready = await prepare(d, o, { resource: ControlPlanes, finalizer: CONTROL_PLANE_FINALIZER, problems: validateControlPlane(cached).problems, credentials, report, retryMs: t.steadyMs });
    if ('done' in ready) return ready.done;
    return withCloudErrors(d, o, { credentials, report, log, retryMs: t.steadyMs }, () => converge(o, ready.clouds, log));
  };

  async function reconcileDelete(o: Obj, log: Logger): Promise<ReconcileResult | void> {
    if (!o.metadata.finalizers?.includes(CONTROL_PLANE_FINALIZER)) return;
    const deleting = (reason: string, message: string): ConditionInput => ({ type: T.Deleting, status: 'True', reason, message });
    const users = d.dependents(o.metadata.namespace!, o.metadata.name);
    if (users.length) {
      await status(o, [deleting(Reason.WaitingForDependents, `WorkerPool ${users.join(', ')} still joins this control plane; delete it first`)]);
      return { requeueAfterMs: t.waitMs };
    }
    const clouds = await d.clouds.forSecret(o.metadata.namespace!, o.spec.credentialsRef.name, { forCleanup: true });
    if ('reason' in clouds) {
      await status(o, [deleting(clouds.reason, `${clouds.message}: cannot clean up DigitalOcean and Cloudflare; restore it, or remove the finalizer ${CONTROL_PLANE_FINALIZER} and clean up by hand`)]);
      return { requeueAfterMs: t.steadyMs };
    }
    const left = await cleanupOwner(clouds, o.metadata.uid!, { zone: o.spec.dns.zone, loadBalancerTag: loadBalancerTag(o.metadata.uid!) });
    if (left) {
      await status(o, [deleting(Reason.Deleting, `${left} droplets still being deleted`)]);
      return { requeueAfterMs: t.waitMs };
    }
    const secrets = await d.kube.list(Secrets, { namespace: o.metadata.namespace, labelSelector: `hardway.dev/controlplane=${o.metadata.name}` });
    for (const s of secrets.items) await d.kube.delete(Secrets, s.metadata, { uid: s.metadata.uid });
    await d.kube.removeFinalizer(ControlPlanes, o, CONTROL_PLANE_FINALIZER);
    memory.forget(o.metadata.uid!);
    log.info('cleaned up: DNS records, load balancer, firewall, droplets and Secrets are gone');
    await d.events.record(o, 'Normal', 'Deleted', 'DNS records, load balancer, firewall, droplets and Secrets removed');
  }

  /**
   * The load balancer in LoadBalancer mode (created if missing, its settings brought back if they
   * drifted); removed in DNS mode. It is the one sending to this object's load-balancer tag: names are
   * not identities, two installations on one account may pick the same one.
   */
  async function loadBalancer(o: Obj, clouds: Clouds): Promise<LoadBalancer | undefined> {
    // Listed once per cloudSyncMs for the same spec (drift and out-of-band deletion noticed within it),
    // every pass while a new one has no address yet: a listing on every pass was half of a Ready cluster's
    // DigitalOcean calls (npm run bench, steady state).
    const m = mem(o.metadata.uid!);
    const fingerprint = JSON.stringify([o.metadata.generation, o.spec.endpoint.mode]);
    const nowMs = d.now().getTime();
    if (m.lbSync && m.lbSync.fingerprint === fingerprint && nowMs - m.lbSync.at < t.cloudSyncMs && (!m.lbSync.lb || m.lbSync.lb.ip)) return m.lbSync.lb;
    // A new one without an address yet: asked for by id (one call), not by listing every load balancer.
    const waiting = m.lbSync?.fingerprint === fingerprint && m.lbSync.lb && !m.lbSync.lb.ip ? m.lbSync.lb : undefined;
    const fetched = waiting ? (await clouds.compute.getLoadBalancer(waiting.id)).data : undefined;
    if (fetched) clouds.loadBalancers.put(fetched);
    else if (waiting) clouds.loadBalancers.remove(waiting.id);
    // The same spec as last put in place: whatever has to be made again or put back changed outside hardway.
    const lb = fetched && loadBalancerSettled(fetched, loadBalancerSpec(o)) ? fetched : await listOrMakeLoadBalancer(o, clouds, m.lbSync?.fingerprint === fingerprint ? m.lbSync.lb : undefined);
    m.lbSync = { fingerprint, at: nowMs, lb };
    return lb;
  }

  async function listOrMakeLoadBalancer(o: Obj, clouds: Clouds, madeBefore: LoadBalancer | undefined): Promise<LoadBalancer | undefined> {
    const spec = loadBalancerSpec(o);
    // The account's load balancers as listed for every object on this token (at most listingCacheTtlMs old).
    const existing = (await clouds.loadBalancers.all()).find((l) => l.tag === spec.tag);
    if (o.spec.endpoint.mode !== 'LoadBalancer') {
      if (existing) {
        await clouds.compute.deleteLoadBalancer(existing.id).finally(() => clouds.loadBalancers.remove(existing.id));
        await d.events.record(o, 'Normal', 'LoadBalancerDeleted', `${existing.name} (endpoint mode is DNS)`);
      }
      return undefined;
    }
    if (existing) {
      if (loadBalancerSettled(existing, spec)) return existing;
      const updated = await clouds.compute.updateLoadBalancer(existing.id, spec).catch((e: unknown) => {
        clouds.loadBalancers.invalidate();
        throw e;
      });
      clouds.loadBalancers.put(updated.data);
      const changed = loadBalancerDifferences(existing, spec);
      if (madeBefore) await d.events.record(o, 'Warning', 'Drifted', `load balancer ${spec.name}: ${changed.join(', ')} changed outside hardway; put back`);
      else await d.events.record(o, 'Normal', 'LoadBalancerUpdated', `${spec.name}: ${changed.join(', ')} brought to the wanted settings`);
      return updated.data;
    }
    // The tag it sends to must exist before the first control-plane droplet carries it.
    await clouds.compute.ensureTag(spec.tag);
    const created = await clouds.compute.createLoadBalancer(spec).catch((e: unknown) => {
      clouds.loadBalancers.invalidate();
      throw e;
    });
    clouds.loadBalancers.put(created.data);
    if (madeBefore) await d.events.record(o, 'Warning', 'Drifted', `load balancer ${madeBefore.name} (${madeBefore.id}) was deleted outside hardway; made again`);
    await d.events.record(o, 'Normal', 'LoadBalancerCreated', `${spec.name} → droplets tagged ${spec.tag}`);
    return created.data;
  }

  async function converge(o: Obj, clouds: Clouds, log: Logger): Promise<ReconcileResult> {
    const base = [NOT_PAUSED, NOT_DELETING];
    const uid = o.metadata.uid!;
    const ns = o.metadata.namespace!;
    const m = mem(uid);
    const now = d.now();
    const nowMs = now.getTime();
    const zoneName = o.spec.dns.zone;
    const host = o.spec.endpoint.host;
    const net = clusterNetwork(o);

    // 1. The etcd cluster: machines are only created once it is Ready.
    const etcd = d.getEtcd(`${ns}/${o.spec.etcdClusterRef.name}`);
    const machines = (await ownedMachinesReported(d.events, o, clouds, o.status?.machines)).map(machineOf);
    // A version change the gates refuse is held at the newest version running and reported.
    const runningVersions = machines.map((x) => x.version).filter((v): v is string => !!v);
    const gate = controlPlaneVersionGate(runningVersions, o.spec.version);
    const held = gate.ok ? undefined : heldVersion(runningVersions);
    if (held) o = { ...o, spec: { ...o.spec, version: held } };
    const etcdDep = etcdAvailability(dependencyCondition({ kind: KIND, getDependency: d.getEtcd }, o)!, etcd, machines.length > 0);
    const etcdCAData = etcd ? await readSecret(d.kube, ns, `${etcd.metadata.name}-etcd-ca`) : undefined;
    if ((etcdDep.status !== 'True' && machines.length === 0) || !etcd || !etcdCAData?.['tls.key']) {
      const why = etcdDep.status === 'True' ? { ...etcdDep, status: 'False' as const, reason: Reason.WaitingForEtcdCluster, message: `Secret ${o.spec.etcdClusterRef.name}-etcd-ca is not there yet` } : etcdDep;
      await status(o, [...base, why, { type: T.Ready, status: 'False', reason: why.reason, message: why.message }]);
      return { requeueAfterMs: t.steadyMs };
    }
    // New nodes reach etcd through its cluster endpoint, whose records follow the members; nodes given
    // members' names (before the EtcdCluster published one) are stale once it does, and replaced.
    const etcdStatus = etcd.status as { clientEndpoint?: string; clientEndpoints?: string[] } | undefined;
    const etcdEndpoint = etcdStatus?.clientEndpoint;
    const etcdEndpoints = etcdEndpoint ? [etcdEndpoint] : (etcdStatus?.clientEndpoints ?? []);
    const staleEtcd = (x: Machine) => !!etcdEndpoint && !x.tags.includes(ETCD_ENDPOINT_TAG) && !x.removing;
    // Upgrade order: a version change starts once the EtcdCluster has finished its own changes.
    const etcdSettled = etcdIsSettled(etcd);

    // 2. Certificates, keys and the admin kubeconfig.
    const pkiDeps = { kube: d.kube, ctx: { ...d.pki, now }, randomBytes: d.randomBytes };
    const pki = await sharedPki(pkiDeps, o, { cert: etcdCAData['tls.crt']!, key: etcdCAData['tls.key']!, ca: etcdCAData['tls.crt']! }, net);
    for (const i of pki.issued) await d.events.record(o, 'Normal', 'CertificateIssued', `${i.name}: ${i.reason}`);
    if (await ensureKubeconfig(d.kube, o, pki)) await d.events.record(o, 'Normal', 'KubeconfigWritten', `admin kubeconfig in Secret ${kubeconfigSecretName(o.metadata.name)}`);
    // Encryption at rest: a key rotation starts here when due (stored before any node is made with it);
    // nodes made with another configuration are outdated.
    const encryption = pki.encryption ? await startRotationIfDue(d, o, pki.encryption) : undefined;
    const wantedEncryption = encryption && wantedEncryptionId(encryption);
    const staleEncryption = (x: Machine) => !!wantedEncryption && !x.removing && nodeEncryptionId(x.tags) !== wantedEncryption;

    const zone = (await clouds.dns.findZone(zoneName)).data;
    if (!zone) {
      const message = `the Cloudflare token cannot see zone ${zoneName}`;
      await status(o, [...base, etcdDep, { type: T.DNSReady, status: 'False', reason: Reason.DNSRecordsNotReady, message }, { type: T.Ready, status: 'False', reason: Reason.DNSRecordsNotReady, message }]);
      return { requeueAfterMs: t.steadyMs };
    }
    const lb = await loadBalancer(o, clouds);

    // 3. Health of every running node.
    const creds = { ca: pki.ca.cert, cert: pki.leaves.admin.cert, key: pki.leaves.admin.key };
    const running = machines.filter((x) => x.status === 'active' && x.privateIPv4);
    const probes = new Map<string, ControlPlaneHealth>(
      await mapLimit(running, PROBE_CONCURRENCY, async (x) => [x.machine, await d.health.controlPlane({ ip: probeAddress(x)!, dnsName: `${x.machine}.${zoneName}` }, creds)] as const),
    );
    const apiHealthy = (name: string) => !!probes.get(name)?.apiserverReady.ok && !!probes.get(name)?.apiserverLive.ok;
    // Any component answering well means the network is there: health is then reported as it is.
    const answered = [...probes.values()].some((p) => p.apiserverLive.ok || p.apiserverReady.ok || p.controllerManager.ok || p.scheduler.ok);
    if (answered) m.lastAnswerAt = nowMs;
    for (const p of probes.values()) d.metrics?.observeProbe('kube-apiserver', p.apiserverReady.ok ? 'healthy' : 'unhealthy', 0);

    // Keys to the nodes waiting for them (they answer on SSH once booted; until then, no harm in trying).
    const waitingForKeys = running.filter((x) => !x.removing && x.tags.includes(HANDOVER_TAG) && !x.tags.includes(HANDED_OVER_TAG));
    // An API server that answers has its keys: pushed before a crash that lost the tag. Tagged only (the
    // node has retired the host key the push needed).
    const evidently = waitingForKeys.filter((x) => apiHealthy(x.machine));
    if (evidently.length) {
      await clouds.compute.tagDroplets(HANDED_OVER_TAG, evidently.map((x) => x.id), true).finally(() => clouds.droplets.invalidate(ownerTag(uid)));
      log.info({ machines: evidently.map((x) => x.machine) }, 'keys already there (the API server answers): tagged handed over');
    }
    await mapLimit(waitingForKeys.filter((x) => !apiHealthy(x.machine)), PROBE_CONCURRENCY, (x) => handOver(o, clouds, pki, encryption, x, log));
    // Nodes made before the hand-over carry their keys in user-data: replaced.
    const keysInUserData = (x: Machine) => !x.removing && !x.tags.includes(HANDOVER_TAG);

    // 4. What to change: outdated = another version, or certificates that would expire before long.
    for (const x of machines) if (!m.notAfter.has(x.machine)) m.notAfter.set(x.machine, await nodeNotAfter(d.kube, ns, x.machine));
    const certsDue = (name: string) => {
      const na = m.notAfter.get(name);
      return !!na && na.getTime() - nowMs < LEAF_LIFETIME_MS / 3;
    };
    // A network or etcd outage restarts every clock: API servers that failed because etcd was gone are not
    // "unhealthy for too long" the moment etcd is back (after a restore, say).
    const judged = answered && etcdDep.status === 'True';
    if (!judged) m.unhealthy.forget(() => false);
    const views = machines.map((x) => ({
      name: x.machine,
      dropletId: x.id,
      createdAt: x.createdAt,
      healthy: apiHealthy(x.machine),
      outdated: (x.version !== o.spec.version && etcdSettled) || certsDue(x.machine) || staleEtcd(x) || staleEncryption(x) || keysInUserData(x),
      // Only judged when some node answers and etcd is fine: an unreachable network or an etcd outage is
      // no reason to replace nodes (new ones would be just as unreachable).
      unhealthySince: judged ? m.unhealthy.observe(x.machine, apiHealthy(x.machine), nowMs) : undefined,
      removing: x.removing,
    }));
    m.unhealthy.forget((name) => machines.some((x) => x.machine === name));
    const etcdReady = etcdDep.status === 'True';
    const versionWaits = !etcdSettled && machines.some((x) => !x.removing && x.version !== o.spec.version);
    // Nodes that never became healthy: replaced with backoff, and after three in a row no more.
    const { failures, retry } = await trackJoins(d, m, o, { views, now: nowMs, timing: t, what: 'control-plane node', log, message: (name) => (m.handOverErrors?.get(name) && `its keys were never handed over: ${m.handOverErrors.get(name)}`) ?? probes.get(name)?.apiserverReady.message ?? (running.some((x) => x.machine === name) ? 'its API server never answered' : 'its droplet never became active') });
    // Errors of nodes that are gone are forgotten once the join tracking above has read them.
    for (const name of m.handOverErrors?.keys() ?? []) if (!machines.some((x) => x.machine === name)) m.handOverErrors!.delete(name);
    const decision: RolloutDecision = etcdReady
      ? holdForFailures(planRollout({ replicas: o.spec.replicas, machines: views, maxSurge: 1, maxUnavailable: 0, now: nowMs, unhealthyAfterMs: t.unhealthyAfterMs, oneAtATime: true }), retry)
      : { create: 0, remove: [], waiting: etcdDep.message };

    // Removal, step 1: mark (a tag: the next reconcile, or another replica, sees it); out of rotation below.
    for (const r of decision.remove) {
      await clouds.compute.tagDroplets(REMOVING_TAG, [r.machine.dropletId], true).finally(() => clouds.droplets.invalidate(ownerTag(uid)));
      const x = machines.find((y) => y.machine === r.machine.name)!;
      x.removing = true;
      log.info({ machine: x.machine, why: r.why }, 'removing control-plane node');
      await d.events.record(o, 'Normal', 'MachineRemoving', `${x.machine}: ${r.why}`);
    }

    // Creation (before DNS: a droplet boots while its records are written): certificates for the node, user-data, and the droplet (after a lookup by tag).
    for (let i = 0; i < decision.create; i++) {
      const name = dropletName(o.metadata.name, 'ControlPlane', d.randomBytes(5));
      await createNode(o, clouds, pki, encryption, name, etcd, etcdEndpoints, !!etcdEndpoint, log);
    }

    // 5. Rotation: the endpoint's records and the load balancer's members are the healthy, staying nodes.
    const staying = running.filter((x) => !x.removing);
    const inRotation = staying.some((x) => apiHealthy(x.machine)) ? staying.filter((x) => apiHealthy(x.machine)) : staying;
    for (const x of machines.filter((y) => y.removing && y.tags.includes(loadBalancerTag(uid)))) {
      await clouds.compute.tagDroplets(loadBalancerTag(uid), [x.id], false).finally(() => clouds.droplets.invalidate(ownerTag(uid)));
    }
    // Nodes built in DNS mode join the load balancer when the mode changes to LoadBalancer.
    const untagged = lb ? machines.filter((y) => !y.removing && !y.tags.includes(loadBalancerTag(uid))) : [];
    if (untagged.length) await clouds.compute.tagDroplets(loadBalancerTag(uid), untagged.map((x) => x.id), true).finally(() => clouds.droplets.invalidate(ownerTag(uid)));
    const fingerprint = JSON.stringify([o.metadata.generation, machines.map((x) => [x.machine, x.privateIPv4 ?? '', x.removing]), inRotation.map((x) => x.machine), lb?.ip]);
    let dnsComplete = machines.every((x) => x.privateIPv4);
    if (!m.lastSync || m.lastSync.fingerprint !== fingerprint || nowMs - m.lastSync.at >= t.cloudSyncMs) {
      const comment = `ControlPlane ${ns}/${o.metadata.name}`;
      const wanted = [
        ...machines.filter((x) => x.privateIPv4).map((x) => ({ name: `${x.machine}.${zoneName}`, type: 'A' as const, content: x.privateIPv4!, ttl: 60, comment })),
        ...(lb ? (lb.ip ? [lb.ip] : []) : inRotation.map((x) => x.publicIPv4 ?? x.privateIPv4!)).map((ip) => ({ name: host, type: 'A' as const, content: ip, ttl: 60, comment: `${comment} endpoint` })),
      ];
      const change = await syncRecords(clouds, zone.id, uid, wanted);
      if (!(await reportRecordDrift(d.events, o, change, m.lastSync?.fingerprint === fingerprint))) {
        for (const r of change.created) await d.events.record(o, 'Normal', 'DNSRecordCreated', `${r.name} → ${r.content}`);
        for (const r of change.deleted) await d.events.record(o, 'Normal', 'DNSRecordDeleted', `${r.name} → ${r.content}`);
      }
      m.firewallSpec = await ensureFirewallReported(d.events, o, clouds, uid, controlPlaneFirewall(o, lb), m.firewallSpec);
      // Remembered even when incomplete: a droplet getting its address changes the fingerprint.
      m.lastSync = { fingerprint, at: nowMs };
    }
    dnsComplete &&= lb ? !!lb.ip : inRotation.length > 0;

    // Removal, step 2: once out of rotation for the records' TTL, the Node object and the droplet go.
    let did = decision.create > 0 || decision.remove.length > 0;
    const target = inRotation.find((x) => apiHealthy(x.machine));
    const workload = target ? d.workload.connect({ ip: probeAddress(target)!, serverName: host, ...creds }) : undefined;
    for (const x of machines.filter((y) => y.removing)) {
      const since = m.removingSince.get(x.machine) ?? nowMs;
      m.removingSince.set(x.machine, since);
      if (nowMs - since < t.rotationDrainMs) continue;
      // Without a cloud provider nothing else deletes the Node object: a stale NotReady Node stays listed.
      if (workload) await workload.deleteNode(x.machine).catch((e: unknown) => log.warn({ machine: x.machine, err: (e as Error).message }, 'could not delete the Node object; delete it with kubectl'));
      else log.warn({ machine: x.machine }, 'no API server answers: the Node object stays; delete it with kubectl');
      await deleteMachine(clouds, uid, x.id);
      await d.kube.delete(Secrets, { namespace: ns, name: x.machine });
      m.removingSince.delete(x.machine);
      m.notAfter.delete(x.machine);
      did = true;
      log.info({ machine: x.machine }, 'control-plane node deleted');
      await d.events.record(o, 'Normal', 'MachineDeleted', `droplet ${x.machine}`);
    }

    // Encryption: a rotation's stage moves on once every node runs it, healthy, and no node of an earlier
    // stage is left (not even one being removed: its API server still answers the clients it has).
    let encryptionNow = encryption;
    if (encryption && encryption.stage !== 'stable') {
      const settled = decision.create === 0 && machines.length === o.spec.replicas && machines.every((x) => !x.removing && nodeEncryptionId(x.tags) === wantedEncryption && apiHealthy(x.machine));
      try {
        encryptionNow = await advanceRotation(d, o, encryption, settled, workload && (() => workload.reencryptSecrets()));
      } catch (e) {
        if (!(e instanceof WorkloadError)) throw e;
        log.warn({ err: e.message }, 'Secrets not re-encrypted yet: tried again on the next pass');
      }
      did ||= encryptionNow !== encryption;
    }

    // 6. Addons, once an API server answers; re-applied when the spec changes or every cloudSyncMs.
    const addons = await applyAddons(o, m, workload, nowMs, log);

    // 7. Status.
    const after = did ? (await clouds.droplets.withTags(ownerTag(uid))).map(machineOf) : machines;
    const withinGrace = m.lastAnswerAt !== undefined && nowMs - m.lastAnswerAt < t.graceMs;
    const live = after.filter((x) => !x.removing);
    const conditions = controlPlaneConditions({
      replicas: o.spec.replicas,
      version: o.spec.version,
      etcd: etcdDep,
      machines: live.length,
      active: live.filter((x) => x.status === 'active' && x.privateIPv4).length,
      outdated: views.filter((v) => v.outdated && !v.removing).length,
      staleEtcd: machines.filter(staleEtcd).length,
      // After a stage moved on in this pass, nodes are outdated by the new stage (views know only the old one).
      encryption: encryptionNow && (encryptionNow.stage !== 'stable' || machines.some((x) => !x.removing && nodeEncryptionId(x.tags) !== wantedEncryptionId(encryptionNow))) ? rotationMessage(encryptionNow) : undefined,
      staleEncryption: machines.filter(staleEncryption).length,
      keysInUserData: machines.filter(keysInUserData).length,
      versionWaits: versionWaits ? `Kubernetes ${o.spec.version} waits for EtcdCluster ${etcd.metadata.name} to finish its changes (upgrade order: etcd, then the control plane, then workers)` : undefined,
      removing: after.length - live.length,
      probes: [...probes.entries()].filter(([name]) => live.some((x) => x.machine === name)),
      answered,
      withinGrace,
      previous: (type) => getCondition(o.status?.conditions, type),
      dnsComplete,
      endpointMode: o.spec.endpoint.mode,
      addons,
      decision,
    });
    const notAfters = { ...Object.fromEntries(Object.entries(pki.leaves).map(([k, v]) => [k, v.cert])), ca: pki.ca.cert };
    const earliest = earliestExpiry(notAfters)!;
    const nodeEarliest = [...m.notAfter.entries()].filter(([, v]) => v).sort((a, b) => a[1]!.getTime() - b[1]!.getTime())[0];
    const first = nodeEarliest && nodeEarliest[1]! < earliest.notAfter ? { name: nodeEarliest[0], notAfter: nodeEarliest[1]! } : earliest;
    const certCondition: ConditionInput =
      first.notAfter.getTime() - nowMs < 30 * 86_400_000
        ? { type: T.CertificatesAvailable, status: 'True', reason: Reason.CertificatesExpiringSoon, message: `${first.name} expires ${first.notAfter.toISOString()}` }
        : { type: T.CertificatesAvailable, status: 'True', reason: Reason.CertificatesAvailable, message: `CA in Secret ${caSecretName(o.metadata.name)}; first expiry ${first.name} at ${first.notAfter.toISOString()}` };
    const iso = (x: Date) => x.toISOString().replace(/\.\d{3}Z$/, 'Z');
    if (!gate.ok && held) await warnOncePerGeneration(d.events, m, o, Reason.VersionChangeRefused, gate.message);
    await status(o, [...base, etcdDep, certCondition, ...showGaveUp(showRefusal(conditions, gate), retry)], {
      endpoint: `https://${host}:6443`,
      kubeconfigSecretRef: { name: kubeconfigSecretName(o.metadata.name) },
      etcdEndpoint, // undefined removes a value written before
      staleEtcdEndpoints: after.filter(staleEtcd).map((x) => x.machine),
      ...(lowestVersion(after.map((x) => x.version)) ? { version: lowestVersion(after.map((x) => x.version)) } : {}),
      machines: after.map((x) => {
        const p = probes.get(x.machine);
        return machineStatus(x, { zone: zoneName, healthy: p ? apiHealthy(x.machine) : undefined, message: p && (p.apiserverReady.message ?? p.apiserverLive.message), probedAt: now });
      }),
      ...(encryptionNow ? { encryption: encryptionStatus(encryptionNow) } : {}),
      certificates: { earliestExpiry: iso(first.notAfter), earliestExpiryName: first.name, caExpiry: iso(new Date(new X509Certificate(pki.ca.cert).validTo)) },
      replicas: after.length,
      readyReplicas: live.filter((x) => apiHealthy(x.machine)).length,
      updatedReplicas: live.filter((x) => x.version === o.spec.version && !certsDue(x.machine)).length,
      joinFailures: failures, // undefined removes a value written before
    });
    const isReady = conditions.find((c) => c.type === T.Ready)?.status === 'True';
    return { requeueAfterMs: isReady && !did ? t.steadyMs : t.waitMs };
  }

  /**
   * A node's files: on create for its user-data, and again for the hand-over, from the same Secrets (a
   * shared leaf re-issued in between goes over with its certificate; see renderControlPlane).
   */
  async function renderNode(o: Obj, pki: SharedPki, encryption: EncryptionKey[] | undefined, name: string, etcdEndpoints: string[]) {
    const zone = o.spec.dns.zone;
    const net = clusterNetwork(o);
    const node = { name, address: `${name}.${zone}` };
    const certs = await nodePki({ kube: d.kube, ctx: { ...d.pki, now: d.now() }, randomBytes: d.randomBytes }, o, pki, node, net.kubernetesServiceIP);
    if (!certs.hostKey) return undefined;
    const endpoint = `https://${o.spec.endpoint.host}:6443`;
    const rendered = renderControlPlane({
      node,
      version: o.spec.version,
      apiServer: endpoint,
      endpoint,
      clusterName: o.metadata.name,
      ca: pki.ca,
      etcdCA: pki.etcdCA,
      frontProxyCA: pki.frontProxyCA.cert,
      etcdEndpoints,
      serviceAccount: pki.serviceAccount,
      kubelet: certs.kubelet,
      kubeProxy: pki.leaves['kube-proxy'],
      network: net,
      pins: d.pins,
      leaves: {
        apiserver: certs.apiserver,
        apiserverKubeletClient: pki.leaves['apiserver-kubelet-client'],
        apiserverEtcdClient: pki.leaves['apiserver-etcd-client'],
        frontProxyClient: pki.leaves['front-proxy-client'],
        controllerManager: pki.leaves['controller-manager'],
        scheduler: pki.leaves.scheduler,
        serving: certs.serving,
      },
      encryption,
      audit: o.spec.audit,
      access: { hostKey: certs.hostKey, operatorKey: pki.handOverKey.publicKey },
    });
    return { rendered, hostKey: certs.hostKey };
  }

  /**
   * Hands a node its keys over SFTP once it answers, then tags it (the push is repeated until the tag is
   * there, which is safe). Only with the encryption configuration it was made for: a node made for
   * another is outdated and replaced, never given keys it was not made with.
   */
  async function handOver(o: Obj, clouds: Clouds, pki: SharedPki, encryption: EncryptionState | undefined, x: Machine, log: Logger): Promise<void> {
    const m = mem(o.metadata.uid!);
    const keys = encryption && encryptionKeys(encryption);
    if (keys && nodeEncryptionId(x.tags) !== encryptionConfigId(keys)) return;
    const node = await renderNode(o, pki, keys, x.machine, []);
    const address = probeAddress(x);
    if (!node || !address) return;
    const files = node.rendered.handOver.map((f) => ({ path: f.path, content: f.content, permissions: f.permissions }));
    try {
      await d.handOver.push({ address, hostKey: node.hostKey.publicKey, port: d.handOverPort }, pki.handOverKey.privateKey, files, HANDOVER_MARKER);
    } catch (e) {
      if (!(e instanceof HandOverError)) throw e;
      const before = m.handOverErrors?.get(x.machine);
      (m.handOverErrors ??= new Map()).set(x.machine, e.message);
      if (before !== e.message) {
        if (e.kind === 'unreachable') log.info({ machine: x.machine, err: e.message }, 'keys not handed over yet: the node does not answer on SSH');
        else log.warn({ machine: x.machine, err: e.message }, 'keys not handed over');
        if (e.kind !== 'unreachable') await d.events.record(o, 'Warning', e.kind === 'host-key' ? 'HostKeyMismatch' : 'HandOverFailed', `${x.machine}: ${e.message}`);
      }
      return;
    }
    await clouds.compute.tagDroplets(HANDED_OVER_TAG, [x.id], true).finally(() => clouds.droplets.invalidate(ownerTag(o.metadata.uid!)));
    m.handOverErrors?.delete(x.machine);
    log.info({ machine: x.machine, files: files.length, hostKey: sshFingerprint(node.hostKey.publicKey) }, 'keys handed over');
    await d.events.record(o, 'Normal', 'KeysHandedOver', `${x.machine}: ${files.length} files over SFTP (host key ${sshFingerprint(node.hostKey.publicKey)})`);
  }

  async function createNode(o: Obj, clouds: Clouds, pki: SharedPki, encryption: EncryptionState | undefined, name: string, etcd: EtcdCluster & Observed, etcdEndpoints: string[], viaClusterEndpoint: boolean, log: Logger) {
    const node = await renderNode(o, pki, encryption && encryptionKeys(encryption), name, etcdEndpoints);
    if (!node) throw new Error(`Secret ${name} holds no SSH host key (made before the hand-over?): delete it and its droplet, if any`);
    const { rendered } = node;
    const uid = o.metadata.uid!;
    const spec = o.spec.machine;
    const { droplet, created } = await createMachineOrForget(d.kube, o, clouds, uid, {
      name,
      region: spec.region,
      size: spec.size,
      image: spec.image,
      sshKeys: spec.sshKeys,
      vpcUUID: spec.vpcUUID,
      tags: [
        FLEET_TAG,
        ownerTag(uid),
        machineTag(name),
        versionTag(o.spec.version),
        clusterTag(uid),
        etcdClientTag(etcd.metadata.uid!),
        ...(viaClusterEndpoint ? [ETCD_ENDPOINT_TAG] : []),
        ...(encryption ? [encryptionTag(wantedEncryptionId(encryption))] : []),
        HANDOVER_TAG,
        ...(o.spec.endpoint.mode === 'LoadBalancer' ? [loadBalancerTag(uid)] : []),
        ...(spec.tags ?? []),
      ],
      userData: rendered.userData,
    });
    if (!created) return;
    log.info({ machine: name, dropletId: droplet.id }, 'droplet created');
    await d.events.record(o, 'Normal', 'MachineCreated', `droplet ${name} (${spec.size} in ${spec.region}, Kubernetes ${o.spec.version})`);
  }

  async function applyAddons(o: Obj, m: NodeMemory & Partial<AddonsMemory>, workload: ReturnType<WorkloadConnector['connect']> | undefined, nowMs: number, log: Logger): Promise<ConditionInput> {
    const net = clusterNetwork(o);
    const fingerprint = JSON.stringify([o.metadata.generation, net]);
    if (m.addons && m.addons.fingerprint === fingerprint && nowMs - m.addons.at < t.cloudSyncMs && m.addons.condition.status === 'True') return m.addons.condition;
    if (!workload) return m.addons?.condition ?? { type: T.AddonsReady, status: 'Unknown', reason: Reason.AddonsNotApplied, message: 'waiting for an API server to answer' };
    let condition: ConditionInput;
    try {
      await workload.apply(renderAddons({ clusterDNS: net.clusterDNS, clusterDomain: net.clusterDomain, podCIDR: net.podCIDR, coreDNSVersion: componentsFor(o.spec.version).coredns }));
      condition = { type: T.AddonsReady, status: 'True', reason: Reason.AddonsApplied, message: `apiserver-to-kubelet RBAC, CoreDNS at ${net.clusterDNS}, flannel RBAC` };
      if (m.addons?.condition.status !== 'True') log.info('addons applied');
    } catch (e) {
      if (!(e instanceof WorkloadError)) throw e;
      condition = { type: T.AddonsReady, status: 'False', reason: Reason.AddonsNotApplied, message: e.message };
      log.warn({ err: e.message }, 'addons not applied');
    }
    m.addons = { fingerprint, at: nowMs, condition };
    return condition;
  }

  return { reconcile, onTerminalError: terminalReporter(d, ControlPlanes, order) };
}

export interface ControlPlaneFacts {
  replicas: number;
  version: string;
  etcd: ConditionInput;
  /** Machines not being removed, and how many of them run. */
  machines: number;
  active: number;
  outdated: number;
  /** Of those, nodes given etcd members' names rather than the cluster endpoint. */
  staleEtcd?: number;
  /** Where a key rotation stands, while one runs. */
  encryption?: string;
  /** Nodes made with another encryption configuration. */
  staleEncryption?: number;
  /** Nodes made before the hand-over: their keys are in their user-data. */
  keysInUserData?: number;
  /** Why a version change has not started (the upgrade order), if it waits. */
  versionWaits?: string;
  removing: number;
  probes: [string, ControlPlaneHealth][];
  /** Whether any API server answered at all (else remote health may keep its last value). */
  answered: boolean;
  withinGrace: boolean;
  previous: (type: string) => { status: 'True' | 'False' | 'Unknown'; reason: string; message?: string } | undefined;
  dnsComplete: boolean;
  endpointMode: 'DNS' | 'LoadBalancer';
  addons: ConditionInput;
  decision: RolloutDecision;
}

/** The conditions a ControlPlane reports, from what was observed and decided. Pure. */
export function controlPlaneConditions(f: ControlPlaneFacts): ConditionInput[] {
  const c: ConditionInput[] = [];
  c.push(
    f.active === f.machines && f.machines === f.replicas && f.removing === 0
      ? { type: T.MachinesProvisioned, status: 'True', reason: Reason.Provisioned, message: `${f.machines} droplets running` }
      : { type: T.MachinesProvisioned, status: 'False', reason: Reason.Provisioning, message: `${f.active}/${f.replicas} droplets running${f.removing ? `, ${f.removing} being removed` : ''}` },
  );
  c.push(
    f.dnsComplete
      ? { type: T.DNSReady, status: 'True', reason: Reason.DNSRecordsReady, message: f.endpointMode === 'DNS' ? 'one A record per node; the endpoint lists the healthy nodes' : 'one A record per node; the endpoint points at the load balancer' }
      : { type: T.DNSReady, status: 'False', reason: Reason.DNSRecordsNotReady, message: f.endpointMode === 'DNS' ? 'waiting for droplet addresses' : 'waiting for droplet addresses and the load balancer' },
  );
  const health = (type: string, what: string, pick: (h: ControlPlaneHealth) => { ok: boolean; message?: string }) =>
    healthCondition(type, what, f.probes.map(([machine, h]) => ({ machine, ...pick(h) })), { expected: f.machines, answered: f.answered, withinGrace: f.withinGrace, previous: f.previous(type) });
  c.push(health(T.APIServerHealthy, 'API server', (h) => (h.apiserverReady.ok ? h.apiserverLive : h.apiserverReady)));
  c.push(health(T.ControllerManagerHealthy, 'controller-manager', (h) => h.controllerManager));
  c.push(health(T.SchedulerHealthy, 'scheduler', (h) => h.scheduler));
  c.push(f.addons);
  const rolling = f.outdated > 0 || !!f.encryption;
  c.push(!rolling && f.machines < f.replicas && f.machines > 0 ? { type: T.ScalingUp, status: 'True', reason: Reason.ScalingUp, message: `${f.machines} → ${f.replicas} nodes, one at a time` } : { type: T.ScalingUp, status: 'False', reason: Reason.NotScalingUp });
  c.push(!rolling && f.machines + f.removing > f.replicas ? { type: T.ScalingDown, status: 'True', reason: Reason.ScalingDown, message: `${f.machines + f.removing} → ${f.replicas} nodes, one at a time` } : { type: T.ScalingDown, status: 'False', reason: Reason.NotScalingDown });
  const stale =
    (f.staleEtcd ? `; ${f.staleEtcd} of them reach etcd by member names (stale: the cluster endpoint replaces them)` : '') +
    (f.staleEncryption ? `; ${f.staleEncryption} of them hold another encryption configuration` : '') +
    (f.keysInUserData ? `; ${f.keysInUserData} of them carry their keys in user-data (made before the hand-over)` : '');
  c.push(
    rolling
      ? { type: T.RollingOut, status: 'True', reason: Reason.RollingOut, message: [f.outdated > 0 ? `replacing ${f.outdated} node(s) with Kubernetes ${f.version}, one at a time${stale}` : '', f.encryption ?? ''].filter(Boolean).join('; ') }
      : f.versionWaits
        ? { type: T.RollingOut, status: 'False', reason: Reason.WaitingForEtcdCluster, message: f.versionWaits }
        : { type: T.RollingOut, status: 'False', reason: Reason.NotRollingOut },
  );
  const notTrue = [f.etcd, ...c].find((x) => [T.EtcdAvailable, T.MachinesProvisioned, T.DNSReady, T.APIServerHealthy, T.ControllerManagerHealthy, T.SchedulerHealthy, T.AddonsReady].includes(x.type as never) && x.status !== 'True');
  // A version change waiting for etcd (the upgrade order) is a change not done: not Ready, so that
  // WorkerPools, which follow a Ready control plane, do not move first.
  const busy = c.find((x) => ([T.ScalingUp, T.ScalingDown, T.RollingOut].includes(x.type as never) && x.status === 'True') || (x.type === T.RollingOut && x.reason === Reason.WaitingForEtcdCluster));
  const api = c.find((x) => x.type === T.APIServerHealthy)!;
  c.push(
    !notTrue && !busy
      ? { type: T.Ready, status: 'True', reason: Reason.Ready, message: api.message }
      : { type: T.Ready, status: 'False', reason: notTrue?.reason ?? busy?.reason ?? Reason.NotReady, message: notTrue?.message ?? busy?.message ?? f.decision.waiting ?? 'converging' },
  );
  return c;
}
