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
}

export type Action =
  | { kind: 'create-seed' }
  | { kind: 'create-machine'; machine: string; memberId: string }
  | { kind: 'add-member' }
  | { kind: 'promote'; memberId: string; machine: string }
  | { kind: 'remove-member'; memberId: string; machine: string; why: string }
  | { kind: 'delete-machine'; machine: string; dropletId: number; why: string }
  | { kind: 'wait'; why: string }
  | { kind: 'none' };

/** Voting members needed for a majority. */
export const quorum = (voting: number): number => Math.floor(voting / 2) + 1;

export function plan(p: PlanInput): Action {
  const machineByName = new Map(p.machines.map((m) => [m.name, m]));
  if (!p.members) {
    if (p.machines.length === 0) return { kind: 'create-seed' };
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
  // A learner that never becomes healthy is removed (always safe: learners do not vote); it is retried.
  const stuck = members.find((m) => m.isLearner && m.unhealthySince !== undefined && p.now - m.unhealthySince >= p.unhealthyAfterMs);
  if (stuck) return { kind: 'remove-member', memberId: stuck.id, machine: stuck.machine, why: 'the new member never became healthy' };
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
  // 5. Grow to the wanted size; during a version roll, surge one new member first.
  if (voting.length < p.replicas || (outdated.length > 0 && voting.length === p.replicas)) return { kind: 'add-member' };
  // 6. Shrink (or finish a roll step): remove one member, an outdated one first, the leader last. Never the last.
  if (voting.length > p.replicas && voting.length > 1) {
    const byPreference = [...voting].sort((a, b) => Number(outdated.includes(b)) - Number(outdated.includes(a)) || Number(a.leader) - Number(b.leader));
    const victim = byPreference[0]!;
    return { kind: 'remove-member', memberId: victim.id, machine: victim.machine, why: outdated.includes(victim) ? 'rolling to a new version' : 'scaling down' };
  }
  return { kind: 'none' };
}
