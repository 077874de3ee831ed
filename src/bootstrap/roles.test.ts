import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { X509Certificate } from 'node:crypto';
import { renderEtcdMember, renderControlPlane, renderWorker, type RenderedNode } from './roles.ts';
import { renderCluster } from './cluster.ts';
import { METADATA_BLOCK_UNIT, METADATA_BLOCK_SCRIPT } from './units.ts';
import { HANDOVER_UNIT, HANDOVER_MARKER, HANDOVER_KEYS_FILE, RETIRE_HOST_KEY_SCRIPT } from './handover.ts';
import { RELEASES } from './manifest.ts';
import { BOOTSTRAP_TOKEN_TTL_MS } from '../pki/bootstrap-token.ts';
import type { CertBundle } from '../pki/certs.ts';
import { repoRoot } from '../../test/helpers/samples.ts';
import { sampleCluster, realRenderContext } from '../../test/helpers/cluster.ts';

// Fixed stand-ins for PEM text: renderers place them, never parse them, so golden files stay stable.
const pem = (what: string) => `-----BEGIN ${what}-----\nfixed test data\n-----END ${what}-----\n`;
const bundle = (name: string): CertBundle => ({ cert: pem(`CERTIFICATE ${name}`), key: pem(`PRIVATE KEY ${name}`), ca: pem('CERTIFICATE ca') });
const etcdMembers = ['demo-etcd-aaaaa', 'demo-etcd-bbbbb', 'demo-etcd-ccccc'].map((name) => ({ name, address: `${name}.example.com` }));
const network = { podCIDR: '10.200.0.0/16', serviceCIDR: '10.32.0.0/24', clusterDomain: 'cluster.local', clusterDNS: '10.32.0.10' };
const node = { name: 'demo-cp-aaaaa', address: 'demo-cp-aaaaa.example.com' };

const controlPlaneInput: Parameters<typeof renderControlPlane>[0] = {
  node,
  version: 'v1.34.2',
  apiServer: 'https://api.demo.example.com:6443',
  endpoint: 'https://api.demo.example.com:6443',
  clusterName: 'demo',
  ca: bundle('kubernetes-ca'),
  etcdCA: pem('CERTIFICATE etcd-ca'),
  frontProxyCA: pem('CERTIFICATE front-proxy-ca'),
  etcdEndpoints: etcdMembers.map((m) => `https://${m.address}:2379`),
  serviceAccount: { privateKeyPem: pem('PRIVATE KEY sa'), publicKeyPem: pem('PUBLIC KEY sa') },
  kubelet: bundle('kubelet'),
  kubeProxy: bundle('kube-proxy'),
  network,
  leaves: {
    apiserver: bundle('apiserver'),
    apiserverKubeletClient: bundle('apiserver-kubelet-client'),
    apiserverEtcdClient: bundle('apiserver-etcd-client'),
    frontProxyClient: bundle('front-proxy-client'),
    controllerManager: bundle('controller-manager'),
    scheduler: bundle('scheduler'),
    serving: bundle('serving'),
  },
  encryption: [{ name: 'key1', provider: 'secretbox', secret: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' }],
  audit: true,
  access: { hostKey: { privateKey: pem('OPENSSH PRIVATE KEY host'), publicKey: 'ssh-ed25519 AAAAhost root@demo-cp-aaaaa' }, operatorKey: 'ssh-ed25519 AAAAoperator hardway-handover default/demo' },
};

const fixed: Record<string, () => RenderedNode> = {
  etcd: () =>
    renderEtcdMember({ member: etcdMembers[0]!, cluster: etcdMembers, token: 'uid-1234', state: 'new', version: '3.5.21', certs: { ca: pem('CERTIFICATE etcd-ca'), peerCA: pem('CERTIFICATE etcd-peer-ca'), server: bundle('server'), peer: bundle('peer') } }),
  'control-plane': () => renderControlPlane(controlPlaneInput),
  worker: () =>
    renderWorker({
      node: { name: 'demo-general-worker-aaaaa', address: 'demo-general-worker-aaaaa.example.com' },
      version: 'v1.34.2',
      apiServer: 'https://api.demo.example.com:6443',
      clusterName: 'demo',
      caCert: pem('CERTIFICATE kubernetes-ca'),
      bootstrapToken: 'abcdef.0123456789abcdef',
      network,
      nodeLabels: { 'node.kubernetes.io/pool': 'general' },
      nodeTaints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }],
    }),
};

