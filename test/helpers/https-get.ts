// One HTTPS GET to an address, verifying the server certificate against the CA (for `servername` when
// given, else for the host), with an optional client certificate. Tests use it to probe real servers.
import { request } from 'node:https';

/** A client certificate with the CA that verifies the server: what a kubeconfig's user and cluster hold. */
export interface Creds {
  ca: string;
  cert: string;
  key: string;
}

export interface Answer {
  status: number;
  body: string;
}

export function httpsGet(
  target: { host: string; port: number; path: string; servername?: string },
  tls: { ca: string; cert?: string; key?: string },
  timeoutMs = 5_000,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ ...target, ...tls, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}
