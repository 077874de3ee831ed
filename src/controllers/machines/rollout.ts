// Which machines to create and which to take away, for control planes and worker pools alike. Pure: the
// observed machines come in, a decision comes out. Removal itself (out of rotation, drain, delete) is the
// caller's; a machine being removed keeps counting until its droplet is gone.

export interface RolloutMachine {
  name: string;
  dropletId: number;
  createdAt: string;
  /** Healthy as its kind defines it (control plane: API server ready; worker: Node Ready). */
  healthy: boolean;
  /** Built for another version, or carrying certificates due for renewal. */
  outdated: boolean;
  /** When it was first seen unhealthy (epoch ms), if it is. */
  unhealthySince?: number;
  /** Its removal has started (a drain, or out of rotation): it is finished, never reversed. */
  removing: boolean;
}

export interface RolloutInput {
  replicas: number;
  machines: RolloutMachine[];
  /** Machines allowed above replicas while replacing outdated ones. */
  maxSurge: number;
  /** Healthy machines allowed below replicas while changing. */
  maxUnavailable: number;
  now: number;
  /** A machine unhealthy this long is replaced. */
  unhealthyAfterMs: number;
  /**
   * Control planes: one change at a time — create one machine only when every machine is healthy, and
   * start no removal while another is in progress.
   */
  oneAtATime: boolean;
}

export interface RolloutDecision {
  /** How many machines to create now. */
  create: number;
  /** Machines whose removal starts now (the ones already removing continue on their own). */
  remove: { machine: RolloutMachine; why: string }[];
  /** Why nothing (more) happens, when something is still to do. */
  waiting?: string;
}

/** maxSurge/maxUnavailable as counts: a percentage of replicas, surge rounded up, unavailable down. */
export function resolveRollout(r: { maxSurge?: number | string; maxUnavailable?: number | string } | undefined, replicas: number): { maxSurge: number; maxUnavailable: number } {
  const count = (v: number | string | undefined, fallback: number, round: (x: number) => number) =>
    v === undefined ? fallback : typeof v === 'number' ? v : round((Number.parseInt(v, 10) / 100) * replicas);
  const maxSurge = count(r?.maxSurge, 1, Math.ceil);
  const maxUnavailable = count(r?.maxUnavailable, 0, Math.floor);
  // Both 0 would never make progress: surge one, as Deployments refuse and Cluster API defaults.
  return maxSurge === 0 && maxUnavailable === 0 ? { maxSurge: 1, maxUnavailable: 0 } : { maxSurge, maxUnavailable };
}

export function planRollout(p: RolloutInput): RolloutDecision {
  const failed = (m: RolloutMachine) => !m.healthy && m.unhealthySince !== undefined && p.now - m.unhealthySince >= p.unhealthyAfterMs;
  const removing = p.machines.filter((m) => m.removing);
  const live = p.machines.filter((m) => !m.removing);
  // Replaced: built for something else, or broken for too long.
  const old = live.filter((m) => m.outdated || failed(m));
  const current = live.filter((m) => !old.includes(m));
  const total = p.machines.length;
  const maxTotal = p.replicas + (old.length > 0 ? p.maxSurge : 0);
  // A machine broken for too long is being replaced: it does not hold the replacement back.
  const allHealthy = live.every((m) => m.healthy || failed(m));

  if (p.oneAtATime && removing.length) return { create: 0, remove: [], waiting: `removing ${removing.map((m) => m.name).join(', ')}` };

  // Creation: the first build (nothing healthy yet, nothing to replace) makes every machine at once, also
  // when an earlier attempt made only some; otherwise up to the surge.
  let create = 0;
  let waiting: string | undefined;
  const firstBuild = !removing.length && !old.length && live.every((m) => !m.healthy);
  if (firstBuild) create = Math.max(0, p.replicas - total);
  else if (current.length < p.replicas) {
    const room = Math.max(0, maxTotal - total);
    create = Math.min(p.replicas - current.length, room);
    if (p.oneAtATime) {
      if (!allHealthy) {
        create = 0;
        waiting = `waiting for ${live.filter((m) => !m.healthy && !failed(m)).map((m) => m.name).join(', ')} to become healthy`;
      } else create = Math.min(create, 1);
    }
  }
  if (p.oneAtATime && create > 0) return { create, remove: [] };

  // Removal: old ones first (broken before outdated, unhealthy before healthy), then booting ones, oldest first.
  const rank = (m: RolloutMachine) => (failed(m) ? 0 : m.outdated && !m.healthy ? 1 : m.outdated ? 2 : !m.healthy ? 3 : 4);
  const byPreference = [...live].sort((a, b) => rank(a) - rank(b) || a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name));
  let available = live.filter((m) => m.healthy).length;
  const floor = p.replicas - p.maxUnavailable;
  const remove: RolloutDecision['remove'] = [];
  const take = (m: RolloutMachine, why: string) => {
    remove.push({ machine: m, why });
    if (m.healthy) available--;
  };
  const allowed = (m: RolloutMachine) => !m.healthy || available - 1 >= floor;
  let excess = live.length + create - p.replicas;
  for (const m of byPreference) {
    if (excess <= 0 || (p.oneAtATime && remove.length)) break;
    // Never a new machine while old ones remain. (Excess never reaches the last machine: replicas ≥ 1 or 0 wanted.)
    if (!old.includes(m) && old.some((o) => !remove.some((r) => r.machine === o))) continue;
    if (!allowed(m)) {
      waiting ??= `${available} healthy, at least ${floor} must stay available`;
      break;
    }
    take(m, failed(m) ? 'unhealthy for too long' : m.outdated ? 'replaced by a newer machine' : 'scaling down');
    excess--;
  }
  // No room to surge (maxSurge 0, or surge in use): make room by taking an old machine away first.
  if (!remove.length && !create && old.length && total >= maxTotal && current.length < p.replicas) {
    const m = byPreference.find((x) => old.includes(x))!;
    if (allowed(m)) take(m, failed(m) ? 'unhealthy for too long' : 'replaced by a newer machine');
    else waiting ??= `${available} healthy, at least ${floor} must stay available`;
  }
  if (!create && !remove.length && !waiting && (old.length || removing.length || live.length !== p.replicas)) {
    waiting = removing.length ? `removing ${removing.map((m) => m.name).join(', ')}` : !allHealthy ? 'waiting for new machines to become healthy' : undefined;
  }
  return { create, remove, ...(waiting ? { waiting } : {}) };
}
