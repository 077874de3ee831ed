// Which kubelet serving-certificate requests the operator approves. Kubernetes signs them
// (kubernetes.io/kubelet-serving) but approves none by itself (kubernetes/website
// content/en/docs/reference/access-authn-authz/kubelet-tls-bootstrapping.md, "Certificate rotation"):
// whoever approves must check that the names are the node's own. Pure.
import { parseCsr } from '../../pki/csr.ts';
import type { CertificateRequest } from '../../workload/port.ts';

export const KUBELET_SERVING_SIGNER = 'kubernetes.io/kubelet-serving';

/** What the verdict reads of a CertificateSigningRequest (as the workload port lists it). */
export type ServingRequest = Omit<CertificateRequest, 'decided'>;

export interface OwnMachine {
  name: string;
  /** Every address the droplet has. */
  addresses: string[];
}

/** Approve when a node of ours asks for exactly its own name and addresses; otherwise why not. */
export function servingVerdict(r: ServingRequest, machine: OwnMachine | undefined): { approve: true } | { approve: false; why: string } {
  const no = (why: string) => ({ approve: false as const, why });
  if (r.signerName !== KUBELET_SERVING_SIGNER) return no(`signer ${r.signerName}`);
  if (!machine) return no(`${r.username} is not a node of this pool`);
  const user = `system:node:${machine.name}`;
  if (r.username !== user || !r.groups.includes('system:nodes')) return no(`requested by ${r.username}, not ${user}`);
  let c;
  try {
    c = parseCsr(r.request);
  } catch (e) {
    return no(`unreadable request: ${(e as Error).message}`);
  }
  if (c.commonName !== user || c.organizations.join(',') !== 'system:nodes') return no(`subject CN=${c.commonName ?? ''} O=${c.organizations.join('+')}`);
  if (c.otherNames) return no('names other than DNS names and IP addresses');
  const foreignNames = c.dnsNames.filter((n) => n !== machine.name);
  const foreignIps = c.ipAddresses.filter((a) => !machine.addresses.includes(a));
  if (foreignNames.length || foreignIps.length) return no(`names not of ${machine.name}: ${[...foreignNames, ...foreignIps].join(', ')}`);
  if (!c.dnsNames.length && !c.ipAddresses.length) return no('no name');
  const allowed = ['digital signature', 'key encipherment', 'server auth'];
  if (!r.usages.includes('server auth') || r.usages.some((u) => !allowed.includes(u))) return no(`usages ${r.usages.join(', ')}`);
  return { approve: true };
}
