#!/usr/bin/env bash
# Installs everything a fresh Debian bookworm machine needs to build and test hardway, except npm packages:
# the Debian tools the tests use for real (cloud-init's schema check, systemd-analyze, openssl, Lua 5.1 for
# the Argo CD health checks, Go with sprig for Helm's template engine), etcd 3.5 from Debian unstable and a
# kube-apiserver built from Debian's source package (both cached by build-kube.sh), the root filesystem
# the test machines boot (systemd-nspawn, debootstrap; cached by build-rootfs.sh), and the cached chart
# renderer (test/env/helm-render).
# Idempotent: safe to run again; a machine that already has everything spends a few seconds here.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# `apt-get source kubernetes` needs a deb-src entry for the same archive the machine installs from.
src_list=/etc/apt/sources.list.d/hardway-deb-src.sources
if [ ! -f "$src_list" ]; then
  $SUDO tee "$src_list" >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
fi

$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  ca-certificates curl openssl jq rsync dpkg-dev golang-go make openssh-server \
  golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev \
  cloud-init systemd systemd-container debootstrap iproute2 util-linux kmod gcc libc6-dev \
  lua5.1 golang-github-masterminds-sprig-dev golang-gopkg-yaml.v2-dev golang-gopkg-yaml.v3-dev >/dev/null

bash "$here/build-kube.sh"
bash "$here/build-rootfs.sh"
bash "$here/build-helm-render.sh" >/dev/null
