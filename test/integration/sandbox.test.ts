// End to end through the sandbox (test/sandbox), as a user with kubectl: apply the samples → all three
// Ready → the admin kubeconfig from its Secret lists the cluster's nodes from the simulated control plane's
// real API server → scale the WorkerPool 2→3 and the EtcdCluster 3→5 → a Kubernetes version roll that keeps
// the API endpoint answering → an etcd node killed and healed with quorum kept → a control-plane node
// partitioned out of the endpoint and back → all three deleted at once, through 503s → nothing left in the
// fake cloud or DNS. Faults go through the sandbox's HTTP fault switches. Prints the sandbox's timeline of conditions as it goes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request } from 'node:https';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { kubeEnv, freshNamespace, type KubeEnv } from './env.ts';
import { startSandbox, condition, isReady, type Sandbox, type Watched } from '../sandbox/sandbox.ts';
import type { Creds } from '../helpers/https-get.ts';

const run = promisify(execFile);
/** The endpoint records' TTL (src/controllers/controlplane/reconciler.ts writes 60 s). */
const DNS_TTL_MS = 60_000;

let env: KubeEnv;
before(async () => (env = await kubeEnv()));
after(async () => env?.close());


/** GET https://ip:6443/readyz as the admin, verifying the endpoint name: 200 or why not. */
function readyz(ip: string, serverName: string, c: Creds): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: ip, port: 6443, path: '/readyz', servername: serverName, ca: c.ca, cert: c.cert, key: c.key, timeout: 2_000, agent: false }, (res) => {
      res.resume();
      resolve(String(res.statusCode));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(e.message));
    req.end();
  });
}

