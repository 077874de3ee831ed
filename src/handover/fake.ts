// An in-memory stand-in for nodes receiving their keys, for controller tests: it finds the node by
// address and accepts a push only as the node's sshd would, that is when the host key asked for is the
// one in the node's user-data (cloud-init ssh_keys) and the client key is the one its user-data allows.
// More lenient than sshd: no SFTP protocol, files are recorded, not written.
import { parse } from 'yaml';
import ssh2 from 'ssh2';
import { HANDOVER_KEYS_FILE } from '../bootstrap/handover.ts';
import { blobOf } from '../pki/ssh.ts';
import { HandOverError, type HandOverFile, type HandOverTarget, type NodeHandOver } from './port.ts';

export interface FakeHandOverNode {
  name: string;
  userData?: string;
}

export class FakeHandOver implements NodeHandOver {
  /** Per node name: what it was given, in order (one entry per push). */
  readonly pushes = new Map<string, { files: HandOverFile[]; marker: string }[]>();
  /** Nodes that do not answer on SSH (still booting, say); `down`: none does. */
  readonly unreachable = new Set<string>();
  down = false;

  constructor(
    private readonly nodeAt: (address: string) => FakeHandOverNode | undefined,
    private readonly onPushed: (node: string, files: HandOverFile[], marker: string) => void = () => {},
  ) {}

  async push(target: HandOverTarget, clientKey: string, files: HandOverFile[], marker: string): Promise<void> {
    const node = this.nodeAt(target.address);
    if (!node?.userData || this.down || this.unreachable.has(node.name)) throw new HandOverError('unreachable', `${target.address}:22: ECONNREFUSED`);
    const doc = parse(node.userData.replace(/^#cloud-config\n/, '')) as { ssh_keys?: Record<string, string>; write_files?: { path: string; content: string }[] };
    const hostKey = doc.ssh_keys?.ed25519_public;
    if (!hostKey) throw new HandOverError('unreachable', `${target.address}:22: ECONNREFUSED (no host key in its user-data)`);
    if (!blobOf(hostKey).equals(blobOf(target.hostKey))) throw new HandOverError('host-key', `${target.address} offered another host key than the one it was given: nothing sent`);
    const allowed = doc.write_files?.find((f) => f.path === HANDOVER_KEYS_FILE)?.content ?? '';
    const parsed = ssh2.utils.parseKey(clientKey);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (key instanceof Error || !key) throw new Error(`the hand-over key does not parse: ${key?.message}`);
    const offered = key.getPublicSSH().toString('base64');
    if (!allowed.split('\n').some((l) => l.split(/\s+/).includes(offered))) throw new HandOverError('refused', `${target.address} refused the hand-over key`);
    this.onPushed(node.name, files, marker);
    const list = this.pushes.get(node.name) ?? [];
    list.push({ files, marker });
    this.pushes.set(node.name, list);
  }
}
