// Cloud steps every kind shares: owned DNS records brought to a wanted set, a firewall upserted by name,
// a droplet created only after a lookup by tag found none, and cleanup by ownership. Each step is safe
// to repeat after a crash at any point.
import type { Droplet, DropletSpec, DnsRecordSpec, Firewall, FirewallSpec } from '../../cloud/ports.ts';
import { ownerTag, machineTag, tagValue } from '../../cloud/tags.ts';
import type { Clouds } from '../clouds.ts';
import { canonical } from '../../api/canonical.ts';
import { CloudError } from '../../cloud/errors.ts';
import { firewallOverLimits, USER_DATA_MAX_BYTES } from '../../cloud/limits.ts';
import type { KubeClient, KObject } from '../../kube/port.ts';
import { Secrets } from '../../kube/resources.ts';
import type { MachineStatus } from '../../api/v1alpha1/shared.ts';

export interface RecordChange {
  created: DnsRecordSpec[];
  deleted: { name: string; content: string }[];
  /** Records left as they were because `keep` said so. */
  kept: { name: string; content: string }[];
  /** Wanted records someone had set to proxied, set back (proxying breaks mutual TLS). */
  unproxied: { name: string; content: string }[];
}

/**
 * Makes the owner's records exactly `wanted` (name, type and content; several records may share a
 * name, as round-robin does). Compares first: a converged zone costs one listing. Records carry their
 * owner's UID (the adapter marks them; see DnsRecordSpec.owner); a name held by a record someone else
 * owns fails with RECORD_NOT_OWNED and that record is left as it is. Existing records for which `keep`
 * holds are left alone even when not wanted (a name whose right content is unknown this time).
 */
export async function syncRecords(clouds: Clouds, zoneId: string, uid: string, wanted: Omit<DnsRecordSpec, 'owner'>[], keep: (r: { name: string }) => boolean = () => false): Promise<RecordChange> {
  // Every owner's records in the zone as listed for all objects on this token (at most listingCacheTtlMs
  // old); what is written here is applied to that copy, and a write without an answer drops it.
  const cache = clouds.records(zoneId);
  const existing = (await cache.all()).filter((r) => r.owner === uid);
  const written = async <T>(write: Promise<{ data: T }>): Promise<T> =>
    (
      await write.catch((e: unknown) => {
        cache.invalidate();
        throw e;
      })
    ).data;
  const key = (r: { name: string; type: string; content: string }) => `${r.name} ${r.type} ${r.content}`;
  const have = new Set(existing.map(key));
  const want = new Set(wanted.map(key));
  const change: RecordChange = { created: [], deleted: [], kept: [], unproxied: [] };
  for (const r of wanted) {
    if (have.has(key(r))) continue;
    const spec = { ...r, owner: uid };
    cache.put(await written(clouds.dns.createRecord(zoneId, spec)));
    change.created.push(spec);
  }
  // Cloudflare's proxy terminates TLS itself: a proxied record breaks every client certificate (FACTS.md §3.4).
  for (const r of existing) {
    const w = wanted.find((x) => key(x) === key(r));
    if (!w || !r.proxied) continue;
    cache.put(await written(clouds.dns.updateRecord(zoneId, r.id, { ...w, owner: uid })));
    change.unproxied.push({ name: r.name, content: r.content });
  }
  for (const r of existing) {
    if (want.has(key(r))) continue;
    if (keep(r)) {
      change.kept.push({ name: r.name, content: r.content });
      continue;
    }
    await written(clouds.dns.deleteRecord(zoneId, r.id));
    cache.remove(r.id);
    change.deleted.push({ name: r.name, content: r.content });
  }
  return change;
}

/** Every tag a firewall names: the droplets it applies to and its rules' sources and destinations. */
export const firewallTags = (spec: FirewallSpec): string[] => [...new Set([...spec.tags, ...[...spec.inbound, ...spec.outbound].flatMap((r) => r.targets.tags ?? [])])];

