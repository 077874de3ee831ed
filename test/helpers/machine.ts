// Real machines for the tests: a "droplet" is a systemd-nspawn container booting Debian trixie (real
// systemd as PID 1, real cloud-init) from the root filesystem test/env/build-rootfs.sh caches, with a
// NoCloud seed holding the user-data byte for byte as the operator sent it. Every machine of a network is
// plugged into one bridge that lives in the test run's own network namespace (test/run.mjs starts every
// test inside one it makes), so no address outside that namespace is ever used.
//
// Host facts this depends on are in ../shared/design/REAL-NODES.md (measured on this kind of machine):
// /run is not a tmpfs here, so nspawn runs in a private mount namespace with a tmpfs on
// /run/systemd/nspawn; --register=no --keep-unit because the host has no systemd or machined; the root
// filesystem stays read-only under --volatile=overlay so every machine shares it; killing the machine's
// PID 1 tears the whole machine down.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, writeFileSync, readFileSync, existsSync, rmSync, rmdirSync, readdirSync, createWriteStream } from 'node:fs';
import path from 'node:path';
import { cacheDir } from '../env/cluster.ts';

const run = promisify(execFile);
export const rootfsPath = path.join(cacheDir, 'rootfs/trixie');

/** Fails with what to do when this process may not make machines (not in the test run's namespace, no root filesystem). */
export function requireMachines(): void {
  if (process.env.HARDWAY_TEST_NETNS !== '1') {
    throw new Error('machines need the network namespace test/run.mjs makes for the test run (run these tests through `npm test` or `node test/run.mjs <file>`), so that no address outside it is used');
  }
  if (!existsSync(path.join(rootfsPath, 'usr/bin/cloud-init'))) throw new Error(`no machine root filesystem at ${rootfsPath}: run test/env/setup.sh (test/env/build-rootfs.sh)`);
}

/**
 * Every machine's systemd, journald, networkd, kubelet and containerd take inotify instances, all charged to
 * root on this one kernel: with the whole sample (8 machines) 158 were in use and the 128 default ran out, so
 * a worker's kubelet died at start ("inotify_init: too many open files", measured here 2026-11-30) and the
 * node never joined. Raised (never lowered) to the values kind documents for multi-node clusters
 * (kind.sigs.k8s.io/docs/user/known-issues, "Pod errors due to too many open files"). Host-wide, and not
 * kept across a reboot.
 */
const INOTIFY_LIMITS: Record<string, number> = { max_user_instances: 512, max_user_watches: 524_288 };
function raiseInotifyLimits(): void {
  for (const [k, want] of Object.entries(INOTIFY_LIMITS)) {
    const file = `/proc/sys/fs/inotify/${k}`;
    if (Number(readFileSync(file, 'utf8')) < want) writeFileSync(file, String(want));
  }
}

export interface Address {
  ip: string;
  prefix: number;
}

/**
 * The switch every machine plugs into: a bridge in this process's network namespace carrying the gateway
 * address of each subnet, and any address a test serves from (the metadata service, a release server, a
 * load balancer). This process reaches the machines directly through it.
 */
export class MachineNetwork {
  private readonly served = new Set<string>();
  private readonly cut = new Set<string>();

  private constructor(
    readonly bridge: string,
    readonly gateways: Address[],
  ) {}

  static async create(name: string, gateways: Address[]): Promise<MachineNetwork> {
    requireMachines();
    raiseInotifyLimits();
    const ip = async (...args: string[]) => run('ip', args);
    await ip('link', 'add', name, 'type', 'bridge').catch(async (e: Error) => {
      // A bridge left by a crashed run in this same namespace is ours to reuse.
      if (!/File exists/.test(e.message)) throw e;
    });
    for (const g of gateways) await ip('addr', 'replace', `${g.ip}/${g.prefix}`, 'dev', name);
    await ip('link', 'set', name, 'up');
    return new MachineNetwork(name, gateways);
  }

  /** Puts an address on the bridge so a server in this process can listen on it for the machines. */
  async serve(ip: string): Promise<void> {
    if (this.served.has(ip)) return;
    await run('ip', ['addr', 'replace', `${ip}/32`, 'dev', this.bridge]);
    this.served.add(ip);
  }

