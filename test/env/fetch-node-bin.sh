#!/usr/bin/env bash
# Puts the container runtime the test machines run into the cache: Debian bookworm's containerd 1.6,
# runc and CNI plugins, extracted with dpkg -x (nothing is installed on this machine). kubelet v1.20 speaks
# CRI v1alpha2, which containerd 2.0 removed, so a machine runs containerd 1.6 where the operator deploys
# 2.x (test/helpers/node-binaries.ts translates its config, loudly). Reused when present.
set -euo pipefail

cache="${HARDWAY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hardway}"
dest="$cache/node-bin"
if [ -x "$dest/containerd/usr/bin/containerd" ] && [ -x "$dest/runc/usr/sbin/runc" ] && [ -x "$dest/cni/usr/lib/cni/bridge" ]; then
  echo "fetch-node-bin: cached in $dest"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download containerd runc containernetworking-plugins >/dev/null 2>&1) || {
  echo "fetch-node-bin: apt-get download containerd runc containernetworking-plugins failed (run test/env/setup.sh, which updates the package lists)" >&2
  exit 1
}
rm -rf "$dest.new" && mkdir -p "$dest.new"
dpkg -x "$work"/containerd_*.deb "$dest.new/containerd"
dpkg -x "$work"/runc_*.deb "$dest.new/runc"
dpkg -x "$work"/containernetworking-plugins_*.deb "$dest.new/cni"
rm -rf "$dest" && mv "$dest.new" "$dest"
echo "fetch-node-bin: $("$dest/containerd/usr/bin/containerd" --version), $("$dest/runc/usr/sbin/runc" --version | head -1) in $dest"
