// The EtcdCluster controller converging against the cloud fakes, with real etcd members booted by the
// node simulator from the user-data the controller rendered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { etcdHarness, condition, type Cluster } from '../helpers/etcd-harness.ts';
import { EtcdClusters, Secrets, Events } from '../../src/kube/resources.ts';
import { readSecret } from '../../src/controllers/secrets.ts';
import { issuedBy } from '../../src/pki/certs.ts';
import { certificateServes } from '../../src/pki/etcd.ts';

test('from nothing to a Ready 3-member cluster: droplets, DNS, firewall, certificates, conditions', { timeout: 180_000 }, async () => {
  const h = await etcdHarness();
  try {
    await h.kube.create(EtcdClusters, h.sample('demo', 3));
    const ready = await h.until('demo', 'Ready', (o) => condition(o, 'Ready')?.status === 'True', 150_000);
    assert.equal(condition(ready, 'EtcdClusterHealthy')!.message, '3/3 members healthy, quorum needs 2');
    for (const type of ['CertificatesAvailable', 'MachinesProvisioned', 'DNSReady', 'EtcdClusterHealthy']) assert.equal(condition(ready, type)?.status, 'True', type);
    for (const type of ['ScalingUp', 'ScalingDown', 'RollingOut', 'Paused', 'Deleting']) assert.equal(condition(ready, type)?.status, 'False', type);
    assert.equal(ready!.status!.conditions![0]!.type, 'Ready');
    const members = ready!.status!.members!;
    assert.equal(members.length, 3);
    assert.equal(members.filter((m) => m.leader).length, 1);
    assert.ok(members.every((m) => m.healthy && m.memberID && /^127\.1\d\./.test(m.privateIP!) && m.dnsName === `${m.name}.example.com`));
    assert.deepEqual(ready!.status!.clientEndpoints, members.map((m) => `https://${m.name}.example.com:2379`));
    assert.equal(h.compute.droplets.size, 3, 'exactly three droplets: never a duplicate');
    assert.deepEqual([...h.dns.records.values()].filter((r) => r.name !== 'demo-etcd.example.com').map((r) => r.name).sort(), members.map((m) => m.dnsName).sort());
    // The cluster endpoint: one name listing every member, carried by every member's server certificate.
    assert.equal(ready!.status!.clientEndpoint, 'https://demo-etcd.example.com:2379');
    assert.deepEqual([...h.dns.records.values()].filter((r) => r.name === 'demo-etcd.example.com').map((r) => r.content).sort(), members.map((m) => m.privateIP).sort());
    for (const m of members) assert.ok(certificateServes((await readSecret(h.kube, 'ns', m.name))!['server.crt']!, 'demo-etcd.example.com'), m.name);
    assert.equal(h.compute.firewalls.size, 1);
    const secrets = (await h.kube.list(Secrets, { namespace: 'ns', labelSelector: 'hardway.dev/etcdcluster=demo' })).items.map((s) => s.metadata.name);
    assert.ok(secrets.includes('demo-etcd-ca') && secrets.includes('demo-etcd-client-operator') && secrets.includes('demo-etcd-client-apiserver'));
    // Peers have their own CA: each member's peer certificate is from it, and its peer port trusts it alone.
    assert.ok(secrets.includes('demo-etcd-peer-ca'));
    const read = async (name: string) => (await readSecret(h.kube, 'ns', name))!;
    const peerCA = (await read('demo-etcd-peer-ca'))['tls.crt']!;
    for (const m of members) {
      const s = await read(m.name);
      assert.equal(s['peer-ca.crt'], peerCA, m.name);
      assert.ok(issuedBy(s['peer.crt']!, peerCA) && !issuedBy(s['peer.crt']!, s['ca.crt']!), `${m.name}: peer certificate from the peer CA only`);
    }
    // The firewall: peers (2380) from the members only; clients (2379) also from control-plane droplets.
    const uid = ready!.metadata.uid!;
    const [fw] = [...h.compute.firewalls.values()] as unknown as { inbound_rules: { ports: string; sources: { tags?: string[]; addresses?: string[] } }[] }[];
    const from = (port: string) => fw!.inbound_rules.filter((r) => r.ports === port).flatMap((r) => [...(r.sources.tags ?? []), ...(r.sources.addresses ?? [])]).sort();
    assert.deepEqual(from('2380'), [`hardway:owner:${uid}`]);
    assert.ok(from('2379').includes(`hardway:etcd-client:${uid}`));
    assert.ok(!fw!.inbound_rules.some((r) => r.ports.includes('-')), 'no port range spans both');
    assert.deepEqual(h.compute.violations, []);
    assert.deepEqual(h.dns.violations, []);
  } finally {
    await h.stop();
  }
});

