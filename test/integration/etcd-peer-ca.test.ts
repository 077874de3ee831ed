// etcd's peer port against real etcd members: it refuses the API server's etcd client certificate (the
// peer CA signs peer certificates only), and a cluster whose members predate the peer CA takes new members
// from it and leaves the etcd CA behind as its old members are replaced.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EtcdClient, type EtcdEndpoint } from '../../src/health/etcd.ts';
import { renderEtcdMember } from '../../src/bootstrap/roles.ts';
import { ensureCA, issueLeaf, type CertBundle } from '../../src/pki/certs.ts';
import { etcdLeafSpecs, etcdPeerLeafSpecs, type MachineIdentity } from '../../src/pki/profiles.ts';
import { issueEtcdMember, type EtcdCAs, type EtcdMemberCerts } from '../../src/pki/etcd.ts';
import { realRenderContext } from '../helpers/cluster.ts';
import { startMember, eventually as eventuallyOf, type RunningMember } from '../helpers/etcd.ts';
import { httpsGet } from '../helpers/https-get.ts';

const work = mkdtempSync(path.join(tmpdir(), 'hardway-etcd-peer-ca-'));
const running: RunningMember[] = [];
after(async () => {
  await Promise.all(running.map((m) => m.kill()));
  rmSync(work, { recursive: true, force: true });
});

const ctx = realRenderContext();
const cas: EtcdCAs = { etcd: ensureCA(undefined, 'etcd-ca', ctx).bundle, peer: ensureCA(undefined, 'etcd-peer-ca', ctx).bundle };
const clients = etcdLeafSpecs([]);
const apiserver = issueLeaf(cas.etcd, clients['etcd-client-apiserver']!, ctx);
const operator = issueLeaf(cas.etcd, clients['etcd-client-operator']!, ctx);
const client = new EtcdClient({ ca: cas.etcd.cert, cert: operator.cert, key: operator.key }, { timeoutMs: 2000 });
// Addresses are IPs here (no DNS in a test); on droplets they are the members' DNS names.
const ep = (m: MachineIdentity): EtcdEndpoint => ({ ip: m.address, dnsName: m.address });

/** A member as the operator made them before the peer CA: one CA (the etcd CA) for clients and peers. */
function legacyCerts(m: MachineIdentity): EtcdMemberCerts {
  const server = issueLeaf(cas.etcd, etcdLeafSpecs([m])[`etcd-server-${m.name}`]!, ctx);
  const peer = issueLeaf(cas.etcd, etcdPeerLeafSpecs([m])[`etcd-peer-${m.name}`]!, ctx);
  return { clientCA: cas.etcd.cert, peerCA: cas.etcd.cert, server, peer };
}

function start(m: MachineIdentity, cluster: MachineIdentity[], state: 'new' | 'existing', c: EtcdMemberCerts): RunningMember {
  const node = renderEtcdMember({ member: m, cluster, token: 'peer-ca', state, version: '3.5.30', certs: { ca: c.clientCA, peerCA: c.peerCA, server: c.server, peer: c.peer } });
  const r = startMember(node, m.address, path.join(work, m.name));
  running.push(r);
  return r;
}

const eventually = <T>(what: string, f: () => Promise<T | undefined>, ms?: number) => eventuallyOf(running, what, f, ms);

const healthy = (m: MachineIdentity) => eventually(`${m.name} healthy`, async () => ((await client.health(ep(m))).healthy ? true : undefined));

/** GET /members on a member's peer port with a client certificate: the status, or the TLS refusal. */
async function peerPort(m: MachineIdentity, trust: string, as: CertBundle): Promise<number | string> {
  try {
    return (await httpsGet({ host: m.address, port: 2380, path: '/members' }, { ca: trust, cert: as.cert, key: as.key }, 3_000)).status;
  } catch (e) {
    return `refused: ${(e as Error).message}`;
  }
}

