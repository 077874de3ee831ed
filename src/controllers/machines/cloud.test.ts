// The cloud steps every kind shares, against the contract-checked DigitalOcean fake: what DigitalOcean
// would refuse is never sent, objects are found by ownership rather than by name, and no destructive or
// duplicating step rests on one (lagging) listing.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { FakeDigitalOcean } from '../../cloud/fake/digitalocean.ts';
import { DigitalOceanCompute } from '../../cloud/digitalocean/compute.ts';
import type { Dns, DropletSpec, FirewallSpec } from '../../cloud/ports.ts';
import { FLEET_TAG, ownerTag, machineTag } from '../../cloud/tags.ts';
import { digitalOceanContract } from '../../../test/helpers/contracts.ts';
import { cloudsFor, type Clouds } from '../clouds.ts';
import { ensureFirewall, ensureFirewallReported, checkFirewallSpec, createMachineOnce, ownedMachines, ownedMachinesReported, cleanupOwner, deleteMachine, MachineRefused } from './cloud.ts';

const fakes: FakeDigitalOcean[] = [];
let clock = 1_800_000_000_000;
afterEach(async () => {
  for (const f of fakes.splice(0)) {
    await f.stop();
    assert.deepEqual(f.violations, [], 'requests and responses match the contract');
  }
});

async function clouds(opts: Partial<ConstructorParameters<typeof FakeDigitalOcean>[0]> = {}): Promise<{ f: FakeDigitalOcean; c: Clouds }> {
  const f = await new FakeDigitalOcean({ tokens: ['dop_v1_cloud-steps'], now: () => clock, contract: digitalOceanContract(), ...opts }).start();
  fakes.push(f);
  const compute = new DigitalOceanCompute({ token: 'dop_v1_cloud-steps', baseUrl: f.url, retryDelaysMs: [1], now: () => clock });
  // No DNS here: a Dns that fails loudly if a step reaches for it.
  const dns = new Proxy({}, { get: () => () => Promise.reject(new Error('no DNS in these tests')) }) as Dns;
  return { f, c: cloudsFor(compute, dns, { now: () => clock }) };
}

