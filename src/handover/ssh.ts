// The hand-over over SSH (ssh2, a maintained pure-JavaScript client): connect as root with the
// ControlPlane's key, accept only the node's own ed25519 host key, write each file over SFTP to a
// temporary name and rename it into place (posix-rename@openssh.com: replaces an existing file, which
// SFTP v3's rename does not), the marker last. Nothing else runs on the node: its sshd allows this key
// SFTP only (src/bootstrap/handover.ts).
// ssh2 is CommonJS: its classes come through the default export under ESM.
import ssh2, { type SFTPWrapper } from 'ssh2';
import path from 'node:path';
import { blobOf } from '../pki/ssh.ts';
import { HandOverError, type HandOverFile, type HandOverTarget, type NodeHandOver } from './port.ts';

const call = <T>(f: (cb: (err: Error | null | undefined, v?: T) => void) => void) => new Promise<T>((ok, fail) => f((err, v) => (err ? fail(err) : ok(v as T))));

async function mkdirs(sftp: SFTPWrapper, dir: string, known: Set<string>): Promise<void> {
  if (known.has(dir)) return;
  known.add(dir);
  const exists = await call((cb) => sftp.stat(dir, cb)).then(
    () => true,
    () => false,
  );
  if (exists || dir === '/') return;
  await mkdirs(sftp, path.posix.dirname(dir), known);
  await call<void>((cb) => sftp.mkdir(dir, { mode: 0o755 }, cb)).catch(async (e: Error) => {
    // Made in the meantime (a concurrent push) is fine.
    if (!(await call((cb) => sftp.stat(dir, cb)).then(() => true, () => false))) throw e;
  });
}

async function put(sftp: SFTPWrapper, f: HandOverFile, known: Set<string>): Promise<void> {
  const mode = Number.parseInt(f.permissions, 8);
  const tmp = `${f.path}.hardway-tmp`;
  // Each directory is looked at once per push (a node's files share a few directories).
  await mkdirs(sftp, path.posix.dirname(f.path), known);
  await call<void>((cb) => sftp.writeFile(tmp, f.content, { mode }, cb));
  // The server's umask may have narrowed or, for an existing temporary file, kept another mode.
  await call<void>((cb) => sftp.chmod(tmp, mode, cb));
  await call<void>((cb) => sftp.ext_openssh_rename(tmp, f.path, cb));
}

export class SshHandOver implements NodeHandOver {
  constructor(private readonly o: { readyTimeoutMs?: number } = {}) {}

  async push(target: HandOverTarget, clientKey: string, files: HandOverFile[], marker: string): Promise<void> {
    const expected = blobOf(target.hostKey);
    let hostKeySeen: Buffer | undefined;
    const conn = new ssh2.Client();
    try {
      await new Promise<void>((ok, fail) => {
        conn.once('ready', ok);
        conn.once('error', fail);
        conn.connect({
          host: target.address,
          port: target.port ?? 22,
          username: 'root',
          privateKey: clientKey,
          readyTimeout: this.o.readyTimeoutMs ?? 15_000,
          algorithms: { serverHostKey: ['ssh-ed25519'] },
          hostVerifier: (key: Buffer) => {
            hostKeySeen = key;
            return key.equals(expected);
          },
        });
      });
    } catch (e) {
      conn.end();
      const err = e as Error & { level?: string; code?: string };
      if (hostKeySeen && !hostKeySeen.equals(expected)) throw new HandOverError('host-key', `${target.address} offered another host key than the one it was given: nothing sent`);
      if (err.level === 'client-authentication') throw new HandOverError('refused', `${target.address} refused the hand-over key`);
      throw new HandOverError('unreachable', `${target.address}:${target.port ?? 22}: ${err.code ?? err.message}`);
    }
    try {
      const sftp = await call<SFTPWrapper>((cb) => conn.sftp(cb));
      const known = new Set<string>();
      for (const f of files) await put(sftp, f, known);
      await put(sftp, { path: marker, content: `${new Date().toISOString()}\n`, permissions: '0644' }, known);
      sftp.end();
    } catch (e) {
      throw new HandOverError('refused', `${target.address}: SFTP: ${(e as Error).message}`);
    } finally {
      conn.end();
    }
  }
}
