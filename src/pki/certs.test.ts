import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, randomBytes } from 'node:crypto';
import { createCA, ensureCA, issueLeaf, reissueReason, reconcileLeaves, earliestExpiry, certificateNames, toSecretData, fromSecretData, type PkiContext, type LeafSpec } from './certs.ts';
import { generateKey } from './x509.ts';
import { etcdLeafSpecs, etcdPeerLeafSpecs, controlPlaneLeafSpecs, apiServerNames } from './profiles.ts';

const at = (iso: string): PkiContext => ({ now: new Date(iso), randomHex: (n) => randomBytes(n).toString('hex'), newKey: generateKey });
const ctx = at('2026-01-01T00:00:00Z');
const ca = createCA('kubernetes-ca', ctx);

test('a CA is self-signed, marked CA, valid ten years; ensureCA never replaces an existing one', () => {
  const x = new X509Certificate(ca.cert);
  assert.equal(x.ca, true);
  assert.equal(x.subject, 'CN=kubernetes-ca');
  assert.equal(x.issuer, 'CN=kubernetes-ca');
  assert.ok(x.verify(x.publicKey));
  assert.equal(new Date(x.validTo).getUTCFullYear(), 2035);
  assert.equal(ensureCA(ca, 'kubernetes-ca', ctx).bundle, ca);
  assert.equal(ensureCA(ca, 'kubernetes-ca', ctx).created, false);
  assert.equal(ensureCA(undefined, 'kubernetes-ca', ctx).created, true);
});

test('serial numbers are positive, 16 octets, and readable by OpenSSL whatever the random bytes (00 00… was illegal padding)', () => {
  for (const hex of ['00000000000000000000000000000000', '0000ff00000000000000000000000000', '00112233445566778899aabbccddeeff', 'ff'.repeat(16), '80'.repeat(16), '7f'.repeat(16)]) {
    const bundle = createCA('t', { ...ctx, randomHex: () => hex });
    const leaf = issueLeaf(bundle, { commonName: 'x', usages: ['client'] }, { ...ctx, randomHex: () => hex });
    for (const pem of [bundle.cert, leaf.cert]) {
      const serial = new X509Certificate(pem).serialNumber;
      assert.equal(serial.length, 32, `${hex}: ${serial}`);
      assert.match(serial, /^[4-7]/, `${hex}: first octet 0x40–0x7f`);
    }
  }
});

test('leaves carry the subjects, names and usages of their profile, and chain to the CA', () => {
  const cp = controlPlaneLeafSpecs({ endpointHost: 'api.demo.example.com', nodes: [{ name: 'demo-cp-abcde', address: 'demo-cp-abcde.example.com' }], kubernetesServiceIP: '10.32.0.1', clusterDomain: 'cluster.local' });
  const table: [string, LeafSpec, string, RegExp][] = [
    ['apiserver', cp.apiserver!, 'CN=kube-apiserver', /TLS Web Server Authentication|serverAuth|1\.3\.6\.1\.5\.5\.7\.3\.1/],
    ['admin', cp.admin!, 'O=system:masters\nCN=admin', /1\.3\.6\.1\.5\.5\.7\.3\.2/],
    ['kubelet', cp['kubelet-demo-cp-abcde']!, 'O=system:nodes\nCN=system:node:demo-cp-abcde', /1\.3\.6\.1\.5\.5\.7\.3\.1/],
    ['controller-manager', cp['controller-manager']!, 'CN=system:kube-controller-manager', /1\.3\.6\.1\.5\.5\.7\.3\.2/],
    ['scheduler', cp.scheduler!, 'CN=system:kube-scheduler', /1\.3\.6\.1\.5\.5\.7\.3\.2/],
    ['kube-proxy', cp['kube-proxy']!, 'O=system:node-proxier\nCN=system:kube-proxy', /1\.3\.6\.1\.5\.5\.7\.3\.2/],
    ['apiserver-kubelet-client', cp['apiserver-kubelet-client']!, 'O=system:masters\nCN=kube-apiserver-kubelet-client', /1\.3\.6\.1\.5\.5\.7\.3\.2/],
  ];
  for (const [name, spec, subject, usage] of table) {
    const leaf = issueLeaf(ca, spec, ctx);
    const x = new X509Certificate(leaf.cert);
    assert.equal(x.subject, subject, name);
    assert.equal(x.ca, false, name);
    assert.ok(x.checkIssued(new X509Certificate(ca.cert)), `${name} issued by the CA`);
    assert.ok(x.verify(new X509Certificate(ca.cert).publicKey), `${name} signature`);
    assert.match(x.keyUsage?.join(',') ?? '', usage, name);
    assert.deepEqual(certificateNames(leaf.cert), [...new Set(spec.names ?? [])].sort(), name);
  }
  assert.deepEqual(apiServerNames({ endpointHost: 'api.x.io', nodes: [{ name: 'n', address: 'n.x.io' }], kubernetesServiceIP: '10.32.0.1', clusterDomain: 'corp.local' }), [
    'api.x.io', 'n.x.io', '10.32.0.1', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.corp.local', 'localhost', '127.0.0.1',
  ]);
});

