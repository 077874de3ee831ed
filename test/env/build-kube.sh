#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy and kubectl from
# Debian bookworm's `kubernetes` source package (upstream v1.20.2) into a cache outside the repository: the
# test API server, and the binaries the test machines run. Reused when present: a second run is instant.
#
# Needs (installed by test/env/setup.sh): dpkg-dev, golang-go, rsync, jq,
# golang-github-modern-go-reflect2-dev, golang-github-json-iterator-go-dev, and a deb-src entry.
set -euo pipefail

# The other cached binaries the tests run: etcd 3.5, and the container runtime of the test machines
# (seconds each; reused when present).
bash "$(dirname "$0")/fetch-etcd.sh"
bash "$(dirname "$0")/fetch-node-bin.sh"

cache="${HARDWAY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hardway}"
bin="$cache/kubernetes/bin"
want=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

# The pause binary of the test machines' pod sandboxes, from the same source package: build/pause/linux/
# pause.c compiled with the CFLAGS of build/pause/Makefile at v1.20.2 (-Os -Wall -Werror -static, TAG 3.4).
if [ ! -x "$bin/pause" ]; then
  p=$(mktemp -d)
  (cd "$p" && apt-get source --download-only kubernetes >/dev/null 2>&1 && tar -xzf kubernetes_*.orig.tar.gz --wildcards '*/build/pause/linux/pause.c')
  mkdir -p "$bin"
  gcc -Os -Wall -Werror -static -DVERSION=v3.4-hardway -o "$bin/pause.tmp" "$p"/*/build/pause/linux/pause.c && mv "$bin/pause.tmp" "$bin/pause"
  rm -rf "$p"
  echo "build-kube: pause built into $bin"
fi

have_all() { for b in "${want[@]}"; do [ -x "$bin/$b" ] || return 1; done; }
if have_all; then
  echo "build-kube: cached binaries in $bin"
  exit 0
fi

work="$cache/kubernetes/src"
rm -rf "$work" && mkdir -p "$work" "$bin"
cd "$work"
echo "build-kube: fetching the kubernetes source package"
apt-get source --download-only kubernetes >/dev/null
dpkg-source --no-check -x ./kubernetes_*.dsc tree >/dev/null
cd tree

# The vendored reflect2 1.0.1 crashes under Go >= 1.18 when encoding maps (upstream moved to 1.0.2);
# Debian ships the fixed reflect2 and a matching json-iterator. Same import paths, newer code.
for mod in github.com/modern-go/reflect2 github.com/json-iterator/go; do
  rsync -a --delete --exclude '*_test.go' --exclude '.git*' "/usr/share/gocode/src/$mod/" "vendor/$mod/"
done

echo "build-kube: compiling (several minutes on 2 cores)"
export GOFLAGS=-mod=vendor GO111MODULE=on KUBE_GIT_VERSION=v1.20.2 KUBE_GIT_TREE_STATE=clean
make WHAT="${want[*]/#/cmd/}" >build.log 2>&1 || {
  tail -n 40 build.log >&2
  exit 1
}
for b in "${want[@]}"; do cp "_output/local/bin/linux/$(go env GOARCH)/$b" "$bin/$b.tmp" && mv "$bin/$b.tmp" "$bin/$b"; done
cd / && rm -rf "$work"
echo "build-kube: built into $bin"