test('paused, invalid, and without (or with refused) credentials: clear conditions, nothing created', { timeout: 60_000 }, async () => {
  const h = await etcdHarness();
  try {
    const paused = h.sample('paused');
    paused.metadata.annotations = { 'hardway.dev/paused': 'true' };
    await h.kube.create(EtcdClusters, paused);
    const p = await h.until('paused', 'Paused', (o) => condition(o, 'Paused')?.status === 'True');
    assert.equal(condition(p, 'Paused')!.reason, 'Paused');

    const invalid = h.sample('invalid');
    (invalid.spec as { replicas: number }).replicas = 4;
    await h.kube.create(EtcdClusters, invalid);
    const i = await h.until('invalid', 'InvalidSpec', (o) => condition(o, 'Ready')?.reason === 'InvalidSpec');
    assert.match(condition(i, 'Ready')!.message!, /spec\.replicas: must be one of 1, 3, 5, 7; got 4/);

    const nocreds = h.sample('nocreds');
    nocreds.spec.credentialsRef.name = 'missing';
    await h.kube.create(EtcdClusters, nocreds);
    const n = await h.until('nocreds', 'CredentialsNotFound', (o) => condition(o, 'Ready')?.reason === 'CredentialsNotFound');
    assert.equal(condition(n, 'Ready')!.message, 'Secret ns/missing does not exist');

    await h.kube.create(Secrets, { metadata: { name: 'wrong', namespace: 'ns' }, data: { 'digitalocean-token': Buffer.from('dop_v1_wrong').toString('base64'), 'cloudflare-api-token': Buffer.from('cf-harness').toString('base64') } });
    const wrong = h.sample('wrong');
    wrong.spec.credentialsRef.name = 'wrong';
    await h.kube.create(EtcdClusters, wrong);
    const w = await h.until('wrong', 'CredentialsInvalid', (o) => condition(o, 'Ready')?.reason === 'CredentialsInvalid');
    assert.match(condition(w, 'Ready')!.message!, /the digitalocean token in Secret wrong was refused/);
    assert.ok(!JSON.stringify(w!.status).includes('dop_v1_wrong'), 'the token never appears in status');

    assert.equal(h.compute.droplets.size, 0, 'nothing was created for any of them');
  } finally {
    await h.stop();
  }
});

