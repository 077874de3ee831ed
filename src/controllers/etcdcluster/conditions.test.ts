import { test } from 'node:test';
import assert from 'node:assert/strict';
import { etcdConditions, type ConditionFacts } from './reconciler.ts';
import type { MemberView } from './plan.ts';

const member = (name: string, healthy = true, isLearner = false): MemberView => ({ id: name, name, machine: name, isLearner, healthy, leader: name === 'a' });
const facts = (o: Partial<ConditionFacts>): ConditionFacts => ({
  replicas: 3,
  version: '3.5.21',
  machines: 3,
  activeMachines: 3,
  members: [member('a'), member('b'), member('c')],
  dnsComplete: true,
  action: { kind: 'none' },
  withinGrace: true,
  ...o,
});
const pick = (f: ConditionFacts, type: string) => {
  const c = etcdConditions(f).find((x) => x.type === type)!;
  return `${c.status} ${c.reason}${c.message ? `: ${c.message}` : ''}`;
};

test('EtcdClusterHealthy says how many are healthy and what quorum needs; keeps its value through the grace period', () => {
  const table: [string, ConditionFacts, string][] = [
    ['all healthy', facts({}), 'True Healthy: 3/3 members healthy, quorum needs 2'],
    ['one down', facts({ members: [member('a'), member('b'), member('c', false)] }), 'False NotHealthy: 2/3 members healthy, quorum needs 2'],
    ['an alarm makes it unhealthy', facts({ alarms: ['NOSPACE'] }), 'False NotHealthy: 3/3 members healthy, quorum needs 2; alarms: NOSPACE'],
    ['a learner does not count', facts({ members: [member('a'), member('d', true, true)] }), 'True Healthy: 1/1 members healthy, quorum needs 1'],
    ['nobody answers, within grace: last value kept', facts({ members: undefined, previousHealthy: { status: 'True', reason: 'Healthy', message: '3/3 members healthy, quorum needs 2' } }), 'True Healthy: 3/3 members healthy, quorum needs 2'],
    ['nobody answers past grace: ConnectionDown', facts({ members: undefined, withinGrace: false, previousHealthy: { status: 'True', reason: 'Healthy' } }), 'Unknown ConnectionDown: no member answers'],
    ['nothing yet', facts({ members: undefined, machines: 0, activeMachines: 0, withinGrace: false }), 'Unknown HealthUnknown: no members yet'],
  ];
  for (const [name, f, want] of table) assert.equal(pick(f, 'EtcdClusterHealthy'), want, name);
});

test('Ready is True only when provisioned, in DNS, healthy and not changing; otherwise it says why', () => {
  const table: [string, ConditionFacts, string][] = [
    ['steady', facts({}), 'True Ready: 3/3 members healthy, quorum needs 2'],
    ['booting', facts({ activeMachines: 2, machines: 3, action: { kind: 'wait', why: 'a new member is joining' } }), 'False Provisioning: 2/3 droplets running'],
    ['DNS pending', facts({ dnsComplete: false }), 'False DNSRecordsNotReady: waiting for droplet addresses'],
    ['scaling up', facts({ replicas: 5, machines: 3, activeMachines: 3, action: { kind: 'add-member' } }), 'False Provisioning: 3/5 droplets running'],
    ['scaling down', facts({ replicas: 1, machines: 3, activeMachines: 3, action: { kind: 'remove-member', memberId: 'c', machine: 'c', why: 'scaling down' } }), 'False Provisioning: 3 droplets running, 2 to remove'],
    ['a member down', facts({ members: [member('a'), member('b'), member('c', false)], action: { kind: 'wait', why: '2/3 members healthy' } }), 'False NotHealthy: 2/3 members healthy, quorum needs 2'],
  ];
  for (const [name, f, want] of table) assert.equal(pick(f, 'Ready'), want, name);
  assert.equal(pick(facts({ replicas: 1, machines: 1, activeMachines: 1, members: [member('a'), member('b')], action: { kind: 'remove-member', memberId: 'b', machine: 'b', why: 'scaling down' } }), 'ScalingDown'), 'True ScalingDown: 2 → 1 members, one at a time');
  assert.equal(pick(facts({ action: { kind: 'add-member' } }), 'RollingOut'), 'True RollingOut: replacing members with etcd 3.5.21');
  assert.equal(pick(facts({}), 'RollingOut'), 'False NotRollingOut');
});
