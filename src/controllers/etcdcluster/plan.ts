// What to do next with an etcd cluster: at most one membership or machine change per reconcile, and only
// when it is safe (BRIEF section 8). Pure: everything observed comes in, one action comes out.

export interface MachineView {
  name: string;
  dropletId: number;
  /** Droplet status and address; a member can only run once it has a private IP. */
  active: boolean;
  privateIP?: string;
  version?: string;
}

export interface MemberView {
  id: string;
  /** Empty until the member has started. */
  name: string;
  /** The droplet name, from the peer URL https://<name>.<zone>:2380. */
  machine: string;
  isLearner: boolean;
  healthy: boolean;
  /** When the member was first seen unhealthy (epoch ms), if it is. */
  unhealthySince?: number;
  leader: boolean;
}

export interface PlanInput {
  replicas: number;
  version: string;
  machines: MachineView[];
  /** Members as etcd reports them; undefined when no member answered. */
  members?: MemberView[];
  now: number;
  /** A member unhealthy for this long is replaced (if quorum allows). */
  unhealthyAfterMs: number;
  /** A new member (a learner) that is not healthy this long after it was added is removed: a failed join. */
  joinTimeoutMs: number;
  /** Failed joins since the spec last changed, and when the last one was (epoch ms). */
  joins?: { failures: number; lastAt: number };
  /** Failed joins allowed before the operator stops adding members. */
  maxJoinFailures: number;
  /** Wait before the next add after a failed join: doubled per failure. */
  joinBackoffMs: number;
  /**
   * The ID of the cluster this object founded, once it did (status.clusterID). With it, no member left
   * means the data is gone: nothing is seeded (an empty cluster would silently replace it).
   */
  founded?: string;
}

export type Action =
  | { kind: 'create-seed' }
  | { kind: 'create-machine'; machine: string; memberId: string }
  | { kind: 'add-member' }
  | { kind: 'promote'; memberId: string; machine: string }
  /** planned: a healthy member removed by choice (scaling down, a version roll), not one lost or stuck. */
  | { kind: 'remove-member'; memberId: string; machine: string; why: string; planned?: boolean; failedJoin?: boolean }
  | { kind: 'delete-machine'; machine: string; dropletId: number; why: string }
  | { kind: 'wait'; why: string }
  /** Leadership handed to another member before the leader is removed by choice. */
  | { kind: 'move-leader'; from: string; to: string; toId: string }
  /** Every member of a founded cluster is gone: nothing is created until a person says so. */
  | { kind: 'lost'; why: string }
  /** Too many members failed to join: nothing more is added until the spec changes. */
  | { kind: 'gave-up'; why: string }
  | { kind: 'none' };

/** Voting members needed for a majority. */
export const quorum = (voting: number): number => Math.floor(voting / 2) + 1;