  async unserve(ip: string): Promise<void> {
    if (!this.served.delete(ip)) return;
    await run('ip', ['addr', 'del', `${ip}/32`, 'dev', this.bridge]).catch(() => undefined);
  }

  /**
   * Cuts (false) or restores (true) this process's path to an address: a /32 blackhole route here, so the
   * operator and everything else in the test process lose the machine's address while machines keep
   * talking to each other across the bridge.
   */
  async setReachable(ip: string, reachable: boolean): Promise<void> {
    if (!reachable && !this.cut.has(ip)) {
      await run('ip', ['route', 'add', 'blackhole', `${ip}/32`]);
      this.cut.add(ip);
    } else if (reachable && this.cut.delete(ip)) {
      await run('ip', ['route', 'del', 'blackhole', `${ip}/32`]).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    for (const ip of this.cut) await run('ip', ['route', 'del', 'blackhole', `${ip}/32`]).catch(() => undefined);
    await run('ip', ['link', 'del', this.bridge]).catch(() => undefined);
  }
}

export interface MachineSpec {
  /** Machine name (the droplet's); also the nspawn machine name. */
  name: string;
  /** The droplet id, as the NoCloud instance-id. */
  instanceId: string;
  /** The user-data exactly as the cloud was given it. */
  userData: string;
  addresses: Address[];
  /** Default route. */
  gateway: string;
  /** Becomes the machine's /etc/hosts (bind-mounted read-only: rewrite it in place to change names). */
  hostsFile: string;
  /** Becomes /etc/ssl/certs/ca-certificates.crt (the image's bundle plus a test CA). */
  caBundle?: string;
  /** Directory for the seed and console log. */
  stateDir: string;
  /** Further directories from this machine, read-only. */
  binds?: { from: string; to: string }[];
  /** The machine runs a kubelet and containers (see kubeletMachineArgs). */
  kubelet?: boolean;
}

/**
 * What a machine running kubelet and containerd needs from this host that a droplet has by itself
 * (../shared/design/REAL-NODES.md, each measured here): every capability; the kernel's message device
 * (kubelet's OOM watcher opens /dev/kmsg); containerd's state on a real directory, since overlayfs
 * snapshots cannot sit on the machine's volatile overlay ("failed to mount …: invalid argument").
 */
function kubeletMachineArgs(stateDir: string): string[] {
  const containerd = path.join(stateDir, 'containerd');
  mkdirSync(containerd, { recursive: true });
  // kubelet sets these host-wide sysctls and stops if it cannot ("open /proc/sys/vm/overcommit_memory:
  // read-only file system"); a droplet's kubelet owns its kernel, a machine's does not: it gets private
  // files over them (holding this kernel's values), bound in once the machine runs (machine.ts, init):
  // nspawn itself cannot bind onto /proc/sys ("Failed to stat" the source, looked up inside the machine).
  const dir = path.join(stateDir, 'sysctl');
  mkdirSync(dir, { recursive: true });
  for (const k of KUBELET_SYSCTLS) writeFileSync(path.join(dir, k.replaceAll('/', '.')), readFileSync(`/proc/sys/${k}`));
  writeFileSync(path.join(dir, 'nf_conntrack.hashsize'), readFileSync(HASHSIZE));
  return ['--capability=all', '--bind=/dev/kmsg', `--bind=${containerd}:/var/lib/containerd`, `--bind=${dir}:${SYSCTL_DIR}`];
}

/**
 * Shell that moves the caller into a cgroup of its own under its current one in every v1 hierarchy
 * (cpuset needs its cpus and mems copied before a task may join). The machine's controllers are mounted
 * read-only by nspawn and made writable once it runs (init), so containerd and kubelet can make the
 * cgroups of pods: "mkdir /sys/fs/cgroup/cpuset/default: read-only file system" otherwise (REAL-NODES.md).
 */
function ownCgroups(name: string): string {
  return `for c in ${CGROUP_V1.join(' ')}; do
  rel=$(awk -F: -v c="$c" '$2 == c {print $3}' /proc/self/cgroup)
  d="/sys/fs/cgroup/$c\${rel%/}/hardway-${name}"
  mkdir -p "$d"
  if [ "$c" = cpuset ]; then cat "$(dirname "$d")/cpuset.cpus" > "$d/cpuset.cpus"; cat "$(dirname "$d")/cpuset.mems" > "$d/cpuset.mems"; fi
  echo $$ > "$d/cgroup.procs"
done
`;
}

const CGROUP_V1 = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids'];

/** Removes a stopped machine's cgroups (ownCgroups), deepest first; a cgroup still in use stays. */
function removeOwnCgroups(name: string): void {
  const own = new Map(readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n').map((l) => { const [, c, rel] = l.split(':'); return [c!, rel!] as const; }));
  const remove = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) remove(path.join(dir, e.name));
    try {
      rmdirSync(dir);
    } catch {
      // busy or gone
    }
  };
  for (const c of CGROUP_V1) {
    const dir = path.join('/sys/fs/cgroup', c, own.get(c) ?? '/', `hardway-${name}`);
    if (existsSync(dir)) remove(dir);
  }
}

