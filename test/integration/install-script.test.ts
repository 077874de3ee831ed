// The rendered install script, run for real with bash, curl, tar and python3 against a loopback release
// server laid out as each upstream publishes (test/helpers/release-server.ts): for every supported minor a
// control-plane and a worker node install every artifact the manifest lists, and nothing is installed when
// any check fails. The artifacts' URLs point at the loopback server and their install paths into a
// temporary root; pinned digests are the fixture's own, since its files are stand-ins for the real ones.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, statSync, rmSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { renderInstallScript } from '../../src/bootstrap/install.ts';
import { RELEASES, nodeArtifacts, etcdArtifact, type Artifact } from '../../src/bootstrap/manifest.ts';
import { startReleaseServer, type ReleaseServer } from '../helpers/release-server.ts';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'hardway-install-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// A systemctl stand-in on PATH that records its calls (no systemd here; issue #14 boots real machines).
mkdirSync(path.join(dir, 'bin'));
writeFileSync(path.join(dir, 'bin/systemctl'), `#!/bin/sh\necho "$@" >> "$SYSTEMCTL_LOG"\n`);
chmodSync(path.join(dir, 'bin/systemctl'), 0o755);

/** The artifact as the node would fetch it, but from the loopback server and into `root`. */
function local(a: Artifact, s: ReleaseServer, root: string): Artifact {
  const url = (u: string) => u.replace(/^https:\/\//, `${s.base}/`);
  const v = a.verify;
  const verify: Artifact['verify'] =
    v.kind === 'pinned' ? { kind: 'pinned', sha256: s.digests.get(a.name) ?? `no fixture digest for ${a.name}` } : v.kind === 'published' ? { ...v, url: url(v.url) } : { ...v, api: url(v.api) };
  return { ...a, url: url(a.url), verify, install: { ...a.install, to: `${root}${a.install.to}` } };
}

async function runScript(artifacts: Artifact[], root: string) {
  mkdirSync(root, { recursive: true });
  const script = path.join(root, 'install.sh');
  writeFileSync(script, renderInstallScript({ artifacts, prepare: [], units: ['a.service', 'b.service'] }));
  return run('bash', [script], { env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}`, SYSTEMCTL_LOG: `${root}/systemctl.log` } })
    .then((r) => ({ code: 0, stderr: r.stderr }))
    .catch((e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }));
}

const installed = (root: string, p: string) => existsSync(`${root}${p}`) && (statSync(`${root}${p}`).mode & 0o111) !== 0;

for (const [minor, components] of Object.entries(RELEASES)) {
  test(`Kubernetes ${minor}: control-plane and worker nodes install every artifact from releases laid out as upstream publishes them`, async () => {
    const version = `v${minor}.2`;
    const s = await startReleaseServer({ components, kubernetes: [version], etcd: [] });
    try {
      for (const role of ['control-plane', 'worker'] as const) {
        const root = path.join(dir, `${minor}-${role}`);
        const r = await runScript(nodeArtifacts(version, role).map((a) => local(a, s, root)), root);
        assert.equal(r.code, 0, r.stderr);
        const bins = [
          '/usr/local/bin/containerd',
          '/usr/local/bin/containerd-shim-runc-v2',
          '/usr/local/bin/ctr',
          '/usr/local/sbin/runc',
          '/opt/cni/bin/bridge',
          '/opt/cni/bin/host-local',
          '/opt/cni/bin/loopback',
          '/opt/cni/bin/portmap',
          // The conflist asks for type "flannel": the tarball's flannel-amd64 must land under that name.
          '/opt/cni/bin/flannel',
          '/usr/local/bin/flanneld',
          '/usr/local/bin/crictl',
          '/usr/local/bin/kubelet',
          '/usr/local/bin/kube-proxy',
          ...(role === 'control-plane' ? ['/usr/local/bin/kube-apiserver', '/usr/local/bin/kube-controller-manager', '/usr/local/bin/kube-scheduler', '/usr/local/bin/kubectl'] : []),
        ];
        assert.deepEqual(bins.filter((b) => !installed(root, b)), [], `${role}: every binary installed and executable`);
        assert.equal(readFileSync(`${root}/usr/local/bin/flanneld`, 'utf8'), '#!/bin/sh\necho flanneld\n');
        assert.equal(readFileSync(`${root}/systemctl.log`, 'utf8'), 'daemon-reload\nenable a.service b.service\nstart --no-block a.service b.service\nis-active --quiet a.service\nis-active --quiet a.service\nis-active --quiet b.service\nis-active --quiet b.service\n');
      }
      assert.deepEqual(
        s.requests.filter((u) => !s.files.has(u)),
        [],
        'no request for a file the upstream does not publish',
      );
    } finally {
      await s.stop();
    }
  });
}

test('an etcd node installs etcd, etcdctl and etcdutl (snapshot restore) from the release tarball checked against SHA256SUMS, and nothing else of it', async () => {
  const s = await startReleaseServer({ components: RELEASES['1.34']!, kubernetes: [], etcd: ['3.5.21'] });
  try {
    const root = path.join(dir, 'etcd');
    const r = await runScript([local(etcdArtifact('3.5.21'), s, root)], root);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(installed(root, '/usr/local/bin/etcd') && installed(root, '/usr/local/bin/etcdctl') && installed(root, '/usr/local/bin/etcdutl'));
    assert.equal(existsSync(`${root}/usr/local/bin/README.md`), false, 'only the members asked for');
  } finally {
    await s.stop();
  }
});

test('any artifact failing its check stops the script before anything is installed or started', async () => {
  const s = await startReleaseServer({ components: RELEASES['1.35']!, kubernetes: ['v1.35.0'], etcd: [] });
  try {
    const artifacts = (root: string) => nodeArtifacts('v1.35.0', 'worker').map((a) => local(a, s, root));
    const cases: [string, (list: Artifact[]) => Artifact[], RegExp][] = [
      ['a pinned digest that does not match (a tampered runc)', (l) => l.map((a) => (a.name === 'runc.amd64' ? { ...a, verify: { kind: 'pinned', sha256: 'f'.repeat(64) } } : a)), /runc\.amd64 does not match its SHA-256/],
      ['a published checksum file with no line for the file', (l) => l.map((a) => (a.name === 'kubelet' ? { ...a, verify: { kind: 'published', url: `${s.base}/github.com/containerd/containerd/releases/download/v2.2.0/containerd-2.2.0-linux-amd64.tar.gz.sha256sum` } } : a)), /kubelet does not match its SHA-256 \(want '',/],
      ['a GitHub release with no digest for the asset', (l) => l.map((a) => (a.verify.kind === 'github-release' ? { ...a, verify: { ...a.verify, asset: 'flanneld-s390x' } } : a)), /flanneld-amd64 does not match its SHA-256 \(want '',/],
      ['a checksum file the publisher does not publish', (l) => l.map((a) => (a.name === 'flanneld-amd64' ? { ...a, verify: { kind: 'published', url: `${a.url}.sha256` } } : a)), /404/],
    ];
    for (const [what, change, error] of cases) {
      const root = path.join(dir, `refused-${cases.findIndex((c) => c[0] === what)}`);
      const r = await runScript(change(artifacts(root)), root);
      assert.notEqual(r.code, 0, what);
      assert.match(r.stderr, error, what);
      assert.equal(existsSync(`${root}/usr/local`) || existsSync(`${root}/opt`), false, `${what}: nothing installed`);
      assert.equal(existsSync(`${root}/systemctl.log`), false, `${what}: no unit started`);
    }
  } finally {
    await s.stop();
  }
});
