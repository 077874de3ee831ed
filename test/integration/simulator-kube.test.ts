// The node simulator booting a whole small cluster from the real renderers' user-data: one etcd member,
// one control-plane node (real kube-apiserver and kube-controller-manager v1.20.2) and three workers joining
// by TLS bootstrap (one sound, one whose bootstrap token was never put into the cluster, one without its
// bootstrap kubeconfig), on fake droplets with fake DNS, checked through the real API and the health
// endpoints the operator probes. There is no operator here: the test puts the addons and the tokens in,
// and approves serving certificates with the operator's own rule (servingVerdict).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { renderCluster } from '../../src/bootstrap/cluster.ts';
import { renderCloudConfig } from '../../src/bootstrap/cloudconfig.ts';
import type { RenderedNode } from '../../src/bootstrap/roles.ts';
import { HttpsWorkloadCluster } from '../../src/workload/adapter.ts';
import { renderAddons } from '../../src/bootstrap/addons.ts';
import { BOOTSTRAP_GROUP } from '../../src/pki/bootstrap-token.ts';
import { servingVerdict, KUBELET_SERVING_SIGNER } from '../../src/controllers/workerpool/serving-csr.ts';
import { FakeDigitalOcean } from '../../src/cloud/fake/digitalocean.ts';
import { FakeCloudflare } from '../../src/cloud/fake/cloudflare.ts';
import { DigitalOceanCompute } from '../../src/cloud/digitalocean/compute.ts';
import { CloudflareDns } from '../../src/cloud/cloudflare/dns.ts';
import type { Droplet } from '../../src/cloud/ports.ts';
import { sampleCluster, realRenderContext } from '../helpers/cluster.ts';
import { digitalOceanContract, cloudflareContract } from '../helpers/contracts.ts';
import { parse } from 'yaml';
import { NodeSimulator } from '../helpers/simulator.ts';
import { HANDOVER_MARKER } from '../../src/bootstrap/handover.ts';
import { kubeBinariesPresent } from '../env/cluster.ts';
import { adaptFlags, binaryInfo, kubeBinary } from '../helpers/kube-node.ts';
import { execStart } from '../helpers/etcd.ts';
import { httpsGet, type Answer } from '../helpers/https-get.ts';

const ZONE = 'example.com';
const ENDPOINT = 'api.demo.example.com';
const INSTALL = '/usr/local/sbin/hardway-install';

const root = mkdtempSync(path.join(tmpdir(), 'hardway-sim-kube-'));
const ctx = realRenderContext();
const description = sampleCluster();
description.etcd.spec.replicas = 1;
description.controlPlane.spec.replicas = 1;
description.workerPools[0]!.spec.replicas = 3;
const { pki, nodes, tokens, handOverKey } = renderCluster(description, ctx);
const etcd = nodes.find((n) => n.role === 'etcd')!;
const cp = nodes.find((n) => n.role === 'control-plane')!;
const [worker, noToken, noBootstrap] = nodes.filter((n) => n.role === 'worker') as [RenderedNode, RenderedNode, RenderedNode];
const k = pki.kubernetes;
const admin = { ca: pki.kubernetesCA.cert, cert: k.admin!.cert, key: k.admin!.key };
const kubeletClient = { ca: pki.kubernetesCA.cert, cert: k['apiserver-kubelet-client']!.cert, key: k['apiserver-kubelet-client']!.key };

/** The same node with some files replaced or removed, its user-data rendered again. */
function tampered(n: RenderedNode, change: Record<string, string | null>): RenderedNode {
  const files = n.files.filter((f) => change[f.path] !== null).map((f) => (typeof change[f.path] === 'string' ? { ...f, content: change[f.path]! } : f));
  return { ...n, files, userData: renderCloudConfig({ hostname: n.name, files, runcmd: [[INSTALL]] }) };
}

const machines = [etcd, cp, worker, noToken, tampered(noBootstrap, { '/var/lib/kubelet/bootstrap-kubeconfig': null })];

let compute: FakeDigitalOcean;
let dns: FakeCloudflare;
let sim: NodeSimulator;
let doApi: DigitalOceanCompute;
const droplets = new Map<string, Droplet>();
let started = 0;

const get = (address: string, port: number, urlPath: string, name: string, tls: { ca: string; cert?: string; key?: string }) =>
  httpsGet({ host: address, port, path: urlPath, servername: name }, tls);

function httpGet(address: string, port: number, urlPath: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: address, port, path: urlPath, agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The error code of a plain TCP connect (undefined when it connects). */
function connectError(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(undefined);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code));
  });
}

