// `npm run sandbox [-- --until-ready] [--timeout=SECONDS] [--control-port=PORT] [--nodes=machines|simulated]`:
// the operator building config/samples/ on this machine, against a local management API server, fake
// DigitalOcean and Cloudflare, and droplets that are real machines (the default: systemd-nspawn booting the
// user-data; needs root, and runs in a network namespace of its own) or in-process nodes (sandbox.ts).
// Shows progress until everything is Ready, then keeps running for
// kubectl from another terminal until Ctrl-C, which stops everything it started. With --until-ready it
// exits 0 as soon as all objects are Ready, or 1 with the failing conditions after the timeout.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '../helpers/samples.ts';
import { requireEtcd } from '../helpers/etcd.ts';
import { startSandbox, CONTROL_HELP, type Sandbox } from './sandbox.ts';

function parseArgs(argv: string[]) {
  const o = { untilReady: false, timeoutSeconds: undefined as number | undefined, controlPort: 0, nodes: 'machines' as 'machines' | 'simulated' };
  for (const a of argv) {
    const [flag, value] = a.split(/=(.*)/s) as [string, string | undefined];
    if (flag === '--until-ready') o.untilReady = true;
    else if (flag === '--timeout' && value && /^\d+$/.test(value) && Number(value) > 0 && Number(value) <= 86_400) o.timeoutSeconds = Number(value);
    else if (flag === '--control-port' && value && /^\d+$/.test(value) && Number(value) < 65536) o.controlPort = Number(value);
    else if (flag === '--nodes' && (value === 'machines' || value === 'simulated')) o.nodes = value;
    else if (flag === '--help' || flag === '-h') {
      console.log('usage: npm run sandbox [-- --until-ready] [--timeout=SECONDS] [--control-port=PORT] [--nodes=machines|simulated]');
      process.exit(0);
    } else {
      console.error(`sandbox: unknown or invalid argument ${a} (--help lists them)`);
      process.exit(2);
    }
  }
  // Scripts get a bound by default (machines install and start for real: minutes); an interactive session
  // waits as long as it takes.
  if (o.untilReady) o.timeoutSeconds ??= o.nodes === 'machines' ? 900 : 300;
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const t0 = Date.now();
const say = (text: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${text}`);

try {
  requireEtcd();
} catch (e) {
  console.error(`sandbox: ${(e as Error).message}`);
  process.exit(1);
}

const machines = opts.nodes === 'machines';
if (machines && process.getuid?.() !== 0) {
  console.error('sandbox: machines (systemd-nspawn, a network namespace) need root; run as root, or use --nodes=simulated for in-process nodes');
  process.exit(2);
}
// Inside the namespace made below (or the test run's): the builds are done, the network is ours.
const inNamespace = process.env.HARDWAY_TEST_NETNS === '1';
if (!inNamespace) {
  // The binaries (and the machines' root filesystem): built once into ~/.cache/hardway (minutes), reused after.
  say('checking the cached builds (the first run compiles the Kubernetes binaries and builds the machines\' root filesystem; this shows their progress)');
  for (const script of ['build-kube.sh', ...(machines ? ['build-rootfs.sh'] : [])]) {
    const built = spawnSync('bash', [path.join(repoRoot, 'test/env', script)], { stdio: 'inherit' });
    if (built.status !== 0) {
      console.error(`sandbox: test/env/${script} failed; run test/env/setup.sh first`);
      process.exit(1);
    }
  }
}
if (machines && !inNamespace) {
  // Machines get addresses on a bridge; in a network namespace of the sandbox's own, no address outside it
  // is used (the same rule as the tests, test/run.mjs). Ctrl-C reaches both processes; this one waits.
  const inner = spawn('unshare', ['--net', '--', process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, HARDWAY_TEST_NETNS: '1' } });
  const forward = (sig: NodeJS.Signals) => process.on(sig, () => inner.kill(sig));
  forward('SIGINT');
  forward('SIGTERM');
  inner.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  if (machines && spawnSync('ip', ['link', 'set', 'lo', 'up']).status !== 0) {
    console.error('sandbox: cannot bring up loopback in the network namespace');
    process.exit(1);
  }
  await run();
}

async function run(): Promise<void> {
  // From another terminal, commands reach this namespace's loopback through nsenter.
  const enter = machines ? `nsenter --net=/proc/${process.pid}/ns/net ` : '';

  // The API server runs in its own process group (Ctrl-C reaches only us, and we stop it last, in order);
  // it stops itself when our end of its stdin closes, even if we are killed outright.
  const cluster = spawn(process.execPath, ['--import', 'tsx', 'test/env/start-cluster.ts', '--env-line'], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'], detached: true });
  const clusterExited = new Promise<void>((r) => cluster.once('exit', () => r()));
  const stopCluster = async () => {
    cluster.stdin!.end();
    await clusterExited;
  };

  let sandbox: Sandbox | undefined;
  let stopping: Promise<void> | undefined;
  const shutdown = (code: number, why?: string) => {
    if (stopping) return stopping;
    if (why) say(why);
    stopping = (async () => {
      // A stuck stop must not leave the user waiting forever; children die with us (pdeathsig, stdin).
      setTimeout(() => process.exit(code || 1), 30_000).unref();
      await sandbox?.stop().catch((e: unknown) => console.error(`sandbox: stopping: ${(e as Error).message}`));
      await stopCluster();
      say('stopped: nothing left running');
      process.exit(code);
    })();
    return stopping;
  };
  process.on('SIGINT', () => void shutdown(0, 'interrupted: stopping the operator, the simulated nodes, the fakes and the API server'));
  process.on('SIGTERM', () => void shutdown(0, 'terminated: stopping everything'));

  try {
    const facts = await new Promise<{ KUBECONFIG: string; HARDWAY_KUBECTL: string }>((resolve, reject) => {
      createInterface({ input: cluster.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
      cluster.once('exit', (code) => reject(new Error(`the management API server exited with ${code} before it was ready`)));
    });
    say('management API server ready, CRDs installed');
    sandbox = await startSandbox({ kubeconfig: facts.KUBECONFIG, controlPort: opts.controlPort, started: t0, machines });
    say(machines ? 'droplets are real machines: each boots its user-data with systemd and cloud-init (a minute or two each)' : 'droplets are in-process nodes (--nodes=simulated)');
    if (stopping) await stopping;
    const s = sandbox;
    console.log(
      [
        '',
        'From another terminal:',
        `  export KUBECONFIG=${s.kubeconfig}`,
        `  alias kubectl='${enter}${s.kubectl}'`,
        '  kubectl get hardway',
        '  kubectl describe controlplane demo',
        `Operator log (JSON lines): ${s.logFile}`,
        `Fault switches: ${s.controlUrl}  (curl ${s.controlUrl}/ lists them and the nodes)`,
        ...CONTROL_HELP.slice(1).map((l) => (l.trim().startsWith('/') ? `  ${enter}curl -X POST '${s.controlUrl}${l.trim().split(/\s+/)[0]}'` : l)),
        ...(machines ? [`Inside a machine (journal, systemctl, cloud-init status): nsenter -t <PID> -a bash, with the PID \`${enter}curl ${s.controlUrl}/\` lists`] : []),
        '',
      ].join('\n'),
    );
    await s.applySamples();
    await s.until('all objects Ready', () => s.allReady(), opts.timeoutSeconds && opts.timeoutSeconds * 1000);
    const kc = await s.writeWorkloadKubeconfig();
    say(`all three objects Ready, ${((Date.now() - t0) / 1000).toFixed(1)} s after the start`);
    if (opts.untilReady) {
      await s.settleMachines();
      await shutdown(0);
    } else {
      console.log(
        [
          '',
          `The built cluster's own API (its admin kubeconfig from Secret demo-kubeconfig, pinned to an endpoint address):`,
          `  ${enter}${s.kubectl} --kubeconfig ${kc} get nodes`,
          machines
            ? 'Try: kubectl scale --replicas=3 workerpool/demo-general (the machines are served the samples\' versions; a version roll needs --nodes=simulated)'
            : 'Try: kubectl scale --replicas=3 workerpool/demo-general; kubectl patch controlplane demo --type=merge -p \'{"spec":{"version":"v1.35.0"}}\'',
          'Ctrl-C stops everything.',
          '',
        ].join('\n'),
      );
    }
  } catch (e) {
    console.error(`sandbox: ${(e as Error).message.split('; failing:')[0]}`);
    if (sandbox && !stopping) {
      console.error('failing conditions:');
      for (const l of sandbox.failing()) console.error(`  ${l}`);
    }
    await shutdown(1);
  }
}