/** Refuses, with DigitalOcean's limits in the message, a firewall DigitalOcean would refuse. */
export function checkFirewallSpec(spec: FirewallSpec): void {
  const rules = [...spec.inbound, ...spec.outbound];
  const size = (t: FirewallSpec['inbound'][number]['targets']) => (t.addresses?.length ?? 0) + (t.tags?.length ?? 0) + (t.dropletIds?.length ?? 0) + (t.loadBalancerUids?.length ?? 0);
  const over = firewallOverLimits({ dropletIds: 0, tags: spec.tags.length, rules: rules.length, largestTarget: Math.max(0, ...rules.map((r) => size(r.targets))) });
  if (over.length) throw new Error(`firewall ${spec.name} would be over DigitalOcean's limits: ${over.join(', ')}`);
}

/** The owner's firewall: the one applied to its owner tag (names are not identities: two installations may pick the same). */
export const ownedFirewall = (firewalls: Firewall[], uid: string): Firewall | undefined => firewalls.find((f) => f.tags.some((t) => t.toLowerCase() === ownerTag(uid)));

/** The parts of a firewall that differ from the wanted spec, in words. */
export function firewallDifferences(existing: Firewall, spec: FirewallSpec): string[] {
  const parts: [string, unknown, unknown][] = [
    ['name', existing.name, spec.name],
    ['droplet tags', existing.tags, spec.tags],
    ['inbound rules', existing.inbound, spec.inbound],
    ['outbound rules', existing.outbound, spec.outbound],
  ];
  return parts.filter(([, a, b]) => canonical(a) !== canonical(b)).map(([what]) => what);
}

/**
 * Creates or updates the owner's firewall. Every tag it names is made to exist first: DigitalOcean refuses
 * a firewall naming a tag that does not exist yet (see the fake's existingTag), and before the first
 * droplet none does. Returns what it did.
 */
export async function ensureFirewall(clouds: Clouds, uid: string, spec: FirewallSpec): Promise<{ action: 'created' | 'updated' | 'unchanged'; differences: string[] }> {
  checkFirewallSpec(spec);
  // The account's firewalls as listed for every object on this token (at most listingCacheTtlMs old).
  const existing = ownedFirewall(await clouds.firewalls.all(), uid);
  const differences = existing ? firewallDifferences(existing, spec) : [];
  if (existing && differences.length === 0) return { action: 'unchanged', differences };
  for (const t of firewallTags(spec)) await clouds.compute.ensureTag(t);
  const written = await (existing ? clouds.compute.updateFirewall(existing.id, spec) : clouds.compute.createFirewall(spec)).catch((e: unknown) => {
    // No answer may still mean it was made: list again rather than make a second one.
    clouds.firewalls.invalidate();
    throw e;
  });
  clouds.firewalls.put(written.data);
  return { action: existing ? 'updated' : 'created', differences };
}

