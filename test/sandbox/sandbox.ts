// The sandbox: the whole operator on one machine, without a cloud account. Against a management API server
// (test/env), it runs the loopback DigitalOcean and Cloudflare fakes, the node simulator and the operator
// itself, in this process. Droplets are either real machines (`machines: true`: systemd-nspawn booting the
// user-data with systemd and cloud-init, test/helpers/machine.ts; needs root and a network namespace of its
// own) or in-process nodes (real etcd members, real kube-apiserver and kube-controller-manager, simulated
// kubelets; seconds instead of minutes). It reports every condition change, machine and endpoint as
// timestamped lines, and serves fault switches on a small HTTP endpoint. `npm run sandbox` (main.ts) and
// the end-to-end test (test/integration/sandbox.test.ts) both drive it.
import { createServer, type Server } from 'node:http';
import { createWriteStream, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import { parseAllDocuments, parse, stringify } from 'yaml';
import { FakeDigitalOcean } from '../../src/cloud/fake/digitalocean.ts';
import { FakeCloudflare } from '../../src/cloud/fake/cloudflare.ts';
import { startOperator, type RunningOperator } from '../../src/operator.ts';
import { parseConfig } from '../../src/runtime/config.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { ClientNodeKube, loadKubeConfig } from '../../src/kube/adapter.ts';
import { Informer } from '../../src/kube/informer.ts';
import { EtcdClusters, ControlPlanes, WorkerPools, Secrets } from '../../src/kube/resources.ts';
import type { KObject } from '../../src/kube/port.ts';
import { kubectlPath, runKubectl } from '../env/cluster.ts';
import { NodeSimulator, MachineNode } from '../helpers/simulator.ts';
import { MachineCloud } from '../helpers/machine-cloud.ts';
import { samplesDir, sampleOf } from '../helpers/samples.ts';
import { startS3, S3_KEY, type S3Server } from '../helpers/s3.ts';


/** Obvious fakes: the only tokens the fake clouds accept. */
export const SANDBOX_TOKENS = { digitalocean: 'sandbox-digitalocean-token', cloudflare: 'sandbox-cloudflare-token' } as const;
/** Zones the fake Cloudflare serves (the samples use example.com). */
export const SANDBOX_ZONES = ['example.com'];

/**
 * Timings for watching a cluster converge in minutes rather than hours: revisits every second, probes every
 * 5 s, a dead etcd member replaced after 20 s and a control-plane or worker node after 90 s (booting real
 * API servers on a small machine takes a while: shorter would replace nodes still booting). Nodes leave DNS
 * 5 s before their droplet goes.
 */
export const DEMO_TIMING = {
  etcd: { waitMs: 1_000, steadyMs: 5_000, graceMs: 10_000, probeTimeoutMs: 1_500, unhealthyAfterMs: 20_000, endpointDrainMs: 5_000 },
  controlPlane: { waitMs: 1_000, steadyMs: 5_000, graceMs: 10_000, rotationDrainMs: 5_000, unhealthyAfterMs: 90_000 },
  workerPool: { waitMs: 1_000, steadyMs: 5_000, graceMs: 10_000, drainTimeoutMs: 10_000, unhealthyAfterMs: 90_000 },
};

export interface SandboxOptions {
  /** kubeconfig of the management API server (CRDs installed). */
  kubeconfig: string;
  /** Namespace for the sample objects (default: default). */
  namespace?: string;
  /** Progress lines as they happen (default: console.log). */
  print?: (line: string) => void;
  /** Port of the fault-switch endpoint on 127.0.0.1 (default: any free port). */
  controlPort?: number;
  /** Time zero of the progress lines (default: now). */
  started?: number;
  /**
   * Droplets are real machines (the default of `npm run sandbox`); otherwise in-process nodes. Machines need
   * root and this process in a network namespace of its own (main.ts makes it).
   */
  machines?: boolean;
}

type Condition = { type: string; status: string; reason?: string; message?: string };
export type Watched = KObject & {
  spec?: Record<string, unknown>;
  status?: { conditions?: Condition[]; observedGeneration?: number; endpoint?: string; machines?: { name: string }[]; members?: { name: string }[] };
};

const KINDS = [
  { kind: 'EtcdCluster', resource: EtcdClusters, short: 'etcdcluster' },
  { kind: 'ControlPlane', resource: ControlPlanes, short: 'controlplane' },
  { kind: 'WorkerPool', resource: WorkerPools, short: 'workerpool' },
] as const;

/** Conditions that are True while something is going on (or wrong); the rest are True when all is well. */
const ACTIVITY = new Set(['ScalingUp', 'ScalingDown', 'RollingOut', 'Deleting', 'Paused']);

/** A multi-line message (an API server's /readyz output) on one line, cut to a readable length. */
const oneLine = (m: string) => {
  const flat = m.replace(/\s*\n\s*/g, ' ');
  return flat.length > 240 ? `${flat.slice(0, 237)}...` : flat;
};

export const condition = (o: Watched | undefined, type: string): Condition | undefined => o?.status?.conditions?.find((c) => c.type === type);

/** Ready=True for the object's current generation. */
export const isReady = (o: Watched | undefined): boolean =>
  !!o && condition(o, 'Ready')?.status === 'True' && o.status?.observedGeneration === o.metadata.generation && !o.metadata.deletionTimestamp;

export class Sandbox {
  readonly namespace: string;
  readonly dir: string;
  readonly kubeconfig: string;
  readonly kubectl = kubectlPath;
  /** The operator's JSON log. */
  readonly logFile: string;
  /** A kubeconfig for the built cluster, pinned to an endpoint address (written once the Secret exists). */
  readonly workloadKubeconfig: string;
  readonly events = new EventEmitter();
  readonly started: number;
  compute!: FakeDigitalOcean;
  dns!: FakeCloudflare;
  sim!: NodeSimulator;
  /** The machines' network, metadata service and release hosts (machines mode). */
  machines?: MachineCloud;
  /** Per machine: cloud-init's status and the units seen active, as last reported. */
  private readonly booting = new Map<string, { status: string; active: Set<string> }>();
  /** The S3-compatible server (s3rver) the EtcdCluster's snapshots go to. */
  s3?: S3Server;
  operator?: RunningOperator;
  controlUrl = '';
  private kube!: ClientNodeKube;
  private readonly informers = new Map<string, Informer<Watched>>();
  private readonly seen = new Map<string, string>();
  private simLogSeen = 0;
  private endpointSeen = '';
  private control?: Server;
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private readonly print: (line: string) => void;

  constructor(private readonly o: SandboxOptions) {
    this.namespace = o.namespace ?? 'default';
    this.started = o.started ?? Date.now();
    this.kubeconfig = o.kubeconfig;
    this.dir = mkdtempSync(path.join(tmpdir(), 'hardway-sandbox-'));
    this.logFile = path.join(this.dir, 'operator.log');
    this.workloadKubeconfig = path.join(this.dir, 'workload.kubeconfig');
    this.print = o.print ?? ((l) => console.log(l));
    this.events.setMaxListeners(100);
  }

  /** A line of progress, stamped with the seconds since the sandbox started. */
  say(what: string, text: string): void {
    const line = `[${((Date.now() - this.started) / 1000).toFixed(1).padStart(6)}s] ${what.padEnd(28)} ${text}`;
    this.print(line);
  }

  async start(): Promise<this> {
    // Lists lag creates and deletes take a moment, as on DigitalOcean (the fake's listLagMs).
    // Machines are served the samples' versions (the release hosts need them; a version roll needs in-process nodes).
    const version = (sampleOf('ControlPlane') as { spec: { version: string } }).spec.version;
    if (this.o.machines) {
      this.machines = await MachineCloud.start(path.join(this.dir, 'machines'), { bridge: 'hw-sandbox', etcd: [(sampleOf('EtcdCluster') as { spec: { version: string } }).spec.version], kubernetes: [version] });
    }
    this.compute = await new FakeDigitalOcean({ tokens: [SANDBOX_TOKENS.digitalocean], provisionDelayMs: 1_000, minuteLimit: 100_000, hourlyLimit: 1_000_000, listLagMs: 1_000, deleteDelayMs: 500, ...(this.machines ? { addresses: MachineCloud.addressing } : {}) }).start();
    this.dns = await new FakeCloudflare({ tokens: [SANDBOX_TOKENS.cloudflare], zones: SANDBOX_ZONES, limitPer5Min: 1_000_000 }).start();
    this.sim = new NodeSimulator(this.compute, this.dns, path.join(this.dir, 'nodes'), { restartDelayMs: 1_000, machines: this.machines }).start();
    if (this.machines) this.every(2_000, () => this.watchMachines());
    this.sim.events.on('change', () => this.observe());
    this.s3 = await startS3(path.join(this.dir, 's3'));

    this.kube = new ClientNodeKube(loadKubeConfig({ kubeconfig: this.kubeconfig }));
    for (const k of KINDS) {
      const informer = new Informer<Watched>(this.kube.listWatch<Watched>(k.resource, { namespace: this.namespace }), { name: `sandbox-${k.short}` });
      informer.on((e) => {
        if (e.type === 'delete') this.say(`${k.short}/${e.object.metadata.name}`, 'deleted');
        this.observe();
      });
      this.informers.set(k.kind, informer);
      await informer.start();
    }

    const cfg = parseConfig(
      [
        `--kubeconfig=${this.kubeconfig}`,
        `--namespace=${this.namespace}`,
        '--leader-elect=false',
        '--metrics-bind-address=127.0.0.1:0',
        `--digitalocean-api-url=${this.compute.url}`,
        `--cloudflare-api-url=${this.dns.url}`,
      ],
      {},
    );
    const log = createLogger({ level: 'info', destination: createWriteStream(this.logFile) });
    this.operator = await startOperator(cfg, {
      log,
      onFatal: (reason) => this.say('operator', `fatal: ${reason}`),
      etcdTiming: DEMO_TIMING.etcd,
      controlPlaneTiming: DEMO_TIMING.controlPlane,
      workerPoolTiming: DEMO_TIMING.workerPool,
      // The release hosts serve stand-ins for the pinned files (containerd, runc, CNI, crictl).
      // Machines run Debian's sshd, which the operator hands keys to; simulated nodes take them in-process.
      ...(this.machines ? { pins: this.machines.pins(version) } : { handOver: this.sim.handOver }),
    });
    await this.startControl();
    return this;
  }

  /** Runs kubectl against the management API server; rejects with its stderr. */
  kubectlRun(args: string[], input?: string): Promise<string> {
    return runKubectl(this.kubectl, this.kubeconfig, args, input);
  }


  /**
   * Every document of config/samples, applied with kubectl; the credentials Secret's placeholder tokens are
   * replaced with the ones the fake clouds accept.
   */
  async applySamples(): Promise<void> {
    const docs = readdirSync(samplesDir)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .flatMap((f) => parseAllDocuments(readFileSync(path.join(samplesDir, f), 'utf8')).map((d) => d.toJS() as { kind: string; stringData?: Record<string, string> }))
      .map((d) =>
        d.kind === 'Secret' ? { ...d, stringData: { 'digitalocean-token': SANDBOX_TOKENS.digitalocean, 'cloudflare-api-token': SANDBOX_TOKENS.cloudflare } } : d,
      )
      // Snapshots every ten minutes (and on request) to the sandbox's S3 server, with a key for it.
      .map((d) => (d.kind === 'EtcdCluster' ? { ...d, spec: { ...(d as { spec?: object }).spec, backup: this.backupSpec() } } : d));
    docs.push({ kind: 'Secret', apiVersion: 'v1', metadata: { name: 'demo-backup-storage' }, stringData: { 'access-key-id': S3_KEY.accessKeyId, 'secret-access-key': S3_KEY.secretAccessKey } } as never);
    const out = await this.kubectlRun(['apply', '-n', this.namespace, '-f', '-'], docs.map((d) => stringify(d)).join('---\n'));
    for (const line of out.trim().split('\n')) this.say('kubectl apply', line);
  }

  /** spec.backup pointing at the sandbox's S3 server. */
  backupSpec() {
    return { schedule: '*/10 * * * *', retention: { count: 5 }, storage: { endpoint: this.s3!.endpoint, bucket: this.s3!.bucket, forcePathStyle: true, credentialsSecretRef: { name: 'demo-backup-storage' } } };
  }

  /** The cached objects of one kind (EtcdCluster, ControlPlane, WorkerPool). */
  objects(kind: string): Watched[] {
    return this.informers.get(kind)?.list(this.namespace) ?? [];
  }

  get(kind: string, name: string): Watched | undefined {
    return this.objects(kind).find((o) => o.metadata.name === name);
  }

  /** Every object of the three kinds Ready for its current generation (and at least one of each). */
  allReady(): boolean {
    return KINDS.every((k) => this.objects(k.kind).length > 0 && this.objects(k.kind).every(isReady));
  }

  /** What stands between the objects and Ready: each object's conditions that are not as they should be. */
  failing(): string[] {
    const out: string[] = [];
    for (const k of KINDS) {
      for (const o of this.objects(k.kind)) {
        for (const c of o.status?.conditions ?? []) {
          if ((c.status === 'True') === !ACTIVITY.has(c.type)) continue;
          out.push(`${k.short}/${o.metadata.name} ${c.type}=${c.status} ${c.reason ?? ''}${c.message ? `: ${c.message}` : ''}`);
        }
        if (!o.status?.conditions?.length) out.push(`${k.short}/${o.metadata.name}: no status yet`);
      }
    }
    return out;
  }

  /** Resolves when pred holds, checked after every object or simulator change; rejects after ms (if given). */
  until(what: string, pred: () => boolean, ms?: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        let ok = false;
        try {
          ok = pred();
        } catch {
          ok = false;
        }
        if (!ok) return;
        clearTimeout(timer);
        this.events.off('change', check);
        resolve();
      };
      const timer =
        ms === undefined
          ? undefined
          : setTimeout(() => {
              this.events.off('change', check);
              reject(new Error(`${what}: not within ${ms / 1000} s; failing: ${this.failing().join(' | ') || '(none)'}`));
            }, ms);
      this.events.on('change', check);
      check();
    });
  }

  /** The A records of the control plane's endpoint host. */
  endpointAddresses(): { host: string; ips: string[] } | undefined {
    const cp = this.objects('ControlPlane')[0];
    const host = (cp?.spec?.endpoint as { host?: string } | undefined)?.host;
    return host ? { host, ips: this.sim.resolve(host).sort() } : undefined;
  }

  /** Reports what changed since the last look: conditions, machines, simulator lines, the endpoint. */
  private observe() {
    for (; this.simLogSeen < this.sim.log.length; this.simLogSeen++) {
      const line = this.sim.log[this.simLogSeen]!;
      const m = line.match(/^([\w.-]+): (.*)$/);
      this.say(m ? `machine ${m[1]}` : 'cloud', m ? m[2]! : line);
    }
    for (const k of KINDS) {
      for (const o of this.objects(k.kind)) {
        const id = `${k.short}/${o.metadata.name}`;
        for (const c of o.status?.conditions ?? []) {
          const text = `${c.type}=${c.status}${c.reason ? ` ${c.reason}` : ''}${c.message ? `: ${oneLine(c.message)}` : ''}`;
          const key = `${id} ${c.type}`;
          const before = this.seen.get(key);
          if (before === text) continue;
          this.seen.set(key, text);
          // Placeholders, and activity conditions first seen idle, say nothing.
          const first = before === undefined || before.includes(' NotYetObserved');
          if (first && (c.reason === 'NotYetObserved' || (ACTIVITY.has(c.type) && c.status === 'False'))) continue;
          this.say(id, text);
        }
        const machines = (o.status?.members ?? o.status?.machines ?? []).map((m) => m.name).sort().join(', ');
        if ((this.seen.get(`${id} machines`) ?? '') !== machines) {
          this.seen.set(`${id} machines`, machines);
          this.say(id, `machines: ${machines || '(none)'}`);
        }
        const endpoint = o.status?.endpoint;
        if (endpoint && this.seen.get(`${id} endpoint`) !== endpoint) {
          this.seen.set(`${id} endpoint`, endpoint);
          this.say(id, `endpoint: ${endpoint}`);
        }
      }
    }
    const ep = this.endpointAddresses();
    const text = ep ? `${ep.host} → ${ep.ips.join(', ') || '(no records)'}` : '';
    if (ep && text !== this.endpointSeen && (this.endpointSeen || ep.ips.length)) {
      this.endpointSeen = text;
      this.say('dns', text);
      void this.writeWorkloadKubeconfig().catch(() => undefined);
    }
    // The etcd cluster endpoint's records: the members API servers reach, as they change.
    for (const o of this.objects('EtcdCluster')) {
      const url = (o.status as { clientEndpoint?: string } | undefined)?.clientEndpoint;
      if (!url) continue;
      const host = new URL(url).hostname;
      const etcdText = `${host} → ${this.sim.resolve(host).sort().join(', ') || '(no records)'}`;
      if (this.seen.get(`etcd endpoint ${host}`) === etcdText) continue;
      this.seen.set(`etcd endpoint ${host}`, etcdText);
      this.say('dns', etcdText);
    }
    this.events.emit('change');
  }

  /**
   * The admin kubeconfig from the ControlPlane's Secret, with its server pinned to one of the endpoint's
   * current addresses (tls-server-name keeps the endpoint name, which the certificates carry): the fake
   * zone is not in this machine's DNS. Rewritten when that address leaves the endpoint.
   */
  async writeWorkloadKubeconfig(): Promise<string | undefined> {
    const cp = this.objects('ControlPlane')[0];
    const ep = this.endpointAddresses();
    if (!cp || !ep?.ips.length) return undefined;
    const secret = await this.kube.tryGet<KObject & { data?: Record<string, string> }>(Secrets, { namespace: this.namespace, name: `${cp.metadata.name}-kubeconfig` });
    if (!secret?.data?.value) return undefined;
    const kc = parse(Buffer.from(secret.data.value, 'base64').toString('utf8')) as { clusters: { cluster: Record<string, string> }[] };
    const cluster = kc.clusters[0]!.cluster;
    const current = (() => {
      try {
        return new URL((parse(readFileSync(this.workloadKubeconfig, 'utf8')) as typeof kc).clusters[0]!.cluster.server!).hostname;
      } catch {
        return undefined;
      }
    })();
    const ip = current && ep.ips.includes(current) ? current : ep.ips[0]!;
    cluster.server = `https://${ip}:6443`;
    cluster['tls-server-name'] = ep.host;
    writeFileSync(this.workloadKubeconfig, stringify(kc), { mode: 0o600 });
    return this.workloadKubeconfig;
  }

  // ------------------------------------------------------------------------------- fault switches

  /** The fault switches (also served on controlUrl). Returns what was done; throws on a bad request. */
  async fault(action: string, q: URLSearchParams): Promise<string> {
    const name = q.get('name') ?? '';
    const node = () => {
      if (!this.sim.nodes.has(name)) throw new Error(`no running node ${JSON.stringify(name)}; running: ${[...this.sim.nodes.keys()].join(', ')}`);
      return name;
    };
    switch (action) {
      case 'kill-node':
        await this.sim.kill(node());
        return `${name}: killed (its droplet stays)`;
      case 'delete-droplet': {
        const d = [...this.compute.droplets.values()].find((x) => x.name === name);
        if (!d) throw new Error(`no droplet ${JSON.stringify(name)}`);
        this.compute.droplets.delete(d.id);
        return `${name}: droplet ${d.id} deleted out of band`;
      }
      case 'destroy-etcd': {
        const etcd = this.objects('EtcdCluster')[0];
        if (!etcd) throw new Error('no EtcdCluster');
        const gone = [...this.compute.droplets.values()].filter((d) => d.name.startsWith(`${etcd.metadata.name}-etcd-`));
        for (const d of gone) this.compute.droplets.delete(d.id);
        return `every droplet of EtcdCluster ${etcd.metadata.name} deleted out of band (${gone.map((d) => d.name).join(', ')}): the cluster is lost; restore with kubectl patch etcdcluster ${etcd.metadata.name} --type=merge -p '{"spec":{"restore":{}}}'`;
      }
      case 'partition':
        this.sim.partition(node());
        return `${name}: public address cut off`;
      case 'reconnect':
        this.sim.reconnect(node());
        return `${name}: public address reachable again`;
      case 'cloud': {
        const status = Number(q.get('status'));
        const provider = q.get('provider') ?? 'digitalocean';
        if (provider !== 'digitalocean' && provider !== 'cloudflare') throw new Error('provider is digitalocean or cloudflare');
        if (status === 429) {
          const seconds = Number(q.get('seconds') ?? 20);
          const retryAfter = Number(q.get('retryAfter') ?? 5);
          if (!(seconds > 0 && seconds <= 3600) || !(retryAfter >= 0 && retryAfter <= 3600)) throw new Error('seconds is 1–3600, retryAfter 0–3600');
          const set = (v: number | undefined) => (provider === 'digitalocean' ? (this.compute.burstRetryAfterSeconds = v) : (this.dns.throttleRetryAfterSeconds = v));
          set(retryAfter);
          const t = setTimeout(() => {
            this.timers.delete(t);
            set(undefined);
            this.say('cloud', `${provider}: rate limit lifted`);
          }, seconds * 1000);
          this.timers.add(t);
          return `${provider}: every request answered 429 (retry-after ${retryAfter}) for ${seconds} s`;
        }
        if (status >= 500 && status <= 599) {
          const count = Number(q.get('count') ?? 5);
          if (!(Number.isInteger(count) && count > 0 && count <= 10_000)) throw new Error('count is 1–10000');
          (provider === 'digitalocean' ? this.compute : this.dns).failNext(count, status);
          return `${provider}: the next ${count} requests answered ${status}`;
        }
        throw new Error('status is 429 or 5xx');
      }
      default:
        throw new Error(`unknown switch ${action}`);
    }
  }

  /** Runs fn every ms, the next run only after the last one ended; stopped by stop(). */
  private every(ms: number, fn: () => Promise<void>) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      void fn().finally(() => !this.stopped && this.every(ms, fn));
    }, ms);
    this.timers.add(t);
  }

  /**
   * Live progress while machines boot: each machine's cloud-init status and the units it has started, as
   * they change, until cloud-init ends (read inside the machine, as `cloud-init status` and `systemctl`).
   */
  private async watchMachines() {
    const units = ['hardway-node-env', 'etcd', 'containerd', 'kubelet', 'kube-proxy', 'flanneld', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map((u) => `${u}.service`);
    await Promise.all(
      [...this.sim.nodes.values()].map(async (n) => {
        if (!(n instanceof MachineNode) || !n.machine.running) return;
        const seen = this.booting.get(n.name) ?? { status: '', active: new Set<string>() };
        this.booting.set(n.name, seen);
        if (seen.status === 'done' || seen.status === 'error' || seen.status === 'degraded') return;
        const r = await n.machine.exec(['sh', '-c', `cloud-init status 2>/dev/null | sed -n 's/^status: //p'; systemctl is-active ${units.join(' ')} || true`], 10_000);
        const [status = '', ...states] = r.stdout.trim().split('\n');
        const now = units.filter((u, i) => states[i] === 'active');
        const started = now.filter((u) => !seen.active.has(u));
        if (started.length) this.say(`machine ${n.name}`, `active: ${started.map((u) => u.replace(/\.service$/, '')).join(', ')}`);
        for (const u of started) seen.active.add(u);
        if (status && status !== seen.status) {
          seen.status = status;
          this.say(`machine ${n.name}`, `cloud-init ${status}${status === 'running' ? ' (the install script downloads and starts the units)' : ''}`);
        }
      }),
    );
  }

  /**
   * Waits (bounded) until cloud-init has ended on every running machine and reports the last of their
   * progress: Ready can come before a machine's install script has returned (units waiting for their
   * bootstrap certificate are started last).
   */
  async settleMachines(timeoutMs = 180_000): Promise<void> {
    if (!this.machines) return;
    await Promise.all(
      [...this.sim.nodes.values()].map(async (n) => {
        if (n instanceof MachineNode && n.machine.running) await n.machine.exec(['cloud-init', 'status', '--wait'], timeoutMs).catch(() => undefined);
      }),
    );
    await this.watchMachines();
  }

  private async startControl() {
    this.control = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://sandbox');
      const answer = (status: number, text: string) => {
        res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(text + '\n');
      };
      if (req.method === 'GET' && url.pathname === '/') {
        const nodes = [...this.sim.nodes.values()].map((n) => `  ${n.name.padEnd(28)} ${n.role.padEnd(14)} ${n.privateIp} / ${n.publicIp ?? '-'}${n instanceof MachineNode && n.machine.pid ? `  machine: nsenter -t ${n.machine.pid} -a bash` : ''}`);
        answer(200, [...CONTROL_HELP, '', 'nodes:', ...nodes].join('\n'));
        return;
      }
      if (req.method !== 'POST') {
        answer(405, 'use POST (GET / lists the switches)');
        return;
      }
      this.fault(url.pathname.slice(1), url.searchParams).then(
        (done) => {
          this.say('fault switch', done);
          answer(200, done);
        },
        (e: unknown) => answer(400, (e as Error).message),
      );
    });
    await new Promise<void>((r) => this.control!.listen(this.o.controlPort ?? 0, '127.0.0.1', r));
    this.controlUrl = `http://127.0.0.1:${(this.control.address() as { port: number }).port}`;
  }

  /** Stops everything the sandbox started (operator, simulated nodes, fakes, endpoint) and removes its files. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    await this.operator?.stop();
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
    this.kube?.close();
    await this.sim?.stop();
    await this.machines?.stop();
    this.control?.closeAllConnections();
    await Promise.all([this.compute?.stop(), this.dns?.stop(), this.s3?.stop(), new Promise<void>((r) => (this.control ? this.control.close(() => r()) : r()))]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export const CONTROL_HELP = [
  'fault switches (POST):',
  '  /kill-node?name=N           the node dies and stays dead; its droplet remains',
  '  /delete-droplet?name=N      the droplet is deleted behind the operator’s back',
  '  /destroy-etcd               every etcd droplet deleted behind the operator’s back (then restore)',
  '  /partition?name=N           the node’s public address stops answering (probes, API, etcd clients)',
  '  /reconnect?name=N           undoes /partition',
  '  /cloud?status=503&count=N   the next N DigitalOcean requests fail with 503 (any 5xx)',
  '  /cloud?status=429&seconds=S every DigitalOcean request gets 429 with retry-after for S seconds',
  '  (add &provider=cloudflare to /cloud for the Cloudflare fake)',
];

export async function startSandbox(o: SandboxOptions): Promise<Sandbox> {
  const s = new Sandbox(o);
  try {
    return await s.start();
  } catch (e) {
    await s.stop().catch(() => undefined);
    throw e;
  }
}
