// The HTTPS workload adapter against a real kube-apiserver (v1.20.2) standing in for a workload cluster.
// There is no kubelet, scheduler or disruption controller: nodes, pod phases and PDB status are written
// through the API as those components would write them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { kubeEnv, freshNamespace, type KubeEnv } from './env.ts';
import { workloadTargetFor, rawApi } from './workload-target.ts';
import { HttpsWorkloadCluster, HttpsWorkloadConnector, manifestPath, DRAIN_STARTED_ANNOTATION } from '../../src/workload/adapter.ts';
import { WorkloadError, type Manifest } from '../../src/workload/port.ts';
import { renderAddons } from '../../src/bootstrap/addons.ts';
import { opensslCsr } from '../helpers/csr.ts';

let env: KubeEnv;
let target: ReturnType<typeof workloadTargetFor>;
let cluster: HttpsWorkloadCluster;
let api: ReturnType<typeof rawApi>;
const addons = renderAddons({ clusterDNS: '10.0.0.10', clusterDomain: 'cluster.local', podCIDR: '10.200.0.0/16' }); // test/env's service range is 10.0.0.0/24

before(async () => {
  env = await kubeEnv();
  target = workloadTargetFor(env.kubeconfig);
  cluster = new HttpsWorkloadCluster(target, { timeoutMs: 10_000 });
  api = rawApi(target);
});
after(async () => {
  for (const m of addons) await api('DELETE', manifestPath(m));
  cluster?.close();
  await env?.close();
});

const uniqueNode = () => `hw-node-${process.pid}-${randomBytes(3).toString('hex')}`;

async function createNode(name: string) {
  // On create the server keeps the status it is given (a kubelet would post it).
  const r = await api('POST', '/api/v1/nodes', {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }], nodeInfo: { kubeletVersion: 'v1.34.2' } },
  });
  assert.equal(r.status, 201, JSON.stringify(r.json));
}

test('readyz answers; a serverName the certificate does not carry is refused', async () => {
  assert.deepEqual(await cluster.readyz(), { ok: true });
  const wrong = new HttpsWorkloadCluster({ ...target, serverName: 'api.demo.example.com' });
  try {
    const r = await wrong.readyz();
    assert.equal(r.ok, false);
    assert.match(r.message!, /api\.demo\.example\.com.*not in the cert's altnames: .*DNS:localhost/);
    await assert.rejects(wrong.listNodes(), (e: unknown) => e instanceof WorkloadError && e.status === 0 && /altnames/.test(e.message));
  } finally {
    wrong.close();
  }
  // A connection to a port where nothing listens is an answer too, not an exception.
  const closed = new HttpsWorkloadCluster({ ...target, port: 1 }, { timeoutMs: 2000 });
  assert.match((await closed.readyz()).message!, /ECONNREFUSED/);
  closed.close();
});

test('addons apply by server-side apply; applying them again changes nothing', async () => {
  await cluster.apply(addons);
  const versions = async () => Promise.all(addons.map(async (m) => (await api('GET', manifestPath(m))).json.metadata.resourceVersion as string));
  const first = await versions();
  await cluster.apply(addons);
  assert.deepEqual(await versions(), first, 'a second apply is a no-op');

  const svc = (await api('GET', '/api/v1/namespaces/kube-system/services/kube-dns')).json;
  assert.equal(svc.spec.clusterIP, '10.0.0.10');
  assert.ok(svc.metadata.managedFields.some((f: any) => f.manager === 'hardway' && f.operation === 'Apply'));
  const role = (await api('GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles/flannel')).json;
  assert.deepEqual(role.rules[0], { apiGroups: [''], resources: ['pods'], verbs: ['get'] }, 'the core group "" survives apply');

  const bad: Manifest = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'kube-dns', namespace: 'kube-system' }, spec: { clusterIP: 'not-an-ip' } };
  await assert.rejects(cluster.apply([bad]), (e: unknown) => e instanceof WorkloadError && e.status === 422 && /clusterIP/.test(e.message));
  await assert.rejects(cluster.apply([{ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }]), /kind not supported/);
});

test('listNodes, cordon (idempotent, first drain time kept), deleteNode (gone is fine)', async () => {
  const name = uniqueNode();
  await createNode(name);
  try {
    const seen = (await cluster.listNodes()).find((n) => n.name === name);
    assert.deepEqual(seen, { name, ready: 'True', message: 'KubeletReady: kubelet is posting ready status', unschedulable: false, kubeletVersion: 'v1.34.2' });

    const t0 = new Date('2026-03-01T10:00:00.000Z');
    assert.deepEqual(await cluster.cordon(name, t0), t0);
    assert.deepEqual(await cluster.cordon(name, new Date('2026-03-01T11:00:00.000Z')), t0);
    const node = (await api('GET', `/api/v1/nodes/${name}`)).json;
    assert.equal(node.spec.unschedulable, true);
    assert.equal(node.metadata.annotations[DRAIN_STARTED_ANNOTATION], t0.toISOString());
    assert.deepEqual((await cluster.listNodes()).find((n) => n.name === name)?.drainStartedAt, t0);

    await assert.rejects(cluster.cordon(`${name}-missing`, t0), (e: unknown) => e instanceof WorkloadError && e.status === 404);
  } finally {
    await cluster.deleteNode(name);
  }
  await cluster.deleteNode(name);
  assert.equal((await cluster.listNodes()).some((n) => n.name === name), false);
});

