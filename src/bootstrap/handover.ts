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
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
`;

/**
 * sshd reads drop-ins from sshd_config.d first (Debian's sshd_config starts with the Include). The key
 * file is an extra AuthorizedKeysFile for root only; the key's own options (restrict, a forced
 * internal-sftp: sshd session.c treats that name as its in-process SFTP server) leave it no shell, no
 * forwarding, nothing but SFTP. Both checked with Debian's sshd in test/integration/handover-ssh.test.ts.
 */
export const handOverSshdConfig = `# hardway: the operator's key, for root and SFTP only (the key's options in ${HANDOVER_KEYS_FILE})
Match User root
	AuthorizedKeysFile .ssh/authorized_keys ${HANDOVER_KEYS_FILE}
	PermitRootLogin prohibit-password
`;

export const handOverKeyLine = (operatorKey: string) => `restrict,command="internal-sftp" ${operatorKey.trim()}\n`;

export function handOverFiles(a: HandOverAccess): NodeFile[] {
  return [publicFile(HANDOVER_SSHD_CONFIG, handOverSshdConfig), publicFile(HANDOVER_KEYS_FILE, handOverKeyLine(a.operatorKey)), publicFile(`/etc/systemd/system/${HANDOVER_UNIT}`, handOverUnit)];
}

/** cloud-init's ssh_keys (cc_ssh: {type}_private and {type}_public become /etc/ssh/ssh_host_{type}_key[.pub]). */
export const handOverSshKeys = (a: HandOverAccess) => ({ ed25519_private: a.hostKey.privateKey, ed25519_public: a.hostKey.publicKey });
