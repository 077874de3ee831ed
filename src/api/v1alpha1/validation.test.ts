import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { loadSamples, sampleOf } from '../../../test/helpers/samples.ts';
import { validateObject, validateControlPlane, validateWorkerPool, formatProblems, maxObjectNameLength } from './index.ts';

describe('samples', () => {
  const objects = loadSamples().filter((s) => s.object.apiVersion === 'hardway.dev/v1alpha1');

  test('cover every kind with the sizes the docs promise', () => {
    const byKind = Object.fromEntries(objects.map((s) => [s.object.kind, s.object.spec as { replicas: number }]));
    assert.equal(byKind.EtcdCluster?.replicas, 3);
    assert.equal(byKind.ControlPlane?.replicas, 3);
    assert.equal(byKind.WorkerPool?.replicas, 2);
    assert.ok(loadSamples().some((s) => s.object.kind === 'Secret'), 'a credentials Secret template is included');
  });

  for (const { file, object } of objects) {
    test(`${file} passes the operator's validation`, () => {
      const { problems } = validateObject(object);
      assert.deepEqual(problems, []);
    });
  }
});

describe('defaulting', () => {
  test('fills nested defaults of defaulted objects, as the API server does', () => {
    const cp = sampleOf('ControlPlane');
    delete cp.spec.network;
    delete cp.spec.firewall;
    delete cp.spec.encryptionAtRest;
    delete cp.spec.replicas;
    (cp.spec.machine as Record<string, unknown>).image = undefined;
    const { object, problems } = validateControlPlane(cp);
    assert.deepEqual(problems, []);
    assert.deepEqual(object.spec.network, { podCIDR: '10.200.0.0/16', serviceCIDR: '10.32.0.0/24', clusterDomain: 'cluster.local', cni: 'flannel' });
    assert.deepEqual(object.spec.firewall, { apiCIDRs: ['0.0.0.0/0', '::/0'] });
    assert.equal(object.spec.encryptionAtRest, true);
    assert.equal(object.spec.replicas, 3);
    assert.equal(object.spec.machine.image, 'ubuntu-24-04-x64');
  });

  test('keeps values the user set and does not modify the input', () => {
    const wp = sampleOf('WorkerPool');
    wp.spec.rollout = { maxSurge: '50%' };
    const before = structuredClone(wp);
    const { object } = validateWorkerPool(wp);
    assert.deepEqual(object.spec.rollout, { maxSurge: '50%', maxUnavailable: 0 });
    assert.deepEqual(wp, before);
  });
});

/** Sets a dotted path (with [i] indexes) in an object, creating nothing: the path must exist up to its parent. */
function set(obj: Record<string, unknown>, path: string, value: unknown) {
  const keys = path.replace(/\[(\d+)\]/g, '.$1').split('.');
  let cur: Record<string, unknown> = obj;
  for (const k of keys.slice(0, -1)) cur = cur[k] as Record<string, unknown>;
  const last = keys.at(-1)!;
  if (value === undefined) delete cur[last];
  else cur[last] = value;
}

interface BadCase {
  name: string;
  kind: 'EtcdCluster' | 'ControlPlane' | 'WorkerPool';
  changes: Record<string, unknown>;
  path: string;
  /** A fragment the message must contain, so it says what to do. */
  says: string;
}

const long = (n: number) => 'a'.repeat(n);