for (const [role, render] of Object.entries(fixed)) {
  test(`golden: ${role} user-data (UPDATE_GOLDEN=1 rewrites)`, () => {
    const file = path.join(repoRoot, 'test/golden/bootstrap', `${role}.yaml`);
    const got = render().userData;
    if (process.env.UPDATE_GOLDEN || !existsSync(file)) writeFileSync(file, got);
    assert.equal(got, readFileSync(file, 'utf8'));
  });
}

test('keys and anything holding credentials are 0600; nothing else is', () => {
  for (const render of Object.values(fixed)) {
    for (const f of render().files) {
      const secret = /PRIVATE KEY|client-key|aescbc|secretbox/.test(f.content) && !f.path.endsWith('.service') && !f.path.includes('hardway-install');
      if (secret) assert.equal(f.permissions, '0600', f.path);
      if (f.path.endsWith('.crt') || f.path.endsWith('.service')) assert.equal(f.permissions, '0644', f.path);
    }
  }
});

test('no user-data holds a CA key; control-plane nodes get the Kubernetes one by hand-over; workers and etcd members never', () => {
  const { nodes, pki } = renderCluster(sampleCluster(), realRenderContext());
  const holds = (text: string, keyPem: string) => text.includes(keyPem.split('\n')[1]!);
  for (const n of nodes) {
    const got = [pki.kubernetesCA.key, pki.etcdCA.key, pki.etcdPeerCA.key, pki.frontProxyCA.key].map((k) => holds(n.userData, k));
    assert.deepEqual(got, [false, false, false, false], `${n.name} (${n.role}) user-data: kubernetes, etcd, etcd peer, front-proxy CA keys`);
    const handed = n.handOver.map((f) => f.content).join('');
    assert.deepEqual([pki.kubernetesCA.key, pki.etcdCA.key, pki.etcdPeerCA.key, pki.frontProxyCA.key].map((k) => holds(handed, k)), [n.role === 'control-plane', false, false, false], `${n.name} (${n.role}) hand-over`);
  }
});

test('etcd members: their user-data holds their own server and peer keys and no other (they run no pods; whoever reads it is root there, with the data directory at hand)', () => {
  const { nodes, pki } = renderCluster(sampleCluster(), realRenderContext());
  for (const n of nodes.filter((x) => x.role === 'etcd')) {
    const keys = [...n.userData.matchAll(/-----BEGIN [A-Z ]*PRIVATE KEY-----/g)].length;
    assert.equal(keys, 2, `${n.name}: two private keys`);
    const own = [pki.etcd[`etcd-server-${n.name}`]!.key, pki.etcdPeer[`etcd-peer-${n.name}`]!.key];
    for (const k of own) assert.ok(n.userData.includes(k.split('\n')[1]!), `${n.name}: its own key`);
    assert.deepEqual(n.handOver, [], 'nothing handed over');
  }
});

