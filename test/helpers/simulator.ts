// The node simulator: when a fake droplet becomes active, boot it the way cloud-init would, from its
// user-data, on the droplet's loopback addresses (private 127.1x.x.y, public 127.2x.x.y), in mount
// namespaces whose /etc/hosts follows the fake Cloudflare zone:
// - etcd members: etcd 3.5 (Debian unstable's, cached by test/env/fetch-etcd.sh) from the rendered unit (test/helpers/etcd.ts), listening on both addresses
//   as the unit says.
// - control-plane nodes: the real kube-apiserver and kube-controller-manager (v1.20.2) against the etcd
//   members, plus stand-ins for kube-scheduler, kubelet and kube-proxy (test/helpers/kube-node.ts).
// - workers: kubelet and kube-proxy stand-ins; the kubelet registers its Node through the real API with its
//   own certificate and keeps it Ready.
// Public addresses: the real binaries listen on the private address and TCP proxies forward the public
// one's ports (6443, 10257); the stand-ins (10250, 10256, 10259) listen on both addresses themselves.
// Load balancers: each fake DO load balancer listens on its IP at every forwarding rule's entry port and
// hands each connection to the first droplet with its tag whose target port accepts it (tried in turn).
// etcd listens on the private address only and its client port is forwarded from the public one, like the
// real Kubernetes binaries, so every public port of a node can be cut.
// Deleted droplets stop (processes killed, disk removed), kill() makes a node die while its droplet stays,
// partition() cuts a node's public address (what the operator probes and clients use; the private network
// between nodes keeps working) until reconnect(), and a deleted load balancer stops listening.
import { mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { parse } from 'yaml';
import type { FakeDigitalOcean } from '../../src/cloud/fake/digitalocean.ts';
import type { FakeCloudflare } from '../../src/cloud/fake/cloudflare.ts';
import type { RenderedNode } from '../../src/bootstrap/roles.ts';
import type { NodeFile } from '../../src/bootstrap/cloudconfig.ts';
import { startMember, requireEtcd, type RunningMember } from './etcd.ts';
import { KubeNode, type Component, type KubeTiming } from './kube-node.ts';
import { FakeHandOver } from '../../src/handover/fake.ts';
import { HandOverError } from '../../src/handover/port.ts';
import { forward, setReachable, type Forwarder } from './tcp-proxy.ts';
import type { MachineCloud } from './machine-cloud.ts';
import type { Machine } from './machine.ts';

export type { Component, KubeTiming } from './kube-node.ts';

/** An etcd member of the simulated cloud. */
export class EtcdNode {
  readonly role = 'etcd' as const;
  readonly components = new Map<string, Component>();
  readonly log: string[];

  /** The public client port's forwarder, once listening. */
  forwarder?: Promise<Forwarder | undefined>;

  constructor(
    readonly member: RunningMember,
    readonly privateIp: string,
    readonly publicIp: string | undefined,
    readonly root: string,
  ) {
    this.log = member.log;
    const c: Component = { name: 'etcd', state: 'running', restarts: 0, output: member.log };
    this.components.set('etcd', c);
    void member.exited.then((code) => {
      if (c.state === 'running') Object.assign(c, { state: 'failed', reason: `exited with ${code}` });
    });
  }

  get name(): string {
    return this.member.name;
  }

  async stop(): Promise<void> {
    this.components.get('etcd')!.state = 'stopped';
    await Promise.all([this.member.kill(), this.forwarder?.then((f) => f?.close())]);
  }
}

/**
 * A droplet booted as a real machine (test/helpers/machine.ts): systemd and cloud-init run its user-data
 * unmodified; nothing here looks inside it.
 */
export class MachineNode {
  readonly components = new Map<string, Component>();
  readonly log: string[] = [];

  constructor(
    readonly role: 'etcd' | 'control-plane' | 'worker',
    readonly machine: Machine,
    readonly privateIp: string,
    readonly publicIp: string | undefined,
    readonly root: string,
    private readonly destroy: () => Promise<void>,
  ) {
    const c: Component = { name: 'machine', state: 'running', restarts: 0, output: this.log };
    this.components.set('machine', c);
    void machine.exited.then((code) => {
      if (c.state === 'running') Object.assign(c, { state: 'failed', reason: `machine exited with ${code}` });
    });
  }

  get name(): string {
    return this.machine.spec.name;
  }

  async stop(): Promise<void> {
    this.components.get('machine')!.state = 'stopped';
    await this.destroy();
  }
}

export type SimNode = EtcdNode | KubeNode | MachineNode;

export interface NodeSimulatorOptions extends Partial<KubeTiming> {
  /** How often the simulated data centre looks at the fakes' state (ms). */
  intervalMs?: number;
  /**
   * Boot droplets as real machines on this cloud (the fake DigitalOcean must hand out its addresses:
   * MachineCloud.addressing), every role; load balancers then listen on the bridge, where machines reach them.
   */
  machines?: MachineCloud;
}

interface Balancer {
  ip: string;
  forwarders: Promise<Forwarder[]>;
}

export class NodeSimulator {
  readonly nodes = new Map<string, SimNode>();
  /** Load balancers being served, by id. */
  readonly loadBalancers = new Map<string, Balancer>();
  /** The simulator's own log: load balancers, nodes booted and stopped. */
  readonly log: string[] = [];
  /** Emits 'change' on every log line and component state change (see until()). */
  readonly events = new EventEmitter();
  private readonly killed = new Set<string>();
  /** Droplets whose user-data boots nothing the simulator knows (no etcd or kubelet unit). */
  private readonly ignored = new Set<number>();
  private timer?: NodeJS.Timeout;
  private readonly hosts: string;
  private readonly resolv: string;
  private readonly timing: KubeTiming;
  private stopping = false;
  /**
   * Stand-in for the nodes' sshd, for the operator's hand-over (give it as OperatorDeps.handOver): checks
   * the host and client keys against the node's user-data (src/handover/fake.ts) and writes the files on
   * the simulated node's disk. Machines (--machines) run Debian's real sshd instead.
   */
  readonly handOver: FakeHandOver;

  constructor(
    private readonly compute: FakeDigitalOcean,
    private readonly dns: FakeCloudflare,
    private readonly root: string,
    private readonly o: NodeSimulatorOptions = {},
  ) {
    requireEtcd();
    mkdirSync(root, { recursive: true });
    this.hosts = path.join(root, 'hosts');
    writeFileSync(this.hosts, '127.0.0.1 localhost\n');
    // Same file etcd.ts writes for its members: any name outside the zone fails at once.
    this.resolv = path.join(root, 'resolv.conf');
    writeFileSync(this.resolv, 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');
    this.timing = { heartbeatMs: o.heartbeatMs ?? 5_000, registerRetryMs: o.registerRetryMs ?? 1_000, restartDelayMs: o.restartDelayMs };
    this.events.setMaxListeners(100);
    this.handOver = new FakeHandOver(
      (a) => this.compute.activeDroplets().find((d) => d.privateIp === a || d.publicIp === a),
      (name, files, marker) => {
        const n = this.nodes.get(name);
        if (n instanceof KubeNode) n.receive(files, marker);
        else throw new HandOverError('unreachable', `${name} is not a simulated Kubernetes node`);
      },
    );
  }

  /** Runs the simulated cloud's nodes (a loop over the fake's state, as a data centre would). */
  start(intervalMs = this.o.intervalMs ?? 100): this {
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.tick();
    return this;
  }

  private note(message: string) {
    this.log.push(message);
    this.events.emit('change');
  }

  /** The zone's A records for a name (what a resolver using the fake Cloudflare would answer). */
  resolve(host: string): string[] {
    return [...this.dns.records.values()].filter((r) => r.type === 'A' && r.name === host).map((r) => r.content as string);
  }

  private tick() {
    if (this.stopping) return;
    // Rewritten in place (same inode), so every node's bind-mounted /etc/hosts sees new names.
    const records = [...this.dns.records.values()].filter((r) => r.type === 'A');
    const text = ['127.0.0.1 localhost', ...records.map((r) => `${r.content} ${r.name}`)].join('\n') + '\n';
    if (readFileSync(this.hosts, 'utf8') !== text) writeFileSync(this.hosts, text);
    this.o.machines?.syncNames(records.map((r) => [r.name, r.content as string]));
    const active = this.compute.activeDroplets();
    for (const d of active) {
      if (this.nodes.has(d.name) || this.killed.has(d.name) || this.ignored.has(d.id) || !d.userData) continue;
      try {
        this.boot(d);
      } catch (e) {
        this.ignored.add(d.id);
        this.note(`${d.name}: cannot boot its user-data: ${(e as Error).message}`);
      }
    }
    for (const [name, n] of this.nodes) {
      if (active.some((d) => d.name === name)) continue;
      this.note(`${name}: droplet gone: node stopped`);
      void this.stopNode(name, n);
    }
    this.syncLoadBalancers(active.map((d) => d.id));
  }

  private boot(d: { id: number; name: string; privateIp: string; publicIp?: string; userData?: string }) {
    const doc = parse(d.userData!.replace(/^#cloud-config\n/, '')) as { write_files?: { path: string; content: string; permissions: string }[] };
    const files: NodeFile[] = (doc.write_files ?? []).map((f) => ({ path: f.path, content: f.content, permissions: f.permissions as NodeFile['permissions'] }));
    const has = (unit: string) => files.some((f) => f.path === `/etc/systemd/system/${unit}`);
    const root = path.join(this.root, d.name);
    const machines = this.o.machines;
    if (machines && (has('etcd.service') || has('kubelet.service'))) {
      const role = has('etcd.service') ? 'etcd' : has('kube-apiserver.service') ? 'control-plane' : 'worker';
      const machine = machines.boot({ id: d.id, name: d.name, region: 'nyc3', tags: [], userData: d.userData, privateIp: d.privateIp, publicIp: d.publicIp });
      const node = new MachineNode(role, machine, d.privateIp, d.publicIp, root, () => machines.destroy(d.id));
      this.nodes.set(d.name, node);
      this.note(`${d.name}: ${role} machine booting on ${d.privateIp}${d.publicIp ? ` (public ${d.publicIp})` : ''}`);
      // No registry here: the pause image goes into containerd once the install script has started it.
      if (role !== 'etcd')
        machines.importImages(machine).then(
          () => this.note(`${d.name}: pause image imported`),
          (e: unknown) => machine.running && this.note(`${d.name}: ${(e as Error).message}`),
        );
      return;
    }
    if (has('etcd.service')) {
      const node = { role: 'etcd', name: d.name, userData: d.userData, files } as RenderedNode;
      const member = new EtcdNode(startMember(node, d.privateIp, root, this.hosts), d.privateIp, d.publicIp, root);
      if (d.publicIp) {
        member.forwarder = forward(d.publicIp, 2379, () => [{ host: d.privateIp, port: 2379 }]).catch((e: unknown) => {
          this.note(`${d.name}: cannot forward ${d.publicIp}:2379: ${(e as Error).message}`);
          return undefined;
        });
      }
      this.nodes.set(d.name, member);
      this.note(`${d.name}: etcd member started on ${d.privateIp}${d.publicIp ? ` (public ${d.publicIp})` : ''}`);
      return;
    }
    if (!has('kubelet.service')) {
      this.ignored.add(d.id);
      return;
    }
    const role = has('kube-apiserver.service') ? 'control-plane' : 'worker';
    const node = new KubeNode(
      {
        name: d.name,
        privateIp: d.privateIp,
        publicIp: d.publicIp,
        root,
        hostsFile: this.hosts,
        resolvFile: this.resolv,
        resolve: (h) => this.resolve(h),
        timing: this.timing,
        changed: () => this.events.emit('change'),
      },
      files,
      role,
    );
    this.nodes.set(d.name, node);
    this.note(`${d.name}: ${role} node booting on ${d.privateIp}${d.publicIp ? ` (public ${d.publicIp})` : ''}`);
    node.start().catch((e: unknown) => node.note('node', `boot failed: ${(e as Error).stack ?? String(e)}`));
  }

  private syncLoadBalancers(activeIds: number[]) {
    const active = new Set(activeIds);
    for (const [id, lb] of this.loadBalancers) {
      if (this.compute.loadBalancers.has(id)) continue;
      this.loadBalancers.delete(id);
      void lb.forwarders.then((fs) => Promise.all(fs.map((f) => f.close()))).then(() => this.o.machines?.net.unserve(lb.ip));
      this.note(`load balancer ${id} deleted: stopped listening`);
    }
    for (const l of this.compute.loadBalancers.values()) {
      if (this.loadBalancers.has(l.id) || !l.ip) continue;
      const tag = String(l.tag ?? '').toLowerCase();
      const rules = (l.forwarding_rules ?? []) as { entry_port: number; target_port: number }[];
      const backends = (port: number) => () =>
        [...this.compute.droplets.values()]
          .filter((d) => active.has(d.id) && d.tags.some((t) => t.toLowerCase() === tag))
          .map((d) => ({ host: d.privateIp, port }));
      const listen = this.o.machines ? this.o.machines.net.serve(l.ip) : Promise.resolve();
      const forwarders = Promise.all(
        rules.map((r) =>
          listen.then(() => forward(l.ip, r.entry_port, backends(r.target_port))).catch((e: unknown) => {
            this.note(`load balancer ${l.id}: cannot listen on ${l.ip}:${r.entry_port}: ${(e as Error).message}`);
            return undefined;
          }),
        ),
      ).then((fs) => fs.filter((f): f is Forwarder => !!f));
      this.loadBalancers.set(l.id, { ip: l.ip, forwarders });
      this.note(`load balancer ${l.id} on ${l.ip}: ${rules.map((r) => `${r.entry_port}→${r.target_port}`).join(', ')} to droplets tagged ${l.tag}`);
    }
  }

  /** Cuts or restores this process's path to a node's public address (machines: a route; in-process nodes: their listeners). */
  private reach(n: SimNode, reachable: boolean): Promise<void> {
    if (n instanceof MachineNode) return this.o.machines!.net.setReachable(n.publicIp!, reachable);
    setReachable(n.publicIp!, reachable);
    return Promise.resolve();
  }

  private async stopNode(name: string, n: SimNode) {
    this.nodes.delete(name);
    if (n.publicIp) await this.reach(n, true);
    await n.stop();
    // Waiters on "nodes stopped" look again now (the note before the stop came while it still ran).
    this.events.emit('change');
    rmSync(n.root, { recursive: true, force: true });
  }

  /** The node dies and stays dead (its droplet remains): what a crashed machine looks like. */
  async kill(name: string): Promise<void> {
    this.killed.add(name);
    const n = this.nodes.get(name);
    if (n) await this.stopNode(name, n);
  }

  /**
   * The node's public address stops answering (every port: health endpoints, API, etcd clients) while the
   * node runs on and its private network to the other nodes keeps working; reconnect() restores it.
   * Returns false for a node that is not running.
   */
  partition(name: string): boolean {
    const n = this.nodes.get(name);
    if (!n?.publicIp) return false;
    void this.reach(n, false);
    this.note(`${name}: partitioned: public address ${n.publicIp} cut off`);
    return true;
  }

  reconnect(name: string): boolean {
    const n = this.nodes.get(name);
    if (!n?.publicIp) return false;
    void this.reach(n, true);
    this.note(`${name}: reconnected: public address ${n.publicIp} answers again`);
    return true;
  }

  /** A Kubernetes node by name (undefined for etcd members and unknown names). */
  kubeNode(name: string): KubeNode | undefined {
    const n = this.nodes.get(name);
    return n instanceof KubeNode ? n : undefined;
  }

  /** Resolves when the control-plane node's own kube-apiserver answers /readyz with 200. */
  async waitForApiServer(name: string, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await this.until(`${name} booted`, () => !!this.kubeNode(name)?.components.has('kube-apiserver'), timeoutMs);
    await this.kubeNode(name)!.waitForApiServer(Math.max(1, deadline - Date.now()));
  }

  /** Resolves when pred holds, checked on every simulator change; fails after ms. */
  until(what: string, pred: () => boolean, ms = 60_000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!pred()) return false;
        clearTimeout(timer);
        this.events.off('change', check);
        resolve();
        return true;
      };
      const timer = setTimeout(() => {
        this.events.off('change', check);
        reject(new Error(`${what}: not within ${ms} ms; simulator log: ${this.log.slice(-5).join(' | ')}`));
      }, ms);
      if (!check()) this.events.on('change', check);
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    const nodes = [...this.nodes.values()];
    this.nodes.clear();
    const lbs = [...this.loadBalancers.values()];
    this.loadBalancers.clear();
    await Promise.all([...nodes.map((n) => n.stop()), ...lbs.map((l) => l.forwarders.then((fs) => Promise.all(fs.map((f) => f.close()))))]);
  }
}
