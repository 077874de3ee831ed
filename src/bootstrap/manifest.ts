// Which component versions each supported Kubernetes minor uses, where each artifact comes from, and how
// a node checks it before installing (install.ts). Three ways, by what the publisher offers:
// - pinned: the digest is kept in the project (digests.ts), for the versions this file pins;
// - published: the checksum file the publisher puts beside the artifact, for versions the user chooses
//   (Kubernetes and etcd patch releases) and for the flannel CNI plugin tarball (see below);
// - github-release: the SHA-256 GitHub computed when the asset was uploaded, read from the Releases API,
//   for flanneld, which its publisher ships with no checksum at all.
import { CONTAINERD_SHA256, RUNC_SHA256, CNI_PLUGINS_SHA256, CRICTL_SHA256 } from './digests.ts';

export interface ComponentVersions {
  containerd: string;
  runc: string;
  cniPlugins: string;
  flannel: string;
  /** The flannel-io/cni-plugin release tag without its "v" (e.g. 1.8.0-flannel1). */
  flannelCniPlugin: string;
  crictl: string;
  coredns: string;
}

/**
 * Chosen per minor: containerd 2.x with the runc and CNI plugins of its time, each at a release without
 * the known vulnerabilities of earlier pins (runc 1.2.8 / 1.3.3 fix CVE-2025-31133, -52565, -52881;
 * containerd 2.0.7 / 2.1.5 / 2.2.0 fix GHSA-pwhc-rpq9-4c8w and GHSA-m6hq-p25p-ffr2). flannel 0.27.4
 * everywhere: its flanneld-amd64 was uploaded after GitHub began computing asset digests (June 2025;
 * github/roadmap#1136), which is how nodes verify it. Every pin must have its digest in digests.ts (tested).
 */
export const RELEASES: Record<string, ComponentVersions> = {
  '1.32': { containerd: '2.0.7', runc: '1.2.8', cniPlugins: '1.6.2', flannel: '0.27.4', flannelCniPlugin: '1.6.2-flannel1', crictl: '1.32.0', coredns: '1.11.3' },
  '1.33': { containerd: '2.1.5', runc: '1.3.3', cniPlugins: '1.7.1', flannel: '0.27.4', flannelCniPlugin: '1.7.1-flannel1', crictl: '1.33.0', coredns: '1.12.0' },
  '1.34': { containerd: '2.1.5', runc: '1.3.3', cniPlugins: '1.7.1', flannel: '0.27.4', flannelCniPlugin: '1.7.1-flannel2', crictl: '1.34.0', coredns: '1.12.1' },
  '1.35': { containerd: '2.2.0', runc: '1.3.3', cniPlugins: '1.8.0', flannel: '0.27.4', flannelCniPlugin: '1.8.0-flannel1', crictl: '1.35.0', coredns: '1.13.1' },
};

export function componentsFor(kubernetesVersion: string): ComponentVersions {
  const minor = kubernetesVersion.replace(/^v/, '').split('.').slice(0, 2).join('.');
  const c = RELEASES[minor];
  if (!c) throw new Error(`no release manifest for Kubernetes ${kubernetesVersion}; supported: ${Object.keys(RELEASES).join(', ')}`);
  return c;
}

/** How a node checks one download before installing it. */
export type Verification =
  | { kind: 'pinned'; sha256: string }
  /** The publisher's checksum file: the digest alone, or sha256sum lines (the one naming the artifact counts). */
  | { kind: 'published'; url: string }
  /** GitHub's digest of a release asset: `assets[].digest` ("sha256:<hex>") of the Releases API's release-by-tag answer. */
  | { kind: 'github-release'; api: string; asset: string };

/** One download and how to install it. */
export interface Artifact {
  name: string;
  url: string;
  verify: Verification;
  /**
   * Install the file as a binary; unpack a tarball into a directory (optionally only some members,
   * stripping leading directories); or take one member of a tarball and install it under another name.
   */
  install:
    | { kind: 'binary'; to: string }
    | { kind: 'tar'; to: string; members?: string[]; strip?: number }
    | { kind: 'tar-member'; member: string; to: string };
}

