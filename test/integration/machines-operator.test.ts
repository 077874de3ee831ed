// The whole sample cluster through the operator, every droplet a real machine (systemd-nspawn: systemd and
// cloud-init running the operator's user-data unmodified): three etcd members on real etcd 3.5, three
// control-plane nodes and two workers running the Kubernetes v1.20.2 binaries behind the v1.34 flag checks
// (test/helpers/kube-wrapper.ts), containerd and runc. kubectl apply → all Ready → `kubectl get nodes`
// through the admin kubeconfig lists them, Ready by their own kubelets → a pod runs on a worker → a Secret is
// stored encrypted in etcd → a worker killed is replaced → delete all leaves no machine running.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parse } from 'yaml';
import { kubeEnv, freshNamespace, type KubeEnv } from './env.ts';
import { FakeDigitalOcean } from '../../src/cloud/fake/digitalocean.ts';
import { FakeCloudflare } from '../../src/cloud/fake/cloudflare.ts';
import { startOperator, type RunningOperator } from '../../src/operator.ts';
import { HANDED_OVER_TAG } from '../../src/cloud/tags.ts';
import { HANDOVER_MARKER } from '../../src/bootstrap/handover.ts';
import { sshFingerprint } from '../../src/pki/ssh.ts';
import { parseConfig } from '../../src/runtime/config.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { digitalOceanContract, cloudflareContract } from '../helpers/contracts.ts';
import { NodeSimulator } from '../helpers/simulator.ts';
import { samplesDir, sampleOf } from '../helpers/samples.ts';
import { MachineCloud, PAUSE_IMAGE } from '../helpers/machine-cloud.ts';
import type { Machine } from '../helpers/machine.ts';

/**
 * Every file the user-data writes, as installed: its mode as the user-data asks (docs/bootstrap.md: keys and
 * kubeconfigs 0600, the rest 0644 or 0755), owned by root. Returns the mismatches.
 */
