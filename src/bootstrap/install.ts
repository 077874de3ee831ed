// The node's install script: download every artifact from its official URL, check it against the
// published SHA-256, install it, then enable and start the units. Safe to run again (cloud-init runs it
// once; a person may re-run it).
import type { Artifact } from './manifest.ts';

export function renderInstallScript(o: { artifacts: Artifact[]; prepare?: string[]; units: string[] }): string {
  const steps = o.artifacts.map((a) => {
    const install =
      a.install.kind === 'binary'
        ? `install -m 0755 "$work/${a.name}" ${a.install.to}`
        : `mkdir -p ${a.install.to} && tar -xzf "$work/${a.name}" -C ${a.install.to}${a.install.strip ? ` --strip-components=${a.install.strip}` : ''}${a.install.members ? ` ${a.install.members.join(' ')}` : ''}`;
    return `fetch ${a.name} ${a.url} ${a.sha256Url}\n${install}`;
  });
  return `#!/bin/bash
# Installs this node's components. Every download is checked against the SHA-256 its publisher lists.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fetch() {
  curl -fsSL --retry 5 --retry-delay 3 -o "$work/$1" "$2"
  curl -fsSL --retry 5 --retry-delay 3 -o "$work/$1.sha256" "$3"
  # Either the digest alone, or sha256sum lines of which the one for this file counts.
  want=$(awk -v f="$1" 'NF==1 {print $1; exit} {n=$2; sub(/^\\*/, "", n); sub(/.*\\//, "", n); if (n == f) {print $1; exit}}' "$work/$1.sha256")
  got=$(sha256sum "$work/$1" | cut -d' ' -f1)
  if [ -z "$want" ] || [ "$want" != "$got" ]; then
    echo "hardway: $1 does not match its published SHA-256 (want '$want', got '$got')" >&2
    exit 1
  fi
}
${(o.prepare ?? []).join('\n')}
${steps.join('\n')}
systemctl daemon-reload
systemctl enable --now ${o.units.join(' ')}
`;
}
