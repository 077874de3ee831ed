// What a node receives, checked by the real tools: cloud-init, systemd-analyze, openssl, and etcd itself.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:https';
import { httpsGet } from '../helpers/https-get.ts';
import path from 'node:path';
import { renderCluster } from '../../src/bootstrap/cluster.ts';
import { renderEtcdMember, type RenderedNode } from '../../src/bootstrap/roles.ts';
import { ensureCA, reconcileLeaves } from '../../src/pki/certs.ts';
import { etcdLeafSpecs, etcdPeerLeafSpecs, type MachineIdentity } from '../../src/pki/profiles.ts';
import { sampleCluster, realRenderContext } from '../helpers/cluster.ts';
import { startMember, type RunningMember } from '../helpers/etcd.ts';

const run = promisify(execFile);
const work = mkdtempSync(path.join(tmpdir(), 'hardway-bootstrap-'));
after(() => rmSync(work, { recursive: true, force: true }));

const { nodes, pki } = renderCluster(sampleCluster(), realRenderContext());
const oneOfEach = ['etcd', 'control-plane', 'worker'].map((role) => nodes.find((n) => n.role === role)!);

async function cloudInitSchema(doc: string, name: string): Promise<{ ok: boolean; output: string }> {
  const file = path.join(work, `${name}.yaml`);
  writeFileSync(file, doc);
  try {
    const { stdout, stderr } = await run('cloud-init', ['schema', '--config-file', file]);
    return { ok: true, output: stdout + stderr };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, output: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

test('cloud-init schema accepts every role’s user-data', async () => {
  for (const n of oneOfEach) {
    const r = await cloudInitSchema(n.userData, n.name);
    assert.ok(r.ok, `${n.role}: ${r.output}`);
    assert.match(r.output, /Valid cloud-config/);
  }
});

test('cloud-init schema rejects a broken document (so the check above can fail)', async () => {
  const broken = '#cloud-config\nwrite_files:\n  - content: no path here\n    permissions: 600\nruncmd: 42\n';
  const r = await cloudInitSchema(broken, 'broken');
  assert.equal(r.ok, false);
  assert.match(r.output, /Invalid cloud-config|Error:/);
});

async function verifyUnits(files: { name: string; content: string }[], dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  for (const f of files) writeFileSync(path.join(dir, f.name), f.content);
  const r = await run('systemd-analyze', ['verify', '--man=no', ...files.map((f) => path.join(dir, f.name))]).catch((e) => e as { stdout: string; stderr: string });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`
    .split('\n')
    .filter(Boolean)
    // The binaries are installed on the droplet, not on the test machine: the one complaint we accept.
    .filter((l) => !/is not executable: No such file or directory/.test(l));
}

const unitsOf = (n: RenderedNode) =>
  n.files.filter((f) => f.path.startsWith('/etc/systemd/system/')).map((f) => ({ name: path.basename(f.path), content: f.content }));

test('systemd-analyze verify finds no problem in any unit', async () => {
  for (const n of oneOfEach) {
    const problems = await verifyUnits(unitsOf(n), path.join(work, `units-${n.role}`));
    assert.deepEqual(problems, [], n.role);
  }
});

test('systemd-analyze verify does report a broken unit', async () => {
  const problems = await verifyUnits([{ name: 'broken.service', content: '[Unit]\nDescription=x\n[Service]\nExecStrat=/bin/true\nRestart=sometimes\n' }], path.join(work, 'units-broken'));
  assert.ok(problems.some((p) => /Unknown key name 'ExecStrat'|no ExecStart/.test(p)), problems.join('\n'));
});

test('openssl verifies every leaf against its CA and shows the expected names and usages', async () => {
  const groups = [
    { ca: pki.kubernetesCA.cert, leaves: pki.kubernetes },
    { ca: pki.etcdCA.cert, leaves: pki.etcd },
    { ca: pki.etcdPeerCA.cert, leaves: pki.etcdPeer },
    { ca: pki.frontProxyCA.cert, leaves: pki.frontProxy },
  ];
  let checked = 0;
  for (const [i, g] of groups.entries()) {
    const caFile = path.join(work, `ca-${i}.crt`);
    writeFileSync(caFile, g.ca);
    for (const [name, b] of Object.entries(g.leaves)) {
      const file = path.join(work, `${name}.crt`);
      writeFileSync(file, b.cert);
      const { stdout } = await run('openssl', ['verify', '-CAfile', caFile, file]);
      assert.equal(stdout.trim(), `${file}: OK`);
      checked++;
    }
  }
  assert.ok(checked >= 20, `checked ${checked} leaves`);
  const text = async (pem: string) => {
    const f = path.join(work, 'show.crt');
    writeFileSync(f, pem);
    return (await run('openssl', ['x509', '-in', f, '-noout', '-text'])).stdout;
  };
  const apiserver = await text(pki.kubernetes.apiserver!.cert);
  assert.match(apiserver, /DNS:api\.demo\.example\.com/);
  assert.match(apiserver, /IP Address:10\.32\.0\.1/);
  assert.match(apiserver, /DNS:kubernetes\.default\.svc\.cluster\.local/);
  assert.match(apiserver, /TLS Web Server Authentication/);
  assert.doesNotMatch(apiserver, /TLS Web Client Authentication/);
  assert.match(apiserver, /Public Key Algorithm: id-ecPublicKey/);
  // Control-plane nodes' kubelets have operator-made certificates; workers' kubelets make their own (TLS bootstrap).
  const cpNode = nodes.find((n) => n.role === 'control-plane')!;
  const kubelet = await text(pki.kubernetes[`kubelet-${cpNode.name}`]!.cert);
  assert.match(kubelet, new RegExp(`Subject: O = system:nodes, CN = system:node:${cpNode.name}`));
  assert.ok(!nodes.some((n) => n.role === 'worker' && pki.kubernetes[`kubelet-${n.name}`]), 'no certificate is made for a worker');
  assert.match(kubelet, /TLS Web Server Authentication, TLS Web Client Authentication/);
  const admin = await text(pki.kubernetes.admin!.cert);
  assert.match(admin, /Subject: O = system:masters, CN = admin/);
  const ca = await text(pki.kubernetesCA.cert);
  assert.match(ca, /CA:TRUE/);
  assert.match(ca, /Certificate Sign/);
});

// ------------------------------------------------------------------------- a real etcd cluster

const get = (url: string, tls: { ca: string; cert?: string; key?: string }) => {
  const u = new URL(url);
  return httpsGet({ host: u.hostname, port: Number(u.port), path: u.pathname }, tls, 3_000);
};

test('a real 3-member etcd cluster runs from the rendered unit and the issued certificates', { timeout: 120_000 }, async () => {
  const ctx = realRenderContext();
  const ips = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
  // Addresses are IPs here (no DNS in a test); on droplets they are the members' DNS names.
  const cluster: MachineIdentity[] = ips.map((ip, i) => ({ name: `test-etcd-${i}`, address: ip }));
  const ca = ensureCA(undefined, 'etcd-ca', ctx).bundle;
  const peerCA = ensureCA(undefined, 'etcd-peer-ca', ctx).bundle;
  const leaves = { ...reconcileLeaves({}, etcdLeafSpecs(cluster), ca, ctx).bundles, ...reconcileLeaves({}, etcdPeerLeafSpecs(cluster), peerCA, ctx).bundles };
  const members: RunningMember[] = [];
  try {
    for (const [i, m] of cluster.entries()) {
      const rendered = renderEtcdMember({ member: m, cluster, token: 'test-cluster', state: 'new', version: '3.5.30', certs: { ca: ca.cert, peerCA: peerCA.cert, server: leaves[`etcd-server-${m.name}`]!, peer: leaves[`etcd-peer-${m.name}`]! } });
      // Every file the node would receive goes under its root; etcd runs with the rendered unit's flags.
      members.push(startMember(rendered, m.address, path.join(work, `etcd-${i}`)));
    }
    const client = leaves['etcd-client-operator']!;
    const tls = { ca: ca.cert, cert: client.cert, key: client.key };
    // Polling processes we started until they form a cluster; bounded by the deadline.
    const deadline = Date.now() + 60_000;
    let healthy = 0;
    while (Date.now() < deadline) {
      const results = await Promise.all(members.map((m) => get(`https://${m.ip}:2379/health`, tls).catch(() => ({ status: 0, body: '' }))));
      healthy = results.filter((r) => r.status === 200 && /"health":\s*"true"/.test(r.body)).length;
      if (healthy === 3) break;
      for (const m of members) if (m.proc.exitCode !== null) assert.fail(`etcd ${m.ip} exited: ${m.log.join('').slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(healthy, 3, 'all three members healthy over TLS');

    const list = await new Promise<string>((resolve, reject) => {
      const req = request(`https://${ips[0]}:2379/v3/cluster/member/list`, { ...tls, method: 'POST' }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end('{}');
    });
    const names = (JSON.parse(list).members as { name: string }[]).map((m) => m.name).sort();
    assert.deepEqual(names, ['test-etcd-0', 'test-etcd-1', 'test-etcd-2'], 'one cluster of three');

    await assert.rejects(get(`https://${ips[1]}:2379/health`, { ca: ca.cert }), 'a client without a certificate is refused');
    const foreign = ensureCA(undefined, 'other-ca', ctx).bundle;
    const stranger = reconcileLeaves({}, { x: { commonName: 'x', usages: ['client'] } }, foreign, ctx).bundles.x!;
    await assert.rejects(get(`https://${ips[2]}:2379/health`, { ca: ca.cert, cert: stranger.cert, key: stranger.key }), 'a certificate from another CA is refused');
  } finally {
    await Promise.all(members.map((m) => m.kill()));
  }
});
