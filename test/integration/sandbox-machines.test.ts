// `npm run sandbox -- --until-ready` as a user runs it, with its default: droplets that are real machines.
// It makes its own network namespace (as root), its own management API server, boots the samples' droplets
// as machines, shows their progress live (cloud-init, units started), exits 0 once all three objects are
// Ready, and leaves no machine running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { repoRoot } from '../helpers/samples.ts';

const nspawnForSandbox = () => {
  const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  return ps.split('\n').filter((l) => l.startsWith('systemd-nspawn') && l.includes('--network-bridge=hw-sandbox'));
};

test('npm run sandbox (machines): progress while machines boot, all Ready, exit 0, no machine left', { timeout: 1_200_000 }, async () => {
  // Outside the test run's namespace, as from a terminal: the sandbox makes its own.
  const env = { ...process.env };
  delete env.HARDWAY_TEST_NETNS;
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/sandbox/main.ts', '--until-ready', '--timeout=900'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  const tail = out.split('\n').slice(-40).join('\n');
  assert.equal(code, 0, tail);
  assert.match(out, /droplets are real machines/);
  // Live progress from inside the machines: cloud-init running, units as they start, cloud-init done.
  for (const role of ['etcd', 'cp', 'general-worker']) {
    assert.match(out, new RegExp(`machine demo-${role}-\\w+\\s+cloud-init running`), role);
    assert.match(out, new RegExp(`machine demo-${role}-\\w+\\s+cloud-init done`), role);
  }
  assert.match(out, /machine demo-etcd-\w+\s+active: .*etcd/);
  assert.match(out, /machine demo-cp-\w+\s+active: .*kube-apiserver/);
  assert.match(out, /machine demo-general-worker-\w+\s+active: .*kubelet/);
  assert.match(out, /alias kubectl='nsenter --net=\/proc\/\d+\/ns\/net /, 'kubectl from another terminal enters the sandbox namespace');
  assert.match(out, /all three objects Ready/);
  assert.match(out, /stopped: nothing left running/);
  assert.deepEqual(nspawnForSandbox(), [], 'no machine left running');
  const ready = /all three objects Ready, ([\d.]+) s after the start/.exec(out);
  console.log(`sandbox on machines: all Ready ${ready?.[1]} s after the start`);
});
