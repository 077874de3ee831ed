// The test API server as a workload cluster: a WorkloadTarget (IP, name in its certificate, CA, client
// certificate) from a kubeconfig of test/env. The test kubeconfig authenticates with a token, so a client
// certificate in system:masters is issued with openssl from the test CA's key, which lies beside it.
import { execFileSync } from 'node:child_process';
import { request } from 'node:https';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import type { WorkloadTarget } from '../../src/workload/port.ts';
import { generateKey } from '../../src/pki/x509.ts';

/** A DNS name the test server's certificate carries (test/env/cluster.ts: IP:127.0.0.1, DNS:localhost). */
export const TEST_SERVER_NAME = 'localhost';

export function workloadTargetFor(kubeconfigPath: string): WorkloadTarget & { port: number } {
  const kc = parse(readFileSync(kubeconfigPath, 'utf8'));
  const current = kc.contexts.find((c: any) => c.name === kc['current-context']).context;
  const cluster = kc.clusters.find((c: any) => c.name === current.cluster).cluster;
  const user = kc.users.find((u: any) => u.name === current.user).user;
  const server = new URL(cluster.server);
  const ca = Buffer.from(cluster['certificate-authority-data'], 'base64').toString('utf8');
  const target = { ip: server.hostname, port: Number(server.port), serverName: TEST_SERVER_NAME, ca };
  if (user['client-certificate-data']) {
    const dec = (s: string) => Buffer.from(s, 'base64').toString('utf8');
    return { ...target, cert: dec(user['client-certificate-data']), key: dec(user['client-key-data']) };
  }
  return { ...target, ...issueAdminCert(path.dirname(kubeconfigPath)) };
}

function issueAdminCert(clusterDir: string): { cert: string; key: string } {
  const caKey = path.join(clusterDir, 'ca.key');
  if (!existsSync(caKey)) throw new Error(`no CA key beside the test kubeconfig (${caKey}): cannot issue a client certificate`);
  const dir = mkdtempSync(path.join(tmpdir(), 'hardway-workload-'));
  try {
    const key = generateKey().privateKeyPem;
    writeFileSync(path.join(dir, 'client.key'), key, { mode: 0o600 });
    writeFileSync(path.join(dir, 'ext.cnf'), 'extendedKeyUsage=clientAuth\n');
    const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    openssl(['req', '-new', '-key', 'client.key', '-subj', '/O=system:masters/CN=hardway-workload-test', '-out', 'client.csr']);
    openssl(['x509', '-req', '-in', 'client.csr', '-CA', path.join(clusterDir, 'ca.crt'), '-CAkey', caKey, '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '1', '-extfile', 'ext.cnf', '-out', 'client.crt']);
    return { cert: readFileSync(path.join(dir, 'client.crt'), 'utf8'), key };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Raw API calls as the target's client (setting up what the port does not offer: pods, status writes). */
export function rawApi(t: WorkloadTarget & { port: number }) {
  return (method: string, path: string, body?: unknown, contentType = 'application/json', headers: Record<string, string> = {}): Promise<{ status: number; json: any }> => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: t.ip,
          port: t.port,
          path,
          method,
          ca: t.ca,
          // No certificate when the caller authenticates otherwise (a bearer token in headers).
          ...(t.cert ? { cert: t.cert, key: t.key } : {}),
          servername: t.serverName,
          agent: false,
          timeout: 10_000,
          headers: { ...headers, ...(payload === undefined ? {} : { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) }) },
        },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  };
}