/** Polls a real process's answer until pred holds or the deadline passes (no event exists to wait on). */
async function poll<T>(what: string, f: () => Promise<T>, pred: (v: T) => boolean, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      last = await f();
      if (pred(last as T)) return last as T;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not within ${ms} ms (last: ${JSON.stringify(last)?.slice(0, 400)})`);
}

const cpIp = () => droplets.get(cp.name)!;
const api = (urlPath: string) => get(cpIp().publicIPv4!, 6443, urlPath, ENDPOINT, admin);
const nodeObject = async (name: string) => {
  const r = await api(`/api/v1/nodes/${name}`);
  return r.status === 200 ? JSON.parse(r.body) : undefined;
};
const ready = (n: any) => n?.status?.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True';

before(async () => {
  if (!kubeBinariesPresent()) throw new Error('kube binaries missing: run test/env/setup.sh');
  compute = await new FakeDigitalOcean({ tokens: ['dop_v1_sim'], provisionDelayMs: 0, contract: digitalOceanContract(), minuteLimit: 100_000 }).start();
  dns = await new FakeCloudflare({ tokens: ['cf-sim'], zones: [ZONE], contract: cloudflareContract(), limitPer5Min: 100_000 }).start();
  doApi = new DigitalOceanCompute({ token: 'dop_v1_sim', baseUrl: compute.url });
  const cf = new CloudflareDns({ token: 'cf-sim', baseUrl: dns.url });
  const roleTag = (n: RenderedNode) => `sim-${n.role}`;
  started = Date.now();
  const created = await doApi.createDroplets(machines.map((n) => ({ name: n.name, region: 'fra1', size: 's-2vcpu-4gb', image: 'debian-12-x64', tags: ['sim', roleTag(n)], userData: n.userData })));
  for (const d of created.data) droplets.set(d.name, d);
  assert.ok([...droplets.values()].every((d) => d.status === 'active' && d.privateIPv4 && d.publicIPv4));
  // What the operator writes: members and control-plane nodes by private address, the endpoint by public.
  const zone = (await cf.findZone(ZONE)).data!;
  const a = (name: string, content: string) => cf.createRecord(zone.id, { name, type: 'A', content, ttl: 60 });
  await a(`${etcd.name}.${ZONE}`, droplets.get(etcd.name)!.privateIPv4!);
  await a(`${cp.name}.${ZONE}`, cpIp().privateIPv4!);
  await a(ENDPOINT, cpIp().publicIPv4!);
  sim = new NodeSimulator(compute, dns, path.join(root, 'nodes'), { heartbeatMs: 1_000, registerRetryMs: 500 }).start();
  // What the operator does once the droplet runs: hand the control-plane node its keys (until then its
  // units wait), with the host key its user-data gives.
  const hostKey = (parse(cp.userData.replace(/^#cloud-config\n/, '')) as { ssh_keys: { ed25519_public: string } }).ssh_keys.ed25519_public;
  await poll('keys handed over', () => sim.handOver.push({ address: cpIp().publicIPv4!, hostKey }, handOverKey.privateKey, cp.handOver, HANDOVER_MARKER).then(() => true), (x) => x, 30_000);
  // What the operator does once the API answers: the addons (TLS-bootstrap RBAC among them) and each
  // worker's token, except noToken's; then it approves serving certificates (below).
  await sim.waitForApiServer(cp.name, 100_000);
  workload = new HttpsWorkloadCluster({ ip: cpIp().publicIPv4!, serverName: ENDPOINT, ...admin });
  await workload.apply(renderAddons({ clusterDNS: '10.32.0.10', clusterDomain: 'cluster.local', podCIDR: '10.200.0.0/16' }));
  for (const t of tokens.filter((x) => x.machine !== noToken.name)) await workload.createBootstrapToken({ ...t, groups: [BOOTSTRAP_GROUP] });
  approver = setInterval(() => void approveServing(), 500);
});

let workload: HttpsWorkloadCluster;
let approver: NodeJS.Timeout | undefined;
/** The operator's serving-certificate rule, applied to every pending kubelet-serving request. */
async function approveServing() {
  const own = (name: string) => ({ name, addresses: [droplets.get(name)?.privateIPv4, droplets.get(name)?.publicIPv4].filter((a): a is string => !!a) });
  for (const r of await workload.listCertificateRequests().catch(() => [])) {
    const name = r.username.replace(/^system:node:/, '');
    if (!r.decided && r.signerName === KUBELET_SERVING_SIGNER && droplets.has(name) && servingVerdict(r, own(name)).approve) await workload.approveCertificateRequest(r.name, 'test').catch(() => undefined);
  }
}

after(async () => {
  clearInterval(approver);
  workload?.close();
  await sim?.stop();
  await compute?.stop();
  await dns?.stop();
  rmSync(root, { recursive: true, force: true });
});

test('units are adapted to the v1.20 binaries: unknown flags and admission plugins dropped and logged, 0.0.0.0 narrowed, paths moved', async () => {
  const info = await binaryInfo(kubeBinary('kube-apiserver'));
  assert.equal(info.version, 'v1.20.2');
  assert.ok(info.flags.size > 100 && info.flags.has('etcd-servers') && info.flags.has('service-account-issuer'));
  assert.ok(info.admissionPlugins?.has('NodeRestriction') && !info.admissionPlugins.has('ValidatingAdmissionPolicy'));
  const onDisk = (p: string) => `/node${p}`;
  const { args, notes } = adaptFlags(
    [
      '--bind-address=0.0.0.0',
      '--authentication-config=/etc/kubernetes/authn.yaml', // 1.29+
      '--enable-admission-plugins=NodeRestriction,ValidatingAdmissionPolicy', // the plugin is 1.26+
      '--tls-cert-file=/var/lib/kubernetes/apiserver.crt',
      '--etcd-servers=https://a.example.com:2379,https://b.example.com:2379',
      '--allow-privileged=true',
    ],
    { component: 'kube-apiserver', info, privateIp: '127.10.0.9', onDisk },
  );
  assert.deepEqual(args, [
    '--bind-address=127.10.0.9',
    '--enable-admission-plugins=NodeRestriction',
    '--tls-cert-file=/node/var/lib/kubernetes/apiserver.crt',
    '--etcd-servers=https://a.example.com:2379,https://b.example.com:2379',
    '--allow-privileged=true',
  ]);
  assert.equal(notes.length, 3);
  assert.match(notes[1]!, /^dropped --authentication-config=\/etc\/kubernetes\/authn\.yaml: kube-apiserver v1\.20\.2 has no --authentication-config$/);
  assert.match(notes[2]!, /^dropped admission plugin\(s\) ValidatingAdmissionPolicy/);
  // What today's rendered units lose on v1.20 (reported, not asserted: the renderer follows current releases).
  for (const [unit, bin] of [['kube-apiserver.service', 'kube-apiserver'], ['kube-controller-manager.service', 'kube-controller-manager']] as const) {
    const rendered = execStart(cp.files.find((f) => f.path === `/etc/systemd/system/${unit}`)!.content, { PRIVATE_IPV4: '127.10.0.9', PUBLIC_IPV4: '' }).slice(1);
    const dropped = adaptFlags(rendered, { component: bin, info: await binaryInfo(kubeBinary(bin)), privateIp: '127.10.0.9', onDisk }).notes.filter((n) => n.startsWith('dropped'));
    console.log(`# ${bin}: ${dropped.length ? dropped.join('; ') : 'no rendered flag is dropped for v1.20'}`);
  }
});

