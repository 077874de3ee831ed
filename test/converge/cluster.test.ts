// ControlPlane and WorkerPool converge tests: the real controllers against the in-memory API server, the
// contract-checked cloud fakes, and fake component health / workload API. Fault injection as for EtcdCluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { opensslCsr } from '../helpers/csr.ts';
import { parse } from 'yaml';
import { ControlPlanes, WorkerPools, Secrets, EtcdClusters, Events } from '../../src/kube/resources.ts';
import { parseEncryptionState, encryptionConfigId } from '../../src/pki/encryption.ts';
import { nodeEncryptionId } from '../../src/controllers/controlplane/encryption.ts';
import { kubeHarness, type Obj } from '../helpers/kube-harness.ts';

const cond = (o: Obj | undefined, type: string) => o?.status?.conditions?.find((c) => c.type === type);
const secretData = async (h: Awaited<ReturnType<typeof kubeHarness>>, name: string) => {
  const s = await h.kube.get<Obj & { data: Record<string, string> }>(Secrets, { namespace: 'ns', name });
  return Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
};

test('from nothing to a Ready 3-node control plane and a Ready pool: droplets, DNS, firewalls, kubeconfig, addons, conditions', { timeout: 120_000 }, async () => {
  const h = await kubeHarness();
  try {
    await h.kube.create(ControlPlanes, h.controlPlane(3));
    await h.kube.create(WorkerPools, h.workerPool('demo-general', 2));
    const cp = await h.until('control plane Ready', h.ready('ControlPlane', 'demo'));
    const wp = await h.until('pool Ready', h.ready('WorkerPool', 'demo-general'));

    assert.equal(h.droplets('demo-cp-').length, 3);
    assert.equal(h.droplets('demo-general-worker-').length, 2);
    assert.equal(cp.status!.readyReplicas, 3);
    assert.equal(cp.status!.endpoint, `https://${h.host}:6443`);
    assert.equal(cond(cp, 'APIServerHealthy')!.message, '3/3 API servers healthy');
    assert.equal(cond(cp, 'EtcdAvailable')!.status, 'True');
    assert.equal(cond(cp, 'AddonsReady')!.status, 'True');
    assert.equal(wp.status!.readyNodes, 2);
    assert.equal(cond(wp, 'NodesReady')!.message, '2/2 nodes Ready');

    // DNS: one record per control-plane node (private IP), the endpoint round robin over public IPs.
    const records = [...h.dns.records.values()];
    const endpoint = records.filter((r) => r.name === h.host).map((r) => r.content).sort();
    assert.deepEqual(endpoint, h.droplets('demo-cp-').map((d) => d.publicIp).sort());
    for (const d of h.droplets('demo-cp-')) assert.ok(records.some((r) => r.name === `${d.name}.example.com` && r.content === d.privateIp));
    assert.equal(records.filter((r) => r.name.includes('worker')).length, 0, 'workers have no records');
    assert.equal(h.compute.firewalls.size, 2);

    // The kubeconfig Secret parses and points at the endpoint with an admin certificate.
    const kc = parse((await secretData(h, 'demo-kubeconfig')).value!);
    assert.equal(kc.clusters[0].cluster.server, `https://${h.host}:6443`);
    const admin = new X509Certificate(Buffer.from(kc.users[0].user['client-certificate-data'], 'base64'));
    assert.match(admin.subject, /O=system:masters/);

    // Addons went through the workload API, with the cluster DNS IP.
    const dnsService = h.api.appliedObject('v1', 'Service', 'kube-dns', 'kube-system') as { spec: { clusterIP: string } } | undefined;
    assert.equal(dnsService?.spec.clusterIP, '10.32.0.10');
    // Droplets carry only what their role needs: workers and control planes never the etcd CA key.
    const etcdKey = (await secretData(h, 'demo-etcd-ca'))['tls.key']!;
    for (const d of h.compute.droplets.values()) assert.ok(!d.userData?.includes(etcdKey.split('\n')[1]!));
    const caKey = (await secretData(h, 'demo-ca'))['tls.key']!;
    for (const d of h.droplets('demo-general-')) assert.ok(!d.userData?.includes(caKey.split('\n')[1]!), 'a worker never gets the CA key');
    assert.deepEqual(h.compute.violations, []);
    assert.deepEqual(h.dns.violations, []);
  } finally {
    await h.stop();
  }
});

test('waits for its dependencies with clear reasons; paused and invalid objects create nothing', { timeout: 60_000 }, async () => {
  const h = await kubeHarness();
  try {
    const wp = h.workerPool('orphan', 1);
    wp.spec.controlPlaneRef = { name: 'missing' };
    await h.kube.create(WorkerPools, wp);
    await h.until('orphan waits', () => cond(h.get('WorkerPool', 'orphan'), 'ControlPlaneAvailable')?.reason === 'ReferenceNotFound');
    const cp = h.controlPlane(1);
    cp.spec.etcdClusterRef = { name: 'nope' };
    await h.kube.create(ControlPlanes, cp);
    const waiting = await h.until('cp waits', () => (cond(h.get('ControlPlane', 'demo'), 'Ready')?.reason === 'ReferenceNotFound' ? h.get('ControlPlane', 'demo') : undefined));
    assert.match(cond(waiting, 'EtcdAvailable')!.message!, /EtcdCluster nope does not exist/);
    const paused = h.controlPlane(1);
    paused.metadata = { name: 'paused', namespace: 'ns', annotations: { 'hardway.dev/paused': 'true' } };
    await h.kube.create(ControlPlanes, paused);
    await h.until('paused', () => cond(h.get('ControlPlane', 'paused'), 'Paused')?.status === 'True');
    assert.equal(h.compute.droplets.size, 0);
  } finally {
    await h.stop();
  }
});

