// A simulated Kubernetes node (control plane or worker), booted from its rendered user-data the way
// cloud-init and systemd would boot a droplet:
//
// - Its write_files go under the node's private root (its "disk"); paths in flags are moved there.
//   Kubeconfigs on that disk are adjusted in place: file paths moved under the root, and a server on
//   https://127.0.0.1:6443 (control-plane components talking to their own API server) becomes the node's
//   private address with tls-server-name 127.0.0.1, because several simulated nodes share this machine's
//   loopback. The certificate is still verified for 127.0.0.1, as on a droplet.
// - kube-apiserver and kube-controller-manager are the REAL binaries of the test environment (v1.20.2,
//   test/env/build-kube.sh), run from the rendered units' ExecStart with ${PRIVATE_IPV4}/${PUBLIC_IPV4}
//   filled in, inside a private mount namespace whose /etc/hosts is the fake Cloudflare zone (so the etcd
//   member names resolve). Flags the v1.20 binary does not have (from its --help, read once) are dropped, as
//   are admission plugins it does not know; --bind-address=0.0.0.0 becomes the node's private address; and
//   kube-controller-manager gets --port=0 (v1.20 also serves an insecure port, 10252 on every interface, that
//   newer releases no longer have and that two nodes on one machine would fight over). Every change is
//   written to the node's log. A process that exits is restarted after the unit's RestartSec (Restart=always).
// - kubelet, kube-proxy and kube-scheduler are in-process stand-ins (test/helpers/kubelet.ts): Nodes
//   register and stay Ready, but no pod is ever scheduled or run.
// - Known divergence: the API server advertises a loopback address, which is not a valid Endpoints IP, so
//   the `kubernetes` Service has no endpoints and the API server logs "unable to sync kubernetes service".
//   kube-controller-manager usually exits once at first start (RBAC not bootstrapped yet) and comes back
//   after RestartSec, as it does on a real node.
//
// Addresses: the real binaries listen on the private address only; their ports (6443, 10257) are forwarded
// from the public address by TCP proxies (test/helpers/tcp-proxy.ts) for the node's whole life. The
// stand-ins listen on both addresses themselves (0.0.0.0 in their configuration means the node's two
// addresses), so a stand-in that refused to start leaves its port closed on both.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync, chmodSync, readFileSync, existsSync } from 'node:fs';
import { request } from 'node:https';
import { checkServerIdentity } from 'node:tls';
import { promisify } from 'node:util';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import type { NodeFile } from '../../src/bootstrap/cloudconfig.ts';
import { HANDOVER_UNIT } from '../../src/bootstrap/handover.ts';
import { kubeBinDir } from '../env/cluster.ts';
import { execStart } from './etcd.ts';
import { SimKubelet, startKubeProxy, startScheduler, type AgentEnv } from './kubelet.ts';
import { forward, type Forwarder } from './tcp-proxy.ts';

export type ComponentState = 'starting' | 'running' | 'failed' | 'stopped';

export interface Component {
  name: string;
  /** running: the process (or stand-in) is up; failed: it refused to start or exited (reason says why). */
  state: ComponentState;
  reason?: string;
  /** How often systemd's Restart=always brought it back. */
  restarts: number;
  /** Recent output of a real process (its last lines). */
  output: string[];
}

export interface KubeTiming {
  /** Kubelet status updates and Lease renewals (a real kubelet: 10 s). */
  heartbeatMs: number;
  /** Kubelet registration retries while the API is unreachable or refuses. */
  registerRetryMs: number;
  /** Replaces the units' RestartSec when a real binary exits. */
  restartDelayMs?: number;
}

/** What the simulator gives a node. */
export interface NodeEnv {
  name: string;
  privateIp: string;
  publicIp?: string;
  /** The node's disk. */
  root: string;
  /** The zone as /etc/hosts, and a resolv.conf that fails every other lookup at once. */
  hostsFile: string;
  resolvFile: string;
  resolve(host: string): string[];
  timing: KubeTiming;
  /** Called on every log line and state change. */
  changed(): void;
}

const OUTPUT_LINES = 400;
/** Where files live on a node; anything else in a flag (URLs, HTTP paths) is left alone. */
const NODE_PATH = /^\/(etc|var|run|opt|usr|srv)\//;

// ------------------------------------------------------------------------------ binaries and flags