test('heal a dead node and a droplet deleted out of band, scale 3→1 step by step, then delete everything', { timeout: 300_000 }, async () => {
  const h = await etcdHarness();
  const healthHistory = h.history((o) => condition(o, 'EtcdClusterHealthy')?.message);
  try {
    await h.kube.create(EtcdClusters, h.sample('demo', 3));
    const ready = await h.until('demo', 'Ready', (o) => condition(o, 'Ready')?.status === 'True', 150_000);
    const original = ready!.status!.members!.map((m) => m.name);

    // A node dies (its droplet stays): noticed, then replaced once unhealthy for long enough.
    const victim = ready!.status!.members!.find((m) => !m.leader)!.name;
    await h.sim.kill(victim);
    await h.until('demo', 'noticed', (o) => /^2\/3 members healthy/.test(condition(o, 'EtcdClusterHealthy')?.message ?? ''), 30_000);
    const healed = await h.until('demo', 'healed', (o) => condition(o, 'Ready')?.status === 'True' && !o!.status!.members!.some((m) => m.name === victim), 120_000);
    assert.equal(healed!.status!.members!.length, 3);
    assert.ok(![...h.compute.droplets.values()].some((d) => d.name === victim), 'the dead member’s droplet was deleted');

    // A droplet that one listing leaves out (DigitalOcean's lists lag) is asked for by id and kept: no
    // member is removed, no droplet or record is replaced, on the word of one listing.
    const lagging = healed!.status!.members!.find((m) => !m.leader)!;
    h.compute.hiddenFromLists.add(lagging.dropletID!);
    const asked = () => h.compute.calls.filter((c) => c.method === 'GET' && c.path === `/v2/droplets/${lagging.dropletID}`).length;
    await h.until('demo', 'asked by id twice', () => asked() >= 2, 30_000);
    h.compute.hiddenFromLists.clear();
    const kept = await h.until('demo', 'still Ready', (o) => condition(o, 'Ready')?.status === 'True', 30_000);
    assert.deepEqual(kept!.status!.members!.map((m) => m.name).sort(), healed!.status!.members!.map((m) => m.name).sort(), 'the lagging member stayed');
    assert.ok(h.compute.droplets.has(lagging.dropletID!));

    // A droplet deleted behind our back: its member is removed and replaced.
    const gone = healed!.status!.members!.find((m) => !m.leader)!;
    h.compute.droplets.delete(gone.dropletID!);
    const again = await h.until('demo', 'replaced', (o) => condition(o, 'Ready')?.status === 'True' && !o!.status!.members!.some((m) => m.name === gone.name), 120_000);
    assert.equal(again!.status!.members!.length, 3);

    // 3 → 1, one member at a time.
    const replicaCounts = h.history((o) => o.status?.members?.length);
    await h.kube.mergePatch(EtcdClusters, { namespace: 'ns', name: 'demo' }, { spec: { replicas: 1 } });
    await h.until('demo', 'scaling down', (o) => condition(o, 'ScalingDown')?.status === 'True', 30_000);
    const one = await h.until('demo', '1 member', (o) => condition(o, 'Ready')?.status === 'True' && o!.status!.members!.length === 1 && o!.metadata.generation === o!.status!.observedGeneration, 120_000);
    assert.deepEqual(replicaCounts.filter((n) => n < 3), [2, 1], 'one step at a time');
    assert.equal(condition(one, 'EtcdClusterHealthy')!.message, '1/1 members healthy, quorum needs 1');
    assert.equal(h.compute.droplets.size, 1);
    const left = [...h.dns.records.values()];
    assert.deepEqual(left.map((r) => r.name).sort(), [one!.status!.members![0]!.dnsName, 'demo-etcd.example.com'].sort(), 'records of removed members deleted');
    assert.deepEqual(left.map((r) => r.content), [one!.status!.members![0]!.privateIP, one!.status!.members![0]!.privateIP], 'the cluster endpoint lists the one member left');

    // Quorum held throughout: never fewer healthy voters than a majority.
    for (const m of healthHistory) {
      const [, healthy, , need] = m.match(/^(\d+)\/(\d+) members healthy, quorum needs (\d+)$/) ?? [];
      if (healthy) assert.ok(Number(healthy) >= Number(need), `quorum lost: ${m} (history: ${healthHistory.join(' | ')})`);
    }
    assert.ok(original.length === 3);

    // Delete: DNS, firewall, droplets and Secrets go, then the object.
    await h.kube.delete(EtcdClusters, { namespace: 'ns', name: 'demo' });
    await h.until('demo', 'deleted', (o) => o === undefined, 60_000);
    assert.equal(h.compute.droplets.size, 0);
    assert.equal(h.dns.records.size, 0);
    assert.equal(h.compute.firewalls.size, 0);
    assert.deepEqual((await h.kube.list(Secrets, { namespace: 'ns', labelSelector: 'hardway.dev/etcdcluster=demo' })).items, []);
    assert.deepEqual(h.compute.violations, []);
    assert.deepEqual(h.dns.violations, []);
  } finally {
    await h.stop();
  }
});