test('every cloud write answered by a lost connection, operator restarts, 429 and 5xx: no duplicate droplet or record', { timeout: 400_000 }, async () => {
  const h = await kubeHarness();
  try {
    // Every write is carried out but its answer never arrives (droplets, tags, firewalls, records): each
    // next look must find what was made. Progress is one write per (backoff) retry.
    h.compute.loseResponses(1_000, (m) => m !== 'GET');
    h.dns.loseResponses(1_000, (m) => m !== 'GET');
    h.compute.failNext(6, 503, (m) => m === 'GET');
    h.compute.burstRetryAfterSeconds = 1;
    await h.kube.create(ControlPlanes, h.controlPlane(3));
    await h.kube.create(WorkerPools, h.workerPool('demo-general', 2));
    await h.until('rate limited', () => h.lines.some((l) => l.msg === 'rate limited; requeueing'));
    h.compute.burstRetryAfterSeconds = undefined;
    await h.until('first droplet', () => h.compute.droplets.size >= 1, 60_000);
    await h.restart();
    await h.until('control plane droplets', () => h.droplets('demo-cp-').length >= 3, 90_000);
    await h.restart();
    await h.until('control plane Ready', h.ready('ControlPlane', 'demo'), 120_000);
    await h.until('pool Ready', h.ready('WorkerPool', 'demo-general'), 120_000);
    assert.equal(h.droplets('demo-cp-').length, 3, 'a lost answer never became a second droplet');
    assert.equal(h.droplets('demo-general-').length, 2);
    const records = [...h.dns.records.values()];
    assert.equal(records.length, 6, 'three node records and three endpoint records, none twice');
    assert.equal(h.compute.firewalls.size, 2);
    assert.deepEqual(h.compute.violations, []);
    assert.deepEqual(h.dns.violations, []);
  } finally {
    await h.stop();
  }
});

test('a name held by a record the operator does not own is reported (DNSRecordRefused), left alone, and used once freed', { timeout: 120_000 }, async () => {
  const h = await kubeHarness();
  try {
    // Someone's CNAME on the endpoint name (a Free zone: the fakes' default plan).
    const zone = [...h.dns.zones.keys()][0]!;
    const cf = (method: string, path: string, body?: unknown) =>
      fetch(`${h.dns.url}/zones/${zone}/dns_records${path}`, { method, headers: { authorization: 'Bearer cf-harness', 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) }).then((r) => r.json() as Promise<{ result: { id: string } }>);
    const foreign = (await cf('POST', '', { type: 'CNAME', name: h.host, content: 'elsewhere.example.net', ttl: 60 })).result;
    await h.kube.create(ControlPlanes, h.controlPlane(1));
    const refused = await h.until('refused', () => (cond(h.get('ControlPlane', 'demo'), 'DNSReady')?.reason === 'DNSRecordRefused' ? h.get('ControlPlane', 'demo') : undefined), 60_000);
    assert.equal(cond(refused, 'Ready')!.reason, 'DNSRecordRefused');
    assert.match(cond(refused, 'DNSReady')!.message!, /records\.create/);
    assert.equal(h.dns.records.get(foreign.id)?.content, 'elsewhere.example.net', 'the foreign record is untouched');
    await cf('DELETE', `/${foreign.id}`);
    await h.until('Ready once the name is free', h.ready('ControlPlane', 'demo'), 90_000);
    assert.deepEqual(h.dns.violations, []);
  } finally {
    await h.stop();
  }
});

test('control plane: a version change surges one node, waits for it, takes an old one out of DNS, then deletes it; scale 3 → 1', { timeout: 120_000 }, async () => {
  const h = await kubeHarness();
  try {
    await h.kube.create(ControlPlanes, h.controlPlane(3));
    await h.until('Ready', h.ready('ControlPlane', 'demo'));
    const before = new Set(h.droplets('demo-cp-').map((d) => d.name));
    let maxDroplets = 0;
    let minHealthy = 3;
    const seen = setInterval(() => {
      maxDroplets = Math.max(maxDroplets, h.droplets('demo-cp-').length);
      const cp = h.get('ControlPlane', 'demo');
      if (cp?.status?.readyReplicas !== undefined) minHealthy = Math.min(minHealthy, cp.status.readyReplicas as number);
    }, 5);
    // The new version's nodes take a moment to become healthy (as a real API server does).
    await h.kube.mergePatch(ControlPlanes, { namespace: 'ns', name: 'demo' }, { spec: { version: 'v1.35.0' } });
    await h.until('rolling', () => cond(h.get('ControlPlane', 'demo'), 'RollingOut')?.status === 'True');
    const rolled = await h.until('rolled', () => {
      const cp = h.ready('ControlPlane', 'demo')();
      return cp && cp.status!.updatedReplicas === 3 && h.droplets('demo-cp-').every((d) => !before.has(d.name)) ? cp : undefined;
    }, 90_000);
    clearInterval(seen);
    assert.equal(rolled.status!.version, 'v1.35.0');
    assert.ok(maxDroplets <= 4, `never more than one surge node (saw ${maxDroplets})`);
    assert.equal(h.lines.filter((l) => l.msg === 'removing control-plane node').length, 3);
    // Every removal took the node out of the endpoint records before its droplet went.
    const endpointIps = [...h.dns.records.values()].filter((r) => r.name === h.host).map((r) => r.content).sort();
    assert.deepEqual(endpointIps, h.droplets('demo-cp-').map((d) => d.publicIp).sort());

    await h.kube.mergePatch(ControlPlanes, { namespace: 'ns', name: 'demo' }, { spec: { replicas: 1 } });
    await h.until('scaled to one', () => (h.ready('ControlPlane', 'demo')() && h.droplets('demo-cp-').length === 1 ? true : undefined), 60_000);
    assert.equal([...h.dns.records.values()].filter((r) => r.name === h.host).length, 1);
    assert.deepEqual(h.compute.violations, []);
  } finally {
    await h.stop();
  }
});