test('sandbox end to end: samples → Ready → kubeconfig works → scale → version roll with the endpoint up → etcd node healed → partition → delete all → nothing left', { timeout: 900_000 }, async () => {
  const ns = await freshNamespace(env, 'sandbox-e2e');
  const t0 = Date.now();
  const s: Sandbox = await startSandbox({ kubeconfig: env.kubeconfig, namespace: ns, print: (l) => console.log(l) });
  const kubectl = (...args: string[]) => s.kubectlRun(['-n', ns, ...args]);
  const stage = (what: string) => console.log(`---- ${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
  const etcd = () => s.get('EtcdCluster', 'demo');
  const cp = () => s.get('ControlPlane', 'demo');
  const wp = () => s.get('WorkerPool', 'demo-general');
  const names = (o: Watched | undefined) => (o?.status?.members ?? o?.status?.machines ?? []).map((m) => m.name);

  // Watched all along: every EtcdClusterHealthy message, and the most control-plane droplets at once.
  const etcdHealth: string[] = [];
  let maxCpDroplets = 0;
  let deleting = false;
  s.events.on('change', () => {
    const m = condition(etcd(), 'EtcdClusterHealthy')?.message;
    if (m && !deleting && etcdHealth.at(-1) !== m) etcdHealth.push(m);
    maxCpDroplets = Math.max(maxCpDroplets, [...s.compute.droplets.values()].filter((d) => d.name.startsWith('demo-cp-')).length);
  });

  /** A fault switch, as a user would flip it. */
  const post = async (what: string) => {
    const r = await fetch(`${s.controlUrl}/${what}`, { method: 'POST' });
    assert.equal(r.status, 200, await r.text());
  };

  try {
    // ---------------------------------------------------------------- apply the samples → all Ready
    stage('kubectl apply config/samples (fake tokens in the credentials Secret)');
    await s.applySamples();
    await s.until('all three Ready', () => s.allReady(), 300_000);
    const readyAfter = Date.now() - t0;
    stage(`all three Ready after ${(readyAfter / 1000).toFixed(1)} s`);
    const table = await kubectl('get', 'hardway');
    console.log(table);
    assert.match(table, /controlplane\.hardway\.dev\/demo\s+True\s+3\s+v1\.34\.2\s+https:\/\/api\.demo\.example\.com:6443/);
    assert.equal(condition(cp(), 'APIServerHealthy')!.message, '3/3 API servers healthy');
    assert.equal(condition(etcd(), 'EtcdClusterHealthy')!.message, '3/3 members healthy, quorum needs 2');
    assert.equal(condition(wp(), 'NodesReady')!.message, '2/2 nodes Ready');

    // ---------------------------------------------------------------- the admin kubeconfig works
    stage('the admin kubeconfig from Secret demo-kubeconfig: kubectl get nodes through the endpoint');
    const kc = parse(Buffer.from(await kubectl('get', 'secret', 'demo-kubeconfig', '-o', 'jsonpath={.data.value}'), 'base64').toString('utf8'));
    const host = new URL(kc.clusters[0].cluster.server).hostname;
    assert.equal(host, 'api.demo.example.com');
    const b64 = (x: string) => Buffer.from(x, 'base64').toString('utf8');
    const creds: Creds = { ca: b64(kc.clusters[0].cluster['certificate-authority-data']), cert: b64(kc.users[0].user['client-certificate-data']), key: b64(kc.users[0].user['client-key-data']) };
    // The fake zone is not this machine's DNS: pin the name to an address the zone lists, keep it for TLS.
    const endpointIp = s.endpointAddresses()!.ips[0]!;
    kc.clusters[0].cluster.server = `https://${endpointIp}:6443`;
    kc.clusters[0].cluster['tls-server-name'] = host;
    const adminFile = path.join(s.dir, 'admin.kubeconfig');
    writeFileSync(adminFile, JSON.stringify(kc));
    const nodes = (await run(s.kubectl, ['--kubeconfig', adminFile, 'get', 'nodes', '-o', 'name'], { encoding: 'utf8' })).stdout.trim().split('\n').map((n) => n.replace('node/', '')).sort();
    console.log(`kubectl get nodes: ${nodes.join(', ')}`);
    assert.deepEqual(nodes, [...names(cp()), ...names(wp())].sort(), 'the control-plane nodes and the workers, registered with the real API server');

    // ---------------------------------------------------------------- scale 2→3 workers, 3→5 etcd members
    stage('kubectl scale workerpool/demo-general --replicas=3; etcdcluster/demo --replicas=5');
    await kubectl('scale', 'workerpool/demo-general', '--replicas=3');
    await kubectl('scale', 'etcdcluster/demo', '--replicas=5');
    await s.until('scaled', () => isReady(wp()) && names(wp()).length === 3 && isReady(etcd()) && names(etcd()).length === 5, 240_000);
    assert.equal(condition(wp(), 'NodesReady')!.message, '3/3 nodes Ready');
    assert.equal(condition(etcd(), 'EtcdClusterHealthy')!.message, '5/5 members healthy, quorum needs 3');
    await s.until('control plane still Ready', () => isReady(cp()), 60_000);
    stage('scaled');

    // ---------------------------------------------------------------- version roll, endpoint probed throughout
    stage('kubectl patch controlplane/demo: version v1.34.2 → v1.35.0 (the workers follow: their version defaults to it)');
    const before = names(cp());
    let probing = true;
    const rounds: { at: number; records: number; healthy: number }[] = [];
    const prober = (async () => {
      while (probing) {
        const ips = s.endpointAddresses()?.ips ?? [];
        const answers = await Promise.all(ips.map((ip) => readyz(ip, host, creds)));
        rounds.push({ at: Date.now(), records: ips.length, healthy: answers.filter((a) => a === '200').length });
        // Polling a real endpoint: there is no event to wait for.
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    await kubectl('patch', 'controlplane/demo', '--type=merge', '-p', '{"spec":{"version":"v1.35.0"}}');
    try {
      await s.until('rolled', () => {
        const c = cp();
        const machines = (c?.status?.machines ?? []) as { name: string; version?: string }[];
        const workers = (wp()?.status?.machines ?? []) as { name: string; version?: string }[];
        return (
          isReady(c) && machines.length === 3 && machines.every((m) => m.version === 'v1.35.0') &&
          isReady(wp()) && workers.length === 3 && workers.every((m) => m.version === 'v1.35.0')
        );
      }, 480_000);
    } finally {
      probing = false;
      await prober;
    }
    assert.equal(names(cp()).filter((n) => before.includes(n)).length, 0, 'every control-plane node was replaced');
    assert.ok(maxCpDroplets <= 4, `never more than replicas + 1 control-plane droplets (saw ${maxCpDroplets})`);
    let longestDown = 0;
    let downSince: number | undefined;
    for (const r of rounds) {
      if (r.healthy === 0) downSince ??= r.at;
      else downSince = undefined;
      if (downSince !== undefined) longestDown = Math.max(longestDown, r.at - downSince);
    }
    const zero = rounds.filter((r) => r.healthy === 0).length;
    stage(`rolled; endpoint probed ${rounds.length} times: ${zero} rounds without a healthy answer, longest spell ${longestDown} ms; healthy answers per round min ${Math.min(...rounds.map((r) => r.healthy))}, records per round ${Math.min(...rounds.map((r) => r.records))}–${Math.max(...rounds.map((r) => r.records))}`);
    assert.ok(rounds.length >= 10, 'the endpoint was probed throughout the roll');
    assert.ok(longestDown < DNS_TTL_MS, `the endpoint had no healthy answer for ${longestDown} ms, longer than the records' TTL`);
    assert.ok(rounds.every((r) => r.records > 0), 'the endpoint never lost all its records');
    assert.match(await kubectl('get', 'controlplane', 'demo', '-o', 'jsonpath={.status.version}'), /^v1\.35\.0$/);

    // ---------------------------------------------------------------- an etcd node dies: healed, quorum kept
    const victim = (etcd()!.status!.members as { name: string; leader?: boolean }[]).find((m) => !m.leader)!.name;
    stage(`POST ${s.controlUrl}/kill-node?name=${victim}`);
    await post(`kill-node?name=${victim}`);
    await s.until('noticed', () => /^4\/5 members healthy/.test(condition(etcd(), 'EtcdClusterHealthy')?.message ?? ''), 60_000);
    await s.until('healed', () => isReady(etcd()) && names(etcd()).length === 5 && !names(etcd()).includes(victim), 180_000);
    assert.ok(![...s.compute.droplets.values()].some((d) => d.name === victim), 'the dead member’s droplet was deleted');
    for (const m of etcdHealth) {
      const [, healthy, , need] = m.match(/^(\d+)\/(\d+) members healthy, quorum needs (\d+)/) ?? [];
      if (healthy) assert.ok(Number(healthy) >= Number(need), `quorum lost: ${m} (history: ${etcdHealth.join(' | ')})`);
    }
    stage(`healed; EtcdClusterHealthy history: ${etcdHealth.join(' | ')}`);
    await s.until('everything Ready again', () => s.allReady(), 120_000);

    // ---------------------------------------------------------------- a control-plane node partitioned
    const cut = (cp()!.status!.machines as { name: string; publicIP?: string }[])[0]!;
    stage(`POST ${s.controlUrl}/partition?name=${cut.name}: its public address stops answering`);
    await post(`partition?name=${cut.name}`);
    await s.until('partition noticed', () => /^2\/3 API servers healthy/.test(condition(cp(), 'APIServerHealthy')?.message ?? ''), 60_000);
    await s.until('out of rotation', () => !s.endpointAddresses()!.ips.includes(cut.publicIP!), 30_000);
    assert.equal(s.endpointAddresses()!.ips.length, 2, 'the other two stay in the endpoint');
    await post(`reconnect?name=${cut.name}`);
    await s.until('back in rotation', () => condition(cp(), 'APIServerHealthy')?.message === '3/3 API servers healthy' && s.endpointAddresses()!.ips.includes(cut.publicIP!), 60_000);
    assert.ok(names(cp()).includes(cut.name), 'a short partition replaces nothing');
    stage('reconnected');

    // ---------------------------------------------------------------- delete all three at once
    stage('kubectl delete etcdcluster/demo controlplane/demo workerpool/demo-general (at once), DigitalOcean answering 503 to the next 3 requests');
    deleting = true;
    await post('cloud?status=503&count=3');
    await kubectl('delete', 'etcdcluster/demo', 'controlplane/demo', 'workerpool/demo-general', '--wait=false');
    await kubectl('wait', '--for=delete', '--timeout=180s', 'workerpool/demo-general', 'controlplane/demo', 'etcdcluster/demo').catch(() => undefined);
    assert.equal((await kubectl('get', 'hardway', '-o', 'name')).trim(), '', 'all three objects are gone');
    assert.deepEqual([...s.compute.droplets.values()].map((d) => d.name), [], 'no droplet left');
    assert.deepEqual([...s.dns.records.values()].map((r) => r.name), [], 'no DNS record left');
    assert.equal(s.compute.firewalls.size, 0);
    assert.equal(s.compute.loadBalancers.size, 0);
    assert.equal((await kubectl('get', 'secrets', '-l', 'app.kubernetes.io/managed-by=hardway', '-o', 'name')).trim(), '');
    await s.until('every simulated node stopped', () => s.sim.nodes.size === 0, 30_000);
    stage(`done: Ready after ${(readyAfter / 1000).toFixed(1)} s, whole run ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (e) {
    console.log(`failing conditions: ${s.failing().join(' | ')}`);
    throw e;
  } finally {
    await s.stop();
  }
});
