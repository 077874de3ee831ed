// An OCI image layout archive of one static binary, for `ctr images import` inside a test machine (no
// registry is reachable): the pause image the pod sandboxes need, built from Kubernetes' pause.c
// (test/env/build-kube.sh). Layout per the OCI image spec (image-layout.md: oci-layout, index.json,
// blobs/sha256); containerd names the image from the io.containerd.image.name annotation.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, copyFileSync, chmodSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Writes the archive to `out`: an image named `name` whose entrypoint is /<basename of binary>. */
export function ociImageArchive(o: { name: string; binary: string; out: string }): void {
  const work = mkdtempSync(path.join(tmpdir(), 'hardway-oci-'));
  try {
    const rootfs = path.join(work, 'rootfs');
    mkdirSync(rootfs);
    const entry = path.basename(o.binary);
    copyFileSync(o.binary, path.join(rootfs, entry));
    chmodSync(path.join(rootfs, entry), 0o755);
    const layerFile = path.join(work, 'layer.tar');
    execFileSync('tar', ['-cf', layerFile, '-C', rootfs, '--owner=0', '--group=0', '--numeric-owner', entry]);
    const layer = readFileSync(layerFile);
    const layout = path.join(work, 'layout');
    mkdirSync(path.join(layout, 'blobs/sha256'), { recursive: true });
    const blob = (b: Buffer | string) => {
      const d = sha(b);
      writeFileSync(path.join(layout, 'blobs/sha256', d), b);
      return { digest: `sha256:${d}`, size: Buffer.byteLength(b) };
    };
    const layerRef = blob(layer);
    const config = blob(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Entrypoint: [`/${entry}`] }, rootfs: { type: 'layers', diff_ids: [layerRef.digest] } }));
    const manifest = blob(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layerRef }],
      }),
    );
    writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(
      path.join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'io.containerd.image.name': o.name, 'org.opencontainers.image.ref.name': o.name.split(':').pop() } }],
      }),
    );
    execFileSync('tar', ['-cf', o.out, '-C', layout, '.']);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
