// The node simulator: when a fake droplet becomes active, boot it the way cloud-init would — its
// write_files under a private root, its etcd unit run for real (Debian's etcd) on the droplet's loopback
// address, in a mount namespace whose /etc/hosts follows the fake Cloudflare zone. Deleted droplets stop;
// kill() makes a node die (its droplet stays).
import { mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { FakeDigitalOcean } from '../../src/cloud/fake/digitalocean.ts';
import type { FakeCloudflare } from '../../src/cloud/fake/cloudflare.ts';
import type { RenderedNode } from '../../src/bootstrap/roles.ts';
import { startMember, requireEtcd, type RunningMember } from './etcd.ts';

export class NodeSimulator {
  readonly nodes = new Map<string, RunningMember>();
  private readonly killed = new Set<string>();
  private timer?: NodeJS.Timeout;
  private readonly hosts: string;

  constructor(
    private readonly compute: FakeDigitalOcean,
    private readonly dns: FakeCloudflare,
    private readonly root: string,
  ) {
    requireEtcd();
    mkdirSync(root, { recursive: true });
    this.hosts = path.join(root, 'hosts');
    writeFileSync(this.hosts, '127.0.0.1 localhost\n');
  }

  /** Runs the simulated cloud's nodes (a loop over the fake's state, as a data centre would). */
  start(intervalMs = 100): this {
    this.timer = setInterval(() => this.tick(), intervalMs);
    return this;
  }

  private tick() {
    // Rewritten in place (same inode), so every node's bind-mounted /etc/hosts sees new names.
    const lines = [...this.dns.records.values()].filter((r) => r.type === 'A').map((r) => `${r.content} ${r.name}`);
    const text = ['127.0.0.1 localhost', ...lines].join('\n') + '\n';
    if (readFileSync(this.hosts, 'utf8') !== text) writeFileSync(this.hosts, text);
    const active = this.compute.activeDroplets();
    for (const d of active) {
      if (this.nodes.has(d.name) || this.killed.has(d.name) || !d.userData?.includes('etcd.service')) continue;
      const doc = parse(d.userData.replace(/^#cloud-config\n/, '')) as { write_files: { path: string; content: string; permissions: string }[] };
      const node = { role: 'etcd', name: d.name, userData: d.userData, files: doc.write_files.map((f) => ({ path: f.path, content: f.content, permissions: f.permissions as '0600' })) } as RenderedNode;
      this.nodes.set(d.name, startMember(node, d.privateIp, path.join(this.root, d.name), this.hosts, d.publicIp));
    }
    for (const [name, n] of this.nodes) if (!active.some((d) => d.name === name)) void this.stopNode(name, n);
  }

  private async stopNode(name: string, n: RunningMember) {
    this.nodes.delete(name);
    await n.kill();
    rmSync(path.join(this.root, name), { recursive: true, force: true });
  }

  /** The node dies and stays dead (its droplet remains): what a crashed machine looks like. */
  async kill(name: string): Promise<void> {
    this.killed.add(name);
    const n = this.nodes.get(name);
    if (n) await this.stopNode(name, n);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.nodes.values()].map((n) => n.kill()));
    this.nodes.clear();
  }
}
