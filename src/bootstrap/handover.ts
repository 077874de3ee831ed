// What a control-plane node's user-data carries so that the operator can hand it its keys once it runs
// (docs/security.md, "Control-plane keys: handed over, not left in user-data"): the node's SSH host key
// (cloud-init's ssh_keys), the operator's public key, allowed for root and SFTP only, and a oneshot unit
// the key-using units wait on until the operator has written the marker, its last file.
import { publicFile, type NodeFile } from './cloudconfig.ts';

export const HANDOVER_UNIT = 'hardway-handover.service';
/** Written by the operator after every key file is in place (renamed into place, 0600). */
export const HANDOVER_MARKER = '/etc/hardway/handed-over';
export const HANDOVER_KEYS_FILE = '/etc/ssh/hardway_handover_keys';
export const HANDOVER_SSHD_CONFIG = '/etc/ssh/sshd_config.d/50-hardway-handover.conf';
export const RETIRE_HOST_KEY_SCRIPT = '/usr/local/sbin/hardway-retire-host-key';

export interface HandOverAccess {
  /** The node's ed25519 host key (OpenSSH formats): the operator pins the public half. */
  hostKey: { privateKey: string; publicKey: string };
  /** The operator's public key for this ControlPlane. */
  operatorKey: string;
}

export const handOverUnit = `[Unit]
Description=Wait for the operator to hand over this node's keys (SFTP; see hardway docs/security.md)

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'until [ -e ${HANDOVER_MARKER} ]; do sleep 2; done'
ExecStartPost=${RETIRE_HOST_KEY_SCRIPT}
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
`;

/**
 * Once the keys are there, the host key user-data gave (which the operator needed once, to know it talks
 * to this node) is replaced by one made here: after that, nothing read from user-data works. Once only
 * (an admin's known_hosts stays valid across reboots). A reload makes sshd read its host keys again.
 */
export const retireHostKeyScript = `#!/bin/sh
set -eu
done=/etc/hardway/host-key-retired
[ -e "$done" ] && exit 0
rm -f /etc/ssh/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key.pub
ssh-keygen -q -t ed25519 -N '' -C "root@$(hostname)" -f /etc/ssh/ssh_host_ed25519_key
systemctl try-reload-or-restart ssh.service
touch "$done"
`;

/**
 * sshd reads drop-ins from sshd_config.d first (Debian's sshd_config starts with the Include). The key
 * file is an extra AuthorizedKeysFile for root only; the key's own options (restrict, a forced
 * internal-sftp, sshd's in-process SFTP server) leave it no shell, no
 * forwarding, nothing but SFTP. Both checked with Debian's sshd in test/integration/handover-ssh.test.ts.
 */
export const handOverSshdConfig = `# hardway: the operator's key, for root and SFTP only (the key's options in ${HANDOVER_KEYS_FILE})
Match User root
	AuthorizedKeysFile .ssh/authorized_keys ${HANDOVER_KEYS_FILE}
	PermitRootLogin prohibit-password
`;

export const handOverKeyLine = (operatorKey: string) => `restrict,command="internal-sftp" ${operatorKey.trim()}\n`;

export function handOverFiles(a: HandOverAccess): NodeFile[] {
  return [
    publicFile(HANDOVER_SSHD_CONFIG, handOverSshdConfig),
    publicFile(HANDOVER_KEYS_FILE, handOverKeyLine(a.operatorKey)),
    { path: RETIRE_HOST_KEY_SCRIPT, content: retireHostKeyScript, permissions: '0755' },
    publicFile(`/etc/systemd/system/${HANDOVER_UNIT}`, handOverUnit),
  ];
}

/** cloud-init's ssh_keys (cc_ssh: {type}_private and {type}_public become /etc/ssh/ssh_host_{type}_key[.pub]). */
export const handOverSshKeys = (a: HandOverAccess) => ({ ed25519_private: a.hostKey.privateKey, ed25519_public: a.hostKey.publicKey });
