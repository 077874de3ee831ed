// Real etcd members (etcd 3.5, Debian unstable's etcd-server: test/env/fetch-etcd.sh) started from rendered user-data: the files go under a private
// root, the rendered unit's ExecStart runs with the node's environment filled in.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import type { RenderedNode } from '../../src/bootstrap/roles.ts';
import { etcdPath } from '../env/cluster.ts';
import { ETCD_RESTORE_SCRIPT } from '../../src/bootstrap/restore.ts';

/** etcdutl 3.5 beside etcd (test/env/fetch-etcd.sh). */
export const etcdutlPath = path.join(path.dirname(etcdPath), 'etcdutl');

export function requireEtcd(): void {
  const r = spawnSync(etcdPath, ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`etcd 3.5 is not at ${etcdPath}: run test/env/setup.sh (test/env/fetch-etcd.sh). These tests need a real etcd.`);
}

/** ExecStart of a rendered unit as an argument list, with the node's environment filled in. */
export function execStart(unit: string, env: Record<string, string>): string[] {
  const line = unit.match(/^ExecStart=([\s\S]*?)\nRestart=/m)![1]!;
  return line
    .replace(/\\\n\s*/g, ' ')
    .trim()
    .split(/\s+/)
    .map((a) => a.replace(/\$\{(\w+)\}/g, (_, k: string) => env[k] ?? ''));
}

export interface RunningMember {
  name: string;
  ip: string;
  proc: ChildProcess;
  log: string[];
  exited: Promise<number | null>;
  kill(): Promise<void>;
}

/**
 * Writes a node's files under root and starts its etcd with the rendered flags (paths moved under root).
 * With hostsFile, etcd runs in a private mount namespace where that file is /etc/hosts, so the members'
 * DNS names resolve as the fake zone says.
 */
export function startMember(node: RenderedNode, ip: string, root: string, hostsFile?: string, publicIp?: string): RunningMember {
  requireEtcd();
  for (const f of node.files) {
    const target = path.join(root, f.path);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, f.content);
    chmodSync(target, Number.parseInt(f.permissions, 8));
  }
  const unit = node.files.find((f) => f.path === '/etc/systemd/system/etcd.service')!.content;
  // Without a public address the member listens on its private one only (as a droplet without public networking).
  const args = execStart(unit, { PRIVATE_IPV4: ip, PUBLIC_IPV4: publicIp ?? '' })
    .map((a) => a.replace(/,https:\/\/:2379$/, ''))
    .slice(1)
    .map((a) => a.replace(/(=|^)(\/etc\/etcd|\/var\/lib\/etcd)/, (_, eq: string, p: string) => `${eq}${root}${p}`));
  // setpriv --pdeathsig: the member dies with the test process, even when that is killed outright, so no
  // stray etcd keeps an address the next run needs.
  // The hosts file is the zone; a resolv.conf pointing at a closed local port makes any other lookup fail
  // at once instead of waiting out DNS timeouts on a machine without network.
  let resolv = '';
  if (hostsFile) {
    resolv = path.join(path.dirname(hostsFile), 'resolv.conf');
    writeFileSync(resolv, 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');
  }
  // The seed of a restored cluster runs its rendered restore script first, for real (curl from the test's
  // S3 server, sha256sum, etcdutl), with the node's paths moved under root as etcd's are.
  const restore = node.files.some((f) => f.path === ETCD_RESTORE_SCRIPT) ? path.join(root, ETCD_RESTORE_SCRIPT) : undefined;
  // (Not ETCD_*: etcd reads those as flags.)
  const env = { ...process.env, HARDWAY_ETCD_DIR: path.join(root, '/etc/etcd'), HARDWAY_ETCD_DATA_DIR: path.join(root, '/var/lib/etcd'), HARDWAY_ETCDUTL: etcdutlPath };
  const before = restore ? `"${restore}" && ` : '';
  const proc = hostsFile
    ? spawn('setpriv', ['--pdeathsig', 'KILL', 'unshare', '-m', 'sh', '-c', `mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/resolv.conf && shift && ${before}exec "$@"`, hostsFile, resolv, etcdPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
    : spawn('setpriv', ['--pdeathsig', 'KILL', 'sh', '-c', `${before}exec "$@"`, 'etcd', etcdPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const log: string[] = [];
  proc.stdout!.on('data', (d) => log.push(String(d)));
  proc.stderr!.on('data', (d) => log.push(String(d)));
  const exited = new Promise<number | null>((r) => proc.on('exit', (c) => r(c)));
  return {
    name: node.name,
    ip,
    proc,
    log,
    exited,
    kill: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Polls a condition of etcd processes a test started, with a deadline (no event to wait on); on timeout the
 * error carries the last failure and the tail of each member's log.
 */
export async function eventually<T>(running: RunningMember[], what: string, f: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${what}: not within ${ms} ms (${String(last)}); logs: ${running.map((m) => m.log.join('').slice(-800)).join('\n---\n')}`);
}

/**
 * One call of etcd's JSON gateway (kv/put, kv/range) with a client certificate, as an API server's etcd
 * client would make it. The member's certificate names are not checked (tests connect by IP).
 */
export function etcdKv(ip: string, tls: { ca: string; cert: string; key: string }, op: 'put' | 'range', body: object): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: ip, port: 2379, path: `/v3/kv/${op}`, method: 'POST', ...tls, servername: undefined, checkServerIdentity: () => undefined, timeout: 10_000, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => ((res.statusCode ?? 0) < 300 ? resolve(JSON.parse(text)) : reject(new Error(`kv/${op}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`kv/${op}: no answer`)));
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** Puts `mib` values of about 1 MiB of random bytes (nothing compresses) under /data/. */
export async function fillEtcd(ip: string, tls: { ca: string; cert: string; key: string }, mib: number): Promise<void> {
  for (let i = 0; i < mib; i++) await etcdKv(ip, tls, 'put', { key: Buffer.from(`/data/${i}`).toString('base64'), value: randomBytes(1024 * 1024 - 1024).toString('base64') });
}
