#!/usr/bin/env node
// `npm test`: runs every test file with node's test runner. Node 20 does not expand directories given to
// --test, so the files are listed here explicitly; zero files is a failure. When integration tests are
// among them, one real API server (test/env) is started for the whole run and stopped afterwards.
import { readdirSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const filter = process.argv.slice(2);

function testFiles(dir) {
  return readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.test.ts'))
    .map((e) => path.relative(root, path.join(e.parentPath ?? e.path, e.name)))
    .sort();
}

const files = [...testFiles('src'), ...testFiles('test')].filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('test/run.mjs: no test files found');
  process.exit(1);
}

const env = { ...process.env };
const integration = files.some((f) => f.startsWith('test/integration/'));
if (integration && env.HARDWAY_TEST_NETNS !== '1') {
  // A bare machine builds the cached binaries and the machines' root filesystem here (minutes, once; they
  // need the network); later runs reuse them.
  for (const script of ['build-kube.sh', 'build-rootfs.sh']) {
    const built = spawnSync('bash', [path.join(root, 'test/env', script)], { stdio: 'inherit' });
    if (built.status !== 0) {
      console.error(`test/run.mjs: test/env/${script} failed; run test/env/setup.sh first`);
      process.exit(1);
    }
  }
}
if (env.HARDWAY_TEST_NETNS !== '1') {
  // Every test runs in a network namespace of its own: loopback only, plus the bridges the machine tests
  // make (test/helpers/machine.ts), so no test can use an address outside it. Needs root (as the machine
  // tests do); without it the tests run in this namespace and the machine tests say why they cannot.
  if (process.getuid?.() === 0) {
    const inner = spawnSync('unshare', ['--net', '--', process.execPath, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit', env: { ...env, HARDWAY_TEST_NETNS: '1' } });
    process.exit(inner.status ?? 1);
  }
  console.error('test/run.mjs: not root: tests run in this network namespace and the machine tests will refuse to start');
} else if (spawnSync('ip', ['link', 'set', 'lo', 'up']).status !== 0) {
  console.error('test/run.mjs: cannot bring up loopback in the test network namespace');
  process.exit(1);
}
let cluster;
if (integration) {
  cluster = spawn(process.execPath, ['--import', 'tsx', 'test/env/start-cluster.ts', '--env-line'], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  const facts = await new Promise((resolve, reject) => {
    createInterface({ input: cluster.stdout }).once('line', (line) => resolve(JSON.parse(line)));
    cluster.once('exit', (code) => reject(new Error(`test cluster exited with ${code} before it was ready`)));
  }).catch((err) => {
    console.error(`test/run.mjs: ${err.message}`);
    process.exit(1);
  });
  env.HARDWAY_TEST_KUBECONFIG = facts.KUBECONFIG;
  env.HARDWAY_KUBECTL = facts.HARDWAY_KUBECTL;
  console.log(`# test API server: KUBECONFIG=${facts.KUBECONFIG}`);
}

const child = spawn(process.execPath, ['--import', 'tsx', '--test', ...files], { cwd: root, stdio: 'inherit', env });
const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
if (cluster) {
  const exited = new Promise((resolve) => cluster.once('exit', resolve));
  cluster.stdin.end(); // start-cluster.ts stops etcd and the API server when its stdin closes
  await exited;
}
process.exit(code);
