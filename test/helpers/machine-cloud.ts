// What the test machines need around them, as a droplet has it: one network (test/helpers/machine.ts),
// DigitalOcean's metadata service on 169.254.169.254, the release hosts (github.com, api.github.com,
// dl.k8s.io) served over HTTPS from a local server laid out as each upstream publishes, reached under
// their real names through the machines' hosts file and a test CA added to their trust store, and names
// in the cluster's zone in the same hosts file.
import { mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { release } from 'node:os';
import path from 'node:path';
import { ensureCA, issueLeaf } from '../../src/pki/certs.ts';
import { RELEASES, componentsFor, type PinnedDigests } from '../../src/bootstrap/manifest.ts';
import { machineFile, nodeBinDir, NODE_BIN_MOUNT } from './node-binaries.ts';
import { REAL_KUBE_DIR } from './kube-wrapper.ts';
import { kubeBinDir } from '../env/cluster.ts';
import { ociImageArchive } from './oci-image.ts';
import { MachineNetwork, Machine, rootfsPath, type Address } from './machine.ts';
import { startMetadataServer, type MetadataDroplet, type MetadataServer } from './metadata-server.ts';
import { startReleaseServer, type ReleaseServer } from './release-server.ts';
import { etcdPath } from '../env/cluster.ts';
import { realRenderContext } from './cluster.ts';

/** The release hosts the install script downloads from (src/bootstrap/manifest.ts). */
export const RELEASE_HOSTS = ['github.com', 'api.github.com', 'dl.k8s.io'];

// Addresses inside the test run's own network namespace. Private: a droplet VPC range (10.10.0.0/16);
// public: 198.18.0.0/15, reserved for network testing (RFC 2544), never routed anywhere.
export const PRIVATE_NET = { gateway: '10.10.0.1', prefix: 16 };
export const PUBLIC_NET = { gateway: '198.18.0.1', prefix: 15 };
const RELEASE_IP = '198.19.255.253';
export const METADATA_IP = '169.254.169.254';
/** containerd 1.6's default sandbox image (`containerd config default`: sandbox_image), built from pause.c. */
export const PAUSE_IMAGE = 'registry.k8s.io/pause:3.6';
const IMAGES_MOUNT = '/opt/hardway-test/images';

/** Modules the node scripts and components load, built into this machine's kernel. */
const BUILTIN_MODULES = ['kernel/fs/overlayfs/overlay.ko', 'kernel/net/bridge/br_netfilter.ko', 'kernel/net/bridge/bridge.ko', 'kernel/drivers/net/vxlan/vxlan.ko', 'kernel/net/netfilter/nf_conntrack.ko'];

export interface MachineDroplet extends MetadataDroplet {
  machine?: Machine;
}

export class MachineCloud {
  /** Names in the zone and their addresses, one pair per A record (a name may have several). */
  private names: [string, string][] = [];
  private nextHost = 1;

  private constructor(
    readonly droplets: Map<number, MachineDroplet>,
    readonly dir: string,
    readonly net: MachineNetwork,
    readonly metadata: MetadataServer,
    readonly releases: ReleaseServer,
    private readonly hostsFile: string,
    private readonly caBundle: string,
    private readonly modulesDir: string,
  ) {}

  static async start(dir: string, o: { bridge: string; etcd?: string[]; kubernetes?: string[] }): Promise<MachineCloud> {
    mkdirSync(dir, { recursive: true });
    const net = await MachineNetwork.create(o.bridge, [
      { ip: PRIVATE_NET.gateway, prefix: PRIVATE_NET.prefix },
      { ip: PUBLIC_NET.gateway, prefix: PUBLIC_NET.prefix },
    ]);
    await net.serve(METADATA_IP);
    await net.serve(RELEASE_IP);
    const ctx = realRenderContext();
    const ca = ensureCA(undefined, 'hardway test release CA', ctx).bundle;
    const leaf = issueLeaf(ca, { commonName: 'releases', names: RELEASE_HOSTS, usages: ['server'] }, ctx);
    const caBundle = path.join(dir, 'ca-certificates.crt');
    writeFileSync(caBundle, readFileSync(path.join(rootfsPath, 'etc/ssl/certs/ca-certificates.crt'), 'utf8') + ca.cert);
    const bin = path.dirname(etcdPath);
    const releases = await startReleaseServer({
      components: o.kubernetes?.[0] ? componentsFor(o.kubernetes[0]) : RELEASES['1.34']!,
      file: machineFile,
      kubernetes: o.kubernetes ?? [],
      etcd: o.etcd ?? [],
      etcdBinaries: { etcd: etcdPath, etcdctl: path.join(bin, 'etcdctl'), etcdutl: path.join(bin, 'etcdutl') },
      tls: { host: RELEASE_IP, port: 443, key: leaf.key, cert: leaf.cert },
    });
    // This kernel has the modules nodes load (overlay, br_netfilter, …) built in and no module files, so
    // `modprobe overlay` fails ("Module overlay not found"). A droplet's kernel has them as files; the
    // machines get a modules directory that lists them as built in (../shared/design/REAL-NODES.md).
    const modules = path.join(dir, 'modules');
    mkdirSync(path.join(modules, 'lib/modules', release()), { recursive: true });
    writeFileSync(path.join(modules, 'lib/modules', release(), 'modules.builtin'), BUILTIN_MODULES.map((m) => `${m}\n`).join(''));
    execFileSync('depmod', ['-b', modules, release()], { stdio: 'ignore' });
    // Images a node would pull from a registry (none is reachable): imported with ctr by the tests (importImages).
    mkdirSync(path.join(dir, 'images'), { recursive: true });
    ociImageArchive({ name: PAUSE_IMAGE, binary: path.join(kubeBinDir, 'pause'), out: path.join(dir, 'images/pause.tar') });
    const droplets = new Map<number, MachineDroplet>();
    const metadata = await startMetadataServer(METADATA_IP, (a) => [...droplets.values()].find((d) => d.privateIp === a || d.publicIp === a));
    const cloud = new MachineCloud(droplets, dir, net, metadata, releases, path.join(dir, 'hosts'), caBundle, path.join(modules, 'lib/modules', release()));
    cloud.writeHosts();
    return cloud;
  }

  /**
   * The digests of the files this cloud's release server serves where the operator pins upstream's
   * (nodeArtifacts' `pins`): its files are stand-ins under upstream's names.
   */
  pins(version: string): PinnedDigests {
    const c = componentsFor(version);
    const d = (file: string) => this.releases.digests.get(file) ?? `no digest for ${file}`;
    return {
      containerd: { [c.containerd]: d(`containerd-${c.containerd}-linux-amd64.tar.gz`) },
      runc: { [c.runc]: d('runc.amd64') },
      cniPlugins: { [c.cniPlugins]: d(`cni-plugins-linux-amd64-v${c.cniPlugins}.tgz`) },
      crictl: { [c.crictl]: d(`crictl-v${c.crictl}-linux-amd64.tar.gz`) },
    };
  }

  /** Rewrites the machines' /etc/hosts in place (same inode: every machine bind-mounts it). */
  writeHosts(): void {
    const lines = ['127.0.0.1 localhost', ...RELEASE_HOSTS.map((h) => `${RELEASE_IP} ${h}`), ...this.names.map(([n, ip]) => `${ip} ${n}`)];
    writeFileSync(this.hostsFile, lines.join('\n') + '\n');
  }

  setName(name: string, ip: string | undefined): void {
    this.names = [...this.names.filter(([n]) => n !== name), ...(ip ? [[name, ip] as [string, string]] : [])];
    this.writeHosts();
  }

  /**
   * The n-th address of each subnet (n from 1), past the gateways: what the fake DigitalOcean hands out
   * (its `addresses` option) when droplets are machines.
   */
  static readonly addressing = {
    private: (n: number) => `10.10.${(n + 9) >> 8}.${(n + 9) & 0xff}`,
    public: (n: number) => `198.18.${(n + 9) >> 8}.${(n + 9) & 0xff}`,
  };

  /** Addresses for a droplet made without the fake cloud. */
  allocate(): { privateIp: string; publicIp: string } {
    const n = this.nextHost++;
    return { privateIp: MachineCloud.addressing.private(n), publicIp: MachineCloud.addressing.public(n) };
  }

  /** Makes the zone's records exactly these ([name, address] per A record), rewriting the hosts file only on a change. */
  syncNames(records: [string, string][]): void {
    if (JSON.stringify(records) === JSON.stringify(this.names)) return;
    this.names = records;
    this.writeHosts();
  }

  /** Boots a droplet's machine from its user-data. */
  boot(d: Omit<MachineDroplet, 'privatePrefix' | 'publicPrefix' | 'publicGateway' | 'machine'>): Machine {
    const droplet: MachineDroplet = { ...d, privatePrefix: PRIVATE_NET.prefix, publicPrefix: PUBLIC_NET.prefix, publicGateway: d.publicIp ? PUBLIC_NET.gateway : undefined };
    const addresses: Address[] = [{ ip: d.privateIp, prefix: PRIVATE_NET.prefix }, ...(d.publicIp ? [{ ip: d.publicIp, prefix: PUBLIC_NET.prefix }] : [])];
    droplet.machine = Machine.boot(this.net, {
      name: d.name,
      instanceId: String(d.id),
      userData: d.userData ?? '',
      addresses,
      gateway: d.publicIp ? PUBLIC_NET.gateway : PRIVATE_NET.gateway,
      hostsFile: this.hostsFile,
      caBundle: this.caBundle,
      stateDir: path.join(this.dir, 'machines', `${d.name}-${d.id}`),
      binds: [
        { from: kubeBinDir, to: REAL_KUBE_DIR },
        { from: nodeBinDir, to: NODE_BIN_MOUNT },
        { from: this.modulesDir, to: `/lib/modules/${release()}` },
        { from: path.join(this.dir, 'images'), to: IMAGES_MOUNT },
      ],
      // Kubernetes nodes (their user-data installs a kubelet).
      kubelet: (d.userData ?? '').includes('/etc/systemd/system/kubelet.service'),
    });
    this.droplets.set(d.id, droplet);
    return droplet.machine;
  }

  /**
   * Puts the pause image into a Kubernetes machine's containerd, once containerd runs: what a registry
   * pull would do on a droplet.
   */
  async importImages(m: Machine, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await m.exec(['ctr', '--namespace', 'k8s.io', 'images', 'import', `${IMAGES_MOUNT}/pause.tar`]);
      if (r.code === 0) return;
      if (Date.now() > deadline) throw new Error(`${m.spec.name}: cannot import the pause image: ${r.stderr}`);
      // containerd not up yet: the install script is still downloading; looked at again shortly.
      await new Promise((res) => setTimeout(res, 2_000));
    }
  }

  /** Machines whose nspawn still runs. */
  running(): Machine[] {
    return [...this.droplets.values()].map((d) => d.machine!).filter((m) => m.running);
  }

  async destroy(id: number): Promise<void> {
    const d = this.droplets.get(id);
    this.droplets.delete(id);
    await d?.machine?.destroy();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.droplets.values()].map((d) => d.machine?.destroy()));
    this.droplets.clear();
    await Promise.all([this.metadata.stop(), this.releases.stop()]);
    await this.net.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
