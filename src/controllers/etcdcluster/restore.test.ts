import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restoreApplies } from './restore.ts';

test('restoreApplies: a new cluster, or a lost one the restore did not itself make', () => {
  const spec = { restore: {} } as never;
  const cases: [string, Parameters<typeof restoreApplies>[0], string, boolean][] = [
    ['no spec.restore', { spec: {} as never, status: {} }, 'create-seed', false],
    ['new cluster', { spec, status: {} }, 'create-seed', true],
    ['lost, never restored', { spec, status: { clusterID: 'a' } }, 'lost', true],
    ['lost, restored into another cluster before', { spec, status: { clusterID: 'b', restore: { snapshot: {} as never, clusterID: 'a' } } }, 'lost', true],
    ['lost, and the restore made it: needs the accept-data-loss annotation', { spec, status: { clusterID: 'a', restore: { snapshot: {} as never, clusterID: 'a' } } }, 'lost', false],
    ['running: nothing to restore', { spec, status: { clusterID: 'a' } }, 'none', false],
  ];
  for (const [name, o, planned, want] of cases) assert.equal(restoreApplies(o, planned), want, name);
});