async function wrongModes(m: Machine, userData: string): Promise<string[]> {
  const files = (parse(userData.replace(/^#cloud-config\n/, '')) as { write_files: { path: string; permissions: string }[] }).write_files;
  const r = await m.exec(['stat', '-c', '%n %a %U:%G', ...files.map((f) => f.path)]);
  const got = new Map(r.stdout.trim().split('\n').map((l) => [l.split(' ')[0]!, l.split(' ').slice(1).join(' ')]));
  const wrong = files.filter((f) => got.get(f.path) !== `${f.permissions.replace(/^0/, '')} root:root`).map((f) => `${f.path}: ${got.get(f.path) ?? 'missing'}, want ${f.permissions} root:root`);
  const secrets = files.filter((f) => /\.key$|kubeconfig|encryption/.test(f.path) && f.permissions !== '0600').map((f) => `${f.path} is ${f.permissions}: a secret must be 0600`);
  return [...wrong, ...secrets];
}

const NODE_UNITS = ['hardway-node-env.service', 'hardway-metadata-block.service', 'containerd.service', 'kubelet.service', 'kube-proxy.service', 'flanneld.service'];
const CONTROL_UNITS = ['kube-apiserver.service', 'kube-controller-manager.service', 'kube-scheduler.service'];

let env: KubeEnv;
before(async () => (env = await kubeEnv()));
after(async () => env?.close());

test('the sample cluster on real machines through the operator: all Ready, kubectl get nodes lists them Ready, a pod runs, Secrets are encrypted in etcd, a killed worker is replaced, delete all leaves no machine', { timeout: 1_200_000 }, async () => {
  const ns = await freshNamespace(env, 'machines-e2e');
  const root = mkdtempSync(path.join(tmpdir(), 'hardway-machines-e2e-'));
  const etcdVersion = (sampleOf('EtcdCluster') as { spec: { version: string } }).spec.version;
  const version = (sampleOf('ControlPlane') as { spec: { version: string } }).spec.version;
  const machines = await MachineCloud.start(path.join(root, 'machines'), { bridge: 'hw-e2e', etcd: [etcdVersion], kubernetes: [version] });
  const compute = await new FakeDigitalOcean({ tokens: ['dop_v1_e2e'], provisionDelayMs: 300, contract: digitalOceanContract(), minuteLimit: 100_000, addresses: MachineCloud.addressing }).start();
  const dns = await new FakeCloudflare({ tokens: ['cf-e2e'], zones: ['example.com'], contract: cloudflareContract(), limitPer5Min: 100_000 }).start();
  const sim = new NodeSimulator(compute, dns, path.join(root, 'nodes'), { machines }).start();
  const logLines: string[] = [];
  let operator: RunningOperator | undefined;
  const get = async (kind: string, name: string) => JSON.parse(await env.kubectl('get', '-n', ns, kind, name, '-o', 'json'));
  const cond = (o: any, type: string) => o.status?.conditions?.find((c: { type: string }) => c.type === type);
  const started = Date.now();
  const at = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;
  try {
    await env.kubectl('create', 'secret', 'generic', 'demo-credentials', '-n', ns, '--from-literal=digitalocean-token=dop_v1_e2e', '--from-literal=cloudflare-api-token=cf-e2e');
    const cfg = parseConfig(
      [`--kubeconfig=${env.kubeconfig}`, `--namespace=${ns}`, '--leader-elect=false', '--metrics-bind-address=127.0.0.1:0', `--digitalocean-api-url=${compute.url}`, `--cloudflare-api-url=${dns.url}`],
      {},
    );
    const log = createLogger({ level: 'info', destination: new Writable({ write: (c, _e, cb) => (logLines.push(String(c)), cb()) }) });
    // Probes give nodes the time real machines take to install and start (a minute or two on two cores).
    const timing = { waitMs: 1_000, steadyMs: 3_000, graceMs: 10_000 };
    operator = await startOperator(cfg, {
      log,
      onFatal: (r) => assert.fail(r),
      // The release server serves stand-ins for the pinned files (containerd, runc, CNI, crictl).
      pins: machines.pins(version),
      etcdTiming: { ...timing, probeTimeoutMs: 2_000, endpointDrainMs: 1_000 },
      controlPlaneTiming: { ...timing, rotationDrainMs: 1_000 },
      workerPoolTiming: { ...timing, drainTimeoutMs: 5_000, unhealthyAfterMs: 90_000, joinBackoffMs: 5_000 },
    });

    for (const f of ['workerpool.yaml', 'controlplane.yaml', 'etcdcluster.yaml']) await env.kubectl('apply', '-n', ns, '-f', path.join(samplesDir, f));
    await env.kubectl('wait', '-n', ns, '--for=condition=Ready', '--timeout=300s', 'etcdcluster/demo');
    console.log(`etcd Ready at ${at()}`);
    await env.kubectl('wait', '-n', ns, '--for=condition=Ready', '--timeout=480s', 'controlplane/demo');
    console.log(`control plane Ready at ${at()}`);
    await env.kubectl('wait', '-n', ns, '--for=condition=Ready', '--timeout=300s', 'workerpool/demo-general');
    console.log(`worker pool Ready at ${at()}`);

    const cp = await get('controlplane', 'demo');
    for (const type of ['Ready', 'EtcdAvailable', 'APIServerHealthy', 'ControllerManagerHealthy', 'SchedulerHealthy', 'AddonsReady']) assert.equal(cond(cp, type).status, 'True', `${type}: ${cond(cp, type).message}`);
    assert.equal(cond(cp, 'APIServerHealthy').message, '3/3 API servers healthy');
    const wp = await get('workerpool', 'demo-general');
    assert.equal(cond(wp, 'NodesReady').message, '2/2 nodes Ready');
    // Every droplet is a machine whose cloud-init ran the user-data to the end.
    assert.equal(machines.running().length, 8);
    // Every droplet is a machine whose cloud-init ran the user-data to the end, with every unit its role
    // needs running and every file installed with its mode.
    for (const m of machines.running()) {
      const s = await m.waitForCloudInit();
      assert.equal(s.status, 'done', `${m.spec.name}: ${s.detail}`);
      const units = m.spec.name.startsWith('demo-etcd-') ? ['hardway-node-env.service', 'etcd.service'] : m.spec.name.startsWith('demo-cp-') ? [...NODE_UNITS, ...CONTROL_UNITS] : NODE_UNITS;
      // A controller manager that started before the API server had its RBAC roles exits and is restarted by
      // systemd: looked at again, bounded, until every unit has run for 15 s without a restart.
      let states = await m.steadyUnits(units, 15_000);
      for (let i = 0; i < 30 && units.some((u) => states[u] !== 'active'); i++) {
        await new Promise((r) => setTimeout(r, 2_000));
        states = await m.steadyUnits(units, 15_000);
      }
      assert.deepEqual(states, Object.fromEntries(units.map((u) => [u, 'active'])), m.spec.name);
      assert.deepEqual(await wrongModes(m, compute.droplets.get(Number(m.spec.instanceId))!.userData!), [], `${m.spec.name}: files installed with their modes`);
    }
    // Control-plane nodes got their keys from the operator over SSH (Debian's sshd in the machine, the
    // operator's ssh2 client): files in place with their modes, not in user-data, droplet tagged.
    for (const m of machines.running().filter((x) => x.spec.name.startsWith('demo-cp-'))) {
      const d = compute.droplets.get(Number(m.spec.instanceId))!;
      assert.ok(d.tags.includes(HANDED_OVER_TAG), `${m.spec.name}: tagged ${HANDED_OVER_TAG}`);
      const onNode = await m.exec(['stat', '-c', '%a %U', '/var/lib/kubernetes/ca.key', '/var/lib/kubernetes/service-account.key', '/var/lib/kubernetes/encryption-config.yaml', HANDOVER_MARKER]);
      assert.deepEqual(onNode.stdout.trim().split('\n'), ['600 root', '600 root', '600 root', '644 root'], m.spec.name);
      const { ssh_keys: hostKey, ...rest } = parse(d.userData!.replace(/^#cloud-config\n/, ''));
      assert.ok(!/PRIVATE KEY|secretbox/.test(JSON.stringify(rest)), `${m.spec.name}: no key in user-data but its host key`);
      // ... and that one is retired once used: the node now has a host key nobody else knows.
      const now = (await m.exec(['ssh-keygen', '-l', '-f', '/etc/ssh/ssh_host_ed25519_key.pub'])).stdout;
      assert.match(now, /SHA256:/, m.spec.name);
      assert.ok(!now.includes(sshFingerprint(hostKey.ed25519_public)), `${m.spec.name}: the user-data host key is retired`);
    }
    const handedOver = (await env.kubectl('get', 'events', '-n', ns, '--field-selector', 'reason=KeysHandedOver', '-o', 'jsonpath={.items[*].message}')).trim();
    console.log(`KeysHandedOver events: ${handedOver}`);
    assert.match(handedOver, /demo-cp-\w+: \d+ files over SFTP \(host key SHA256:/);

    // The wrappers said what they translated for v1.20, in the units' journals.
    const aControlPlane = machines.running().find((m) => m.spec.name.startsWith('demo-cp-'))!;
    const scheduler = await aControlPlane.exec(['journalctl', '--no-pager', '-o', 'cat', '-u', 'kube-scheduler']);
    assert.match(scheduler.stdout, new RegExp(`hardway test wrapper: kube-scheduler ${version.replaceAll('.', '\\.')}: config read as kubescheduler\\.config\\.k8s\\.io/v1beta1`));

    // kubectl with the admin kubeconfig as a user gets it (the endpoint name pinned to an address the zone lists).
    const kc = parse(Buffer.from(JSON.parse(await env.kubectl('get', 'secret', '-n', ns, 'demo-kubeconfig', '-o', 'json')).data.value, 'base64').toString('utf8'));
    const endpointIp = sim.resolve('api.demo.example.com')[0]!;
    kc.clusters[0].cluster.server = `https://${endpointIp}:6443`;
    kc.clusters[0].cluster['tls-server-name'] = 'api.demo.example.com';
    const file = path.join(root, 'admin.kubeconfig');
    writeFileSync(file, JSON.stringify(kc));
    const user = (...args: string[]) => env.kubectl('--kubeconfig', file, ...args);
    const nodes = async () => JSON.parse(await user('get', 'nodes', '-o', 'json')).items as { metadata: { name: string }; status: { conditions: { type: string; status: string }[] } }[];
    const readyNames = async () => (await nodes()).filter((n) => n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True')).map((n) => n.metadata.name).sort();
    const kubeMachines = () => [...compute.droplets.values()].filter((d) => !d.name.startsWith('demo-etcd-')).map((d) => d.name).sort();
    console.log(await user('get', 'nodes', '-o', 'wide'));
    assert.deepEqual(await readyNames(), kubeMachines(), 'kubectl get nodes: every control-plane node and worker, Ready by its own kubelet');
    // Registered with their private addresses; control-plane nodes carry their taint.
    for (const n of JSON.parse(await user('get', 'nodes', '-o', 'json')).items as { metadata: { name: string }; spec: { taints?: { key: string; effect: string }[] }; status: { addresses: { type: string; address: string }[] } }[]) {
      assert.ok(n.status.addresses.some((a) => a.type === 'InternalIP' && /^10\.10\./.test(a.address)), `${n.metadata.name}: ${JSON.stringify(n.status.addresses)}`);
      assert.deepEqual(n.spec.taints?.map((t) => `${t.key}:${t.effect}`) ?? [], n.metadata.name.startsWith('demo-cp-') ? ['node-role.kubernetes.io/control-plane:NoSchedule'] : [], n.metadata.name);
    }

    // Workers joined by TLS bootstrap with the real kubelet: their user-data holds no key; each kubelet got its
    // client certificate with its bootstrap token (approved by the controller manager) and its serving
    // certificate approved by the operator; no token is left.
    type Csr = { spec: { username: string; signerName: string }; status: { conditions?: { type: string; reason: string }[]; certificate?: string } };
    const csrs = JSON.parse(await user('get', 'csr', '-o', 'json')).items as Csr[];
    for (const w of kubeMachines().filter((n) => n.startsWith('demo-general-'))) {
      const d = [...compute.droplets.values()].find((x) => x.name === w)!;
      assert.ok(!d.userData!.includes('PRIVATE KEY'), `${w}: no private key in its user-data`);
      const issuedFor = (c: Csr) => !!c.status.certificate && new X509Certificate(Buffer.from(c.status.certificate, 'base64')).subject.includes(`CN=system:node:${w}`);
      const client = csrs.find((c) => c.spec.signerName === 'kubernetes.io/kube-apiserver-client-kubelet' && issuedFor(c));
      assert.match(client?.spec.username ?? '', /^system:bootstrap:[a-z0-9]{6}$/, `${w}: client certificate asked for with a bootstrap token`);
      assert.equal(client?.status.conditions?.find((c) => c.type === 'Approved')?.reason, 'AutoApproved');
      const serving = csrs.find((c) => c.spec.signerName === 'kubernetes.io/kubelet-serving' && issuedFor(c));
      assert.equal(serving?.status.conditions?.find((c) => c.type === 'Approved')?.reason, 'HardwayApproved', `${w}: serving certificate approved by the operator`);
    }
    assert.equal((await user('get', 'secrets', '-n', 'kube-system', '--field-selector', 'type=bootstrap.kubernetes.io/token', '-o', 'name')).trim(), '', 'no bootstrap token left');

    // A pod placed by the real scheduler runs on a worker (containerd and runc inside the machine).
    await user('run', 'hello', '--image', PAUSE_IMAGE, '--image-pull-policy=Never', '--restart=Never');
    await user('wait', '--for=condition=Ready', '--timeout=120s', 'pod/hello');
    const pod = JSON.parse(await user('get', 'pod', 'hello', '-o', 'json'));
    assert.match(pod.spec.nodeName, /^demo-general-/);
    assert.match(pod.status.podIP ?? '', /^10\.200\./, "an address from the node's pod range (flannel CNI stand-in delegating to the bridge plugin)");

    // The metadata service (which serves this node's user-data) is closed to the pod, open to the node. The
    // pod's network namespace is found by its address.
    const worker = machines.running().find((m) => m.spec.name === pod.spec.nodeName)!;
    const netns = await worker.exec(['sh', '-c', `for n in $(ip netns list | cut -d' ' -f1); do ip -n "$n" -4 -o addr | grep -q " ${pod.status.podIP}/" && echo "$n"; done`]);
    const podNs = netns.stdout.trim();
    assert.match(podNs, /^cni-/, `the pod's network namespace on ${worker.spec.name}: ${netns.stderr}`);
    const curl = async (inPod: boolean, url: string) =>
      (await worker.exec([...(inPod ? ['ip', 'netns', 'exec', podNs] : []), 'curl', '-sk', '-o', '/dev/null', '-w', '%{http_code}', '--connect-timeout', '3', '-m', '5', url])).stdout;
    const userDataUrl = 'http://169.254.169.254/metadata/v1/user-data';
    assert.equal(await curl(false, userDataUrl), '200', 'the node reads its metadata');
    assert.equal(await curl(true, userDataUrl), '000', 'the pod gets no answer from the metadata service');
    assert.match(await curl(true, `https://${endpointIp}:6443/healthz`), /^[1-5]\d\d$/, 'the pod reaches other addresses off the node');
    const dropRules = async (op: '-C' | '-D') => (await worker.exec(['sh', '-c', `for c in PREROUTING FORWARD; do iptables -t mangle ${op} "$c" -d 169.254.169.254/32 -j DROP || exit 1; done`])).code;
    assert.equal(await dropRules('-C'), 0, 'both rules are in place');
    assert.equal(await dropRules('-D'), 0);
    assert.equal(await curl(true, userDataUrl), '200', 'without the rules the pod reads the user-data: they are what stops it');
    assert.equal((await worker.exec(['systemctl', 'restart', 'hardway-metadata-block.service'])).code, 0);
    assert.equal(await curl(true, userDataUrl), '000', 'the unit puts the rules back');

    // Encryption at rest, checked where it counts: the bytes etcd holds for a Secret written through the API.
    // Read by a control-plane node with the API server's own etcd client certificate, through etcd's JSON
    // gateway (on by default: etcd v3.5.21 server/embed/config.go EnableGRPCGateway). They must start with
    // the provider's prefix and key name (k8s.io/apiserver v0.20.2 and v0.34.0
    // pkg/server/options/encryptionconfig/config.go: "k8s:enc:secretbox:v1:" + key name + ":") and not hold
    // the plaintext.
    await user('create', 'secret', 'generic', 'at-rest', '--from-literal=word=plaintext-canary-4f2a');
    const pki = '/var/lib/kubernetes';
    const range = await aControlPlane.exec([
      'curl', '-sS', '--fail', '--cacert', `${pki}/etcd-ca.crt`, '--cert', `${pki}/apiserver-etcd-client.crt`, '--key', `${pki}/apiserver-etcd-client.key`,
      '-d', JSON.stringify({ key: Buffer.from('/registry/secrets/default/at-rest').toString('base64') }),
      'https://demo-etcd.example.com:2379/v3/kv/range',
    ]);
    assert.equal(range.code, 0, range.stderr);
    const stored = Buffer.from((JSON.parse(range.stdout) as { kvs: { value: string }[] }).kvs[0]!.value, 'base64');
    const prefix = 'k8s:enc:secretbox:v1:key1:';
    assert.equal(stored.subarray(0, prefix.length).toString('latin1'), prefix, 'stored encrypted, by the configured provider and key');
    assert.ok(!stored.includes('plaintext-canary-4f2a'), 'the plaintext is not in etcd');

    // A worker's machine dies (its droplet stays): the pool replaces it, and the new one joins Ready.
    const victim = pod.spec.nodeName as string;
    const workersBefore = kubeMachines().filter((n) => n.startsWith('demo-general-'));
    await sim.kill(victim);
    console.log(`killed ${victim} at ${at()}`);
    await env.kubectl('wait', '-n', ns, '--for=condition=Ready=False', '--timeout=120s', 'workerpool/demo-general');
    let replaced = false;
    for (let i = 0; i < 240 && !replaced; i++) {
      // Polling as a user would, bounded: the old droplet gone, two workers Ready and the pool Ready.
      const names = await readyNames();
      const pool = await get('workerpool', 'demo-general');
      replaced = !compute.activeDroplets().some((d) => d.name === victim) && names.filter((n) => n.startsWith('demo-general-')).length === 2 && !names.includes(victim) && cond(pool, 'Ready')?.status === 'True';
      if (!replaced) await new Promise((r) => setTimeout(r, 2_000));
    }
    assert.ok(replaced, `the killed worker replaced: Ready nodes ${await readyNames()}`);
    console.log(`worker replaced at ${at()}`);
    const replacement = machines.running().find((m) => m.spec.name.startsWith('demo-general-') && !workersBefore.includes(m.spec.name));
    assert.ok(replacement, 'the replacement is a machine');
    assert.equal((await replacement.waitForCloudInit()).status, 'done');

    const events = await env.kubectl('get', 'events', '-n', ns, '-o', 'jsonpath={.items[*].reason}');
    for (const r of ['MachineCreated', 'KubeconfigWritten', 'DNSRecordCreated', 'FirewallCreated', 'MemberAdded']) assert.match(events, new RegExp(r));

    // Delete everything at once: every machine stops.
    await env.kubectl('delete', '-n', ns, 'etcdcluster/demo', 'controlplane/demo', 'workerpool/demo-general', '--wait=false');
    await env.kubectl('wait', '-n', ns, '--for=delete', '--timeout=180s', 'workerpool/demo-general', 'controlplane/demo', 'etcdcluster/demo');
    await sim.until('no machine running', () => machines.running().length === 0, 60_000);
    assert.equal(compute.droplets.size, 0);
    assert.equal(dns.records.size, 0);
    assert.deepEqual(compute.violations, []);
    assert.deepEqual(dns.violations, []);
    const all = logLines.join('');
    assert.ok(!all.includes('dop_v1_e2e') && !all.includes('PRIVATE KEY'), 'no token or key reaches the log');
    console.log(`done at ${at()}`);
  } finally {
    await operator?.stop();
    await sim.stop();
    await compute.stop();
    await dns.stop();
    await machines.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
