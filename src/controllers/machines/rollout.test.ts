import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRollout, resolveRollout, type RolloutMachine, type RolloutInput } from './rollout.ts';

const m = (name: string, o: Partial<RolloutMachine> = {}): RolloutMachine => ({ name, dropletId: name.charCodeAt(0), createdAt: `2026-01-01T00:00:0${name.length}Z`, healthy: true, outdated: false, removing: false, ...o });
const cp = (machines: RolloutMachine[], replicas = 3, extra: Partial<RolloutInput> = {}) =>
  planRollout({ replicas, machines, maxSurge: 1, maxUnavailable: 0, now: 1_000_000, unhealthyAfterMs: 300_000, oneAtATime: true, ...extra });
const wp = (machines: RolloutMachine[], replicas: number, maxSurge: number, maxUnavailable: number) =>
  planRollout({ replicas, machines, maxSurge, maxUnavailable, now: 1_000_000, unhealthyAfterMs: 300_000, oneAtATime: false });
const names = (d: ReturnType<typeof planRollout>) => d.remove.map((r) => r.machine.name);

test('first build creates every machine at once, also after a partial attempt', () => {
  assert.deepEqual(cp([]), { create: 3, remove: [] });
  assert.deepEqual(cp([m('a', { healthy: false })]), { create: 2, remove: [] });
  assert.deepEqual(wp([], 5, 1, 0), { create: 5, remove: [] });
});

test('control plane: scale up one at a time, only when every machine is healthy', () => {
  assert.equal(cp([m('a'), m('b')], 3).create, 1);
  const d = cp([m('a'), m('b', { healthy: false })], 3);
  assert.equal(d.create, 0);
  assert.match(d.waiting!, /b to become healthy/);
  assert.equal(cp([m('a'), m('b'), m('c')], 5).create, 1);
});

test('control plane: version roll surges one, waits for it, then removes one outdated', () => {
  const old = [m('a', { outdated: true }), m('b', { outdated: true }), m('c', { outdated: true })];
  assert.deepEqual(cp(old), { create: 1, remove: [] });
  const booting = cp([...old, m('dd', { healthy: false })]);
  assert.equal(booting.create, 0);
  assert.deepEqual(names(booting), []);
  const ready = cp([...old, m('dd')]);
  assert.deepEqual(names(ready), ['a']);
  assert.match(ready.remove[0]!.why, /replaced/);
  assert.deepEqual(cp([...old, m('dd'), m('e', { removing: true })]), { create: 0, remove: [], waiting: 'removing e' });
});

test('control plane: scale down 3 → 1 one node at a time, never below one', () => {
  assert.deepEqual(names(cp([m('a'), m('b'), m('c')], 1)), ['a']);
  assert.deepEqual(names(cp([m('b'), m('c')], 1)), ['b']);
  assert.deepEqual(cp([m('c')], 1), { create: 0, remove: [] });
});

test('a machine unhealthy for too long is replaced; a new one is never removed for an old one', () => {
  const broken = m('a', { healthy: false, unhealthySince: 0 });
  assert.deepEqual(wp([broken, m('b'), m('c')], 3, 1, 0), { create: 1, remove: [{ machine: broken, why: 'unhealthy for too long' }] });
  // Scale-down prefers the old machine over a booting new one.
  assert.deepEqual(names(wp([m('a', { outdated: true }), m('bb', { healthy: false }), m('c')], 2, 1, 1)), ['a']);
  assert.deepEqual(names(wp([m('a', { outdated: true }), m('bb', { healthy: false }), m('c')], 2, 1, 0)), [], 'not below two healthy');
});

test('worker pool: maxUnavailable lets old machines go before new ones are ready', () => {
  const old = ['a', 'b', 'c', 'd'].map((n) => m(n, { outdated: true }));
  const d = wp(old, 4, 1, 1);
  assert.equal(d.create, 1);
  assert.deepEqual(names(d), ['a']);
  // maxSurge 0: make room first.
  const z = wp(old, 4, 0, 1);
  assert.deepEqual([z.create, names(z)], [0, ['a']]);
  // maxUnavailable 0: availability holds the line.
  const h = wp([...old, m('e', { healthy: false })], 4, 1, 0);
  assert.deepEqual([h.create, names(h)], [0, []]);
});

test('worker pool: scale to zero removes every machine', () => {
  assert.deepEqual(names(wp([m('a'), m('b')], 0, 1, 0)), ['a', 'b']);
});

test('percentages resolve like Deployments: surge up, unavailable down; 0/0 means surge one', () => {
  assert.deepEqual(resolveRollout({ maxSurge: '25%', maxUnavailable: '25%' }, 10), { maxSurge: 3, maxUnavailable: 2 });
  assert.deepEqual(resolveRollout({ maxSurge: 0, maxUnavailable: 0 }, 3), { maxSurge: 1, maxUnavailable: 0 });
  assert.deepEqual(resolveRollout(undefined, 3), { maxSurge: 1, maxUnavailable: 0 });
});

test('control plane: a node broken for too long gets its replacement first, then goes', () => {
  const broken = m('a', { healthy: false, unhealthySince: 0 });
  assert.deepEqual(cp([broken, m('b'), m('c')]), { create: 1, remove: [] });
  assert.deepEqual(names(cp([broken, m('b'), m('c'), m('dd')])), ['a']);
  // Still booting (not yet "too long"): wait, do not pile up machines.
  assert.equal(cp([m('a', { healthy: false, unhealthySince: 900_000 }), m('b'), m('c')]).create, 0);
});