test('a dead control-plane node is replaced; a droplet deleted out of band is rebuilt', { timeout: 120_000 }, async () => {
  const h = await kubeHarness();
  try {
    await h.kube.create(ControlPlanes, h.controlPlane(3));
    await h.until('Ready', h.ready('ControlPlane', 'demo'));
    const [dead, gone] = h.droplets('demo-cp-');
    h.health.unreachable(dead!.name);
    const degraded = await h.until('degraded', () => (cond(h.get('ControlPlane', 'demo'), 'APIServerHealthy')?.status === 'False' ? h.get('ControlPlane', 'demo') : undefined));
    assert.match(cond(degraded, 'APIServerHealthy')!.message!, /2\/3 API servers healthy; .*ECONNREFUSED/);
    await h.until('dead node replaced', () => !h.droplets('demo-cp-').some((d) => d.name === dead!.name) && h.ready('ControlPlane', 'demo')(), 60_000);
    h.compute.droplets.delete(gone!.id); // someone deleted it in the DigitalOcean console
    await h.until('rebuilt', () => h.droplets('demo-cp-').length === 3 && !h.droplets('demo-cp-').some((d) => d.name === gone!.name) && h.ready('ControlPlane', 'demo')(), 60_000);
    await h.until('the lost node record is gone', () => ![...h.dns.records.values()].some((r) => r.name === `${gone!.name}.example.com`));
    const drifted = (await h.kube.list<Obj & { reason: string; message: string }>(Events, { namespace: 'ns' })).items.filter((e) => e.reason === 'Drifted').map((e) => e.message);
    assert.deepEqual(drifted, [`droplet ${gone!.id} (${gone!.name}) was deleted outside hardway`], 'the one deleted out of band; not the dead node the operator replaced');
  } finally {
    await h.stop();
  }
});

test('worker pool: scale down drains first (a PodDisruptionBudget holds until the timeout), version roll within maxSurge', { timeout: 120_000 }, async () => {
  const h = await kubeHarness();
  try {
    await h.kube.create(ControlPlanes, h.controlPlane(1));
    await h.kube.create(WorkerPools, h.workerPool('pool', 3));
    await h.until('Ready', h.ready('WorkerPool', 'pool'));
    const workers = h.droplets('pool-worker-').map((d) => d.name).sort();
    // Pods everywhere; one is protected by a budget that never allows its eviction.
    for (const n of workers) h.api.addPod({ namespace: 'app', name: `web-${n}`, node: n, phase: 'Running' });
    for (const n of workers) h.api.addPod({ namespace: 'kube-system', name: `flannel-${n}`, node: n, phase: 'Running', daemonSet: true });
    for (const n of workers) h.api.addPod({ namespace: 'db', name: `pg-${n}`, node: n, phase: 'Running', blocked: true });
    await h.kube.mergePatch(WorkerPools, { namespace: 'ns', name: 'pool' }, { spec: { replicas: 2 } });
    await h.until('draining', () => h.lines.some((l) => l.msg === 'draining'));
    const victim = workers.find((n) => h.api.node(n)?.unschedulable)!;
    assert.ok(victim, 'the node was cordoned');
    assert.ok(!h.api.pods(victim).some((p) => p.name.startsWith('web-')), 'evictable pods evicted');
    assert.ok(h.api.pods(victim).some((p) => p.name.startsWith('flannel-')), 'DaemonSet pods stay');
    assert.ok(h.droplets('pool-worker-').some((d) => d.name === victim), 'the droplet stays while the budget blocks');
    await h.until('deleted after the drain timeout', () => !h.droplets('pool-worker-').some((d) => d.name === victim) && !h.api.node(victim));
    assert.ok(h.lines.some((l) => l.msg === 'worker deleted'));
    await h.until('Ready at 2', () => h.ready('WorkerPool', 'pool')() && h.droplets('pool-worker-').length === 2);

    // A version roll: surge one at a time (maxSurge 1, maxUnavailable 0).
    let most = 0;
    const seen = setInterval(() => (most = Math.max(most, h.droplets('pool-worker-').length)), 5);
    await h.kube.mergePatch(WorkerPools, { namespace: 'ns', name: 'pool' }, { spec: { version: 'v1.34.0', rollout: { maxSurge: 1, maxUnavailable: 0 } } });
    await h.until('rolled', () => {
      const wp = h.ready('WorkerPool', 'pool')();
      return wp && wp.status!.updatedReplicas === 2 && wp.status!.version === 'v1.34.0' ? wp : undefined;
    }, 60_000);
    clearInterval(seen);
    assert.ok(most <= 3, `at most one surge machine (saw ${most})`);
  } finally {
    await h.stop();
  }
});

