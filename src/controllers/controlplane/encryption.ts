// Encryption at rest over a control plane's life: the state kept in the Secret <name>-encryption, a key
// rotation started when the spec asks for one (or the key is not secretbox), and each stage advanced once
// every control-plane node runs it (src/pki/encryption.ts has the stages and why there are three).
import type { KubeClient } from '../../kube/port.ts';
import { Secrets } from '../../kube/resources.ts';
import type { EventRecorder } from '../../runtime/events.ts';
import type { ControlPlane } from '../../api/v1alpha1/index.ts';
import type { Observed } from '../status.ts';
import { putSecret, type SecretObject } from '../secrets.ts';
import { advance, encryptionConfigId, encryptionKeys, encryptionStateData, rotationDue, startRotation, LEGACY_ENCRYPTION_ID, type EncryptionState } from '../../pki/encryption.ts';
import { tagValue } from '../../cloud/tags.ts';
import { leafSecretName } from './pki.ts';

type Obj = ControlPlane & Observed;

export interface EncryptionDeps {
  kube: KubeClient;
  events: EventRecorder;
  randomBytes: (n: number) => Uint8Array;
}

async function save(d: EncryptionDeps, o: Obj, s: EncryptionState): Promise<void> {
  const name = leafSecretName(o.metadata.name, 'encryption');
  const existing = await d.kube.tryGet<SecretObject>(Secrets, { namespace: o.metadata.namespace, name });
  // Conditional on the version read: two writers cannot both start a rotation with different keys.
  await putSecret(d.kube, o, name, encryptionStateData(s), { 'hardway.dev/controlplane': o.metadata.name }, existing);
}

/** The state to render new nodes with: a rotation started first if one is due (stored before any node uses it). */
export async function startRotationIfDue(d: EncryptionDeps, o: Obj, s: EncryptionState): Promise<EncryptionState> {
  const why = rotationDue(s, o.spec.encryptionKeyGeneration ?? 0);
  if (!why) return s;
  const next = startRotation(s, o.spec.encryptionKeyGeneration ?? 0, d.randomBytes(32));
  await save(d, o, next);
  await d.events.record(o, 'Normal', 'EncryptionKeyRotationStarted', `new key ${next.current.name} (${next.current.provider}): ${why}. Nodes are replaced so that every API server can read it first`);
  return next;
}

/** The configuration id a node was made with; nodes from before the tag hold the first (aescbc key1) one. */
export const nodeEncryptionId = (tags: string[]): string => tagValue(tags, 'hardway:encryption:') ?? LEGACY_ENCRYPTION_ID;

export const wantedEncryptionId = (s: EncryptionState): string => encryptionConfigId(encryptionKeys(s));

/**
 * Moves a rotation on once every staying node runs its stage (the caller says whether they do): from
 * introduce to switch; from switch, after every Secret was rewritten through the API, to stable. Returns
 * the state, changed or not; a failed rewrite leaves it in switch and is retried on the next pass.
 */
export async function advanceRotation(d: EncryptionDeps, o: Obj, s: EncryptionState, settled: boolean, reencrypt: (() => Promise<number>) | undefined): Promise<EncryptionState> {
  if (s.stage === 'stable' || !settled) return s;
  if (s.stage === 'introduce') {
    const next = advance(s);
    await save(d, o, next);
    await d.events.record(o, 'Normal', 'EncryptionKeyRotation', `every API server reads key ${s.current.name}; nodes are replaced so that it writes`);
    return next;
  }
  if (!reencrypt) return s;
  const n = await reencrypt();
  const next = advance(s);
  await save(d, o, next);
  await d.events.record(o, 'Normal', 'SecretsReencrypted', `${n} Secret(s) rewritten with key ${s.current.name}; nodes are replaced so that key ${s.previous?.name ?? 'the old one'} is removed`);
  return next;
}

/** For status.encryption. */
export function encryptionStatus(s: EncryptionState) {
  const stage = ({ stable: 'Stable', introduce: 'Introduce', switch: 'Switch' } as const)[s.stage];
  return { key: s.current.name, provider: s.current.provider, generation: s.generation, stage };
}

/** The RollingOut message while a rotation runs. */
export function rotationMessage(s: EncryptionState): string {
  if (s.stage === 'introduce') return `encryption key rotation: every API server learns to read key ${s.current.name} (stage 1 of 3)`;
  if (s.stage === 'switch') return `encryption key rotation: key ${s.current.name} becomes the writer, then every Secret is rewritten (stage 2 of 3)`;
  return `encryption: nodes are replaced by ones holding only key ${s.current.name}`;
}
