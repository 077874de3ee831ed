// kubeconfig files: by path on nodes (the certificates are files next to it), embedded for the admin
// kubeconfig stored in a Secret.
import { stringify } from 'yaml';

export type Credentials =
  | { kind: 'files'; caFile: string; certFile: string; keyFile: string }
  | { kind: 'embedded'; caPem: string; certPem: string; keyPem: string }
  /** A bearer token (a kubelet's bootstrap token), the CA by path. */
  | { kind: 'token'; caFile: string; token: string };

export function renderKubeconfig(o: { cluster: string; user: string; server: string; credentials: Credentials }): string {
  const c = o.credentials;
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const cluster = c.kind === 'embedded' ? { server: o.server, 'certificate-authority-data': b64(c.caPem) } : { server: o.server, 'certificate-authority': c.caFile };
  const user =
    c.kind === 'files' ? { 'client-certificate': c.certFile, 'client-key': c.keyFile } : c.kind === 'token' ? { token: c.token } : { 'client-certificate-data': b64(c.certPem), 'client-key-data': b64(c.keyPem) };
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: o.cluster, cluster }],
    users: [{ name: o.user, user }],
    contexts: [{ name: `${o.user}@${o.cluster}`, context: { cluster: o.cluster, user: o.user } }],
    'current-context': `${o.user}@${o.cluster}`,
  });
}