test('a pool newer than its control plane is refused with a clear reason', { timeout: 60_000 }, async () => {
  const h = await kubeHarness();
  try {
    await h.kube.create(ControlPlanes, h.controlPlane(1));
    const wp = h.workerPool('newer', 1);
    wp.spec.version = 'v1.35.1';
    await h.kube.create(WorkerPools, wp);
    const o = await h.until('refused', () => (cond(h.get('WorkerPool', 'newer'), 'Ready')?.reason === 'VersionChangeRefused' ? h.get('WorkerPool', 'newer') : undefined));
    assert.match(cond(o, 'Ready')!.message!, /newer than the control plane's v1\.34\.\d+: kubelets may not be newer than the API server; upgrade the ControlPlane first/);
    assert.equal(h.droplets('newer-').length, 0);
  } finally {
    await h.stop();
  }
});

test('version gates: a minor downgrade is refused and held; a pool without a version follows the API servers as they run', { timeout: 120_000 }, async () => {
  const h = await kubeHarness();
  try {
    await h.kube.create(ControlPlanes, h.controlPlane(1));
    await h.kube.create(WorkerPools, h.workerPool('demo-general', 1));
    await h.until('Ready', () => h.ready('ControlPlane', 'demo')() && h.ready('WorkerPool', 'demo-general')());
    const version = (d: { tags: string[] }) => d.tags.find((t) => t.startsWith('hardway:version:'));
    const cpBefore = h.droplets('demo-cp-').map((d) => d.id);

    // v1.34 → v1.33: refused with the next step; nothing is replaced.
    await h.kube.mergePatch(ControlPlanes, { namespace: 'ns', name: 'demo' }, { spec: { version: 'v1.33.4' } });
    const refused = await h.until('refused', () => (cond(h.get('ControlPlane', 'demo'), 'RollingOut')?.reason === 'VersionChangeRefused' ? h.get('ControlPlane', 'demo') : undefined));
    assert.match(cond(refused, 'RollingOut')!.message!, /^v1\.34\.2 → v1\.33\.4: a Kubernetes minor is never downgraded; set spec\.version to a v1\.34\.x release$/);
    assert.equal(cond(refused, 'Ready')!.reason, 'VersionChangeRefused');
    assert.deepEqual(h.droplets('demo-cp-').map((d) => d.id), cpBefore);

    // v1.34 → v1.35: the pool (no version of its own) gets no v1.35 node before every API server runs v1.35.
    let early = false;
    const watch = setInterval(() => {
      const cpOld = h.droplets('demo-cp-').some((d) => version(d) === 'hardway:version:v1-34-2');
      if (cpOld && h.droplets('demo-general-').some((d) => version(d) === 'hardway:version:v1-35-0')) early = true;
    }, 5);
    try {
      await h.kube.mergePatch(ControlPlanes, { namespace: 'ns', name: 'demo' }, { spec: { version: 'v1.35.0' } });
      await h.until('pool rolled', () => h.droplets('demo-general-').length === 1 && h.droplets('demo-general-').every((d) => version(d) === 'hardway:version:v1-35-0') && h.ready('WorkerPool', 'demo-general')(), 90_000);
    } finally {
      clearInterval(watch);
    }
    assert.equal(early, false, 'no worker ran ahead of the API servers');
  } finally {
    await h.stop();
  }
});

for (const order of ['all at once', 'control plane first', 'pool first'] as const) {
  test(`delete (${order}): the pool goes first, the control plane follows, nothing is left in the clouds`, { timeout: 120_000 }, async () => {
    const h = await kubeHarness();
    try {
      await h.kube.create(ControlPlanes, h.controlPlane(2));
      await h.kube.create(WorkerPools, h.workerPool('demo-general', 2));
      await h.until('pool Ready', h.ready('WorkerPool', 'demo-general'));
      h.api.addPod({ namespace: 'app', name: 'web', node: h.droplets('demo-general-')[0]!.name, phase: 'Running' });
      const del = (r: typeof ControlPlanes, name: string) => h.kube.delete(r, { namespace: 'ns', name });
      if (order === 'all at once') await Promise.all([del(WorkerPools, 'demo-general'), del(ControlPlanes, 'demo'), del(EtcdClusters, 'demo')]);
      if (order === 'control plane first') {
        await del(ControlPlanes, 'demo');
        await h.until('waits for its pool', () => cond(h.get('ControlPlane', 'demo'), 'Deleting')?.reason === 'WaitingForDependents');
        assert.equal(h.droplets('demo-cp-').length, 2, 'nothing removed while a pool still joins it');
        await del(WorkerPools, 'demo-general');
      }
      if (order === 'pool first') {
        await del(WorkerPools, 'demo-general');
        await h.until('pool gone', () => !h.get('WorkerPool', 'demo-general'));
        assert.ok(h.lines.some((l) => l.msg === 'draining' || l.msg === 'worker deleted'), 'a pool deleted on its own drains its nodes');
        assert.equal(h.api.pods().filter((p) => p.name === 'web').length, 0, 'its pods were evicted');
        await del(ControlPlanes, 'demo');
      }
      await h.until('all gone', () => !h.get('ControlPlane', 'demo') && !h.get('WorkerPool', 'demo-general'), 60_000);
      assert.equal(h.compute.droplets.size, 0);
      assert.equal(h.dns.records.size, 0);
      assert.equal(h.compute.firewalls.size, 0);
      assert.equal(h.compute.loadBalancers.size, 0);
      const left = (await h.kube.list(Secrets, { namespace: 'ns' })).items.map((s) => s.metadata.name).filter((n) => n.startsWith('demo-') && !n.startsWith('demo-etcd') && n !== 'demo-credentials');
      assert.deepEqual(left, []);
      assert.deepEqual(h.compute.violations, []);
      assert.deepEqual(h.dns.violations, []);
    } finally {
      await h.stop();
    }
  });
}

test('LoadBalancer mode: a load balancer on the control-plane tag, the endpoint at its IP, removed nodes untagged first', { timeout: 120_000 }, async () => {
  const h = await kubeHarness();
  try {
    // Another installation on the same account has a load balancer of the same name: it is not ours.
    const foreign = { id: '0b6f3c1e-8d1a-4e6b-9c2f-5a7d8e9f0a1b', name: 'hardway-ns-demo-api', region: 'fra1', tag: 'someone-else', ip: '127.20.255.254', forwarding_rules: [{ entry_protocol: 'tcp', entry_port: 6443, target_protocol: 'tcp', target_port: 6443 }], droplet_ids: [], createdAt: 0 };
    h.compute.loadBalancers.set(foreign.id, foreign);
    const cp = h.controlPlane(2);
    cp.spec.endpoint = { host: h.host, mode: 'LoadBalancer' };
    await h.kube.create(ControlPlanes, cp);
    await h.until('Ready', h.ready('ControlPlane', 'demo'));
    const [lb] = [...h.compute.loadBalancers.values()].filter((l) => l.id !== foreign.id);
    assert.ok(lb);
    assert.equal(lb.name, foreign.name, 'the same name');
    assert.deepEqual([...h.dns.records.values()].filter((r) => r.name === h.host).map((r) => r.content), [lb.ip]);
    assert.equal(h.droplets('demo-cp-').filter((d) => h.compute.droplets.get(d.id)!.tags.includes(lb.tag as string)).length, 2);
    // A node takes traffic only once its API server is ready: DigitalOcean checks /readyz over HTTPS.
    assert.deepEqual(lb.health_check, { protocol: 'https', port: 6443, path: '/readyz' });
    // Settings changed behind the operator's back are brought back (PUT, same load balancer) at the next
    // listing, which a Ready control plane makes once per cloudSyncMs (60 s here).
    const lbListings = () => h.compute.calls.filter((c) => c.method === 'GET' && c.path === '/v2/load_balancers').length;
    const listed = lbListings();
    h.compute.loadBalancers.set(lb.id, { ...lb, health_check: { protocol: 'tcp', port: 6443 } });
    const mark = h.health.calls.length;
    await h.until('three more passes', () => h.health.calls.length >= mark + 6);
    assert.equal(lbListings(), listed, 'not listed again within cloudSyncMs');
    // And the endpoint's record, proxied through Cloudflare outside hardway (it would break mutual TLS), is set back.
    const endpoint = [...h.dns.records.values()].find((r) => r.name === h.host)!;
    endpoint.proxied = true;
    h.advance(60_000);
    await h.until('health check restored', () => (h.compute.loadBalancers.get(lb.id)?.health_check as { protocol?: string } | undefined)?.protocol === 'https');
    await h.until('proxying turned off', () => [...h.dns.records.values()].find((r) => r.name === h.host)?.proxied === false);
    assert.equal(h.compute.loadBalancers.size, 2);
    const drifted = (await h.kube.list<Obj & { reason: string; message: string }>(Events, { namespace: 'ns' })).items.filter((e) => e.reason === 'Drifted').map((e) => e.message);
    assert.ok(drifted.some((m) => m === 'load balancer hardway-ns-demo-api: health check changed outside hardway; put back'), drifted.join(' | '));
    assert.ok(drifted.some((m) => m.startsWith(`DNS record ${h.host} → ${lb.ip} was proxied through Cloudflare outside hardway`)), drifted.join(' | '));
    await h.kube.mergePatch(ControlPlanes, { namespace: 'ns', name: 'demo' }, { spec: { replicas: 1 } });
    await h.until('one left', () => h.droplets('demo-cp-').length === 1 && h.ready('ControlPlane', 'demo')());
    await h.kube.delete(ControlPlanes, { namespace: 'ns', name: 'demo' });
    await h.until('gone', () => !h.get('ControlPlane', 'demo'));
    assert.deepEqual([...h.compute.loadBalancers.keys()], [foreign.id], 'only its own load balancer deleted; the namesake untouched');
    assert.deepEqual(h.compute.loadBalancers.get(foreign.id), foreign);
    assert.deepEqual(h.compute.violations, []);
  } finally {
    await h.stop();
  }
});

test('certificates never silently expire: control-plane nodes are replaced before a third of their life is left (workers renew their own), the admin certificate renewed at half-life', { timeout: 120_000 }, async () => {
  const h = await kubeHarness();
  try {
    await h.kube.create(ControlPlanes, h.controlPlane(1));
    await h.kube.create(WorkerPools, h.workerPool('pool', 1));
    await h.until('Ready', h.ready('WorkerPool', 'pool'));
    const oldCp = h.droplets('demo-cp-')[0]!.name;
    const oldWorker = h.droplets('pool-worker-')[0]!.name;
    const kubeconfig = (await secretData(h, 'demo-kubeconfig')).value;
    const expiry = h.get('ControlPlane', 'demo')!.status!.certificates as { earliestExpiry: string };
    h.advance(250 * 86_400_000); // 250 of 365 days: less than a third left
    await h.kube.mergePatch(ControlPlanes, { namespace: 'ns', name: 'demo' }, { metadata: { annotations: { poke: '1' } } });
    await h.kube.mergePatch(WorkerPools, { namespace: 'ns', name: 'pool' }, { metadata: { annotations: { poke: '1' } } });
    await h.until('replaced', () => !h.droplets('demo-cp-').some((d) => d.name === oldCp) && h.ready('ControlPlane', 'demo')() && h.ready('WorkerPool', 'pool')(), 90_000);
    // A worker's kubelet holds certificates it asked for and renews (TLS bootstrap): nothing to replace it for.
    assert.ok(h.droplets('pool-worker-').some((d) => d.name === oldWorker), 'the worker stays');
    assert.notEqual((await secretData(h, 'demo-kubeconfig')).value, kubeconfig, 'the admin kubeconfig carries a new certificate');
    const after = h.get('ControlPlane', 'demo')!.status!.certificates as { earliestExpiry: string };
    assert.ok(Date.parse(after.earliestExpiry) > Date.parse(expiry.earliestExpiry) + 200 * 86_400_000, `${expiry.earliestExpiry} → ${after.earliestExpiry}`);
  } finally {
    await h.stop();
  }
});

test('etcd endpoints: nodes given member names are reported stale once the cluster endpoint exists and replaced; a version change waits for etcd to settle', { timeout: 120_000 }, async () => {
  const h = await kubeHarness();
  const etcdStatus = async (patch: Record<string, unknown>) => {
    const e = await h.kube.get<Obj>(EtcdClusters, { namespace: 'ns', name: 'demo' });
    await h.kube.applyStatus(EtcdClusters, e.metadata, { observedGeneration: e.metadata.generation, clientEndpoints: ['https://demo-etcd-aaaaa.example.com:2379'], ...patch }, { fieldManager: 'test' });
  };
  const ready = (message = '3/3 members healthy') => [
    { type: 'Ready', status: 'True', reason: 'Ready', message, lastTransitionTime: new Date().toISOString() },
    { type: 'EtcdClusterHealthy', status: 'True', reason: 'Healthy', message, lastTransitionTime: new Date().toISOString() },
  ];
  const servers = (d: { userData?: string }) => d.userData?.match(/--etcd-servers=(\S+)/)?.[1];
  try {
    // An EtcdCluster from before the cluster endpoint: nodes get its members' names.
    await etcdStatus({ clientEndpoint: null, conditions: ready() });
    await h.kube.create(ControlPlanes, h.controlPlane(2));
    await h.until('Ready', h.ready('ControlPlane', 'demo'));
    const legacy = h.droplets('demo-cp-');
    assert.deepEqual(legacy.map(servers), ['https://demo-etcd-aaaaa.example.com:2379', 'https://demo-etcd-aaaaa.example.com:2379']);
    assert.deepEqual(h.get('ControlPlane', 'demo')!.status!.staleEtcdEndpoints, []);

    // It publishes its cluster endpoint (a member carrying the name joined): both nodes are stale, and replaced.
    await etcdStatus({ clientEndpoint: 'https://demo-etcd.example.com:2379', conditions: ready() });
    const stale = await h.until('stale reported', () => {
      const cp = h.get('ControlPlane', 'demo');
      return (cp?.status?.staleEtcdEndpoints as string[] | undefined)?.length ? cp : undefined;
    });
    assert.equal(stale.status!.etcdEndpoint, 'https://demo-etcd.example.com:2379');
    assert.match(cond(stale, 'RollingOut')!.message!, /reach etcd by member names/);
    await h.until('refreshed', () => {
      const cp = h.ready('ControlPlane', 'demo')();
      return cp && (cp.status!.staleEtcdEndpoints as string[]).length === 0 && h.droplets('demo-cp-').length === 2 && h.droplets('demo-cp-').every((d) => !legacy.some((l) => l.id === d.id)) ? cp : undefined;
    }, 60_000);
    for (const d of h.droplets('demo-cp-')) {
      assert.equal(servers(d), 'https://demo-etcd.example.com:2379');
      assert.ok(d.tags.includes('hardway:etcd-endpoint:cluster'));
    }

    // Upgrade order: while the EtcdCluster rolls (serving, not Ready), a Kubernetes version change waits.
    const nodes = h.droplets('demo-cp-').map((d) => d.id);
    await etcdStatus({ clientEndpoint: 'https://demo-etcd.example.com:2379', conditions: [{ ...ready()[0], status: 'False', reason: 'RollingOut', message: 'replacing members with etcd 3.5.22' }, ready()[1]] });
    await h.kube.mergePatch(ControlPlanes, { namespace: 'ns', name: 'demo' }, { spec: { version: 'v1.34.3' } });
    const waiting = await h.until('waits for etcd', () => (cond(h.get('ControlPlane', 'demo'), 'RollingOut')?.reason === 'WaitingForEtcdCluster' ? h.get('ControlPlane', 'demo') : undefined));
    assert.match(cond(waiting, 'RollingOut')!.message!, /^Kubernetes v1\.34\.3 waits for EtcdCluster demo to finish its changes/);
    assert.equal(cond(waiting, 'EtcdAvailable')!.status, 'True', 'an etcd that serves while it rolls is available');
    assert.deepEqual(h.droplets('demo-cp-').map((d) => d.id), nodes, 'nothing replaced while etcd rolls');
    await etcdStatus({ clientEndpoint: 'https://demo-etcd.example.com:2379', conditions: ready() });
    await h.until('rolled after etcd', () => h.droplets('demo-cp-').length === 2 && h.droplets('demo-cp-').every((d) => d.tags.includes('hardway:version:v1-34-3')) && h.ready('ControlPlane', 'demo')(), 60_000);
    assert.deepEqual(h.compute.violations, []);
  } finally {
    await h.stop();
  }
});

test('control-plane nodes that never become healthy are replaced with backoff, counted, and after three RetriesExhausted; a spec change starts afresh', { timeout: 120_000 }, async () => {
  const h = await kubeHarness();
  const broken = new Set<string>();
  let breaking = false;
  const breaker = setInterval(() => {
    if (!breaking) return;
    for (const d of h.droplets('demo-cp-')) {
      if (original.has(d.name) || broken.has(d.name)) continue;
      broken.add(d.name);
      h.health.unreachable(d.name);
    }
  }, 5);
  let original = new Set<string>();
  try {
    await h.kube.create(ControlPlanes, h.controlPlane(2));
    await h.until('Ready', h.ready('ControlPlane', 'demo'));
    original = new Set(h.droplets('demo-cp-').map((d) => d.name));
    const [dead] = h.droplets('demo-cp-');
    // A node that was healthy dies: replacing it is no failed join. Its replacements never come up.
    breaking = true;
    h.health.unreachable(dead!.name);
    const gaveUp = await h.until('gave up', () => (cond(h.get('ControlPlane', 'demo'), 'Ready')?.reason === 'RetriesExhausted' ? h.get('ControlPlane', 'demo') : undefined), 60_000);
    const f = gaveUp.status!.joinFailures as { count: number; lastMachine: string; lastMessage: string };
    assert.equal(f.count, 3);
    assert.ok(broken.has(f.lastMachine));
    assert.match(cond(gaveUp, 'Ready')!.message!, /^3 new control-plane nodes in a row did not become healthy; the last, demo-cp-\w{5}: connect ECONNREFUSED\. None is created until the spec changes/);
    assert.equal(broken.size, 3, 'three tries, the dead node not counted');
    const fails = h.lines.filter((l) => l.msg === 'a new control-plane node never became healthy');
    assert.deepEqual(fails.map((l) => l.failures), [1, 2, 3]);
    // No fourth: ten more reconciles create nothing; the last failed node is kept to be looked at.
    const mark = h.health.calls.length;
    await h.until('twenty more probes', () => h.health.calls.length >= mark + 20);
    assert.equal(broken.size, 3, 'no fourth try');
    assert.ok(h.droplets('demo-cp-').some((d) => d.name === f.lastMachine), 'the last failed node is kept');

    // The fix (here a spec change and machines that come up): the count starts afresh.
    breaking = false;
    for (const n of broken) h.health.healthy(n);
    await h.kube.mergePatch(ControlPlanes, { namespace: 'ns', name: 'demo' }, { spec: { machine: { size: 's-4vcpu-8gb' } } });
    const fixed = await h.until('Ready again', () => {
      const cp = h.ready('ControlPlane', 'demo')();
      return cp && cp.status!.joinFailures === undefined ? cp : undefined;
    }, 60_000);
    assert.equal(fixed.status!.readyReplicas, 2);
  } finally {
    clearInterval(breaker);
    await h.stop();
  }
});

test('API servers failing for want of etcd are not replaced when it comes back, however long it was gone', { timeout: 120_000 }, async () => {
  const h = await kubeHarness();
  const etcdStatus = async (ready: boolean) => {
    const e = await h.kube.get<Obj>(EtcdClusters, { namespace: 'ns', name: 'demo' });
    const c = ready ? { type: 'Ready', status: 'True', reason: 'Ready', message: '3/3 members healthy' } : { type: 'Ready', status: 'False', reason: 'ClusterLost', message: 'every member of etcd cluster abc is gone' };
    await h.kube.applyStatus(EtcdClusters, e.metadata, { observedGeneration: e.metadata.generation, clientEndpoint: 'https://demo-etcd.example.com:2379', conditions: [{ ...c, lastTransitionTime: new Date().toISOString() }] }, { fieldManager: 'test' });
  };
  try {
    await h.kube.create(ControlPlanes, h.controlPlane(2));
    await h.until('Ready', h.ready('ControlPlane', 'demo'));
    const before = h.droplets('demo-cp-').map((d) => d.name).sort();
    // etcd dies: the API servers fail their readiness (etcd check) before the EtcdCluster says so.
    for (const n of before) h.health.unhealthy(n, ['apiserverReady'], 'HTTP 500: [-]etcd failed: reason withheld');
    await h.until('API servers unhealthy', () => cond(h.get('ControlPlane', 'demo'), 'APIServerHealthy')?.status === 'False');
    await etcdStatus(false);
    await h.until('etcd unavailable', () => cond(h.get('ControlPlane', 'demo'), 'EtcdAvailable')?.status === 'False');
    h.advance(60_000); // twenty times unhealthyAfterMs
    await etcdStatus(true); // restored; the API servers have not reconnected yet
    await h.until('etcd available', () => cond(h.get('ControlPlane', 'demo'), 'EtcdAvailable')?.status === 'True' && cond(h.get('ControlPlane', 'demo'), 'APIServerHealthy')?.status === 'False');
    for (const n of before) h.health.healthy(n);
    await h.until('Ready again', h.ready('ControlPlane', 'demo'));
    assert.deepEqual(h.droplets('demo-cp-').map((d) => d.name).sort(), before, 'the same nodes');
    assert.equal(h.lines.filter((l) => l.msg === 'removing control-plane node').length, 0);
  } finally {
    await h.stop();
  }
});

test('encryption key rotation: three rolls, no node ever next to one that cannot read what it writes, Secrets rewritten once between; an aescbc cluster moves to secretbox', { timeout: 240_000 }, async () => {
  const h = await kubeHarness();
  try {
    await h.kube.create(ControlPlanes, h.controlPlane(3));
    const ready = await h.until('Ready', h.ready('ControlPlane', 'demo'));
    assert.deepEqual(ready.status!.encryption, { key: 'key1', provider: 'secretbox', generation: 0, stage: 'Stable' });
    const state = async () => parseEncryptionState(await secretData(h, 'demo-encryption'));
    const first = await state();
    const ids = (keys: string[][]) => encryptionConfigId(keys.map(([provider, name]) => ({ provider: provider as 'secretbox', name: name!, secret: '' })));
    // The four configurations in order; nodes of two of them may live side by side only when adjacent.
    const order = [ids([['secretbox', 'key1']]), ids([['secretbox', 'key1'], ['secretbox', 'key2']]), ids([['secretbox', 'key2'], ['secretbox', 'key1']]), ids([['secretbox', 'key2']])];
    const stageOf = (d: { tags: string[] }) => order.indexOf(nodeEncryptionId(d.tags));
    assert.deepEqual(h.droplets('demo-cp-').map(stageOf), [0, 0, 0]);

    let worst = 0;
    const seen = setInterval(() => {
      const stages = h.droplets('demo-cp-').map(stageOf);
      assert.ok(!stages.includes(-1), 'every node carries a known configuration');
      worst = Math.max(worst, Math.max(...stages) - Math.min(...stages));
    }, 5);
    // Rewriting happens when every node, even one being removed, writes with the new key.
    const rewrites: number[][] = [];
    const reencrypt = h.api.reencryptSecrets.bind(h.api);
    h.api.reencryptSecrets = async () => {
      rewrites.push(h.droplets('demo-cp-').map(stageOf));
      return reencrypt();
    };
    h.api.failNext('reencryptSecrets'); // the first try fails: the state waits in "switch" and tries again
    await h.kube.mergePatch(ControlPlanes, { namespace: 'ns', name: 'demo' }, { spec: { encryptionKeyGeneration: 1 } });
    await h.until('rotating', () => cond(h.get('ControlPlane', 'demo'), 'RollingOut')?.message?.includes('encryption key rotation'));
    const done = await h.until('rotated', () => {
      const cp = h.ready('ControlPlane', 'demo')();
      return cp && (cp.status!.encryption as { stage: string }).stage === 'Stable' && h.droplets('demo-cp-').every((d) => stageOf(d) === 3) ? cp : undefined;
    }, 200_000);
    clearInterval(seen);
    assert.equal(worst, 1, 'only nodes of adjacent stages ever ran side by side');
    assert.deepEqual(rewrites, [[2, 2, 2], [2, 2, 2]], 'rewritten only when every node wrote with the new key (the failed try repeated)');
    assert.deepEqual(done.status!.encryption, { key: 'key2', provider: 'secretbox', generation: 1, stage: 'Stable' });
    const last = await state();
    assert.equal(last.previous, undefined);
    assert.notEqual(last.current.secret, first.current.secret);
    for (const d of h.droplets('demo-cp-')) {
      const given = (h.handOver.pushes.get(d.name) ?? []).map((p) => p.files.find((f) => f.path.endsWith('/encryption-config.yaml'))!.content).join('');
      assert.ok(given.includes(last.current.secret) && !given.includes(first.current.secret), `${d.name} was handed the new key only`);
      assert.ok(!d.userData!.includes(last.current.secret) && !d.userData!.includes(first.current.secret), `${d.name}: no key in user-data`);
    }
    assert.equal(h.lines.filter((l) => l.msg === 'removing control-plane node').length, 9, 'three rolls of three nodes');
    assert.ok(!JSON.stringify(h.lines).includes(last.current.secret) && !JSON.stringify(h.lines).includes(first.current.secret), 'no key in the log');
    const reasons = (await h.kube.list<Obj & { reason: string }>(Events, { namespace: 'ns' })).items.map((e) => e.reason);
    for (const r of ['EncryptionKeyRotationStarted', 'EncryptionKeyRotation', 'SecretsReencrypted']) assert.ok(reasons.includes(r), r);
  } finally {
    await h.stop();
  }

  // A control plane whose Secret the operator made before secretbox (one aescbc key): moved over by itself.
  const g = await kubeHarness();
  try {
    const aescbc = Buffer.alloc(32, 7).toString('base64');
    await g.kube.create(Secrets, { metadata: { name: 'demo-encryption', namespace: 'ns' }, type: 'Opaque', data: { key: Buffer.from(aescbc).toString('base64') } } as never);
    await g.kube.create(ControlPlanes, g.controlPlane(1));
    const cp = await g.until('on secretbox', () => {
      const x = g.ready('ControlPlane', 'demo')();
      return x && (x.status!.encryption as { key: string; stage: string }).key === 'key2' && (x.status!.encryption as { stage: string }).stage === 'Stable' && g.droplets('demo-cp-').length === 1 ? x : undefined;
    }, 120_000);
    assert.equal((cp.status!.encryption as { provider: string }).provider, 'secretbox');
    const node = g.droplets('demo-cp-')[0]!;
    assert.ok(!JSON.stringify(g.handOver.pushes.get(node.name)).includes(aescbc), 'the aescbc key is gone from the node');
    assert.equal(g.api.calls.filter((c) => c === 'reencryptSecrets').length, 1);
  } finally {
    await g.stop();
  }
});

test('workers join by bootstrap token: no key in their user-data, the token deleted once the Node is there, serving certificates approved only for a node’s own names', { timeout: 120_000 }, async () => {
  const h = await kubeHarness();
  try {
    await h.kube.create(ControlPlanes, h.controlPlane(1));
    await h.kube.create(WorkerPools, h.workerPool('demo-general', 2));
    await h.until('pool Ready', h.ready('WorkerPool', 'demo-general'));
    const workers = h.droplets('demo-general-worker-');
    for (const d of workers) {
      assert.ok(!d.userData!.includes('PRIVATE KEY'), `${d.name}: no private key`);
      assert.match(d.userData!, /token: [a-z0-9]{6}\.[a-z0-9]{16}/, `${d.name}: a bootstrap token`);
    }
    assert.equal(h.api.calls.filter((c) => c === 'createBootstrapToken').length, 2);
    await h.until('tokens deleted after the join', () => h.api.tokens.size === 0);

    // kubelet asks for its serving certificate: its own names are approved, another node's are not.
    const [w] = workers;
    const request = (san: string) => opensslCsr(`/O=system:nodes/CN=system:node:${w!.name}`, san);
    const csr = (name: string, san: string) => ({ name, signerName: 'kubernetes.io/kubelet-serving', username: `system:node:${w!.name}`, groups: ['system:nodes'], usages: ['digital signature', 'key encipherment', 'server auth'], request: request(san), decided: false });
    h.api.certificateRequests.set('csr-own', csr('csr-own', `DNS:${w!.name},IP:${w!.privateIp}`));
    h.api.certificateRequests.set('csr-other', csr('csr-other', `DNS:${workers[1]!.name},IP:${workers[1]!.privateIp}`));
    await h.kube.mergePatch(WorkerPools, { namespace: 'ns', name: 'demo-general' }, { metadata: { annotations: { poke: '1' } } });
    await h.until('own approved', () => h.api.approved.includes('csr-own'));
    const refused = await h.until('refusal logged', () => h.lines.find((l) => l.msg === 'kubelet serving certificate request not approved'));
    assert.equal(refused.csr, 'csr-other');
    assert.match(String(refused.why), /names not of/);
    const events = (await h.kube.list<Obj & { reason: string; message: string }>(Events, { namespace: 'ns' })).items.filter((e) => e.reason === 'CertificateRequestNotApproved');
    assert.match(events[0]?.message ?? '', /csr-other .*names not of/);
    assert.ok(!h.api.approved.includes('csr-other'));
  } finally {
    await h.stop();
  }
});
