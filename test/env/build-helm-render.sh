#!/usr/bin/env bash
# Builds test/env/helm-render (Go text/template + sprig, Helm's template engine) into a cache outside the
# repository, keyed by the hash of its source: a second run is instant, a changed source rebuilds. Offline:
# GOPATH mode against Debian's Go packages in /usr/share/gocode (sprig, yaml.v2, yaml.v3 and their
# dependencies), never the module proxy. Prints the binary's path as its last line.
#
# Needs (installed by test/env/setup.sh): golang-go, golang-github-masterminds-sprig-dev,
# golang-gopkg-yaml.v2-dev, golang-gopkg-yaml.v3-dev.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/helm-render"
cache="${HARDWAY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hardway}"
hash="$(cat "$src"/*.go | sha256sum | cut -c1-16)"
bin="$cache/helm-render/$hash/helm-render"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$(dirname "$bin")"
echo "build-helm-render: compiling $src" >&2
# GOPATH mode resolves github.com/Masterminds/sprig/v3 to Debian's sprig through Go's minimal module
# compatibility (its go.mod declares the /v3 path), which applies to code inside a GOPATH: the source is
# copied into a private one that comes before Debian's.
gopath="$(mktemp -d)"
trap 'rm -rf "$gopath"' EXIT
mkdir -p "$gopath/src/hardway.dev/helm-render"
cp "$src"/*.go "$gopath/src/hardway.dev/helm-render/"
printf "module hardway.dev/helm-render\n" >"$gopath/src/hardway.dev/helm-render/go.mod"
(cd "$gopath/src/hardway.dev/helm-render" && env GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOFLAGS= GOPROXY=off CGO_ENABLED=0 \
  go build -o "$bin.tmp" .) >&2
mv "$bin.tmp" "$bin"
echo "build-helm-render: built $bin" >&2
echo "$bin"
