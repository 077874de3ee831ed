// X.509 issuance. node-forge builds the certificate body (subject, issuer, validity, extensions);
// keys are ECDSA P-256 from Node's native crypto, and the signature is native too. forge only encodes RSA
// public keys, so its TBSCertificate gets the real EC SubjectPublicKeyInfo swapped in before signing.
// Why ECDSA: a whole cluster's ~25 keys take milliseconds instead of ~2 s (RSA-2048 on 2 cores), and each
// key is ~240 bytes of PEM instead of ~1.7 KB, which matters under DigitalOcean's 64 KiB user-data limit.
import forge from 'node-forge';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';

const { asn1, pki } = forge;

export interface KeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
}

/** Where keys come from; tests may use a pre-generated pool, production uses generateKey. */
export type KeySource = () => KeyPair;

export const generateKey: KeySource = () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
};

export type KeyUsage = 'server' | 'client';

export interface CertificateRequest {
  commonName: string;
  organizations?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  /** Extended key usages; a CA has none. */
  usages?: KeyUsage[];
  isCA?: boolean;
  notBefore: Date;
  notAfter: Date;
  /** Positive serial number as hex (random, from the caller: randomness is an input). */
  serialHex: string;
}

export interface Issuer {
  certPem: string;
  keyPem: string;
}

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

/** A throwaway RSA key: forge needs some RSA public key to build a TBSCertificate we then patch. */
let placeholder: forge.pki.rsa.PublicKey | undefined;
function placeholderKey(): forge.pki.rsa.PublicKey {
  if (!placeholder) {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    placeholder = pki.publicKeyFromPem(publicKey);
  }
  return placeholder;
}

function algorithmIdentifier(): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(ECDSA_WITH_SHA256).getBytes()),
  ]);
}

function subjectKeyId(publicKeyPem: string): string {
  // RFC 5280 method 1: SHA-1 of the subjectPublicKey bit string (the raw EC point here).
  const spki = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  const point = spki.subarray(spki.length - 65);
  const md = forge.md.sha1.create();
  md.update(point.toString('binary'));
  return md.digest().toHex();
}

/**
 * Issues a certificate for publicKeyPem, signed by issuer (or self-signed with selfKeyPem when issuer is
 * undefined). Returns PEM.
 */
export function issueCertificate(req: CertificateRequest, publicKeyPem: string, issuer: Issuer | { selfKeyPem: string }): string {
  const cert = pki.createCertificate();
  cert.publicKey = placeholderKey();
  cert.serialNumber = req.serialHex;
  cert.validity.notBefore = req.notBefore;
  cert.validity.notAfter = req.notAfter;
  const subject = [
    ...(req.organizations ?? []).map((value) => ({ shortName: 'O', value })),
    { shortName: 'CN', value: req.commonName },
  ];
  cert.setSubject(subject);
  // For a signed certificate the issuer Name is replaced below by the issuer's subject, byte for byte.
  cert.setIssuer(subject);
  const selfSigned = 'selfKeyPem' in issuer;
  const issuerCert = selfSigned ? undefined : new X509Certificate(issuer.certPem);

  const skid = subjectKeyId(publicKeyPem);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: !!req.isCA, critical: true },
    {
      name: 'keyUsage',
      critical: true,
      digitalSignature: true,
      keyCertSign: !!req.isCA,
      cRLSign: !!req.isCA,
    },
    { name: 'subjectKeyIdentifier', subjectKeyIdentifier: skid },
  ];
  if (req.usages?.length) {
    extensions.push({ name: 'extKeyUsage', serverAuth: req.usages.includes('server'), clientAuth: req.usages.includes('client') });
  }
  const altNames = [...(req.dnsNames ?? []).map((value) => ({ type: 2, value })), ...(req.ipAddresses ?? []).map((ip) => ({ type: 7, ip }))];
  if (altNames.length) extensions.push({ name: 'subjectAltName', altNames });
  if (issuerCert) {
    const issuerSkid = extractSubjectKeyId(issuerCert);
    if (issuerSkid) extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier: forge.util.hexToBytes(issuerSkid) });
  }
  cert.setExtensions(extensions);

  cert.siginfo.algorithmOid = pki.oids.sha256WithRSAEncryption!; // forge needs one; replaced just below
  // getTBSCertificate is public in forge but missing from its type definitions.
  const tbs = (pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(cert);
  const fields = tbs.value as forge.asn1.Asn1[];
  // TBSCertificate: [0] version, serial, signature alg, issuer, validity, subject, subjectPublicKeyInfo, [3] ext
  fields[2] = algorithmIdentifier();
  if (issuerCert) fields[3] = issuerNameOf(issuerCert);
  const spkiDer = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  fields[6] = asn1.fromDer(forge.util.createBuffer(spkiDer.toString('binary')));
  const tbsDer = Buffer.from(asn1.toDer(tbs).getBytes(), 'binary');

  const signingKey: KeyObject = createPrivateKey(selfSigned ? issuer.selfKeyPem : issuer.keyPem);
  const signature = sign('sha256', tbsDer, signingKey);
  const certificate = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    algorithmIdentifier(),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, String.fromCharCode(0) + signature.toString('binary')),
  ]);
  const der = asn1.toDer(certificate).getBytes();
  return `-----BEGIN CERTIFICATE-----\n${forge.util.encode64(der, 64)}\n-----END CERTIFICATE-----\n`;
}

/** The issuer certificate's subject Name, as DER-decoded ASN.1 (for the child's issuer field). */
function issuerNameOf(issuer: X509Certificate): forge.asn1.Asn1 {
  const certAsn1 = asn1.fromDer(forge.util.createBuffer(issuer.raw.toString('binary')));
  const tbs = (certAsn1.value as forge.asn1.Asn1[])[0]!;
  return (tbs.value as forge.asn1.Asn1[])[5]!; // subject
}

function extractSubjectKeyId(cert: X509Certificate): string | undefined {
  const certAsn1 = asn1.fromDer(forge.util.createBuffer(cert.raw.toString('binary')));
  const tbs = (certAsn1.value as forge.asn1.Asn1[])[0]!;
  const extsWrapper = (tbs.value as forge.asn1.Asn1[]).find((v) => v.tagClass === asn1.Class.CONTEXT_SPECIFIC && v.type === 3);
  if (!extsWrapper) return undefined;
  const exts = ((extsWrapper.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[]) ?? [];
  for (const ext of exts) {
    const parts = ext.value as forge.asn1.Asn1[];
    if (asn1.derToOid(forge.util.createBuffer(parts[0]!.value as string)) !== '2.5.29.14') continue;
    const octets = parts[parts.length - 1]!.value as string;
    const inner = asn1.fromDer(forge.util.createBuffer(octets));
    return forge.util.bytesToHex(inner.value as string);
  }
  return undefined;
}
