// A real Kubernetes control plane for tests, on loopback: etcd 3.5 (test/env/fetch-etcd.sh), and kube-apiserver plus
// kube-controller-manager built by test/env/build-kube.sh. Free ports, a generated CA and serving
// certificate, and a static admin token; tests get a kubeconfig file.
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync, createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'node:https';
import { randomBytes } from 'node:crypto';
import { tmpdir, homedir } from 'node:os';
import path from 'node:path';

/** ~/.cache/hardway, or HARDWAY_CACHE_DIR: every cached build the tests use. */
export const cacheDir = process.env.HARDWAY_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'hardway');
export const kubeBinDir = path.join(cacheDir, 'kubernetes/bin');
export const kubectlPath = path.join(kubeBinDir, 'kubectl');
/**
 * etcd 3.5 from Debian unstable, cached by test/env/fetch-etcd.sh (the operator deploys 3.5 and 3.6;
 * bookworm's own etcd is 3.4). Every real etcd in the tests, the sandbox and the management cluster is this one.
 */
export const etcdPath = path.join(cacheDir, 'etcd/bin/etcd');

export function kubeBinariesPresent(): boolean {
  return ['kube-apiserver', 'kube-controller-manager', 'kubectl'].every((b) => existsSync(path.join(kubeBinDir, b)));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

interface Proc {
  child: ChildProcess;
  exited: Promise<number | null>;
}

function run(name: string, bin: string, args: string[], logDir: string): Proc {
  const log = createWriteStream(path.join(logDir, `${name}.log`), { flags: 'a' });
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited };
}

async function stopProc(p: Proc | undefined, signal: NodeJS.Signals = 'SIGTERM') {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  await p.exited;
  clearTimeout(timer);
}

function openssl(args: string[], cwd: string) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, a serving certificate for 127.0.0.1/localhost, and a service-account key pair. */
function makePki(dir: string) {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=hardway-test-ca'], dir);
  writeFileSync(path.join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver'], dir);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.cnf'], dir);
  openssl(['genrsa', '-out', 'sa.key', '2048'], dir);
  openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
}

export interface TestCluster {
  /** Path of an admin kubeconfig. */
  kubeconfig: string;
  server: string;
  token: string;
  caPem: string;
  dir: string;
  /** etcd's client URL (plain HTTP on loopback) and the key prefix this API server stores under. */
  etcdUrl: string;
  etcdPrefix: string;
  /** Stops and starts the API server on the same port and storage (informer-survival tests). */
  restartApiServer(): Promise<void>;
  stopApiServer(): Promise<void>;
  startApiServer(): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** Start kube-controller-manager too (namespace deletion, garbage collection). */
  controllerManager?: boolean;
  /** Use an existing etcd (share one across API servers by giving each its own prefix). */
  etcdUrl?: string;
  /** --encryption-provider-config: a file the test may rewrite before restartApiServer(). */
  encryptionConfig?: string;
}

/**
 * Ready means /readyz answers and the `default` namespace exists: the API server creates it asynchronously
 * after it starts serving, and tests that write into it at once would race that.
 */
