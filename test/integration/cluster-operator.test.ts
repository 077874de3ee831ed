// The whole sample cluster, end to end: the operator against the real kube-apiserver, the cloud fakes and
// the node simulator (real etcd members, real kube-apiserver and controller-manager on the control-plane
// droplets, simulated kubelets registering their Nodes through that API). kubectl apply → all Ready →
// the kubeconfig works → delete everything at once (credentials too) → nothing left in the clouds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parse } from 'yaml';
import { kubeEnv, freshNamespace, type KubeEnv } from './env.ts';
import { FakeDigitalOcean } from '../../src/cloud/fake/digitalocean.ts';
import { FakeCloudflare } from '../../src/cloud/fake/cloudflare.ts';
import { startOperator, type RunningOperator } from '../../src/operator.ts';
import { parseConfig } from '../../src/runtime/config.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { HttpsWorkloadConnector } from '../../src/workload/adapter.ts';
import { digitalOceanContract, cloudflareContract } from '../helpers/contracts.ts';
import { NodeSimulator } from '../helpers/simulator.ts';
import { samplesDir } from '../helpers/samples.ts';
import { opensslCsr } from '../helpers/csr.ts';
import { rawApi } from './workload-target.ts';

let env: KubeEnv;
before(async () => (env = await kubeEnv()));
after(async () => env?.close());

