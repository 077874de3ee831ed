// The control-plane hand-over against Debian's real sshd (openssh-server, test/env/setup.sh) on loopback:
// one sshd per node, configured as the node's user-data configures it (the rendered sshd_config.d drop-in
// and key file, Included from this machine's own /etc/ssh/sshd_config, the node's host key from its
// ssh_keys), chrooted into a directory of this test so that the pushed absolute paths land there. The
// client is the operator's (src/handover/ssh.ts, ssh2).
//
// Stand-ins: the key file's path is moved into this test's directory (sshd reads it before the chroot,
// from the host), and the chroot itself is the test's; everything else is as on a node.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, statSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { parse } from 'yaml';
import { renderCluster } from '../../src/bootstrap/cluster.ts';
import { renderControlPlane, type RenderedNode } from '../../src/bootstrap/roles.ts';
import { HANDOVER_KEYS_FILE, HANDOVER_SSHD_CONFIG, HANDOVER_MARKER } from '../../src/bootstrap/handover.ts';
import { SshHandOver } from '../../src/handover/ssh.ts';
import { HandOverError } from '../../src/handover/port.ts';
import { newSshKeyPair } from '../../src/pki/ssh.ts';
import { sampleCluster, realRenderContext } from '../helpers/cluster.ts';

const SSHD = '/usr/sbin/sshd';
const children: ChildProcess[] = [];
// Under /run: sshd refuses a chroot with a group- or world-writable component (/tmp is one).
const base = mkdtempSync('/run/hardway-handover-');
// sshd's privilege-separation directory, which its systemd unit makes (RuntimeDirectory=sshd).
mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
after(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

interface Sshd {
  port: number;
  /** The node's disk: where its pushed files land. */
  disk: string;
  config: string;
}

let nextPort = 22_000 + (process.pid % 1000) * 10;

/** An sshd configured from a node's user-data. Resolves once it listens. */
async function nodeSshd(node: RenderedNode, name: string): Promise<Sshd> {
  const dir = path.join(base, name);
  const disk = path.join(dir, 'disk');
  mkdirSync(disk, { recursive: true, mode: 0o755 });
  const doc = parse(node.userData.replace(/^#cloud-config\n/, '')) as { ssh_keys: Record<string, string>; write_files: { path: string; content: string }[] };
  const file = (p: string) => doc.write_files.find((f) => f.path === p)!.content;
  writeFileSync(path.join(dir, 'host_key'), doc.ssh_keys.ed25519_private!, { mode: 0o600 });
  writeFileSync(path.join(dir, 'keys'), file(HANDOVER_KEYS_FILE), { mode: 0o644 });
  writeFileSync(path.join(dir, 'drop-in.conf'), file(HANDOVER_SSHD_CONFIG).replaceAll(HANDOVER_KEYS_FILE, path.join(dir, 'keys')));
  const port = nextPort++;
  const main = readFileSync('/etc/ssh/sshd_config', 'utf8').replace(/^Include \/etc\/ssh\/sshd_config\.d\/\*\.conf$/m, `Include ${path.join(dir, 'drop-in.conf')}`);
  assert.ok(main.includes(path.join(dir, 'drop-in.conf')), "Debian's sshd_config Includes sshd_config.d");
  const config = path.join(dir, 'sshd_config');
  writeFileSync(config, [`Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${path.join(dir, 'host_key')}`, 'PidFile none', main, `Match User root\n\tChrootDirectory ${disk}`, ''].join('\n'));
  const c = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(c);
  let err = '';
  await new Promise<void>((ok, fail) => {
    c.stderr!.on('data', (d) => {
      err += d;
      if (err.includes('Server listening on')) ok();
    });
    c.on('exit', (code) => fail(new Error(`sshd exited ${code}: ${err}`)));
  });
  return { port, disk, config };
}

const push = (s: Sshd, n: RenderedNode, hostKey: string, clientKey: string) =>
  new SshHandOver().push({ address: '127.0.0.1', port: s.port, hostKey }, clientKey, n.handOver.map((f) => ({ path: f.path, content: f.content, permissions: f.permissions })), HANDOVER_MARKER);
const hostKeyOf = (n: RenderedNode) => (parse(n.userData.replace(/^#cloud-config\n/, '')) as { ssh_keys: Record<string, string> }).ssh_keys.ed25519_public!;
const ctx = realRenderContext();
const { nodes, handOverKey } = renderCluster(sampleCluster(), ctx);
const cps = nodes.filter((n) => n.role === 'control-plane');

function assertHandedOver(s: Sshd, n: RenderedNode) {
  for (const f of n.handOver) {
    const p = path.join(s.disk, f.path);
    assert.equal(readFileSync(p, 'utf8'), f.content, f.path);
    assert.equal((statSync(p).mode & 0o777).toString(8), f.permissions.replace(/^0/, ''), `${f.path} mode`);
  }
  assert.ok(existsSync(path.join(s.disk, HANDOVER_MARKER)), 'the marker, last');
  const leftovers = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? leftovers(path.join(dir, e.name)) : e.name.endsWith('.hardway-tmp') ? [e.name] : []));
  assert.deepEqual(leftovers(s.disk), [], 'no temporary file left');
}

test('the drop-in gives the operator’s key file to root only (sshd -T, per user)', async () => {
  const s = await nodeSshd(cps[0]!, 'config');
  const effective = (user: string) => spawnSync(SSHD, ['-T', '-f', s.config, '-C', `user=${user},host=operator,addr=127.0.0.1`], { encoding: 'utf8' });
  const root = effective('root');
  assert.equal(root.status, 0, root.stderr);
  assert.match(root.stdout, new RegExp(`^authorizedkeysfile .ssh/authorized_keys ${path.join(path.dirname(s.config), 'keys')}$`, 'm'));
  assert.match(root.stdout, /^permitrootlogin without-password$/m);
  const other = effective('nobody');
  assert.match(other.stdout, /^authorizedkeysfile .ssh\/authorized_keys .ssh\/authorized_keys2$/m, 'nobody else reads the key file');
  // The rest of Debian's file still applies to everyone (the Match ends with the drop-in).
  assert.match(other.stdout, /^usepam yes$/m);
});

test('three control-plane nodes, then a fourth made later: each gets every key over SFTP, once its own host key answers', async () => {
  const sshds = await Promise.all(cps.map((n, i) => nodeSshd(n, `cp-${i}`)));
  for (const [i, n] of cps.entries()) {
    assert.ok(!existsSync(path.join(sshds[i]!.disk, 'var/lib/kubernetes/ca.key')), 'nothing before the push');
    await push(sshds[i]!, n, hostKeyOf(n), handOverKey.privateKey);
    assertHandedOver(sshds[i]!, n);
  }
  // Repeated (a crash before the tag was written): the same files, nothing else.
  await push(sshds[0]!, cps[0]!, hostKeyOf(cps[0]!), handOverKey.privateKey);
  assertHandedOver(sshds[0]!, cps[0]!);

  // A node added long after: its own host key, the same operator key (the ControlPlane's Secret).
  const first = cps[0]!;
  const late = renderControlPlane({
    ...lateInput(first),
    access: { hostKey: newSshKeyPair(ctx.randomBytes, 'root@demo-cp-late'), operatorKey: handOverKey.publicKey },
  });
  const s4 = await nodeSshd(late, 'cp-late');
  await push(s4, late, hostKeyOf(late), handOverKey.privateKey);
  assertHandedOver(s4, late);
});

test('refused: another host key (nothing is sent), another client key, and the operator’s key gets no shell', async () => {
  const n = cps[1]!;
  const s = await nodeSshd(n, 'refusals');
  const impostor = newSshKeyPair((k) => randomBytes(k), 'root@impostor').publicKey;
  await assert.rejects(push(s, n, impostor, handOverKey.privateKey), (e: unknown) => e instanceof HandOverError && e.kind === 'host-key');
  assert.deepEqual(readdirSync(s.disk), [], 'nothing written');
  const stranger = newSshKeyPair((k) => randomBytes(k), 'stranger').privateKey;
  await assert.rejects(push(s, n, hostKeyOf(n), stranger), (e: unknown) => e instanceof HandOverError && e.kind === 'refused');
  // OpenSSH's own client with the operator's key: a command gets the SFTP-only answer, never a shell.
  const keyFile = path.join(base, 'operator-key');
  writeFileSync(keyFile, handOverKey.privateKey, { mode: 0o600 });
  const ssh = (user: string) =>
    spawnSync('ssh', ['-i', keyFile, '-p', String(s.port), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'IdentitiesOnly=yes', `${user}@127.0.0.1`, 'id'], { encoding: 'utf8', timeout: 20_000 });
  const asRoot = ssh('root');
  assert.notEqual(asRoot.status, 0);
  assert.doesNotMatch(asRoot.stdout, /uid=/, 'no command ran');
  assert.match(asRoot.stderr + asRoot.stdout, /sftp connections only/);
  const asOther = ssh('nobody');
  assert.notEqual(asOther.status, 0);
  assert.match(asOther.stderr, /Permission denied/);
});

/** What the operator renders for a node made later: the first node's inputs under another name. */
function lateInput(first: RenderedNode): Parameters<typeof renderControlPlane>[0] {
  const get = (p: string) => first.files.find((f) => f.path === p)!.content;
  const pair = (name: string) => ({ cert: get(`/var/lib/kubernetes/${name}.crt`), key: get(`/var/lib/kubernetes/${name}.key`), ca: get('/var/lib/kubernetes/ca.crt') });
  return {
    node: { name: 'demo-cp-late', address: 'demo-cp-late.example.com' },
    version: 'v1.34.2',
    apiServer: 'https://api.demo.example.com:6443',
    endpoint: 'https://api.demo.example.com:6443',
    clusterName: 'demo',
    ca: pair('ca'),
    etcdCA: get('/var/lib/kubernetes/etcd-ca.crt'),
    frontProxyCA: get('/var/lib/kubernetes/front-proxy-ca.crt'),
    etcdEndpoints: ['https://demo-etcd.example.com:2379'],
    serviceAccount: { privateKeyPem: get('/var/lib/kubernetes/service-account.key'), publicKeyPem: get('/var/lib/kubernetes/service-account.pub') } as never,
    kubelet: { cert: get('/var/lib/kubelet/pki/kubelet.crt'), key: get('/var/lib/kubelet/pki/kubelet.key'), ca: get('/var/lib/kubernetes/ca.crt') },
    kubeProxy: { cert: get('/var/lib/kube-proxy/kube-proxy.crt'), key: get('/var/lib/kube-proxy/kube-proxy.key'), ca: get('/var/lib/kubernetes/ca.crt') },
    network: { podCIDR: '10.200.0.0/16', serviceCIDR: '10.32.0.0/24', clusterDomain: 'cluster.local', clusterDNS: '10.32.0.10' },
    leaves: {
      apiserver: pair('apiserver'),
      apiserverKubeletClient: pair('apiserver-kubelet-client'),
      apiserverEtcdClient: pair('apiserver-etcd-client'),
      frontProxyClient: pair('front-proxy-client'),
      controllerManager: pair('controller-manager'),
      scheduler: pair('scheduler'),
      serving: pair('serving'),
    },
    audit: false,
    access: { hostKey: { privateKey: '', publicKey: '' }, operatorKey: '' },
  };
}