const BAD: BadCase[] = [
  // EtcdCluster
  { name: 'even etcd replicas', kind: 'EtcdCluster', changes: { 'spec.replicas': 4 }, path: 'spec.replicas', says: 'one of 1, 3, 5, 7' },
  { name: 'zero etcd replicas', kind: 'EtcdCluster', changes: { 'spec.replicas': 0 }, path: 'spec.replicas', says: 'one of' },
  { name: 'replicas as a string', kind: 'EtcdCluster', changes: { 'spec.replicas': '3' }, path: 'spec.replicas', says: 'must be an integer' },
  { name: 'etcd version with v', kind: 'EtcdCluster', changes: { 'spec.version': 'v3.5.21' }, path: 'spec.version', says: 'no leading "v"' },
  { name: 'unsupported etcd minor', kind: 'EtcdCluster', changes: { 'spec.version': '3.4.30' }, path: 'spec.version', says: '3.5.x or 3.6.x' },
  { name: 'missing etcd version', kind: 'EtcdCluster', changes: { 'spec.version': undefined }, path: 'spec.version', says: 'is required' },
  { name: 'bad region', kind: 'EtcdCluster', changes: { 'spec.machine.region': 'Frankfurt' }, path: 'spec.machine.region', says: 'region slug' },
  { name: 'missing machine', kind: 'EtcdCluster', changes: { 'spec.machine': undefined }, path: 'spec.machine', says: 'is required' },
  { name: 'ssh key neither id nor fingerprint', kind: 'EtcdCluster', changes: { 'spec.machine.sshKeys': ['ssh-ed25519 AAAA'] }, path: 'spec.machine.sshKeys[0]', says: 'fingerprint' },
  { name: 'duplicate ssh keys', kind: 'EtcdCluster', changes: { 'spec.machine.sshKeys': ['123', '123'] }, path: 'spec.machine.sshKeys[1]', says: 'duplicates' },
  { name: 'tag with a dot', kind: 'EtcdCluster', changes: { 'spec.machine.tags': ['team.platform'] }, path: 'spec.machine.tags[0]', says: 'no dots' },
  { name: 'reserved tag prefix', kind: 'EtcdCluster', changes: { 'spec.machine.tags': ['hardway:owner:x'] }, path: 'spec.machine.tags[0]', says: 'reserved' },
  { name: 'bad VPC UUID', kind: 'EtcdCluster', changes: { 'spec.machine.vpcUUID': 'default' }, path: 'spec.machine.vpcUUID', says: 'VPC UUID' },
  { name: 'zone without a dot', kind: 'EtcdCluster', changes: { 'spec.dns.zone': 'localhost' }, path: 'spec.dns.zone', says: 'domain' },
  { name: 'zone in upper case', kind: 'EtcdCluster', changes: { 'spec.dns.zone': 'Example.COM' }, path: 'spec.dns.zone', says: 'lowercase domain' },
  { name: 'zone too long for member names', kind: 'EtcdCluster', changes: { 'spec.dns.zone': `${long(60)}.${long(60)}.${long(60)}.example.com` }, path: 'spec.dns.zone', says: 'at most 189' },
  { name: 'zone that is an IP', kind: 'EtcdCluster', changes: { 'spec.dns.zone': '10.0.0.1' }, path: 'spec.dns.zone', says: 'domain' },
  { name: 'name too long for droplet names', kind: 'EtcdCluster', changes: { 'metadata.name': long(53) }, path: 'metadata.name', says: `at most ${maxObjectNameLength('EtcdCluster')}` },
  { name: 'name with a dot', kind: 'EtcdCluster', changes: { 'metadata.name': 'prod.eu' }, path: 'metadata.name', says: 'DNS-1123 label' },
  { name: 'admin CIDR with host bits', kind: 'EtcdCluster', changes: { 'spec.firewall.adminCIDRs': ['203.0.113.7/24'] }, path: 'spec.firewall.adminCIDRs[0]', says: '203.0.113.0/24' },
  { name: 'management CIDR octet out of range', kind: 'EtcdCluster', changes: { 'spec.firewall.managementCIDRs': ['198.51.100.300/32'] }, path: 'spec.firewall.managementCIDRs[0]', says: 'invalid IPv4 address' },
  { name: 'unknown field (typo)', kind: 'EtcdCluster', changes: { 'spec.replica': 3 }, path: 'spec.replica', says: 'not a known field' },
  { name: 'empty credentials name', kind: 'EtcdCluster', changes: { 'spec.credentialsRef.name': '' }, path: 'spec.credentialsRef.name', says: 'must not be empty' },
  // ControlPlane
  { name: 'kubernetes version without v', kind: 'ControlPlane', changes: { 'spec.version': '1.34.2' }, path: 'spec.version', says: 'leading "v"' },
  { name: 'unsupported kubernetes minor', kind: 'ControlPlane', changes: { 'spec.version': 'v1.29.0' }, path: 'spec.version', says: '1.32.x' },
  { name: 'zero control-plane replicas', kind: 'ControlPlane', changes: { 'spec.replicas': 0 }, path: 'spec.replicas', says: 'at least 1' },
  { name: 'endpoint host outside the zone', kind: 'ControlPlane', changes: { 'spec.endpoint.host': 'api.example.org' }, path: 'spec.endpoint.host', says: 'not inside spec.dns.zone' },
  { name: 'endpoint host that only ends like the zone', kind: 'ControlPlane', changes: { 'spec.endpoint.host': 'api.notexample.com' }, path: 'spec.endpoint.host', says: 'not inside' },
  { name: 'unknown endpoint mode', kind: 'ControlPlane', changes: { 'spec.endpoint.mode': 'NodePort' }, path: 'spec.endpoint.mode', says: '"DNS", "LoadBalancer"' },
  { name: 'pod CIDR that does not parse', kind: 'ControlPlane', changes: { 'spec.network.podCIDR': '10.200.0.0' }, path: 'spec.network.podCIDR', says: 'IPv4 CIDR' },
  { name: 'pod CIDR with a bad prefix', kind: 'ControlPlane', changes: { 'spec.network.podCIDR': '10.200.0.0/33' }, path: 'spec.network.podCIDR', says: 'invalid prefix length' },
  { name: 'service CIDR overlapping pod CIDR', kind: 'ControlPlane', changes: { 'spec.network.serviceCIDR': '10.200.16.0/24' }, path: 'spec.network.serviceCIDR', says: 'overlaps spec.network.podCIDR' },
  { name: 'identical pod and service CIDR', kind: 'ControlPlane', changes: { 'spec.network.serviceCIDR': '10.200.0.0/16' }, path: 'spec.network.serviceCIDR', says: 'overlaps' },
  { name: 'service CIDR too small', kind: 'ControlPlane', changes: { 'spec.network.serviceCIDR': '10.32.0.0/29' }, path: 'spec.network.serviceCIDR', says: '/12' },
  { name: 'service CIDR too large', kind: 'ControlPlane', changes: { 'spec.network.serviceCIDR': '10.0.0.0/8' }, path: 'spec.network.serviceCIDR', says: 'largest' },
  { name: 'pod CIDR smaller than a node subnet', kind: 'ControlPlane', changes: { 'spec.network.podCIDR': '10.200.0.0/24' }, path: 'spec.network.podCIDR', says: '/24' },
  { name: 'pod CIDR in link-local space', kind: 'ControlPlane', changes: { 'spec.network.podCIDR': '169.254.0.0/16' }, path: 'spec.network.podCIDR', says: 'reserved range' },
  { name: 'pod CIDR with leading zeros', kind: 'ControlPlane', changes: { 'spec.network.podCIDR': '010.200.0.0/16' }, path: 'spec.network.podCIDR', says: 'invalid IPv4 address' },
  { name: 'cluster domain with underscore', kind: 'ControlPlane', changes: { 'spec.network.clusterDomain': 'cluster_local' }, path: 'spec.network.clusterDomain', says: 'DNS domain' },
  { name: 'unsupported CNI', kind: 'ControlPlane', changes: { 'spec.network.cni': 'calico' }, path: 'spec.network.cni', says: '"flannel"' },
  { name: 'API CIDR that is not a CIDR', kind: 'ControlPlane', changes: { 'spec.firewall.apiCIDRs': ['everyone'] }, path: 'spec.firewall.apiCIDRs[0]', says: 'CIDR' },
  { name: 'IPv6 API CIDR with host bits', kind: 'ControlPlane', changes: { 'spec.firewall.apiCIDRs': ['2001:db8::1/32'] }, path: 'spec.firewall.apiCIDRs[0]', says: 'host bits' },
  { name: 'etcd reference with upper case', kind: 'ControlPlane', changes: { 'spec.etcdClusterRef.name': 'Demo' }, path: 'spec.etcdClusterRef.name', says: 'not a valid object name' },
  { name: 'encryptionAtRest as a string', kind: 'ControlPlane', changes: { 'spec.encryptionAtRest': 'yes' }, path: 'spec.encryptionAtRest', says: 'must be a boolean' },
  { name: 'control-plane name too long', kind: 'ControlPlane', changes: { 'metadata.name': long(55) }, path: 'metadata.name', says: 'at most 54' },
  // WorkerPool
  { name: 'negative worker replicas', kind: 'WorkerPool', changes: { 'spec.replicas': -1 }, path: 'spec.replicas', says: 'at least 0' },
  { name: 'missing control-plane reference', kind: 'WorkerPool', changes: { 'spec.controlPlaneRef': undefined }, path: 'spec.controlPlaneRef', says: 'is required' },
  { name: 'worker version unsupported', kind: 'WorkerPool', changes: { 'spec.version': 'v1.31.4' }, path: 'spec.version', says: 'not supported' },
  { name: 'restricted node label namespace', kind: 'WorkerPool', changes: { 'spec.nodeLabels': { 'node-role.kubernetes.io/worker': '' } }, path: 'spec.nodeLabels[node-role.kubernetes.io/worker]', says: 'NodeRestriction' },
  { name: 'invalid node label value', kind: 'WorkerPool', changes: { 'spec.nodeLabels': { team: 'platform team' } }, path: 'spec.nodeLabels[team]', says: 'label value' },
  { name: 'invalid node label key', kind: 'WorkerPool', changes: { 'spec.nodeLabels': { '-team': 'a' } }, path: 'spec.nodeLabels[-team]', says: 'label key' },
  { name: 'taint with unknown effect', kind: 'WorkerPool', changes: { 'spec.nodeTaints': [{ key: 'gpu', effect: 'NoRun' }] }, path: 'spec.nodeTaints[0].effect', says: '"NoSchedule"' },
  { name: 'duplicate taints', kind: 'WorkerPool', changes: { 'spec.nodeTaints': [{ key: 'gpu', effect: 'NoSchedule' }, { key: 'gpu', value: 'x', effect: 'NoSchedule' }] }, path: 'spec.nodeTaints[1]', says: 'duplicates' },
  { name: 'rollout that can never progress', kind: 'WorkerPool', changes: { 'spec.rollout': { maxSurge: 0, maxUnavailable: '0%' } }, path: 'spec.rollout', says: 'cannot both be 0' },
  { name: 'rollout percentage over 100', kind: 'WorkerPool', changes: { 'spec.rollout': { maxSurge: '150%' } }, path: 'spec.rollout.maxSurge', says: 'percentage' },
  { name: 'rollout as a float', kind: 'WorkerPool', changes: { 'spec.rollout': { maxSurge: 1.5 } }, path: 'spec.rollout.maxSurge', says: 'integer or a string' },
  { name: 'worker pool name too long', kind: 'WorkerPool', changes: { 'metadata.name': long(51) }, path: 'metadata.name', says: 'at most 50' },
];

