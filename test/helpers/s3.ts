// A real S3-compatible server for the backup tests: s3rver 3.7.1 from npm, on loopback. Where it is more
// lenient than S3 or DigitalOcean Spaces (read in its source, lib/middleware/authentication.js and
// lib/routes.js at v3.7.1): it does not check SigV4 signatures (only that the access key ID is S3RVER);
// it has no AbortMultipartUpload (a failed upload's parts stay behind; Spaces and S3 delete them); its
// ListObjectsV2 paging fails on Node 20 (DES continuation tokens, jamhall/s3rver#818), so tests keep
// under 1000 objects. Multipart upload, GET, DELETE and presigned GET URLs (expiry checked) work.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StorageLocation } from '../../src/backup/store.ts';

export interface S3Server {
  endpoint: string;
  bucket: string;
  dir: string;
  location: StorageLocation;
  proc: ChildProcess;
  stop(): Promise<void>;
}

export const S3_KEY = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export async function startS3(dir: string, bucket = 'snapshots'): Promise<S3Server> {
  mkdirSync(dir, { recursive: true });
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 's3-server.mjs');
  // setpriv --pdeathsig: the server dies with the process that started it, even one killed outright.
  const proc = spawn('setpriv', ['--pdeathsig', 'KILL', process.execPath, script, dir, bucket], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /\{"port":(\d+)\}/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.on('exit', (c) => reject(new Error(`s3rver exited (${c}): ${err}`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  return {
    endpoint,
    bucket,
    dir,
    proc,
    location: { endpoint, region: 'us-east-1', bucket, forcePathStyle: true, ...S3_KEY },
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}