test('every cloud write answered by a lost connection, the operator restarted twice, 429 and 5xx storms: no duplicate, same result', { timeout: 300_000 }, async () => {
  const h = await etcdHarness();
  try {
    // Every create, update and delete is carried out, but the answer never arrives.
    h.compute.loseResponses(1_000, (m) => m !== 'GET');
    h.dns.loseResponses(1_000, (m) => m !== 'GET');
    // And the first reads meet 5xx storms (retried) and a burst limit (requeued after retry-after).
    h.compute.failNext(6, 503, (m) => m === 'GET');
    h.compute.burstRetryAfterSeconds = 1;
    await h.kube.create(EtcdClusters, h.sample('demo', 3));
    await h.until('demo', 'rate limited', () => h.lines.some((l) => l.msg === 'rate limited; requeueing'), 30_000);
    h.compute.burstRetryAfterSeconds = undefined;
    await h.until('demo', 'first droplet', () => h.compute.droplets.size >= 1, 60_000);
    await h.restart();
    await h.until('demo', 'second droplet', () => h.compute.droplets.size >= 2, 90_000);
    await h.restart();
    const ready = await h.until('demo', 'Ready', (o) => condition(o, 'Ready')?.status === 'True', 200_000);
    assert.equal(ready!.status!.members!.length, 3);
    assert.equal(h.compute.droplets.size, 3, 'exactly three droplets: a lost answer never became a second droplet');
    assert.equal(new Set([...h.compute.droplets.values()].map((d) => d.name)).size, 3);
    const records = [...h.dns.records.values()].map((r) => `${r.name} ${r.content}`);
    assert.equal(records.length, 6, 'exactly one record per member and one per member in the cluster endpoint (81058 adopted, not duplicated)');
    assert.equal(new Set(records).size, 6);
    assert.equal(h.compute.firewalls.size, 1);
    assert.deepEqual(h.compute.violations, []);
    assert.deepEqual(h.dns.violations, []);
  } finally {
    await h.stop();
  }
});

test('a version change rolls members one at a time: surge a new one, then remove an old one', { timeout: 200_000 }, async () => {
  const h = await etcdHarness();
  try {
    await h.kube.create(EtcdClusters, h.sample('roll', 1));
    const first = await h.until('roll', 'Ready', (o) => condition(o, 'Ready')?.status === 'True', 60_000);
    const old = first!.status!.members![0]!.name;
    const sizes = h.history((o) => o.status?.members?.length);
    await h.kube.mergePatch(EtcdClusters, { namespace: 'ns', name: 'roll' }, { spec: { version: '3.6.4' } });
    await h.until('roll', 'rolling', (o) => condition(o, 'RollingOut')?.status === 'True', 30_000);
    const rolled = await h.until('roll', 'rolled', (o) => condition(o, 'Ready')?.status === 'True' && o!.status!.updatedReplicas === 1 && o!.status!.members!.length === 1 && o!.status!.members![0]!.name !== old, 150_000);
    assert.ok(sizes.includes(2), `surged to two members first (sizes seen: ${sizes.join(',')})`);
    assert.ok(![...h.compute.droplets.values()].some((d) => d.name === old), 'the old member’s droplet is gone');
    assert.ok([...h.compute.droplets.values()].every((d) => d.tags.includes('hardway:version:3-6-4')));
    assert.equal(condition(rolled, 'RollingOut')!.status, 'False');
  } finally {
    await h.stop();
  }
});

