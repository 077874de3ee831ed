// Certificate signing requests as a kubelet makes them (ECDSA P-256 key), written by openssl.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateKey } from '../../src/pki/x509.ts';

/** A PEM CSR for `subject` ("/O=…/CN=…") with an optional subjectAltName ("DNS:a,IP:1.2.3.4"). */
export function opensslCsr(subject: string, san?: string, keyPem = generateKey().privateKeyPem): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'hardway-csr-'));
  try {
    writeFileSync(path.join(dir, 'k.pem'), keyPem, { mode: 0o600 });
    return execFileSync('openssl', ['req', '-new', '-key', path.join(dir, 'k.pem'), '-subj', subject, ...(san ? ['-addext', `subjectAltName=${san}`] : [])], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
