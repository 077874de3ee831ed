// A loopback stand-in for the release hosts a node downloads from (github.com, api.github.com,
// dl.k8s.io), laid out as each upstream publishes: the same asset names, the same archive members, the
// same checksum files in the same formats — or none, where the upstream publishes none. The files'
// contents are small stand-ins (no test reaches the internet), so their digests are the fixture's own:
// `digests` says what a manifest pinning these versions would have to keep.
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ComponentVersions } from '../../src/bootstrap/manifest.ts';
import { flannelCniFileVersion } from '../../src/bootstrap/manifest.ts';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const script = (name: string) => `#!/bin/sh\necho ${name}\n`;

export interface ReleaseServer {
  /**
   * http://127.0.0.1:<port>; a release URL https://<host>/<path> is served at <base>/<host>/<path>. With
   * `tls`, https://<address>:<port>, answering https://<host>/<path> for any host name the machines resolve
   * to that address (by the Host header).
   */
  base: string;
  files: Map<string, Buffer>;
  /** SHA-256 of each stand-in artifact, by file name (what a pinned manifest would keep). */
  digests: Map<string, string>;
  requests: string[];
  stop(): Promise<void>;
}

/** A member's content, or a file to copy (a real binary). */
type Member = string | { file: string };

/** A gzipped tarball with exactly these members (paths as given, e.g. "bin/ctr" or "./bridge"), made by tar. */
function tarball(members: Record<string, Member>, work: string): Buffer {
  const dir = mkdtempSync(path.join(work, 'tar-'));
  for (const [name, body] of Object.entries(members)) {
    const p = path.join(dir, name);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, typeof body === 'string' ? body : readFileSync(body.file), { mode: 0o755 });
  }
  const out = path.join(work, `${path.basename(dir)}.tgz`);
  // Listed member by member, so the archive holds these names exactly ("./bridge" keeps its "./").
  execFileSync('tar', ['-czf', out, '-C', dir, '--owner=0', '--group=0', ...Object.keys(members)]);
  const b = readFileSync(out);
  rmSync(dir, { recursive: true, force: true });
  return b;
}

export interface ReleaseServerOptions {
  components: ComponentVersions;
  kubernetes: string[];
  etcd: string[];
  /** Real binaries to put in the etcd tarballs in place of stand-ins (paths of etcd, etcdctl, etcdutl). */
  etcdBinaries?: Partial<Record<'etcd' | 'etcdctl' | 'etcdutl', string>>;
  /**
   * Content for a file in place of its stand-in: component (containerd, runc, cni, flannel-cni, flanneld,
   * crictl, kubernetes) and the file's name as published (an archive member such as "bin/containerd" or
   * "./bridge"; "runc.amd64"; for Kubernetes "<version>/<binary>").
   */
  file?: (component: string, name: string) => Member | undefined;
  /** Serve HTTPS on this address and port with this certificate (for machines that resolve the real hosts here). */
  tls?: { host: string; port: number; key: string; cert: string };
}