const GH = 'https://github.com';
const GH_API = 'https://api.github.com';

function pinned(table: Record<string, string>, what: string, version: string): Verification {
  const sha256 = table[version];
  if (!sha256) throw new Error(`no SHA-256 kept for ${what} ${version} (src/bootstrap/digests.ts); add it with its source before pinning this version`);
  return { kind: 'pinned', sha256 };
}

// dl.k8s.io writes <file>.sha256 beside every file, holding the digest alone (kubernetes/release
// pkg/release/release.go WriteChecksums at f618b2a3; the kubectl install docs check it the same way).
export const kubernetesBinary = (version: string, bin: string): Artifact => ({
  name: bin,
  url: `https://dl.k8s.io/release/${version}/bin/linux/amd64/${bin}`,
  verify: { kind: 'published', url: `https://dl.k8s.io/release/${version}/bin/linux/amd64/${bin}.sha256` },
  install: { kind: 'binary', to: `/usr/local/bin/${bin}` },
});

// etcd publishes SHA256SUMS with "<hex>  etcd-v<v>-linux-amd64.tar.gz" lines; the tarball's members sit
// under etcd-v<v>-linux-amd64/ (etcd-io/etcd scripts/release.sh and scripts/build-binary at v3.5.21).
// etcdutl (snapshot restore) is in the tarball beside etcd and etcdctl: etcd-io/etcd v3.5.21
// scripts/build-binary, package(): `for bin in etcd etcdctl etcdutl`.
export const etcdArtifact = (version: string): Artifact => {
  const file = `etcd-v${version}-linux-amd64.tar.gz`;
  return {
    name: file,
    url: `${GH}/etcd-io/etcd/releases/download/v${version}/${file}`,
    verify: { kind: 'published', url: `${GH}/etcd-io/etcd/releases/download/v${version}/SHA256SUMS` },
    install: { kind: 'tar', to: '/usr/local/bin', members: [`etcd-v${version}-linux-amd64/etcd`, `etcd-v${version}-linux-amd64/etcdctl`, `etcd-v${version}-linux-amd64/etcdutl`], strip: 1 },
  };
};

/**
 * The flannel CNI plugin tarball's file version. flannel-io/cni-plugin scripts/version.sh used the whole
 * tag up to v1.8.0-flannel1; from commit ff956db (first in v1.8.0-flannel2) it is the tag's first six
 * characters, so v1.8.0-flannel2 publishes cni-plugin-flannel-linux-amd64-v1.8.0.tgz. (Six characters
 * are "v<x.y.z>" only while every part has one digit: pinning a 1.10 release needs a look at its assets.)
 */
export function flannelCniFileVersion(tag: string): string {
  const m = /^(\d)\.(\d)\.(\d)-flannel(\d+)$/.exec(tag);
  if (!m) throw new Error(`flannel CNI plugin tag ${tag} is not <x.y.z>-flannel<n> with one-digit parts`);
  const [major, minor, patch, n] = m.slice(1).map(Number) as [number, number, number, number];
  const order = [major - 1, minor - 8, patch, n - 2].find((x) => x !== 0) ?? 0;
  return order < 0 ? `v${tag}` : `v${major}.${minor}.${patch}`;
}

/** The digests pinned artifacts are checked against, by component and version. */
export interface PinnedDigests {
  containerd: Record<string, string>;
  runc: Record<string, string>;
  cniPlugins: Record<string, string>;
  crictl: Record<string, string>;
}

/** The upstream artifacts' digests (digests.ts). */
export const PINNED: PinnedDigests = { containerd: CONTAINERD_SHA256, runc: RUNC_SHA256, cniPlugins: CNI_PLUGINS_SHA256, crictl: CRICTL_SHA256 };

