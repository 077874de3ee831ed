// An etcd member's certificates and the two trust domains of etcd: the client port 2379 trusts the etcd
// CA (--trusted-ca-file), which signs the API server's and the operator's client certificates and the
// members' server certificates; the peer port 2380 trusts the etcd peer CA (--peer-trusted-ca-file), which
// signs only peer certificates. With one CA for both, the API server's client certificate was accepted on
// the peer port, which serves raft and the whole v3 gRPC API. etcd reads every certificate of a trusted-CA
// file into its pool (NewCertPool in client/pkg/tlsutil/tlsutil.go, etcd v3.5.21), so a file may hold two
// CAs. Pure: randomness and clock come in through PkiContext.
import { X509Certificate } from 'node:crypto';
import { crossSign, issueLeaf, issuedBy, type CertBundle, type PkiContext } from './certs.ts';
import { etcdLeafSpecs, etcdPeerLeafSpecs, type MachineIdentity } from './profiles.ts';

export interface EtcdCAs {
  /** The etcd CA: clients and members' server certificates; trusted on 2379. */
  etcd: CertBundle;
  /** The etcd peer CA: peer certificates only; trusted on 2380. */
  peer: CertBundle;
}

export interface EtcdMemberCerts {
  /** --trusted-ca-file: the etcd CA. */
  clientCA: string;
  /** --peer-trusted-ca-file: the peer CA, and the etcd CA too while legacy peers remain (see etcdPeerTrust). */
  peerCA: string;
  server: CertBundle;
  /** cert: the leaf, followed by the peer CA cross-signed by the etcd CA while legacy peers remain. */
  peer: CertBundle;
}

/**
 * What a member joining these peers must trust on its peer port and present there. peers: the peer
 * certificate (PEM) of every other member it joins, undefined where unknown.
 *
 * Members made before the peer CA existed ("legacy") present peer certificates from the etcd CA and trust
 * only the etcd CA on 2380; their files cannot change. While one of them is (or may be) among the peers, the
 * new member trusts both CAs on 2380 and presents its peer leaf with the peer CA cross-signed by the etcd
 * CA, so the legacy members accept it. Otherwise it trusts the peer CA alone and presents the leaf alone.
 */
export function etcdPeerTrust(cas: EtcdCAs, peers: (string | undefined)[], ctx: PkiContext): { trustedCA: string; intermediates: string; legacyPeers: number } {
  const legacyPeers = peers.filter((p) => !p || !issuedBy(p, cas.peer.cert)).length;
  if (!legacyPeers) return { trustedCA: cas.peer.cert, intermediates: '', legacyPeers };
  return { trustedCA: cas.peer.cert + cas.etcd.cert, intermediates: crossSign(cas.peer, cas.etcd, ctx), legacyPeers };
}

/** A new member's server certificate (etcd CA) and peer certificate (peer CA), and what it trusts. */
export function issueEtcdMember(member: MachineIdentity, cas: EtcdCAs, peers: (string | undefined)[], ctx: PkiContext): EtcdMemberCerts & { legacyPeers: number } {
  const trust = etcdPeerTrust(cas, peers, ctx);
  const server = issueLeaf(cas.etcd, etcdLeafSpecs([member])[`etcd-server-${member.name}`]!, ctx);
  const leaf = issueLeaf(cas.peer, etcdPeerLeafSpecs([member])[`etcd-peer-${member.name}`]!, ctx);
  return { clientCA: cas.etcd.cert, peerCA: trust.trustedCA, server, peer: { ...leaf, cert: leaf.cert + trust.intermediates, ca: trust.trustedCA }, legacyPeers: trust.legacyPeers };
}

/** The member Secret's data: server.crt/.key, peer.crt/.key, ca.crt (client CA), peer-ca.crt (peer trust). */
export function memberSecretData(c: EtcdMemberCerts): Record<string, string> {
  return { 'server.crt': c.server.cert, 'server.key': c.server.key, 'peer.crt': c.peer.cert, 'peer.key': c.peer.key, 'ca.crt': c.clientCA, 'peer-ca.crt': c.peerCA };
}

/**
 * A member Secret read back. Secrets made before the peer CA have no peer-ca.crt: that member's peer
 * certificate is from the etcd CA, and it trusts the etcd CA (ca.crt) on both ports, as it did then.
 */
export function memberFromSecretData(data: Record<string, string>): EtcdMemberCerts {
  const clientCA = data['ca.crt']!;
  const peerCA = data['peer-ca.crt'] || clientCA;
  return {
    clientCA,
    peerCA,
    server: { cert: data['server.crt']!, key: data['server.key']!, ca: clientCA },
    peer: { cert: data['peer.crt']!, key: data['peer.key']!, ca: peerCA },
  };
}

/** Whether a server certificate (PEM, leaf first) is valid for a host name, as a TLS client checks it. */
export function certificateServes(certPem: string, host: string): boolean {
  return new X509Certificate(certPem).checkHost(host) !== undefined;
}
