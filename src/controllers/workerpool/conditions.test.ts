import { test } from 'node:test';
import assert from 'node:assert/strict';
import { workerPoolConditions, type WorkerPoolFacts } from './reconciler.ts';

const facts = (o: Partial<WorkerPoolFacts>): WorkerPoolFacts => ({
  replicas: 2,
  version: 'v1.34.2',
  dependency: { type: 'ControlPlaneAvailable', status: 'True', reason: 'Available', message: 'ControlPlane demo is Ready' },
  machines: 2,
  active: 2,
  outdated: 0,
  removing: 0,
  nodes: [{ machine: 'a', ok: true }, { machine: 'b', ok: true }],
  answered: true,
  withinGrace: true,
  decision: { create: 0, remove: [] },
  ...o,
});
const pick = (f: WorkerPoolFacts, type: string) => {
  const c = workerPoolConditions(f).find((x) => x.type === type)!;
  return `${c.status} ${c.reason}${c.message ? `: ${c.message}` : ''}`;
};

test('worker-pool conditions: NodesReady from the workload API, grace, and Ready', () => {
  const table: [string, WorkerPoolFacts, string, string][] = [
    ['all Ready', facts({}), 'NodesReady', 'True NodesReady: 2/2 nodes Ready'],
    ['Ready', facts({}), 'Ready', 'True Ready: 2/2 nodes Ready'],
    ['a node NotReady', facts({ nodes: [{ machine: 'a', ok: true }, { machine: 'b', ok: false, message: 'KubeletNotReady' }] }), 'NodesReady', 'False NodesNotReady: 1/2 nodes Ready; b: KubeletNotReady'],
    ['API unreachable within grace', facts({ answered: false, previous: { status: 'True', reason: 'NodesReady', message: '2/2 nodes Ready' } }), 'NodesReady', 'True NodesReady: 2/2 nodes Ready'],
    ['API unreachable past grace', facts({ answered: false, withinGrace: false, unreachable: 'no control-plane node of demo answers' }), 'NodesReady', 'Unknown ConnectionDown: no control-plane node of demo answers'],
    ['zero replicas is Ready', facts({ replicas: 0, machines: 0, active: 0, nodes: [] }), 'Ready', 'True Ready: no nodes wanted'],
    ['draining', facts({ machines: 2, removing: 1, replicas: 2 }), 'MachinesProvisioned', 'False Provisioning: 2/2 droplets running, 1 being drained and removed'],
    ['control plane not Ready', facts({ dependency: { type: 'ControlPlaneAvailable', status: 'False', reason: 'WaitingForControlPlane', message: 'ControlPlane demo is not Ready' } }), 'Ready', 'False WaitingForControlPlane: ControlPlane demo is not Ready'],
  ];
  for (const [name, f, type, want] of table) assert.equal(pick(f, type), want, name);
});
