// Encryption of Secrets at rest: which keys the API servers hold, in which order, and how a new key replaces
// the old one without any API server meeting data it cannot read. Pure: the new key's bytes come in.
//
// Provider: secretbox (XSalsa20 and Poly1305, 32-byte keys). Kubernetes' task page "Encrypting
// Confidential Data at Rest" (kubernetes/website content/en/docs/tasks/administer-cluster/encrypt-data.md)
// rates it "Strong" and advises against aescbc; KMS needs a plugin the nodes do not run. secretbox is in
// every version the operator deploys (k8s.io/apiserver v0.20.2 and v0.34.0
// pkg/server/options/encryptionconfig/config.go: prefix "k8s:enc:secretbox:v1:" + key name + ":").
//
// The first provider in the configuration writes; every listed key reads. A rotation takes three rolls of
// the control plane, because nodes are replaced one at a time and an old node must be able to read what a
// new one wrote:
//   introduce: [old, new]  every API server learns to read the new key (the old one still writes);
//   switch:    [new, old]  the new key writes; then every Secret is rewritten through the API (re-encrypted);
//   stable:    [new]       the old key is gone.
// identity comes last throughout, so Secrets written before encryption was on are still read.
import { createHash } from 'node:crypto';

export type EncryptionProvider = 'secretbox' | 'aescbc';

export interface EncryptionKey {
  name: string;
  provider: EncryptionProvider;
  /** 32 bytes, base64. */
  secret: string;
}

export type RotationStage = 'stable' | 'introduce' | 'switch';

export interface EncryptionState {
  /** The spec.encryptionKeyGeneration the current key was made for. */
  generation: number;
  current: EncryptionKey;
  /** The key being replaced, while a rotation runs. */
  previous?: EncryptionKey;
  stage: RotationStage;
}

export const PREFERRED_PROVIDER: EncryptionProvider = 'secretbox';

/** What the API servers use, first writer first. */
export function encryptionKeys(s: EncryptionState): EncryptionKey[] {
  if (s.stage === 'stable' || !s.previous) return [s.current];
  return s.stage === 'introduce' ? [s.previous, s.current] : [s.current, s.previous];
}

/** A new cluster's state: one secretbox key. */
export function initialEncryption(generation: number, secret: Uint8Array): EncryptionState {
  return { generation, current: { name: 'key1', provider: PREFERRED_PROVIDER, secret: Buffer.from(secret).toString('base64') }, stage: 'stable' };
}

/** Why a rotation should start now, if it should: only from a stable state. */
export function rotationDue(s: EncryptionState, specGeneration: number): string | undefined {
  if (s.stage !== 'stable') return undefined;
  if (specGeneration > s.generation) return `spec.encryptionKeyGeneration is ${specGeneration} (key ${s.current.name} was made for ${s.generation})`;
  if (s.current.provider !== PREFERRED_PROVIDER) return `key ${s.current.name} uses ${s.current.provider}; moving to ${PREFERRED_PROVIDER}`;
  return undefined;
}

/** Starts a rotation: a new secretbox key that every API server first learns to read. */
export function startRotation(s: EncryptionState, specGeneration: number, secret: Uint8Array): EncryptionState {
  const n = Number(/^key(\d+)$/.exec(s.current.name)?.[1] ?? '0') + 1;
  return {
    generation: Math.max(specGeneration, s.generation),
    previous: s.current,
    current: { name: `key${n}`, provider: PREFERRED_PROVIDER, secret: Buffer.from(secret).toString('base64') },
    stage: 'introduce',
  };
}

/** The next stage once every control-plane node runs this one (and, after switch, every Secret was rewritten). */
export function advance(s: EncryptionState): EncryptionState {
  if (s.stage === 'introduce') return { ...s, stage: 'switch' };
  return { generation: s.generation, current: s.current, stage: 'stable' };
}

/**
 * A short, stable name for what a node's API server holds (key names, providers and order, never the keys):
 * the value of the droplet tag that says which configuration a node was made with.
 */
export function encryptionConfigId(keys: EncryptionKey[]): string {
  return createHash('sha256')
    .update(keys.map((k) => `${k.provider}:${k.name}`).join(','))
    .digest('hex')
    .slice(0, 12);
}

/**
 * Nodes made before the tag existed hold the operator's first configuration: aescbc, key1 (see
 * parseEncryptionState for the Secret of that time).
 */
export const LEGACY_ENCRYPTION_ID = encryptionConfigId([{ name: 'key1', provider: 'aescbc', secret: '' }]);

/** The Secret's data (decoded) for a state; secrets live only there and in control-plane user-data. */
export function encryptionStateData(s: EncryptionState): Record<string, string> {
  return { state: JSON.stringify(s) };
}

/** Reads the state from the Secret's data; the operator's first Secrets held one aescbc key in `key`. */
export function parseEncryptionState(data: Record<string, string>): EncryptionState {
  if (data.state) {
    const s = JSON.parse(data.state) as EncryptionState;
    const valid = (k: EncryptionKey | undefined) => !!k && typeof k.name === 'string' && (k.provider === 'secretbox' || k.provider === 'aescbc') && Buffer.from(k.secret, 'base64').length === 32;
    if (!valid(s.current) || (s.previous && !valid(s.previous)) || !['stable', 'introduce', 'switch'].includes(s.stage) || !Number.isInteger(s.generation)) {
      throw new Error('encryption state Secret is malformed (expected keys of 32 bytes and a known stage)');
    }
    return s;
  }
  if (data.key && Buffer.from(data.key, 'base64').length === 32) return { generation: 0, current: { name: 'key1', provider: 'aescbc', secret: data.key }, stage: 'stable' };
  throw new Error('encryption state Secret has neither a state nor a 32-byte key');
}
