// #cloud-config documents: files, then one install script that downloads, verifies and starts everything.
import { stringify } from 'yaml';

export interface NodeFile {
  path: string;
  content: string;
  /** Octal mode; private keys and anything with secrets are 0600. */
  permissions: '0600' | '0644' | '0755';
}

export const secretFile = (path: string, content: string): NodeFile => ({ path, content, permissions: '0600' });
export const publicFile = (path: string, content: string): NodeFile => ({ path, content, permissions: '0644' });

export function renderCloudConfig(o: { hostname: string; files: NodeFile[]; runcmd: string[][] }): string {
  const doc = {
    hostname: o.hostname,
    preserve_hostname: false,
    write_files: o.files.map((f) => ({ path: f.path, owner: 'root:root', permissions: f.permissions, content: f.content })),
    runcmd: o.runcmd,
  };
  return `#cloud-config\n${stringify(doc, { lineWidth: 0, blockQuote: 'literal' })}`;
}