test('evictPods: evicts through the Eviction API (v1beta1 on 1.20), reports PDB-blocked and still-terminating pods', async () => {
  const ns = await freshNamespace(env, 'workload');
  const node = uniqueNode();
  await createNode(node);
  const pod = (name: string, o: { grace?: number; labels?: Record<string, string>; annotations?: Record<string, string>; owner?: object } = {}) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: o.labels ?? {}, annotations: o.annotations ?? {}, ownerReferences: o.owner ? [o.owner] : [] },
    // Bound to the node directly: no scheduler needed.
    spec: { nodeName: node, terminationGracePeriodSeconds: o.grace ?? 0, containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] },
  });
  const setStatus = async (name: string, status: object) => {
    const r = await api('PATCH', `/api/v1/namespaces/${ns}/pods/${name}/status`, { status }, 'application/merge-patch+json');
    assert.equal(r.status, 200, JSON.stringify(r.json));
  };
  try {
    // A real DaemonSet as owner: the test cluster's garbage collector deletes pods whose owner is missing.
    await cluster.apply([
      {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'proxy', namespace: ns },
        spec: { selector: { matchLabels: { app: 'proxy' } }, template: { metadata: { labels: { app: 'proxy' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } },
      },
    ]);
    const ds = (await api('GET', `/apis/apps/v1/namespaces/${ns}/daemonsets/proxy`)).json;
    const pods = [
      pod('web-1'),
      pod('web-2', { grace: 30 }),
      pod('db-0', { labels: { app: 'db' } }),
      pod('proxy-x', { owner: { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'proxy', uid: ds.metadata.uid, controller: true } }),
      pod('static', { annotations: { 'kubernetes.io/config.mirror': 'abc' } }),
      pod('job-done'),
    ];
    for (const p of pods) assert.equal((await api('POST', `/api/v1/namespaces/${ns}/pods`, p)).status, 201, p.metadata.name);
    // The kubelet's part: phases and readiness. Pending pods bypass PDBs on the server, so these run.
    for (const p of pods) await setStatus(p.metadata.name, { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] });
    await setStatus('job-done', { phase: 'Succeeded' });
    // The disruption controller's part: db-0 is the one healthy pod minAvailable 1 needs.
    const pdb = await api('POST', `/apis/policy/v1beta1/namespaces/${ns}/poddisruptionbudgets`, {
      apiVersion: 'policy/v1beta1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'db' },
      spec: { minAvailable: 1, selector: { matchLabels: { app: 'db' } } },
    });
    assert.equal(pdb.status, 201);
    const pdbStatus = await api(
      'PATCH',
      `/apis/policy/v1beta1/namespaces/${ns}/poddisruptionbudgets/db/status`,
      { status: { observedGeneration: pdb.json.metadata.generation, disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 1 } },
      'application/merge-patch+json',
    );
    assert.equal(pdbStatus.status, 200);

    const names = async () => ((await api('GET', `/api/v1/namespaces/${ns}/pods`)).json.items as any[]).map((p) => p.metadata.name).sort();
    // web-1 (grace 0) is gone at once; web-2 (grace 30) terminates and waits for a kubelet that never comes.
    assert.deepEqual(await cluster.evictPods(node), { remaining: [`${ns}/db-0`, `${ns}/web-2`], blocked: [`${ns}/db-0`] });
    assert.deepEqual(await names(), ['db-0', 'job-done', 'proxy-x', 'static', 'web-2']);
    assert.ok((await api('GET', `/api/v1/namespaces/${ns}/pods/web-2`)).json.metadata.deletionTimestamp);

    // Again: the terminating pod is not evicted twice, the budget still holds.
    assert.deepEqual(await cluster.evictPods(node), { remaining: [`${ns}/db-0`, `${ns}/web-2`], blocked: [`${ns}/db-0`] });

    assert.equal((await api('DELETE', `/apis/policy/v1beta1/namespaces/${ns}/poddisruptionbudgets/db`)).status, 200);
    assert.deepEqual(await cluster.evictPods(node), { remaining: [`${ns}/web-2`], blocked: [] });
    assert.deepEqual(await names(), ['job-done', 'proxy-x', 'static', 'web-2']);
    assert.deepEqual(await cluster.evictPods(`${node}-empty`), { remaining: [], blocked: [] });
  } finally {
    // Terminating pods would hold the namespace forever without a kubelet: delete them without grace.
    for (const p of ((await api('GET', `/api/v1/namespaces/${ns}/pods`)).json.items as any[]) ?? []) {
      await api('DELETE', `/api/v1/namespaces/${ns}/pods/${p.metadata.name}?gracePeriodSeconds=0`);
    }
    await cluster.deleteNode(node);
    await api('DELETE', `/api/v1/namespaces/${ns}`);
  }
});

