// Machine facts shared by the kinds that run Kubernetes nodes: the view of a droplet from its tags, its
// status entry, and conditions computed from per-machine probe results.
import type { Droplet } from '../../cloud/ports.ts';
import { REMOVING_TAG, tagValue } from '../../cloud/tags.ts';
import type { MachineStatus, ConditionInput } from '../../api/v1alpha1/index.ts';
import { Reason } from '../../api/v1alpha1/index.ts';

export type Machine = Droplet & { machine: string; version?: string; removing: boolean };

export const machineOf = (x: Droplet): Machine => ({
  ...x,
  machine: tagValue(x.tags, 'hardway:machine:') ?? x.name,
  version: tagValue(x.tags, 'hardway:version:'),
  removing: x.tags.includes(REMOVING_TAG),
});

/** The lowest version any machine runs (versions compare numerically: v1.34.10 > v1.34.9). */
export function lowestVersion(versions: (string | undefined)[]): string | undefined {
  const parts = (v: string) => v.replace(/^v/, '').split('.').map(Number);
  return versions
    .filter((v): v is string => !!v)
    .sort((a, b) => {
      const [x, y] = [parts(a), parts(b)];
      for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
      return 0;
    })[0];
}

export function machineStatus(m: Machine, o: { zone?: string; healthy?: boolean; message?: string; probedAt?: Date }): MachineStatus {
  return {
    name: m.machine,
    dropletID: m.id,
    ...(m.privateIPv4 ? { privateIP: m.privateIPv4 } : {}),
    ...(m.publicIPv4 ? { publicIP: m.publicIPv4 } : {}),
    ...(o.zone ? { dnsName: `${m.machine}.${o.zone}` } : {}),
    ...(m.version ? { version: m.version } : {}),
    phase: m.removing ? 'Deleting' : m.status === 'active' && m.privateIPv4 ? 'Running' : 'Provisioning',
    ...(o.healthy !== undefined ? { healthy: o.healthy } : {}),
    ...(o.healthy && o.probedAt ? { lastProbeTime: o.probedAt.toISOString().replace(/\.\d{3}Z$/, 'Z') } : {}),
    ...(!o.healthy && o.message ? { message: o.message.slice(0, 300) } : {}),
  };
}

/**
 * A remote-health condition from per-machine results ("2/3 API servers ready"). When no machine answered
 * at all, the previous value is kept for the grace period (a flapping network is not an outage).
 */
export function healthCondition(
  type: string,
  what: string,
  results: { machine: string; ok: boolean; message?: string }[],
  o: { expected: number; answered: boolean; withinGrace: boolean; previous?: { status: 'True' | 'False' | 'Unknown'; reason: string; message?: string } },
): ConditionInput {
  if (!o.answered && o.withinGrace && o.previous) return { type, status: o.previous.status, reason: o.previous.reason, message: o.previous.message };
  if (o.expected === 0) return { type, status: 'Unknown', reason: Reason.HealthUnknown, message: 'no machines yet' };
  if (!o.answered) return { type, status: 'Unknown', reason: Reason.ConnectionDown, message: results.length ? `no ${what} answers: ${results[0]!.machine}: ${results[0]!.message ?? 'no answer'}` : `no ${what} is running yet` };
  const ok = results.filter((r) => r.ok).length;
  const bad = results.find((r) => !r.ok);
  const message = `${ok}/${o.expected} ${what}s healthy${bad ? `; ${bad.machine}: ${bad.message ?? 'not healthy'}` : ''}`;
  return ok === o.expected ? { type, status: 'True', reason: Reason.Healthy, message } : { type, status: 'False', reason: Reason.NotHealthy, message };
}
