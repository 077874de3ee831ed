// The cluster endpoint: one DNS name, `<cluster>-etcd.<zone>`, whose A records are the members clients
// should use now, and which every member's server certificate carries. API servers are given this name
// alone (--etcd-servers), so replacing, adding or removing members never leaves them pointing at names
// that no longer exist (docs/etcdcluster.md, "The cluster endpoint"). Clients fail over because etcd's Go
// client dials host:port with net.Dialer, which tries each resolved address in turn (etcd v3.4.13
// clientv3/balancer/resolver/endpoint/endpoint.go Dialer; v3.5 client/v3/internal/resolver). Pure.
import type { MemberView, MachineView } from './plan.ts';

/** The cluster endpoint's host name. Cannot collide with a member's (`<cluster>-etcd-<5 chars>`). */
export const etcdClusterHost = (name: string, zone: string): string => `${name}-etcd.${zone}`;

export const clusterEndpointURL = (host: string): string => `https://${host}:2379`;

export interface EndpointInput {
  /** Members as etcd reports them; undefined when no member answered (the record is then kept as it is). */
  members?: MemberView[];
  machines: MachineView[];
  /** Whether a member's server certificate carries the cluster host (members made before it do not). */
  servesCluster: (machine: string) => boolean;
  /** A member about to be removed by choice: out of the record first, so clients stop dialling it. */
  leaving?: string;
}

/**
 * The private addresses the cluster endpoint should list, or undefined to keep the record as it is.
 * Voting members only (a learner refuses most requests), whose certificate carries the name (else a
 * client's TLS check fails), not the one leaving; the healthy ones, or all of them when none is healthy
 * (a probe failure on the operator's side is no reason to empty the record).
 */
export function endpointAddresses(p: EndpointInput): string[] | undefined {
  if (!p.members) return undefined;
  const ip = new Map(p.machines.filter((m) => m.active && m.privateIP).map((m) => [m.name, m.privateIP!]));
  const candidates = p.members.filter((m) => !m.isLearner && m.name && m.machine !== p.leaving && ip.has(m.machine) && p.servesCluster(m.machine));
  const healthy = candidates.filter((m) => m.healthy);
  return [...new Set((healthy.length ? healthy : candidates).map((m) => ip.get(m.machine)!))].sort();
}

/** What a ControlPlane reports about the etcd endpoint its nodes use (ControlPlane status). */
export interface EndpointUser {
  metadata: { name: string };
  status?: { etcdEndpoint?: string; staleEtcdEndpoints?: string[] };
}

/**
 * Why a planned member removal must wait for the control planes, if it must: one has not yet seen the
 * endpoint this cluster publishes, or still has nodes given members' names (made before the cluster
 * endpoint existed), which the removal could cut off.
 */
export function usersNotReady(users: EndpointUser[], published: string | undefined): string | undefined {
  const waiting = users.filter((u) => (u.status?.etcdEndpoint ?? '') !== (published ?? '') || (u.status?.staleEtcdEndpoints?.length ?? 0) > 0);
  if (!waiting.length) return undefined;
  const what = waiting.map((u) => {
    const stale = u.status?.staleEtcdEndpoints ?? [];
    return stale.length ? `${u.metadata.name} (nodes ${stale.join(', ')} still reach etcd by member names)` : `${u.metadata.name} (has not yet seen ${published ?? 'the member list'})`;
  });
  return `waiting for ControlPlane ${what.join('; ')} before removing a member`;
}
