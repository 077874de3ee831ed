import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countingFailures, nextTry, holdForFailures, trackNodeFailures, type Retry } from './join-failures.ts';

const at = (s: number) => new Date(Date.UTC(2026, 10, 30, 0, 0, s)).toISOString().replace(/\.\d{3}Z$/, 'Z');
const t0 = Date.parse(at(0));
const f = (count: number, lastS = 0) => ({ count, generation: 2, lastMachine: 'x', lastMessage: 'connect ECONNREFUSED', lastTime: at(lastS) });

test('failures count for the generation they happened under', () => {
  assert.deepEqual(countingFailures({ joinFailures: f(2) }, 2), f(2));
  assert.equal(countingFailures({ joinFailures: f(2) }, 3), undefined, 'a spec change starts afresh');
  assert.equal(countingFailures(undefined, 2), undefined);
});

test('the next try: at once, after a backoff doubled per failure, or never after three', () => {
  const table: [string, Parameters<typeof nextTry>[0], number, Retry['kind'], RegExp?][] = [
    ['no failure', undefined, t0, 'go'],
    ['one failure, 30 s of 60 waited', f(1), t0 + 30_000, 'wait', /^worker did not become healthy \(1 of 3 tries\); the next try in 30 s$/],
    ['one failure, 60 s waited', f(1), t0 + 60_000, 'go'],
    ['two failures: 120 s', f(2), t0 + 90_000, 'wait', /the next try in 30 s$/],
    ['three failures: given up', f(3), t0 + 10_000_000, 'gave-up', /^3 new workers in a row did not become healthy; the last, x: connect ECONNREFUSED\. None is created until the spec changes/],
  ];
  for (const [name, failures, now, kind, message] of table) {
    const r = nextTry(failures, now, 60_000, 'worker');
    assert.equal(r.kind, kind, name);
    if (message) assert.match((r as { why: string }).why, message, name);
  }
});

test('held decisions: no creation while waiting or given up; a given-up machine is kept to be looked at', () => {
  const m = { name: 'a', dropletId: 1, createdAt: at(0), healthy: false, outdated: false, removing: false };
  const decision = { create: 1, remove: [{ machine: m, why: 'unhealthy for too long' }, { machine: { ...m, name: 'b' }, why: 'scaling down' }] };
  assert.deepEqual(holdForFailures(decision, { kind: 'go' }), decision);
  assert.deepEqual(holdForFailures(decision, { kind: 'wait', why: 'w' }), { create: 0, remove: decision.remove, waiting: 'w' });
  assert.deepEqual(holdForFailures(decision, { kind: 'gave-up', why: 'g' }), { create: 0, remove: [decision.remove[1]], waiting: 'g' });
});

test('a failure is counted once, when a machine that was never healthy starts failing; a healthy newer machine clears the count', () => {
  const base = { generation: 2, now: t0 + 100_000, machines: [], failing: [], everHealthy: new Set<string>(), counted: new Set<string>(), message: () => 'HTTP 500' };
  const one = trackNodeFailures({ ...base, failing: ['a'] });
  assert.equal(one.failures!.count, 1);
  assert.deepEqual(one.added, [{ machine: 'a', message: 'HTTP 500' }]);
  assert.equal(trackNodeFailures({ ...base, failed: one.failures, failing: ['a'], counted: new Set(['a']) }).failures!.count, 1, 'not twice');
  assert.equal(trackNodeFailures({ ...base, failing: ['b'], everHealthy: new Set(['b']) }).failures, undefined, 'a machine that worked and died is no failed join');
  const cleared = trackNodeFailures({ ...base, failed: f(2, 10), machines: [{ name: 'c', createdAt: at(20), healthy: true }] });
  assert.equal(cleared.failures, undefined);
  const kept = trackNodeFailures({ ...base, failed: f(2, 10), machines: [{ name: 'old', createdAt: at(5), healthy: true }] });
  assert.equal(kept.failures!.count, 2, 'an older healthy machine proves nothing');
});