export function plan(p: PlanInput): Action {
  const machineByName = new Map(p.machines.map((m) => [m.name, m]));
  if (!p.members) {
    if (p.machines.length === 0) return p.founded ? { kind: 'lost', why: `every member of etcd cluster ${p.founded} is gone` } : { kind: 'create-seed' };
    // Machines but no member answers: booting, or the cluster is down. Nothing is safe to change.
    return { kind: 'wait', why: p.machines.some((m) => !m.active) ? 'machines are still booting' : 'no etcd member answers' };
  }
  const members = p.members;
  const memberMachines = new Set(members.map((m) => m.machine));

  // 1. A member added to etcd whose machine does not exist yet: create it (finishes an interrupted add).
  const pending = members.find((m) => !m.name && !machineByName.has(m.machine));
  if (pending) return { kind: 'create-machine', machine: pending.machine, memberId: pending.id };

  const voting = members.filter((m) => !m.isLearner);
  const healthyVoting = voting.filter((m) => m.healthy).length;

  // 2. A learner that runs and is healthy: promote it (etcd refuses until it has caught up).
  const learner = members.find((m) => m.isLearner && m.name && m.healthy);
  if (learner) return { kind: 'promote', memberId: learner.id, machine: learner.machine };
  // A learner that never becomes healthy is removed (always safe: learners do not vote): a failed join,
  // retried with backoff up to maxJoinFailures times.
  const stuck = members.find((m) => m.isLearner && m.unhealthySince !== undefined && p.now - m.unhealthySince >= p.joinTimeoutMs);
  if (stuck) return { kind: 'remove-member', memberId: stuck.id, machine: stuck.machine, why: `the new member did not join within ${Math.round(p.joinTimeoutMs / 1000)} s`, failedJoin: true };
  if (members.some((m) => m.isLearner)) return { kind: 'wait', why: 'a new member is joining' };

  // 3. Heal: a started member whose machine is gone, or one unhealthy for too long, is removed first
  //    (its replacement comes later, through add-member), only if the rest keeps quorum.
  const lost = voting.find((m) => m.name && !machineByName.has(m.machine)) ?? voting.find((m) => !m.healthy && m.unhealthySince !== undefined && p.now - m.unhealthySince >= p.unhealthyAfterMs);
  if (lost && voting.length > 1) {
    const healthyAfter = healthyVoting - (lost.healthy ? 1 : 0);
    if (healthyAfter >= quorum(voting.length - 1)) {
      return { kind: 'remove-member', memberId: lost.id, machine: lost.machine, why: machineByName.has(lost.machine) ? 'unhealthy for too long' : 'its droplet is gone' };
    }
    return { kind: 'wait', why: `member ${lost.machine} is lost but removing it would break quorum` };
  }

  // 4. Machines that are no member (removed members, or a seed that never formed while others exist).
  const orphan = p.machines.find((m) => !memberMachines.has(m.name));
  if (orphan) return { kind: 'delete-machine', machine: orphan.name, dropletId: orphan.dropletId, why: 'not a member of the cluster' };

  // Every change below needs every member healthy (and so a cluster that keeps quorum if a new member
  // never becomes healthy: it joins as a learner, which does not vote).
  if (healthyVoting < voting.length) return { kind: 'wait', why: `${healthyVoting}/${voting.length} members healthy` };

  const outdated = voting.filter((m) => machineByName.get(m.machine)?.version !== p.version);
  // 5. Grow to the wanted size; during a version roll, surge one new member first. After failed joins,
  //    wait (doubling) before the next try; after too many, stop and say so.
  if (voting.length < p.replicas || (outdated.length > 0 && voting.length === p.replicas)) {
    const failures = p.joins?.failures ?? 0;
    if (failures >= p.maxJoinFailures) return { kind: 'gave-up', why: `${failures} new members in a row did not join` };
    const retryAt = failures ? p.joins!.lastAt + p.joinBackoffMs * 2 ** (failures - 1) : 0;
    if (p.now < retryAt) return { kind: 'wait', why: `a new member did not join (${failures} of ${p.maxJoinFailures} tries); the next try in ${Math.ceil((retryAt - p.now) / 1000)} s` };
    return { kind: 'add-member' };
  }
  // 6. Shrink (or finish a roll step): remove one member, an outdated one first, the leader last. Never the last.
  if (voting.length > p.replicas && voting.length > 1) {
    const byPreference = [...voting].sort((a, b) => Number(outdated.includes(b)) - Number(outdated.includes(a)) || Number(a.leader) - Number(b.leader));
    const victim = byPreference[0]!;
    return { kind: 'remove-member', memberId: victim.id, machine: victim.machine, why: outdated.includes(victim) ? 'rolling to a new version' : 'scaling down', planned: true };
  }
  return { kind: 'none' };
}

/**
 * Who should lead once `leaving` is gone: a healthy voting member other than it, one already on the wanted
 * version first (it stays longest in a roll). Undefined when there is none.
 */
export function successor(members: MemberView[], machines: MachineView[], version: string, leaving: string): MemberView | undefined {
  const version_ = (m: MemberView) => machines.find((x) => x.name === m.machine)?.version;
  const candidates = members.filter((m) => !m.isLearner && m.healthy && m.name && m.machine !== leaving);
  return candidates.find((m) => version_(m) === version) ?? candidates[0];
}
