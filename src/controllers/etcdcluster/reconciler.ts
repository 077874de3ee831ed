// The EtcdCluster reconciler: ordered phases that return early — finalizer, paused, validate,
// credentials, certificates, machines, DNS, firewall, health, one planned change, status.
import { Secrets, EtcdClusters } from '../../kube/resources.ts';
import { TerminalError, type Reconcile, type ReconcileResult } from '../../runtime/controller.ts';
import type { Logger } from '../../runtime/logger.ts';
import {
  Reason,
  ConditionType as T,
  ETCD_CLUSTER_CONDITIONS,
  validateEtcdCluster,
  type EtcdCluster,
  type EtcdMember,
  type JoinFailures,
  ACCEPT_DATA_LOSS_ANNOTATION,
  type ConditionInput,
} from '../../api/v1alpha1/index.ts';
import { dropletName } from '../../api/v1alpha1/names.ts';
import type { Droplet, FirewallSpec } from '../../cloud/ports.ts';
import { FLEET_TAG, ownerTag, machineTag, versionTag, etcdClientTag, tagValue } from '../../cloud/tags.ts';
import { EtcdClient, EtcdError, type EtcdMemberInfo, type EtcdTls } from '../../health/etcd.ts';
import { createCA, issueLeaf, type CertBundle, type PkiContext } from '../../pki/certs.ts';
import { etcdLeafSpecs } from '../../pki/profiles.ts';
import { issueEtcdMember, memberSecretData, memberFromSecretData, certificateServes, type EtcdCAs } from '../../pki/etcd.ts';
import { renderEtcdMember } from '../../bootstrap/roles.ts';
import type { Clouds } from '../clouds.ts';
import { getOrCreateSecret, readSecret } from '../secrets.ts';
import { prepare, withCloudErrors, terminalReporter, warnOncePerGeneration, type ProvisionerDeps, NOT_PAUSED, NOT_DELETING } from '../machines/lifecycle.ts';
import { etcdVersionGate, heldVersion, showRefusal } from '../machines/version-gates.ts';
import { countingFailures, recordFailure, gaveUpMessage, MAX_JOIN_FAILURES } from '../machines/join-failures.ts';
import { ownedMachinesReported, syncRecords, ensureFirewallReported, reportRecordDrift, createMachineOnce, deleteMachine, cleanupOwner } from '../machines/cloud.ts';
import { writeStatus, nextStatus, type Observed } from '../status.ts';
import { plan, quorum, successor, type Action, type MachineView, type MemberView } from './plan.ts';
import { etcdClusterHost, clusterEndpointURL, endpointAddresses, usersNotReady, type EndpointUser } from './endpoint.ts';
import { reconcileBackup, type BackupDeps, type BackupStatus } from './backup.ts';
import { restoreApplies, resolveRestore, type RestoreSource } from './restore.ts';
import { DEFAULT_BUMP_REVISION } from '../../bootstrap/restore.ts';
import type { SnapshotStoreFactory } from '../../backup/store.ts';

export const FINALIZER = 'hardway.dev/etcdcluster-cleanup';

export interface EtcdTiming {
  /** Revisit while converging (a member booting, a learner catching up). */
  waitMs: number;
  /** Revisit a healthy cluster to probe it. */
  steadyMs: number;
  /** A member unhealthy this long is replaced. */
  unhealthyAfterMs: number;
  /** Remote health keeps its last value this long when no member answers. */
  graceMs: number;
  probeTimeoutMs: number;
  /** DNS and firewall are re-checked at least this often even if nothing changed. */
  cloudSyncMs: number;
  /** A member leaves the cluster endpoint's record this long before it is removed (the record's TTL). */
  endpointDrainMs: number;
  /** A new member not healthy this long after it was added failed to join (a slow droplet boot included). */
  joinTimeoutMs: number;
  /** Wait after a failed join before the next add, doubled per failure. */
  joinBackoffMs: number;
  /** Wait after a failed snapshot before the next try. */
  backupRetryMs: number;
}


export const DEFAULT_ETCD_TIMING: EtcdTiming = { waitMs: 5_000, steadyMs: 30_000, unhealthyAfterMs: 300_000, graceMs: 60_000, probeTimeoutMs: 3_000, cloudSyncMs: 600_000, endpointDrainMs: 60_000, joinTimeoutMs: 900_000, joinBackoffMs: 60_000, backupRetryMs: 300_000 };

export interface EtcdDeps extends ProvisionerDeps<EtcdCluster & Observed, EtcdTiming> {
  /** Names of ControlPlanes in a namespace that refer to this EtcdCluster. */
  dependents: (namespace: string, name: string) => string[];
  /** How the controller talks to etcd (default: EtcdClient over HTTPS); tests and benches may substitute. */
  etcdClient?: (tls: EtcdTls, o: { timeoutMs: number }) => EtcdApi;
  /** ControlPlanes in a namespace that refer to this EtcdCluster, with their status (planned removals wait for them). */
  endpointUsers?: (namespace: string, name: string) => EndpointUser[];
  /** Snapshot storage (the operator wires S3 with the AWS SDK, src/cloud/s3/store.ts). */
  snapshotStores?: SnapshotStoreFactory;
}

/** What the controller asks of etcd. */
export type EtcdApi = Pick<EtcdClient, 'health' | 'status' | 'memberList' | 'alarms' | 'memberAdd' | 'memberPromote' | 'memberRemove' | 'moveLeader'> & Partial<Pick<EtcdClient, 'snapshot'>>;

type Obj = EtcdCluster & Observed;

/** What a probe of one machine found. */
interface Probe {
  healthy: boolean;
  clusterId?: string;
  /** Active alarms (NOSPACE, CORRUPT) the member reports for the cluster. */
  alarms?: string[];
  memberId?: string;
  leaderId?: string;
  version?: string;
  message?: string;
  members?: EtcdMemberInfo[];
}