test('the connector reuses one cluster per target and closes them', () => {
  const connector = new HttpsWorkloadConnector({ maxCached: 1 });
  const a = connector.connect(target);
  assert.equal(connector.connect({ ...target }), a);
  const b = connector.connect({ ...target, serverName: '127.0.0.1' });
  assert.notEqual(b, a);
  assert.notEqual(connector.connect(target), a, 'the least recently used one was dropped beyond maxCached');
  connector.close();
});

test('bootstrap tokens: one made by the adapter authenticates in its groups until it expires, an expired one is refused, deleting by machine removes it', async () => {
  const machine = uniqueNode();
  const id = randomBytes(3).toString('hex');
  const secret = randomBytes(8).toString('hex');
  const asToken = (token: string) => (method: string, path: string, body?: unknown) =>
    rawApi({ ...target, cert: '', key: '' })(method, path, body, 'application/json', { authorization: `Bearer ${token}` });
  const review = { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { group: 'certificates.k8s.io', resource: 'certificatesigningrequests', verb: 'create' } } };
  const future = new Date(Date.now() + 3_600_000);
  await cluster.createBootstrapToken({ id, secret, expiresAt: future, machine, groups: ['system:bootstrappers:hardway:worker'] });
  await cluster.createBootstrapToken({ id, secret, expiresAt: future, machine, groups: ['system:bootstrappers:hardway:worker'] }); // again: kept
  const ok = await asToken(`${id}.${secret}`)('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', review);
  assert.equal(ok.status, 201, JSON.stringify(ok.json));
  assert.equal(await asToken(`${id}.${'x'.repeat(16)}`)('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', review).then((r) => r.status), 401, 'a wrong secret is refused');

  // Expired: refused although present (the token cleaner may not have run yet).
  const old = randomBytes(3).toString('hex');
  await cluster.createBootstrapToken({ id: old, secret, expiresAt: new Date(Date.now() - 60_000), machine, groups: ['system:bootstrappers:hardway:worker'] });
  assert.equal((await api('GET', `/api/v1/namespaces/kube-system/secrets/bootstrap-token-${old}`)).status, 200);
  assert.equal(await asToken(`${old}.${secret}`)('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', review).then((r) => r.status), 401, 'an expired token is refused');

  await cluster.deleteBootstrapTokens(machine);
  for (const t of [id, old]) assert.equal((await api('GET', `/api/v1/namespaces/kube-system/secrets/bootstrap-token-${t}`)).status, 404);
  // (The API server may still accept a deleted token for a moment: its authenticator reads Secrets from a cache.)
  await cluster.deleteBootstrapTokens(machine); // none left: fine
});

test('certificate requests: listed with requester and request, approved through the approval subresource (once)', async () => {
  const name = `hw-csr-${process.pid}-${randomBytes(3).toString('hex')}`;
  const pem = opensslCsr(`/O=system:nodes/CN=system:node:${name}`, `DNS:${name},IP:10.10.0.5`);
  const created = await api('POST', '/apis/certificates.k8s.io/v1/certificatesigningrequests', {
    metadata: { name },
    spec: { request: Buffer.from(pem).toString('base64'), signerName: 'kubernetes.io/kubelet-serving', usages: ['digital signature', 'key encipherment', 'server auth'] },
  });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  try {
    const listed = (await cluster.listCertificateRequests()).find((c) => c.name === name)!;
    assert.equal(listed.signerName, 'kubernetes.io/kubelet-serving');
    assert.equal(listed.username, 'hardway-workload-test', 'the requester as the API server recorded it');
    assert.equal(listed.request, pem);
    assert.equal(listed.decided, false);
    await cluster.approveCertificateRequest(name, 'test');
    await cluster.approveCertificateRequest(name, 'test'); // already approved: nothing more
    const got = await api('GET', `/apis/certificates.k8s.io/v1/certificatesigningrequests/${name}`);
    assert.deepEqual(got.json.status.conditions.map((c: { type: string; reason: string }) => [c.type, c.reason]), [['Approved', 'HardwayApproved']]);
    assert.equal((await cluster.listCertificateRequests()).find((c) => c.name === name)!.decided, true);
  } finally {
    await api('DELETE', `/apis/certificates.k8s.io/v1/certificatesigningrequests/${name}`);
  }
});
