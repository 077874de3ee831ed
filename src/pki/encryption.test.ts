import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import {
  advance,
  encryptionConfigId,
  encryptionKeys,
  encryptionStateData,
  initialEncryption,
  parseEncryptionState,
  rotationDue,
  startRotation,
  LEGACY_ENCRYPTION_ID,
  type EncryptionState,
} from './encryption.ts';
import { encryptionConfig } from '../bootstrap/configs.ts';

const bytes = (b: number) => new Uint8Array(32).fill(b);
const b64 = (b: number) => Buffer.from(bytes(b)).toString('base64');
const names = (s: EncryptionState) => encryptionKeys(s).map((k) => `${k.provider}:${k.name}`);

test('a new cluster has one secretbox key; a rotation goes introduce → switch → stable, never leaving a reader behind', () => {
  const s0 = initialEncryption(0, bytes(1));
  assert.deepEqual(names(s0), ['secretbox:key1']);
  assert.equal(rotationDue(s0, 0), undefined);
  assert.match(rotationDue(s0, 1)!, /encryptionKeyGeneration is 1/);

  const s1 = startRotation(s0, 1, bytes(2));
  assert.equal(s1.current.secret, b64(2));
  assert.deepEqual(names(s1), ['secretbox:key1', 'secretbox:key2'], 'introduce: the old key still writes, the new one is read');
  assert.equal(rotationDue(s1, 5), undefined, 'no second rotation while one runs');
  const s2 = advance(s1);
  assert.deepEqual(names(s2), ['secretbox:key2', 'secretbox:key1'], 'switch: the new key writes, the old one is still read');
  const s3 = advance(s2);
  assert.deepEqual(names(s3), ['secretbox:key2'], 'stable: the old key is gone');
  assert.equal(s3.previous, undefined);
  assert.equal(s3.generation, 1);
  assert.equal(rotationDue(s3, 1), undefined);

  // Each stage is a different configuration, so nodes of the last stage are told apart by their tag.
  const ids = [s0, s1, s2, s3].map((s) => encryptionConfigId(encryptionKeys(s)));
  assert.equal(new Set(ids.slice(0, 3)).size, 3);
  assert.match(ids[0]!, /^[0-9a-f]{12}$/);
  assert.ok(!ids.some((id) => s1.current.secret.includes(id)), 'the id is not derived from key material');
  assert.equal(encryptionConfigId(encryptionKeys({ ...s3, current: { ...s3.current, secret: b64(9) } })), ids[3], 'the id names keys, never their bytes');
});

test("the operator's first Secrets (one aescbc key) are read as aescbc key1 and moved to secretbox by a rotation", () => {
  const legacy = parseEncryptionState({ key: b64(7) });
  assert.deepEqual(names(legacy), ['aescbc:key1']);
  assert.equal(encryptionConfigId(encryptionKeys(legacy)), LEGACY_ENCRYPTION_ID, 'untagged nodes hold this configuration');
  assert.match(rotationDue(legacy, 0)!, /uses aescbc; moving to secretbox/);
  const next = startRotation(legacy, 0, bytes(8));
  assert.deepEqual(names(next), ['aescbc:key1', 'secretbox:key2']);
  assert.deepEqual(parseEncryptionState(encryptionStateData(next)), next, 'stored and read back');
});

test('a malformed state Secret is refused with a message that carries no key', () => {
  const bad: Record<string, string>[] = [{}, { key: 'c2hvcnQ=' }, { state: JSON.stringify({ generation: 0, stage: 'stable', current: { name: 'key1', provider: 'rot13', secret: b64(1) } }) }, { state: JSON.stringify({ ...initialEncryption(0, bytes(1)), stage: 'later' }) }];
  for (const data of bad) {
    assert.throws(() => parseEncryptionState(data), (e: Error) => /encryption state Secret/.test(e.message) && !e.message.includes(b64(1)));
  }
});

test('the EncryptionConfiguration lists the keys in order, each under its provider, identity last', () => {
  const s = advance(startRotation(parseEncryptionState({ key: b64(7) }), 0, bytes(8)));
  const doc = parse(encryptionConfig(encryptionKeys(s)));
  assert.equal(doc.kind, 'EncryptionConfiguration');
  assert.equal(doc.apiVersion, 'apiserver.config.k8s.io/v1');
  assert.deepEqual(doc.resources[0].resources, ['secrets']);
  assert.deepEqual(doc.resources[0].providers, [{ secretbox: { keys: [{ name: 'key2', secret: b64(8) }] } }, { aescbc: { keys: [{ name: 'key1', secret: b64(7) }] } }, { identity: {} }]);
});
