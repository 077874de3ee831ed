// `hardway render -f <cluster.yaml|dir> [--out DIR]`: renders the user-data of every machine a cluster
// description implies and prints each one's size against DigitalOcean's 64 KiB limit. Touches no cloud:
// certificates are issued locally (fresh each run) and droplet names get random suffixes.
import { readFileSync, readdirSync, statSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { validateObject, formatProblems, type EtcdCluster, type ControlPlane, type WorkerPool, API_VERSION } from '../api/v1alpha1/index.ts';
import { stringify } from 'yaml';
import { HANDOVER_MARKER } from '../bootstrap/handover.ts';
import { renderCluster } from '../bootstrap/cluster.ts';
import { BOOTSTRAP_GROUP, BOOTSTRAP_TOKEN_TTL_MS } from '../pki/bootstrap-token.ts';
import { defaultPkiContext } from '../pki/cluster.ts';
import { randomBytes } from 'node:crypto';

const USER_DATA_LIMIT = 64 * 1024;
const BUDGET = 48 * 1024;

export interface Output {
  log(line: string): void;
  error(line: string): void;
}

class UsageError extends Error {}
function usage(): never {
  throw new UsageError('usage: hardway render -f <cluster.yaml or directory> [-f ...] [--out DIR]');
}

function readObjects(inputs: string[]): unknown[] {
  const files = inputs.flatMap((p) =>
    statSync(p).isDirectory()
      ? readdirSync(p).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(p, f))
      : [p],
  );
  return files.flatMap((f) =>
    parseAllDocuments(readFileSync(f, 'utf8')).map((d) => {
      if (d.errors.length) throw new Error(`${f}: ${d.errors[0]!.message}`);
      return d.toJS() as unknown;
    }),
  );
}

/** Runs `hardway <argv>`; returns the exit code (0 ok, 1 invalid input or over budget, 2 usage). */
export function hardway(argv: string[], io: Output = { log: console.log, error: console.error }): number {
  try {
    return render(argv, io);
  } catch (e) {
    io.error(e instanceof Error ? e.message : String(e));
    return e instanceof UsageError ? 2 : 1;
  }
}

function render(argv: string[], io: Output): number {
  const [command, ...rest] = argv;
  if (command !== 'render') usage();
  const inputs: string[] = [];
  let out: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '-f' || a === '--filename') inputs.push(rest[++i] ?? usage());
    else if (a === '--out') out = rest[++i] ?? usage();
    else usage();
  }
  if (!inputs.length) usage();

  const objects = readObjects(inputs).filter((o) => (o as { apiVersion?: string })?.apiVersion === API_VERSION);
  let invalid = false;
  const valid = objects.map((o) => {
    const { object, problems } = validateObject(o);
    if (problems.length) {
      invalid = true;
      io.error(`${object.kind}/${object.metadata?.name}: ${formatProblems(problems, 20)}`);
    }
    return object;
  });
  if (invalid) return 1;
  const etcd = valid.filter((o): o is EtcdCluster => o.kind === 'EtcdCluster');
  const cps = valid.filter((o): o is ControlPlane => o.kind === 'ControlPlane');
  const pools = valid.filter((o): o is WorkerPool => o.kind === 'WorkerPool');
  if (etcd.length !== 1 || cps.length !== 1) {
    io.error(`a cluster description needs exactly one EtcdCluster and one ControlPlane; found ${etcd.length} and ${cps.length}`);
    return 1;
  }
  const cp = cps[0]!;
  if (cp.spec.etcdClusterRef.name !== etcd[0]!.metadata.name) {
    io.error(`ControlPlane/${cp.metadata.name}: spec.etcdClusterRef.name "${cp.spec.etcdClusterRef.name}" is not the EtcdCluster "${etcd[0]!.metadata.name}"`);
    return 1;
  }
  const strays = pools.filter((p) => p.spec.controlPlaneRef.name !== cp.metadata.name);
  if (strays.length) {
    io.error(`WorkerPool ${strays.map((p) => p.metadata.name).join(', ')}: spec.controlPlaneRef.name is not "${cp.metadata.name}"`);
    return 1;
  }

  const { nodes, tokens, handOverKey } = renderCluster({ etcd: etcd[0]!, controlPlane: cp, workerPools: pools }, { ...defaultPkiContext(), randomBytes: (n) => randomBytes(n) });
  if (out) mkdirSync(out, { recursive: true });
  const width = Math.max(...nodes.map((n) => n.name.length));
  let over = false;
  io.log(`${'MACHINE'.padEnd(width)}  ROLE           BYTES   OF 64 KiB`);
  for (const n of nodes) {
    const size = Buffer.byteLength(n.userData);
    over ||= size > BUDGET;
    io.log(`${n.name.padEnd(width)}  ${n.role.padEnd(13)}  ${String(size).padStart(6)}  ${((size / USER_DATA_LIMIT) * 100).toFixed(0).padStart(4)}%${size > BUDGET ? '  over the 48 KiB budget' : ''}`);
    // User-data holds private keys: readable by the owner only.
    if (out) writeFileSync(path.join(out, `${n.name}.yaml`), n.userData, { mode: 0o600 });
    // Control-plane keys are not in user-data: they go to the node over SFTP once it runs, marker last.
    if (out) for (const f of n.handOver) {
      const target = path.join(out, `${n.name}.handover`, f.path);
      mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
      writeFileSync(target, f.content, { mode: Number.parseInt(f.permissions, 8) });
    }
  }
  const handOvers = nodes.filter((n) => n.handOver.length);
  if (out && handOvers.length) writeFileSync(path.join(out, 'handover-key'), handOverKey.privateKey, { mode: 0o600 });
  if (out && tokens.length) {
    // Workers join with bootstrap tokens, which must be in the cluster before they boot (the operator
    // makes its own); here they are manifests to apply to the new cluster's kube-system.
    const manifests = tokens.map((t) =>
      stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `bootstrap-token-${t.id}`, namespace: 'kube-system' },
        type: 'bootstrap.kubernetes.io/token',
        stringData: { 'token-id': t.id, 'token-secret': t.secret, expiration: t.expiresAt.toISOString(), 'usage-bootstrap-authentication': 'true', 'auth-extra-groups': BOOTSTRAP_GROUP },
      }),
    );
    writeFileSync(path.join(out, 'bootstrap-tokens.yaml'), manifests.join('---\n'), { mode: 0o600 });
  }
  if (out) io.log(`wrote ${nodes.length} files to ${out} (mode 0600: they contain private keys)${tokens.length ? `, and bootstrap-tokens.yaml: the workers' join tokens, to apply to the new cluster (they expire in ${BOOTSTRAP_TOKEN_TTL_MS / 60_000} minutes)` : ''}`);
  if (out && handOvers.length)
    io.log(`control-plane keys are not in their user-data: copy each <node>.handover/ tree to that node as root over SFTP with the key in handover-key (the node allows it SFTP only), then create ${HANDOVER_MARKER} there; until then its Kubernetes units wait`);
  return over ? 1 : 0;
}
