// The seed of a restored cluster: what its user-data carries, and in what order the install script runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderEtcdMember } from './roles.ts';
import { ETCD_RESTORE_SCRIPT } from './restore.ts';
import type { CertBundle } from '../pki/certs.ts';

const pem = (what: string) => `-----BEGIN ${what}-----\nfixed test data\n-----END ${what}-----\n`;
const bundle = (name: string): CertBundle => ({ cert: pem(`CERTIFICATE ${name}`), key: pem(`PRIVATE KEY ${name}`), ca: pem('CERTIFICATE ca') });
const seed = { name: 'demo-etcd-aaaaa', address: 'demo-etcd-aaaaa.example.com' };
const render = (restore?: { url: string; sha256: string; bumpRevision: number }) =>
  renderEtcdMember({ member: seed, cluster: [seed], token: 'uid-1', state: 'new', version: '3.5.21', certs: { ca: pem('CERTIFICATE ca'), peerCA: pem('CERTIFICATE peer-ca'), server: bundle('server'), peer: bundle('peer') }, ...(restore ? { restore } : {}) });

test('a restored seed: the URL in a 0600 file, the script run after etcdutl is installed and before etcd starts', () => {
  const url = 'https://nyc3.digitaloceanspaces.com/b/k.db?X-Amz-Signature=abc';
  const n = render({ url, sha256: 'f'.repeat(64), bumpRevision: 1_000_000_000 });
  const file = (p: string) => n.files.find((f) => f.path === p);
  assert.equal(file('/etc/etcd/restore-url')!.permissions, '0600');
  assert.equal(file('/etc/etcd/restore-url')!.content, `${url}\n`);
  const script = file(ETCD_RESTORE_SCRIPT)!;
  assert.equal(script.permissions, '0755');
  assert.ok(!script.content.includes('X-Amz-Signature'), 'the URL is read from its file, not written into the script');
  for (const flag of ["--name='demo-etcd-aaaaa'", "--initial-cluster='demo-etcd-aaaaa=https://demo-etcd-aaaaa.example.com:2380'", "--initial-advertise-peer-urls='https://demo-etcd-aaaaa.example.com:2380'", "--initial-cluster-token='uid-1'", '--bump-revision=1000000000 --mark-compacted']) assert.ok(script.content.includes(flag), flag);
  const install = file('/usr/local/sbin/hardway-install')!.content;
  const untar = install.indexOf('etcd-v3.5.21-linux-amd64/etcdutl');
  const restore = install.indexOf(ETCD_RESTORE_SCRIPT);
  const start = install.indexOf('systemctl start --no-block');
  assert.ok(untar > 0 && untar < restore && restore < start, 'etcdutl installed, then the restore, then etcd started');
  assert.ok(!render().files.some((f) => f.path === ETCD_RESTORE_SCRIPT || f.path === '/etc/etcd/restore-url'), 'a seed without restore has neither');
  assert.throws(() => render({ url, sha256: 'nothex', bumpRevision: 1 }), /sha256/);
});
