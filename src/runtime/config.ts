// Operator configuration from flags (--name=value or --name value) and environment (HARDWAY_NAME).
// Flags win over environment, environment over defaults. Every problem is reported at once, then we exit.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface Config {
  kubeconfig?: string;
  context?: string;
  /** Namespace to watch; empty means all namespaces. */
  namespace: string;
  /** The shard served: objects labelled hardway.dev/shard=<shard>; empty: objects without that label. */
  shard: string;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  identity: string;
  metricsHost: string;
  metricsPort: number;
  concurrency: number;
  resyncSeconds: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** json: one JSON object per line (for log collectors); text: one readable line per entry. */
  logFormat: 'json' | 'text';
  fieldManager: string;
  /** Base URLs of the cloud APIs (a sandbox or test fakes); the real ones by default. */
  digitalOceanUrl?: string;
  cloudflareUrl?: string;
  /** An etcd member unhealthy this long is replaced. */
  etcdReplaceUnhealthySeconds: number;
  drainTimeoutSeconds: number;
  /** Which droplet address health probes use. */
  probeNetwork: 'public' | 'private';
}

type Parser<T> = (raw: string) => T | { error: string };

const bool: Parser<boolean> = (raw) =>
  ['true', '1', 'yes'].includes(raw.toLowerCase()) ? true : ['false', '0', 'no'].includes(raw.toLowerCase()) ? false : { error: `"${raw}" is not true or false` };
const int = (min: number, max: number): Parser<number> => (raw) => {
  const n = Number(raw);
  return Number.isInteger(n) && n >= min && n <= max ? n : { error: `"${raw}" is not a whole number from ${min} to ${max}` };
};
const str: Parser<string> = (raw) => raw;
const oneOf = <V extends string>(values: readonly V[]): Parser<V> => (raw) =>
  (values as readonly string[]).includes(raw) ? (raw as V) : { error: `"${raw}" is not one of ${values.join(', ')}` };
// A label value (k8s.io/apimachinery pkg/util/validation IsValidLabelValue: 63 characters at most,
// alphanumeric at both ends, '-', '_' and '.' between).
const labelValue: Parser<string> = (raw) => (/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/.test(raw) ? raw : { error: `"${raw}" is not a label value (at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)` });
const url: Parser<string> = (raw) => (/^https?:\/\/[^\s]+$/.test(raw) ? raw.replace(/\/$/, '') : { error: `"${raw}" is not an http(s) URL` });
const hostPort: Parser<{ host: string; port: number }> = (raw) => {
  const m = raw.match(/^(.*):(\d+)$/);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) return { error: `"${raw}" is not host:port (for example ":8080" or "127.0.0.1:8080")` };
  return { host: m[1] || '0.0.0.0', port };
};

interface Option<T> {
  flag: string;
  help: string;
  parse: Parser<T>;
  default?: () => T;
}

const IN_CLUSTER_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
function podNamespace(env: NodeJS.ProcessEnv): string {
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  try {
    return readFileSync(IN_CLUSTER_NAMESPACE_FILE, 'utf8').trim();
  } catch {
    return 'default';
  }
}