/**
 * The host-wide sysctls kubelet v1.20 writes (pkg/kubelet/cm setupKernelTunables) and kube-proxy's
 * conntrack table size ("open /proc/sys/net/netfilter/nf_conntrack_max: permission denied").
 */
const KUBELET_SYSCTLS = ['vm/overcommit_memory', 'vm/panic_on_oom', 'kernel/panic', 'kernel/panic_on_oops', 'net/netfilter/nf_conntrack_max'];
const SYSCTL_DIR = '/var/lib/hardway-test/sysctl';
const HASHSIZE = '/sys/module/nf_conntrack/parameters/hashsize';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A booted machine. */
export class Machine {
  /** Console output (systemd's boot messages). */
  readonly console: string;
  readonly exited: Promise<number | null>;
  private pid1?: number;
  private starting?: Promise<number>;

  private constructor(
    readonly spec: MachineSpec,
    private readonly child: ChildProcess,
  ) {
    this.console = path.join(spec.stateDir, 'console.log');
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Boots a machine on the network (returns as soon as nspawn runs; see waitForCloudInit). */
  static boot(net: MachineNetwork, spec: MachineSpec): Machine {
    const m = Machine.start(net, spec);
    // A kubelet machine's /proc/sys files are bound in at once, before its user-data gets to the kubelet.
    if (spec.kubelet) void m.init().catch(() => undefined);
    return m;
  }

  private static start(net: MachineNetwork, spec: MachineSpec): Machine {
    requireMachines();
    const seed = path.join(spec.stateDir, 'seed');
    mkdirSync(seed, { recursive: true });
    writeFileSync(path.join(seed, 'user-data'), spec.userData);
    writeFileSync(path.join(seed, 'meta-data'), `instance-id: ${spec.instanceId}\nlocal-hostname: ${spec.name}\n`);
    // NoCloud network-config v2: the droplet's addresses, static (no DHCP server on the test bridge).
    writeFileSync(
      path.join(seed, 'network-config'),
      [
        'version: 2',
        'ethernets:',
        '  host0:',
        `    addresses: [${spec.addresses.map((a) => `${a.ip}/${a.prefix}`).join(', ')}]`,
        '    routes:',
        `      - to: 0.0.0.0/0`,
        `        via: ${spec.gateway}`,
        '',
      ].join('\n'),
    );
    const args = [
      '--boot',
      `--directory=${rootfsPath}`,
      '--volatile=overlay',
      '--register=no',
      '--keep-unit',
      `--machine=${spec.name}`,
      `--network-bridge=${net.bridge}`,
      '--console=read-only',
      `--bind-ro=${seed}:/var/lib/cloud/seed/nocloud`,
      `--bind-ro=${spec.hostsFile}:/etc/hosts`,
      ...(spec.caBundle ? [`--bind-ro=${spec.caBundle}:/etc/ssl/certs/ca-certificates.crt`] : []),
      ...(spec.binds ?? []).map((b) => `--bind-ro=${b.from}:${b.to}`),
      ...(spec.kubelet ? kubeletMachineArgs(spec.stateDir) : []),
    ];
    // The tmpfs on /run/systemd/nspawn and the private mount namespace: see the top of this file. A
    // kubelet machine first moves into cgroups of its own (below).
    const script = `${spec.kubelet ? ownCgroups(spec.name) : ''}mkdir -p /run/systemd/nspawn && mount -t tmpfs tmpfs /run/systemd/nspawn && exec systemd-nspawn "$@"`;
    const log = createWriteStream(path.join(spec.stateDir, 'console.log'));
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', 'unshare', '-m', '--propagation', 'private', 'sh', '-c', script, 'nspawn', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Inside a kubelet machine, runc sets up containers with session keyrings, which nspawn's seccomp
      // filter refuses ("unable to join session keyring"; REAL-NODES.md).
      env: spec.kubelet ? { ...process.env, SYSTEMD_SECCOMP: '0' } : process.env,
    });
    // Two sources into one file: neither may end it (the first to end would, and the other's next chunk
    // would then be a write after end); it ends once the process has exited and both are drained.
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    child.once('close', () => log.end());
    return new Machine(spec, child);
  }

  /** PID of the machine's systemd in this namespace, once known (nsenter -t PID -a enters the machine). */
  get pid(): number | undefined {
    return this.pid1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** PID (in this namespace) of the machine's systemd, once it runs. */
  init(timeoutMs = 30_000): Promise<number> {
    // Once: callers that ask at the same time share the one start (the binds below must not be stacked).
    return (this.starting ??= this.findAndPrepare(timeoutMs).catch((e: unknown) => {
      this.starting = undefined;
      throw e;
    }));
  }

  private async findAndPrepare(timeoutMs: number): Promise<number> {
    if (this.pid1) return this.pid1;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pid = findInit(this.child.pid!);
      if (pid) {
        if (this.spec.kubelet) {
          const binds = [
            ...KUBELET_SYSCTLS.map((k) => `mount --bind ${SYSCTL_DIR}/${k.replaceAll('/', '.')} /proc/sys/${k}`),
            // kube-proxy reads the conntrack hash size after setting the table size and stops without it
            // ("open /sys/module/nf_conntrack/parameters/hashsize: no such file or directory";
            // kubernetes v1.20.2 cmd/kube-proxy/app/conntrack.go SetMax, unchanged to v1.35). A droplet's
            // sysfs has it; a machine's /sys is nspawn's tmpfs with only cgroups in it, so it gets a file
            // holding this kernel's value.
            `mount -o remount,rw /sys && mkdir -p ${path.dirname(HASHSIZE)} && cat ${SYSCTL_DIR}/nf_conntrack.hashsize > ${HASHSIZE} && mount -o remount,ro /sys`,
            ...CGROUP_V1.map((c) => `mount -o remount,bind,rw /sys/fs/cgroup/${c}`),
          ].join(' && ');
          // In the machine's network namespace too: /proc/sys/net resolves per network namespace, and a bind
          // made from this one lands on this namespace's nf_conntrack_max, which the machine never sees.
          await run('nsenter', ['-t', String(pid), '-m', '-n', 'sh', '-c', binds]);
        }
        return (this.pid1 = pid);
      }
      if (this.child.exitCode !== null || Date.now() > deadline) throw new Error(`${this.spec.name}: the machine's systemd did not start; console: ${this.tail()}`);
      await sleep(100);
    }
  }

  /** Runs a command inside the machine (every namespace of its PID 1). */
  async exec(cmd: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
    const pid = await this.init();
    return run('nsenter', ['-t', String(pid), '-a', '--', ...cmd], { timeout: timeoutMs, maxBuffer: 16 << 20 })
      .then((r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }))
      .catch((e: { code?: number; stdout?: string; stderr?: string }) => ({ code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }));
  }

  /** `systemctl is-active` of each unit (active, activating, failed, …). */
  async unitStates(units: string[]): Promise<Record<string, string>> {
    const r = await this.exec(['systemctl', 'is-active', ...units]);
    return Object.fromEntries(units.map((u, i) => [u, r.stdout.trim().split('\n')[i] ?? '?']));
  }

  /**
   * Each unit's state, where `active` means active without a restart for at least steadyMs: a unit in a
   * restart loop is active for a moment between failures, and must not pass for running.
   */
  async steadyUnits(units: string[], steadyMs: number): Promise<Record<string, string>> {
    const r = await this.exec(['sh', '-c', `cat /proc/uptime; systemctl show -p ActiveState -p ActiveEnterTimestampMonotonic ${units.join(' ')}`]);
    const [uptime, ...props] = r.stdout.trim().split('\n');
    const now = Number(uptime!.split(' ')[0]) * 1e6;
    // systemctl show prints each unit's properties as a block, blocks separated by an empty line.
    const blocks = props.join('\n').split('\n\n').map((b) => Object.fromEntries(b.split('\n').map((l) => l.split(/=(.*)/s) as [string, string])));
    return Object.fromEntries(
      units.map((u, i) => {
        const b = blocks[i] ?? {};
        const since = (now - Number(b.ActiveEnterTimestampMonotonic ?? 0)) / 1e6;
        return [u, b.ActiveState !== 'active' ? (b.ActiveState ?? '?') : since * 1000 >= steadyMs ? 'active' : `active for ${since.toFixed(1)} s`];
      }),
    );
  }

  /** cloud-init's final status ("done", "degraded", "error"), waiting for it to finish. */
  async waitForCloudInit(timeoutMs = 180_000): Promise<{ status: string; detail: string }> {
    const r = await this.exec(['cloud-init', 'status', '--wait', '--long'], timeoutMs);
    const status = /^\.*status:\s*(\S+)/m.exec(r.stdout)?.[1] ?? `unknown (exit ${r.code}: ${r.stderr.trim()})`;
    if (status === 'done') return { status, detail: r.stdout };
    // What went wrong, for the failure message: the end of the user-data's own output.
    const out = await this.exec(['tail', '-n', '25', '/var/log/cloud-init-output.log']);
    // and the journal's errors (a unit that failed to start says why there).
    const journal = await this.exec(['journalctl', '--no-pager', '-o', 'short-precise', '-p', 'err', '-n', '30']);
    const failed = [...new Set([...journal.stdout.matchAll(/Failed to start (\S+\.service)/g)].map((m) => m[1]!))].filter((u) => u !== 'cloud-final.service');
    const units = await Promise.all(failed.map(async (u) => `${u}:\n${(await this.exec(['sh', '-c', `journalctl --no-pager -o cat -u ${u} | grep -E -i '"level":"(warn|error|fatal|panic)"|^[^{]' | head -n 12`])).stdout}`));
    return { status, detail: [r.stdout, `/var/log/cloud-init-output.log:\n${out.stdout}`, `journal (errors):\n${journal.stdout}`, ...units].join('\n') };
  }

  tail(lines = 20): string {
    try {
      return readFileSync(this.console, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no console output)';
    }
  }

  /** The machine dies at once (power cut): its systemd is killed, which ends every process inside. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const pid = this.pid1 ?? findInit(this.child.pid!);
    if (pid) process.kill(pid, 'SIGKILL');
    else this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Kills the machine and removes its state (and a kubelet machine's cgroups, once empty). */
  async destroy(): Promise<void> {
    await this.kill();
    if (this.spec.kubelet) removeOwnCgroups(this.spec.name);
    rmSync(this.spec.stateDir, { recursive: true, force: true });
  }
}

/** The first descendant of pid whose command is systemd (nspawn's child is the machine's PID 1). */
function findInit(pid: number): number | undefined {
  const children = (p: number): number[] => {
    try {
      return readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const c of children(p)) {
      let comm = '';
      try {
        comm = readFileSync(`/proc/${c}/comm`, 'utf8').trim();
      } catch {
        continue;
      }
      if (comm === 'systemd') return c;
      queue.push(c);
    }
  }
  return undefined;
}
