// A control-plane node as a real machine: the sample cluster rendered for Kubernetes v1.34, three etcd
// machines and one control-plane machine booting their user-data unmodified. The install script downloads
// every artifact from the release hosts and checks it (pinned files are the release server's stand-ins,
// so their digests are the fixture's: MachineCloud.pins); the Kubernetes binaries are the v1.20.2 ones
// behind the per-minor flag checks (test/helpers/kube-wrapper.ts). The API server answers through its
// public address with the cluster's own certificates.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { renderCluster } from '../../src/bootstrap/cluster.ts';
import type { EtcdCluster, ControlPlane, WorkerPool } from '../../src/api/v1alpha1/index.ts';
import { MachineCloud, PAUSE_IMAGE } from '../helpers/machine-cloud.ts';
import { realRenderContext } from '../helpers/cluster.ts';
import { sampleOf } from '../helpers/samples.ts';
import { httpsGet } from '../helpers/https-get.ts';
import { request } from 'node:https';

const VERSION = 'v1.34.2';
const etcd = sampleOf('EtcdCluster') as unknown as EtcdCluster;
const cp = sampleOf('ControlPlane') as unknown as ControlPlane;
cp.spec.version = VERSION;
const wp = sampleOf('WorkerPool') as unknown as WorkerPool;
let cloud: MachineCloud;
before(async () => {
  cloud = await MachineCloud.start(mkdtempSync(path.join(tmpdir(), 'hardway-machines-cp-')), { bridge: 'hw-cp', etcd: [etcd.spec.version], kubernetes: [VERSION] });
});
after(async () => cloud?.stop());