export interface BinaryInfo {
  version: string;
  flags: Set<string>;
  /** Admission plugins the binary knows (kube-apiserver). */
  admissionPlugins?: Set<string>;
}

const infoCache = new Map<string, Promise<BinaryInfo>>();
const run = promisify(execFile);

export function kubeBinary(name: string): string {
  return path.join(kubeBinDir, name);
}

/** The flags and version of a binary, from its --help and --version (asked once per test process). */
export function binaryInfo(bin: string): Promise<BinaryInfo> {
  let p = infoCache.get(bin);
  if (!p) {
    p = (async () => {
      if (!existsSync(bin)) throw new Error(`${bin} is missing: run test/env/setup.sh (or test/env/build-kube.sh)`);
      const help = await run(bin, ['--help'], { maxBuffer: 16 << 20 }).then(
        (r) => r.stdout + r.stderr,
        (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`,
      );
      const version = (await run(bin, ['--version'])).stdout.trim().replace(/^Kubernetes /, '');
      const flags = new Set([...help.matchAll(/^\s+(?:-\w, )?--([a-z0-9][a-z0-9-]*)/gm)].map((m) => m[1]!));
      const list = help.match(/--enable-admission-plugins[\s\S]*?Comma-delimited list of admission plugins: ([^.]*)\./)?.[1];
      return { version, flags, admissionPlugins: list ? new Set(list.split(/,\s*/).map((s) => s.trim())) : undefined };
    })();
    infoCache.set(bin, p);
  }
  return p;
}

export interface AdaptOptions {
  component: string;
  info: BinaryInfo;
  privateIp: string;
  onDisk(file: string): string;
  /** Flags to add when absent (name → value), each with the reason. */
  add?: { flag: string; value: string; why: string }[];
}

/**
 * A rendered unit's arguments as the test's binary can run them here: unknown flags and admission plugins
 * dropped, 0.0.0.0 bind addresses narrowed to the node's private address, node paths moved under its root.
 * Returns the arguments and a note per change.
 */
export function adaptFlags(args: string[], o: AdaptOptions): { args: string[]; notes: string[] } {
  const out: string[] = [];
  const notes: string[] = [];
  const given = new Set<string>();
  for (const a of args) {
    const m = a.match(/^--([^=]+)(?:=([\s\S]*))?$/);
    if (!m) {
      out.push(a);
      continue;
    }
    const name = m[1]!;
    let value = m[2];
    if (!o.info.flags.has(name)) {
      notes.push(`dropped ${a}: ${o.component} ${o.info.version} has no --${name}`);
      continue;
    }
    given.add(name);
    if (value !== undefined) {
      if (name === 'bind-address' && (value === '0.0.0.0' || value === '::')) {
        notes.push(`--bind-address=${value} → ${o.privateIp}: simulated nodes share this machine, each listens on its own private address (its public one is forwarded)`);
        value = o.privateIp;
      }
      if (name === 'enable-admission-plugins' && o.info.admissionPlugins) {
        const plugins = value.split(',');
        const unknown = plugins.filter((p) => !o.info.admissionPlugins!.has(p));
        if (unknown.length) {
          notes.push(`dropped admission plugin(s) ${unknown.join(', ')}: unknown to ${o.component} ${o.info.version}`);
          value = plugins.filter((p) => o.info.admissionPlugins!.has(p)).join(',');
          if (!value) continue;
        }
      }
      value = value
        .split(',')
        .map((v) => (NODE_PATH.test(v) ? o.onDisk(v) : v))
        .join(',');
    }
    out.push(value === undefined ? `--${name}` : `--${name}=${value}`);
  }
  for (const extra of o.add ?? []) {
    if (given.has(extra.flag) || !o.info.flags.has(extra.flag)) continue;
    out.push(`--${extra.flag}=${extra.value}`);
    notes.push(`added --${extra.flag}=${extra.value}: ${extra.why}`);
  }
  return { args: out, notes };
}

/** Runs a binary in a private mount namespace where the zone is /etc/hosts; it dies with the test process. */
export function spawnInZone(bin: string, args: string[], hostsFile: string, resolvFile: string): ChildProcess {
  return spawn(
    'setpriv',
    ['--pdeathsig', 'KILL', 'unshare', '-m', 'sh', '-c', 'mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/resolv.conf && shift && exec "$@"', hostsFile, resolvFile, bin, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

// ----------------------------------------------------------------------------------------- the node

const flagValue = (args: string[], name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

export class KubeNode {
  readonly components = new Map<string, Component>();
  /** What the simulator did and what each component reported, in order: "[component] message". */
  readonly log: string[] = [];
  /** The argument list each real binary was last started with. */
  readonly argv = new Map<string, string[]>();
  kubelet?: SimKubelet;
  /** The Kubernetes version the user-data installs (from its kubelet download URL). */
  readonly version: string;
  private readonly procs = new Map<string, ChildProcess>();
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private readonly closers: (() => Promise<void>)[] = [];
  private stopped = false;

  constructor(
    readonly env: NodeEnv,
    readonly files: NodeFile[],
    readonly role: 'control-plane' | 'worker',
  ) {
    const install = files.find((f) => f.path === '/usr/local/sbin/hardway-install')?.content ?? '';
    this.version = install.match(/\/release\/(v[^/]+)\/bin\/linux\/\w+\/kubelet\b/)?.[1] ?? 'v0.0.0-unknown';
  }

  get name(): string {
    return this.env.name;
  }
  get privateIp(): string {
    return this.env.privateIp;
  }
  get publicIp(): string | undefined {
    return this.env.publicIp;
  }
  get root(): string {
    return this.env.root;
  }

  note(component: string, message: string): void {
    this.log.push(`[${component}] ${message}`);
    this.env.changed();
  }

  onDisk = (file: string): string => (file.startsWith(this.env.root + '/') ? file : path.join(this.env.root, file));

  /** Reads a node file; a missing one fails with the node path, as Go's os.Open would say it. */
  read = (file: string): string => {
    try {
      return readFileSync(this.onDisk(file), 'utf8');
    } catch (e) {
      const p = this.onDisk(file).slice(this.env.root.length);
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`open ${p}: no such file or directory`);
      throw e;
    }
  };

  private unit(name: string): string | undefined {
    return this.files.find((f) => f.path === `/etc/systemd/system/${name}`)?.content;
  }

  private component(name: string): Component {
    let c = this.components.get(name);
    if (!c) {
      c = { name, state: 'starting', restarts: 0, output: [] };
      this.components.set(name, c);
    }
    return c;
  }

  private fail(name: string, reason: string) {
    const c = this.component(name);
    c.state = 'failed';
    c.reason = reason;
    this.note(name, `failed: ${reason}`);
  }

  private writeFiles(files: { path: string; content: string; permissions: string }[]) {
    for (const f of files) {
      const target = path.join(this.env.root, f.path);
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, f.content);
      chmodSync(target, Number.parseInt(f.permissions, 8));
    }
  }

  private keysArrived?: () => void;
  private readonly keys = new Promise<void>((r) => (this.keysArrived = r));

  /** The operator's hand-over (its files, then the marker), as the node's sshd would write them. */
  receive(files: { path: string; content: string; permissions: string }[], marker: string) {
    this.writeFiles([...files, { path: marker, content: 'handed over\n', permissions: '0644' }]);
    this.note('node', `keys handed over: ${files.length} files`);
    this.keysArrived!();
  }

  /**
   * cloud-init's write_files, then the units (apiserver first, as systemd's After= orders them); on a
   * control-plane node, once its keys are handed over (its units wait on ${HANDOVER_UNIT}).
   */
  async start(): Promise<void> {
    const { privateIp, publicIp } = this.env;
    this.writeFiles(this.files);
    if (this.unit(HANDOVER_UNIT)) {
      this.note('node', 'waiting for its keys to be handed over');
      await this.keys;
    }
    this.localKubeconfigs();
    const env = { PRIVATE_IPV4: privateIp, PUBLIC_IPV4: publicIp ?? '' };
    const args = (unit: string) => execStart(this.unit(unit)!, env).slice(1);
    if (this.unit('kube-apiserver.service')) {
      await this.startBinary('kube-apiserver', args('kube-apiserver.service'), 6443, []);
    }
    if (this.unit('kube-controller-manager.service')) {
      await this.startBinary('kube-controller-manager', args('kube-controller-manager.service'), 10257, [
        { flag: 'port', value: '0', why: 'v1.20 also serves an insecure port (10252 on every interface) that newer releases do not have and simulated nodes would share' },
      ]);
    }
    if (this.unit('kube-scheduler.service')) {
      await this.startStandIn('kube-scheduler', () => startScheduler(this.agentEnv('kube-scheduler'), args('kube-scheduler.service')));
    }
    if (this.unit('kubelet.service')) {
      await this.startStandIn('kubelet', async () => {
        const k = new SimKubelet(this.agentEnv('kubelet'), args('kubelet.service'), this.version);
        await k.start().catch(async (e: unknown) => {
          await k.stop();
          throw e;
        });
        this.kubelet = k;
        return () => k.stop();
      });
    }
    if (this.unit('kube-proxy.service')) {
      // A unit that waits for a file first (ExecStartPre `until [ -s FILE ]`: kubelet's certificate under
      // TLS bootstrap) starts once the file is there; the node's start does not wait for it.
      const waitsFor = /^ExecStartPre=.*until \[ -s (\S+) \]/m.exec(this.unit('kube-proxy.service')!)?.[1];
      const start = () => this.startStandIn('kube-proxy', () => startKubeProxy(this.agentEnv('kube-proxy'), args('kube-proxy.service')));
      if (!waitsFor || existsSync(this.onDisk(waitsFor))) await start();
      else {
        this.component('kube-proxy');
        this.note('kube-proxy', `waiting for ${waitsFor}`);
        this.whenWritten(waitsFor, () => void start());
      }
    }
  }

  private readonly fileWaiters: { file: string; then: () => void }[] = [];

  /** Runs `then` once a stand-in writes `file` (node path). */
  private whenWritten(file: string, then: () => void) {
    this.fileWaiters.push({ file, then });
  }

  private agentEnv(component: string): AgentEnv {
    return {
      name: this.env.name,
      privateIp: this.env.privateIp,
      publicIp: this.env.publicIp,
      read: this.read,
      write: (file, content, mode) => {
        const target = this.onDisk(file);
        mkdirSync(path.dirname(target), { recursive: true });
        writeFileSync(target, content, { mode });
        for (const w of this.fileWaiters.filter((x) => this.onDisk(x.file) === target)) {
          this.fileWaiters.splice(this.fileWaiters.indexOf(w), 1);
          w.then();
        }
      },
      resolve: (h) => this.env.resolve(h),
      note: (m) => this.note(component, m),
      timing: this.env.timing,
    };
  }

  /** Kubeconfig paths moved under the root; the local API server becomes this node's private address. */
  private localKubeconfigs() {
    for (const f of this.files) {
      if (!/kubeconfig$/.test(f.path)) continue;
      const doc = parse(f.content) as { clusters?: { cluster: Record<string, string> }[]; users?: { user: Record<string, string> }[] };
      for (const { cluster } of doc.clusters ?? []) {
        if (cluster['certificate-authority']) cluster['certificate-authority'] = this.onDisk(cluster['certificate-authority']);
        const server = new URL(cluster.server!);
        if (server.hostname === '127.0.0.1' || server.hostname === 'localhost') {
          cluster['tls-server-name'] ??= server.hostname;
          cluster.server = `https://${this.env.privateIp}:${server.port || 443}`;
          this.note('node', `${f.path}: server ${server.origin} → ${cluster.server} (tls-server-name ${cluster['tls-server-name']}): nodes share this machine's loopback`);
        }
      }
      for (const { user } of doc.users ?? []) {
        for (const k of ['client-certificate', 'client-key']) if (user[k]) user[k] = this.onDisk(user[k]);
      }
      writeFileSync(this.onDisk(f.path), stringify(doc));
    }
  }

  private async startBinary(name: string, rendered: string[], defaultPort: number, add: AdaptOptions['add']) {
    const c = this.component(name);
    const bin = kubeBinary(name);
    let info: BinaryInfo;
    try {
      info = await binaryInfo(bin);
    } catch (e) {
      return this.fail(name, (e as Error).message);
    }
    if (this.stopped) return;
    const { args, notes } = adaptFlags(rendered, { component: name, info, privateIp: this.env.privateIp, onDisk: this.onDisk, add });
    for (const n of notes) this.note(name, n);
    // Directories a unit's files go to (audit log, ...) exist on a prepared droplet.
    for (const a of args) {
      const v = a.split('=')[1];
      if (v?.startsWith(this.env.root + '/')) mkdirSync(path.dirname(v), { recursive: true });
    }
    this.argv.set(name, args);
    const port = Number(flagValue(args, 'secure-port') ?? defaultPort);
    if (this.env.publicIp) {
      try {
        const f: Forwarder = await forward(this.env.publicIp, port, () => [{ host: this.env.privateIp, port }]);
        await this.adopt(() => f.close());
      } catch (e) {
        this.note(name, `cannot forward ${this.env.publicIp}:${port}: ${(e as Error).message}`);
      }
    }
    const restartSec = Number(this.unit(`${name}.service`)?.match(/^RestartSec=(\d+)/m)?.[1] ?? 5);
    const delay = this.env.timing.restartDelayMs ?? restartSec * 1000;
    const launch = () => {
      if (this.stopped) return;
      const proc = spawnInZone(bin, args, this.env.hostsFile, this.env.resolvFile);
      this.procs.set(name, proc);
      c.state = 'running';
      c.reason = undefined;
      this.note(name, `started ${info.version} (pid ${proc.pid}) on ${this.env.privateIp}:${port}`);
      let partial = '';
      const collect = (d: Buffer) => {
        const lines = (partial + String(d)).split('\n');
        partial = lines.pop()!;
        c.output.push(...lines);
        if (c.output.length > OUTPUT_LINES) c.output.splice(0, c.output.length - OUTPUT_LINES);
      };
      proc.stdout!.on('data', collect);
      proc.stderr!.on('data', collect);
      proc.on('exit', (code, signal) => {
        this.procs.delete(name);
        if (this.stopped) {
          c.state = 'stopped';
          this.env.changed();
          return;
        }
        c.state = 'failed';
        c.reason = `exited with ${code ?? signal}: ${c.output.slice(-3).join(' | ')}`;
        c.restarts++;
        this.note(name, `${c.reason}; restarting in ${delay} ms (Restart=always)`);
        const t = setTimeout(() => {
          this.restartTimers.delete(t);
          launch();
        }, delay);
        this.restartTimers.add(t);
      });
    };
    launch();
  }

  /** Keeps something to close at stop; closes it at once (false) if the node stopped meanwhile. */
  private async adopt(close: () => Promise<void>): Promise<boolean> {
    if (!this.stopped) {
      this.closers.push(close);
      return true;
    }
    await close();
    return false;
  }

  private async startStandIn(name: string, start: () => Promise<() => Promise<void>>) {
    const c = this.component(name);
    if (this.stopped) return;
    try {
      const stop = await start();
      if (!(await this.adopt(stop))) return;
      c.state = 'running';
      this.env.changed();
    } catch (e) {
      this.fail(name, (e as Error).message);
    }
  }

  /** Polls the node's own /readyz (anonymous, as a load balancer would) until 200, a deadline, or stop. */
  async waitForApiServer(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const ca = this.read('/var/lib/kubernetes/ca.crt');
    let last = 'not asked yet';
    while (Date.now() < deadline) {
      if (this.stopped) throw new Error(`${this.name} stopped`);
      const c = this.components.get('kube-apiserver');
      if (!c) throw new Error(`${this.name} runs no kube-apiserver`);
      last = await new Promise<string>((resolve) => {
        const req = request(
          { host: this.env.privateIp, port: 6443, path: '/readyz', ca, checkServerIdentity: (_h, cert) => checkServerIdentity('127.0.0.1', cert), timeout: 2_000 },
          (res) => {
            res.resume();
            resolve(String(res.statusCode));
          },
        );
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', (e) => resolve(e.message));
        req.end();
      });
      if (last === '200') return;
      // Waiting on a real process: there is no event to wait for.
      await new Promise((r) => setTimeout(r, 250));
    }
    const c = this.components.get('kube-apiserver');
    throw new Error(`${this.name}: kube-apiserver not ready after ${timeoutMs} ms (last: ${last}; ${c?.state} ${c?.reason ?? ''}); output: ${c?.output.slice(-15).join('\n')}`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.restartTimers) clearTimeout(t);
    const exits = [...this.procs.values()].map((p) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r()))));
    for (const p of this.procs.values()) p.kill('SIGKILL');
    await Promise.all([...exits, ...this.closers.map((c) => c())]);
    for (const c of this.components.values()) if (c.state !== 'failed') c.state = 'stopped';
    this.env.changed();
  }
}
