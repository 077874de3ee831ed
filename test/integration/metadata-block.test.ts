// The rule that closes the droplet metadata service to pods, with real netfilter (nf_tables through the
// machines' own iptables, from their root filesystem) in network namespaces this test makes:
//
//   pod (10.200.1.2) ──veth── node (10.200.1.1; 10.10.0.1, 169.254.1.1) ──veth── cloud (169.254.169.254, 10.10.0.5)
//
// The "cloud" namespace stands in for what lies beyond a droplet's eth0: the metadata service at its
// link-local address (a droplet reaches it through eth0, so a pod's packets to it are forwarded by the
// node, as here) and any other address a pod may talk to. The node runs the script its user-data carries.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { metadataBlockScript, METADATA_ADDRESS } from '../../src/bootstrap/units.ts';
import { rootfsPath } from '../helpers/machine.ts';

const children: ChildProcess[] = [];
after(() => children.forEach((c) => c.kill('SIGKILL')));

/** A new network namespace, held by a sleeping process that dies with this test. */
function netns(): string {
  const c = spawn('setpriv', ['--pdeathsig', 'KILL', 'unshare', '--net', 'sleep', 'infinity'], { stdio: 'ignore' });
  children.push(c);
  return `/proc/${c.pid}/ns/net`;
}
/** Waits until the namespace holder has entered its namespace (its ns link differs from ours). */
async function ready(ns: string): Promise<void> {
  const ours = execFileSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' });
  for (let i = 0; i < 200; i++) {
    const r = spawnSync('readlink', [ns], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout !== ours) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`namespace ${ns} never appeared`);
}
const inNs = (ns: string, cmd: string[], input?: string) => execFileSync('nsenter', [`--net=${ns}`, '--', ...cmd], { encoding: 'utf8', input });
const sh = (ns: string, script: string) => inNs(ns, ['sh', '-ec', script]);
/** HTTP GET from inside a namespace: the body, or undefined when nothing answered within 2 s. */
function get(ns: string, url: string): string | undefined {
  const r = spawnSync('nsenter', [`--net=${ns}`, '--', 'curl', '-sS', '--connect-timeout', '2', '-m', '4', url], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : undefined;
}
/** The machines' iptables (nf_tables backend), run in the node's namespace. */
const iptables = (ns: string, args: string[]) => inNs(ns, ['chroot', rootfsPath, 'iptables', ...args]);

test('pods cannot reach the metadata service once the node has run its rule; the node and other addresses still can', async () => {
  assert.ok(existsSync(path.join(rootfsPath, 'usr/sbin/xtables-nft-multi')), `no iptables in ${rootfsPath}: run test/env/setup.sh`);
  const [pod, node, cloud] = [netns(), netns(), netns()];
  for (const ns of [pod, node, cloud]) await ready(ns);
  const pid = (ns: string) => ns.split('/')[2]!;
  // Links are made in the node's namespace, then one end moved.
  sh(node, `
    ip link set lo up
    ip link add veth-pod type veth peer name eth0-pod
    ip link set eth0-pod netns ${pid(pod)}
    ip link add eth0 type veth peer name eth0-cloud
    ip link set eth0-cloud netns ${pid(cloud)}
    ip addr add 10.200.1.1/24 dev veth-pod
    ip addr add 10.10.0.1/24 dev eth0
    ip addr add 169.254.1.1/16 dev eth0
    ip link set veth-pod up
    ip link set eth0 up
    echo 1 > /proc/sys/net/ipv4/ip_forward`);
  sh(pod, `
    ip link set lo up
    ip addr add 10.200.1.2/24 dev eth0-pod
    ip link set eth0-pod up
    ip route add default via 10.200.1.1`);
  sh(cloud, `
    ip link set lo up
    ip addr add ${METADATA_ADDRESS}/16 dev eth0-cloud
    ip addr add 10.10.0.5/24 dev eth0-cloud
    ip link set eth0-cloud up
    ip route add 10.200.0.0/16 via 10.10.0.1`);
  // One server for both addresses: it answers with the address it was reached at.
  const server = spawn('nsenter', [`--net=${cloud}`, '--', process.execPath, '-e', `
    require('node:http').createServer((q, s) => s.end('served at ' + q.socket.localAddress)).listen(80, '0.0.0.0', () => console.log('listening'));`]);
  children.push(server);
  await new Promise<void>((resolve, reject) => {
    server.stdout!.once('data', () => resolve());
    server.once('exit', (code) => reject(new Error(`metadata stand-in exited ${code}`)));
  });
  const md = `http://${METADATA_ADDRESS}/metadata/v1/user-data`;
  // A Service that a pod could point at the metadata address (NAT after PREROUTING, as kube-proxy does).
  iptables(node, ['-t', 'nat', '-A', 'PREROUTING', '-d', '10.32.0.99/32', '-p', 'tcp', '--dport', '80', '-j', 'DNAT', '--to-destination', `${METADATA_ADDRESS}:80`]);

  // Without the rule, everything answers: the check below can fail.
  assert.equal(get(pod, md), `served at ${METADATA_ADDRESS}`);
  assert.equal(get(pod, 'http://10.32.0.99/'), `served at ${METADATA_ADDRESS}`);

  // The script exactly as the user-data carries it, twice (a rerun after a crash adds nothing).
  for (let i = 0; i < 2; i++) inNs(node, ['chroot', rootfsPath, 'sh', '-s'], metadataBlockScript);
  const rules = iptables(node, ['-t', 'mangle', '-S']).split('\n').filter((l) => l.includes(METADATA_ADDRESS));
  assert.deepEqual(rules.sort(), [`-A FORWARD -d ${METADATA_ADDRESS}/32 -j DROP`, `-A PREROUTING -d ${METADATA_ADDRESS}/32 -j DROP`]);

  assert.equal(get(pod, md), undefined, 'a pod reaches the metadata service');
  assert.equal(get(pod, 'http://10.32.0.99/'), undefined, 'a pod reaches the metadata service through NAT');
  assert.equal(get(node, md), `served at ${METADATA_ADDRESS}`, 'the node itself keeps access');
  assert.equal(get(pod, 'http://10.10.0.5/'), 'served at 10.10.0.5', 'pods still reach other addresses');
});
