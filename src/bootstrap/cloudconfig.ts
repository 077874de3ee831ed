// #cloud-config documents: files, then one install script that downloads, verifies and starts everything.
import { stringify } from 'yaml';

export interface NodeFile {
  path: string;
  content: string;
  /** Octal mode; private keys and anything with secrets are 0600. */
  permissions: '0600' | '0644' | '0755';
  /** Not in user-data: the operator hands it over once the node runs (control-plane keys; handover.ts). */
  handOver?: true;
}

export const secretFile = (path: string, content: string): NodeFile => ({ path, content, permissions: '0600' });
/** A key the operator hands over after boot instead of putting it in user-data. */
export const handedOverFile = (path: string, content: string, permissions: NodeFile['permissions'] = '0600'): NodeFile => ({ path, content, permissions, handOver: true });
export const publicFile = (path: string, content: string): NodeFile => ({ path, content, permissions: '0644' });

export function renderCloudConfig(o: { hostname: string; files: NodeFile[]; runcmd: string[][]; sshKeys?: Record<string, string> }): string {
  const doc = {
    hostname: o.hostname,
    preserve_hostname: false,
    ...(o.sshKeys ? { ssh_keys: o.sshKeys } : {}),
    write_files: o.files.filter((f) => !f.handOver).map((f) => ({ path: f.path, owner: 'root:root', permissions: f.permissions, content: f.content })),
    runcmd: o.runcmd,
  };
  return `#cloud-config\n${stringify(doc, { lineWidth: 0, blockQuote: 'literal' })}`;
}