export async function startReleaseServer(o: ReleaseServerOptions): Promise<ReleaseServer> {
  const work = mkdtempSync(path.join(tmpdir(), 'hardway-releases-'));
  const pick = (component: string, name: string, standIn: string): Member => o.file?.(component, name) ?? standIn;
  const bytes = (m: Member): Buffer => Buffer.from(typeof m === 'string' ? m : readFileSync(m.file));
  const files = new Map<string, Buffer>();
  const digests = new Map<string, string>();
  const put = (url: string, body: Buffer | string) => files.set(url.replace(/^https:\/\//, '/'), Buffer.from(body));
  const asset = (url: string, body: Buffer | string) => {
    put(url, body);
    digests.set(url.split('/').pop()!, sha256(body));
    return sha256(body);
  };
  const c = o.components;
  const gh = 'https://github.com';

  // containerd: Makefile pack_release (`tar -czf … -C releases/$(1) bin`) and release target
  // (`sha256sum X.tar.gz > X.tar.gz.sha256sum`), containerd/containerd at v2.1.5.
  {
    const file = `containerd-${c.containerd}-linux-amd64.tar.gz`;
    const bins = ['bin/containerd', 'bin/containerd-shim-runc-v2', 'bin/containerd-stress', 'bin/ctr'];
    const d = asset(`${gh}/containerd/containerd/releases/download/v${c.containerd}/${file}`, tarball(Object.fromEntries(bins.map((b) => [b, pick('containerd', b, script(b))])), work));
    put(`${gh}/containerd/containerd/releases/download/v${c.containerd}/${file}.sha256sum`, `${d}  ${file}\n`);
  }
  // runc: script/release_build.sh (assets runc.<arch>, one runc.sha256sum for all) and release_sign.sh
  // (that file clear-signed with gpg), opencontainers/runc at v1.3.3.
  {
    const d = asset(`${gh}/opencontainers/runc/releases/download/v${c.runc}/runc.amd64`, bytes(pick('runc', 'runc.amd64', script('runc'))));
    put(`${gh}/opencontainers/runc/releases/download/v${c.runc}/runc.amd64.asc`, '-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n');
    put(
      `${gh}/opencontainers/runc/releases/download/v${c.runc}/runc.sha256sum`,
      `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n${'1'.repeat(64)}  runc.arm64\n${d}  runc.amd64\n${'2'.repeat(64)}  runc.tar.xz\n-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n`,
    );
  }
  // CNI plugins: .github/workflows/release.yaml (`tar cfzpv … .` inside bin/, so members start with "./";
  // `.sha256` and `.sha512` with bare names), containernetworking/plugins at v1.8.0.
  {
    const file = `cni-plugins-linux-amd64-v${c.cniPlugins}.tgz`;
    const plugins = ['bandwidth', 'bridge', 'host-local', 'loopback', 'portmap', 'ptp', 'tuning'];
    const d = asset(`${gh}/containernetworking/plugins/releases/download/v${c.cniPlugins}/${file}`, tarball({ ...Object.fromEntries(plugins.map((p) => [`./${p}`, pick('cni', `./${p}`, script(p))])), './LICENSE': 'Apache-2.0\n', './README.md': '# plugins\n' }, work));
    put(`${gh}/containernetworking/plugins/releases/download/v${c.cniPlugins}/${file}.sha256`, `${d}  ${file}\n`);
    put(`${gh}/containernetworking/plugins/releases/download/v${c.cniPlugins}/${file}.sha512`, `${'0'.repeat(128)}  ${file}\n`);
  }
  // flannel CNI plugin: scripts/package.sh (one member, flannel-<arch>; .sha1/.sha256/.sha512 with bare
  // names) and scripts/version.sh for the file's version (see flannelCniFileVersion), flannel-io/cni-plugin.
  {
    const tag = `v${c.flannelCniPlugin}`;
    const file = `cni-plugin-flannel-linux-amd64-${flannelCniFileVersion(c.flannelCniPlugin)}.tgz`;
    const d = asset(`${gh}/flannel-io/cni-plugin/releases/download/${tag}/${file}`, tarball({ 'flannel-amd64': pick('flannel-cni', 'flannel-amd64', script('flannel')) }, work));
    put(`${gh}/flannel-io/cni-plugin/releases/download/${tag}/${file}.sha256`, `${d}  ${file}\n`);
    put(`${gh}/flannel-io/cni-plugin/releases/download/${tag}/${file}.sha1`, `${'0'.repeat(40)}  ${file}\n`);
    put(`${gh}/flannel-io/cni-plugin/releases/download/${tag}/flannel-amd64`, script('flannel'));
  }
  // flannel: .github/workflows/release.yml uploads dist/flannel* (raw flanneld-<arch> binaries and
  // flannel-v<v>-linux-<arch>.tar.gz) and no checksum file, flannel-io/flannel at v0.27.4. GitHub's
  // Releases API reports each asset's digest as "sha256:<hex>" (github/roadmap#1136; go-github #3628).
  {
    const tag = `v${c.flannel}`;
    const d = asset(`${gh}/flannel-io/flannel/releases/download/${tag}/flanneld-amd64`, bytes(pick('flanneld', 'flanneld-amd64', script('flanneld'))));
    const tgz = tarball({ flanneld: script('flanneld'), 'mk-docker-opts.sh': '#!/bin/sh\n', 'README.md': '# flannel\n' }, work);
    put(`${gh}/flannel-io/flannel/releases/download/${tag}/flannel-${tag}-linux-amd64.tar.gz`, tgz);
    put(
      `https://api.github.com/repos/flannel-io/flannel/releases/tags/${tag}`,
      JSON.stringify({
        tag_name: tag,
        assets: [
          { name: 'flanneld-arm64', digest: `sha256:${'3'.repeat(64)}`, browser_download_url: `${gh}/flannel-io/flannel/releases/download/${tag}/flanneld-arm64` },
          { name: 'flanneld-amd64', digest: `sha256:${d}`, browser_download_url: `${gh}/flannel-io/flannel/releases/download/${tag}/flanneld-amd64` },
          { name: `flannel-${tag}-linux-amd64.tar.gz`, digest: `sha256:${sha256(tgz)}`, browser_download_url: `${gh}/flannel-io/flannel/releases/download/${tag}/flannel-${tag}-linux-amd64.tar.gz` },
        ],
      }),
    );
  }
  // crictl: hack/release.sh (one member, crictl; `.sha256` holding the digest alone), cri-tools at v1.34.0.
  {
    const file = `crictl-v${c.crictl}-linux-amd64.tar.gz`;
    const d = asset(`${gh}/kubernetes-sigs/cri-tools/releases/download/v${c.crictl}/${file}`, tarball({ crictl: pick('crictl', 'crictl', script('crictl')) }, work));
    put(`${gh}/kubernetes-sigs/cri-tools/releases/download/v${c.crictl}/${file}.sha256`, `${d}\n`);
  }
  // Kubernetes: every file has <file>.sha256 beside it holding the digest alone, with no newline
  // (kubernetes/release pkg/release/release.go WriteChecksums at f618b2a3).
  for (const v of o.kubernetes) {
    for (const bin of ['kubelet', 'kube-proxy', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl']) {
      const d = asset(`https://dl.k8s.io/release/${v}/bin/linux/amd64/${bin}`, bytes(pick('kubernetes', `${v}/${bin}`, script(bin))));
      put(`https://dl.k8s.io/release/${v}/bin/linux/amd64/${bin}.sha256`, d);
    }
  }
  // etcd: scripts/build-binary (members under etcd-v<v>-linux-amd64/) and scripts/release.sh (SHA256SUMS,
  // `shasum -a 256` lines with bare names), etcd-io/etcd at v3.5.21.
  for (const v of o.etcd) {
    const file = `etcd-v${v}-linux-amd64.tar.gz`;
    const top = `etcd-v${v}-linux-amd64`;
    const bin = (b: 'etcd' | 'etcdctl' | 'etcdutl'): Member => (o.etcdBinaries?.[b] ? { file: o.etcdBinaries[b]! } : script(b));
    const d = asset(`${gh}/etcd-io/etcd/releases/download/v${v}/${file}`, tarball({ [`${top}/etcd`]: bin('etcd'), [`${top}/etcdctl`]: bin('etcdctl'), [`${top}/etcdutl`]: bin('etcdutl'), [`${top}/README.md`]: '# etcd\n' }, work));
    put(`${gh}/etcd-io/etcd/releases/download/v${v}/SHA256SUMS`, `${'4'.repeat(64)}  etcd-v${v}-darwin-amd64.zip\n${d}  ${file}\n`);
  }

  const requests: string[] = [];
  const handle = (key: string, res: ServerResponse) => {
    requests.push(key);
    const body = files.get(key);
    res.writeHead(body === undefined ? 404 : 200).end(body);
  };
  rmSync(work, { recursive: true, force: true });
  if (o.tls) {
    const t = o.tls;
    const server = createTlsServer({ key: t.key, cert: t.cert }, (req: IncomingMessage, res: ServerResponse) => handle(`/${(req.headers.host ?? '').replace(/:\d+$/, '')}${req.url ?? ''}`, res));
    await new Promise<void>((r, reject) => {
      server.once('error', reject);
      server.listen(t.port, t.host, () => r());
    });
    return { base: `https://${t.host}:${t.port}`, files, digests, requests, stop: () => new Promise<void>((r) => server.close(() => r())) };
  }
  const server: Server = createServer((req, res) => handle(req.url ?? '', res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    files,
    digests,
    requests,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}
