// The node's install script: download every artifact from its official URL, check its SHA-256 the way
// manifest.ts says (a digest kept in the project, the publisher's checksum file, or GitHub's digest of the
// release asset), install it, then enable and start the units. Nothing is installed unless every check
// passes. Safe to run again (cloud-init runs it once; a person may re-run it).
import type { Artifact } from './manifest.ts';

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function fetchStep(a: Artifact): string {
  const v = a.verify;
  switch (v.kind) {
    case 'pinned':
      return `fetch_pinned ${q(a.name)} ${q(a.url)} ${v.sha256}`;
    case 'published':
      return `fetch_published ${q(a.name)} ${q(a.url)} ${q(v.url)}`;
    case 'github-release':
      return `fetch_github_asset ${q(a.name)} ${q(a.url)} ${q(v.api)} ${q(v.asset)}`;
  }
}

function installStep(a: Artifact): string {
  const i = a.install;
  const file = `"$work/"${q(a.name)}`;
  switch (i.kind) {
    case 'binary':
      return `install -D -m 0755 ${file} ${i.to}`;
    case 'tar':
      return `mkdir -p ${i.to} && tar -xzf ${file} -C ${i.to}${i.strip ? ` --strip-components=${i.strip}` : ''}${i.members ? ` ${i.members.join(' ')}` : ''}`;
    case 'tar-member':
      return `mkdir -p "$work/x" && tar -xzf ${file} -C "$work/x" ${q(i.member)} && install -D -m 0755 "$work/x/"${q(i.member)} ${i.to}`;
  }
}

/**
 * How long each unit has to become active after the install script starts it. A founding etcd member
 * stays "activating" until a quorum of its peers runs, which takes as long as the slowest droplet to boot.
 */
export const START_WINDOW_S = 900;

export function renderInstallScript(o: { artifacts: Artifact[]; prepare?: string[]; beforeStart?: string[]; units: string[] }): string {
  return `#!/bin/bash
# Installs this node's components. Every download is checked against its SHA-256 before anything is
# installed: the digest kept in hardway, the one its publisher lists, or the one GitHub computed on upload.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
get() { curl -fsSL --retry 5 --retry-delay 3 "$@"; }
check() { # name want
  got=$(sha256sum "$work/$1" | cut -d' ' -f1)
  if [ -z "$2" ] || [ "$2" != "$got" ]; then
    echo "hardway: $1 does not match its SHA-256 (want '$2', got '$got')" >&2
    exit 1
  fi
}
fetch_pinned() { # name url sha256
  get -o "$work/$1" "$2"
  check "$1" "$3"
}
fetch_published() { # name url checksum-url
  get -o "$work/$1" "$2"
  get -o "$work/$1.sha256" "$3"
  # Either the digest alone, or sha256sum lines of which the one naming this file counts.
  check "$1" "$(awk -v f="$1" 'NF==1 {print $1; exit} NF==2 {n=$2; sub(/^\\*/, "", n); sub(/.*\\//, "", n); if (n == f) {print $1; exit}}' "$work/$1.sha256")"
}
fetch_github_asset() { # name url release-api-url asset
  get -o "$work/$1" "$2"
  get -H 'Accept: application/vnd.github+json' -o "$work/$1.release.json" "$3"
  check "$1" "$(python3 -c 'import json, sys
assets = [a for a in json.load(open(sys.argv[1])).get("assets", []) if a.get("name") == sys.argv[2]]
digest = (assets[0].get("digest") or "") if assets else ""
print(digest[len("sha256:"):] if digest.startswith("sha256:") else "")' "$work/$1.release.json" "$4")"
}
${(o.prepare ?? []).join('\n')}
${o.artifacts.map(fetchStep).join('\n')}
${o.artifacts.map(installStep).join('\n')}
${(o.beforeStart ?? []).join('\n')}${o.beforeStart?.length ? '\n' : ''}systemctl daemon-reload
systemctl enable ${o.units.join(' ')}
# Started without waiting for each start job: a unit may need several tries (Restart=always) before it
# runs, as a joining etcd member does until its peers resolve its new DNS name (their peer port checks a
# caller's certificate names against its address: etcd v3.5.21 client/pkg/transport/listener_tls.go,
# checkSAN). Each unit then has
# ${START_WINDOW_S / 60} minutes to be active; one that is not fails this script, and cloud-init reports the error.
systemctl start --no-block ${o.units.join(' ')}
for unit in ${o.units.join(' ')}; do
  for i in $(seq 1 ${START_WINDOW_S / 2}); do systemctl is-active --quiet "$unit" && break; sleep 2; done
  systemctl is-active --quiet "$unit" || { echo "hardway: $unit is not active after ${START_WINDOW_S / 60} minutes" >&2; systemctl status --no-pager "$unit" >&2 || true; exit 1; }
done
`;
}