test('scale 3 → 5 → 3, one member at a time', { timeout: 300_000 }, async () => {
  const h = await etcdHarness();
  try {
    await h.kube.create(EtcdClusters, h.sample('wide', 3));
    await h.until('wide', 'Ready at 3', (o) => condition(o, 'Ready')?.status === 'True', 150_000);
    const voters = h.history((o) => o.status?.readyReplicas);
    await h.kube.mergePatch(EtcdClusters, { namespace: 'ns', name: 'wide' }, { spec: { replicas: 5 } });
    const five = await h.until('wide', 'Ready at 5', (o) => condition(o, 'Ready')?.status === 'True' && o!.status!.readyReplicas === 5, 150_000);
    assert.equal(condition(five, 'EtcdClusterHealthy')!.message, '5/5 members healthy, quorum needs 3');
    await h.kube.mergePatch(EtcdClusters, { namespace: 'ns', name: 'wide' }, { spec: { replicas: 3 } });
    await h.until('wide', 'Ready at 3 again', (o) => condition(o, 'Ready')?.status === 'True' && o!.status!.readyReplicas === 3 && o!.status!.members!.length === 3, 150_000);
    assert.deepEqual(voters.filter((n) => n >= 3), [3, 4, 5, 4, 3], 'one voter at a time, up and down');
    assert.equal(h.compute.droplets.size, 3);
  } finally {
    await h.stop();
  }
});

test('deletion waits for a ControlPlane that uses the cluster, and completes when resources are already gone', { timeout: 120_000 }, async () => {
  let users = ['demo-cp'];
  const h = await etcdHarness({ dependents: () => users });
  try {
    await h.kube.create(EtcdClusters, h.sample('used', 1));
    await h.until('used', 'Ready', (o) => condition(o, 'Ready')?.status === 'True', 60_000);
    await h.kube.delete(EtcdClusters, { namespace: 'ns', name: 'used' });
    const waiting = await h.until('used', 'waiting', (o) => condition(o, 'Deleting')?.reason === 'WaitingForDependents', 30_000);
    assert.match(condition(waiting, 'Deleting')!.message!, /ControlPlane demo-cp still uses this etcd cluster/);
    assert.equal(h.compute.droplets.size, 1, 'nothing deleted while in use');
    // Someone already removed the DNS record and the firewall by hand: 404s are fine.
    h.dns.records.clear();
    h.compute.firewalls.clear();
    users = [];
    await h.until('used', 'gone', (o) => o === undefined, 60_000);
    assert.equal(h.compute.droplets.size, 0);
  } finally {
    await h.stop();
  }
});

test('a new member that never joins is removed and retried with backoff; after three tries RetriesExhausted, no fourth; a spec change starts afresh', { timeout: 200_000 }, async () => {
  const h = await etcdHarness({ timing: { joinTimeoutMs: 3_000, joinBackoffMs: 1_000 } });
  let breaking = true;
  const killed = new Set<string>();
  let killer: NodeJS.Timeout | undefined;
  try {
    await h.kube.create(EtcdClusters, h.sample('join', 1));
    const first = await h.until('join', 'Ready', (o) => condition(o, 'Ready')?.status === 'True', 60_000);
    const seed = first!.status!.members![0]!.name;
    // Every new droplet dies as it boots: its member never joins.
    killer = setInterval(() => {
      if (!breaking) return;
      for (const d of h.compute.droplets.values()) {
        if (d.name === seed || killed.has(d.name)) continue;
        killed.add(d.name);
        void h.sim.kill(d.name);
      }
    }, 10);
    await h.kube.mergePatch(EtcdClusters, { namespace: 'ns', name: 'join' }, { spec: { replicas: 3 } });
    const gaveUp = await h.until('join', 'gave up', (o) => condition(o, 'Ready')?.reason === 'RetriesExhausted', 120_000);
    assert.equal(gaveUp!.status!.joinFailures!.count, 3);
    assert.equal(gaveUp!.status!.joinFailures!.generation, gaveUp!.metadata.generation);
    assert.match(condition(gaveUp, 'Ready')!.message!, /^3 new members in a row did not become healthy; the last, join-etcd-\w{5}: .+\. None is created until the spec changes/);
    assert.equal(killed.size, 3, 'three tries');
    // Ten more reconciles: no fourth droplet, and the one seed still serves.
    const observed = () => h.lines.filter((l) => l.msg === 'observed').length;
    const mark = observed();
    await h.until('join', 'ten more reconciles', () => observed() >= mark + 10, 60_000);
    assert.equal(killed.size, 3, 'no fourth try');
    assert.deepEqual([...h.compute.droplets.values()].map((d) => d.name), [seed]);
    const failures = h.lines.filter((l) => l.msg === 'a new member did not join');
    assert.deepEqual(failures.map((l) => l.failures), [1, 2, 3]);
    const events = (await h.kube.list<{ metadata: { name: string }; reason: string; message: string }>(Events, { namespace: 'ns' })).items;
    assert.equal(events.filter((e) => e.reason === 'MemberJoinFailed').length, 3);
    assert.ok(events.some((e) => e.reason === 'RetriesExhausted'));

    // The fix is a spec change (here a bigger size): the count starts afresh and members join.
    breaking = false;
    await h.kube.mergePatch(EtcdClusters, { namespace: 'ns', name: 'join' }, { spec: { machine: { size: 's-4vcpu-8gb' } } });
    const grown = await h.until('join', 'three members', (o) => condition(o, 'Ready')?.status === 'True' && o!.status!.members!.length === 3 && o!.status!.observedGeneration === o!.metadata.generation, 120_000);
    assert.equal(grown!.status!.joinFailures, undefined, 'a join that worked clears the count');
  } finally {
    clearInterval(killer);
    await h.stop();
  }
});

