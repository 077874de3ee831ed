// The in-memory etcd (test/helpers/fake-etcd.ts) behaves as real etcd does for what the EtcdCluster
// controller asks: members start from their droplet's rendered user-data, learners join one at a time and are
// promoted once started, quorum rules hold, and errors carry etcd's messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderEtcdMember } from '../../src/bootstrap/roles.ts';
import { EtcdError, toDecimalId, toHexId } from '../../src/health/etcd.ts';
import { FakeEtcd, type EtcdMachines } from '../helpers/fake-etcd.ts';

const TOKEN = 'uid-1234';
const ZONE = 'example.com';
const certs = { ca: 'CA', peerCA: 'PEER-CA', server: { cert: 'C', key: 'K', ca: 'CA' }, peer: { cert: 'C', key: 'K', ca: 'PEER-CA' } };

/** Droplets as the fake DigitalOcean lists its active ones; `active` flips them on. */
class Machines implements EtcdMachines {
  readonly all: { id: number; name: string; privateIp: string; publicIp: string; userData: string; active: boolean }[] = [];
  create(name: string, state: 'new' | 'existing', cluster: string[] = [name]) {
    const n = this.all.length + 1;
    const userData = renderEtcdMember({
      member: { name, address: `${name}.${ZONE}` },
      cluster: cluster.map((c) => ({ name: c, address: `${c}.${ZONE}` })),
      token: TOKEN,
      state,
      version: '3.5.21',
      certs,
    }).userData;
    this.all.push({ id: n, name, privateIp: `127.10.0.${n}`, publicIp: `127.20.0.${n}`, userData, active: false });
    return { activate: () => (this.all.find((d) => d.name === name)!.active = true), ep: { ip: `127.20.0.${n}`, dnsName: `${name}.${ZONE}` } };
  }
  delete(name: string) {
    this.all.splice(
      this.all.findIndex((d) => d.name === name),
      1,
    );
  }
  activeDroplets() {
    return this.all.filter((d) => d.active);
  }
}

const peer = (name: string) => `https://${name}.${ZONE}:2380`;
/** Refused as EtcdClient would refuse: an EtcdError naming the endpoint, with etcd's message. */
const rejects = (p: Promise<unknown>, message: RegExp) =>
  assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof EtcdError, `an EtcdError, not ${String(e)}`);
    assert.match(e.message, /^etcd demo-etcd-\w+\.example\.com \(127\.\d+\.0\.\d+\): /);
    assert.match(e.message, message);
    return true;
  });

function seeded(o: { catchUpMs?: number; now?: () => number } = {}) {
  const machines = new Machines();
  const etcd = new FakeEtcd({ machines, ...o });
  const seed = machines.create('demo-etcd-aaaaa', 'new');
  seed.activate();
  return { machines, etcd, seed, api: etcd.client({ ca: '', cert: '', key: '' }) };
}

test('the seed founds a one-member cluster once its droplet is active; ids are hex as EtcdClient prints them', async () => {
  const machines = new Machines();
  const etcd = new FakeEtcd({ machines });
  const api = etcd.client({ ca: '', cert: '', key: '' });
  const seed = machines.create('demo-etcd-aaaaa', 'new');
  await rejects(api.health(seed.ep), /ECONNREFUSED 127\.20\.0\.1:2379/);
  seed.activate();
  assert.deepEqual(await api.health(seed.ep), { healthy: true });
  // The private address answers too; another machine's address does not.
  assert.deepEqual(await api.health({ ...seed.ep, ip: '127.10.0.1' }), { healthy: true });
  await rejects(api.health({ ...seed.ep, ip: '127.10.0.9' }), /ECONNREFUSED/);

  const st = await api.status(seed.ep);
  assert.equal(st.memberId, st.leaderId);
  assert.equal(st.version, '3.5.21');
  assert.equal(st.isLearner, false);
  assert.equal(toHexId(toDecimalId(st.memberId)), st.memberId, 'hex without leading zeros');
  assert.deepEqual(await api.memberList(seed.ep), [{ id: st.memberId, name: 'demo-etcd-aaaaa', peerURLs: [peer('demo-etcd-aaaaa')], clientURLs: [`https://demo-etcd-aaaaa.${ZONE}:2379`], isLearner: false }]);
  assert.deepEqual(await api.alarms(seed.ep), []);
});