describe('bad specs are rejected with the field path and an actionable message', () => {
  test('the table is large enough', () => assert.ok(BAD.length >= 25));
  for (const c of BAD) {
    test(`${c.kind}: ${c.name}`, () => {
      const obj = sampleOf(c.kind) as unknown as Record<string, unknown>;
      for (const [path, value] of Object.entries(c.changes)) set(obj, path, value);
      const { problems } = validateObject(obj);
      const hit = problems.find((p) => p.path === c.path);
      assert.ok(hit, `expected a problem at ${c.path}; got ${formatProblems(problems) || 'none'}`);
      assert.match(hit.message, new RegExp(c.says.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    });
  }
});

test('every problem is reported, not only the first', () => {
  const cp = sampleOf('ControlPlane');
  set(cp as unknown as Record<string, unknown>, 'spec.version', '1.34');
  set(cp as unknown as Record<string, unknown>, 'spec.machine.region', 'x');
  set(cp as unknown as Record<string, unknown>, 'metadata.name', 'Bad_Name');
  const paths = validateObject(cp).problems.map((p) => p.path).sort();
  assert.deepEqual(paths, ['metadata.name', 'spec.machine.region', 'spec.version']);
});

test('an unknown kind is one clear problem', () => {
  assert.deepEqual(validateObject({ kind: 'Cluster' }).problems, [
    { path: 'kind', message: '"Cluster" is not one of EtcdCluster, ControlPlane, WorkerPool' },
  ]);
});

test('formatProblems keeps condition messages short', () => {
  const problems = Array.from({ length: 7 }, (_, i) => ({ path: `spec.f${i}`, message: 'bad' }));
  assert.equal(formatProblems(problems, 2), 'spec.f0: bad; spec.f1: bad; and 5 more');
});
