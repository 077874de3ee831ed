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
