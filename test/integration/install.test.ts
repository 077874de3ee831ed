// Installing the operator the way people do, against a real kube-apiserver (v1.20): the Helm chart rendered
// by Go's text/template + sprig and the kustomize config (kubectl's built-in kustomize) apply cleanly, and
// the operator started from what they install becomes ready. There is no container runtime here, so the
// Deployment's pod is played by a process: the container's args and env from the rendered Deployment, and
// the identity of its ServiceAccount (a token from the TokenRequest API), so only the RBAC the chart or
// config/rbac grants is available to it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { kubeEnv, freshNamespace, type KubeEnv } from './env.ts';
import { renderChart, find, type Manifest } from '../helpers/chart.ts';
import { freePort, kubectlPath } from '../env/cluster.ts';
import { Leases, EtcdClusters, ControlPlanes, WorkerPools } from '../../src/kube/resources.ts';
import type { KObject } from '../../src/kube/port.ts';
import type { Lease } from '../../src/runtime/leader.ts';
import { runHealth } from '../argocd/lua.ts';
import { ARGOCD_DIR } from '../../src/api/argocd.ts';
import { repoRoot } from '../helpers/samples.ts';

const run = promisify(execFile);
let env: KubeEnv;
const work = mkdtempSync(path.join(tmpdir(), 'hardway-install-'));
/** Tests never reach the internet: the clouds are a closed port on loopback here. */
const NO_CLOUD = ['--digitalocean-api-url=http://127.0.0.1:9', '--cloudflare-api-url=http://127.0.0.1:9'];
before(async () => (env = await kubeEnv()));
after(async () => {
  await env?.close();
  rmSync(work, { recursive: true, force: true });
});

interface Container {
  args: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
}
const containerOf = (d: Manifest): Container => (d.spec as { template: { spec: { containers: Container[] } } }).template.spec.containers[0]!;
const serviceAccountOf = (d: Manifest): string => (d.spec as { template: { spec: { serviceAccountName: string } } }).template.spec.serviceAccountName;

/** A kubeconfig that authenticates as the ServiceAccount (a bound token from the TokenRequest API). */
async function serviceAccountKubeconfig(namespace: string, name: string): Promise<string> {
  const request = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } });
  const out = JSON.parse(await env.kubectlInput(request, 'create', '--raw', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, '-f', '-'));
  const admin = parse(readFileSync(env.kubeconfig, 'utf8'));
  const file = path.join(work, `${namespace}-${name}.kubeconfig`);
  writeFileSync(file, JSON.stringify({ ...admin, users: [{ name: 'admin', user: { token: out.status.token } }] }));
  return file;
}

interface Pod {
  child: ChildProcess;
  port: number;
  lines: Record<string, unknown>[];
  /** Emits 'line' for every log line. */
  bus: EventEmitter;
  exit: Promise<number | null>;
}

/** Runs the operator as the Deployment's container would run: its args and env, the pod's namespace. */
async function runAsPod(deployment: Manifest, kubeconfig: string): Promise<Pod> {
  const c = containerOf(deployment);
  const port = await freePort();
  const podEnv: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.value !== undefined) podEnv[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') podEnv[e.name] = deployment.metadata.namespace!;
    else throw new Error(`env ${e.name}: unsupported valueFrom in this test`);
  }
  const args = c.args.map((a) => (a.startsWith('--metrics-bind-address=') ? `--metrics-bind-address=127.0.0.1:${port}` : a));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args, ...NO_CLOUD], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    // In a pod the in-cluster config applies; here HARDWAY_KUBECONFIG points at the ServiceAccount's token.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...podEnv, HARDWAY_KUBECONFIG: kubeconfig },
  });
  const pod: Pod = { child, port, lines: [], bus: new EventEmitter(), exit: new Promise((res) => child.on('exit', (code) => res(code))) };
  const add = (entry: Record<string, unknown>) => (pod.lines.push(entry), pod.bus.emit('line', entry));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      add(JSON.parse(line));
    } catch {
      add({ msg: line });
    }
  });
  child.stderr!.on('data', (d) => add({ stderr: String(d) }));
  return pod;
}

/** Resolves with the first log line (already logged or to come) that matches. */
function logLine(pod: Pod, match: RegExp): Promise<Record<string, unknown>> {
  const seen = pod.lines.find((l) => match.test(JSON.stringify(l)));
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const on = (l: Record<string, unknown>) => match.test(JSON.stringify(l)) && (pod.bus.off('line', on), resolve(l));
    pod.bus.on('line', on);
    void pod.exit.then((code) => reject(new Error(`exited (${code}) before logging ${match}: ${JSON.stringify(pod.lines.slice(-5))}`)));
  });
}

/** Polls the pod's /readyz until 200, as the kubelet's readiness probe does. */
async function becomesReady(pod: Pod, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void pod.exit.then(() => (exited = true));
  while (Date.now() < deadline && !exited) {
    const status = await fetch(`http://127.0.0.1:${pod.port}/readyz`).then((r) => r.status, () => 0);
    if (status === 200) return;
    // Polling another process's endpoint with a deadline, like the kubelet: there is no event to wait for.
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`/readyz did not answer 200 (exited: ${exited}); last log lines: ${JSON.stringify(pod.lines.slice(-8))}`);
}

