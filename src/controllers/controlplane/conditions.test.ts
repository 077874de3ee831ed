import { test } from 'node:test';
import assert from 'node:assert/strict';
import { controlPlaneConditions, type ControlPlaneFacts } from './reconciler.ts';
import type { ControlPlaneHealth } from '../../health/kube.ts';

const ok = { ok: true };
const healthy: ControlPlaneHealth = { apiserverReady: ok, apiserverLive: ok, controllerManager: ok, scheduler: ok };
const facts = (o: Partial<ControlPlaneFacts>): ControlPlaneFacts => ({
  replicas: 3,
  version: 'v1.34.2',
  etcd: { type: 'EtcdAvailable', status: 'True', reason: 'Available', message: 'EtcdCluster demo is Ready' },
  machines: 3,
  active: 3,
  outdated: 0,
  removing: 0,
  probes: [['a', healthy], ['b', healthy], ['c', healthy]],
  answered: true,
  withinGrace: true,
  previous: () => undefined,
  dnsComplete: true,
  endpointMode: 'DNS',
  addons: { type: 'AddonsReady', status: 'True', reason: 'AddonsApplied' },
  decision: { create: 0, remove: [] },
  ...o,
});
const pick = (f: ControlPlaneFacts, type: string) => {
  const c = controlPlaneConditions(f).find((x) => x.type === type)!;
  return `${c.status} ${c.reason}${c.message ? `: ${c.message}` : ''}`;
};

test('control-plane conditions: health per component, keeps its value through the grace period, Ready only when all is well', () => {
  const down = { ok: false, message: 'HTTP 500: [-]etcd failed' };
  const table: [string, ControlPlaneFacts, string, string][] = [
    ['all healthy', facts({}), 'APIServerHealthy', 'True Healthy: 3/3 API servers healthy'],
    ['all healthy → Ready', facts({}), 'Ready', 'True Ready: 3/3 API servers healthy'],
    ['one API server not ready', facts({ probes: [['a', healthy], ['b', { ...healthy, apiserverReady: down }], ['c', healthy]] }), 'APIServerHealthy', 'False NotHealthy: 2/3 API servers healthy; b: HTTP 500: [-]etcd failed'],
    ['one scheduler down makes Ready false', facts({ probes: [['a', healthy], ['b', { ...healthy, scheduler: down }], ['c', healthy]] }), 'Ready', 'False NotHealthy: 2/3 schedulers healthy; b: HTTP 500: [-]etcd failed'],
    ['nobody answers within grace: last value', facts({ answered: false, previous: () => ({ status: 'True', reason: 'Healthy', message: '3/3 API servers healthy' }) }), 'APIServerHealthy', 'True Healthy: 3/3 API servers healthy'],
    ['nobody answers past grace', facts({ answered: false, withinGrace: false, probes: [['a', { ...healthy, apiserverReady: { ok: false, message: 'connect ECONNREFUSED' } }]] }), 'APIServerHealthy', 'Unknown ConnectionDown: no API server answers: a: connect ECONNREFUSED'],
    ['no machines yet', facts({ machines: 0, active: 0, probes: [], answered: false, withinGrace: false }), 'APIServerHealthy', 'Unknown HealthUnknown: no machines yet'],
    ['etcd not available', facts({ etcd: { type: 'EtcdAvailable', status: 'False', reason: 'WaitingForEtcdCluster', message: 'EtcdCluster demo is not Ready' } }), 'Ready', 'False WaitingForEtcdCluster: EtcdCluster demo is not Ready'],
    ['rolling', facts({ outdated: 2 }), 'RollingOut', 'True RollingOut: replacing 2 node(s) with Kubernetes v1.34.2, one at a time'],
    ['rolling is not Ready', facts({ outdated: 2 }), 'Ready', 'False RollingOut: replacing 2 node(s) with Kubernetes v1.34.2, one at a time'],
    ['scaling down', facts({ machines: 2, removing: 1, replicas: 1, active: 2 }), 'ScalingDown', 'True ScalingDown: 3 → 1 nodes, one at a time'],
    ['scaling up', facts({ machines: 2, active: 2, replicas: 3 }), 'ScalingUp', 'True ScalingUp: 2 → 3 nodes, one at a time'],
    ['load balancer not there yet', facts({ dnsComplete: false, endpointMode: 'LoadBalancer' }), 'DNSReady', 'False DNSRecordsNotReady: waiting for droplet addresses and the load balancer'],
  ];
  for (const [name, f, type, want] of table) assert.equal(pick(f, type), want, name);
});
