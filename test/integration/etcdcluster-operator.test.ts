// The operator against the real kube-apiserver, with the cloud fakes and droplets that are real machines
// (systemd-nspawn, systemd and cloud-init running the operator's user-data unmodified, etcd 3.5 installed
// by the install script from the release hosts): apply the sample EtcdCluster with kubectl, watch it become
// Ready, lose a member's machine, see it replaced, delete it and find no machine left running.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { kubeEnv, freshNamespace, type KubeEnv } from './env.ts';
import { FakeDigitalOcean } from '../../src/cloud/fake/digitalocean.ts';
import { FakeCloudflare } from '../../src/cloud/fake/cloudflare.ts';
import { startOperator, type RunningOperator } from '../../src/operator.ts';
import { parseConfig } from '../../src/runtime/config.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { digitalOceanContract, cloudflareContract } from '../helpers/contracts.ts';
import { NodeSimulator } from '../helpers/simulator.ts';
import { samplesDir, sampleOf } from '../helpers/samples.ts';
import { MachineCloud } from '../helpers/machine-cloud.ts';

let env: KubeEnv;
before(async () => (env = await kubeEnv()));
after(async () => env?.close());

test('kubectl apply → Ready with etcd members on real machines; a machine lost and replaced; kubectl delete leaves nothing running', { timeout: 400_000 }, async () => {
  const ns = await freshNamespace(env, 'etcd-e2e');
  const root = mkdtempSync(path.join(tmpdir(), 'hardway-etcd-e2e-'));
  const version = (sampleOf('EtcdCluster') as { spec: { version: string } }).spec.version;
  const machines = await MachineCloud.start(path.join(root, 'machines'), { bridge: 'hw-etcd-e2e', etcd: [version] });
  const compute = await new FakeDigitalOcean({ tokens: ['dop_v1_e2e'], provisionDelayMs: 300, contract: digitalOceanContract(), minuteLimit: 100_000, addresses: MachineCloud.addressing }).start();
  const dns = await new FakeCloudflare({ tokens: ['cf-e2e'], zones: ['example.com'], contract: cloudflareContract(), limitPer5Min: 100_000 }).start();
  const sim = new NodeSimulator(compute, dns, path.join(root, 'nodes'), { machines }).start();
  const logLines: string[] = [];
  let operator: RunningOperator | undefined;
  const get = async () => JSON.parse(await env.kubectl('get', '-n', ns, 'etcdcluster', 'demo', '-o', 'json'));
  const cond = (o: any, type: string) => o.status?.conditions?.find((c: { type: string }) => c.type === type);
  try {
    await env.kubectl('create', 'secret', 'generic', 'demo-credentials', '-n', ns, '--from-literal=digitalocean-token=dop_v1_e2e', '--from-literal=cloudflare-api-token=cf-e2e');
    const cfg = parseConfig(
      [`--kubeconfig=${env.kubeconfig}`, `--namespace=${ns}`, '--leader-elect=false', '--metrics-bind-address=127.0.0.1:0', `--digitalocean-api-url=${compute.url}`, `--cloudflare-api-url=${dns.url}`, '--etcd-replace-unhealthy-seconds=5'],
      {},
    );
    const log = createLogger({ level: 'info', destination: new Writable({ write: (c, _e, cb) => (logLines.push(String(c)), cb()) }) });
    operator = await startOperator(cfg, { log, onFatal: (r) => assert.fail(r), etcdTiming: { waitMs: 500, steadyMs: 2_000, probeTimeoutMs: 1_000, graceMs: 3_000, endpointDrainMs: 1_000 } });

    await env.kubectl('apply', '-n', ns, '-f', path.join(samplesDir, 'etcdcluster.yaml'));
    await env.kubectl('wait', '-n', ns, '--for=condition=Ready', '--timeout=240s', 'etcdcluster/demo');
    const ready = await get();
    // Each member is a machine whose cloud-init ran the user-data to the end.
    assert.equal(machines.running().length, 3);
    for (const m of machines.running()) {
      const s = await m.waitForCloudInit();
      assert.equal(s.status, 'done', `${m.spec.name}: ${s.detail}`);
    }
    for (const type of ['Ready', 'CertificatesAvailable', 'MachinesProvisioned', 'DNSReady', 'EtcdClusterHealthy']) assert.equal(cond(ready, type).status, 'True', type);
    assert.equal(cond(ready, 'EtcdClusterHealthy').message, '3/3 members healthy, quorum needs 2');
    assert.equal(ready.status.observedGeneration, ready.metadata.generation);
    const table = await env.kubectl('get', '-n', ns, 'etcdclusters');
    assert.match(table, /demo\s+True\s+3\s+3\s+3\.5\.21\s+https:\/\/demo-etcd\.example\.com:2379/);
    const events = await env.kubectl('get', 'events', '-n', ns, '-o', 'jsonpath={.items[*].reason}');
    for (const r of ['MachineCreated', 'MemberAdded', 'MemberPromoted', 'DNSRecordCreated', 'FirewallCreated']) assert.match(events, new RegExp(r));

    // Lose a member: its node dies. Quorum holds (2/3), it is replaced, the cluster is Ready again.
    const victim = ready.status.members.find((m: { leader: boolean }) => !m.leader).name;
    await sim.kill(victim);
    await env.kubectl('wait', '-n', ns, '--for=condition=EtcdClusterHealthy=False', '--timeout=60s', 'etcdcluster/demo');
    const degraded = await get();
    assert.equal(cond(degraded, 'EtcdClusterHealthy').message, '2/3 members healthy, quorum needs 2');
    let healed: any;
    for (let i = 0; i < 240; i++) {
      // Polling the API server through kubectl, as a user would; bounded.
      healed = await get();
      if (cond(healed, 'Ready')?.status === 'True' && !healed.status.members.some((m: { name: string }) => m.name === victim)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(cond(healed, 'Ready').status, 'True', JSON.stringify(healed.status.conditions));
    assert.equal(healed.status.members.length, 3);
    // The replacement joined an existing cluster (its name new to the peers' DNS): its cloud-init ended done too.
    assert.equal(machines.running().length, 3);
    for (const m of machines.running()) {
      const s = await m.waitForCloudInit();
      assert.equal(s.status, 'done', `${m.spec.name}: ${s.detail}`);
    }

    const metrics = await (await fetch(`http://127.0.0.1:${operator.port}/metrics`)).text();
    assert.match(metrics, /hardway_health_probes_total\{component="etcd",result="healthy"\} \d+/);
    assert.match(metrics, /hardway_cloud_api_requests_total\{provider="digitalocean",operation="droplets.create",status="202"\} [3-9]/);

    await env.kubectl('delete', '-n', ns, 'etcdcluster/demo', '--timeout=90s');
    assert.equal(compute.droplets.size, 0);
    await sim.until('every machine stopped', () => sim.nodes.size === 0 && machines.running().length === 0, 10_000);
    assert.deepEqual(machines.running().map((m) => m.spec.name), [], 'no machine left running');
    assert.equal(dns.records.size, 0);
    assert.equal(compute.firewalls.size, 0);
    assert.equal((await env.kubectl('get', 'secrets', '-n', ns, '-l', 'hardway.dev/etcdcluster=demo', '-o', 'name')).trim(), '');
    assert.deepEqual(compute.violations, []);
    assert.deepEqual(dns.violations, []);
    assert.ok(!logLines.join('').includes('dop_v1_e2e'), 'the token never reaches the log');
  } finally {
    await operator?.stop();
    await sim.stop();
    await machines.stop();
    await compute.stop();
    await dns.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