test('control-plane and worker droplets boot their user-data: cloud-init done, every unit active, the API server answering, kubelets registering their Nodes, and a pod running on the worker', { timeout: 600_000 }, async () => {
  const { pki, nodes } = renderCluster({ etcd, controlPlane: cp, workerPools: [wp] }, realRenderContext(), { pins: cloud.pins(VERSION) });
  const etcdNodes = nodes.filter((n) => n.role === 'etcd');
  const [first] = nodes.filter((n) => n.role === 'control-plane');
  let id = 3000;
  const boot = (n: (typeof nodes)[number], zone: string, extraNames: string[] = []) => {
    const { privateIp, publicIp } = cloud.allocate();
    for (const name of [`${n.name}.${zone}`, ...extraNames]) cloud.setName(name, privateIp);
    return { machine: cloud.boot({ id: id++, name: n.name, region: 'fra1', tags: [], userData: n.userData, privateIp, publicIp }), publicIp };
  };
  const members = etcdNodes.map((n) => boot(n, etcd.spec.dns.zone));
  const node = boot(first!, cp.spec.dns.zone, [cp.spec.endpoint.host]);
  for (const m of members) assert.equal((await m.machine.waitForCloudInit()).status, 'done');

  const admin = pki.kubernetes.admin!;
  const creds = { ca: pki.kubernetesCA.cert, cert: admin.cert, key: admin.key };
  const deadline = Date.now() + 180_000;
  let ready = { status: 0, body: '' };
  // Polling a server that is starting, bounded by the deadline.
  while (Date.now() < deadline) {
    ready = await httpsGet({ host: node.publicIp, port: 6443, path: '/readyz', servername: cp.spec.endpoint.host }, creds, 3_000).catch((e: Error) => ({ status: 0, body: e.message }));
    if (ready.status === 200) break;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  const control = ['kube-apiserver.service', 'kube-controller-manager.service', 'kube-scheduler.service'];
  const all = ['hardway-node-env.service', 'containerd.service', 'kubelet.service', 'kube-proxy.service', 'flanneld.service', ...control];
  // The controller manager may start before the API server has made its RBAC roles, exit ("cannot get
  // resource configmaps") and be restarted by systemd, and kube-proxy likewise before its node exists:
  // the units are looked at until they all run.
  let states = await node.machine.unitStates(all);
  for (let i = 0; i < 30 && all.some((u) => states[u] !== 'active'); i++) {
    await new Promise((r) => setTimeout(r, 2_000));
    states = await node.machine.unitStates(all);
  }
  const why = await Promise.all(all.filter((u) => states[u] !== 'active').map(async (u) => `${u}:\n${(await node.machine.exec(['sh', '-c', `journalctl --no-pager -o cat -u ${u} | grep -v -e '^[[:space:]]' -e '^goroutine' -e '^$' | tail -n 8`])).stdout}`));
  assert.deepEqual(states, Object.fromEntries(all.map((u) => [u, 'active'])), why.join('\n'));
  const s = await node.machine.waitForCloudInit();
  assert.equal(s.status, 'done', s.detail);
  // The wrappers said what they translated for v1.20, in the units' journals.
  const scheduler = await node.machine.exec(['journalctl', '--no-pager', '-o', 'cat', '-u', 'kube-scheduler']);
  assert.match(scheduler.stdout, /hardway test wrapper: kube-scheduler v1\.34\.2: config read as kubescheduler\.config\.k8s\.io\/v1beta1/);
  // The kubelet (v1.20.2 on containerd 1.6 inside the machine) registered its Node with the node's
  // private address and the control-plane taint.
  const list = JSON.parse((await httpsGet({ host: node.publicIp, port: 6443, path: '/api/v1/nodes', servername: cp.spec.endpoint.host }, creds, 3_000)).body) as {
    items: { metadata: { name: string }; spec: { taints?: { key: string; effect: string }[] }; status: { addresses: { type: string; address: string }[] } }[];
  };
  assert.deepEqual(list.items.map((n) => n.metadata.name), [first!.name]);
  const registered = list.items[0]!;
  assert.ok(registered.status.addresses.some((a) => a.type === 'InternalIP' && /^10\.10\./.test(a.address)), JSON.stringify(registered.status.addresses));
  assert.deepEqual(registered.spec.taints?.map((t) => `${t.key}:${t.effect}`), ['node-role.kubernetes.io/control-plane:NoSchedule']);

  // A worker joins: its kubelet registers, the Node is Ready by the kubelet's own report, and a pod the
  // real scheduler places there (the control plane is tainted) runs in containerd with runc.
  const [workerNode] = nodes.filter((n) => n.role === 'worker');
  const worker = boot(workerNode!, cp.spec.dns.zone);
  await cloud.importImages(worker.machine);
  const api = (method: string, p: string, body?: unknown) =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = request({ host: node.publicIp, port: 6443, path: p, method, servername: cp.spec.endpoint.host, ...creds, headers: { 'content-type': 'application/json' }, timeout: 5_000 }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  const readyOf = (n: any) => n?.status?.conditions?.find((c: { type: string }) => c.type === 'Ready');
  let workerReady: any;
  for (let i = 0; i < 90; i++) {
    workerReady = readyOf((await api('GET', `/api/v1/nodes/${workerNode!.name}`)).body);
    if (workerReady?.status === 'True') break;
    await new Promise((r) => setTimeout(r, 2_000));
  }
  assert.equal(workerReady?.status, 'True', `worker Node Ready: ${JSON.stringify(workerReady)}`);
  const created = await api('POST', '/api/v1/namespaces/default/pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'hello' },
    spec: { containers: [{ name: 'pause', image: PAUSE_IMAGE, imagePullPolicy: 'Never' }] },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  let pod: any;
  for (let i = 0; i < 60; i++) {
    pod = (await api('GET', '/api/v1/namespaces/default/pods/hello')).body;
    if (pod?.status?.phase === 'Running') break;
    await new Promise((r) => setTimeout(r, 2_000));
  }
  const kubeletErrors = async () => (await worker.machine.exec(['sh', '-c', 'journalctl --no-pager -o cat -u kubelet -u containerd | grep -E "^E[0-9]{4}|level=error" | tail -n 6'])).stdout;
  assert.equal(pod?.status?.phase, 'Running', `${JSON.stringify(pod?.status?.containerStatuses)}\n${await kubeletErrors()}`);
  assert.equal(pod.spec.nodeName, workerNode!.name);
  assert.match(pod.status.podIP ?? '', /^10\.200\./, 'an address from the node\'s pod range (flannel CNI stand-in delegating to the bridge plugin)');
  const ws = await worker.machine.waitForCloudInit();
  assert.equal(ws.status, 'done', ws.detail);
});
