// etcd members as real machines: three systemd-nspawn machines (real systemd, real cloud-init) boot the
// operator's rendered etcd user-data unmodified; hardway-node-env reads the metadata service, the install
// script downloads etcd from the release hosts over HTTPS and checks it against SHA256SUMS, and systemd
// starts etcd 3.5 (Debian's, in an archive laid out as etcd publishes it). The members form a cluster.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { renderEtcdMember } from '../../src/bootstrap/roles.ts';
import { ensureCA, issueLeaf } from '../../src/pki/certs.ts';
import { etcdLeafSpecs, type MachineIdentity } from '../../src/pki/profiles.ts';
import { issueEtcdMember, type EtcdCAs } from '../../src/pki/etcd.ts';
import { EtcdClient } from '../../src/health/etcd.ts';
import { realRenderContext } from '../helpers/cluster.ts';
import { MachineCloud } from '../helpers/machine-cloud.ts';
import type { Machine } from '../helpers/machine.ts';

const ETCD_VERSION = '3.5.30';
const zone = 'machines.hardway.test';
let cloud: MachineCloud;
before(async () => {
  cloud = await MachineCloud.start(mkdtempSync(path.join(tmpdir(), 'hardway-machines-etcd-')), { bridge: 'hw-etcd', etcd: [ETCD_VERSION] });
});
after(async () => cloud?.stop());

const ctx = realRenderContext();
const cas: EtcdCAs = { etcd: ensureCA(undefined, 'etcd-ca', ctx).bundle, peer: ensureCA(undefined, 'etcd-peer-ca', ctx).bundle };
const operatorCert = issueLeaf(cas.etcd, etcdLeafSpecs([])['etcd-client-operator']!, ctx);
const client = new EtcdClient({ ca: cas.etcd.cert, cert: operatorCert.cert, key: operatorCert.key }, { timeoutMs: 2000 });

/** Boots one member's droplet from the operator's rendering, as the fake cloud would hand it over. */
function bootMember(id: number, m: MachineIdentity, cluster: MachineIdentity[]): { machine: Machine; publicIp: string } {
  const { privateIp, publicIp } = cloud.allocate();
  cloud.setName(m.address, privateIp);
  const certs = issueEtcdMember(m, cas, [], ctx);
  const node = renderEtcdMember({ member: m, cluster, token: 'machines', state: 'new', version: ETCD_VERSION, certs: { ca: certs.clientCA, peerCA: certs.peerCA, server: certs.server, peer: certs.peer } });
  return { machine: cloud.boot({ id, name: m.name, region: 'nyc3', tags: ['hardway'], userData: node.userData, privateIp, publicIp }), publicIp };
}

/** path → octal mode and owner, as installed. */
async function modes(m: Machine, paths: string[]): Promise<Record<string, string>> {
  const r = await m.exec(['stat', '-c', '%n %a %U:%G', ...paths]);
  return Object.fromEntries(r.stdout.trim().split('\n').map((l) => { const [p, mode, owner] = l.split(' '); return [p!, `${mode} ${owner}`]; }));
}

