// Encryption of Secrets at rest with a real kube-apiserver (v1.20.2) and etcd: the configurations the
// operator renders, stage by stage through a key rotation (src/pki/encryption.ts), and the operator's
// re-encryption through the workload adapter. What etcd holds is read raw, through its JSON gateway: it must
// start with the provider's prefix and key name (k8s.io/apiserver v0.20.2
// pkg/server/options/encryptionconfig/config.go: "k8s:enc:<provider>:v1:<key name>:") and never hold the
// plaintext. Each stage is an API server restarted with the next configuration, as a node replaced by the
// roll would start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCluster } from '../env/cluster.ts';
import { workloadTargetFor, rawApi } from './workload-target.ts';
import { HttpsWorkloadCluster } from '../../src/workload/adapter.ts';
import { encryptionConfig } from '../../src/bootstrap/configs.ts';
import { advance, encryptionKeys, parseEncryptionState, startRotation, type EncryptionState } from '../../src/pki/encryption.ts';

const key = (b: number) => new Uint8Array(32).fill(b);

test('a real API server stores Secrets with the writing key; a rotation from the first aescbc key to secretbox keeps every Secret readable and leaves none under the old key', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'hardway-encryption-'));
  const file = path.join(dir, 'encryption-config.yaml');
  const write = (s: EncryptionState) => writeFileSync(file, encryptionConfig(encryptionKeys(s)), { mode: 0o600 });
  // The operator's first configuration (one aescbc key, as Secrets made before secretbox hold it).
  let state = parseEncryptionState({ key: Buffer.from(key(1)).toString('base64') });
  write(state);
  const env = await startCluster({ encryptionConfig: file });
  try {
    const target = workloadTargetFor(env.kubeconfig);
    const api = rawApi(target);
    const stored = async (name: string): Promise<Buffer> => {
      const res = await fetch(`${env.etcdUrl}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from(`${env.etcdPrefix}/secrets/default/${name}`).toString('base64') }) });
      const kvs = ((await res.json()) as { kvs?: { value: string }[] }).kvs;
      assert.ok(kvs?.length, `${name} is in etcd`);
      return Buffer.from(kvs[0]!.value, 'base64');
    };
    const canary = (name: string) => `plaintext-canary-${name}`;
    const create = async (name: string) => assert.equal((await api('POST', '/api/v1/namespaces/default/secrets', { metadata: { name }, stringData: { word: canary(name) } })).status, 201);
    const prefixOf = async (name: string) => {
      const raw = await stored(name);
      assert.ok(!raw.includes(canary(name)), `${name}: the plaintext is not in etcd`);
      return /^k8s:enc:[a-z]+:v1:[^:]+:/.exec(raw.subarray(0, 40).toString('latin1'))?.[0];
    };
    const readable = async (name: string) => {
      const r = await api('GET', `/api/v1/namespaces/default/secrets/${name}`);
      return r.status === 200 ? Buffer.from(r.json.data.word, 'base64').toString('utf8') : `HTTP ${r.status}`;
    };
    const next = async (s: EncryptionState) => {
      state = s;
      write(s);
      await env.restartApiServer();
    };

    await create('a');
    assert.equal(await prefixOf('a'), 'k8s:enc:aescbc:v1:key1:');

    // Stage 1: the new secretbox key is read, the old one still writes.
    await next(startRotation(state, 0, key(2)));
    await create('b');
    assert.equal(await prefixOf('b'), 'k8s:enc:aescbc:v1:key1:');

    // Stage 2: the new key writes; then the operator rewrites every Secret through the API.
    await next(advance(state));
    await create('c');
    assert.equal(await prefixOf('c'), 'k8s:enc:secretbox:v1:key2:');
    assert.equal(await prefixOf('a'), 'k8s:enc:aescbc:v1:key1:', 'stored before, untouched until rewritten');
    const rewritten = await new HttpsWorkloadCluster(target).reencryptSecrets();
    assert.ok(rewritten >= 3, `every Secret rewritten (${rewritten})`);
    for (const n of ['a', 'b', 'c']) assert.equal(await prefixOf(n), 'k8s:enc:secretbox:v1:key2:', `${n} under the new key`);

    // Stage 3: the old key is gone; everything still reads.
    await next(advance(state));
    assert.equal(state.previous, undefined);
    for (const n of ['a', 'b', 'c']) assert.equal(await readable(n), canary(n));

  } finally {
    await env.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
