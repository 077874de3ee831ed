// etcd in memory, for controller tests and benches that must not start real etcd: it answers what the
// EtcdCluster controller asks of EtcdClient (health, status, alarms, member list/add/promote/remove) with the
// same shapes and the same refusals, for members "running" on the fake DigitalOcean's droplets.
//
// A member process "starts" when its droplet is active, from the flags in the droplet's user-data, as the
// rendered etcd.service would: --initial-cluster-state=new founds a cluster (keyed by
// --initial-cluster-token) from --initial-cluster; =existing joins only if `member add` put its peer URL in
// that cluster first (otherwise etcd exits and systemd retries, so it is retried on every call). With a
// FakeCloudflare, a member also needs its own A record (etcd resolves its advertised URLs when it starts).
// A removed member's process exits for good; a deleted droplet's member stops answering.
//
// Like etcd: member IDs are random uint64 in hex; a started member has a name and client URL, a member added
// but not started has neither; /health is true when the cluster has a leader (running voters reach quorum);
// the leader is the first running voter; learners refuse the member list; at most one learner; promote
// refuses a learner that has not started (or caught up, catchUpMs); strict reconfiguration checks refuse a
// change that would leave fewer started voters than quorum. Errors are EtcdError with etcd's messages.
import { randomBytes } from 'node:crypto';
import { EtcdError, type EtcdEndpoint, type EtcdMemberInfo, type EtcdStatus, type EtcdTls } from '../../src/health/etcd.ts';
import type { EtcdApi } from '../../src/controllers/etcdcluster/reconciler.ts';

/** What the fake needs of the cloud: FakeDigitalOcean fits. */
export interface EtcdMachines {
  activeDroplets(): { id: number; name: string; privateIp: string; publicIp?: string; userData?: string }[];
}

/** What the fake needs of DNS: FakeCloudflare fits. */
export interface EtcdDnsRecords {
  records: Map<string, { name?: unknown; type?: unknown; content?: unknown }>;
}

export interface FakeEtcdOptions {
  machines: EtcdMachines;
  /** When given, a member starts only once its own A record points at its private address. */
  dns?: EtcdDnsRecords;
  /** A started learner needs this long before it is in sync with the leader (promote refuses until then). */
  catchUpMs?: number;
  now?: () => number;
}

interface Member {
  id: string;
  /** Empty until the member's process has started. */
  name: string;
  peerURL: string;
  clientURL?: string;
  isLearner: boolean;
  startedAt?: number;
}

interface Cluster {
  /** Fixed at founding, as etcd's cluster ID. */
  id: string;
  token: string;
  members: Member[];
  raftIndex: number;
  alarms: { memberId: string; alarm: string }[];
  /** The member leadership was moved to (it leads while it runs). */
  leaderId?: string;
}

/** One droplet's etcd process. */
interface Process {
  token: string;
  memberId?: string;
  /** Removed from the cluster: etcd refuses to start again with this data dir. */
  removed?: boolean;
}

interface Flags {
  name: string;
  token: string;
  state: string;
  peerURL: string;
  clientURL: string;
  initialCluster: { name: string; peerURL: string }[];
  version?: string;
}

const quorum = (voting: number) => Math.floor(voting / 2) + 1;
const flag = (userData: string, name: string) => userData.match(new RegExp(`--${name}=(\\S+)`))?.[1];

function parseFlags(userData: string | undefined): Flags | undefined {
  if (!userData) return undefined;
  const [name, token, state, peerURL, clientURL, cluster] = ['name', 'initial-cluster-token', 'initial-cluster-state', 'initial-advertise-peer-urls', 'advertise-client-urls', 'initial-cluster'].map((f) => flag(userData, f));
  if (!name || !token || !state || !peerURL || !cluster) return undefined;
  return {
    name,
    token,
    state,
    peerURL,
    clientURL: clientURL ?? peerURL.replace(/:2380$/, ':2379'),
    initialCluster: cluster.split(',').map((x) => {
      const i = x.indexOf('=');
      return { name: x.slice(0, i), peerURL: x.slice(i + 1) };
    }),
    version: userData.match(/etcd-v(\d+\.\d+\.\d+)-linux/)?.[1],
  };
}

/** A random non-zero uint64 in hex without leading zeros, as toHexId prints member IDs. */
const newId = () => {
  let id = 0n;
  while (id === 0n) id = randomBytes(8).readBigUInt64BE();
  return id.toString(16);
};

export class FakeEtcd {
  readonly clusters = new Map<string, Cluster>();
  /** Every call, in order: operation, the member asked (droplet name) and when. */
  readonly calls: { op: string; member: string; at: number }[] = [];
  private readonly processes = new Map<number, Process>();
  private readonly now: () => number;

