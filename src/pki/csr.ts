// PKCS#10 certificate signing requests as kubelets send them (ECDSA or RSA keys): the subject and the
// subjectAltName of the extensionRequest attribute (RFC 2986 §4.1; RFC 5280 §4.2.1.6), read with forge's
// ASN.1 reader (forge's own CSR parser only knows RSA keys). Pure.
import forge from 'node-forge';

const { asn1 } = forge;

export interface CsrContent {
  commonName?: string;
  organizations: string[];
  dnsNames: string[];
  ipAddresses: string[];
  /** Email, URI and other name types, which no kubelet certificate needs. */
  otherNames: number;
}

const OID = { commonName: '2.5.4.3', organization: '2.5.4.10', extensionRequest: '1.2.840.113549.1.9.14', subjectAltName: '2.5.29.17' };

const children = (n: forge.asn1.Asn1): forge.asn1.Asn1[] => (Array.isArray(n.value) ? n.value : []);
const oidOf = (n: forge.asn1.Asn1 | undefined): string => (n && typeof n.value === 'string' ? asn1.derToOid(n.value) : '');
const text = (n: forge.asn1.Asn1 | undefined): string => (n && typeof n.value === 'string' ? forge.util.decodeUtf8(n.value) : '');

function ip(bytes: string): string {
  const b = Buffer.from(bytes, 'binary');
  if (b.length === 4) return [...b].join('.');
  if (b.length === 16) return (b.toString('hex').match(/.{4}/g) ?? []).map((g) => g.replace(/^0+(?=.)/, '')).join(':');
  throw new Error(`an IP address of ${b.length} bytes`);
}

/** The subject and requested names of a PEM CSR; throws on anything that is not one. */
export function parseCsr(pem: string): CsrContent {
  const m = /-----BEGIN CERTIFICATE REQUEST-----([\s\S]+?)-----END CERTIFICATE REQUEST-----/.exec(pem);
  if (!m) throw new Error('not a PEM certificate request');
  const root = asn1.fromDer(forge.util.createBuffer(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64').toString('binary')));
  const [info] = children(root);
  const parts = info ? children(info) : [];
  if (parts.length < 3) throw new Error('certificate request without a request info');
  const out: CsrContent = { organizations: [], dnsNames: [], ipAddresses: [], otherNames: 0 };
  for (const rdn of children(parts[1]!)) {
    for (const atv of children(rdn)) {
      const [type, value] = children(atv);
      if (oidOf(type) === OID.commonName) out.commonName = text(value);
      if (oidOf(type) === OID.organization) out.organizations.push(text(value));
    }
  }
  const attributes = parts.find((p) => p.tagClass === asn1.Class.CONTEXT_SPECIFIC && p.type === 0);
  for (const attribute of attributes ? children(attributes) : []) {
    const [type, values] = children(attribute);
    if (oidOf(type) !== OID.extensionRequest || !values) continue;
    for (const extensions of children(values)) {
      for (const extension of children(extensions)) {
        const fields = children(extension);
        if (oidOf(fields[0]) !== OID.subjectAltName) continue;
        const value = fields[fields.length - 1]!;
        const names = asn1.fromDer(forge.util.createBuffer(value.value as string));
        for (const name of children(names)) {
          if (name.tagClass !== asn1.Class.CONTEXT_SPECIFIC) out.otherNames++;
          else if (name.type === 2) out.dnsNames.push(String(name.value));
          else if (name.type === 7) out.ipAddresses.push(ip(String(name.value)));
          else out.otherNames++;
        }
      }
    }
  }
  return out;
}