test('kubectl apply the sample cluster → etcd, control plane and pool Ready; the kubeconfig works; delete all at once leaves nothing', { timeout: 600_000 }, async () => {
  const ns = await freshNamespace(env, 'cluster-e2e');
  const root = mkdtempSync(path.join(tmpdir(), 'hardway-cluster-e2e-'));
  const compute = await new FakeDigitalOcean({ tokens: ['dop_v1_e2e'], provisionDelayMs: 300, contract: digitalOceanContract(), minuteLimit: 100_000 }).start();
  const dns = await new FakeCloudflare({ tokens: ['cf-e2e'], zones: ['example.com'], contract: cloudflareContract(), limitPer5Min: 100_000 }).start();
  const sim = new NodeSimulator(compute, dns, path.join(root, 'nodes'), { restartDelayMs: 1_000 }).start();
  const logLines: string[] = [];
  let operator: RunningOperator | undefined;
  const get = async (kind: string, name: string) => JSON.parse(await env.kubectl('get', '-n', ns, kind, name, '-o', 'json'));
  const cond = (o: any, type: string) => o.status?.conditions?.find((c: { type: string }) => c.type === type);
  const workload = new HttpsWorkloadConnector();
  try {
    await env.kubectl('create', 'secret', 'generic', 'demo-credentials', '-n', ns, '--from-literal=digitalocean-token=dop_v1_e2e', '--from-literal=cloudflare-api-token=cf-e2e');
    const cfg = parseConfig(
      [`--kubeconfig=${env.kubeconfig}`, `--namespace=${ns}`, '--leader-elect=false', '--metrics-bind-address=127.0.0.1:0', `--digitalocean-api-url=${compute.url}`, `--cloudflare-api-url=${dns.url}`],
      {},
    );
    const log = createLogger({ level: 'info', destination: new Writable({ write: (c, _e, cb) => (logLines.push(String(c)), cb()) }) });
    const fast = { waitMs: 500, steadyMs: 2_000, graceMs: 5_000 };
    operator = await startOperator(cfg, {
      log,
      onFatal: (r) => assert.fail(r),
      etcdTiming: { ...fast, probeTimeoutMs: 1_000, endpointDrainMs: 1_000 },
      controlPlaneTiming: { ...fast, rotationDrainMs: 1_000 },
      workerPoolTiming: { ...fast, drainTimeoutMs: 5_000 },
      handOver: sim.handOver,
    });

    // Everything at once, in any order, as Argo CD would.
    for (const f of ['workerpool.yaml', 'controlplane.yaml', 'etcdcluster.yaml']) await env.kubectl('apply', '-n', ns, '-f', path.join(samplesDir, f));
    await env.kubectl('wait', '-n', ns, '--for=condition=Ready', '--timeout=240s', 'etcdcluster/demo');
    await env.kubectl('wait', '-n', ns, '--for=condition=Ready', '--timeout=180s', 'controlplane/demo');
    await env.kubectl('wait', '-n', ns, '--for=condition=Ready', '--timeout=120s', 'workerpool/demo-general');

    const cp = await get('controlplane', 'demo');
    for (const type of ['Ready', 'EtcdAvailable', 'CertificatesAvailable', 'MachinesProvisioned', 'DNSReady', 'APIServerHealthy', 'ControllerManagerHealthy', 'SchedulerHealthy', 'AddonsReady']) {
      assert.equal(cond(cp, type).status, 'True', `${type}: ${cond(cp, type).message}`);
    }
    assert.equal(cond(cp, 'APIServerHealthy').message, '3/3 API servers healthy');
    assert.equal(cp.status.endpoint, 'https://api.demo.example.com:6443');
    assert.ok(cp.status.certificates.earliestExpiry);
    const wp = await get('workerpool', 'demo-general');
    assert.equal(cond(wp, 'NodesReady').message, '2/2 nodes Ready');
    const table = await env.kubectl('get', '-n', ns, 'hardway');
    assert.match(table, /controlplane\.hardway\.dev\/demo\s+True\s+3\s+v1\.\d+\.\d+\s+https:\/\/api\.demo\.example\.com:6443/);

    // The admin kubeconfig: from the Secret, with the endpoint resolved as the zone says, the real API answers.
    const kubeconfig = Buffer.from(JSON.parse(await env.kubectl('get', 'secret', '-n', ns, 'demo-kubeconfig', '-o', 'json')).data.value, 'base64').toString('utf8');
    const kc = parse(kubeconfig);
    const endpointIp = [...dns.records.values()].find((r) => r.name === 'api.demo.example.com')!.content;
    const b = (s: string) => Buffer.from(s, 'base64').toString('utf8');
    const api = workload.connect({ ip: endpointIp, serverName: 'api.demo.example.com', ca: b(kc.clusters[0].cluster['certificate-authority-data']), cert: b(kc.users[0].user['client-certificate-data']), key: b(kc.users[0].user['client-key-data']) });
    const nodes = await api.listNodes();
    assert.equal(nodes.length, 5, `three control-plane nodes and two workers registered: ${nodes.map((n) => n.name)}`);
    assert.ok(nodes.every((n) => n.ready === 'True'));
    // kubectl with the kubeconfig as a user would get it (the endpoint name pinned to an address the zone lists).
    const file = path.join(root, 'admin.kubeconfig');
    kc.clusters[0].cluster.server = `https://${endpointIp}:6443`;
    kc.clusters[0].cluster['tls-server-name'] = 'api.demo.example.com';
    writeFileSync(file, JSON.stringify(kc));
    assert.match(await env.kubectl('--kubeconfig', file, 'get', 'nodes', '-o', 'name'), /node\/demo-general-worker-\w{5}/);
    assert.match(await env.kubectl('--kubeconfig', file, 'get', 'service', '-n', 'kube-system', 'kube-dns', '-o', 'jsonpath={.spec.clusterIP}'), /^10\.32\.0\.10$/);

    // Workers joined by TLS bootstrap, against the real API server and controller manager: each kubelet
    // asked for its client certificate with a bootstrap token (approved by the controller manager), then
    // for its serving certificate (approved by the operator); the tokens are gone once the Nodes are there.
    type Csr = { metadata: { name: string }; spec: { username: string; signerName: string; request: string }; status: { conditions?: { type: string; reason: string }[]; certificate?: string } };
    const workerNames = nodes.map((n) => n.name).filter((n) => n.startsWith('demo-general-'));
    const issued = (w: string) => (c: Csr) => !!c.status.certificate && new X509Certificate(Buffer.from(c.status.certificate, 'base64')).subject.includes(`CN=system:node:${w}`);
    // A kubelet asks for its serving certificate once it has registered; the operator approves it on the
    // pool's next pass (a Ready pool does not wait for that), so the list is read until each has one.
    let csrs: Csr[] = [];
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
      csrs = JSON.parse(await env.kubectl('--kubeconfig', file, 'get', 'csr', '-o', 'json')).items as Csr[];
      if (workerNames.every((w) => csrs.some((c) => c.spec.signerName === 'kubernetes.io/kubelet-serving' && issued(w)(c)))) break;
    }
    for (const w of workerNames) {
      const client = csrs.find((c) => c.spec.signerName === 'kubernetes.io/kube-apiserver-client-kubelet' && issued(w)(c));
      assert.ok(client, `${w}: a client certificate issued through a CSR`);
      assert.match(client.spec.username, /^system:bootstrap:[a-z0-9]{6}$/, 'asked for with a bootstrap token');
      assert.equal(client.status.conditions?.find((c) => c.type === 'Approved')?.reason, 'AutoApproved', "approved by the controller manager's approver");
      const serving = csrs.find((c) => c.spec.signerName === 'kubernetes.io/kubelet-serving' && c.spec.username === `system:node:${w}` && issued(w)(c));
      assert.equal(serving?.status.conditions?.find((c) => c.type === 'Approved')?.reason, 'HardwayApproved', `${w}: serving certificate approved by the operator`);
    }
    assert.equal((await env.kubectl('--kubeconfig', file, 'get', 'secrets', '-n', 'kube-system', '--field-selector', 'type=bootstrap.kubernetes.io/token', '-o', 'name')).trim(), '', 'no bootstrap token left');
    // A worker asking, with its own credential, for a serving certificate naming another node: not approved.
    const [wa, wb] = workerNames as [string, string];
    const own = readFileSync(path.join(root, 'nodes', wa, 'var/lib/kubelet/pki/kubelet-client-current.pem'), 'utf8');
    const asWorker = rawApi({ ip: endpointIp, port: 6443, serverName: 'api.demo.example.com', ca: b(kc.clusters[0].cluster['certificate-authority-data']), cert: own, key: own });
    const forged = await asWorker('POST', '/apis/certificates.k8s.io/v1/certificatesigningrequests', {
      metadata: { name: 'forged-serving' },
      spec: { request: Buffer.from(opensslCsr(`/O=system:nodes/CN=system:node:${wa}`, `DNS:${wb}`)).toString('base64'), signerName: 'kubernetes.io/kubelet-serving', usages: ['digital signature', 'key encipherment', 'server auth'] },
    });
    assert.equal(forged.status, 201, JSON.stringify(forged.json));
    let refused = '';
    for (let i = 0; i < 60 && !refused; i++) {
      // Bounded polling of events, as a user would watch them.
      refused = await env.kubectl('get', 'events', '-n', ns, '--field-selector', 'reason=CertificateRequestNotApproved', '-o', 'jsonpath={.items[*].message}');
      if (!refused) await new Promise((r) => setTimeout(r, 1_000));
    }
    assert.match(refused, new RegExp(`forged-serving from system:node:${wa}: names not of ${wa}: ${wb}`));
    const after = JSON.parse(await env.kubectl('--kubeconfig', file, 'get', 'csr', 'forged-serving', '-o', 'json')) as Csr;
    assert.ok(!after.status.conditions?.length && !after.status.certificate, 'left pending, no certificate');

    const events = await env.kubectl('get', 'events', '-n', ns, '-o', 'jsonpath={.items[*].reason}');
    for (const r of ['MachineCreated', 'KubeconfigWritten', 'LoadBalancerCreated|DNSRecordCreated', 'FirewallCreated']) assert.match(events, new RegExp(r));

    // Delete everything at once, the credentials included (helm uninstall, Argo CD prune).
    await env.kubectl('delete', '-n', ns, 'etcdcluster/demo', 'controlplane/demo', 'workerpool/demo-general', 'secret/demo-credentials', '--wait=false');
    await env.kubectl('wait', '-n', ns, '--for=delete', '--timeout=120s', 'workerpool/demo-general', 'controlplane/demo', 'etcdcluster/demo').catch(() => undefined);
    assert.equal((await env.kubectl('get', '-n', ns, 'hardway', '-o', 'name')).trim(), '', 'all three objects are gone');
    assert.equal(compute.droplets.size, 0);
    assert.equal(dns.records.size, 0);
    assert.equal(compute.firewalls.size, 0);
    assert.equal(compute.loadBalancers.size, 0);
    assert.equal((await env.kubectl('get', 'secrets', '-n', ns, '-l', 'app.kubernetes.io/managed-by=hardway', '-o', 'name')).trim(), '');
    assert.deepEqual(compute.violations, []);
    assert.deepEqual(dns.violations, []);
    const all = logLines.join('');
    assert.ok(!all.includes('dop_v1_e2e') && !all.includes('PRIVATE KEY'), 'no token or key reaches the log');
  } finally {
    workload.close();
    await operator?.stop();
    await sim.stop();
    await compute.stop();
    await dns.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