type Recorder = { record(o: KObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<unknown> };

/**
 * ensureFirewall, with what it did said in events. `last` is the spec this process last put in place for
 * the object (canonical form): when the wanted spec is that same one, a firewall that had to be made again
 * or put back changed outside hardway, and that is a Warning `Drifted` naming what changed. Returns the
 * canonical spec to remember.
 */
export async function ensureFirewallReported(events: Recorder, o: KObject, clouds: Clouds, uid: string, spec: FirewallSpec, last: string | undefined): Promise<string> {
  const wanted = canonical(spec);
  const r = await ensureFirewall(clouds, uid, spec);
  const drifted = last === wanted;
  if (r.action === 'created') await (drifted ? events.record(o, 'Warning', 'Drifted', `firewall ${spec.name} was deleted outside hardway; made again`) : events.record(o, 'Normal', 'FirewallCreated', spec.name));
  else if (r.action === 'updated' && drifted) await events.record(o, 'Warning', 'Drifted', `firewall ${spec.name}: ${r.differences.join(', ')} changed outside hardway; put back`);
  return wanted;
}

/**
 * syncRecords' outcome in events. `periodic`: the wanted records are the ones this process last put in
 * place, so anything it had to change was changed outside hardway (a Warning `Drifted`); otherwise the
 * changes are the object's own (Normal DNSRecordCreated/DNSRecordDeleted, worded by the caller).
 */
export async function reportRecordDrift(events: Recorder, o: KObject, change: RecordChange, periodic: boolean): Promise<boolean> {
  for (const r of change.unproxied) await events.record(o, 'Warning', 'Drifted', `DNS record ${r.name} → ${r.content} was proxied through Cloudflare outside hardway (that breaks mutual TLS); proxying turned off`);
  if (!periodic) return false;
  for (const r of change.created) await events.record(o, 'Warning', 'Drifted', `DNS record ${r.name} → ${r.content} was missing (deleted or changed outside hardway); made again`);
  for (const r of change.deleted) await events.record(o, 'Warning', 'Drifted', `DNS record ${r.name} → ${r.content} is not wanted (changed outside hardway); deleted`);
  return change.created.length + change.deleted.length > 0;
}

/**
 * Creates one machine's droplet unless a droplet with its owner and machine tags exists (then that one is
 * adopted): never a second droplet for a machine, whatever crashed before.
 */
export async function createMachineOnce(clouds: Clouds, uid: string, spec: DropletSpec): Promise<{ droplet: Droplet; created: boolean }> {
  const already = await clouds.droplets.withTags(ownerTag(uid), machineTag(spec.name));
  if (already.length) return { droplet: already[0]!, created: false };
  const size = Buffer.byteLength(spec.userData ?? '');
  if (size > USER_DATA_MAX_BYTES) throw new MachineRefused(`user-data of ${spec.name} is ${size} bytes; DigitalOcean accepts at most ${USER_DATA_MAX_BYTES} (64 KiB); 'hardway render -f <manifests>' shows each node's size`);
  // Whatever the outcome (a lost response may hide a droplet that was made), the next lookup must list;
  // a droplet made counts as existing even while lists do not show it yet.
  const r = await clouds.compute.createDroplets([spec]).catch((e: unknown) => {
    clouds.droplets.invalidate(ownerTag(uid));
    throw e;
  });
  clouds.droplets.createdDroplets(ownerTag(uid), r.data);
  return { droplet: r.data[0]!, created: true };
}

/**
 * The owner's droplets as confirmed facts, one per machine. Lists are eventually consistent (a droplet
 * can be missing for seconds: digitalocean/api-v2#202), so a droplet status last showed (`known` ids) that
 * the listing lacks is asked for by id, and counts as gone only when DigitalOcean says 404. Where several
 * droplets carry one machine tag (a create repeated after its answer was lost, or made while a list
 * lagged), all but the oldest are deleted: each was listed, so each exists, and the oldest is the one the
 * rest of the cluster has known longest.
 */
export async function ownedMachines(
  clouds: Clouds,
  uid: string,
  known: (number | undefined)[],
  removed: (duplicate: Droplet, kept: Droplet) => Promise<unknown>,
  lost: (id: number, how: 'deleted' | 'untagged') => Promise<unknown> = async () => undefined,
): Promise<Droplet[]> {
  const all = [...(await clouds.droplets.withTags(ownerTag(uid)))];
  for (const id of known) {
    if (id === undefined || all.some((d) => d.id === id)) continue;
    const d = (await clouds.compute.getDroplet(id)).data;
    if (d && d.tags.some((t) => t.toLowerCase() === ownerTag(uid))) all.push(d);
    else if (!clouds.droplets.deletedHere(id)) await lost(id, d ? 'untagged' : 'deleted');
  }
  const byMachine = new Map<string, Droplet[]>();
  for (const d of all) {
    const machine = tagValue(d.tags, 'hardway:machine:') ?? d.name;
    byMachine.set(machine, [...(byMachine.get(machine) ?? []), d]);
  }
  const keep: Droplet[] = [];
  for (const group of byMachine.values()) {
    const [oldest, ...extra] = [...group].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id - b.id);
    keep.push(oldest!);
    for (const x of extra) {
      await deleteMachine(clouds, uid, x.id);
      await removed(x, oldest!);
    }
  }
  return keep;
}

/**
 * ownedMachines for a controller: `known` is what its status lists. A duplicate deleted is a Warning
 * `DuplicateMachineDeleted`; a droplet status knew that DigitalOcean no longer has, and that this process
 * did not delete, was deleted outside hardway: a Warning `Drifted` (the machine is then made again, or
 * the member replaced, by the controller's own rules).
 */