test('etcd and worker profiles: member names and loopback; workers get only kubelet certificates', () => {
  const member = { name: 'demo-etcd-a1b2c', address: 'demo-etcd-a1b2c.example.com' };
  const etcd = etcdLeafSpecs([member]);
  // Peer certificates come from the peer CA (etcdPeerLeafSpecs), never from the etcd CA with the clients.
  assert.deepEqual(Object.keys(etcd).sort(), ['etcd-client-apiserver', 'etcd-client-operator', 'etcd-server-demo-etcd-a1b2c']);
  assert.deepEqual(etcd['etcd-server-demo-etcd-a1b2c']!.names, ['demo-etcd-a1b2c.example.com', 'localhost', '127.0.0.1']);
  const peer = etcdPeerLeafSpecs([member]);
  assert.deepEqual(Object.keys(peer), ['etcd-peer-demo-etcd-a1b2c']);
  assert.deepEqual(peer['etcd-peer-demo-etcd-a1b2c'], { commonName: 'demo-etcd-a1b2c', names: ['demo-etcd-a1b2c.example.com', 'localhost', '127.0.0.1'], usages: ['server', 'client'] });
});

test('reissueReason: keep what is good, re-issue what is missing, renamed, foreign or due', () => {
  const spec: LeafSpec = { commonName: 'kube-apiserver', names: ['api.example.com', '10.32.0.1'], usages: ['server'] };
  const leaf = issueLeaf(ca, spec, ctx);
  const other = createCA('other-ca', ctx);
  const table: [string, string | undefined][] = [
    [String(reissueReason(leaf, spec, ca, new Date('2026-06-01T00:00:00Z'))), 'undefined'],
    [String(reissueReason(undefined, spec, ca, ctx.now)), 'missing'],
    [String(reissueReason(leaf, { ...spec, names: [...spec.names!, 'api2.example.com'] }, ca, ctx.now)), 'names changed'],
    [String(reissueReason(leaf, { ...spec, commonName: 'other' }, ca, ctx.now)), 'subject changed'],
    [String(reissueReason(leaf, spec, other, ctx.now)), 'signed by another CA'],
    [String(reissueReason({ ...leaf, key: generateKey().privateKeyPem }, spec, ca, ctx.now)), 'key does not match certificate'],
    // 365-day leaf: a third of its life is ~122 days; due from early September.
    [String(reissueReason(leaf, spec, ca, new Date('2026-08-30T00:00:00Z'))), 'undefined'],
    [String(reissueReason(leaf, spec, ca, new Date('2026-09-02T00:00:00Z'))), 'less than a third of its lifetime left'],
  ];
  for (const [got, want] of table) assert.equal(got, want);
});

test('reconcileLeaves issues only what is due, and says why', () => {
  const specs = { a: { commonName: 'a', usages: ['client'] } as LeafSpec, b: { commonName: 'b', usages: ['client'] } as LeafSpec };
  const first = reconcileLeaves({}, specs, ca, ctx);
  assert.deepEqual(first.issued.map((i) => i.name), ['a', 'b']);
  const again = reconcileLeaves(first.bundles, specs, ca, ctx);
  assert.deepEqual(again.issued, []);
  assert.equal(again.bundles.a, first.bundles.a);
  const renamed = reconcileLeaves(first.bundles, { ...specs, b: { ...specs.b, names: ['b.example.com'] } }, ca, ctx);
  assert.deepEqual(renamed.issued, [{ name: 'b', reason: 'names changed' }]);
});

test('earliestExpiry and the Secret layout', () => {
  const short = issueLeaf(ca, { commonName: 's', usages: ['client'] }, ctx, 30);
  const long = issueLeaf(ca, { commonName: 'l', usages: ['client'] }, ctx);
  const e = earliestExpiry({ long: long.cert, short: short.cert, ca: ca.cert });
  assert.equal(e?.name, 'short');
  assert.equal(e?.notAfter.toISOString(), '2026-01-31T00:00:00.000Z');
  assert.deepEqual(fromSecretData(toSecretData(short)), short);
  assert.deepEqual(Object.keys(toSecretData(short)).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
  assert.equal(fromSecretData({}), undefined);
});
