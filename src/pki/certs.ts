// Certificate bundles as stored in Secrets (tls.crt, tls.key, ca.crt), and the rules for reusing them:
// a CA is created once and never regenerated while its Secret exists; a leaf is re-issued when its names
// change, when its CA changed, or when less than a third of its lifetime is left. Pure: clock and
// randomness come in through PkiContext.
import { X509Certificate, createPublicKey } from 'node:crypto';
import { isIP } from 'node:net';
import { issueCertificate, type KeySource, type KeyUsage } from './x509.ts';

export interface CertBundle {
  /** PEM of the certificate (tls.crt). */
  cert: string;
  /** PEM of the private key (tls.key). */
  key: string;
  /** PEM of the issuing CA (ca.crt); for a CA, itself. */
  ca: string;
}

export interface PkiContext {
  now: Date;
  /** Random bytes as hex, for serial numbers. */
  randomHex: (bytes: number) => string;
  newKey: KeySource;
}

export interface LeafSpec {
  commonName: string;
  organizations?: string[];
  /** DNS names and IP addresses; each is put in the right SAN type. */
  names?: string[];
  usages: KeyUsage[];
}

export const CA_VALIDITY_DAYS = 3650;
export const LEAF_VALIDITY_DAYS = 365;
const DAY = 86_400_000;

function serial(ctx: PkiContext): string {
  // 16 random bytes, the first in 0x40–0x7f: a positive INTEGER (RFC 5280 §4.1.2.2) whose first octet is
  // never zero. With only the top bit cleared, a serial starting 00 00 was encoded with a leading zero
  // octet, which OpenSSL refuses ("asn1 encoding routines::illegal padding"): 1 certificate in 32,768 was
  // unreadable, and a CA among them would have stopped its cluster for good (a CA is never regenerated).
  const hex = ctx.randomHex(16);
  return ((parseInt(hex.slice(0, 2), 16) & 0x3f) | 0x40).toString(16) + hex.slice(2);
}

/** Certificates are valid from a minute before now: clocks of nodes that just booted drift. */
const backdate = (now: Date) => new Date(now.getTime() - 60_000);

export function createCA(commonName: string, ctx: PkiContext, validityDays = CA_VALIDITY_DAYS): CertBundle {
  const key = ctx.newKey();
  const cert = issueCertificate(
    { commonName, isCA: true, notBefore: backdate(ctx.now), notAfter: new Date(ctx.now.getTime() + validityDays * DAY), serialHex: serial(ctx) },
    key.publicKeyPem,
    { selfKeyPem: key.privateKeyPem },
  );
  return { cert, key: key.privateKeyPem, ca: cert };
}

/** The existing CA if there is one: a CA is never regenerated while its Secret exists. */
export function ensureCA(existing: CertBundle | undefined, commonName: string, ctx: PkiContext): { bundle: CertBundle; created: boolean } {
  if (existing?.cert && existing.key) return { bundle: existing, created: false };
  return { bundle: createCA(commonName, ctx), created: true };
}

export function splitNames(names: string[] = []): { dnsNames: string[]; ipAddresses: string[] } {
  return { dnsNames: names.filter((n) => !isIP(n)), ipAddresses: names.filter((n) => isIP(n)) };
}

export function issueLeaf(ca: CertBundle, spec: LeafSpec, ctx: PkiContext, validityDays = LEAF_VALIDITY_DAYS): CertBundle {
  const key = ctx.newKey();
  const cert = issueCertificate(
    {
      commonName: spec.commonName,
      organizations: spec.organizations,
      ...splitNames(spec.names),
      usages: spec.usages,
      notBefore: backdate(ctx.now),
      notAfter: new Date(ctx.now.getTime() + validityDays * DAY),
      serialHex: serial(ctx),
    },
    key.publicKeyPem,
    { certPem: ca.cert, keyPem: ca.key },
  );
  return { cert, key: key.privateKeyPem, ca: ca.cert };
}

/** Whether the first certificate of certPem was signed by caPem (issuer name and signature). */
export function issuedBy(certPem: string, caPem: string): boolean {
  const x = new X509Certificate(certPem);
  const ca = new X509Certificate(caPem);
  return x.checkIssued(ca) && x.verify(ca.publicKey);
}

/**
 * A CA certificate with ca's subject and public key, signed by `by` (cross-signed): a leaf of ca presented
 * together with it also chains to `by`, for verifiers that trust only `by`. TLS peers verify a chain with
 * the intermediates the other side sends (Go's crypto/tls, which etcd uses, adds every certificate after
 * the leaf to the verify options' Intermediates: processCertsFromClient in handshake_server.go, and
 * verifyServerCertificate in handshake_client.go), so the leaf's PEM file carries it after the leaf.
 * test/integration/etcd-peer-ca.test.ts shows real etcd members accepting such a chain.
 */
