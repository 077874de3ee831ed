// The EtcdCluster controller converging against the cloud fakes, with real etcd members booted by the
// node simulator from the user-data the controller rendered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { etcdHarness, condition } from '../helpers/etcd-harness.ts';
import { EtcdClusters, Secrets } from '../../src/kube/resources.ts';

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
    assert.deepEqual([...h.dns.records.values()].map((r) => r.name).sort(), members.map((m) => m.dnsName).sort());
    assert.equal(h.compute.firewalls.size, 1);
    const secrets = (await h.kube.list(Secrets, { namespace: 'ns', labelSelector: 'hardway.dev/etcdcluster=demo' })).items.map((s) => s.metadata.name);
    assert.ok(secrets.includes('demo-etcd-ca') && secrets.includes('demo-etcd-client-operator') && secrets.includes('demo-etcd-client-apiserver'));
    assert.deepEqual(h.compute.violations, []);
    assert.deepEqual(h.dns.violations, []);
  } finally {
    await h.stop();
  }
});
