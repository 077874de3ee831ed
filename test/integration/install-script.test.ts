// The rendered install script, run for real with bash and curl against a loopback "release server":
// it installs what matches the published SHA-256 (either checksum-file format) and refuses what does not.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, statSync, rmSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { renderInstallScript } from '../../src/bootstrap/install.ts';
import type { Artifact } from '../../src/bootstrap/manifest.ts';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'hardway-install-'));
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const files: Record<string, string> = {};
let server: Server;
let base = '';

before(async () => {
  server = createServer((req, res) => {
    const body = files[req.url ?? ''];
    res.writeHead(body === undefined ? 404 : 200).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  // A systemctl stand-in on PATH that records its calls (no systemd in a test container).
  mkdirSync(path.join(dir, 'bin'));
  writeFileSync(path.join(dir, 'bin/systemctl'), `#!/bin/sh\necho "$@" >> ${dir}/systemctl.log\n`);
  chmodSync(path.join(dir, 'bin/systemctl'), 0o755);
});
after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

function artifact(name: string, sumsName: string, to: string): Artifact {
  return { name, url: `${base}/${name}`, sha256Url: `${base}/${sumsName}`, install: { kind: 'binary', to } };
}

async function runScript(artifacts: Artifact[]) {
  const script = path.join(dir, `install-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(script, renderInstallScript({ artifacts, prepare: [], units: ['a.service', 'b.service'] }));
  chmodSync(script, 0o755);
  return run('bash', [script], { env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` } })
    .then((r) => ({ code: 0, stderr: r.stderr }))
    .catch((e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }));
}

test('binaries whose digest matches the published one are installed, then units enabled', async () => {
  files['/kubelet'] = '#!/bin/sh\necho kubelet\n';
  files['/kubelet.sha256'] = `${sha(files['/kubelet'])}\n`; // dl.k8s.io style: the digest alone
  files['/runc.amd64'] = 'runc binary';
  files['/runc.sha256sum'] = `${'0'.repeat(64)}  runc.arm64\n${sha(files['/runc.amd64'])}  runc.amd64\n`; // sha256sum lines
  const r = await runScript([artifact('kubelet', 'kubelet.sha256', `${dir}/kubelet`), artifact('runc.amd64', 'runc.sha256sum', `${dir}/runc`)]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(`${dir}/kubelet`, 'utf8'), files['/kubelet']);
  assert.equal(statSync(`${dir}/kubelet`).mode & 0o777, 0o755);
  assert.equal(readFileSync(`${dir}/runc`, 'utf8'), 'runc binary');
  assert.equal(readFileSync(`${dir}/systemctl.log`, 'utf8'), 'daemon-reload\nenable --now a.service b.service\n');
});

test('a binary that does not match its published digest is refused and nothing is installed or started', async () => {
  rmSync(`${dir}/systemctl.log`, { force: true });
  files['/etcd.tar.gz'] = 'tampered';
  files['/SHA256SUMS'] = `${sha('the real one')}  etcd.tar.gz\n`;
  const r = await runScript([artifact('etcd.tar.gz', 'SHA256SUMS', `${dir}/etcd`)]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /etcd\.tar\.gz does not match its published SHA-256/);
  assert.equal(existsSync(`${dir}/etcd`), false);
  assert.equal(existsSync(`${dir}/systemctl.log`), false, 'no unit was started');
});

test('a checksum file without an entry for the binary is a refusal, not a pass', async () => {
  files['/crictl.tgz'] = 'crictl';
  files['/other.sums'] = `${sha('crictl')}  something-else.tgz\nabc  more\n`;
  const r = await runScript([artifact('crictl.tgz', 'other.sums', `${dir}/crictl`)]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /want '',/);
});