function options(env: NodeJS.ProcessEnv) {
  return {
    kubeconfig: { flag: 'kubeconfig', help: 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)', parse: str } as Option<string>,
    context: { flag: 'context', help: 'kubeconfig context to use', parse: str } as Option<string>,
    namespace: { flag: 'namespace', help: 'only watch this namespace (default: all)', parse: str, default: () => '' } as Option<string>,
    shard: { flag: 'shard', help: 'serve only objects labelled hardway.dev/shard=<name>, under the Lease <leader-election-id>-<name> (default: objects without that label)', parse: labelValue, default: () => '' } as Option<string>,
    leaderElect: { flag: 'leader-elect', help: 'elect a leader among replicas (default true)', parse: bool, default: () => true } as Option<boolean>,
    leaderElectionNamespace: { flag: 'leader-election-namespace', help: 'namespace of the leader Lease (default: the pod namespace)', parse: str, default: () => podNamespace(env) } as Option<string>,
    leaderElectionId: { flag: 'leader-election-id', help: 'name of the leader Lease', parse: str, default: () => 'hardway-operator' } as Option<string>,
    identity: { flag: 'identity', help: 'this replica’s identity in the Lease (default: hostname + random suffix)', parse: str, default: () => `${hostname()}_${randomBytes(4).toString('hex')}` } as Option<string>,
    metrics: { flag: 'metrics-bind-address', help: 'address of /metrics, /healthz and /readyz', parse: hostPort, default: () => ({ host: '0.0.0.0', port: 8080 }) } as Option<{ host: string; port: number }>,
    concurrency: { flag: 'concurrency', help: 'reconciles in parallel per kind', parse: int(1, 64), default: () => 4 } as Option<number>,
    resyncSeconds: { flag: 'resync-seconds', help: 're-reconcile every object this often even without changes', parse: int(0, 86_400), default: () => 600 } as Option<number>,
    logLevel: { flag: 'log-level', help: 'fatal, error, warn, info, debug or trace', parse: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const), default: () => 'info' as const } as Option<Config['logLevel']>,
    logFormat: { flag: 'log-format', help: 'json (one object per line) or text (one readable line per entry)', parse: oneOf(['json', 'text'] as const), default: () => 'json' as const } as Option<Config['logFormat']>,
    fieldManager: { flag: 'field-manager', help: 'server-side apply field manager for status', parse: str, default: () => 'hardway-operator' } as Option<string>,
    digitalOceanUrl: { flag: 'digitalocean-api-url', help: 'DigitalOcean API base URL (default https://api.digitalocean.com)', parse: url } as Option<string>,
    cloudflareUrl: { flag: 'cloudflare-api-url', help: 'Cloudflare API base URL (default https://api.cloudflare.com/client/v4)', parse: url } as Option<string>,
    probeNetwork: { flag: 'probe-network', help: 'probe nodes on their public address (operator outside the VPC) or private (same VPC)', parse: oneOf(['public', 'private'] as const), default: () => 'public' as const } as Option<'public' | 'private'>,
    drainTimeoutSeconds: { flag: 'drain-timeout-seconds', help: 'give up draining a worker after this long and delete it anyway', parse: int(0, 86_400), default: () => 600 } as Option<number>,
    etcdReplaceUnhealthySeconds: { flag: 'etcd-replace-unhealthy-seconds', help: 'replace an etcd member unhealthy this long (if quorum allows)', parse: int(5, 86_400), default: () => 300 } as Option<number>,
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}\nRun with --help for the list of options.`);
    this.name = 'ConfigError';
  }
}

export function usage(): string {
  const opts = Object.values(options({}));
  return [
    'Usage: hardway-operator [--flag=value ...]',
    'Each flag can also be set as HARDWAY_<FLAG> in the environment (for example HARDWAY_LOG_LEVEL=debug).',
    '',
    ...opts.map((o) => `  --${o.flag.padEnd(28)} ${o.help}`),
  ].join('\n');
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  const opts = options(env);
  const byFlag = new Map(Object.entries(opts).map(([k, o]) => [o.flag, k]));
  const raw = new Map<string, string>();
  const problems: string[] = [];

  for (const [k, o] of Object.entries(opts)) {
    const v = env[`HARDWAY_${o.flag.toUpperCase().replace(/-/g, '_')}`];
    if (v !== undefined && v !== '') raw.set(k, v);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = arg.match(/^--([a-z-]+)(?:=(.*))?$/);
    const key = m && byFlag.get(m[1]!);
    if (!m || !key) {
      problems.push(`unknown argument "${arg}"`);
      continue;
    }
    let value = m[2];
    if (value === undefined) {
      const next = argv[i + 1];
      // A bare boolean flag means true; other flags take the next argument.
      if (opts[key as keyof typeof opts].parse === bool && (next === undefined || next.startsWith('--'))) value = 'true';
      else if (next === undefined) {
        problems.push(`--${m[1]} needs a value`);
        continue;
      } else value = argv[++i]!;
    }
    raw.set(key, value);
  }

  const out: Record<string, unknown> = {};
  for (const [k, o] of Object.entries(opts) as [string, Option<unknown>][]) {
    const v = raw.get(k);
    if (v === undefined) {
      out[k] = o.default?.();
      continue;
    }
    const parsed = o.parse(v);
    if (typeof parsed === 'object' && parsed !== null && 'error' in parsed) problems.push(`--${o.flag}: ${(parsed as { error: string }).error}`);
    else out[k] = parsed;
  }
  if (problems.length) throw new ConfigError(problems);
  const metrics = out.metrics as { host: string; port: number };
  delete out.metrics;
  return { ...(out as Omit<Config, 'metricsHost' | 'metricsPort'>), metricsHost: metrics.host, metricsPort: metrics.port };
}