  constructor(private readonly o: FakeEtcdOptions) {
    this.now = o.now ?? Date.now;
  }

  /** A client as the controller's `etcdClient` dependency builds it. */
  client = (_tls: EtcdTls, _o?: { timeoutMs?: number }): EtcdApi => ({
    health: async (ep) => this.health(ep),
    status: async (ep) => this.status(ep),
    memberList: async (ep) => this.memberList(ep),
    alarms: async (ep) => this.alarms(ep),
    memberAdd: async (ep, peerURL, learner = true) => this.memberAdd(ep, peerURL, learner),
    memberPromote: async (ep, id) => this.memberPromote(ep, id),
    memberRemove: async (ep, id) => this.memberRemove(ep, id),
    moveLeader: async (ep, id) => this.moveLeader(ep, id),
  });

  /** Members of the cluster founded with this token (the EtcdCluster's UID), as member list reports them. */
  members(token: string): EtcdMemberInfo[] {
    return (this.clusters.get(token)?.members ?? []).map((m) => this.info(m));
  }

  /** An alarm the cluster reports from now on (NOSPACE, CORRUPT). */
  raiseAlarm(token: string, alarm: string): void {
    const c = this.clusters.get(token);
    if (c?.members[0]) c.alarms.push({ memberId: c.members[0].id, alarm });
  }

  // ------------------------------------------------------------------------------------ processes

  /** Starts the processes of droplets that became active (and retries those etcd refused to start). */
  private sync(): { id: number; name: string; privateIp: string; publicIp?: string; flags: Flags }[] {
    const active = this.o.machines
      .activeDroplets()
      .map((d) => ({ ...d, flags: parseFlags(d.userData) }))
      .filter((d): d is typeof d & { flags: Flags } => !!d.flags);
    for (const d of active) {
      const p = this.processes.get(d.id);
      if (p?.memberId || p?.removed) continue;
      this.processes.set(d.id, { token: d.flags.token, memberId: this.start(d.flags, d.privateIp) });
    }
    return active;
  }

  /** etcd starting from its flags: the member it runs as, or undefined when it exits. */
  private start(f: Flags, privateIp: string): string | undefined {
    const host = new URL(f.peerURL).hostname;
    if (this.o.dns && ![...this.o.dns.records.values()].some((r) => r.type === 'A' && r.name === host && r.content === privateIp)) return undefined;
    let c = this.clusters.get(f.token);
    if (f.state === 'new' && !c) {
      c = { id: newId(), token: f.token, members: f.initialCluster.map((m) => ({ id: newId(), name: '', peerURL: m.peerURL, isLearner: false })), raftIndex: 1, alarms: [] };
      this.clusters.set(f.token, c);
    }
    // state=existing: the member must have been added first ("member not found in cluster" otherwise).
    const m = c?.members.find((x) => x.peerURL === f.peerURL);
    if (!c || !m) return undefined;
    m.name = f.name;
    m.clientURL = f.clientURL;
    m.startedAt = this.now();
    c.raftIndex++;
    return m.id;
  }

  private runningIds(token: string, active: { id: number }[]): Set<string> {
    const ids = new Set<string>();
    for (const d of active) {
      const p = this.processes.get(d.id);
      if (p?.token === token && p.memberId && !p.removed) ids.add(p.memberId);
    }
    return ids;
  }

  /** The member behind an endpoint, or the connection error a client would see. */
  private connect(ep: EtcdEndpoint, op: string) {
    const machine = ep.dnsName.split('.')[0]!;
    this.calls.push({ op, member: machine, at: this.now() });
    const where = `${ep.dnsName} (${ep.ip})`;
    const active = this.sync();
    const d = active.find((x) => x.name === machine && (x.privateIp === ep.ip || x.publicIp === ep.ip));
    const p = d && this.processes.get(d.id);
    const c = p && this.clusters.get(p.token);
    const self = c?.members.find((m) => m.id === p?.memberId);
    if (!d || !c || !self || p?.removed) throw new EtcdError(where, `connect ECONNREFUSED ${ep.ip}:${ep.port ?? 2379}`);
    const running = this.runningIds(c.token, active);
    const voters = c.members.filter((m) => !m.isLearner);
    const started = voters.filter((m) => running.has(m.id));
    const leader = started.length >= quorum(voters.length) ? (started.find((m) => m.id === c.leaderId) ?? started[0]) : undefined;
    return { where, c, self, running, voters, leader, version: d.flags.version ?? '3.5.0' };
  }

  private info(m: Member): EtcdMemberInfo {
    return { id: m.id, name: m.name, peerURLs: [m.peerURL], clientURLs: m.clientURL && m.name ? [m.clientURL] : [], isLearner: m.isLearner };
  }