/** Adds m as a learner through `via`, starts it, promotes it once it has caught up. */
async function join(via: MachineIdentity, m: MachineIdentity, cluster: MachineIdentity[], c: EtcdMemberCerts): Promise<void> {
  const added = await eventually(`${m.name} added`, () => client.memberAdd(ep(via), `https://${m.address}:2380`, true));
  start(m, cluster, 'existing', c);
  await eventually(`${m.name} promoted`, async () => {
    await client.memberPromote(ep(via), added.id);
    return true;
  });
  await healthy(m);
}

test('the peer port refuses the API server’s etcd client certificate (it accepted it with one CA for both)', { timeout: 60_000 }, async () => {
  const m: MachineIdentity = { name: 'fresh', address: '127.0.0.21' };
  const c = issueEtcdMember(m, cas, [], ctx);
  start(m, [m], 'new', c);
  const old: MachineIdentity = { name: 'old', address: '127.0.0.22' };
  const oc = legacyCerts(old);
  start(old, [old], 'new', oc);
  await Promise.all([healthy(m), healthy(old)]);

  // The client port accepts it, as the API server needs.
  assert.equal((await httpsGet({ host: m.address, port: 2379, path: '/health' }, { ca: cas.etcd.cert, cert: apiserver.cert, key: apiserver.key })).status, 200);
  // The peer port: a member's peer certificate is accepted, the API server's client certificate is not.
  assert.equal(await peerPort(m, cas.peer.cert, c.peer), 200);
  assert.match(String(await peerPort(m, cas.peer.cert, apiserver)), /^refused: .*(certificate|alert|socket hang up|ECONNRESET)/i);
  // With one CA for clients and peers (the configuration before the peer CA), the same request got through.
  assert.equal(await peerPort(old, cas.etcd.cert, apiserver), 200);
});

test('transition: members from before the peer CA admit a new one, which admits them; the next one trusts the peer CA alone', { timeout: 120_000 }, async () => {
  const legacy: MachineIdentity = { name: 'legacy', address: '127.0.0.23' };
  const bridge: MachineIdentity = { name: 'bridge', address: '127.0.0.24' };
  const next: MachineIdentity = { name: 'next', address: '127.0.0.25' };
  const lc = legacyCerts(legacy);
  const legacyMember = start(legacy, [legacy], 'new', lc);
  await healthy(legacy);

  // A new member next to a legacy one: peer leaf from the peer CA plus the cross-signed peer CA; trusts both.
  const bc = issueEtcdMember(bridge, cas, [lc.peer.cert], ctx);
  assert.equal(bc.legacyPeers, 1);
  await join(legacy, bridge, [legacy, bridge], bc);
  const voters = await client.memberList(ep(legacy));
  assert.deepEqual(voters.map((x) => [x.name, x.isLearner]).sort(), [['bridge', false], ['legacy', false]], 'the legacy member and the new one form one cluster');
  await healthy(legacy);

  // The legacy member is replaced: removed through the API, its process gone.
  const legacyId = voters.find((x) => x.name === 'legacy')!.id;
  await eventually('legacy removed', async () => {
    await client.memberRemove(ep(bridge), legacyId);
    return true;
  });
  await legacyMember.kill();

  // No legacy peer left: the next member trusts the peer CA alone and presents its leaf alone.
  const nc = issueEtcdMember(next, cas, [bc.peer.cert], ctx);
  assert.equal(nc.legacyPeers, 0);
  assert.equal(nc.peerCA, cas.peer.cert);
  await join(bridge, next, [bridge, next], nc);
  assert.deepEqual((await client.memberList(ep(next))).map((x) => [x.name, x.isLearner]).sort(), [['bridge', false], ['next', false]]);
  assert.match(String(await peerPort(next, cas.peer.cert, apiserver)), /^refused: /, 'the new member refuses the API server on its peer port');
  assert.equal(await peerPort(next, cas.peer.cert, nc.peer), 200);
  // Residual until it is replaced too: the bridge member still trusts the etcd CA on 2380 (the firewall keeps
  // control-plane droplets off that port).
  assert.equal(await peerPort(bridge, cas.peer.cert, apiserver), 200);
});