test('control planes, at every supported minor: user-data holds no private key but the node’s SSH host key; every key is handed over, and what uses one waits for it', () => {
  const { nodes } = renderCluster(sampleCluster(), realRenderContext());
  const perMinor = Object.keys(RELEASES).map((minor) => renderControlPlane({ ...controlPlaneInput, version: `v${minor}.0` }));
  for (const n of [...nodes.filter((x) => x.role === 'control-plane'), ...perMinor]) {
    const doc = parse(n.userData.replace(/^#cloud-config\n/, ''));
    const { ssh_keys: sshKeys, ...rest } = doc;
    assert.ok(!/PRIVATE KEY/.test(JSON.stringify(rest)), `${n.name}: no private key outside ssh_keys`);
    assert.deepEqual(Object.keys(sshKeys).sort(), ['ed25519_private', 'ed25519_public'], `${n.name}: the host key only`);
    assert.ok(!/secretbox|aescbc/.test(n.userData), `${n.name}: no encryption key`);
    const handed = new Set(n.handOver.map((f) => f.path));
    for (const f of n.files) if (/PRIVATE KEY|secretbox/.test(f.content) && !f.path.includes('hardway-install')) assert.ok(handed.has(f.path), `${n.name}: ${f.path} is handed over`);
    assert.ok(handed.has('/var/lib/kubernetes/ca.key') && handed.has('/var/lib/kubernetes/service-account.key') && handed.has('/var/lib/kubernetes/encryption-config.yaml'));
    const unit = (name: string) => n.files.find((f) => f.path === `/etc/systemd/system/${name}`)!.content;
    for (const u of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy', 'flanneld']) {
      assert.match(unit(`${u}.service`), new RegExp(`^Requires=.*\\b${HANDOVER_UNIT}\\b`, 'm'), `${n.name}: ${u} waits for its keys`);
      assert.match(unit(`${u}.service`), new RegExp(`^After=.*\\b${HANDOVER_UNIT}\\b`, 'm'));
    }
    assert.match(unit(HANDOVER_UNIT), new RegExp(`until \\[ -e ${HANDOVER_MARKER} \\]`));
    // Then the host key user-data gave is replaced by one made on the node.
    assert.match(unit(HANDOVER_UNIT), new RegExp(`^ExecStartPost=${RETIRE_HOST_KEY_SCRIPT}$`, 'm'));
    assert.equal(n.files.find((f) => f.path === RETIRE_HOST_KEY_SCRIPT)?.permissions, '0755');
    // The operator's key: root, SFTP only.
    const keys = n.files.find((f) => f.path === HANDOVER_KEYS_FILE)!.content;
    assert.match(keys, /^restrict,command="internal-sftp" ssh-ed25519 \S+/);
  }
});

test('etcd: the client port and the peer port trust different CA files; peers get nothing of the client CA', () => {
  const flags = (n: RenderedNode) => {
    const unit = n.files.find((f) => f.path === '/etc/systemd/system/etcd.service')!.content;
    return Object.fromEntries([...unit.matchAll(/--([\w-]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
  };
  const file = (n: RenderedNode, p: string) => n.files.find((f) => f.path === p)?.content;
  const f = flags(fixed.etcd!());
  assert.equal(f['trusted-ca-file'], '/etc/etcd/ca.crt');
  assert.equal(f['peer-trusted-ca-file'], '/etc/etcd/peer-ca.crt');
  assert.equal(file(fixed.etcd!(), '/etc/etcd/peer-ca.crt'), pem('CERTIFICATE etcd-peer-ca'));
  assert.equal(file(fixed.etcd!(), '/etc/etcd/ca.crt'), pem('CERTIFICATE etcd-ca'));

  // A real cluster: each member's peer port trusts the peer CA only, which signed its peer certificate and
  // not the API server's etcd client certificate.
  const { nodes, pki } = renderCluster(sampleCluster(), realRenderContext());
  const apiserverClient = new X509Certificate(pki.etcd['etcd-client-apiserver']!.cert);
  const members = nodes.filter((n) => n.role === 'etcd');
  assert.equal(members.length, 3);
  for (const n of members) {
    const peerTrust = new X509Certificate(file(n, flags(n)['peer-trusted-ca-file']!)!);
    const clientTrust = new X509Certificate(file(n, flags(n)['trusted-ca-file']!)!);
    assert.equal(peerTrust.fingerprint256, new X509Certificate(pki.etcdPeerCA.cert).fingerprint256, n.name);
    assert.equal(clientTrust.fingerprint256, new X509Certificate(pki.etcdCA.cert).fingerprint256, n.name);
    const peer = new X509Certificate(file(n, flags(n)['peer-cert-file']!)!);
    assert.ok(peer.checkIssued(peerTrust) && peer.verify(peerTrust.publicKey), `${n.name}: peer certificate from the peer CA`);
    assert.ok(!apiserverClient.checkIssued(peerTrust) && !apiserverClient.verify(peerTrust.publicKey), `${n.name}: the API server's client certificate is not trusted on 2380`);
    const server = new X509Certificate(file(n, flags(n)['cert-file']!)!);
    assert.ok(server.checkIssued(clientTrust) && server.verify(clientTrust.publicKey), `${n.name}: server certificate from the etcd CA`);
  }
});

test('user-data of every role stays within the 48 KiB budget (realistic cluster, longest names)', () => {
  const { nodes } = renderCluster(sampleCluster({ longNames: true }), realRenderContext());
  const sizes = new Map<string, number>();
  for (const n of nodes) sizes.set(n.role, Math.max(sizes.get(n.role) ?? 0, Buffer.byteLength(n.userData)));
  for (const [role, size] of sizes) {
    console.log(`# user-data ${role}: ${size} bytes (${((size / 65536) * 100).toFixed(0)}% of DigitalOcean's 64 KiB)`);
    assert.ok(size <= 48 * 1024, `${role}: ${size} bytes > 48 KiB`);
  }
  assert.deepEqual([...sizes.keys()].sort(), ['control-plane', 'etcd', 'worker']);
});

test('the rendered document is #cloud-config YAML with files and the install command', () => {
  const doc = parse(fixed.worker!().userData.replace(/^#cloud-config\n/, ''));
  assert.equal(doc.hostname, 'demo-general-worker-aaaaa');
  assert.deepEqual(doc.runcmd, [['/usr/local/sbin/hardway-install']]);
  const kubelet = doc.write_files.find((f: { path: string }) => f.path === '/etc/systemd/system/kubelet.service');
  assert.match(kubelet.content, /--node-labels=node\.kubernetes\.io\/pool=general/);
  assert.match(kubelet.content, /--node-ip=\$\{PRIVATE_IPV4\}/);
});

test('Kubernetes nodes close the metadata service to pods before containerd or kubelet can start', () => {
  for (const role of ['control-plane', 'worker'] as const) {
    const files = fixed[role]!().files;
    const unit = (name: string) => files.find((f) => f.path === `/etc/systemd/system/${name}`)?.content ?? '';
    assert.match(unit(METADATA_BLOCK_UNIT), /^Type=oneshot$/m, role);
    assert.equal(files.find((f) => f.path === METADATA_BLOCK_SCRIPT)?.permissions, '0755', role);
    for (const dependant of ['containerd.service', 'kubelet.service']) {
      assert.match(unit(dependant), new RegExp(`^After=.*\\b${METADATA_BLOCK_UNIT}\\b`, 'm'), `${role}: ${dependant} starts after the rule`);
      assert.match(unit(dependant), new RegExp(`^Requires=.*\\b${METADATA_BLOCK_UNIT}\\b`, 'm'), `${role}: ${dependant} needs the rule`);
    }
  }
  assert.ok(!fixed.etcd!().files.some((f) => f.path === METADATA_BLOCK_SCRIPT), 'etcd members run no pods');
});

test('workers, at every supported minor: no private key in user-data, only a bootstrap token; kubelet asks for and renews its certificates; kube-proxy uses its node’s', () => {
  const { nodes, tokens } = renderCluster(sampleCluster(), realRenderContext());
  const sampleWorker = nodes.find((n) => n.role === 'worker')!;
  const perMinor = Object.keys(RELEASES).map((minor) =>
    renderWorker({ node: { name: 'demo-general-worker-aaaaa', address: 'demo-general-worker-aaaaa.example.com' }, version: `v${minor}.0`, apiServer: 'https://api.demo.example.com:6443', clusterName: 'demo', caCert: pem('CERTIFICATE kubernetes-ca'), bootstrapToken: 'abcdef.0123456789abcdef', network }),
  );
  for (const w of [...nodes.filter((n) => n.role === 'worker'), ...perMinor]) {
    assert.ok(!/PRIVATE KEY/.test(w.userData), `${w.name}: no private key`);
    assert.equal([...w.userData.matchAll(/token: [a-z0-9]{6}\.[a-z0-9]{16}/g)].length, 1, `${w.name}: exactly one bootstrap token`);
    const cfg = parse(w.files.find((f) => f.path === '/var/lib/kubelet/config.yaml')!.content);
    assert.equal(cfg.rotateCertificates, true);
    assert.equal(cfg.serverTLSBootstrap, true);
    assert.equal(cfg.tlsCertFile, undefined, 'no operator-made serving certificate');
    const proxy = parse(w.files.find((f) => f.path === '/var/lib/kube-proxy/kubeconfig')!.content);
    assert.equal(proxy.users[0].user['client-certificate'], '/var/lib/kubelet/pki/kubelet-client-current.pem', 'kube-proxy: the node’s own, rotated credential');
  }
  assert.ok(sampleWorker.userData.includes(tokens.find((t) => t.machine === sampleWorker.name)!.secret));
  // Every token made expires within the TTL.
  const now = Date.now();
  for (const t of tokens) assert.ok(t.expiresAt.getTime() - now <= BOOTSTRAP_TOKEN_TTL_MS, `${t.machine}: expires within ${BOOTSTRAP_TOKEN_TTL_MS / 60_000} min`);
});