async function waitReady(server: string, token: string, ca: string, proc: Proc, what: string, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  let path = '/readyz';
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`${what} exited with ${proc.child.exitCode}`);
    last = await new Promise<string>((resolve) => {
      const req = request(`${server}${path}`, { ca, headers: { authorization: `Bearer ${token}` }, timeout: 2000 }, (res) => {
        res.resume();
        resolve(String(res.statusCode));
      });
      req.on('error', (e) => resolve(e.message));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
    if (last === '200' && path === '/readyz') {
      path = '/api/v1/namespaces/default';
      continue;
    }
    if (last === '200') return;
    // Polling an external process's readiness: there is no event to wait on.
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms (last: ${last})`);
}

export async function startCluster(opts: ClusterOptions = {}): Promise<TestCluster> {
  if (!kubeBinariesPresent()) {
    throw new Error(`kube binaries missing in ${kubeBinDir}: run test/env/setup.sh (or test/env/build-kube.sh)`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'hardway-kube-'));
  makePki(dir);
  const token = randomBytes(24).toString('hex');
  writeFileSync(path.join(dir, 'tokens.csv'), `${token},admin,admin,system:masters\n`);
  const caPem = readFileSync(path.join(dir, 'ca.crt'), 'utf8');

  let etcd: Proc | undefined;
  let etcdUrl = opts.etcdUrl;
  if (!etcdUrl) {
    const [client, peer] = [await freePort(), await freePort()];
    etcdUrl = `http://127.0.0.1:${client}`;
    etcd = run('etcd', etcdPath, [
      '--name=test',
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-cluster=test=http://127.0.0.1:${peer}`,
      '--unsafe-no-fsync', // test data; fsync only slows the 2-core CI machines down
    ], dir);
  }

  const port = await freePort();
  const server = `https://127.0.0.1:${port}`;
  const apiArgs = [
    `--etcd-servers=${etcdUrl}`,
    `--etcd-prefix=/registry-${path.basename(dir)}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${port}`,
    '--insecure-port=0',
    `--cert-dir=${dir}`,
    `--tls-cert-file=${path.join(dir, 'server.crt')}`,
    `--tls-private-key-file=${path.join(dir, 'server.key')}`,
    `--client-ca-file=${path.join(dir, 'ca.crt')}`,
    `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
    '--authorization-mode=RBAC',
    `--service-account-key-file=${path.join(dir, 'sa.pub')}`,
    `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
    '--service-account-issuer=https://kubernetes.default.svc',
    '--service-cluster-ip-range=10.0.0.0/24',
    '--enable-admission-plugins=NamespaceLifecycle',
    '--disable-admission-plugins=ServiceAccount',
    '--endpoint-reconciler-type=none',
    // Bootstrap tokens, as the control planes the operator builds accept them (workers join with one).
    '--enable-bootstrap-token-auth=true',
    ...(opts.encryptionConfig ? [`--encryption-provider-config=${opts.encryptionConfig}`] : []),
  ];
  let api: Proc | undefined;
  const startApiServer = async () => {
    api = run('kube-apiserver', path.join(kubeBinDir, 'kube-apiserver'), apiArgs, dir);
    await waitReady(server, token, caPem, api, 'kube-apiserver');
  };
  const stopApiServer = async () => stopProc(api);

  const kubeconfig = path.join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
      users: [{ name: 'admin', user: { token } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'admin', namespace: 'default' } }],
      'current-context': 'test',
    }),
  );

  let kcm: Proc | undefined;
  const stop = async () => {
    await stopProc(kcm);
    await stopApiServer();
    await stopProc(etcd);
    if (!process.env.HARDWAY_KEEP_TEST_CLUSTER) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await startApiServer();
    if (opts.controllerManager) {
      kcm = run('kube-controller-manager', path.join(kubeBinDir, 'kube-controller-manager'), [
        `--kubeconfig=${kubeconfig}`,
        '--port=0',
        '--secure-port=0',
        '--leader-elect=false',
        '--controllers=namespace,garbagecollector',
        '--use-service-account-credentials=false',
      ], dir);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    kubeconfig,
    server,
    token,
    caPem,
    dir,
    etcdUrl,
    etcdPrefix: `/registry-${path.basename(dir)}`,
    startApiServer,
    stopApiServer,
    restartApiServer: async () => {
      await stopApiServer();
      await startApiServer();
    },
    stop,
  };
}

const execFileAsync = promisify(execFile);

/** Runs kubectl against a kubeconfig, with optional stdin; rejects with kubectl's stderr. */
export async function runKubectl(kubectl: string, kubeconfig: string, args: string[], input?: string): Promise<string> {
  const child = execFileAsync(kubectl, ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (input !== undefined) child.child.stdin!.end(input);
  try {
    return (await child).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`kubectl ${args.join(' ')}: ${err.stderr || err.message}`);
  }
}