interface Memory {
  unhealthySince: Map<string, number>;
  /** The backup status this process last wrote (the cache may not show it yet). */
  backupWritten?: BackupStatus;
  /** The generation a Warning was last recorded for (warnOncePerGeneration). */
  warnedGeneration?: number;
  /** Members whose droplet a listing did not show, since when (only used when status has no droplet id). */
  missingSince?: Map<string, number>;
  lastCloudSync?: { fingerprint: string; at: number; endpoint: string[] };
  /** When the firewall was last found as wanted, for which generation (it depends on the spec alone). */
  firewallSync?: { generation?: number; at: number };
  /** The firewall spec this process last put in place (canonical): the same one wanted again means drift. */
  firewallSpec?: string;
  lastHealthyAt?: number;
  /** Whether a member's server certificate carries the cluster host (its Secret never changes). */
  servesCluster: Map<string, boolean>;
  /** The member leaving by choice, out of the cluster endpoint since (epoch ms). */
  leaving?: { machine: string; since: number };
  /** Snapshots whose object was checked against its manifest (key → sha256). */
  verifiedSnapshots?: Map<string, string>;
}

const machineOf = (peerURL: string) => new URL(peerURL).hostname.split('.')[0]!;

/**
 * The EtcdCluster's firewall, attached to its members by the owner tag. Inbound:
 * - 2379 (clients) from the members, the control-plane droplets (etcd-client tag) and managementCIDRs;
 * - 2380 (peers) from the members only: nothing else talks to a peer port, which serves raft and the
 *   whole v3 gRPC API (servePeers in server/embed/etcd.go, etcd v3.5.21);
 * - 22 from adminCIDRs.
 * Pure.
 */
export function etcdFirewallSpec(o: Pick<EtcdCluster, 'metadata' | 'spec'>): FirewallSpec {
  const uid = o.metadata.uid!;
  const mgmt = o.spec.firewall.managementCIDRs ?? [];
  const admin = o.spec.firewall.adminCIDRs ?? [];
  return {
    name: `hardway-${o.metadata.namespace}-${o.metadata.name}-etcd`,
    tags: [ownerTag(uid)],
    inbound: [
      { protocol: 'tcp', ports: '2379', targets: { tags: [ownerTag(uid), etcdClientTag(uid)] } },
      { protocol: 'tcp', ports: '2380', targets: { tags: [ownerTag(uid)] } },
      ...(mgmt.length ? [{ protocol: 'tcp' as const, ports: '2379', targets: { addresses: mgmt } }] : []),
      ...(admin.length ? [{ protocol: 'tcp' as const, ports: '22', targets: { addresses: admin } }] : []),
    ],
    outbound: (['tcp', 'udp', 'icmp'] as const).map((protocol) => ({ protocol, ports: '0', targets: { addresses: ['0.0.0.0/0', '::/0'] } })),
  };
}

const noSnapshotStore: SnapshotStoreFactory = () => {
  throw new Error('this operator was started without snapshot storage');
};

