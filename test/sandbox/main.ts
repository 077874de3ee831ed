// `npm run sandbox [-- --until-ready] [--timeout=SECONDS] [--control-port=PORT]`: the operator building
// config/samples/ on this machine, against a local management API server, fake DigitalOcean and Cloudflare,
// and simulated droplets (sandbox.ts). Shows progress until everything is Ready, then keeps running for
// kubectl from another terminal until Ctrl-C, which stops everything it started. With --until-ready it
// exits 0 as soon as all objects are Ready, or 1 with the failing conditions after the timeout.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { repoRoot } from '../helpers/samples.ts';
import { requireEtcd } from '../helpers/etcd.ts';
import { startSandbox, CONTROL_HELP, type Sandbox } from './sandbox.ts';

function parseArgs(argv: string[]) {
  const o = { untilReady: false, timeoutSeconds: undefined as number | undefined, controlPort: 0 };
  for (const a of argv) {
    const [flag, value] = a.split(/=(.*)/s) as [string, string | undefined];
    if (flag === '--until-ready') o.untilReady = true;
    else if (flag === '--timeout' && value && /^\d+$/.test(value) && Number(value) > 0 && Number(value) <= 86_400) o.timeoutSeconds = Number(value);
    else if (flag === '--control-port' && value && /^\d+$/.test(value) && Number(value) < 65536) o.controlPort = Number(value);
    else if (flag === '--help' || flag === '-h') {
      console.log('usage: npm run sandbox [-- --until-ready] [--timeout=SECONDS] [--control-port=PORT]');
      process.exit(0);
    } else {
      console.error(`sandbox: unknown or invalid argument ${a} (--help lists them)`);
      process.exit(2);
    }
  }
  // Scripts get a bound by default; an interactive session waits as long as it takes.
  if (o.untilReady) o.timeoutSeconds ??= 300;
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

// The management API server's binaries: built once into ~/.cache/hardway (minutes), reused after.
say('management API server: checking the cached kube-apiserver build (the first run compiles it; this shows its progress)');
const built = spawnSync('bash', [path.join(repoRoot, 'test/env/build-kube.sh')], { stdio: 'inherit' });
if (built.status !== 0) {
  console.error('sandbox: could not build the management API server; run test/env/setup.sh first');
  process.exit(1);
}

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
  sandbox = await startSandbox({ kubeconfig: facts.KUBECONFIG, controlPort: opts.controlPort, started: t0 });
  if (stopping) await stopping;
  const s = sandbox;
  console.log(
    [
      '',
      'From another terminal:',
      `  export KUBECONFIG=${s.kubeconfig}`,
      `  alias kubectl=${s.kubectl}`,
      '  kubectl get hardway',
      '  kubectl describe controlplane demo',
      `Operator log (JSON lines): ${s.logFile}`,
      `Fault switches: ${s.controlUrl}  (curl ${s.controlUrl}/ lists them and the nodes)`,
      ...CONTROL_HELP.slice(1).map((l) => (l.trim().startsWith('/') ? `  curl -X POST '${s.controlUrl}${l.trim().split(/\s+/)[0]}'` : l)),
      '',
    ].join('\n'),
  );
  await s.applySamples();
  await s.until('all objects Ready', () => s.allReady(), opts.timeoutSeconds && opts.timeoutSeconds * 1000);
  const kc = await s.writeWorkloadKubeconfig();
  say(`all three objects Ready, ${((Date.now() - t0) / 1000).toFixed(1)} s after the start`);
  if (opts.untilReady) {
    await shutdown(0);
  } else {
    console.log(
      [
        '',
        `The built cluster's own API (its admin kubeconfig from Secret demo-kubeconfig, pinned to an endpoint address):`,
        `  ${s.kubectl} --kubeconfig ${kc} get nodes`,
        'Try: kubectl scale --replicas=3 workerpool/demo-general; kubectl patch controlplane demo --type=merge -p \'{"spec":{"version":"v1.35.0"}}\'',
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
