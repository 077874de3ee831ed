import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan, quorum, successor, type MachineView, type MemberView, type PlanInput } from './plan.ts';

const machine = (name: string, extra: Partial<MachineView> = {}): MachineView => ({ name, dropletId: name.charCodeAt(0), active: true, privateIP: '127.10.0.1', version: '3.5.21', ...extra });
const member = (name: string, extra: Partial<MemberView> = {}): MemberView => ({ id: `id-${name}`, name, machine: name, isLearner: false, healthy: true, leader: name === 'a', ...extra });
const input = (o: Partial<PlanInput>): PlanInput => ({ replicas: 3, version: '3.5.21', machines: [], now: 1_000_000, unhealthyAfterMs: 300_000, joinTimeoutMs: 600_000, maxJoinFailures: 3, joinBackoffMs: 30_000, ...o });
const three = { machines: ['a', 'b', 'c'].map((n) => machine(n)), members: ['a', 'b', 'c'].map((n) => member(n)) };

test('quorum', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 7].map(quorum), [1, 2, 2, 3, 3, 4]);
});

test('plan: one safe step at a time', () => {
  const table: [string, PlanInput, string][] = [
    ['nothing exists: a seed', input({}), 'create-seed'],
    ['every member of a founded cluster gone: nothing is seeded', input({ founded: 'c0ffee' }), 'lost'],
    ['a founded cluster whose machines still exist but do not answer: wait, never reseed', input({ founded: 'c0ffee', machines: [machine('a')] }), 'wait:no etcd member answers'],
    ['seed booting, nobody answers', input({ machines: [machine('a', { active: false })] }), 'wait:machines are still booting'],
    ['machines up but nobody answers: touch nothing', input({ machines: [machine('a'), machine('b')] }), 'wait:no etcd member answers'],
    ['seed healthy, 1 of 3: add a member', input({ machines: [machine('a')], members: [member('a')] }), 'add-member'],
    ['member added, no droplet yet: create it', input({ machines: [machine('a')], members: [member('a'), member('', { id: 'id-b', machine: 'b', isLearner: true, healthy: false })] }), 'create-machine:b'],
    ['learner booting', input({ machines: [machine('a'), machine('b')], members: [member('a'), member('', { id: 'id-b', machine: 'b', isLearner: true, healthy: false })] }), 'wait:a new member is joining'],
    ['learner running and healthy: promote', input({ machines: [machine('a'), machine('b')], members: [member('a'), member('b', { isLearner: true })] }), 'promote:b'],
    ['learner never healthy: removed', input({ machines: [machine('a'), machine('b')], members: [member('a'), member('b', { isLearner: true, healthy: false, unhealthySince: 0 })] }), 'remove-member:b'],
    ['learner unhealthy past the member threshold but within the join deadline: it is still joining', input({ machines: [machine('a'), machine('b')], members: [member('a'), member('b', { isLearner: true, healthy: false, unhealthySince: 500_000 })] }), 'wait:a new member is joining'],
    ['after a failed join: the next add waits (30 s, doubled per failure)', input({ machines: [machine('a')], members: [member('a')], joins: { failures: 2, lastAt: 950_000 } }), 'wait:a new member did not join (2 of 3 tries); the next try in 10 s'],
    ['after a failed join, once the backoff is over: add again', input({ machines: [machine('a')], members: [member('a')], joins: { failures: 1, lastAt: 950_000 } }), 'add-member'],
    ['three failed joins: give up until the spec changes', input({ machines: [machine('a')], members: [member('a')], joins: { failures: 3, lastAt: 0 } }), 'gave-up'],
    ['failed joins do not stop a scale-down or a heal of a lost member', input({ ...three, replicas: 1, joins: { failures: 3, lastAt: 0 } }), 'remove-member:b'],
    ['3 of 3 healthy: nothing to do', input(three), 'none'],
    ['3 → 5: add', input({ ...three, replicas: 5 }), 'add-member'],
    ['3 → 1: one step, never the leader first', input({ ...three, replicas: 1 }), 'remove-member:b'],
    ['2 of 2 wanted 1: remove the follower', input({ machines: [machine('a'), machine('b')], members: [member('a'), member('b')], replicas: 1 }), 'remove-member:b'],
    ['the last member is never removed', input({ machines: [machine('a')], members: [member('a')], replicas: 1 }), 'none'],
    ['a member unhealthy: no scaling until all are healthy', input({ ...three, replicas: 5, members: [member('a'), member('b'), member('c', { healthy: false, unhealthySince: 999_000 })] }), 'wait:2/3 members healthy'],
    ['droplet gone out of band: remove its member (2 of 2 remaining keep quorum)', input({ machines: [machine('a'), machine('b')], members: three.members.map((m) => (m.name === 'c' ? { ...m, healthy: false } : m)) }), 'remove-member:c'],
    ['unhealthy past the threshold: remove it', input({ ...three, members: [member('a'), member('b'), member('c', { healthy: false, unhealthySince: 0 })] }), 'remove-member:c'],
    ['unhealthy, but not yet for long: wait', input({ ...three, members: [member('a'), member('b'), member('c', { healthy: false, unhealthySince: 900_000 })] }), 'wait:2/3 members healthy'],
    ['two of three lost: removing one would break quorum', input({ ...three, members: [member('a'), member('b', { healthy: false, unhealthySince: 0 }), member('c', { healthy: false, unhealthySince: 0 })] }), 'wait:member b is lost but removing it would break quorum'],
    ['a machine that is no member: delete it', input({ machines: [...three.machines, machine('d')], members: three.members }), 'delete-machine:d'],
    ['version roll: surge one new member first', input({ ...three, version: '3.6.4' }), 'add-member'],
    ['version roll: then remove an outdated one, not the leader', input({ machines: [...three.machines, machine('d', { version: '3.6.4' })], members: [...three.members, member('d')], version: '3.6.4' }), 'remove-member:b'],
    ['version roll done', input({ machines: ['a', 'b', 'c'].map((n) => machine(n, { version: '3.6.4' })), members: three.members, version: '3.6.4' }), 'none'],
  ];
  for (const [name, p, want] of table) {
    const a = plan(p);
    const got =
      a.kind === 'create-machine' || a.kind === 'promote' || a.kind === 'remove-member' || a.kind === 'delete-machine'
        ? `${a.kind}:${a.machine}`
        : a.kind === 'wait'
          ? `wait:${a.why}`
          : a.kind;
    assert.equal(got, want, name);
  }
});

test('successor: a healthy voter other than the one leaving, one on the wanted version first', () => {
  const machines = [machine('a'), machine('b'), machine('c', { version: '3.5.22' })];
  assert.equal(successor([member('a'), member('b'), member('c')], machines, '3.5.22', 'a')?.machine, 'c');
  assert.equal(successor([member('a'), member('b'), member('c', { healthy: false })], machines, '3.5.22', 'a')?.machine, 'b');
  assert.equal(successor([member('a'), member('b', { isLearner: true })], machines, '3.5.22', 'a'), undefined);
});
