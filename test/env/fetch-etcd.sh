#!/usr/bin/env bash
# Puts etcd 3.5 (Debian unstable's etcd-server, a Go binary that runs on bookworm) into the cache beside the
# kube-apiserver, through a private apt configuration: the machine's own sources, lists and package cache
# are never touched. The operator deploys etcd 3.5 and 3.6; bookworm's own etcd is 3.4. Reused when present.
set -euo pipefail

cache="${HARDWAY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hardway}"
dest="$cache/etcd/bin"
# etcdutl (snapshot restore) comes in the same package (etcd-server 3.5.30-2 ships /usr/bin/etcd and
# /usr/bin/etcdutl; etcd-client only etcdctl, taken too for the test machines' etcd release tarball).
# (The version is read whole before matching: `etcd --version | grep -q` under pipefail fails at random
# when grep exits before etcd has written every line.)
have=$("$dest/etcd" --version 2>/dev/null || true)
if [ -x "$dest/etcdutl" ] && [ -x "$dest/etcdctl" ] && [[ "$have" == "etcd Version: 3.5."* ]]; then
  echo "fetch-etcd: cached $("$dest/etcd" --version | head -1) in $dest"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian unstable main' >"$work/sources.list"
apt=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1)
echo "fetch-etcd: reading Debian unstable's package list (private apt configuration)"
apt-get "${apt[@]}" update -qq >/dev/null
# The tests were written against 3.5.30 (../shared/design/REAL-NODES.md). Unstable keeps only its current
# version, so whatever 3.5 release it has now is taken, and anything else is refused loudly.
versions=$(apt-cache "${apt[@]}" madison etcd-server | awk '{print $3}')
version=$(echo "$versions" | grep -E '^3\.5\.' | sort -V | tail -n 1 || true)
if [ -z "$version" ]; then
  echo "fetch-etcd: Debian unstable has no etcd-server 3.5.x (it has: $(echo $versions)); the tests need etcd 3.5" >&2
  exit 1
fi
(cd "$work" && apt-get "${apt[@]}" download "etcd-server=$version" "etcd-client=$version" >/dev/null 2>&1)
dpkg -x "$work"/etcd-server_*.deb "$work/x"
dpkg -x "$work"/etcd-client_*.deb "$work/x"
mkdir -p "$dest"
install -m 0755 "$work/x/usr/bin/etcdctl" "$dest/etcdctl.tmp" && mv "$dest/etcdctl.tmp" "$dest/etcdctl"
install -m 0755 "$work/x/usr/bin/etcdutl" "$dest/etcdutl.tmp" && mv "$dest/etcdutl.tmp" "$dest/etcdutl"
install -m 0755 "$work/x/usr/bin/etcd" "$dest/etcd.tmp" && mv "$dest/etcd.tmp" "$dest/etcd"
echo "fetch-etcd: $("$dest/etcd" --version | head -1) in $dest"