  // ------------------------------------------------------------------------------------ the API

  health(ep: EtcdEndpoint): { healthy: boolean; reason?: string } {
    const { leader } = this.connect(ep, 'health');
    return leader ? { healthy: true } : { healthy: false, reason: 'RAFT NO LEADER' };
  }

  status(ep: EtcdEndpoint): EtcdStatus {
    const { c, self, leader, version } = this.connect(ep, 'status');
    return { clusterId: c.id, memberId: self.id, leaderId: leader?.id ?? '', version, raftIndex: String(c.raftIndex), revision: String(c.raftIndex), isLearner: self.isLearner, errors: [] };
  }

  alarms(ep: EtcdEndpoint): { memberId: string; alarm: string }[] {
    const { c } = this.connect(ep, 'alarms');
    return c.alarms.map((a) => ({ ...a }));
  }

  memberList(ep: EtcdEndpoint): EtcdMemberInfo[] {
    const { where, c, self, leader } = this.connect(ep, 'memberList');
    if (self.isLearner) throw new EtcdError(where, 'etcdserver: rpc not supported for learner', 14);
    // Linearizable: without a leader the request does not complete.
    if (!leader) throw new EtcdError(where, 'etcdserver: request timed out', 14);
    return c.members.map((m) => this.info(m));
  }

  memberAdd(ep: EtcdEndpoint, peerURL: string, learner: boolean): EtcdMemberInfo {
    const { where, c, running, voters, leader } = this.connect(ep, 'memberAdd');
    if (!leader) throw new EtcdError(where, 'etcdserver: request timed out', 14);
    if (c.members.some((m) => m.peerURL === peerURL)) throw new EtcdError(where, 'etcdserver: Peer URLs already exists', 9);
    if (learner && c.members.some((m) => m.isLearner)) throw new EtcdError(where, 'etcdserver: too many learner members in cluster', 9);
    // Strict reconfiguration check: a new voter must not take the cluster below quorum of started voters.
    if (!learner && voters.filter((m) => running.has(m.id)).length < quorum(voters.length + 1)) throw new EtcdError(where, 'etcdserver: unhealthy cluster', 14);
    const m: Member = { id: newId(), name: '', peerURL, isLearner: learner };
    c.members.push(m);
    c.raftIndex++;
    return this.info(m);
  }

  memberPromote(ep: EtcdEndpoint, idHex: string): void {
    const { where, c, running, leader } = this.connect(ep, 'memberPromote');
    if (!leader) throw new EtcdError(where, 'etcdserver: request timed out', 14);
    const m = c.members.find((x) => x.id === idHex);
    if (!m) throw new EtcdError(where, 'etcdserver: member not found', 5);
    if (!m.isLearner) throw new EtcdError(where, 'etcdserver: can only promote a learner member', 9);
    if (!running.has(m.id) || m.startedAt === undefined || this.now() - m.startedAt < (this.o.catchUpMs ?? 0)) {
      throw new EtcdError(where, 'etcdserver: can only promote a learner member which is in sync with leader', 9);
    }
    m.isLearner = false;
    c.raftIndex++;
  }

  moveLeader(ep: EtcdEndpoint, targetHex: string): void {
    const { where, c, self, leader, running } = this.connect(ep, 'moveLeader');
    if (self !== leader) throw new EtcdError(where, 'etcdserver: not leader', 9);
    const m = c.members.find((x) => x.id === targetHex);
    // Unknown member or learner: ErrBadLeaderTransferee (MoveLeader in server/etcdserver/server.go, v3.5.21).
    // Stricter than etcd for a transferee that is down: etcd waits and fails with a leader-transfer timeout.
    if (!m || m.isLearner || !running.has(m.id)) throw new EtcdError(where, 'etcdserver: bad leader transferee', 9);
    c.leaderId = m.id;
  }

  memberRemove(ep: EtcdEndpoint, idHex: string): void {
    const { where, c, running, voters, leader } = this.connect(ep, 'memberRemove');
    if (!leader) throw new EtcdError(where, 'etcdserver: request timed out', 14);
    const m = c.members.find((x) => x.id === idHex);
    if (!m) throw new EtcdError(where, 'etcdserver: member not found', 5);
    if (!m.isLearner) {
      const startedAfter = voters.filter((x) => x !== m && running.has(x.id)).length;
      if (startedAfter < quorum(voters.length - 1)) throw new EtcdError(where, 'etcdserver: re-configuration failed due to not enough started members', 9);
    }
    c.members.splice(c.members.indexOf(m), 1);
    c.raftIndex++;
    for (const p of this.processes.values()) if (p.memberId === m.id) p.removed = true;
  }
}
