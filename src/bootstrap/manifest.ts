// Which component versions each supported Kubernetes minor uses, and where each binary and its published
// SHA-256 come from. Nodes download from the official release URLs and refuse a binary whose digest does
// not match the published one (install.ts).

export interface ComponentVersions {
  containerd: string;
  runc: string;
  cniPlugins: string;
  flannel: string;
  flannelCniPlugin: string;
  crictl: string;
  coredns: string;
}

/**
 * Chosen per minor: containerd 2.x with the runc and CNI plugins of its time. Not yet exercised on droplets
 * (no test here reaches the internet); a wrong version fails loudly at install time, on the checksum fetch.
 */
export const RELEASES: Record<string, ComponentVersions> = {
  '1.32': { containerd: '2.0.5', runc: '1.2.6', cniPlugins: '1.6.2', flannel: '0.26.7', flannelCniPlugin: '1.6.2-flannel1', crictl: '1.32.0', coredns: '1.11.3' },
  '1.33': { containerd: '2.1.1', runc: '1.3.0', cniPlugins: '1.7.1', flannel: '0.26.7', flannelCniPlugin: '1.7.1-flannel1', crictl: '1.33.0', coredns: '1.12.0' },
  '1.34': { containerd: '2.1.4', runc: '1.3.0', cniPlugins: '1.7.1', flannel: '0.27.0', flannelCniPlugin: '1.7.1-flannel2', crictl: '1.34.0', coredns: '1.12.1' },
  '1.35': { containerd: '2.2.0', runc: '1.3.3', cniPlugins: '1.8.0', flannel: '0.27.4', flannelCniPlugin: '1.8.0-flannel1', crictl: '1.35.0', coredns: '1.13.1' },
};

export function componentsFor(kubernetesVersion: string): ComponentVersions {
  const minor = kubernetesVersion.replace(/^v/, '').split('.').slice(0, 2).join('.');
  const c = RELEASES[minor];
  if (!c) throw new Error(`no release manifest for Kubernetes ${kubernetesVersion}; supported: ${Object.keys(RELEASES).join(', ')}`);
  return c;
}

/**
 * One download. `sha256Url` is the publisher's checksum file: either the digest alone or sha256sum lines
 * (the entry for `name` is taken); install.ts reads both.
 */
export interface Artifact {
  name: string;
  url: string;
  sha256Url: string;
  /** What to do with it: install the file as a binary, or unpack a tarball (members into a directory). */
  install: { kind: 'binary'; to: string } | { kind: 'tar'; to: string; members?: string[]; strip?: number };
}

const GH = 'https://github.com';

export const kubernetesBinary = (version: string, bin: string): Artifact => ({
  name: bin,
  url: `https://dl.k8s.io/release/${version}/bin/linux/amd64/${bin}`,
  sha256Url: `https://dl.k8s.io/release/${version}/bin/linux/amd64/${bin}.sha256`,
  install: { kind: 'binary', to: `/usr/local/bin/${bin}` },
});

export const etcdArtifact = (version: string): Artifact => {
  const file = `etcd-v${version}-linux-amd64.tar.gz`;
  return {
    name: file,
    url: `${GH}/etcd-io/etcd/releases/download/v${version}/${file}`,
    sha256Url: `${GH}/etcd-io/etcd/releases/download/v${version}/SHA256SUMS`,
    install: { kind: 'tar', to: '/usr/local/bin', members: [`etcd-v${version}-linux-amd64/etcd`, `etcd-v${version}-linux-amd64/etcdctl`], strip: 1 },
  };
};

export function nodeArtifacts(kubernetesVersion: string, role: 'control-plane' | 'worker'): Artifact[] {
  const c = componentsFor(kubernetesVersion);
  const containerd = `containerd-${c.containerd}-linux-amd64.tar.gz`;
  const cni = `cni-plugins-linux-amd64-v${c.cniPlugins}.tgz`;
  const flannelCni = `cni-plugin-flannel-linux-amd64-v${c.flannelCniPlugin}.tgz`;
  const crictl = `crictl-v${c.crictl}-linux-amd64.tar.gz`;
  const list: Artifact[] = [
    { name: containerd, url: `${GH}/containerd/containerd/releases/download/v${c.containerd}/${containerd}`, sha256Url: `${GH}/containerd/containerd/releases/download/v${c.containerd}/${containerd}.sha256sum`, install: { kind: 'tar', to: '/usr/local' } },
    { name: 'runc.amd64', url: `${GH}/opencontainers/runc/releases/download/v${c.runc}/runc.amd64`, sha256Url: `${GH}/opencontainers/runc/releases/download/v${c.runc}/runc.sha256sum`, install: { kind: 'binary', to: '/usr/local/sbin/runc' } },
    { name: cni, url: `${GH}/containernetworking/plugins/releases/download/v${c.cniPlugins}/${cni}`, sha256Url: `${GH}/containernetworking/plugins/releases/download/v${c.cniPlugins}/${cni}.sha256`, install: { kind: 'tar', to: '/opt/cni/bin' } },
    { name: flannelCni, url: `${GH}/flannel-io/cni-plugin/releases/download/v${c.flannelCniPlugin}/${flannelCni}`, sha256Url: `${GH}/flannel-io/cni-plugin/releases/download/v${c.flannelCniPlugin}/${flannelCni}.sha256`, install: { kind: 'tar', to: '/opt/cni/bin', members: ['flannel-amd64'] } },
    { name: 'flanneld-amd64', url: `${GH}/flannel-io/flannel/releases/download/v${c.flannel}/flanneld-amd64`, sha256Url: `${GH}/flannel-io/flannel/releases/download/v${c.flannel}/flanneld-amd64.sha256`, install: { kind: 'binary', to: '/usr/local/bin/flanneld' } },
    { name: crictl, url: `${GH}/kubernetes-sigs/cri-tools/releases/download/v${c.crictl}/${crictl}`, sha256Url: `${GH}/kubernetes-sigs/cri-tools/releases/download/v${c.crictl}/${crictl}.sha256`, install: { kind: 'tar', to: '/usr/local/bin' } },
    kubernetesBinary(kubernetesVersion, 'kubelet'),
    kubernetesBinary(kubernetesVersion, 'kube-proxy'),
  ];
  if (role === 'control-plane') {
    for (const bin of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl']) list.push(kubernetesBinary(kubernetesVersion, bin));
  }
  return list;
}