export function crossSign(ca: CertBundle, by: CertBundle, ctx: PkiContext, validityDays = CA_VALIDITY_DAYS): string {
  const original = new X509Certificate(ca.cert);
  const commonName = /^CN=(.*)$/.exec(original.subject)?.[1];
  if (!commonName) throw new Error(`crossSign: ${original.subject} is not a CN-only subject`);
  const publicKeyPem = createPublicKey(ca.key).export({ type: 'spki', format: 'pem' }).toString();
  const cert = issueCertificate(
    { commonName, isCA: true, notBefore: backdate(ctx.now), notAfter: new Date(ctx.now.getTime() + validityDays * DAY), serialHex: serial(ctx) },
    publicKeyPem,
    { certPem: by.cert, keyPem: by.key },
  );
  // The chain links by name: the cross certificate's subject must be the original's.
  if (new X509Certificate(cert).subject !== original.subject) throw new Error('crossSign: subject changed');
  return cert;
}

/** The names in a certificate's subjectAltName, normalised for comparison. */
export function certificateNames(certPem: string): string[] {
  const san = new X509Certificate(certPem).subjectAltName ?? '';
  return san
    .split(', ')
    .filter(Boolean)
    .map((entry) => entry.replace(/^(DNS|IP Address):/, ''))
    .sort();
}

/** Why a leaf must be re-issued, or undefined when it can be kept. */
export function reissueReason(existing: CertBundle | undefined, spec: LeafSpec, ca: CertBundle, now: Date, renewWhenLeft = 1 / 3): string | undefined {
  if (!existing?.cert || !existing.key) return 'missing';
  const x = new X509Certificate(existing.cert);
  if (!x.verify(new X509Certificate(ca.cert).publicKey)) return 'signed by another CA';
  if (!createPublicKey(existing.key).equals(x.publicKey)) return 'key does not match certificate';
  const wantNames = [...new Set(spec.names ?? [])].sort();
  if (JSON.stringify(certificateNames(existing.cert)) !== JSON.stringify(wantNames)) return 'names changed';
  const subject = [...(spec.organizations ?? []).map((o) => `O=${o}`), `CN=${spec.commonName}`].join('\n');
  if (x.subject !== subject) return 'subject changed';
  const from = Date.parse(x.validFrom);
  const to = Date.parse(x.validTo);
  if (to - now.getTime() < (to - from) * renewWhenLeft) return renewWhenLeft === 1 / 3 ? 'less than a third of its lifetime left' : `less than ${Math.round(renewWhenLeft * 100)}% of its lifetime left`;
  return undefined;
}

/** Keeps what is still good, issues what is missing or due. Returns every bundle and what was issued. */
export function reconcileLeaves(
  existing: Record<string, CertBundle | undefined>,
  specs: Record<string, LeafSpec>,
  ca: CertBundle,
  ctx: PkiContext,
): { bundles: Record<string, CertBundle>; issued: { name: string; reason: string }[] } {
  const bundles: Record<string, CertBundle> = {};
  const issued: { name: string; reason: string }[] = [];
  for (const [name, spec] of Object.entries(specs)) {
    const reason = reissueReason(existing[name], spec, ca, ctx.now);
    if (reason) {
      bundles[name] = issueLeaf(ca, spec, ctx);
      issued.push({ name, reason });
    } else {
      bundles[name] = existing[name]!;
    }
  }
  return { bundles, issued };
}

/** The certificate that expires first, for status. */
export function earliestExpiry(certs: Record<string, string>): { name: string; notAfter: Date } | undefined {
  let best: { name: string; notAfter: Date } | undefined;
  for (const [name, pem] of Object.entries(certs)) {
    const notAfter = new Date(new X509Certificate(pem).validTo);
    if (!best || notAfter < best.notAfter) best = { name, notAfter };
  }
  return best;
}

/** Secret data (base64) in the kubernetes.io/tls layout plus ca.crt. */
export function toSecretData(b: CertBundle): Record<string, string> {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return { 'tls.crt': b64(b.cert), 'tls.key': b64(b.key), 'ca.crt': b64(b.ca) };
}

export function fromSecretData(data: Record<string, string> | undefined): CertBundle | undefined {
  if (!data?.['tls.crt'] || !data['tls.key']) return undefined;
  const s = (k: string) => Buffer.from(data[k] ?? '', 'base64').toString('utf8');
  return { cert: s('tls.crt'), key: s('tls.key'), ca: s('ca.crt') || s('tls.crt') };
}
