// Every version gate, allowed and refused, with the words a person reads in the condition.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { etcdVersionGate, controlPlaneVersionGate, workerVersionGate, heldVersion } from './version-gates.ts';

const check = (got: { ok: boolean; message?: string }, want: true | RegExp, what: string) => {
  if (want === true) assert.deepEqual(got, { ok: true }, what);
  else {
    assert.equal(got.ok, false, what);
    assert.match(got.message!, want, what);
  }
};

test('etcd: patches either way, one minor up from 3.5.20 on, never a minor down', () => {
  const table: [string[], string, true | RegExp][] = [
    [[], '3.6.4', true],
    [['3.5.21', '3.5.21', '3.5.21'], '3.5.25', true],
    [['3.5.25'], '3.5.21', true],
    [['3.5.20', '3.5.21'], '3.6.4', true],
    [['3.5.19', '3.5.21'], '3.6.4', /^3\.5\.19 → 3\.6\.4: etcd 3\.6 needs every member on 3\.5\.20 or later .*set spec\.version to 3\.5\.20 or a later 3\.5 release first$/],
    [['3.6.4', '3.6.4'], '3.5.30', /^3\.6\.4 → 3\.5\.30: etcd cannot go back a minor by replacing members; set spec\.version to a 3\.6\.x release$/],
    [['3.5.21', '3.6.1'], '3.5.30', /cannot go back a minor/],
    [['3.4.27'], '3.6.4', /^3\.4\.27 → 3\.6\.4: one etcd minor at a time; set spec\.version to a 3\.5\.x release first$/],
    [['3.6.1', '3.6.4'], '3.6.2', true],
  ];
  for (const [running, wanted, want] of table) check(etcdVersionGate(running, wanted), want, `${running.join(',')} → ${wanted}`);
});

test('control plane: one minor up at a time, never a minor down, patches either way', () => {
  const table: [string[], string, true | RegExp][] = [
    [[], 'v1.35.0', true],
    [['v1.34.2', 'v1.34.2'], 'v1.35.0', true],
    [['v1.34.2'], 'v1.34.1', true],
    [['v1.33.5', 'v1.34.2'], 'v1.34.3', true],
    [['v1.33.5'], 'v1.35.0', /^v1\.33\.5 → v1\.35\.0: the control plane moves one minor at a time; set spec\.version to a v1\.34\.x release first$/],
    [['v1.34.2', 'v1.35.0'], 'v1.34.9', /^v1\.35\.0 → v1\.34\.9: a Kubernetes minor is never downgraded; set spec\.version to a v1\.35\.x release$/],
  ];
  for (const [running, wanted, want] of table) check(controlPlaneVersionGate(running, wanted), want, `${running.join(',')} → ${wanted}`);
});

test('workers: never newer than the oldest API server, at most three minors behind the newest, never a minor down', () => {
  const table: [string[], string[], string, true | RegExp][] = [
    [[], ['v1.34.2'], 'v1.34.2', true],
    [[], ['v1.34.2'], 'v1.34.5', true],
    [['v1.33.1'], ['v1.34.2'], 'v1.34.2', true],
    [[], ['v1.34.2', 'v1.35.0'], 'v1.35.0', /^v1\.35\.0 is newer than the control plane's v1\.34\.2: kubelets may not be newer than the API server; upgrade the ControlPlane first$/],
    [[], ['v1.35.0'], 'v1.32.4', true],
    [['v1.31.2'], ['v1.35.0'], 'v1.31.2', /^v1\.31\.2 is more than three minors behind the control plane's v1\.35\.0: set spec\.version to v1\.32\.x or later$/],
    [['v1.34.2'], ['v1.35.0'], 'v1.33.0', /^v1\.34\.2 → v1\.33\.0: a Kubernetes minor is never downgraded/],
  ];
  for (const [running, cp, wanted, want] of table) check(workerVersionGate(running, cp, wanted), want, `${running.join(',')} (cp ${cp.join(',')}) → ${wanted}`);
});

test('a refused change holds at the newest version running, finishing a roll accepted before', () => {
  assert.equal(heldVersion(['3.5.19', '3.5.25', '3.5.19']), '3.5.25');
  assert.equal(heldVersion([]), undefined);
});
