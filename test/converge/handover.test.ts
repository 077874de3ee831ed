// The ControlPlane controller handing nodes their keys (docs/security.md), against the stand-in that
// accepts a push only with the host key and client key each droplet's user-data names
// (src/handover/fake.ts); Debian's real sshd is in test/integration/handover-ssh.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ControlPlanes, Events } from '../../src/kube/resources.ts';
import { HANDOVER_TAG, HANDED_OVER_TAG } from '../../src/cloud/tags.ts';
import { HANDOVER_MARKER } from '../../src/bootstrap/handover.ts';
import { kubeHarness, type Obj } from '../helpers/kube-harness.ts';

const cond = (o: Obj | undefined, type: string) => o?.status?.conditions?.find((c) => c.type === type);

test('control-plane keys: handed over once per node, then tagged; a node added later waits while it does not answer, then gets them', { timeout: 120_000 }, async () => {
  const h = await kubeHarness();
  try {
    await h.kube.create(ControlPlanes, h.controlPlane(3));
    await h.until('Ready', h.ready('ControlPlane', 'demo'));
    const first = h.droplets('demo-cp-');
    for (const d of first) {
      await h.until(`${d.name} tagged`, () => d.tags.includes(HANDED_OVER_TAG));
      assert.ok(d.tags.includes(HANDOVER_TAG));
      const pushes = h.handOver.pushes.get(d.name)!;
      assert.equal(pushes.length, 1, `${d.name}: pushed once`);
      const paths = pushes[0]!.files.map((f) => f.path);
      for (const p of ['/var/lib/kubernetes/ca.key', '/var/lib/kubernetes/service-account.key', '/var/lib/kubernetes/encryption-config.yaml', '/var/lib/kubernetes/apiserver.key', '/var/lib/kubelet/pki/kubelet.key']) assert.ok(paths.includes(p), `${d.name}: ${p}`);
      assert.equal(pushes[0]!.marker, HANDOVER_MARKER);
      for (const f of pushes[0]!.files.filter((x) => x.path.endsWith('.key'))) assert.ok(!d.userData!.includes(f.content.split('\n')[1]!), `${d.name}: ${f.path} is not in user-data`);
    }

    // A fourth node, long after the first three, that does not answer on SSH at first.
    h.handOver.down = true;
    await h.kube.mergePatch(ControlPlanes, { namespace: 'ns', name: 'demo' }, { spec: { replicas: 4 } });
    const late = await h.until('a fourth droplet', () => h.droplets('demo-cp-').find((d) => !first.includes(d)));
    // Tried once it runs, and logged (once: not on every pass).
    await h.until('tried and logged', () => h.lines.some((l) => l.msg === 'keys not handed over yet: the node does not answer on SSH' && l.machine === late.name));
    await h.until('the fourth waits', () => /3\/4 API servers healthy/.test(cond(h.get('ControlPlane', 'demo'), 'APIServerHealthy')?.message ?? ''));
    assert.ok(!h.handOver.pushes.has(late.name) && !late.tags.includes(HANDED_OVER_TAG));
    h.handOver.down = false;
    await h.until('Ready with four', () => {
      const cp = h.ready('ControlPlane', 'demo')();
      return cp && cp.status!.readyReplicas === 4 ? cp : undefined;
    }, 60_000);
    assert.equal(h.handOver.pushes.get(late.name)?.length, 1);
    assert.ok(late.tags.includes(HANDED_OVER_TAG));
    assert.equal(h.lines.filter((l) => l.msg === 'keys not handed over yet: the node does not answer on SSH' && l.machine === late.name).length, 1, 'logged once');
    for (const d of first) assert.equal(h.handOver.pushes.get(d.name)!.length, 1, `${d.name}: not pushed again`);
    // A crash after a push, before the tag: the API server answers, so the node is tagged, not pushed again
    // (it has retired the host key the push needed).
    late.tags.splice(late.tags.indexOf(HANDED_OVER_TAG), 1);
    await h.restart();
    await h.until('tagged again', () => late.tags.includes(HANDED_OVER_TAG));
    assert.equal(h.handOver.pushes.get(late.name)!.length, 1, 'not pushed again');
    assert.ok(h.lines.some((l) => l.msg === 'keys already there (the API server answers): tagged handed over' && l.machines.includes(late.name)));
    const events = (await h.kube.list<Obj & { reason: string; message: string }>(Events, { namespace: 'ns' })).items.filter((e) => e.reason === 'KeysHandedOver');
    assert.ok(events.some((e) => e.message.startsWith(`${late.name}: `) && /files over SFTP \(host key SHA256:/.test(e.message)), JSON.stringify(events.map((e) => e.message)));
  } finally {
    await h.stop();
  }
});
