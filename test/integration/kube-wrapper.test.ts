// The wrappers the test release server serves in place of the Kubernetes v1.32–v1.35 binaries
// (test/helpers/kube-wrapper.ts): every flag and config field the operator renders, for every supported
// minor, is one that minor knows (checked against lists from upstream's source); anything unknown is
// refused with the release and commit it was checked against; and what v1.20 cannot take is translated,
// loudly, so that the real v1.20.2 binary accepts it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, chmodSync, rmSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { renderCluster } from '../../src/bootstrap/cluster.ts';
import { RELEASES } from '../../src/bootstrap/manifest.ts';
import type { RenderedNode } from '../../src/bootstrap/roles.ts';
import { kubeWrapper, upstreamLists, KUBE_BINARIES } from '../helpers/kube-wrapper.ts';
import { execStart } from '../helpers/etcd.ts';
import { realRenderContext } from '../helpers/cluster.ts';
import { sampleOf } from '../helpers/samples.ts';
import { kubeBinDir } from '../env/cluster.ts';
import type { EtcdCluster, ControlPlane, WorkerPool } from '../../src/api/v1alpha1/index.ts';

const run = promisify(execFile);
const work = mkdtempSync(path.join(tmpdir(), 'hardway-kube-wrapper-'));
after(() => rmSync(work, { recursive: true, force: true }));

function wrapper(version: string, bin: (typeof KUBE_BINARIES)[number]): string {
  const dir = path.join(work, version);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, bin);
  writeFileSync(file, kubeWrapper(version, bin, kubeBinDir));
  chmodSync(file, 0o755);
  return file;
}

async function call(file: string, args: string[], env: Record<string, string> = {}) {
  return run(file, args, { env: { ...process.env, HARDWAY_WRAPPER_RUN_DIR: path.join(work, 'run'), ...env }, timeout: 30_000 })
    .then((r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }))
    .catch((e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));
}

function sampleCluster(version: string): RenderedNode[] {
  const cp = sampleOf('ControlPlane') as unknown as ControlPlane;
  cp.spec.version = version;
  const wp = sampleOf('WorkerPool') as unknown as WorkerPool;
  delete wp.spec.version;
  return renderCluster({ etcd: sampleOf('EtcdCluster') as unknown as EtcdCluster, controlPlane: cp, workerPools: [wp] }, realRenderContext()).nodes;
}

/** A unit's arguments as the node would pass them, with file paths (configs) moved under root. */
function unitArgs(node: RenderedNode, bin: string, root: string): string[] | undefined {
  const unit = node.files.find((f) => f.path === `/etc/systemd/system/${bin}.service`);
  if (!unit) return undefined;
  for (const f of node.files) {
    const target = path.join(root, f.path);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, f.content);
  }
  return execStart(unit.content, { PRIVATE_IPV4: '10.10.0.10', PUBLIC_IPV4: '198.18.0.10' })
    .slice(1)
    .map((a) => a.replace(/^--config=/, `--config=${root}`));
}

for (const minor of Object.keys(RELEASES)) {
  test(`Kubernetes ${minor}: every flag and config field rendered for control-plane and worker nodes is known to that minor`, async () => {
    const version = `v${minor}.0`;
    const nodes = sampleCluster(version).filter((n) => n.role !== 'etcd');
    assert.deepEqual([...new Set(nodes.map((n) => n.role))].sort(), ['control-plane', 'worker']);
    let checked = 0;
    for (const node of nodes) {
      for (const bin of KUBE_BINARIES) {
        const args = unitArgs(node, bin, path.join(work, 'roots', version, node.name));
        if (!args) continue;
        const r = await call(wrapper(version, bin), args, { HARDWAY_WRAPPER_DRY_RUN: '1' });
        assert.equal(r.code, 0, `${node.role} ${bin}: ${r.stderr}`);
        checked++;
      }
    }
    // control plane: five binaries; worker: kubelet and kube-proxy.
    assert.equal(checked, 5 * nodes.filter((n) => n.role === 'control-plane').length + 2 * nodes.filter((n) => n.role === 'worker').length);
  });
}

test('a flag or config field the minor does not know stops the binary, naming the release and commit it was checked against', async () => {
  const lists = upstreamLists('1.34');
  const apiserver = wrapper('v1.34.0', 'kube-apiserver');
  const unknownFlag = await call(apiserver, ['--secure-port=6443', '--insecure-port=0']);
  assert.equal(unknownFlag.code, 2);
  assert.match(unknownFlag.stderr, new RegExp(`unknown flag --insecure-port \\(not in Kubernetes v1\\.34\\.0, commit ${lists.commit}\\)`));
  // Removed in v1.33 (the lists' overlay cites the change); still a flag of v1.32.
  assert.equal((await call(wrapper('v1.33.0', 'kube-apiserver'), ['--cloud-provider=external'], { HARDWAY_WRAPPER_DRY_RUN: '1' })).code, 2);
  assert.equal((await call(wrapper('v1.32.0', 'kube-apiserver'), ['--cloud-provider=external'], { HARDWAY_WRAPPER_DRY_RUN: '1' })).code, 0);

  const config = path.join(work, 'bad-kubelet.yaml');
  writeFileSync(config, 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  x509:\n    clientCAFile: /ca.crt\n    clientCAFiles: /typo.crt\n');
  const badField = await call(wrapper('v1.34.0', 'kubelet'), [`--config=${config}`]);
  assert.equal(badField.code, 2);
  assert.match(badField.stderr, /unknown KubeletConfiguration field\(s\) authentication\.x509\.clientCAFiles/);
});

test('what v1.20 cannot take is translated, loudly, and the real v1.20.2 binary accepts the result', async () => {
  const [node] = sampleCluster('v1.34.0').filter((n) => n.role === 'control-plane');
  const root = path.join(work, 'translate');
  // kube-scheduler: its v1 config read as v1beta1; the real v1.20 scheduler gets past the config (and
  // then stops at the node's certificate files, which are not there outside a machine).
  const scheduler = await call(wrapper('v1.34.0', 'kube-scheduler'), unitArgs(node!, 'kube-scheduler', root)!);
  assert.match(scheduler.stderr, /config read as kubescheduler\.config\.k8s\.io\/v1beta1/);
  assert.doesNotMatch(scheduler.stderr, /no kind "KubeSchedulerConfiguration" is registered/);
  assert.match(scheduler.stderr, /open \/var\/lib\/kubernetes\/\S+: no such file or directory/);
  // kubelet (not started on this machine): the fields v1.20 would ignore become its flags.
  const kubelet = await call(wrapper('v1.34.0', 'kubelet'), unitArgs(node!, 'kubelet', root)!, { HARDWAY_WRAPPER_DRY_RUN: '1' });
  assert.equal(kubelet.code, 0, kubelet.stderr);
  const argv = JSON.parse(kubelet.stdout) as string[];
  assert.ok(argv.includes('--container-runtime=remote') && argv.includes('--container-runtime-endpoint=unix:///run/containerd/containerd.sock'), argv.join(' '));
  assert.ok(argv.includes('--register-with-taints=node-role.kubernetes.io/control-plane:NoSchedule'), argv.join(' '));
  const translated = readFileSync(path.join(work, 'run/kubelet-config.yaml'), 'utf8');
  assert.doesNotMatch(translated, /containerRuntimeEndpoint|registerWithTaints/);
  assert.match(kubelet.stderr, /containerRuntimeEndpoint passed as --container-runtime=remote/);
});