/**
 * What a node downloads. `pins` are the digests of the upstream files; the test machines, whose release
 * server serves stand-ins under the same names, pass the stand-ins' digests instead.
 */
export function nodeArtifacts(kubernetesVersion: string, role: 'control-plane' | 'worker', pins: PinnedDigests = PINNED): Artifact[] {
  const c = componentsFor(kubernetesVersion);
  const containerd = `containerd-${c.containerd}-linux-amd64.tar.gz`;
  const cni = `cni-plugins-linux-amd64-v${c.cniPlugins}.tgz`;
  const flannelCni = `cni-plugin-flannel-linux-amd64-${flannelCniFileVersion(c.flannelCniPlugin)}.tgz`;
  const crictl = `crictl-v${c.crictl}-linux-amd64.tar.gz`;
  const list: Artifact[] = [
    // Members bin/containerd, bin/ctr, bin/containerd-shim-runc-v2, … (containerd Makefile pack_release at v2.1.5).
    { name: containerd, url: `${GH}/containerd/containerd/releases/download/v${c.containerd}/${containerd}`, verify: pinned(pins.containerd, 'containerd', c.containerd), install: { kind: 'tar', to: '/usr/local' } },
    { name: 'runc.amd64', url: `${GH}/opencontainers/runc/releases/download/v${c.runc}/runc.amd64`, verify: pinned(pins.runc, 'runc', c.runc), install: { kind: 'binary', to: '/usr/local/sbin/runc' } },
    // Members ./bridge, ./host-local, ./portmap, … (containernetworking/plugins .github/workflows/release.yaml at v1.8.0).
    { name: cni, url: `${GH}/containernetworking/plugins/releases/download/v${c.cniPlugins}/${cni}`, verify: pinned(pins.cniPlugins, 'CNI plugins', c.cniPlugins), install: { kind: 'tar', to: '/opt/cni/bin' } },
    // The only member is flannel-amd64 (flannel-io/cni-plugin scripts/package.sh); the conflist asks for
    // type "flannel", so it is installed under that name. Its publisher writes <file>.sha256 beside it and no
    // digest of it is kept by kubespray or kops, so the published one is used (docs/bootstrap.md, residual risk).
    { name: flannelCni, url: `${GH}/flannel-io/cni-plugin/releases/download/v${c.flannelCniPlugin}/${flannelCni}`, verify: { kind: 'published', url: `${GH}/flannel-io/cni-plugin/releases/download/v${c.flannelCniPlugin}/${flannelCni}.sha256` }, install: { kind: 'tar-member', member: 'flannel-amd64', to: '/opt/cni/bin/flannel' } },
    // flannel publishes no checksum (flannel-io/flannel .github/workflows/release.yml and Makefile at
    // v0.27.4 upload dist/flannel* only): GitHub's own digest of the asset is the check.
    { name: 'flanneld-amd64', url: `${GH}/flannel-io/flannel/releases/download/v${c.flannel}/flanneld-amd64`, verify: { kind: 'github-release', api: `${GH_API}/repos/flannel-io/flannel/releases/tags/v${c.flannel}`, asset: 'flanneld-amd64' }, install: { kind: 'binary', to: '/usr/local/bin/flanneld' } },
    // The only member is crictl (kubernetes-sigs/cri-tools hack/release.sh at v1.34.0).
    { name: crictl, url: `${GH}/kubernetes-sigs/cri-tools/releases/download/v${c.crictl}/${crictl}`, verify: pinned(pins.crictl, 'crictl', c.crictl), install: { kind: 'tar', to: '/usr/local/bin' } },
    kubernetesBinary(kubernetesVersion, 'kubelet'),
    kubernetesBinary(kubernetesVersion, 'kube-proxy'),
  ];
  if (role === 'control-plane') {
    for (const bin of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl']) list.push(kubernetesBinary(kubernetesVersion, bin));
  }
  return list;
}
