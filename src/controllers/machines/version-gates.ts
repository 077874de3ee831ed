// Which version changes the operator carries out, given the versions its machines run now. A refused
// change is held (machines keep the version they run) and reported with the reason and the allowed next
// step. Pure: the running versions come in, a verdict goes out.
import { ConditionType as T, Reason, type ConditionInput } from '../../api/v1alpha1/index.ts';

export type Gate = { ok: true } | { ok: false; message: string };

const parts = (v: string) => v.replace(/^v/, '').split('.').map(Number) as [number, number, number];
const minorOf = (v: string) => parts(v).slice(0, 2).join('.');
const minorNum = (v: string) => parts(v)[1];
const compare = (a: string, b: string) => {
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
};
const sorted = (vs: string[]) => [...new Set(vs)].sort(compare);

/**
 * The version to hold at while a change is refused: the newest one running, so that a roll the operator
 * had accepted before is finished rather than undone; undefined when nothing runs.
 */
export const heldVersion = (running: string[]): string | undefined => sorted(running).at(-1);

/**
 * etcd: patch releases within a minor in either direction; one minor up at a time, and 3.5 → 3.6 only when
 * every member runs 3.5.20 or later — before it, learner promotions were not persisted in the backend
 * (etcd CHANGELOG-3.5, v3.5.20: "Fix the learner promotion changes not being persisted into v3store",
 * etcd-io/etcd#19563), which 3.6 then refuses with "too many learner members" (etcd-io/etcd#19557, #20793).
 * Never a minor down: etcd downgrades in place with `etcdctl downgrade` (v3.6), not by member replacement.
 */
export function etcdVersionGate(running: string[], wanted: string): Gate {
  const have = sorted(running);
  if (!have.length) return { ok: true };
  const lowest = have[0]!;
  const highest = have.at(-1)!;
  if (minorNum(wanted) < minorNum(highest)) {
    return { ok: false, message: `${highest} → ${wanted}: etcd cannot go back a minor by replacing members; set spec.version to a ${minorOf(highest)}.x release` };
  }
  if (minorNum(wanted) > minorNum(lowest) + 1) {
    return { ok: false, message: `${lowest} → ${wanted}: one etcd minor at a time; set spec.version to a ${parts(lowest)[0]}.${minorNum(lowest) + 1}.x release first` };
  }
  if (minorOf(wanted) === '3.6') {
    const old = have.filter((v) => minorOf(v) === '3.5' && parts(v)[2] < 20);
    if (old.length) return { ok: false, message: `${old[0]} → ${wanted}: etcd 3.6 needs every member on 3.5.20 or later (earlier 3.5 releases did not persist learner promotions); set spec.version to 3.5.20 or a later 3.5 release first` };
  }
  return { ok: true };
}

/**
 * The control plane: one minor up at a time, never a minor down (kube-apiserver instances of an HA
 * cluster must be within one minor of each other: kubernetes/website
 * content/en/releases/version-skew-policy.md); patch releases within a minor in either direction.
 */
export function controlPlaneVersionGate(running: string[], wanted: string): Gate {
  const have = sorted(running);
  if (!have.length) return { ok: true };
  const lowest = have[0]!;
  const highest = have.at(-1)!;
  if (minorNum(wanted) < minorNum(highest)) return { ok: false, message: `${highest} → ${wanted}: a Kubernetes minor is never downgraded; set spec.version to a v${minorOf(highest)}.x release` };
  if (minorNum(wanted) > minorNum(lowest) + 1) return { ok: false, message: `${lowest} → ${wanted}: the control plane moves one minor at a time; set spec.version to a v1.${minorNum(lowest) + 1}.x release first` };
  return { ok: true };
}

/**
 * Workers against the control plane as it runs: a kubelet is never newer than the oldest API server and
 * at most three minors older than the newest ("kubelet must not be newer than kube-apiserver", "may be up to
 * three minor versions older": version-skew-policy.md); and, like the control plane, never a minor down.
 */
export function workerVersionGate(running: string[], controlPlane: string[], wanted: string): Gate {
  const cp = sorted(controlPlane);
  if (cp.length) {
    const oldest = cp[0]!;
    const newest = cp.at(-1)!;
    if (compare(wanted, oldest) > 0 && minorNum(wanted) > minorNum(oldest)) {
      return { ok: false, message: `${wanted} is newer than the control plane's ${oldest}: kubelets may not be newer than the API server; upgrade the ControlPlane first` };
    }
    if (minorNum(wanted) < minorNum(newest) - 3) {
      return { ok: false, message: `${wanted} is more than three minors behind the control plane's ${newest}: set spec.version to v1.${minorNum(newest) - 3}.x or later` };
    }
  }
  const highest = sorted(running).at(-1);
  if (highest && minorNum(wanted) < minorNum(highest)) return { ok: false, message: `${highest} → ${wanted}: a Kubernetes minor is never downgraded; set spec.version to a v${minorOf(highest)}.x release` };
  return { ok: true };
}

/**
 * Conditions with a refused version change shown: RollingOut says so with the next step, and so does Ready
 * if nothing else was wrong (a change that waits for a person; Argo CD shows it Degraded).
 */
export function showRefusal(conditions: ConditionInput[], refused: Gate | undefined): ConditionInput[] {
  if (!refused || refused.ok) return conditions;
  const shown = { status: 'False' as const, reason: Reason.VersionChangeRefused, message: refused.message };
  return conditions.map((c) => (c.type === T.RollingOut || (c.type === T.Ready && c.status === 'True') ? { ...c, ...shown } : c));
}