test('the control-plane node runs the real API server against the simulated etcd member; /readyz through the endpoint name', { timeout: 120_000 }, async () => {
  await sim.waitForApiServer(cp.name, 100_000);
  const apiReadyAfter = Date.now() - started;
  const node = sim.kubeNode(cp.name)!;
  assert.equal(node.role, 'control-plane');
  assert.equal(node.components.get('kube-apiserver')!.state, 'running');
  // Through the endpoint's A record (the public address, forwarded), verified for the endpoint name.
  const readyz = await api('/readyz');
  assert.equal(readyz.status, 200, readyz.body);
  assert.equal(readyz.body, 'ok');
  // And at the node's private address under its own DNS name, as etcd-style probes of one node do.
  const own = await get(cpIp().privateIPv4!, 6443, '/livez', `${cp.name}.${ZONE}`, admin);
  assert.equal(own.status, 200);
  // The API server reaches etcd by the member's DNS name, resolved through the simulated zone.
  const argv = node.argv.get('kube-apiserver')!;
  assert.ok(argv.includes(`--etcd-servers=https://${etcd.name}.${ZONE}:2379`), argv.join(' '));
  assert.ok(argv.includes(`--bind-address=${cpIp().privateIPv4}`));
  assert.ok(node.log.some((l) => l.startsWith('[kube-apiserver] --bind-address=0.0.0.0 →')), node.log.join('\n'));
  // A client that does not trust the cluster CA is refused by TLS.
  await assert.rejects(get(cpIp().publicIPv4!, 6443, '/readyz', ENDPOINT, { ca: pki.etcdCA.cert }), /self.signed|unable to verify|unable to get/);
  console.log(`# kube-apiserver ready ${apiReadyAfter} ms after the droplets were created; changes made to the units:\n# ${node.log.filter((l) => /dropped|added|→/.test(l)).join('\n# ')}`);
});

