#!/usr/bin/env bash
# Builds the root filesystem every test "droplet" boots from (test/helpers/machine.ts): Debian trixie
# (systemd 257, cloud-init 25.1; the closest Debian to the Ubuntu 24.04 that droplets run) made by
# debootstrap into a cache outside the repository, with the few settings a machine under systemd-nspawn
# needs (../shared/design/REAL-NODES.md, each measured on this kind of machine). Reused while this script
# is unchanged; a changed script rebuilds it (1.5–2 min).
set -euo pipefail

cache="${HARDWAY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hardway}"
dest="$cache/rootfs/trixie"
stamp="$(sha256sum "$0" | cut -c1-16)"
if [ -f "$dest.stamp" ] && [ "$(cat "$dest.stamp")" = "$stamp" ] && [ -x "$dest/usr/bin/cloud-init" ]; then
  echo "build-rootfs: cached $dest"
  exit 0
fi

# systemd-container (nspawn), debootstrap, iproute2 (bridges and namespaces), util-linux (unshare, nsenter).
need=()
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work="$dest.new"
rm -rf "$work" && mkdir -p "$(dirname "$dest")"
echo "build-rootfs: debootstrap trixie (1.5–2 min)"
# python3-cffi-backend: debootstrap does not resolve the virtual package python3-cryptography depends on.
# python3: the install script reads GitHub's release JSON with it. openssl: the node scripts' checks.
# openssh-server: control-plane nodes receive their keys from the operator over SFTP, as droplets' images
# (which ship it) would.
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,dbus,udev,cloud-init,python3-cffi-backend,iproute2,curl,ca-certificates,iptables,kmod,procps,netbase,systemd-resolved,openssl,openssh-server \
  trixie "$work" http://deb.debian.org/debian >"$dest.log" 2>&1 || { tail -n 30 "$dest.log" >&2; exit 1; }

# nspawn refuses a machine-id holding a newline ("Invalid argument"); an empty file lets systemd make one.
: >"$work/etc/machine-id"
# Only the NoCloud seed the test bind-mounts; no network datasource probing.
cat >"$work/etc/cloud/cloud.cfg.d/90-hardway-test.cfg" <<'CFG'
datasource_list: [ NoCloud, None ]
# update-locale fails in a minbase root without locales.
locale: C.UTF-8
# Host keys made at first boot (the package's, made at build time, are deleted: ssh_deletekeys): ed25519
# only, which is quick; control-plane nodes are given theirs in user-data (ssh_keys).
ssh_genkeytypes: [ed25519]
CFG
# The seed's static network-config is the whole network: no router advertisements or link-local
# addresses (cloud-init 22.4 ignored accept-ra: false; systemd-networkd-wait-online otherwise waits 2 min).
# cloud-init's networkd renderer names the file 10-cloud-init-<interface>.network; nspawn's is host0.
mkdir -p "$work/etc/systemd/network/10-cloud-init-host0.network.d"
cat >"$work/etc/systemd/network/10-cloud-init-host0.network.d/90-hardway-test.conf" <<'CFG'
[Network]
IPv6AcceptRA=no
LinkLocalAddressing=no
CFG
# debootstrap applies no presets: networkd (which renders cloud-init's network-config, as on Ubuntu's
# droplets through netplan) and resolved are enabled here.
systemctl --root="$work" enable systemd-networkd.service systemd-resolved.service >/dev/null 2>&1
# Nothing in the machine may reach beyond the test's namespace: no NTP, no apt timers.
rm -f "$work/etc/systemd/system/timers.target.wants/"*
# The image's own sysctl defaults (kernel.core_pattern, kernel.pid_max) are host-wide keys a machine may
# not set, and `sysctl --system` (the node's prepare step) fails on them: masked. The node's own file
# (net.* keys, per network namespace) applies.
for f in "$work"/usr/lib/sysctl.d/*.conf; do
  ln -sf /dev/null "$work/etc/sysctl.d/$(basename "$f")"
done
rm -rf "$work/var/cache/apt/archives/"*.deb "$work/var/lib/apt/lists/"*

rm -rf "$dest" && mv "$work" "$dest"
echo "$stamp" >"$dest.stamp"
echo "build-rootfs: built $dest ($(du -sh "$dest" | cut -f1))"