async function stop(pod: Pod): Promise<number | null> {
  pod.child.kill('SIGTERM');
  return pod.exit;
}

/** No request of the operator was refused: RBAC grants what it uses. */
function assertNoForbidden(pod: Pod) {
  const refused = pod.lines.filter((l) => /forbidden|unauthorized/i.test(JSON.stringify(l)));
  assert.deepEqual(refused, [], 'the operator was refused something');
}

/** Holds a Lease for someone else (renewing it), so an operator that watches every namespace of the shared
 * test API server stays a standby: ready, caches synced, reconciling nothing that belongs to other tests. */
async function holdLease(namespace: string, name: string): Promise<() => void> {
  const spec = () => ({ holderIdentity: 'test-holder', leaseDurationSeconds: 15, renewTime: new Date().toISOString().replace('Z', '000Z') });
  await env.kube.create<Lease>(Leases, { metadata: { name, namespace }, spec: spec() } as Lease).catch(async () => {
    await env.kube.mergePatch(Leases, { namespace, name }, { spec: spec() });
  });
  const timer = setInterval(() => void env.kube.mergePatch(Leases, { namespace, name }, { spec: spec() }).catch(() => undefined), 2_000);
  return () => clearInterval(timer);
}

/** `kubectl auth can-i` as the ServiceAccount (impersonated by the admin): "yes" or "no". */
async function canI(verb: string, resource: string, namespace: string, sa: string): Promise<string> {
  const kubectl = process.env.HARDWAY_KUBECTL ?? kubectlPath;
  // can-i exits 1 when the answer is no; its answer is on stdout either way.
  const out = await run(kubectl, ['--kubeconfig', env.kubeconfig, 'auth', 'can-i', verb, resource, '-n', namespace, `--as=system:serviceaccount:${sa}`], { encoding: 'utf8' }).then(
    (r) => r.stdout,
    (e: { stdout?: string }) => e.stdout ?? '',
  );
  return out.trim();
}

test('Helm chart, one watched namespace: applies to the real API server; the operator runs as its ServiceAccount, leads, reconciles the samples and is ready', { timeout: 180_000 }, async () => {
  const releaseNs = await freshNamespace(env, 'chart');
  const watchNs = await freshNamespace(env, 'chart-watch');
  const { text, docs } = await renderChart({ name: `hw-${process.pid}`, namespace: releaseNs, set: { watchNamespace: watchNs } });
  const applied = await env.kubectlInput(text, 'apply', '--validate=false', '-f', '-');
  for (const d of docs.filter((x) => x.kind !== 'CustomResourceDefinition')) {
    assert.match(applied, new RegExp(`${d.kind.toLowerCase()}[^ ]*/${d.metadata.name} created`), `${d.kind} ${d.metadata.name}`);
  }
  const deployment = find(docs, 'Deployment');
  const sa = `${releaseNs}:${serviceAccountOf(deployment)}`;
  // The grants, as the API server's authorizer sees them.
  assert.equal(await canI('list', 'secrets', watchNs, sa), 'yes');
  assert.equal(await canI('patch', 'etcdclusters.hardway.dev/status', watchNs, sa), 'yes');
  assert.equal(await canI('list', 'secrets', 'default', sa), 'no');
  assert.equal(await canI('list', 'etcdclusters.hardway.dev', releaseNs, sa), 'no');
  assert.equal(await canI('create', 'leases.coordination.k8s.io', releaseNs, sa), 'yes');
  assert.equal(await canI('delete', 'etcdclusters.hardway.dev', watchNs, sa), 'no');

  await env.kubectl('apply', '-n', watchNs, '-f', 'config/samples/');
  const pod = await runAsPod(deployment, await serviceAccountKubeconfig(releaseNs, serviceAccountOf(deployment)));
  try {
    await becomesReady(pod);
    assert.equal((await fetch(`http://127.0.0.1:${pod.port}/healthz`)).status, 200);
    // It leads (Lease in the release namespace) and reconciles: finalizers, conditions, observedGeneration.
    await env.kubectl('wait', '-n', watchNs, '--for=condition=Paused=false', '--timeout=60s', 'etcdcluster/demo', 'controlplane/demo', 'workerpool/demo-general');
    const lease = await env.kube.get<Lease>(Leases, { namespace: releaseNs, name: 'hardway-operator' });
    assert.match(lease.spec?.holderIdentity ?? '', /.+/);
    assert.match(await (await fetch(`http://127.0.0.1:${pod.port}/metrics`)).text(), /hardway_leader 1/);
    for (const [r, name] of [[EtcdClusters, 'demo'], [ControlPlanes, 'demo'], [WorkerPools, 'demo-general']] as const) {
      const o = await env.kube.get<KObject & { status?: { observedGeneration?: number; conditions?: { type: string }[] } }>(r, { namespace: watchNs, name });
      assert.ok(o.metadata.finalizers?.length, `${r.kind} has its finalizer`);
      assert.equal(o.status?.conditions?.[0]?.type, 'Ready');
      // Argo CD's view of the live object: the clouds are unreachable here, so it is converging.
      const health = await runHealth(path.join(repoRoot, ARGOCD_DIR, 'health.lua'), o);
      assert.equal(health.status, 'Progressing', `${r.kind}: ${health.message}`);
    }
    assertNoForbidden(pod);
  } finally {
    assert.equal(await stop(pod), 0, 'SIGTERM: exits 0');
  }
});

