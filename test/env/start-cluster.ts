// Starts the test control plane and keeps it running until interrupted, for trying the operator by hand:
//   npx tsx test/env/start-cluster.ts        → prints KUBECONFIG=... and HARDWAY_KUBECTL=...
// With --env-line it prints one JSON line with the same facts (test/run.mjs reads it).
import { startCluster, kubectlPath } from './cluster.ts';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cluster = await startCluster({ controllerManager: true });
if (!process.argv.includes('--no-crds')) {
  // 1.20 predates CEL: kubectl's client-side check would refuse x-kubernetes-validations; the server drops it.
  execFileSync(kubectlPath, ['--kubeconfig', cluster.kubeconfig, 'apply', '--validate=false', '-f', path.join(root, 'crds')], { stdio: 'ignore' });
  execFileSync(kubectlPath, ['--kubeconfig', cluster.kubeconfig, 'wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all'], { stdio: 'ignore' });
}
const facts = { KUBECONFIG: cluster.kubeconfig, HARDWAY_KUBECTL: kubectlPath, HARDWAY_TEST_CLUSTER_DIR: cluster.dir };
if (process.argv.includes('--env-line')) {
  console.log(JSON.stringify(facts));
} else {
  for (const [k, v] of Object.entries(facts)) console.log(`export ${k}=${v}`);
  console.log('# logs of etcd and the API server are in HARDWAY_TEST_CLUSTER_DIR; Ctrl-C stops everything');
}
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void cluster.stop().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (process.argv.includes('--env-line')) {
  // Driven by a parent (test/run.mjs): when it goes away, so do we, even if it was killed.
  process.stdin.resume();
  process.stdin.on('end', stop);
} else {
  setInterval(() => {}, 1 << 30);
}