const UID = '5f0c7a52-3c1e-4d8e-9a57-7d2c1d0e4b11';
const firewall = (name: string, uid = UID): FirewallSpec => ({
  name,
  tags: [ownerTag(uid)],
  inbound: [{ protocol: 'tcp', ports: '2379-2380', targets: { tags: [ownerTag(uid), `hardway:etcd-client:${uid}`] } }],
  outbound: [{ protocol: 'tcp', ports: '0', targets: { addresses: ['0.0.0.0/0', '::/0'] } }],
});
const droplet = (name: string, extra: Partial<DropletSpec> = {}): DropletSpec => ({ name, region: 'fra1', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64', tags: [FLEET_TAG, ownerTag(UID), machineTag(name)], ...extra });

test('a firewall is created before any droplet: the tags it names are made first (DigitalOcean refuses unknown ones)', async () => {
  const { f, c } = await clouds();
  assert.equal((await ensureFirewall(c, UID, firewall('hardway-ns-demo-etcd'))).action, 'created');
  assert.deepEqual([...f.tags.values()].sort(), [ownerTag(UID), `hardway:etcd-client:${UID}`].sort());
  assert.equal((await ensureFirewall(c, UID, firewall('hardway-ns-demo-etcd'))).action, 'unchanged');
});

test('firewalls are found by the owner tag they apply to, not by name: another installation’s namesake is left alone', async () => {
  const { f, c } = await clouds();
  const other = 'aaaaaaaa-0000-4000-8000-000000000000';
  await ensureFirewall(c, other, firewall('hardway-ns-demo-etcd', other));
  assert.equal((await ensureFirewall(c, UID, firewall('hardway-ns-demo-etcd'))).action, 'created', 'same name, other owner: a firewall of its own');
  assert.equal(f.firewalls.size, 2);
  await cleanupOwner(c, UID, {});
  assert.deepEqual([...f.firewalls.values()].map((x) => x.tags), [[ownerTag(other)]], 'cleanup removed only its own');
});

test('a firewall changed or deleted outside hardway is put back within the listing period and reported as Drifted; the object’s own changes are not', async () => {
  const { f, c } = await clouds();
  const events: string[] = [];
  const rec = { record: async (_o: unknown, type: string, reason: string, message: string) => void events.push(`${type} ${reason}: ${message}`) };
  const o = { metadata: { name: 'demo', namespace: 'ns', uid: UID } };
  let last = await ensureFirewallReported(rec, o, c, UID, firewall('hardway-ns-demo-etcd'), undefined);
  assert.deepEqual(events.splice(0), ['Normal FirewallCreated: hardway-ns-demo-etcd']);
  const fw = [...f.firewalls.values()][0]!;
  fw.inbound_rules = [];
  last = await ensureFirewallReported(rec, o, c, UID, firewall('hardway-ns-demo-etcd'), last);
  assert.deepEqual(events, [], 'the shared listing is younger than its period: not seen yet, and not listed again');
  clock += 300_000;
  last = await ensureFirewallReported(rec, o, c, UID, firewall('hardway-ns-demo-etcd'), last);
  assert.deepEqual(events.splice(0), ['Warning Drifted: firewall hardway-ns-demo-etcd: inbound rules changed outside hardway; put back']);
  assert.equal((fw.inbound_rules as unknown[]).length, 0, 'the PUT replaced the record');
  assert.equal(([...f.firewalls.values()][0]!.inbound_rules as unknown[]).length, 1);
  f.firewalls.clear();
  clock += 300_000;
  last = await ensureFirewallReported(rec, o, c, UID, firewall('hardway-ns-demo-etcd'), last);
  assert.deepEqual(events.splice(0), ['Warning Drifted: firewall hardway-ns-demo-etcd was deleted outside hardway; made again']);
  // A spec change of the object's own: an update, no Drifted.
  const wider = firewall('hardway-ns-demo-etcd');
  wider.inbound.push({ protocol: 'tcp', ports: '22', targets: { addresses: ['203.0.113.0/24'] } });
  await ensureFirewallReported(rec, o, c, UID, wider, last);
  assert.deepEqual(events, []);
  assert.equal(([...f.firewalls.values()][0]!.inbound_rules as unknown[]).length, 2);
});

test('a firewall over DigitalOcean’s limits is refused before it is sent', async () => {
  const { f, c } = await clouds();
  const many = { ...firewall('big'), inbound: Array.from({ length: 50 }, (_, i) => ({ protocol: 'tcp' as const, ports: String(1000 + i), targets: { addresses: ['10.0.0.0/8'] } })) };
  assert.throws(() => checkFirewallSpec(many), /51 rules \(at most 50\)/);
  await assert.rejects(ensureFirewall(c, UID, many), /over DigitalOcean's limits/);
  assert.equal(f.count('POST', '/v2/firewalls'), 0);
});

test('user-data over 64 KiB is refused before DigitalOcean is asked', async () => {
  const { f, c } = await clouds();
  await assert.rejects(createMachineOnce(c, UID, droplet('big', { userData: 'x'.repeat(64 * 1024 + 1) })), (e: Error) => e instanceof MachineRefused && /65537 bytes; DigitalOcean accepts at most 65536/.test(e.message));
  assert.equal(f.count('POST', '/v2/droplets'), 0);
  await createMachineOnce(c, UID, droplet('fits', { userData: 'x'.repeat(64 * 1024) }));
});

test('a droplet just created but not yet listed is not created again', async () => {
  const { f, c } = await clouds({ listLagMs: 10_000 });
  const first = await createMachineOnce(c, UID, droplet('m1'));
  assert.equal(first.created, true);
  const again = await createMachineOnce(c, UID, droplet('m1'));
  assert.deepEqual([again.created, again.droplet.id], [false, first.droplet.id]);
  assert.equal(f.count('POST', '/v2/droplets'), 1);
});

test('a droplet one listing leaves out is asked for by id and kept; duplicates of a machine are deleted, the oldest kept', async () => {
  const { f, c } = await clouds();
  const a = (await createMachineOnce(c, UID, droplet('m1'))).droplet;
  const b = (await createMachineOnce(c, UID, droplet('m2'))).droplet;
  clock += 1_000;
  // A second droplet for m1, as a repeated create whose first answer was lost would leave.
  const [dup] = (await c.compute.createDroplets([droplet('m1')])).data;
  c.droplets.invalidate(ownerTag(UID));
  f.hiddenFromLists.add(b.id);
  const removed: number[] = [];
  const kept = await ownedMachines(c, UID, [a.id, b.id], async (x) => removed.push(x.id));
  assert.deepEqual(kept.map((x) => x.id).sort(), [a.id, b.id].sort(), 'm2 kept though the listing missed it');
  assert.deepEqual(removed, [dup!.id]);
  assert.equal(f.droplets.has(dup!.id), false);
  await c.compute.deleteDroplet(b.id);
  // (A droplet this process created counts as existing for five minutes whatever lists say: right after a
  // create even GET by id may 404, OpenRouterLabs/spawn#2695.)
  clock += 300_001;
  assert.deepEqual((await ownedMachines(c, UID, [a.id, b.id], async () => undefined)).map((x) => x.id), [a.id], 'gone once DigitalOcean says 404');
});

test('drift of droplets: one deleted outside hardway, one whose owner tag was taken off; not one this process deleted', async () => {
  const { f, c } = await clouds();
  const [a, b, d] = [(await createMachineOnce(c, UID, droplet('m1'))).droplet, (await createMachineOnce(c, UID, droplet('m2'))).droplet, (await createMachineOnce(c, UID, droplet('m3'))).droplet];
  clock += 300_001;
  f.droplets.delete(a.id); // the DigitalOcean console
  f.droplets.get(b.id)!.tags = f.droplets.get(b.id)!.tags.filter((t) => t !== ownerTag(UID));
  await deleteMachine(c, UID, d.id); // the operator's own
  clock += 300_001;
  const lost: [number, string][] = [];
  const kept = await ownedMachines(c, UID, [a.id, b.id, d.id], async () => undefined, async (id, how) => void lost.push([id, how]));
  assert.deepEqual(kept, []);
  assert.deepEqual(lost, [
    [a.id, 'deleted'],
    [b.id, 'untagged'],
  ]);
  assert.ok(f.droplets.has(b.id), 'what no longer carries the owner tag is not deleted');
});

test('after a restart, a droplet status showed as Deleting is the operator\'s own deletion: not reported; one it showed Running is', async () => {
  const { f, c } = await clouds();
  const [a, b] = [(await createMachineOnce(c, UID, droplet('m1'))).droplet, (await createMachineOnce(c, UID, droplet('m2'))).droplet];
  clock += 300_001;
  f.droplets.delete(a.id); // deleted by the previous process, which stopped before it wrote status again
  f.droplets.delete(b.id); // the DigitalOcean console
  // A new process: its caches remember no deletion.
  const fresh = cloudsFor(c.compute, c.dns, { now: () => clock });
  const events: string[] = [];
  const rec = { record: async (_o: unknown, type: string, reason: string, message: string) => void events.push(`${type} ${reason}: ${message}`) };
  const o = { metadata: { name: 'demo', namespace: 'ns', uid: UID } };
  const known = [
    { name: 'm1', dropletID: a.id, phase: 'Deleting' as const },
    { name: 'm2', dropletID: b.id, phase: 'Running' as const },
  ];
  assert.deepEqual(await ownedMachinesReported(rec, o, fresh, known), []);
  assert.deepEqual(events, [`Warning Drifted: droplet ${b.id} (m2) was deleted outside hardway`]);
});