test('a learner: added with an empty name, starts when its droplet is active, promoted once in sync', async () => {
  let now = 1_000;
  const { machines, etcd, seed, api } = seeded({ catchUpMs: 500, now: () => now });
  const added = await api.memberAdd(seed.ep, peer('demo-etcd-bbbbb'), true);
  assert.deepEqual({ ...added, id: '' }, { id: '', name: '', peerURLs: [peer('demo-etcd-bbbbb')], clientURLs: [], isLearner: true });
  assert.deepEqual(
    (await api.memberList(seed.ep)).map((m) => [m.name, m.isLearner]),
    [
      ['demo-etcd-aaaaa', false],
      ['', true],
    ],
  );
  await rejects(api.memberAdd(seed.ep, peer('demo-etcd-ccccc'), true), /too many learner members/);
  await rejects(api.memberAdd(seed.ep, peer('demo-etcd-bbbbb'), true), /Peer URLs already exists/);
  await rejects(api.memberPromote(seed.ep, added.id), /can only promote a learner member which is in sync with leader/);

  const learner = machines.create('demo-etcd-bbbbb', 'existing', ['demo-etcd-aaaaa', 'demo-etcd-bbbbb']);
  learner.activate();
  assert.deepEqual(await api.health(learner.ep), { healthy: true });
  const st = await api.status(learner.ep);
  assert.equal(st.isLearner, true);
  assert.equal(st.memberId, added.id);
  assert.equal(st.leaderId, (await api.status(seed.ep)).memberId);
  await rejects(api.memberList(learner.ep), /rpc not supported for learner/);
  assert.equal((await api.memberList(seed.ep))[1]!.name, 'demo-etcd-bbbbb');

  // Not caught up yet, then promoted.
  await rejects(api.memberPromote(seed.ep, added.id), /in sync with leader/);
  now += 500;
  await api.memberPromote(seed.ep, added.id);
  assert.deepEqual(
    etcd.members(TOKEN).map((m) => [m.name, m.isLearner]),
    [
      ['demo-etcd-aaaaa', false],
      ['demo-etcd-bbbbb', false],
    ],
  );
  await rejects(api.memberPromote(seed.ep, added.id), /can only promote a learner member$/);
});

test('a member that was never added does not start; one that was removed stops for good', async () => {
  const { machines, seed, api } = seeded();
  const stray = machines.create('demo-etcd-zzzzz', 'existing', ['demo-etcd-aaaaa', 'demo-etcd-zzzzz']);
  stray.activate();
  await rejects(api.health(stray.ep), /ECONNREFUSED/);

  const added = await api.memberAdd(seed.ep, peer('demo-etcd-bbbbb'), true);
  const b = machines.create('demo-etcd-bbbbb', 'existing', ['demo-etcd-aaaaa', 'demo-etcd-bbbbb']);
  b.activate();
  assert.equal((await api.health(b.ep)).healthy, true);
  await api.memberRemove(seed.ep, added.id);
  await rejects(api.health(b.ep), /ECONNREFUSED/);
  await rejects(api.memberRemove(seed.ep, added.id), /member not found/);
  // Added again under the same peer URL, the old data directory still refuses to start.
  await api.memberAdd(seed.ep, peer('demo-etcd-bbbbb'), true);
  await rejects(api.health(b.ep), /ECONNREFUSED/);
});

test('quorum: no leader without a majority of started voters; removals that would lose quorum are refused', async () => {
  const { machines, seed, api } = seeded();
  const eps = [seed.ep];
  for (const name of ['demo-etcd-bbbbb', 'demo-etcd-ccccc']) {
    const added = await api.memberAdd(seed.ep, peer(name), true);
    const m = machines.create(name, 'existing', ['demo-etcd-aaaaa', name]);
    m.activate();
    await api.memberPromote(seed.ep, added.id);
    eps.push(m.ep);
  }
  const ids = await Promise.all(eps.map(async (ep) => (await api.status(ep)).memberId));

  machines.delete('demo-etcd-ccccc');
  assert.deepEqual(await api.health(seed.ep), { healthy: true }, '2 of 3 keep a leader');
  // A voter must not be added while one is down (strict reconfiguration: 2 started < quorum of 4 = 3).
  await rejects(api.memberAdd(seed.ep, peer('demo-etcd-ddddd'), false), /unhealthy cluster/);
  // Removing a running voter while another is down would leave 1 of 2: refused. Removing the lost one is fine.
  await rejects(api.memberRemove(seed.ep, ids[1]!), /not enough started members/);
  await api.memberRemove(seed.ep, ids[2]!);
  assert.equal((await api.memberList(seed.ep)).length, 2);
  machines.delete('demo-etcd-bbbbb');
  assert.deepEqual(await api.health(seed.ep), { healthy: false, reason: 'RAFT NO LEADER' });
  assert.equal((await api.status(seed.ep)).leaderId, '');
  await rejects(api.memberList(seed.ep), /request timed out/);
});

test('with DNS records to check, a member starts only once its own A record points at it', async () => {
  const machines = new Machines();
  const dns = { records: new Map<string, { name?: unknown; type?: unknown; content?: unknown }>() };
  const api = new FakeEtcd({ machines, dns }).client({ ca: '', cert: '', key: '' });
  const seed = machines.create('demo-etcd-aaaaa', 'new');
  seed.activate();
  await rejects(api.health(seed.ep), /ECONNREFUSED/);
  dns.records.set('r1', { name: `demo-etcd-aaaaa.${ZONE}`, type: 'A', content: '127.10.0.9' });
  await rejects(api.health(seed.ep), /ECONNREFUSED/);
  dns.records.set('r1', { name: `demo-etcd-aaaaa.${ZONE}`, type: 'A', content: '127.10.0.1' });
  assert.deepEqual(await api.health(seed.ep), { healthy: true });
});
