import { test } from 'node:test';
import assert from 'node:assert/strict';
import { etcdFirewallSpec } from './reconciler.ts';
import { validateEtcdCluster, type EtcdCluster } from '../../api/v1alpha1/index.ts';
import { ownerTag, etcdClientTag } from '../../cloud/tags.ts';
import { sampleOf } from '../../../test/helpers/samples.ts';

const UID = '6f1c2d3e-0000-4000-8000-000000000001';
const cluster = (firewall?: EtcdCluster['spec']['firewall']): EtcdCluster => {
  const o = sampleOf('EtcdCluster') as unknown as EtcdCluster;
  o.metadata = { ...o.metadata, namespace: 'ns', uid: UID };
  if (firewall) o.spec.firewall = firewall;
  return validateEtcdCluster(o).object;
};

/** Who may reach a port, per the inbound rules: tags and addresses. */
const sources = (fw: ReturnType<typeof etcdFirewallSpec>, port: number) =>
  fw.inbound
    .filter((r) => r.protocol === 'tcp' && (r.ports === String(port) || (r.ports.includes('-') && Number(r.ports.split('-')[0]) <= port && port <= Number(r.ports.split('-')[1]))))
    .flatMap((r) => [...(r.targets.tags ?? []), ...(r.targets.addresses ?? [])])
    .sort();

test('firewall: peers (2380) from the members only; clients (2379) from members, control planes and managementCIDRs', () => {
  const fw = etcdFirewallSpec(cluster());
  assert.equal(fw.name, 'hardway-ns-demo-etcd');
  assert.deepEqual(fw.tags, [ownerTag(UID)]);
  assert.deepEqual(sources(fw, 2380), [ownerTag(UID)], 'control-plane droplets cannot reach the peer port');
  assert.deepEqual(sources(fw, 2379), [ownerTag(UID), etcdClientTag(UID), '198.51.100.7/32'].sort());
  assert.deepEqual(sources(fw, 22), ['203.0.113.0/24']);
  assert.deepEqual(
    fw.inbound.map((r) => r.ports),
    ['2379', '2380', '2379', '22'],
  );
});

test('firewall without management or admin CIDRs: only the tag rules', () => {
  const fw = etcdFirewallSpec(cluster({}));
  assert.deepEqual(fw.inbound, [
    { protocol: 'tcp', ports: '2379', targets: { tags: [ownerTag(UID), etcdClientTag(UID)] } },
    { protocol: 'tcp', ports: '2380', targets: { tags: [ownerTag(UID)] } },
  ]);
  assert.deepEqual(sources(fw, 2380), [ownerTag(UID)]);
});