test('kubelets register their Nodes through the real API with their own certificates and keep them Ready', { timeout: 90_000 }, async () => {
  await sim.waitForApiServer(cp.name, 100_000);
  const w = await poll('worker Node Ready', () => nodeObject(worker.name), ready, 60_000);
  const c = await poll('control-plane Node Ready', () => nodeObject(cp.name), ready, 30_000);
  assert.equal(w.metadata.labels['node.kubernetes.io/pool'], 'general');
  assert.equal(w.metadata.labels['example.com/team'], 'platform');
  assert.equal(w.metadata.labels['kubernetes.io/hostname'], worker.name);
  assert.equal(w.status.nodeInfo.kubeletVersion, description.controlPlane.spec.version);
  assert.deepEqual(w.status.addresses.find((x: any) => x.type === 'InternalIP'), { type: 'InternalIP', address: droplets.get(worker.name)!.privateIPv4 });
  assert.ok(c.spec.taints.some((t: any) => t.key === 'node-role.kubernetes.io/control-plane' && t.effect === 'NoSchedule'), JSON.stringify(c.spec.taints));
  assert.ok(!(w.spec.taints ?? []).some((t: any) => t.key === 'node-role.kubernetes.io/control-plane'));
  // The heartbeat moves and a Lease is renewed in kube-node-lease.
  const beat = (n: any) => n.status.conditions.find((x: any) => x.type === 'Ready').lastHeartbeatTime;
  await poll('heartbeat', () => nodeObject(worker.name), (n) => beat(n) !== beat(w), 10_000);
  const lease = await poll('lease', () => api(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${worker.name}`), (r) => r.status === 200, 10_000);
  assert.equal(JSON.parse(lease.body).spec.holderIdentity, worker.name);
  // Node authorization applies to the kubelets' credentials: a worker may not touch another node.
  // The worker's credential is the one its kubelet asked for (TLS bootstrap) and wrote on the node.
  const own = readFileSync(path.join(root, 'nodes', worker.name, 'var/lib/kubelet/pki/kubelet-client-current.pem'), 'utf8');
  const workerCreds = { ca: pki.kubernetesCA.cert, cert: own, key: own };
  assert.match(new X509Certificate(own).subject, new RegExp(`CN=system:node:${worker.name}`));
  const other = await get(cpIp().publicIPv4!, 6443, `/api/v1/nodes/${cp.name}`, ENDPOINT, workerCreds);
  assert.equal(other.status, 200, 'nodes may read other nodes');
  const secrets = await get(cpIp().publicIPv4!, 6443, '/api/v1/namespaces/kube-system/secrets', ENDPOINT, workerCreds);
  assert.equal(secrets.status, 403);
  // Counted after the kubelet reads its PATCH's answer, so the API can show a moved heartbeat first; and the
  // one moved above may be the patch that follows registration (heartbeat times are whole seconds). Wait for
  // a second one rather than read the count once (CI run of stop 24 read 1 here).
  await poll('a second heartbeat', async () => sim.kubeNode(worker.name)!.kubelet!.heartbeats, (n) => n >= 2, 10_000);
  console.log(`# Nodes Ready ${Date.now() - started} ms after the droplets were created`);
});

test('health endpoints at the public addresses: kubelet (apiserver-kubelet-client), controller-manager, scheduler, kube-proxy', { timeout: 90_000 }, async () => {
  await sim.waitForApiServer(cp.name, 100_000);
  const wPublic = droplets.get(worker.name)!.publicIPv4!;
  const healthz = await poll('kubelet /healthz', () => get(wPublic, 10250, '/healthz', worker.name, kubeletClient), (r) => r.status === 200, 30_000);
  assert.equal(healthz.body, 'ok');
  // Anonymous is refused, as the rendered KubeletConfiguration says; the admin is authorized by the API.
  assert.equal((await get(wPublic, 10250, '/healthz', worker.name, { ca: pki.kubernetesCA.cert })).status, 401);
  assert.equal((await get(wPublic, 10250, '/healthz', worker.name, admin)).status, 200);
  // The kube-proxy certificate is a client one of the cluster, but the API denies it nodes/proxy.
  assert.equal((await get(wPublic, 10250, '/healthz', worker.name, { ca: pki.kubernetesCA.cert, cert: k['kube-proxy']!.cert, key: k['kube-proxy']!.key })).status, 403);
  // The control-plane node's own kubelet too.
  assert.equal((await get(cpIp().publicIPv4!, 10250, '/healthz', `${cp.name}.${ZONE}`, kubeletClient)).status, 200);
  const kcm = await poll('controller-manager /healthz', () => get(cpIp().publicIPv4!, 10257, '/healthz', `${cp.name}.${ZONE}`, { ca: pki.kubernetesCA.cert }), (r) => r.status === 200, 60_000);
  assert.equal(kcm.body, 'ok');
  assert.equal((await get(cpIp().publicIPv4!, 10259, '/healthz', `${cp.name}.${ZONE}`, { ca: pki.kubernetesCA.cert })).status, 200);
  const proxy = await httpGet(wPublic, 10256, '/healthz');
  assert.equal(proxy.status, 200);
  assert.ok(JSON.parse(proxy.body).lastUpdated);
  assert.ok(sim.kubeNode(cp.name)!.argv.get('kube-controller-manager')!.includes('--port=0'));
});

test('a worker whose token is not in the cluster never joins; one without its bootstrap kubeconfig fails as on a real node', { timeout: 90_000 }, async () => {
  await poll('worker Node Ready', () => nodeObject(worker.name), ready, 60_000);
  // No token: the API refuses the kubelet's request (401), so it has no certificate, no Node, serves nothing,
  // and kube-proxy (which uses the kubelet's certificate) waits for it.
  const orphan = sim.kubeNode(noToken.name)!;
  await sim.until('refused', () => orphan.log.some((l) => /\[kubelet\] .*cannot create certificate signing request: 401/.test(l)), 30_000);
  assert.equal((await api(`/api/v1/nodes/${noToken.name}`)).status, 404);
  assert.equal(await connectError(droplets.get(noToken.name)!.publicIPv4!, 10250), 'ECONNREFUSED');
  assert.ok(orphan.log.some((l) => l.startsWith('[kube-proxy] waiting for /var/lib/kubelet/pki/kubelet-client-current.pem')));
  // No bootstrap kubeconfig (and no kubeconfig yet): the kubelet refuses to start.
  const broken = sim.kubeNode(noBootstrap.name)!;
  await sim.until('kubelet failed', () => broken.components.get('kubelet')?.state === 'failed', 10_000);
  assert.match(broken.components.get('kubelet')!.reason!, /unable to load bootstrap kubeconfig: open \/var\/lib\/kubelet\/bootstrap-kubeconfig: no such file or directory/);
  const brokenIp = droplets.get(noBootstrap.name)!;
  assert.equal(await connectError(brokenIp.publicIPv4!, 10250), 'ECONNREFUSED');
  assert.equal((await api(`/api/v1/nodes/${noBootstrap.name}`)).status, 404);
});

test('a load balancer forwards 6443 to a tagged droplet that answers, and stops when deleted; a deleted droplet stops', { timeout: 90_000 }, async () => {
  await sim.waitForApiServer(cp.name, 100_000);
  const lb = (await doApi.createLoadBalancer({ name: 'demo-api', region: 'fra1', tag: 'sim-control-plane', forwarding: [{ entryPort: 6443, targetPort: 6443, protocol: 'tcp' }], healthCheck: { protocol: 'tcp', port: 6443 } })).data;
  assert.ok(lb.ip);
  await sim.until('load balancer served', () => sim.loadBalancers.has(lb.id), 5_000);
  const viaLb = await poll('readyz via the load balancer', () => get(lb.ip, 6443, '/readyz', ENDPOINT, admin), (r) => r.status === 200, 10_000);
  assert.equal(viaLb.body, 'ok');
  await doApi.deleteLoadBalancer(lb.id);
  await sim.until('load balancer removed', () => !sim.loadBalancers.has(lb.id), 5_000);
  await poll('load balancer closed', () => connectError(lb.ip, 6443), (c) => c === 'ECONNREFUSED', 5_000);

  // A droplet deleted: its node stops and its ports close.
  const w = droplets.get(worker.name)!;
  await doApi.deleteDroplet(w.id);
  await sim.until('worker stopped', () => !sim.nodes.has(worker.name), 5_000);
  await poll('kubelet port closed', () => connectError(w.publicIPv4!, 10250), (c) => c === 'ECONNREFUSED', 5_000);
  // kill(): the machine dies, the droplet stays.
  await sim.kill(noToken.name);
  assert.ok(!sim.nodes.has(noToken.name), 'the machine is gone');
  assert.ok(compute.activeDroplets().some((d) => d.name === noToken.name), 'its droplet stays');
  assert.deepEqual(compute.violations, []);
  assert.deepEqual(dns.violations, []);
});