export function ownedMachinesReported(events: Recorder, o: KObject, clouds: Clouds, known: { name?: string; dropletID?: number; phase?: MachineStatus['phase'] }[] = []): Promise<Droplet[]> {
  return ownedMachines(
    clouds,
    o.metadata.uid!,
    known.map((x) => x.dropletID),
    (x, kept) => events.record(o, 'Warning', 'DuplicateMachineDeleted', `droplet ${x.id} (${x.name}) duplicated droplet ${kept.id}; the oldest is kept`),
    (id, how) => {
      const was = known.find((x) => x.dropletID === id);
      const name = was?.name ?? 'unnamed';
      // Still there, but no longer carrying its owner tag: the operator no longer counts it, and does not delete what it cannot prove is its own.
      if (how === 'untagged') return events.record(o, 'Warning', 'Drifted', `droplet ${id} (${name}) lost its tag ${ownerTag(o.metadata.uid!)} outside hardway: it is no longer managed; tag it again or delete it`);
      // Status last showed it being deleted: this operator's own deletion, made before a restart that lost
      // deletedHere's memory.
      if (was?.phase === 'Deleting') return Promise.resolve();
      return events.record(o, 'Warning', 'Drifted', `droplet ${id} (${name}) was deleted outside hardway`);
    },
  );
}

/** A machine that cannot be created as specified, known before asking DigitalOcean (it would refuse it too). */
export class MachineRefused extends Error {
  override name = 'MachineRefused';
}

/**
 * createMachineOnce, and when DigitalOcean refused the create for sure (a 4xx: quota, size, rate limit)
 * the machine's certificate Secret made for it goes too, so failed attempts leave no private keys behind.
 */
export async function createMachineOrForget(kube: KubeClient, owner: KObject, clouds: Clouds, uid: string, spec: DropletSpec): Promise<{ droplet: Droplet; created: boolean }> {
  try {
    return await createMachineOnce(clouds, uid, spec);
  } catch (e) {
    if (e instanceof MachineRefused || (e instanceof CloudError && e.status >= 400 && e.status < 500)) await kube.delete(Secrets, { namespace: owner.metadata.namespace, name: spec.name }).catch(() => undefined);
    throw e;
  }
}

/** Deletes a droplet; gone already is success. The owner's next lookup lists again. */
export async function deleteMachine(clouds: Clouds, uid: string, dropletId: number): Promise<void> {
  await clouds.compute.deleteDroplet(dropletId).finally(() => clouds.droplets.deleted(ownerTag(uid), dropletId));
}

/**
 * Everything an owner has in the clouds, removed: its DNS records, its firewall (applied to its owner
 * tag), its load balancer (the one sending to its load-balancer tag), droplets by tag. Returns how many droplets are still there (deletion takes a moment).
 */
export async function cleanupOwner(clouds: Clouds, uid: string, o: { zone?: string; loadBalancerTag?: string }): Promise<number> {
  const zone = o.zone ? (await clouds.dns.findZone(o.zone)).data : undefined;
  if (zone) for (const r of (await clouds.dns.listRecords(zone.id, { owner: uid })).data) await clouds.dns.deleteRecord(zone.id, r.id).finally(() => clouds.records(zone.id).remove(r.id));
  // Deleting acts on a fresh listing, never on the shared copy.
  const firewall = ownedFirewall(await clouds.firewalls.all(0), uid);
  if (firewall) await clouds.compute.deleteFirewall(firewall.id).finally(() => clouds.firewalls.remove(firewall.id));
  if (o.loadBalancerTag) for (const l of (await clouds.loadBalancers.all(0)).filter((l) => l.tag === o.loadBalancerTag)) await clouds.compute.deleteLoadBalancer(l.id).finally(() => clouds.loadBalancers.remove(l.id));
  await clouds.compute.deleteDropletsByTag(ownerTag(uid));
  clouds.droplets.invalidate(ownerTag(uid));
  return (await clouds.droplets.withTags(ownerTag(uid))).length;
}
