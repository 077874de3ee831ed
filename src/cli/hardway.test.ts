import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, statSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hardway } from './hardway.ts';
import { samplesDir } from '../../test/helpers/samples.ts';

function capture(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = hardway(argv, { log: (l) => out.push(l), error: (l) => err.push(l) });
  return { code, out, err };
}

test('render prints every machine with its size, and writes 0600 files with --out', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'hardway-render-'));
  try {
    const { code, out } = capture(['render', '-f', samplesDir, '--out', dir]);
    assert.equal(code, 0);
    const rows = out.filter((l) => /^demo-/.test(l));
    assert.equal(rows.length, 8, '3 etcd + 3 control plane + 2 workers');
    assert.equal(rows.filter((r) => / etcd /.test(r)).length, 3);
    assert.ok(rows.every((r) => /\d+%$/.test(r)), 'each row ends with its share of 64 KiB');
    const all = readdirSync(dir);
    const files = all.filter((x) => !x.endsWith('.handover') && x !== 'handover-key');
    assert.equal(files.length, 9, 'one per machine, and the workers\' bootstrap tokens');
    for (const f of files) assert.equal(statSync(path.join(dir, f)).mode & 0o777, 0o600, f);
    for (const f of files.filter((x) => x !== 'bootstrap-tokens.yaml')) assert.ok(readFileSync(path.join(dir, f), 'utf8').startsWith('#cloud-config\n'));
    // Control-plane keys: a tree per node to copy over SFTP, and the key allowed to.
    const trees = all.filter((x) => x.endsWith('.handover'));
    assert.deepEqual(trees.map((x) => x.replace(/-\w+\.handover$/, '')), ['demo-cp', 'demo-cp', 'demo-cp']);
    assert.equal(statSync(path.join(dir, trees[0]!, 'var/lib/kubernetes/ca.key')).mode & 0o777, 0o600);
    assert.equal(statSync(path.join(dir, 'handover-key')).mode & 0o777, 0o600);
    assert.match(readFileSync(path.join(dir, 'handover-key'), 'utf8'), /^-----BEGIN OPENSSH PRIVATE KEY-----/);
    assert.ok(out.some((l) => l.includes('over SFTP')));
    // Each worker's token is one of the Secrets to apply.
    const tokens = readFileSync(path.join(dir, 'bootstrap-tokens.yaml'), 'utf8');
    for (const f of files.filter((x) => x.includes('-worker-'))) {
      const [, id, secret] = /token: ([a-z0-9]{6})\.([a-z0-9]{16})/.exec(readFileSync(path.join(dir, f), 'utf8'))!;
      assert.match(tokens, new RegExp(`token-id: ${id}\\n\\s+token-secret: ${secret}`), f);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('render refuses invalid input with the field path, and bad usage', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'hardway-render-'));
  try {
    const bad = readFileSync(path.join(samplesDir, 'etcdcluster.yaml'), 'utf8').replace('replicas: 3', 'replicas: 4');
    writeFileSync(path.join(dir, 'etcd.yaml'), bad);
    const r = capture(['render', '-f', path.join(dir, 'etcd.yaml'), '-f', path.join(samplesDir, 'controlplane.yaml')]);
    assert.equal(r.code, 1);
    assert.match(r.err.join('\n'), /EtcdCluster\/demo: spec\.replicas: must be one of 1, 3, 5, 7; got 4/);
    const missing = capture(['render', '-f', path.join(samplesDir, 'controlplane.yaml')]);
    assert.equal(missing.code, 1);
    assert.match(missing.err.join('\n'), /exactly one EtcdCluster and one ControlPlane; found 0 and 1/);
    assert.equal(capture(['render']).code, 2);
    assert.equal(capture(['deploy']).code, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
