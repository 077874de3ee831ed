// systemd unit files. Every long-running component restarts on failure and starts after the node's
// addresses are known (hardway-node-env.service writes them from the droplet metadata service).

export const NODE_ENV_FILE = '/etc/hardway/node.env';
export const NODE_ENV_UNIT = 'hardway-node-env.service';

export interface ServiceUnit {
  name: string;
  description: string;
  exec: string;
  args?: string[];
  after?: string[];
  requires?: string[];
  environment?: Record<string, string>;
  /** Extra [Service] lines. */
  service?: Record<string, string>;
}

/** Renders a unit. Arguments go one per line with a trailing backslash, as people write them. */
export function renderService(u: ServiceUnit): string {
  const after = ['network-online.target', NODE_ENV_UNIT, ...(u.after ?? [])];
  const requires = [NODE_ENV_UNIT, ...(u.requires ?? [])];
  const cmd = [u.exec, ...(u.args ?? [])].join(' \\\n  ');
  const lines = [
    '[Unit]',
    `Description=${u.description}`,
    'Wants=network-online.target',
    `After=${after.join(' ')}`,
    `Requires=${requires.join(' ')}`,
    '',
    '[Service]',
    `EnvironmentFile=${NODE_ENV_FILE}`,
    ...Object.entries(u.environment ?? {}).map(([k, v]) => `Environment=${k}=${v}`),
    `ExecStart=${cmd}`,
    'Restart=always',
    'RestartSec=5',
    ...Object.entries(u.service ?? {}).map(([k, v]) => `${k}=${v}`),
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return lines.join('\n');
}

/** The oneshot that records the droplet's private and public IPv4 for the other units. */
export const nodeEnvUnit = `[Unit]
Description=Record this droplet's addresses from the metadata service
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/hardway-node-env

[Install]
WantedBy=multi-user.target
`;

/** DigitalOcean hostnames do not resolve to private addresses; the metadata service knows them. */
export const nodeEnvScript = `#!/bin/sh
# Writes PRIVATE_IPV4 and PUBLIC_IPV4 for the other units; retries until the metadata service answers.
set -eu
md=http://169.254.169.254/metadata/v1/interfaces
for i in $(seq 1 60); do
  private=$(curl -fsS "$md/private/0/ipv4/address" || true)
  public=$(curl -fsS "$md/public/0/ipv4/address" || true)
  [ -n "$private" ] && break
  sleep 2
done
[ -n "$private" ] || { echo "no private IPv4 from the metadata service" >&2; exit 1; }
mkdir -p /etc/hardway
printf 'PRIVATE_IPV4=%s\\nPUBLIC_IPV4=%s\\n' "$private" "$public" > ${NODE_ENV_FILE}.tmp
mv ${NODE_ENV_FILE}.tmp ${NODE_ENV_FILE}
`;

/**
 * Closes the droplet metadata service (which serves user-data for the droplet's whole life) to pods,
 * before containerd and kubelet start. The rules sit in the mangle table, which the kernel runs before
 * nat and filter: PREROUTING sees a pod's packet before kube-proxy's NAT; FORWARD catches one that NAT
 * turned towards the address. The filter table is no place for them: flannel sets the FORWARD policy to
 * ACCEPT and appends its own ACCEPT rules there (flannel-io/flannel v0.28.9
 * pkg/trafficmngr/iptables/iptables.go), and kube-proxy prepends its chains.
 * The node's own processes (and host-network pods) send from OUTPUT and keep access: the node's scripts
 * read their addresses there. iptables itself is the one kube-proxy's iptables mode needs on every node.
 */
export const METADATA_ADDRESS = '169.254.169.254';
export const METADATA_BLOCK_UNIT = 'hardway-metadata-block.service';
export const METADATA_BLOCK_SCRIPT = '/usr/local/sbin/hardway-metadata-block';

export const metadataBlockScript = `#!/bin/sh
# Drops forwarded traffic (pods) to the metadata service; safe to run again (each rule is added once).
set -eu
for chain in PREROUTING FORWARD; do
  iptables -w -t mangle -C "$chain" -d ${METADATA_ADDRESS}/32 -j DROP 2>/dev/null ||
    iptables -w -t mangle -I "$chain" 1 -d ${METADATA_ADDRESS}/32 -j DROP
done
`;

export const metadataBlockUnit = `[Unit]
Description=Close the droplet metadata service to pods
Before=containerd.service kubelet.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${METADATA_BLOCK_SCRIPT}

[Install]
WantedBy=multi-user.target
`;
