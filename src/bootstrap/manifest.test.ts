// The release manifest: every version it pins has its digest kept in the project, and asset names follow
// the upstream rules cited in manifest.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RELEASES, nodeArtifacts, flannelCniFileVersion } from './manifest.ts';
import { CONTAINERD_SHA256, RUNC_SHA256, CNI_PLUGINS_SHA256, CRICTL_SHA256 } from './digests.ts';

test('every pinned containerd, runc, CNI plugins and crictl version has a SHA-256 kept in digests.ts', () => {
  for (const [minor, c] of Object.entries(RELEASES)) {
    assert.match(CONTAINERD_SHA256[c.containerd] ?? '', /^[0-9a-f]{64}$/, `${minor}: containerd ${c.containerd}`);
    assert.match(RUNC_SHA256[c.runc] ?? '', /^[0-9a-f]{64}$/, `${minor}: runc ${c.runc}`);
    assert.match(CNI_PLUGINS_SHA256[c.cniPlugins] ?? '', /^[0-9a-f]{64}$/, `${minor}: CNI plugins ${c.cniPlugins}`);
    assert.match(CRICTL_SHA256[c.crictl] ?? '', /^[0-9a-f]{64}$/, `${minor}: crictl ${c.crictl}`);
  }
});

test('no pinned runc or containerd has the known vulnerabilities of earlier pins', () => {
  // The first fixed release of each line: runc 1.2.8 / 1.3.3 (CVE-2025-31133, -52565, -52881), containerd
  // 2.0.7 / 2.1.5 / 2.2.0 (GHSA-pwhc-rpq9-4c8w, GHSA-m6hq-p25p-ffr2).
  const fixed: Record<string, number> = { 'runc 1.2': 8, 'runc 1.3': 3, 'containerd 2.0': 7, 'containerd 2.1': 5, 'containerd 2.2': 0 };
  for (const c of Object.values(RELEASES)) {
    for (const [what, v] of [['runc', c.runc], ['containerd', c.containerd]] as const) {
      const [major, minor, patch] = v.split('.');
      const first = fixed[`${what} ${major}.${minor}`];
      assert.ok(first !== undefined && Number(patch) >= first, `${what} ${v}`);
    }
  }
});

test('flannel CNI plugin file names: the whole tag before ff956db, the first six characters from v1.8.0-flannel2 on', () => {
  const table: [string, string][] = [
    ['1.6.2-flannel1', 'v1.6.2-flannel1'],
    ['1.7.1-flannel2', 'v1.7.1-flannel2'],
    ['1.8.0-flannel1', 'v1.8.0-flannel1'],
    ['1.8.0-flannel2', 'v1.8.0'],
    ['1.9.1-flannel1', 'v1.9.1'],
  ];
  for (const [tag, want] of table) assert.equal(flannelCniFileVersion(tag), want, tag);
  assert.throws(() => flannelCniFileVersion('1.10.0-flannel1'), /one-digit parts/);
});

test('only what a publisher publishes is fetched: flanneld by GitHub digest, no invented checksum file', () => {
  for (const role of ['control-plane', 'worker'] as const) {
    const list = nodeArtifacts('v1.35.1', role);
    const flanneld = list.find((a) => a.name === 'flanneld-amd64')!;
    assert.deepEqual(flanneld.verify, { kind: 'github-release', api: 'https://api.github.com/repos/flannel-io/flannel/releases/tags/v0.27.4', asset: 'flanneld-amd64' });
    assert.ok(list.every((a) => a.verify.kind !== 'published' || !a.verify.url.includes('flanneld')));
    assert.deepEqual(list.find((a) => a.name.startsWith('cni-plugin-flannel'))!.install, { kind: 'tar-member', member: 'flannel-amd64', to: '/opt/cni/bin/flannel' });
  }
});
