import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setCondition, mergeConditions, getCondition, isTrue, conditionsEqual, removeCondition, formatTime, type Condition } from './conditions.ts';
import { ETCD_CLUSTER_CONDITIONS, Reason } from './condition-types.ts';

const t0 = new Date('2026-01-01T00:00:00.000Z');
const t1 = new Date('2026-01-01T00:05:00.250Z');

test('setCondition: lastTransitionTime moves only when status changes', () => {
  const table: { name: string; before: Condition | undefined; input: { status: Condition['status']; reason: string; message?: string }; ltt: string }[] = [
    { name: 'new condition', before: undefined, input: { status: 'True', reason: 'Healthy' }, ltt: '2026-01-01T00:05:00Z' },
    {
      name: 'same status, new reason and message',
      before: { type: 'X', status: 'True', reason: 'Healthy', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' },
      input: { status: 'True', reason: 'StillHealthy', message: 'more' },
      ltt: '2026-01-01T00:00:00Z',
    },
    {
      name: 'status flips',
      before: { type: 'X', status: 'True', reason: 'Healthy', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' },
      input: { status: 'False', reason: 'NotHealthy' },
      ltt: '2026-01-01T00:05:00Z',
    },
    {
      name: 'Unknown to True is a transition',
      before: { type: 'X', status: 'Unknown', reason: 'NotYetObserved', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' },
      input: { status: 'True', reason: 'Healthy' },
      ltt: '2026-01-01T00:05:00Z',
    },
  ];
  for (const row of table) {
    const out = setCondition(row.before ? [row.before] : [], { type: 'X', ...row.input }, { now: t1, generation: 7 });
    const c = getCondition(out, 'X')!;
    assert.equal(c.lastTransitionTime, row.ltt, row.name);
    assert.equal(c.reason, row.input.reason, row.name);
    assert.equal(c.message, row.input.message, `${row.name}: an empty message is left out`);
    assert.equal(c.observedGeneration, 7, `${row.name}: observedGeneration stamped`);
  }
});

test('setCondition does not modify its input', () => {
  const before: Condition[] = [{ type: 'X', status: 'True', reason: 'A', lastTransitionTime: formatTime(t0) }];
  const copy = structuredClone(before);
  setCondition(before, { type: 'X', status: 'False', reason: 'B' }, { now: t1 });
  assert.deepEqual(before, copy);
});

test('mergeConditions: first visit writes every type, Unknown, Ready first, in the kind order', () => {
  const out = mergeConditions(undefined, [{ type: 'Paused', status: 'False', reason: Reason.NotPaused }], {
    now: t0,
    generation: 1,
    order: ETCD_CLUSTER_CONDITIONS,
  });
  assert.deepEqual(out.map((c) => c.type), [...ETCD_CLUSTER_CONDITIONS]);
  assert.equal(out[0]!.type, 'Ready');
  for (const c of out.filter((c) => c.type !== 'Paused')) {
    assert.equal(c.status, 'Unknown');
    assert.equal(c.reason, Reason.NotYetObserved);
    assert.equal(c.lastTransitionTime, '2026-01-01T00:00:00Z');
  }
  assert.equal(getCondition(out, 'Paused')?.status, 'False');
});

test('mergeConditions keeps conditions it was not given, and sorts unknown types after known ones', () => {
  const existing = mergeConditions([], [{ type: 'Custom', status: 'True', reason: 'Yes' }], { now: t0, generation: 1 });
  const out = mergeConditions(existing, [{ type: 'Ready', status: 'False', reason: 'NotReady' }, { type: 'Alpha', status: 'True', reason: 'A' }], {
    now: t1,
    generation: 2,
    order: ['Ready'],
  });
  assert.deepEqual(out.map((c) => c.type), ['Ready', 'Alpha', 'Custom']);
  assert.equal(getCondition(out, 'Custom')!.observedGeneration, 1, 'untouched conditions keep their generation');
});

test('isTrue, removeCondition, conditionsEqual', () => {
  const a = setCondition([], { type: 'Ready', status: 'True', reason: 'Ready' }, { now: t0 });
  assert.equal(isTrue(a, 'Ready'), true);
  assert.equal(isTrue(a, 'Other'), false);
  assert.deepEqual(removeCondition(a, 'Ready'), []);
  const same = setCondition(a, { type: 'Ready', status: 'True', reason: 'Ready' }, { now: t1 });
  assert.equal(conditionsEqual(a, same), true, 're-setting the same condition later changes nothing');
  const other = setCondition(a, { type: 'Ready', status: 'True', reason: 'Ready', message: 'x' }, { now: t1 });
  assert.equal(conditionsEqual(a, other), false);
  assert.equal(conditionsEqual(undefined, []), true);
});

test('formatTime has second precision like metav1.Time', () => {
  assert.equal(formatTime(t1), '2026-01-01T00:05:00Z');
});
