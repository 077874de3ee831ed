// The etcd client (health, status, alarms, membership) against real etcd members over mutual TLS.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EtcdClient, EtcdError, type EtcdEndpoint } from '../../src/health/etcd.ts';
import { renderEtcdMember } from '../../src/bootstrap/roles.ts';
import { ensureCA, reconcileLeaves, issueLeaf } from '../../src/pki/certs.ts';
import { etcdLeafSpecs, etcdPeerLeafSpecs, type MachineIdentity } from '../../src/pki/profiles.ts';
import { realRenderContext } from '../helpers/cluster.ts';
import { startMember, eventually as eventuallyOf, type RunningMember } from '../helpers/etcd.ts';

const work = mkdtempSync(path.join(tmpdir(), 'hardway-etcd-client-'));
const running: RunningMember[] = [];
after(async () => {
  await Promise.all(running.map((m) => m.kill()));
  rmSync(work, { recursive: true, force: true });
});

const eventually = <T>(what: string, f: () => Promise<T | undefined>, ms?: number) => eventuallyOf(running, what, f, ms);

test('health, status, alarms and membership (learner add, promote, remove) on a real etcd', { timeout: 120_000 }, async () => {
  const ctx = realRenderContext();
  const ca = ensureCA(undefined, 'etcd-ca', ctx).bundle;
  const peerCA = ensureCA(undefined, 'etcd-peer-ca', ctx).bundle;
  const first: MachineIdentity = { name: 'm1', address: '127.0.0.5' };
  const second: MachineIdentity = { name: 'm2', address: '127.0.0.6' };
  const leaves = { ...reconcileLeaves({}, etcdLeafSpecs([first, second]), ca, ctx).bundles, ...reconcileLeaves({}, etcdPeerLeafSpecs([first, second]), peerCA, ctx).bundles };
  const certs = (m: MachineIdentity) => ({ ca: ca.cert, peerCA: peerCA.cert, server: leaves[`etcd-server-${m.name}`]!, peer: leaves[`etcd-peer-${m.name}`]! });
  const operator = leaves['etcd-client-operator']!;
  const client = new EtcdClient({ ca: ca.cert, cert: operator.cert, key: operator.key }, { timeoutMs: 2000 });
  const ep = (m: MachineIdentity): EtcdEndpoint => ({ ip: m.address, dnsName: m.address });

  // A one-member cluster: the seed.
  running.push(startMember(renderEtcdMember({ member: first, cluster: [first], token: 't', state: 'new', version: '3.5.30', certs: certs(first) }), first.address, path.join(work, 'm1')));
  await eventually('seed healthy', async () => ((await client.health(ep(first))).healthy ? true : undefined));
  const status = await client.status(ep(first));
  assert.match(status.version, /^3\.5\./);
  assert.equal(status.leaderId, status.memberId, 'a single member leads itself');
  assert.deepEqual(await client.alarms(ep(first)), []);
  const [seed] = await client.memberList(ep(first));
  assert.deepEqual([seed!.name, seed!.isLearner, seed!.id], ['m1', false, status.memberId]);

  // Grow: add the new member as a learner first, then start it with initial-cluster-state=existing.
  // etcd refuses membership changes ("unhealthy cluster") until its members have been connected for a
  // health interval (5 s) after start; the controller requeues, the test retries.
  const added = await eventually('member added', () => client.memberAdd(ep(first), `https://${second.address}:2380`, true));
  assert.equal(added.isLearner, true);
  const listed = await client.memberList(ep(first));
  assert.equal(listed.length, 2);
  assert.equal(listed.find((m) => m.id === added.id)!.name, '', 'not started yet: no name');
  running.push(
    startMember(renderEtcdMember({ member: second, cluster: [first, second], token: 't', state: 'existing', version: '3.5.30', certs: certs(second) }), second.address, path.join(work, 'm2')),
  );
  await eventually('learner started', async () => ((await client.memberList(ep(first))).find((m) => m.id === added.id)?.name === 'm2' ? true : undefined));
  // etcd refuses to promote a learner that has not caught up; retry until it accepts.
  await eventually('learner promoted', async () => {
    await client.memberPromote(ep(first), added.id);
    return true;
  });
  const promoted = await client.memberList(ep(second));
  assert.deepEqual(promoted.map((m) => [m.name, m.isLearner]).sort(), [['m1', false], ['m2', false]]);
  await eventually('second healthy', async () => ((await client.health(ep(second))).healthy ? true : undefined));

  // Leadership moves to the second member: only the leader accepts the request, and it answers once moved.
  await assert.rejects(client.moveLeader(ep(second), status.memberId), (e: unknown) => e instanceof EtcdError && /not leader/.test(e.message));
  await client.moveLeader(ep(first), added.id);
  assert.equal((await client.status(ep(first))).leaderId, added.id);
  await client.moveLeader(ep(second), status.memberId);
  assert.equal((await client.status(ep(second))).leaderId, status.memberId);

  // Shrink: remove the second member through the API.
  // Right after a membership change etcd refuses the next one for a health interval, like after start.
  await eventually('member removed', async () => {
    await client.memberRemove(ep(first), added.id);
    return true;
  });
  assert.deepEqual((await client.memberList(ep(first))).map((m) => m.name), ['m1']);
  await assert.rejects(client.memberRemove(ep(first), added.id), (e: unknown) => e instanceof EtcdError && /member not found/i.test(e.message));
});

test('TLS: the server is verified against the name it was issued for; strangers are refused', { timeout: 60_000 }, async () => {
  const ctx = realRenderContext();
  const ca = ensureCA(undefined, 'etcd-ca', ctx).bundle;
  const peerCA = ensureCA(undefined, 'etcd-peer-ca', ctx).bundle;
  const m: MachineIdentity = { name: 'tls', address: 'tls-member.example.com' };
  const leaves = { ...reconcileLeaves({}, etcdLeafSpecs([m]), ca, ctx).bundles, ...reconcileLeaves({}, etcdPeerLeafSpecs([m]), peerCA, ctx).bundles };
  // The member listens on 127.0.0.7 but its certificate names tls-member.example.com (and 127.0.0.1/localhost).
  const node = renderEtcdMember({ member: { ...m, address: '127.0.0.7' }, cluster: [{ ...m, address: '127.0.0.7' }], token: 't', state: 'new', version: '3.5.30', certs: { ca: ca.cert, peerCA: peerCA.cert, server: leaves['etcd-server-tls']!, peer: leaves['etcd-peer-tls']! } });
  running.push(startMember(node, '127.0.0.7', path.join(work, 'tls')));
  const op = leaves['etcd-client-operator']!;
  const client = new EtcdClient({ ca: ca.cert, cert: op.cert, key: op.key }, { timeoutMs: 2000 });
  await eventually('healthy via its DNS name', async () => ((await client.health({ ip: '127.0.0.7', dnsName: 'tls-member.example.com' })).healthy ? true : undefined));
  await assert.rejects(client.health({ ip: '127.0.0.7', dnsName: 'someone-else.example.com' }), /altnames|Hostname\/IP does not match/i);
  const stranger = issueLeaf(ensureCA(undefined, 'other', ctx).bundle, { commonName: 'x', usages: ['client'] }, ctx);
  const bad = new EtcdClient({ ca: ca.cert, cert: stranger.cert, key: stranger.key }, { timeoutMs: 2000 });
  await assert.rejects(bad.health({ ip: '127.0.0.7', dnsName: 'tls-member.example.com' }));
});
