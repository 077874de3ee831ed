// Cloud steps every kind shares: owned DNS records brought to a wanted set, a firewall upserted by name,
// a droplet created only after a lookup by tag found none, and cleanup by ownership. Each step is safe
// to repeat after a crash at any point.
import type { Droplet, DropletSpec, DnsRecordSpec, FirewallSpec } from '../../cloud/ports.ts';
import { ownerTag, machineTag } from '../../cloud/tags.ts';
import type { Clouds } from '../clouds.ts';
import { canonical } from '../../api/canonical.ts';
import { CloudError } from '../../cloud/errors.ts';
import type { KubeClient, KObject } from '../../kube/port.ts';
import { Secrets } from '../../kube/resources.ts';

export const recordOwner = (uid: string) => `owner:${uid}`;

export interface RecordChange {
  created: DnsRecordSpec[];
  deleted: { name: string; content: string }[];
}

/**
 * Makes the owner's records exactly `wanted` (name, type and content; several records may share a
 * name, as round-robin does). Compares first: a converged zone costs one listing.
 */
export async function syncRecords(clouds: Clouds, zoneId: string, uid: string, wanted: Omit<DnsRecordSpec, 'tags'>[]): Promise<RecordChange> {
  const owner = recordOwner(uid);
  const existing = (await clouds.dns.listRecords(zoneId, { tag: owner })).data;
  const key = (r: { name: string; type: string; content: string }) => `${r.name} ${r.type} ${r.content}`;
  const have = new Set(existing.map(key));
  const want = new Set(wanted.map(key));
  const change: RecordChange = { created: [], deleted: [] };
  for (const r of wanted) {
    if (have.has(key(r))) continue;
    const spec = { ...r, tags: ['managed-by:hardway', owner] };
    await clouds.dns.createRecord(zoneId, spec);
    change.created.push(spec);
  }
  for (const r of existing) {
    if (want.has(key(r))) continue;
    await clouds.dns.deleteRecord(zoneId, r.id);
    change.deleted.push({ name: r.name, content: r.content });
  }
  return change;
}

/** Creates or updates the firewall named spec.name. Returns what it did. */
export async function ensureFirewall(clouds: Clouds, spec: FirewallSpec): Promise<'created' | 'updated' | 'unchanged'> {
  const existing = (await clouds.compute.listFirewalls()).data.find((f) => f.name === spec.name);
  if (!existing) {
    await clouds.compute.createFirewall(spec);
    return 'created';
  }
  if (canonical([existing.tags, existing.inbound, existing.outbound]) === canonical([spec.tags, spec.inbound, spec.outbound])) return 'unchanged';
  await clouds.compute.updateFirewall(existing.id, spec);
  return 'updated';
}

/**
 * Creates one machine's droplet unless a droplet with its owner and machine tags exists (then that one is
 * adopted): never a second droplet for a machine, whatever crashed before.
 */
export async function createMachineOnce(clouds: Clouds, uid: string, spec: DropletSpec): Promise<{ droplet: Droplet; created: boolean }> {
  const already = await clouds.droplets.withTags(ownerTag(uid), machineTag(spec.name));
  if (already.length) return { droplet: already[0]!, created: false };
  // Whatever the outcome (a lost response may hide a droplet that was made), the next lookup must list.
  const r = await clouds.compute.createDroplets([spec]).finally(() => clouds.droplets.invalidate(ownerTag(uid)));
  return { droplet: r.data[0]!, created: true };
}

/**
 * createMachineOnce, and when DigitalOcean refused the create for sure (a 4xx: quota, size, rate limit)
 * the machine's certificate Secret made for it goes too, so failed attempts leave no private keys behind.
 */
export async function createMachineOrForget(kube: KubeClient, owner: KObject, clouds: Clouds, uid: string, spec: DropletSpec): Promise<{ droplet: Droplet; created: boolean }> {
  try {
    return await createMachineOnce(clouds, uid, spec);
  } catch (e) {
    if (e instanceof CloudError && e.status >= 400 && e.status < 500) await kube.delete(Secrets, { namespace: owner.metadata.namespace, name: spec.name }).catch(() => undefined);
    throw e;
  }
}

/** Deletes a droplet; gone already is success. The owner's next lookup lists again. */
export async function deleteMachine(clouds: Clouds, uid: string, dropletId: number): Promise<void> {
  await clouds.compute.deleteDroplet(dropletId).finally(() => clouds.droplets.invalidate(ownerTag(uid)));
}

/**
 * Everything an owner has in the clouds, removed: its DNS records, firewalls by name, load balancers by
 * name, droplets by tag. Returns how many droplets are still there (deletion takes a moment).
 */
export async function cleanupOwner(clouds: Clouds, uid: string, o: { zone?: string; firewalls?: string[]; loadBalancers?: string[] }): Promise<number> {
  const zone = o.zone ? (await clouds.dns.findZone(o.zone)).data : undefined;
  if (zone) for (const r of (await clouds.dns.listRecords(zone.id, { tag: recordOwner(uid) })).data) await clouds.dns.deleteRecord(zone.id, r.id);
  if (o.firewalls?.length) for (const f of (await clouds.compute.listFirewalls()).data.filter((f) => o.firewalls!.includes(f.name))) await clouds.compute.deleteFirewall(f.id);
  if (o.loadBalancers?.length) for (const l of (await clouds.compute.listLoadBalancers()).data.filter((l) => o.loadBalancers!.includes(l.name))) await clouds.compute.deleteLoadBalancer(l.id);
  await clouds.compute.deleteDropletsByTag(ownerTag(uid));
  clouds.droplets.invalidate(ownerTag(uid));
  return (await clouds.droplets.withTags(ownerTag(uid))).length;
}
