// SHA-256 digests of the linux/amd64 artifacts the release manifest pins, kept in the project (as
// kubespray's checksums.yml and kops' pkg/assets/assetdata do) so that a node never trusts a checksum
// fetched from the same place as the file. Each table names where its digests were taken from; a version
// without an entry here cannot be pinned in manifest.ts (a test checks every pin has its digest).
//
// Source K: kubernetes-sigs/kubespray roles/kubespray_defaults/vars/main/checksums.yml at
//   46dbdd3994b32640bcd806b0097f50e8fdf1d514 (crictl 1.32.0: at 57364f4085c7e68955c58208015b267bba5fcdd2,
//   the last commit that still listed it). kops pkg/assets/assetdata at
//   268927e26409f861634e18f3632c9dd483c350cf lists the same digests for every containerd, runc and CNI
//   version below (kops generates them from the upstream checksum files).
// flannel has no entry: no upstream, kubespray or kops file publishes a digest of flanneld (see
// manifest.ts for how it is verified instead).

/** containerd-<v>-linux-amd64.tar.gz (not the -static- tarball, whose digests differ). Source K, containerd_archive_checksums. */
export const CONTAINERD_SHA256: Record<string, string> = {
  '2.0.7': '6dc663cd245d19c3e68260ca86247469563a31decac925087b62a2a819dfcbee',
  '2.1.5': '403af72d9f956ed8a5ad5b0ac0f1e8e371a1488f2b9edf9b4ba13db0653936ea',
  '2.2.0': 'b9626a94ab93b00bcbcbf13d98deef972c6fb064690e57940632df54ad39ee71',
};

/** runc.amd64. Source K, runc_checksums. */
export const RUNC_SHA256: Record<string, string> = {
  '1.2.8': '09d2b25f31d3a819c97854c223ff9b36be7fdb0ce57fec709af499e1e19e8e89',
  '1.3.3': '8781ab9f71c12f314d21c8e85f13ca1a82d90cf475aa5131a7b543fcc5487543',
};

/** cni-plugins-linux-amd64-v<v>.tgz. Source K, cni_binary_checksums. */
export const CNI_PLUGINS_SHA256: Record<string, string> = {
  '1.6.2': 'b8e811578fb66023f90d2e238d80cec3bdfca4b44049af74c374d4fae0f9c090',
  '1.7.1': '1a28a0506bfe5bcdc981caf1a49eeab7e72da8321f1119b7be85f22621013098',
  '1.8.0': 'ab3bda535f9d90766cccc90d3dddb5482003dd744d7f22bcf98186bf8eea8be6',
};

/** crictl-v<v>-linux-amd64.tar.gz. Source K, crictl_checksums (kops has no crictl this new). */
export const CRICTL_SHA256: Record<string, string> = {
  '1.32.0': 'f050b71d3a73a91a4e0990b90143ed04dcd100cc66f953736fcb6a2730e283c4',
  '1.33.0': '8307399e714626e69d1213a4cd18c8dec3d0201ecdac009b1802115df8973f0f',
  '1.34.0': 'a8ff2a3edb37a98daf3aba7c3b284fe0aa5bff24166d896ab9ef64c8913c9f51',
  '1.35.0': '2e141e5b22cb189c40365a11807d69b76b9b3caced89fac2f4ec879408ce2177',
};
