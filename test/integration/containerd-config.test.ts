// The containerd config the operator renders (version 3, for containerd 2.x), read by a real containerd 2.x:
// Debian unstable's (test/env/fetch-node-bin.sh). The machines run containerd 1.6 (kubelet v1.20 needs CRI
// v1alpha2, which 2.0 removed) behind a translation, so this is where the config itself meets containerd 2.
// containerd only warns about a key it does not know ("Ignoring unknown key in TOML for plugin") and goes on
// without it: here any such warning fails, and every value we set must be in the config it ends up with.
// The runtime's `options` table is passed to the runc shim as is (containerd keeps unknown keys there), so
// its keys are checked against the runc shim's Options message instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { containerdConfig } from '../../src/bootstrap/configs.ts';
import { nodeBinDir } from '../helpers/node-binaries.ts';

const containerd2 = path.join(nodeBinDir, 'containerd2/usr/bin/containerd');

/**
 * Fields of the runc shim's Options (containerd api/types/runc/options/oci.proto at v2.0.7, v2.1.5 and
 * v2.2.0, the releases the operator installs; identical in the three), as TOML keys (the Go field names).
 */
const RUNC_OPTIONS = ['NoPivotRoot', 'NoNewKeyring', 'ShimCgroup', 'IoUid', 'IoGid', 'BinaryName', 'Root', 'SystemdCgroup', 'CriuImagePath', 'CriuWorkPath', 'TaskApiAddress', 'TaskApiVersion'];

/** TOML as JSON, by Python's tomllib (no TOML parser among our dependencies). */
const tomlToJson = (text: string): any => JSON.parse(execFileSync('python3', ['-c', 'import sys, json, tomllib; print(json.dumps(tomllib.loads(sys.stdin.read())))'], { input: text, encoding: 'utf8' }));

/** Every leaf of a parsed TOML document, as [path, value]. */
function leaves(o: any, at: string[] = []): [string[], unknown][] {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return [[at, o]];
  return Object.entries(o).flatMap(([k, v]) => leaves(v, [...at, k]));
}

test('containerd 2.x reads the rendered config without an unknown key, and keeps every value we set', () => {
  assert.ok(existsSync(containerd2), `no containerd 2.x at ${containerd2}: run test/env/setup.sh (test/env/fetch-node-bin.sh)`);
  const version = execFileSync(containerd2, ['--version'], { encoding: 'utf8' });
  assert.match(version, / 2\.\d+\.\d+/);
  const dir = mkdtempSync(path.join(tmpdir(), 'hardway-containerd2-'));
  try {
    const file = path.join(dir, 'config.toml');
    const dump = (text: string) => {
      writeFileSync(file, text);
      const r = spawnSync(containerd2, ['--config', file, 'config', 'dump'], { encoding: 'utf8' });
      return { code: r.status, out: r.stdout, warnings: r.stderr.split('\n').filter((l) => /level=(warning|error|fatal)/.test(l)) };
    };
    const ours = dump(containerdConfig);
    assert.equal(ours.code, 0, ours.warnings.join('\n'));
    assert.deepEqual(ours.warnings, [], `containerd ${version.trim()} ignored part of the config`);
    const effective = tomlToJson(ours.out);
    const rendered = tomlToJson(containerdConfig);
    assert.equal(effective.version, 3, 'read as a version 3 config (no migration)');
    for (const [at, value] of leaves(rendered)) {
      const got = at.reduce<any>((o, k) => o?.[k], effective);
      assert.deepEqual(got, value, `${at.join('.')} = ${JSON.stringify(value)} in the effective config`);
    }
    const options = rendered.plugins['io.containerd.cri.v1.runtime'].containerd.runtimes.runc.options as Record<string, unknown>;
    for (const k of Object.keys(options)) assert.ok(RUNC_OPTIONS.includes(k), `${k} is a field of the runc shim's Options`);

    // The check can fail: a misspelt key is warned about, and its value is not in the effective config.
    const typo = dump(containerdConfig.replace("conf_dir = '/etc/cni/net.d'", "conf_dirs = '/etc/cni/net.d'"));
    assert.match(typo.warnings.join('\n'), /unknown key.*conf_dirs/i);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