export function etcdClusterController(d: EtcdDeps): { reconcile: Reconcile; onTerminalError: (key: string, err: TerminalError) => Promise<void> } {
  const t = { ...DEFAULT_ETCD_TIMING, ...d.timing };
  const backupDeps: BackupDeps = { stores: d.snapshotStores ?? noSnapshotStore, readSecret: (ns, name) => readSecret(d.kube, ns, name), events: d.events, metrics: d.metrics, now: d.now };
  const memory = new Map<string, Memory>();
  const mem = (uid: string) => {
    let m = memory.get(uid);
    if (!m) memory.set(uid, (m = { unhealthySince: new Map(), servesCluster: new Map() }));
    return m;
  };
  const order = ETCD_CLUSTER_CONDITIONS;
  const probeAddress = (m: Droplet) => (d.probeNetwork === 'private' ? m.privateIPv4 : (m.publicIPv4 ?? m.privateIPv4));
  const status = (o: Obj, inputs: ConditionInput[], extra: Record<string, unknown> = {}) =>
    writeStatus(d.kube, EtcdClusters, o, nextStatus(o, inputs, order, d.now(), extra), d.fieldManager);

  const bundle = (data: Record<string, string>): CertBundle => ({ cert: data['tls.crt']!, key: data['tls.key']!, ca: data['ca.crt']! });

  /**
   * etcd's two CAs, each made once and never replaced while its Secret exists: the etcd CA
   * (`<name>-etcd-ca`; the client port: the API server's and the operator's client certificates, the
   * members' server certificates) and the etcd peer CA (`<name>-etcd-peer-ca`; the peer port: peer
   * certificates only). A cluster made before the peer CA gets it on its next reconcile; its members move
   * over as they are replaced (src/pki/etcd.ts, docs/etcdcluster.md).
   */
  async function authority(o: Obj, which: 'etcd' | 'peer'): Promise<CertBundle> {
    const [secret, commonName, what] = which === 'etcd' ? [`${o.metadata.name}-etcd-ca`, 'etcd-ca', 'etcd CA'] : [`${o.metadata.name}-etcd-peer-ca`, 'etcd-peer-ca', 'etcd peer CA'];
    const s = await getOrCreateSecret(d.kube, o, secret, () => {
      const ca = createCA(`${commonName} ${o.metadata.namespace}/${o.metadata.name}`, { ...d.pki, now: d.now() });
      return { 'tls.crt': ca.cert, 'tls.key': ca.key, 'ca.crt': ca.cert };
    }, { 'hardway.dev/etcdcluster': o.metadata.name });
    if (s.created) await d.events.record(o, 'Normal', 'CertificateAuthorityCreated', `${what} created in Secret ${secret}`);
    return bundle(s.data);
  }

  async function certificates(o: Obj): Promise<{ ca: CertBundle; peerCA: CertBundle; operator: CertBundle; apiserver: CertBundle }> {
    const ctx: PkiContext = { ...d.pki, now: d.now() };
    const labels = { 'hardway.dev/etcdcluster': o.metadata.name };
    const ca = await authority(o, 'etcd');
    const peerCA = await authority(o, 'peer');
    const specs = etcdLeafSpecs([]);
    const client = async (suffix: 'operator' | 'apiserver') => {
      const s = await getOrCreateSecret(d.kube, o, `${o.metadata.name}-etcd-client-${suffix}`, () => {
        const leaf = issueLeaf(ca, specs[`etcd-client-${suffix}`]!, ctx);
        return { 'tls.crt': leaf.cert, 'tls.key': leaf.key, 'ca.crt': ca.cert };
      }, labels);
      return bundle(s.data);
    };
    return { ca, peerCA, operator: await client('operator'), apiserver: await client('apiserver') };
  }

  /**
   * Server (etcd CA) and peer (peer CA) certificates of one member, kept in a Secret named after the
   * member. cluster: the members it joins (itself included). What it trusts on its peer port depends on
   * their peer certificates, read from their Secrets: while one of them predates the peer CA (or has no
   * Secret), the new member also trusts the etcd CA there and presents a chain the old members accept.
   */
  async function memberCertificates(o: Obj, cas: EtcdCAs, name: string, cluster: string[]) {
    const ctx: PkiContext = { ...d.pki, now: d.now() };
    const address = `${name}.${o.spec.dns.zone}`;
    const others = cluster.filter((n) => n !== name);
    const peers = await Promise.all(others.map(async (n) => (await readSecret(d.kube, o.metadata.namespace, n))?.['peer.crt']));
    let legacyPeers = 0;
    const s = await getOrCreateSecret(d.kube, o, name, () => {
      const issued = issueEtcdMember({ name, address, aliases: [etcdClusterHost(o.metadata.name, o.spec.dns.zone)] }, cas, peers, ctx);
      legacyPeers = issued.legacyPeers;
      return memberSecretData(issued);
    }, { 'hardway.dev/etcdcluster': o.metadata.name, 'hardway.dev/member': name });
    if (s.created && legacyPeers) {
      await d.events.record(o, 'Normal', 'LegacyPeerTrust', `${name} also trusts the etcd CA on its peer port: ${legacyPeers} of its peers predate the etcd peer CA (see docs/etcdcluster.md)`);
    }
    return memberFromSecretData(s.data);
  }

  async function probe(client: EtcdApi, o: Obj, m: Droplet & { machine: string }): Promise<Probe> {
    const ep = { ip: probeAddress(m)!, dnsName: `${m.machine}.${o.spec.dns.zone}` };
    const started = process.hrtime.bigint();
    try {
      const [health, st] = await Promise.all([client.health(ep), client.status(ep)]);
      // A learner refuses the member list ("rpc not supported for learner"): only voters are asked.
      const members = health.healthy && !st.isLearner ? await client.memberList(ep) : undefined;
      const alarms = members ? (await client.alarms(ep)).map((a) => a.alarm) : undefined;
      d.metrics?.observeProbe('etcd', health.healthy ? 'healthy' : 'unhealthy', Number(process.hrtime.bigint() - started) / 1e9);
      return { healthy: health.healthy, clusterId: st.clusterId, memberId: st.memberId, leaderId: st.leaderId, version: st.version, message: health.reason, members, alarms };
    } catch (e) {
      d.metrics?.observeProbe('etcd', 'failed', Number(process.hrtime.bigint() - started) / 1e9);
      return { healthy: false, message: e instanceof Error ? e.message : String(e) };
    }
  }

  /**
   * A-records per member, the cluster endpoint's records and the firewall: checked when machines or the
   * endpoint's members change, else every cloudSyncMs. endpoint: the addresses the cluster endpoint
   * should list (undefined: keep what it lists). Returns whether every member has its record, and the
   * addresses the cluster endpoint lists now.
   */
  async function syncCloud(o: Obj, clouds: Clouds, zoneId: string, machines: (Droplet & { machine: string })[], endpoint: string[] | undefined): Promise<{ complete: boolean; endpoint: string[] }> {
    const m = mem(o.metadata.uid!);
    const host = etcdClusterHost(o.metadata.name, o.spec.dns.zone);
    const fingerprint = JSON.stringify([o.metadata.generation, machines.map((x) => [x.machine, x.privateIPv4 ?? '']), endpoint ?? 'keep']);
    const nowMs = d.now().getTime();
    const complete = machines.every((x) => x.privateIPv4);
    if (m.lastCloudSync && m.lastCloudSync.fingerprint === fingerprint && nowMs - m.lastCloudSync.at < t.cloudSyncMs) return { complete, endpoint: m.lastCloudSync.endpoint };
    const comment = `EtcdCluster ${o.metadata.namespace}/${o.metadata.name}`;
    const wanted = [
      ...machines.filter((x) => x.privateIPv4).map((x) => ({ name: `${x.machine}.${o.spec.dns.zone}`, type: 'A' as const, content: x.privateIPv4!, ttl: 60, comment })),
      ...(endpoint ?? []).map((ip) => ({ name: host, type: 'A' as const, content: ip, ttl: 60, comment: `${comment} endpoint` })),
    ];
    const change = await syncRecords(clouds, zoneId, o.metadata.uid!, wanted, (r) => !endpoint && r.name === host);
    if (!(await reportRecordDrift(d.events, o, change, m.lastCloudSync?.fingerprint === fingerprint))) {
      for (const r of change.created) await d.events.record(o, 'Normal', 'DNSRecordCreated', `${r.name} → ${r.content}`);
      for (const r of change.deleted.filter((x) => !change.created.some((c) => c.name === x.name))) {
        await d.events.record(o, 'Normal', 'DNSRecordDeleted', r.name === host ? `${r.name} → ${r.content} (out of the cluster endpoint)` : `${r.name} (member removed)`);
      }
    }
    // The firewall names tags, not droplets: members and the endpoint coming and going do not change it.
    if (!m.firewallSync || m.firewallSync.generation !== o.metadata.generation || nowMs - m.firewallSync.at >= t.cloudSyncMs) {
      m.firewallSpec = await ensureFirewallReported(d.events, o, clouds, o.metadata.uid!, etcdFirewallSpec(o), m.firewallSpec);
      m.firewallSync = { generation: o.metadata.generation, at: nowMs };
    }
    const listed = endpoint ?? change.kept.filter((r) => r.name === host).map((r) => r.content);
    // Remembered even when incomplete: a droplet getting its address changes the fingerprint.
    m.lastCloudSync = { fingerprint, at: nowMs, endpoint: listed };
    return { complete, endpoint: listed };
  }

  /** Whether a member's server certificate carries the cluster host (read once from its Secret). */
  async function servesCluster(o: Obj, machine: string): Promise<boolean> {
    const m = mem(o.metadata.uid!);
    if (!m.servesCluster.has(machine)) {
      const cert = (await readSecret(d.kube, o.metadata.namespace, machine))?.['server.crt'];
      if (!cert) return false; // not made yet: asked again next time
      m.servesCluster.set(machine, certificateServes(cert, etcdClusterHost(o.metadata.name, o.spec.dns.zone)));
    }
    return m.servesCluster.get(machine)!;
  }

  async function createMachine(o: Obj, clouds: Clouds, cas: EtcdCAs, name: string, cluster: string[], state: 'new' | 'existing', log: Logger, restore?: RestoreSource): Promise<Droplet> {
    const zone = o.spec.dns.zone;
    const certs = await memberCertificates(o, cas, name, cluster);
    const node = renderEtcdMember({
      member: { name, address: `${name}.${zone}` },
      cluster: cluster.map((n) => ({ name: n, address: `${n}.${zone}` })),
      token: o.metadata.uid!,
      state,
      version: o.spec.version,
      certs: { ca: certs.clientCA, peerCA: certs.peerCA, server: certs.server, peer: certs.peer },
      ...(restore ? { restore: { url: restore.url, sha256: restore.sha256, bumpRevision: DEFAULT_BUMP_REVISION } } : {}),
    });
    const uid = o.metadata.uid!;
    const m = o.spec.machine;
    // Look up by tag right before creating: never a second droplet for the same machine.
    const { droplet, created } = await createMachineOnce(clouds, uid, {
      name,
      region: m.region,
      size: m.size,
      image: m.image,
      sshKeys: m.sshKeys,
      vpcUUID: m.vpcUUID,
      tags: [FLEET_TAG, ownerTag(uid), machineTag(name), versionTag(o.spec.version), ...(m.tags ?? [])],
      userData: node.userData,
    });
    if (!created) return droplet;
    log.info({ machine: name, dropletId: droplet.id }, 'droplet created');
    await d.events.record(o, 'Normal', 'MachineCreated', `droplet ${name} (${m.size} in ${m.region})`);
    return droplet;
  }

  /**
   * Whether a member's droplet that the machines do not show is really gone. ownedMachines has asked
   * DigitalOcean by id for every droplet status knew; a member whose droplet status never showed must
   * stay missing for graceMs, since lists are eventually consistent and a removal is not undone.
   */
  function dropletGone(o: Obj, machine: string): boolean {
    if (o.status?.members?.some((x) => x.name === machine && x.dropletID !== undefined)) return true;
    const missing = (mem(o.metadata.uid!).missingSince ??= new Map());
    const nowMs = d.now().getTime();
    if (!missing.has(machine)) missing.set(machine, nowMs);
    return nowMs - missing.get(machine)! >= t.graceMs;
  }

  async function execute(o: Obj, action: Action, ctx: { clouds: Clouds; cas: EtcdCAs; client: EtcdApi; members: EtcdMemberInfo[]; listed: Set<string>; healthyEp?: { ip: string; dnsName: string }; endpointOf: (machine: string) => { ip: string; dnsName: string } | undefined; log: Logger; restore?: RestoreSource }): Promise<string | undefined> {
    const { clouds, client, log } = ctx;
    const zone = o.spec.dns.zone;
    const peer = (name: string) => `https://${name}.${zone}:2380`;
    switch (action.kind) {
      case 'create-seed': {
        const name = dropletName(o.metadata.name, 'EtcdCluster', d.randomBytes(5));
        await createMachine(o, clouds, ctx.cas, name, [name], 'new', log, ctx.restore);
        if (ctx.restore) {
          const r = ctx.restore.record;
          await d.events.record(o, 'Normal', 'RestoreStarted', `${name} starts from s3://${r.bucket}/${r.key} (revision ${r.revision}, taken ${r.time}, SHA-256 checked)`);
          return `creating the first member ${name} from snapshot ${r.key}`;
        }
        return `creating the first member ${name}`;
      }
      case 'create-machine': {
        const cluster = ctx.members.map((m) => machineOf(m.peerURLs[0]!));
        await createMachine(o, clouds, ctx.cas, action.machine, cluster, 'existing', log);
        return `creating member ${action.machine}`;
      }
      case 'add-member': {
        const name = dropletName(o.metadata.name, 'EtcdCluster', d.randomBytes(5));
        const added = await client.memberAdd(ctx.healthyEp!, peer(name), true);
        await d.events.record(o, 'Normal', 'MemberAdded', `${name} added as a learner (member ${added.id})`);
        return `adding member ${name}`;
      }
      case 'promote':
        await client.memberPromote(ctx.healthyEp!, action.memberId);
        await d.events.record(o, 'Normal', 'MemberPromoted', `${action.machine} is a voting member`);
        return `promoted ${action.machine}`;
      case 'remove-member':
        if (!ctx.listed.has(action.machine) && !dropletGone(o, action.machine)) {
          return `waiting to confirm that the droplet of member ${action.machine} is gone (a listing did not show it)`;
        }
        await client.memberRemove(ctx.healthyEp!, action.memberId);
        await d.events.record(o, 'Normal', 'MemberRemoved', `${action.machine}: ${action.why}`);
        return `removed member ${action.machine}`;
      case 'move-leader': {
        const from = ctx.endpointOf(action.from);
        if (!from) return undefined;
        await client.moveLeader(from, action.toId);
        await d.events.record(o, 'Normal', 'LeaderMoved', `${action.from} → ${action.to}: ${action.from} is to be removed`);
        return `moved leadership from ${action.from} to ${action.to}`;
      }
      case 'delete-machine': {
        await deleteMachine(clouds, o.metadata.uid!, action.dropletId);
        mem(o.metadata.uid!).servesCluster.delete(action.machine);
        await d.kube.delete(Secrets, { namespace: o.metadata.namespace, name: action.machine });
        await d.events.record(o, 'Normal', 'MachineDeleted', `droplet ${action.machine}: ${action.why}`);
        return `deleted droplet ${action.machine}`;
      }
      default:
        return undefined;
    }
  }

  async function reconcileDelete(o: Obj, log: Logger): Promise<ReconcileResult | void> {
    if (!o.metadata.finalizers?.includes(FINALIZER)) return;
    const deleting = (reason: string, message: string): ConditionInput => ({ type: T.Deleting, status: 'True', reason, message });
    const users = d.dependents(o.metadata.namespace!, o.metadata.name);
    if (users.length) {
      await status(o, [deleting(Reason.WaitingForDependents, `ControlPlane ${users.join(', ')} still uses this etcd cluster; delete it first`)]);
      return { requeueAfterMs: t.waitMs };
    }
    const clouds = await d.clouds.forSecret(o.metadata.namespace!, o.spec.credentialsRef.name, { forCleanup: true });
    if ('reason' in clouds) {
      await status(o, [deleting(clouds.reason, `${clouds.message}: cannot clean up DigitalOcean and Cloudflare; restore it, or remove the finalizer ${FINALIZER} and clean up by hand`)]);
      return { requeueAfterMs: t.steadyMs };
    }
    const uid = o.metadata.uid!;
    const left = await cleanupOwner(clouds, uid, { zone: o.spec.dns.zone });
    if (left) {
      await status(o, [deleting(Reason.Deleting, `${left} droplets still being deleted`)]);
      return { requeueAfterMs: t.waitMs };
    }
    const secrets = await d.kube.list(Secrets, { namespace: o.metadata.namespace, labelSelector: `hardway.dev/etcdcluster=${o.metadata.name}` });
    for (const s of secrets.items) await d.kube.delete(Secrets, s.metadata, { uid: s.metadata.uid });
    await d.kube.removeFinalizer(EtcdClusters, o, FINALIZER);
    log.info('cleaned up: DNS records, firewall, droplets and Secrets are gone');
    await d.events.record(o, 'Normal', 'Deleted', 'DNS records, firewall, droplets and Secrets removed');
  }

  const reconcile: Reconcile = async (key, { log }) => {
    const cached = d.get(key);
    if (!cached) return;
    // Work on the defaulted object: servers that predate a default (or objects written before it) lack it.
    const o = { ...cached, spec: validateEtcdCluster(cached).object.spec } as Obj;
    if (o.metadata.deletionTimestamp) return reconcileDelete(o, log);
    const report = (inputs: ConditionInput[]) => status(o, inputs);
    const credentials = o.spec.credentialsRef.name;
    const ready = await prepare(d, o, { resource: EtcdClusters, finalizer: FINALIZER, problems: validateEtcdCluster(cached).problems, credentials, report, retryMs: t.steadyMs });
    if ('done' in ready) return ready.done;
    return withCloudErrors(d, o, { credentials, report, log, retryMs: t.steadyMs }, async () => {
      try {
        return await converge(o, ready.clouds, log, [NOT_PAUSED, NOT_DELETING]);
      } catch (e) {
        if (e instanceof EtcdError && /unhealthy cluster|not in sync|too many learner|can only promote/i.test(e.message)) {
          log.info({ err: e.message }, 'etcd is not ready for a membership change yet; requeueing');
          return { requeueAfterMs: t.waitMs };
        }
        throw e;
      }
    });
  };

  async function converge(o: Obj, clouds: Clouds, log: Logger, base: ConditionInput[]): Promise<ReconcileResult> {
    const uid = o.metadata.uid!;
    const m = mem(uid);
    const nowMs = d.now().getTime();
    const certs = await certificates(o);
    const certCondition: ConditionInput = { type: T.CertificatesAvailable, status: 'True', reason: Reason.CertificatesAvailable, message: `CA in Secret ${o.metadata.name}-etcd-ca` };
    const zone = (await clouds.dns.findZone(o.spec.dns.zone)).data;
    if (!zone) {
      const message = `the Cloudflare token cannot see zone ${o.spec.dns.zone}`;
      await status(o, [...base, certCondition, { type: T.DNSReady, status: 'False', reason: Reason.DNSRecordsNotReady, message }, { type: T.Ready, status: 'False', reason: Reason.DNSRecordsNotReady, message }]);
      return { requeueAfterMs: t.steadyMs };
    }

    const droplets = (await ownedMachinesReported(d.events, o, clouds, o.status?.members)).map((x) => ({ ...x, machine: tagValue(x.tags, 'hardway:machine:') ?? x.name }));
    // A version change the gates refuse is held at the newest version running and reported.
    const runningVersions = droplets.map((x) => tagValue(x.tags, 'hardway:version:')).filter((v): v is string => !!v);
    const gate = etcdVersionGate(runningVersions, o.spec.version);
    const held = gate.ok ? undefined : heldVersion(runningVersions);
    if (held) o = { ...o, spec: { ...o.spec, version: held } };

    const client = (d.etcdClient ?? ((tls, o) => new EtcdClient(tls, o)))({ ca: certs.ca.cert, cert: certs.operator.cert, key: certs.operator.key }, { timeoutMs: t.probeTimeoutMs });
    const reachable = droplets.filter((x) => x.status === 'active' && x.privateIPv4);
    const probes = new Map(await Promise.all(reachable.map(async (x) => [x.machine, await probe(client, o, x)] as const)));
    const authority = [...probes.entries()].find(([, p]) => p.members);
    const etcdMembers = authority?.[1].members;
    for (const x of droplets) {
      const healthy = probes.get(x.machine)?.healthy === true;
      if (healthy) m.unhealthySince.delete(x.machine);
      else if (!m.unhealthySince.has(x.machine)) m.unhealthySince.set(x.machine, nowMs);
    }
    if ([...probes.values()].some((p) => p.healthy)) m.lastHealthyAt = nowMs;
    const leaderId = [...probes.values()].find((p) => p.leaderId)?.leaderId;
    const members: MemberView[] | undefined = etcdMembers?.map((e) => {
      const machine = machineOf(e.peerURLs[0]!);
      return {
        id: e.id,
        name: e.name,
        machine,
        isLearner: e.isLearner,
        healthy: probes.get(machine)?.healthy === true,
        unhealthySince: m.unhealthySince.get(machine) ?? (probes.get(machine)?.healthy ? undefined : nowMs),
        leader: e.id === leaderId,
      };
    });
    const machines: MachineView[] = droplets.map((x) => ({ name: x.machine, dropletId: x.id, active: x.status === 'active', privateIP: x.privateIPv4, version: tagValue(x.tags, 'hardway:version:') }));
    // Failed joins count for the spec they happened under: any spec change (a fix) starts afresh.
    const failed = countingFailures(o.status, o.metadata.generation);
    const joins = failed ? { failures: failed.count, lastAt: Date.parse(failed.lastTime) } : undefined;
    // The cluster this object founded: recorded once a voter answers; losing every member then stops here.
    const accepted = o.metadata.annotations?.[ACCEPT_DATA_LOSS_ANNOTATION];
    const answering = authority?.[1].clusterId;
    const founded = answering ?? (o.status?.clusterID && o.status.clusterID !== accepted ? o.status.clusterID : undefined);
    const planned = plan({ founded, replicas: o.spec.replicas, version: o.spec.version, machines, members, now: nowMs, unhealthyAfterMs: t.unhealthyAfterMs, joinTimeoutMs: t.joinTimeoutMs, joins, maxJoinFailures: MAX_JOIN_FAILURES, joinBackoffMs: t.joinBackoffMs });

    // The cluster endpoint: the member leaving by choice is taken out of it first, and removed only once
    // resolvers have had the record's TTL to forget it, and once every ControlPlane reaches etcd through
    // the endpoint (nodes given members' names could be cut off).
    const leaving = planned.kind === 'remove-member' && planned.planned ? planned.machine : undefined;
    if (m.leaving?.machine !== leaving) m.leaving = leaving ? { machine: leaving, since: nowMs } : undefined;
    const serving = new Set<string>();
    for (const x of members ?? []) if (!x.isLearner && (await servesCluster(o, x.machine))) serving.add(x.machine);
    const cloud = await syncCloud(o, clouds, zone.id, droplets, endpointAddresses({ members, machines, servesCluster: (x) => serving.has(x), leaving }));
    const dnsComplete = cloud.complete;
    const clientEndpoint = cloud.endpoint.length ? clusterEndpointURL(etcdClusterHost(o.metadata.name, o.spec.dns.zone)) : undefined;
    let action: Action = planned;
    // Seeding from a snapshot (spec.restore): for a new cluster, or one lost that the restore did not make.
    let restore: RestoreSource | undefined;
    if ((planned.kind === 'create-seed' || planned.kind === 'lost') && restoreApplies(o, planned.kind)) {
      const r = await resolveRestore(backupDeps, o, (m.verifiedSnapshots ??= new Map()));
      if ('error' in r) {
        log.warn({ why: r.error }, 'cannot restore from the snapshot');
        await warnOncePerGeneration(d.events, m, o, Reason.RestoreFailed, r.error);
        await status(o, [...base, certCondition, { type: T.Ready, status: 'False', reason: Reason.RestoreFailed, message: `${r.error}. Nothing is created; fix spec.restore (or the storage) to try again` }]);
        return { requeueAfterMs: t.steadyMs };
      }
      restore = r;
      action = { kind: 'create-seed' };
    }
    if (leaving) {
      const users = usersNotReady(d.endpointUsers?.(o.metadata.namespace!, o.metadata.name) ?? [], clientEndpoint);
      if (users) action = { kind: 'wait', why: users };
      else if (nowMs - m.leaving!.since < t.endpointDrainMs) action = { kind: 'wait', why: `${leaving} is out of the cluster endpoint; removing it once resolvers have forgotten it (${Math.ceil(t.endpointDrainMs / 1000)} s, the record's TTL)` };
      else {
        // A leader removed leaves the cluster without one until an election (writes stall): hand it on first.
        const victim = members?.find((x) => x.machine === leaving);
        const heir = victim?.leader ? successor(members!, machines, o.spec.version, leaving) : undefined;
        if (heir) action = { kind: 'move-leader', from: leaving, to: heir.machine, toId: heir.id };
      }
    }
    log.debug(
      { probes: Object.fromEntries([...probes].map(([k, v]) => [k, { healthy: v.healthy, ...(v.message ? { message: v.message } : {}) }])), members: members?.map((x) => `${x.machine}${x.isLearner ? ' (learner)' : ''}${x.name ? '' : ' (not started)'}`), action: action.kind, ...(action.kind === 'wait' ? { why: action.why } : {}) },
      'observed',
    );
    const healthyEp = authority ? { ip: probeAddress(droplets.find((x) => x.machine === authority[0])!)!, dnsName: `${authority[0]}.${o.spec.dns.zone}` } : undefined;
    const missing = mem(uid).missingSince;
    if (missing) for (const k of missing.keys()) if (droplets.some((x) => x.machine === k)) missing.delete(k); // listed again
    const endpointOf = (machine: string) => {
      const x = droplets.find((y) => y.machine === machine);
      return x && probeAddress(x) ? { ip: probeAddress(x)!, dnsName: `${machine}.${o.spec.dns.zone}` } : undefined;
    };
    const did = await execute(o, action, { clouds, cas: { etcd: certs.ca, peer: certs.peerCA }, client, members: etcdMembers ?? [], listed: new Set(droplets.map((x) => x.machine)), healthyEp, endpointOf, log, restore });
    if (did) log.info({ action: action.kind }, did);
    let joinFailures: JoinFailures | undefined = failed;
    if (did && action.kind === 'remove-member' && action.failedJoin) {
      const why = probes.get(action.machine)?.message ?? (droplets.some((x) => x.machine === action.machine && x.status === 'active') ? 'its droplet runs but etcd never answered' : 'its droplet never became active');
      joinFailures = recordFailure(failed, o.metadata.generation!, action.machine, why, nowMs);
      log.warn({ machine: action.machine, failures: joinFailures.count, why }, 'a new member did not join');
      await d.events.record(o, 'Warning', 'MemberJoinFailed', `${action.machine} did not join within ${Math.round(t.joinTimeoutMs / 1000)} s (${joinFailures.count} of ${MAX_JOIN_FAILURES} tries): ${joinFailures.lastMessage}`);
    }
    if (did && action.kind === 'promote') joinFailures = undefined;
    if (action.kind === 'lost') await warnOncePerGeneration(d.events, m, o, Reason.ClusterLost, lostMessage(action.why, o.metadata.name));
    if (action.kind === 'gave-up' && failed) {
      await warnOncePerGeneration(d.events, m, o, Reason.RetriesExhausted, gaveUpMessage(failed, 'member'));
    }

    // Backups: from a healthy voter, a follower if there is one (the leader has the cluster's work to do).
    const voters = (members ?? []).filter((x) => !x.isLearner && x.healthy);
    const source = voters.find((x) => !x.leader) ?? voters[0];
    const backup = answering
      ? await reconcileBackup(backupDeps, o, {
          source: source && client.snapshot ? { status: (ep) => client.status(ep), snapshot: (ep) => client.snapshot!(ep) } : undefined,
          ep: source ? endpointOf(source.machine) : undefined,
          member: source?.machine,
          clusterID: answering,
          retryMs: t.backupRetryMs,
          log,
          written: mem(o.metadata.uid!).backupWritten,
        })
      : undefined;
    if (backup) mem(o.metadata.uid!).backupWritten = backup.status;
    // The cluster a restore made, once it answers: losing it later needs the accept-data-loss annotation.
    const restored = o.status?.restore && !o.status.restore.clusterID && answering ? { ...o.status.restore, clusterID: answering } : undefined;

    // Status: machines as the tags say, members as etcd says, conditions from both.
    const after = action.kind === 'create-seed' || action.kind === 'create-machine' || action.kind === 'delete-machine' ? await clouds.droplets.withTags(ownerTag(uid)) : droplets;
    const statusMembers: EtcdMember[] = after.map((x) => {
      const machine = tagValue(x.tags, 'hardway:machine:') ?? x.name;
      const p = probes.get(machine);
      const e = etcdMembers?.find((y) => machineOf(y.peerURLs[0]!) === machine);
      return {
        name: machine,
        dropletID: x.id,
        ...(x.privateIPv4 ? { privateIP: x.privateIPv4 } : {}),
        ...(x.publicIPv4 ? { publicIP: x.publicIPv4 } : {}),
        dnsName: `${machine}.${o.spec.dns.zone}`,
        ...(e ? { memberID: e.id } : {}),
        healthy: p?.healthy === true,
        leader: !!e && e.id === leaderId,
        ...(p?.version ? { version: p.version } : {}),
        ...(p?.healthy ? { lastProbeTime: d.now().toISOString().replace(/\.\d{3}Z$/, 'Z') } : {}),
        ...(p && !p.healthy && p.message ? { message: p.message.slice(0, 300) } : {}),
      };
    });
    const conditions = etcdConditions({
      replicas: o.spec.replicas,
      version: o.spec.version,
      machines: after.length,
      activeMachines: after.filter((x) => x.status === 'active' && x.privateIPv4).length,
      members,
      dnsComplete,
      action: planned,
      outdatedMachines: after.filter((x) => tagValue(x.tags, 'hardway:version:') !== o.spec.version).length,
      held: action.kind === 'wait' && planned.kind !== 'wait' ? action.why : undefined,
      joinFailures: failed,
      name: o.metadata.name,
      previousHealthy: o.status?.conditions?.find((c) => c.type === T.EtcdClusterHealthy),
      withinGrace: m.lastHealthyAt !== undefined && nowMs - m.lastHealthyAt < t.graceMs,
      alarms: authority?.[1].alarms,
    });
    const voting = members?.filter((x) => !x.isLearner) ?? [];
    if (!gate.ok && held) await warnOncePerGeneration(d.events, m, o, Reason.VersionChangeRefused, gate.message);
    // Without spec.backup the condition says so (not "not yet observed", and not a stale value from before).
    const backupCondition: ConditionInput = backup?.condition ?? { type: T.BackupHealthy, status: 'Unknown', reason: Reason.BackupNotConfigured, message: 'spec.backup is not set: no snapshots are taken' };
    await status(o, [...base, certCondition, ...showRefusal(conditions, gate), backupCondition], {
      ...(backup ? { backup: backup.status } : {}),
      ...(restore ? { restore: { snapshot: restore.record } } : restored ? { restore: restored } : {}),
      members: statusMembers,
      // Written even when undefined: that removes a value written before.
      clientEndpoint,
      joinFailures,
      clusterID: founded,
      clientEndpoints: statusMembers.map((x) => `https://${x.dnsName}:2379`),
      caSecretRef: { name: `${o.metadata.name}-etcd-ca` },
      replicas: after.length,
      readyReplicas: voting.filter((x) => x.healthy).length,
      updatedReplicas: after.filter((x) => tagValue(x.tags, 'hardway:version:') === o.spec.version).length,
    });
    const ready = conditions.find((c) => c.type === T.Ready)?.status === 'True';
    const requeueAfterMs = (ready && action.kind === 'none') || action.kind === 'gave-up' || action.kind === 'lost' ? t.steadyMs : t.waitMs;
    // The next snapshot due sooner than the next visit: come back for it (not sooner than waitMs).
    return { requeueAfterMs: backup ? Math.max(t.waitMs, Math.min(requeueAfterMs, backup.nextAt - d.now().getTime())) : requeueAfterMs };
  }

  return { reconcile, onTerminalError: terminalReporter(d, EtcdClusters, order) };
}

