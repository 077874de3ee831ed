import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, randomBytes } from 'node:crypto';
import { createCA, issueLeaf, issuedBy, crossSign, type PkiContext } from './certs.ts';
import { etcdLeafSpecs } from './profiles.ts';
import { issueEtcdMember, etcdPeerTrust, memberSecretData, memberFromSecretData, type EtcdCAs } from './etcd.ts';
import { generateKey } from './x509.ts';
import { buildClusterPki } from './cluster.ts';

const ctx: PkiContext = { now: new Date('2026-01-01T00:00:00Z'), randomHex: (n) => randomBytes(n).toString('hex'), newKey: generateKey };
const cas: EtcdCAs = { etcd: createCA('etcd-ca ns/demo', ctx), peer: createCA('etcd-peer-ca ns/demo', ctx) };
const apiserverClient = issueLeaf(cas.etcd, etcdLeafSpecs([])['etcd-client-apiserver']!, ctx);
const member = (name: string) => ({ name, address: `${name}.example.com` });
const certsIn = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g) ?? [];
/** Every certificate of a PEM chain signed by the next one, the last by the root: what a TLS verifier checks. */
const chainsTo = (chainPem: string, rootPem: string) => {
  const chain = [...certsIn(chainPem), rootPem].map((p) => new X509Certificate(p));
  return chain.slice(0, -1).every((c, i) => c.checkIssued(chain[i + 1]!) && c.verify(chain[i + 1]!.publicKey));
};

test('a peer certificate chains to the peer CA; the API server’s etcd client certificate does not', () => {
  const m = issueEtcdMember(member('demo-etcd-aaaaa'), cas, [], ctx);
  assert.ok(issuedBy(m.peer.cert, cas.peer.cert), 'peer certificate signed by the peer CA');
  assert.ok(!issuedBy(m.peer.cert, cas.etcd.cert), 'and not by the etcd CA');
  assert.ok(issuedBy(m.server.cert, cas.etcd.cert), 'server certificate signed by the etcd CA (its gateway dials 2379 with it)');
  // What the peer port trusts (--peer-trusted-ca-file) refuses every client certificate of the etcd CA.
  assert.equal(m.peerCA, cas.peer.cert);
  const peerTrust = new X509Certificate(m.peerCA);
  const apiserver = new X509Certificate(apiserverClient.cert);
  assert.equal(apiserver.checkIssued(peerTrust), false);
  assert.equal(apiserver.verify(peerTrust.publicKey), false);
  assert.ok(apiserver.checkIssued(new X509Certificate(m.clientCA)), 'the client port still trusts it');
  assert.equal(certsIn(m.peer.cert).length, 1, 'a new cluster: the leaf alone');
  assert.match(new X509Certificate(m.peer.cert).keyUsage?.join(',') ?? '', /1\.3\.6\.1\.5\.5\.7\.3\.1.*1\.3\.6\.1\.5\.5\.7\.3\.2|1\.3\.6\.1\.5\.5\.7\.3\.2.*1\.3\.6\.1\.5\.5\.7\.3\.1/, 'server and client usage');
});

test('renderer PKI: peer leaves from the peer CA, server and client leaves from the etcd CA', () => {
  const pki = buildClusterPki({ etcdMembers: [member('e1'), member('e2')], controlPlane: { endpointHost: 'api.example.com', nodes: [], kubernetesServiceIP: '10.32.0.1', clusterDomain: 'cluster.local' } }, ctx);
  assert.notEqual(pki.etcdPeerCA.cert, pki.etcdCA.cert);
  assert.deepEqual(Object.keys(pki.etcdPeer).sort(), ['etcd-peer-e1', 'etcd-peer-e2']);
  for (const b of Object.values(pki.etcdPeer)) assert.ok(issuedBy(b.cert, pki.etcdPeerCA.cert) && !issuedBy(b.cert, pki.etcdCA.cert));
  for (const b of Object.values(pki.etcd)) assert.ok(issuedBy(b.cert, pki.etcdCA.cert) && !issuedBy(b.cert, pki.etcdPeerCA.cert));
  assert.ok(!Object.keys(pki.etcd).some((k) => k.startsWith('etcd-peer-')));
});

test('transition: next to members from before the peer CA, a new member trusts both CAs and presents a chain they accept', () => {
  // A member made before the peer CA: its peer certificate is from the etcd CA, which alone it trusts.
  const legacyPeer = issueLeaf(cas.etcd, { commonName: 'demo-etcd-old', names: ['demo-etcd-old.example.com'], usages: ['server', 'client'] }, ctx).cert;
  const m = issueEtcdMember(member('demo-etcd-new'), cas, [legacyPeer], ctx);
  assert.equal(m.legacyPeers, 1);
  assert.deepEqual(certsIn(m.peerCA), [cas.peer.cert, cas.etcd.cert], 'trusts the peer CA and, for the old members, the etcd CA');
  assert.ok(chainsTo(legacyPeer, cas.etcd.cert), 'so the old member’s peer certificate is accepted');
  const [leaf, cross] = certsIn(m.peer.cert);
  assert.ok(leaf && cross, 'leaf, then the peer CA cross-signed by the etcd CA');
  assert.ok(issuedBy(leaf, cas.peer.cert));
  assert.equal(new X509Certificate(cross).subject, new X509Certificate(cas.peer.cert).subject);
  assert.equal(new X509Certificate(cross).ca, true);
  assert.ok(chainsTo(m.peer.cert, cas.etcd.cert), 'the old members (trusting the etcd CA) accept the new member');
  assert.ok(chainsTo(leaf, cas.peer.cert), 'the new members (trusting the peer CA) accept it too');

  // Unknown peers (no Secret) count as old; a peer of the peer CA, or one from the transition, does not.
  assert.equal(etcdPeerTrust(cas, [undefined], ctx).legacyPeers, 1);
  const next = issueEtcdMember(member('demo-etcd-next'), cas, [m.peer.cert, issueEtcdMember(member('x'), cas, [], ctx).peer.cert], ctx);
  assert.equal(next.legacyPeers, 0);
  assert.equal(next.peerCA, cas.peer.cert, 'once the old members are gone, the etcd CA is no longer trusted on 2380');
  assert.equal(certsIn(next.peer.cert).length, 1);
});

test('crossSign keeps the name and key, changes only the issuer', () => {
  const cross = new X509Certificate(crossSign(cas.peer, cas.etcd, ctx));
  const original = new X509Certificate(cas.peer.cert);
  assert.equal(cross.subject, original.subject);
  assert.equal(cross.issuer, new X509Certificate(cas.etcd.cert).subject);
  assert.ok(cross.publicKey.equals(original.publicKey));
  assert.ok(cross.verify(new X509Certificate(cas.etcd.cert).publicKey));
});

test('member Secrets: the layout round-trips; a Secret from before the peer CA keeps its old trust', () => {
  const m = issueEtcdMember(member('demo-etcd-aaaaa'), cas, [], ctx);
  const data = memberSecretData(m);
  assert.deepEqual(Object.keys(data).sort(), ['ca.crt', 'peer-ca.crt', 'peer.crt', 'peer.key', 'server.crt', 'server.key']);
  const back = memberFromSecretData(data);
  assert.deepEqual(back, { clientCA: m.clientCA, peerCA: m.peerCA, server: m.server, peer: m.peer });
  const { 'peer-ca.crt': _, ...old } = data;
  assert.equal(memberFromSecretData(old).peerCA, cas.etcd.cert, 'no peer-ca.crt: it trusted ca.crt on both ports');
});