test('without the chart\'s RBAC (rbac.create=false) the same process is refused and never ready: the grants above are what made it ready', { timeout: 60_000 }, async () => {
  const releaseNs = await freshNamespace(env, 'chart-norbac');
  const { text, docs } = await renderChart({ name: `hw-norbac-${process.pid}`, namespace: releaseNs, set: { watchNamespace: releaseNs, 'rbac.create': false }, skipCrds: true });
  await env.kubectlInput(text, 'apply', '-f', '-');
  const deployment = find(docs, 'Deployment');
  const pod = await runAsPod(deployment, await serviceAccountKubeconfig(releaseNs, serviceAccountOf(deployment)));
  try {
    await logLine(pod, /forbidden/i);
    assert.equal((await fetch(`http://127.0.0.1:${pod.port}/readyz`)).status, 503);
  } finally {
    await stop(pod);
  }
});

test('Helm chart, all namespaces (ClusterRole): applies, and the operator as its ServiceAccount syncs every namespace and is ready as a standby', { timeout: 120_000 }, async () => {
  const releaseNs = await freshNamespace(env, 'chart-all');
  const release = `hw-all-${process.pid}`;
  const { text, docs } = await renderChart({ name: release, namespace: releaseNs });
  await env.kubectlInput(text, 'apply', '--validate=false', '-f', '-');
  const deployment = find(docs, 'Deployment');
  const sa = `${releaseNs}:${serviceAccountOf(deployment)}`;
  assert.equal(await canI('list', 'etcdclusters.hardway.dev', 'default', sa), 'yes');
  assert.equal(await canI('list', 'configmaps', 'default', sa), 'no');
  const release_ = await holdLease(releaseNs, 'hardway-operator');
  const pod = await runAsPod(deployment, await serviceAccountKubeconfig(releaseNs, serviceAccountOf(deployment)));
  try {
    await becomesReady(pod);
    assert.match(await (await fetch(`http://127.0.0.1:${pod.port}/metrics`)).text(), /hardway_leader 0/);
    assertNoForbidden(pod);
  } finally {
    release_();
    assert.equal(await stop(pod), 0);
    // Cluster-scoped objects of this release go; the CRDs stay (other tests use them).
    await env.kubectl('delete', 'clusterrole,clusterrolebinding', `${release}-hardway-operator`);
  }
});

test('kustomize: kubectl kustomize config/default renders; kubectl apply -k installs; the operator as hardway-operator is ready; the samples apply with -k', { timeout: 120_000 }, async () => {
  const rendered = await env.kubectl('kustomize', 'config/default');
  const docs = parseAllDocuments(rendered).map((d) => d.toJS() as Manifest);
  assert.deepEqual(
    docs.map((d) => d.kind).sort(),
    ['ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'CustomResourceDefinition', 'CustomResourceDefinition', 'Deployment', 'Namespace', 'Role', 'RoleBinding', 'Service', 'ServiceAccount'],
  );
  for (const d of docs.filter((x) => !['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding'].includes(x.kind))) assert.equal(d.metadata.namespace, 'hardway-system', d.kind);
  const applied = await env.kubectl('apply', '-k', 'config/default', '--validate=false');
  assert.match(applied, /deployment.apps\/hardway-operator (created|configured|unchanged)/);
  assert.match(applied, /customresourcedefinition.apiextensions.k8s.io\/etcdclusters.hardway.dev (created|configured|unchanged)/);
  const deployment = docs.find((d) => d.kind === 'Deployment')!;
  const stopHolding = await holdLease('hardway-system', 'hardway-operator');
  const pod = await runAsPod(deployment, await serviceAccountKubeconfig('hardway-system', serviceAccountOf(deployment)));
  try {
    await becomesReady(pod);
    assertNoForbidden(pod);
  } finally {
    stopHolding();
    assert.equal(await stop(pod), 0);
  }
  const ns = await freshNamespace(env, 'kustomize-samples');
  const samples = await env.kubectl('apply', '-k', 'config/samples', '-n', ns);
  assert.match(samples, /etcdcluster.hardway.dev\/demo created/);
  const etcd = await env.kube.get<KObject>(EtcdClusters, { namespace: ns, name: 'demo' });
  assert.equal(etcd.metadata.annotations?.['argocd.argoproj.io/sync-wave'], '1');
});