test('every member lost: no empty cluster is seeded in its place (ClusterLost) until accept-data-loss names the lost cluster', { timeout: 200_000 }, async () => {
  const h = await etcdHarness();
  try {
    await h.kube.create(EtcdClusters, h.sample('lost', 1));
    const ready = await h.until('lost', 'Ready with its cluster ID', (o) => condition(o, 'Ready')?.status === 'True' && !!o!.status!.clusterID, 60_000);
    const id = ready!.status!.clusterID!;
    assert.match(id, /^[0-9a-f]+$/);
    // The only droplet is deleted behind the operator's back: the data is gone with it.
    for (const d of [...h.compute.droplets.values()]) h.compute.droplets.delete(d.id);
    const lost = await h.until('lost', 'ClusterLost', (o) => condition(o, 'Ready')?.reason === 'ClusterLost', 60_000);
    assert.equal(
      condition(lost, 'Ready')!.message,
      `every member of etcd cluster ${id} is gone: its data is lost unless a snapshot of it exists (its CA Secrets survive). Nothing is created, so that an empty cluster does not silently take its place. To restore the newest snapshot: kubectl patch etcdcluster lost --type=merge -p '{"spec":{"restore":{}}}' (spec.restore.storage, or spec.backup's). To start an empty cluster instead: kubectl annotate etcdcluster lost hardway.dev/accept-data-loss=${id}`,
    );
    const observed = () => h.lines.filter((l) => l.msg === 'observed').length;
    const mark = observed();
    await h.until('lost', 'ten more reconciles', () => observed() >= mark + 10, 60_000);
    assert.equal(h.compute.droplets.size, 0, 'nothing was seeded');
    assert.equal((await h.kube.get<Cluster>(EtcdClusters, { namespace: 'ns', name: 'lost' })).status!.clusterID, id, 'the lost cluster is remembered');

    // A wrong ID changes nothing; the right one lets a new, empty cluster be seeded.
    await h.kube.mergePatch(EtcdClusters, { namespace: 'ns', name: 'lost' }, { metadata: { annotations: { 'hardway.dev/accept-data-loss': 'not-it' } } });
    const mark2 = observed();
    await h.until('lost', 'ten more reconciles', () => observed() >= mark2 + 10, 60_000);
    assert.equal(h.compute.droplets.size, 0);
    await h.kube.mergePatch(EtcdClusters, { namespace: 'ns', name: 'lost' }, { metadata: { annotations: { 'hardway.dev/accept-data-loss': id } } });
    const again = await h.until('lost', 'a new cluster', (o) => condition(o, 'Ready')?.status === 'True' && !!o!.status!.clusterID && o!.status!.clusterID !== id, 90_000);
    assert.equal(again!.status!.members!.length, 1);
  } finally {
    await h.stop();
  }
});