export interface ConditionFacts {
  replicas: number;
  version: string;
  machines: number;
  activeMachines: number;
  members?: MemberView[];
  dnsComplete: boolean;
  /** What the planner chose. */
  action: Action;
  /** Machines built for another version than spec.version (a roll under way). */
  outdatedMachines?: number;
  /** Why that change waits (the cluster endpoint drains, a ControlPlane is not ready for it). */
  held?: string;
  /** Failed joins under the current spec (what gave-up reports). */
  joinFailures?: JoinFailures;
  /** The object's name (what a lost cluster's message tells to annotate). */
  name?: string;
  previousHealthy?: { status: 'True' | 'False' | 'Unknown'; reason: string; message?: string };
  /** A member answered within the grace period. */
  withinGrace: boolean;
  /** Cluster alarms (NOSPACE: the database is full and refuses writes). */
  alarms?: string[];
}

/** The conditions an EtcdCluster reports, from what was observed and decided. Pure. */
export function etcdConditions(f: ConditionFacts): ConditionInput[] {
  const c: ConditionInput[] = [];
  const voting = f.members?.filter((m) => !m.isLearner) ?? [];
  const healthy = voting.filter((m) => m.healthy).length;
  c.push(
    f.activeMachines === f.replicas && f.machines === f.replicas
      ? { type: T.MachinesProvisioned, status: 'True', reason: Reason.Provisioned, message: `${f.machines} droplets running` }
      : {
          type: T.MachinesProvisioned,
          status: 'False',
          reason: Reason.Provisioning,
          message: f.machines > f.replicas ? `${f.activeMachines} droplets running, ${f.machines - f.replicas} to remove` : `${f.activeMachines}/${f.replicas} droplets running`,
        },
  );
  c.push(f.dnsComplete ? { type: T.DNSReady, status: 'True', reason: Reason.DNSRecordsReady, message: 'one A record per member' } : { type: T.DNSReady, status: 'False', reason: Reason.DNSRecordsNotReady, message: 'waiting for droplet addresses' });
  let health: ConditionInput;
  if (!f.members) {
    health =
      f.withinGrace && f.previousHealthy
        ? { type: T.EtcdClusterHealthy, status: f.previousHealthy.status, reason: f.previousHealthy.reason, message: f.previousHealthy.message }
        : f.machines === 0
          ? { type: T.EtcdClusterHealthy, status: 'Unknown', reason: Reason.HealthUnknown, message: 'no members yet' }
          : { type: T.EtcdClusterHealthy, status: 'Unknown', reason: Reason.ConnectionDown, message: 'no member answers' };
  } else {
    const alarms = f.alarms?.length ? `; alarms: ${[...new Set(f.alarms)].join(', ')}` : '';
    const message = `${healthy}/${voting.length} members healthy, quorum needs ${quorum(voting.length)}${alarms}`;
    health = healthy === voting.length && voting.length > 0 && !alarms ? { type: T.EtcdClusterHealthy, status: 'True', reason: Reason.Healthy, message } : { type: T.EtcdClusterHealthy, status: 'False', reason: Reason.NotHealthy, message };
  }
  c.push(health);
  const n = voting.length;
  const outdated = f.action.kind === 'add-member' && n === f.replicas;
  c.push(n < f.replicas && f.members ? { type: T.ScalingUp, status: 'True', reason: Reason.ScalingUp, message: `${n} → ${f.replicas} members, one at a time` } : { type: T.ScalingUp, status: 'False', reason: Reason.NotScalingUp });
  c.push(n > f.replicas ? { type: T.ScalingDown, status: 'True', reason: Reason.ScalingDown, message: `${n} → ${f.replicas} members, one at a time` } : { type: T.ScalingDown, status: 'False', reason: Reason.NotScalingDown });
  c.push(outdated || (f.outdatedMachines ?? 0) > 0 || (f.action.kind === 'remove-member' && /version/.test(f.action.why)) ? { type: T.RollingOut, status: 'True', reason: Reason.RollingOut, message: `replacing members with etcd ${f.version}` } : { type: T.RollingOut, status: 'False', reason: Reason.NotRollingOut });
  const notTrue = c.find((x) => ['MachinesProvisioned', 'DNSReady', 'EtcdClusterHealthy'].includes(x.type) && x.status !== 'True');
  const busy = c.find((x) => ['ScalingUp', 'ScalingDown', 'RollingOut'].includes(x.type) && x.status === 'True');
  const waiting = f.action.kind === 'wait' ? f.action.why : undefined;
  if (f.action.kind === 'lost') {
    c.push({ type: T.Ready, status: 'False', reason: Reason.ClusterLost, message: lostMessage(f.action.why, f.name) });
    return c;
  }
  if (f.action.kind === 'gave-up') {
    c.push({ type: T.Ready, status: 'False', reason: Reason.RetriesExhausted, message: f.joinFailures ? gaveUpMessage(f.joinFailures, 'member') : f.action.why });
    return c;
  }
  c.push(
    !notTrue && !busy && f.action.kind === 'none'
      ? { type: T.Ready, status: 'True', reason: Reason.Ready, message: health.message }
      : { type: T.Ready, status: 'False', reason: notTrue?.reason ?? busy?.reason ?? Reason.NotReady, message: notTrue?.message ?? (busy?.message && f.held ? `${busy.message}; ${f.held}` : busy?.message) ?? waiting ?? 'converging' },
  );
  return c;
}

/** What a lost cluster says: what is gone, and the two ways on. */
export function lostMessage(why: string, name: string | undefined): string {
  const id = why.match(/cluster (\w+)/)?.[1] ?? '';
  return `${why}: its data is lost unless a snapshot of it exists (its CA Secrets survive). Nothing is created, so that an empty cluster does not silently take its place. To restore the newest snapshot: kubectl patch etcdcluster ${name ?? '<name>'} --type=merge -p '{"spec":{"restore":{}}}' (spec.restore.storage, or spec.backup's). To start an empty cluster instead: kubectl annotate etcdcluster ${name ?? '<name>'} ${ACCEPT_DATA_LOSS_ANNOTATION}=${id}`;
}
