// The seed member of a restored cluster: before etcd starts, its data directory is made from a snapshot.
// The snapshot comes by a presigned GET URL (a signature that expires; no storage key on the node), is
// checked against the manifest's SHA-256, and restored with `etcdutl snapshot restore --bump-revision
// --mark-compacted`: the revision jumps past any a client or API-server cache has seen, and watches on
// older revisions end, so nothing sees revisions go backwards (etcd-io/website
// content/en/docs/v3.5/op-guide/recovery.md; flags in etcdutl/etcdutl/snapshot_command.go since v3.5.10,
// required together). Pure.
import { secretFile, type NodeFile } from './cloudconfig.ts';

export interface EtcdRestore {
  /** Presigned GET URL of the snapshot object (a bearer secret until it expires: a 0600 file). */
  url: string;
  sha256: string;
  /** Revisions to skip: the recovery guide's 1,000,000,000 covers a week at under 1,500 writes per second. */
  bumpRevision: number;
}

export const ETCD_RESTORE_SCRIPT = '/usr/local/sbin/hardway-etcd-restore';
export const DEFAULT_BUMP_REVISION = 1_000_000_000;
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function etcdRestoreFiles(r: EtcdRestore, m: { name: string; initialCluster: string; peerURL: string; token: string }): NodeFile[] {
  if (!/^[0-9a-f]{64}$/.test(r.sha256)) throw new Error('restore: sha256 is not 64 hex digits');
  const script = `#!/bin/sh
# Makes this seed member's data directory from a snapshot, once: a data directory that holds a member
# already (restored before a reboot, or running) is never overwritten. Paths can be moved (tests).
# curl --retry-all-errors needs curl 7.71.0 or later (curl(1): "Added in 7.71.0").
set -eu
dir="\${HARDWAY_ETCD_DIR:-/etc/etcd}"
data="\${HARDWAY_ETCD_DATA_DIR:-/var/lib/etcd}"
etcdutl="\${HARDWAY_ETCDUTL:-/usr/local/bin/etcdutl}"
if [ -d "$data/member" ]; then
  echo "hardway: $data holds a member already; not restoring" >&2
  exit 0
fi
work="$data.restore"
rm -rf "$work"
mkdir -p "$work"
curl -fsS --retry 5 --retry-delay 3 --retry-all-errors -o "$work/snapshot.db" "$(cat "$dir/restore-url")"
got=$(sha256sum "$work/snapshot.db" | cut -d' ' -f1)
if [ "$got" != ${q(r.sha256)} ]; then
  echo "hardway: the snapshot does not match its manifest's SHA-256 (want ${r.sha256}, got $got)" >&2
  rm -rf "$work"
  exit 1
fi
"$etcdutl" snapshot restore "$work/snapshot.db" \\
  --name=${q(m.name)} \\
  --initial-cluster=${q(m.initialCluster)} \\
  --initial-advertise-peer-urls=${q(m.peerURL)} \\
  --initial-cluster-token=${q(m.token)} \\
  --bump-revision=${r.bumpRevision} --mark-compacted \\
  --data-dir="$work/data"
rm -rf "$data"
mv "$work/data" "$data"
chmod 0700 "$data"
rm -rf "$work" "$dir/restore-url"
echo "hardway: restored $data from the snapshot (revision bumped by ${r.bumpRevision})" >&2
`;
  return [{ path: ETCD_RESTORE_SCRIPT, content: script, permissions: '0755' }, secretFile('/etc/etcd/restore-url', `${r.url}\n`)];
}
