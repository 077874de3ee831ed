// Ed25519 keys in OpenSSH's own formats, for the control-plane hand-over (docs/security.md): the
// operator's client key and each node's host key. Pure: the seed and the check integer come in.
// Formats from OpenSSH's PROTOCOL.key (the "openssh-key-v1" container, unencrypted: cipher and KDF
// "none") and RFC 8709 §4 (the ssh-ed25519 public key blob); checked against ssh-keygen and sshd in tests.
import { createPrivateKey, createPublicKey, createHash } from 'node:crypto';

export interface SshKeyPair {
  /** `ssh-ed25519 AAAA… comment`, as authorized_keys and cloud-init's ssh_keys take it. */
  publicKey: string;
  /** -----BEGIN OPENSSH PRIVATE KEY-----, as sshd's HostKey and SSH clients read it. */
  privateKey: string;
}

const TYPE = 'ssh-ed25519';
// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410 §7): lets node:crypto derive the public half.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const str = (b: Buffer | string) => {
  const x = typeof b === 'string' ? Buffer.from(b) : b;
  return Buffer.concat([u32(x.length), x]);
};

/** The public key blob (string type, string key), which fingerprints and host-key checks compare. */
export const publicBlob = (pub: Buffer) => Buffer.concat([str(TYPE), str(pub)]);

/** The key pair for a 32-byte seed; `check` fills the private section's check integers (4 bytes). */
export function sshKeyPair(seed: Uint8Array, check: Uint8Array, comment: string): SshKeyPair {
  if (seed.length !== 32 || check.length !== 4) throw new Error('an Ed25519 key needs a 32-byte seed and a 4-byte check');
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const pub = createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(-32);
  const blob = publicBlob(pub);
  const checkint = Buffer.from(check);
  const body = Buffer.concat([checkint, checkint, str(TYPE), str(pub), str(Buffer.concat([Buffer.from(seed), pub])), str(comment)]);
  const pad = Buffer.from(Array.from({ length: (8 - (body.length % 8)) % 8 }, (_, i) => i + 1));
  const container = Buffer.concat([Buffer.from('openssh-key-v1\0'), str('none'), str('none'), str(''), u32(1), str(blob), str(Buffer.concat([body, pad]))]);
  const b64 = container.toString('base64').replace(/.{1,70}/g, '$&\n');
  return {
    publicKey: `${TYPE} ${blob.toString('base64')} ${comment}`,
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}-----END OPENSSH PRIVATE KEY-----\n`,
  };
}

/** The blob inside an authorized_keys-style line. */
export function blobOf(publicKey: string): Buffer {
  const [type, data] = publicKey.trim().split(/\s+/);
  if (type !== TYPE || !data) throw new Error(`not an ${TYPE} public key`);
  return Buffer.from(data, 'base64');
}

/** SHA256:… as ssh-keygen -l prints it: safe to log. */
export const sshFingerprint = (publicKey: string) => `SHA256:${createHash('sha256').update(blobOf(publicKey)).digest('base64').replace(/=+$/, '')}`;

export const newSshKeyPair = (randomBytes: (n: number) => Uint8Array, comment: string) => sshKeyPair(randomBytes(32), randomBytes(4), comment);
