#!/usr/bin/env bash
# Puts the container runtime the test machines run into the cache: Debian bookworm's containerd 1.6,
# runc and CNI plugins, extracted with dpkg -x (nothing is installed on this machine). kubelet v1.20 speaks
# CRI v1alpha2, which containerd 2.0 removed, so a machine runs containerd 1.6 where the operator deploys
# 2.x (test/helpers/node-binaries.ts translates its config, loudly). Beside them, Debian unstable's
# containerd 2.x (through a private apt configuration, as fetch-etcd.sh does: the machine's own sources are
# not touched), which checks the config the operator renders (test/integration/containerd-config.test.ts).
# Reused when present.
set -euo pipefail

cache="${HARDWAY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hardway}"
dest="$cache/node-bin"
if [ -x "$dest/containerd/usr/bin/containerd" ] && [ -x "$dest/runc/usr/sbin/runc" ] && [ -x "$dest/cni/usr/lib/cni/bridge" ] && [ -x "$dest/containerd2/usr/bin/containerd" ]; then
  echo "fetch-node-bin: cached in $dest"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download containerd runc containernetworking-plugins >/dev/null 2>&1) || {
  echo "fetch-node-bin: apt-get download containerd runc containernetworking-plugins failed (run test/env/setup.sh, which updates the package lists)" >&2
  exit 1
}
echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian unstable main' >"$work/sources.list"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/unstable"
apt=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
echo "fetch-node-bin: reading Debian unstable's package list (private apt configuration) for containerd 2.x"
apt-get "${apt[@]}" update -qq >/dev/null
version=$(apt-cache "${apt[@]}" madison containerd | awk '$3 ~ /^2\./ {print $3; exit}')
if [ -z "$version" ]; then
  echo "fetch-node-bin: Debian unstable has no containerd 2.x (it has: $(apt-cache "${apt[@]}" madison containerd | awk '{print $3}'))" >&2
  exit 1
fi
(cd "$work/unstable" && apt-get "${apt[@]}" download "containerd=$version" >/dev/null 2>&1)
rm -rf "$dest.new" && mkdir -p "$dest.new"
dpkg -x "$work"/unstable/containerd_*.deb "$dest.new/containerd2"
dpkg -x "$work"/containerd_*.deb "$dest.new/containerd"
dpkg -x "$work"/runc_*.deb "$dest.new/runc"
dpkg -x "$work"/containernetworking-plugins_*.deb "$dest.new/cni"
rm -rf "$dest" && mv "$dest.new" "$dest"
echo "fetch-node-bin: $("$dest/containerd/usr/bin/containerd" --version), $("$dest/containerd2/usr/bin/containerd" --version), $("$dest/runc/usr/sbin/runc" --version | head -1) in $dest"
