import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endpointAddresses, usersNotReady, etcdClusterHost, type EndpointInput, type EndpointUser } from './endpoint.ts';
import type { MachineView, MemberView } from './plan.ts';
import { maxObjectNameLength, DROPLET_SUFFIX_LENGTH } from '../../api/v1alpha1/names.ts';

const ip = (n: string) => `10.0.0.${n.charCodeAt(0) - 96}`;
const machine = (name: string, extra: Partial<MachineView> = {}): MachineView => ({ name, dropletId: name.charCodeAt(0), active: true, privateIP: ip(name), version: '3.5.21', ...extra });
const member = (name: string, extra: Partial<MemberView> = {}): MemberView => ({ id: `id-${name}`, name, machine: name, isLearner: false, healthy: true, leader: name === 'a', ...extra });
const all = (): boolean => true;
const input = (o: Partial<EndpointInput>): EndpointInput => ({ machines: ['a', 'b', 'c'].map((n) => machine(n)), members: ['a', 'b', 'c'].map((n) => member(n)), servesCluster: all, ...o });

test('the cluster endpoint lists the healthy voting members that carry its name, never the one leaving', () => {
  const table: [string, EndpointInput, string[] | undefined][] = [
    ['three healthy members', input({}), ['10.0.0.1', '10.0.0.2', '10.0.0.3']],
    ['no member answered: keep the record as it is', input({ members: undefined }), undefined],
    ['an unhealthy member is left out', input({ members: [member('a'), member('b', { healthy: false }), member('c')] }), ['10.0.0.1', '10.0.0.3']],
    ['none healthy (the operator cannot reach them): all voting members, never an empty record', input({ members: ['a', 'b', 'c'].map((n) => member(n, { healthy: false })) }), ['10.0.0.1', '10.0.0.2', '10.0.0.3']],
    ['a learner is left out (it refuses most requests)', input({ machines: ['a', 'b', 'c', 'd'].map((n) => machine(n)), members: [...['a', 'b', 'c'].map((n) => member(n)), member('d', { isLearner: true })] }), ['10.0.0.1', '10.0.0.2', '10.0.0.3']],
    ['a member added but not started is left out', input({ members: [member('a'), member('b'), member('', { id: 'x', machine: 'c' })] }), ['10.0.0.1', '10.0.0.2']],
    ['the member leaving by choice is taken out first', input({ leaving: 'b' }), ['10.0.0.1', '10.0.0.3']],
    ['a member whose certificate lacks the name (made before it) is left out', input({ servesCluster: (m) => m !== 'a' }), ['10.0.0.2', '10.0.0.3']],
    ['no member carries the name yet: nothing to list', input({ servesCluster: () => false }), []],
    ['a droplet without its address yet is left out', input({ machines: [machine('a'), machine('b', { privateIP: undefined }), machine('c', { active: false })] }), ['10.0.0.1']],
  ];
  for (const [name, i, want] of table) assert.deepEqual(endpointAddresses(i), want, name);
});

test('a planned removal waits for every ControlPlane to use the endpoint this cluster publishes', () => {
  const url = 'https://demo-etcd.example.com:2379';
  const cp = (name: string, status?: EndpointUser['status']): EndpointUser => ({ metadata: { name }, ...(status ? { status } : {}) });
  const table: [string, EndpointUser[], string | undefined, string | undefined][] = [
    ['no ControlPlane', [], url, undefined],
    ['one that uses the endpoint', [cp('demo', { etcdEndpoint: url, staleEtcdEndpoints: [] })], url, undefined],
    ['one that has not seen it yet', [cp('demo', { staleEtcdEndpoints: [] })], url, 'waiting for ControlPlane demo (has not yet seen https://demo-etcd.example.com:2379) before removing a member'],
    [
      'one with nodes given member names',
      [cp('demo', { etcdEndpoint: url, staleEtcdEndpoints: ['demo-cp-aaaaa', 'demo-cp-bbbbb'] })],
      url,
      'waiting for ControlPlane demo (nodes demo-cp-aaaaa, demo-cp-bbbbb still reach etcd by member names) before removing a member',
    ],
    ['no endpoint published (members made before it) and a ControlPlane that agrees', [cp('demo', {})], undefined, undefined],
  ];
  for (const [name, users, published, want] of table) assert.equal(usersNotReady(users, published), want, name);
});

test('the cluster host is a valid DNS label for the longest EtcdCluster name and never a member name', () => {
  const longest = 'x'.repeat(maxObjectNameLength('EtcdCluster'));
  assert.ok(etcdClusterHost(longest, 'example.com').split('.')[0]!.length <= 63);
  // Member names are <name>-etcd-<5 characters>: one label longer than <name>-etcd.
  assert.notEqual(etcdClusterHost('demo', 'example.com').split('.')[0], `demo-etcd-${'a'.repeat(DROPLET_SUFFIX_LENGTH)}`);
});