test('three etcd droplets boot the rendered user-data unmodified: cloud-init done, etcd active from the released tarball, files with their modes, one healthy cluster', async () => {
  const members: MachineIdentity[] = [0, 1, 2].map((i) => ({ name: `etcd-${i}`, address: `etcd-${i}.${zone}` }));
  const booted = members.map((m, i) => bootMember(1000 + i, m, members));
  for (const [i, b] of booted.entries()) {
    const s = await b.machine.waitForCloudInit();
    assert.equal(s.status, 'done', `${members[i]!.name}: cloud-init ${s.status}\n${s.detail}\nconsole:\n${b.machine.tail()}`);
  }
  for (const b of booted) {
    assert.deepEqual(await b.machine.unitStates(['hardway-node-env.service', 'etcd.service']), { 'hardway-node-env.service': 'active', 'etcd.service': 'active' });
    // docs/bootstrap.md: keys 0600, certificates 0644, the data directory 0700, binaries 0755, all root's.
    assert.deepEqual(await modes(b.machine, ['/etc/etcd/server.key', '/etc/etcd/peer.key', '/etc/etcd/server.crt', '/etc/etcd/ca.crt', '/var/lib/etcd', '/usr/local/bin/etcd', '/usr/local/bin/etcdctl', '/usr/local/bin/etcdutl']), {
      '/etc/etcd/server.key': '600 root:root',
      '/etc/etcd/peer.key': '600 root:root',
      '/etc/etcd/server.crt': '644 root:root',
      '/etc/etcd/ca.crt': '644 root:root',
      '/var/lib/etcd': '700 root:root',
      '/usr/local/bin/etcd': '755 root:root',
      '/usr/local/bin/etcdctl': '755 root:root',
      '/usr/local/bin/etcdutl': '755 root:root',
    });
    const env = await b.machine.exec(['cat', '/etc/hardway/node.env']);
    assert.match(env.stdout, new RegExp(`^PRIVATE_IPV4=10\\.10\\.\\d+\\.\\d+\\nPUBLIC_IPV4=${b.publicIp.replace(/\./g, '\\.')}\\n$`), 'addresses from the metadata service');
  }
  // The operator's view: each member answers on its public address with the others as peers.
  for (const b of booted) {
    const status = await client.status({ ip: b.publicIp, dnsName: `etcd-${booted.indexOf(b)}.${zone}` });
    assert.equal(status.version, ETCD_VERSION);
    const list = await client.memberList({ ip: b.publicIp, dnsName: `etcd-${booted.indexOf(b)}.${zone}` });
    assert.deepEqual(list.map((x) => x.name).sort(), ['etcd-0', 'etcd-1', 'etcd-2']);
  }
  // Every download came from the release hosts, and only files the upstreams publish were asked for.
  assert.deepEqual(cloud.releases.requests.filter((u) => !cloud.releases.files.has(u)), []);
  assert.ok(cloud.metadata.requests.every((r) => r.status === 200), JSON.stringify(cloud.metadata.requests.filter((r) => r.status !== 200)));
});

test('a founding member that waits more than 90 s for its peers (etcd blocks until quorum inside cloud-init runcmd) still joins, and cloud-init reports no error', async () => {
  const members: MachineIdentity[] = [0, 1, 2].map((i) => ({ name: `late-${i}`, address: `late-${i}.${zone}` }));
  const first = bootMember(2000, members[0]!, members);
  // systemd's default start timeout is 90 s (DefaultTimeoutStartSec); the first member waits past it.
  // Time has to pass here (nothing to wait for): the unit is looked at every 2 s meanwhile.
  const waited = Date.now();
  const seen = new Set<string>();
  while (Date.now() - waited < 95_000) {
    seen.add((await first.machine.unitStates(['etcd.service']))['etcd.service']!);
    await new Promise((r) => setTimeout(r, 2000));
  }
  assert.ok(seen.has('activating'), `etcd was seen waiting for its peers (states seen: ${[...seen].join(', ')})`);
  const rest = members.slice(1).map((m, i) => bootMember(2001 + i, m, members));
  for (const b of [first, ...rest]) {
    const s = await b.machine.waitForCloudInit(240_000);
    assert.equal(s.status, 'done', `${b.machine.spec.name}: cloud-init ${s.status}\n${s.detail}`);
    assert.deepEqual(await b.machine.unitStates(['etcd.service']), { 'etcd.service': 'active' });
  }
  const list = await client.memberList({ ip: first.publicIp, dnsName: members[0]!.address });
  assert.deepEqual(list.map((x) => x.name).sort(), ['late-0', 'late-1', 'late-2']);
  // etcd on the first member was never restarted: it waited, it did not time out.
  const restarts = await first.machine.exec(['systemctl', 'show', '-p', 'NRestarts', '--value', 'etcd.service']);
  assert.equal(restarts.stdout.trim(), '0');
});
