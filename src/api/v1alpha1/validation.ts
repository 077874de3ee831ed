// The operator's own validation of a whole object: defaults, the schema, then the rules a schema cannot
// express (or that only CEL on newer API servers could). Returns every problem, each with its field path.
import { checkSchedule } from '../../backup/schedule.ts';
import { applyDefaults, checkSchema, type Problem } from './schema-walk.ts';
import { node } from './schema.ts';
import { parseCidr, overlaps, hasHostBits, canonicalCidr, type Cidr } from './cidr.ts';
import * as P from './patterns.ts';
import { RESERVED_TAG_PREFIX, DROPLET_ROLE } from './names.ts';
import { etcdClusterKind, SUPPORTED_ETCD_MINORS, type EtcdCluster } from './etcdcluster.ts';
import { controlPlaneKind, SUPPORTED_KUBE_MINORS, type ControlPlane } from './controlplane.ts';
import { workerPoolKind, type WorkerPool } from './workerpool.ts';
import type { KindDefinition } from './kind.ts';
import type { Machine } from './shared.ts';

export type { Problem };

export interface ValidationResult<T> {
  /** The object with defaults applied (only meaningful when problems is empty). */
  object: T;
  problems: Problem[];
}

/** One line for a condition message or an event: "spec.replicas: must be ...; spec.version: ...". */
export function formatProblems(problems: Problem[], max = 5): string {
  const shown = problems.slice(0, max).map((p) => `${p.path}: ${p.message}`);
  if (problems.length > max) shown.push(`and ${problems.length - max} more`);
  return shown.join('; ');
}

type Rule<S> = (spec: S, add: (path: string, message: string) => void, meta: { name: string }) => void;

function validate<T extends { metadata: { name: string }; spec: unknown }>(
  def: KindDefinition,
  raw: unknown,
  rules: Rule<T['spec']>[],
): ValidationResult<T> {
  const problems: Problem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  const input = (typeof raw === 'object' && raw !== null ? raw : {}) as Partial<T>;
  const name = input.metadata?.name ?? '';
  checkObjectName(name, def, add);
  const spec = applyDefaults(node(def.spec), input.spec);
  const object = { ...input, spec } as T;
  if (spec === undefined) {
    add('spec', 'is required');
    return { object, problems };
  }
  const schemaProblems = checkSchema(node(def.spec), spec, 'spec');
  problems.push(...schemaProblems);
  // Semantic rules read fields the schema vouches for; skip them when the shape itself is wrong.
  if (schemaProblems.length === 0) for (const rule of rules) rule(spec as T['spec'], add, { name });
  return { object, problems };
}

function checkObjectName(name: string, def: KindDefinition, add: (p: string, m: string) => void) {
  if (!name) return add('metadata.name', 'is required');
  if (!P.test(P.DNS1123_LABEL, name)) {
    add(
      'metadata.name',
      `"${name}" must be a DNS-1123 label (lowercase letters, digits and "-", no dots): it becomes droplet names, DNS labels and DigitalOcean tags`,
    );
  }
  if (name.length > def.maxNameLength) {
    add(
      'metadata.name',
      `"${name}" is ${name.length} characters; at most ${def.maxNameLength} fit, because droplet names "<name>-${DROPLET_ROLE[def.kind]}-xxxxx" must be one 63-character DNS label`,
    );
  }
}

function checkRefName(path: string, name: string, add: (p: string, m: string) => void) {
  if (!P.test(P.DNS1123_LABEL, name)) add(path, `"${name}" is not a valid object name (lowercase letters, digits and "-")`);
}

function checkMachine(m: Machine, add: (p: string, m: string) => void) {
  m.tags?.forEach((tag, i) => {
    if (tag.toLowerCase().startsWith(RESERVED_TAG_PREFIX)) {
      add(`spec.machine.tags[${i}]`, `"${tag}" starts with "${RESERVED_TAG_PREFIX}", which is reserved for the tags hardway uses to find its droplets`);
    }
  });
}

/** Parses a CIDR field, reporting why it does not parse and refusing host bits (10.0.0.1/16). */
function cidrField(path: string, text: string, add: (p: string, m: string) => void): Cidr | undefined {
  const c = parseCidr(text);
  if (typeof c === 'string') {
    add(path, `"${text}" ${c}`);
    return undefined;
  }
  if (hasHostBits(c)) {
    add(path, `"${text}" has host bits set; did you mean "${canonicalCidr(c)}"?`);
    return undefined;
  }
  return c;
}

function checkCidrList(path: string, list: string[] | undefined, add: (p: string, m: string) => void) {
  list?.forEach((text, i) => cidrField(`${path}[${i}]`, text, add));
}

function checkSupportedVersion(path: string, version: string, supported: readonly string[], add: (p: string, m: string) => void) {
  const minor = version.replace(/^v/, '').split('.').slice(0, 2).join('.');
  if (!supported.includes(minor)) add(path, `version ${version} is not supported; use ${supported.map((s) => `${s}.x`).join(' or ')}`);
}

const KUBE_MINORS = SUPPORTED_KUBE_MINORS.map((m) => `1.${m}`);

/** Ranges a pod or service network must stay out of: loopback, link-local (droplet metadata), multicast. */
const RESERVED_RANGES = ['0.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/4', '240.0.0.0/4'].map((t) => parseCidr(t) as Cidr);

export function validateEtcdCluster(raw: unknown): ValidationResult<EtcdCluster> {
  return validate<EtcdCluster>(etcdClusterKind, raw, [
    (s, add) => checkSupportedVersion('spec.version', s.version, SUPPORTED_ETCD_MINORS, add),
    (s, add) => checkMachine(s.machine, add),
    (s, add) => checkRefName('spec.credentialsRef.name', s.credentialsRef.name, add),
    (s, add) => {
      checkCidrList('spec.firewall.adminCIDRs', s.firewall.adminCIDRs, add);
      checkCidrList('spec.firewall.managementCIDRs', s.firewall.managementCIDRs, add);
    },
    (s, add) => {
      if (s.backup) {
        try {
          checkSchedule(s.backup.schedule);
        } catch (e) {
          add('spec.backup.schedule', `not a cron schedule: ${(e as Error).message}`);
        }
        checkRefName('spec.backup.storage.credentialsSecretRef.name', s.backup.storage.credentialsSecretRef.name, add);
      }
      if (s.restore && !s.restore.storage && !s.backup) add('spec.restore.storage', 'required when there is no spec.backup.storage to restore from');
      if (s.restore?.storage) checkRefName('spec.restore.storage.credentialsSecretRef.name', s.restore.storage.credentialsSecretRef.name, add);
    },
  ]);
}

export function validateControlPlane(raw: unknown): ValidationResult<ControlPlane> {
  return validate<ControlPlane>(controlPlaneKind, raw, [
    (s, add) => checkSupportedVersion('spec.version', s.version, KUBE_MINORS, add),
    (s, add) => checkMachine(s.machine, add),
    (s, add) => {
      checkRefName('spec.credentialsRef.name', s.credentialsRef.name, add);
      checkRefName('spec.etcdClusterRef.name', s.etcdClusterRef.name, add);
    },
    (s, add) => {
      const { host } = s.endpoint;
      if (host !== s.dns.zone && !host.endsWith(`.${s.dns.zone}`)) {
        add('spec.endpoint.host', `"${host}" is not inside spec.dns.zone "${s.dns.zone}"; records can only be created in that zone`);
      }
    },
    (s, add) => {
      const pod = cidrField('spec.network.podCIDR', s.network.podCIDR, add);
      const svc = cidrField('spec.network.serviceCIDR', s.network.serviceCIDR, add);
      if (pod) {
        if (pod.prefix < 8 || pod.prefix > 22) {
          add('spec.network.podCIDR', `/${pod.prefix} is out of range: use /8 to /22, since every node takes a /24 of it`);
        } else if (2 ** (24 - pod.prefix) < s.replicas) {
          add('spec.network.podCIDR', `/${pod.prefix} holds only ${2 ** (24 - pod.prefix)} node subnets (/24), fewer than spec.replicas`);
        }
      }
      if (svc && (svc.prefix < 12 || svc.prefix > 28)) {
        add(
          'spec.network.serviceCIDR',
          `/${svc.prefix} is out of range: use /12 (the API server's largest) to /28 (16 addresses; the cluster DNS takes the tenth)`,
        );
      }
      if (pod && svc && overlaps(pod, svc)) {
        add('spec.network.serviceCIDR', `${svc.text} overlaps spec.network.podCIDR ${pod.text}; pick disjoint ranges`);
      }
      for (const [path, c] of [['spec.network.podCIDR', pod], ['spec.network.serviceCIDR', svc]] as const) {
        const clash = c && RESERVED_RANGES.find((r) => overlaps(r, c));
        if (clash) add(path, `${c.text} overlaps the reserved range ${clash.text} (loopback, link-local metadata or multicast)`);
      }
    },
    (s, add) => {
      checkCidrList('spec.firewall.adminCIDRs', s.firewall.adminCIDRs, add);
      checkCidrList('spec.firewall.apiCIDRs', s.firewall.apiCIDRs, add);
      checkCidrList('spec.firewall.managementCIDRs', s.firewall.managementCIDRs, add);
    },
  ]);
}

/** Prefixes kubelet may not self-label under kubernetes.io/k8s.io (NodeRestriction), except these. */
const KUBELET_ALLOWED_PREFIXES = ['kubelet.kubernetes.io/', 'node.kubernetes.io/'];

function isPercent(v: string) {
  return /^(100|[1-9]?[0-9])%$/.test(v);
}

export function validateWorkerPool(raw: unknown): ValidationResult<WorkerPool> {
  return validate<WorkerPool>(workerPoolKind, raw, [
    (s, add) => s.version && checkSupportedVersion('spec.version', s.version, KUBE_MINORS, add),
    (s, add) => checkMachine(s.machine, add),
    (s, add) => {
      checkRefName('spec.controlPlaneRef.name', s.controlPlaneRef.name, add);
      if (s.credentialsRef) checkRefName('spec.credentialsRef.name', s.credentialsRef.name, add);
    },
    (s, add) => {
      for (const [key, value] of Object.entries(s.nodeLabels ?? {})) {
        const path = `spec.nodeLabels[${key}]`;
        const prefix = key.includes('/') ? key.slice(0, key.indexOf('/')) : '';
        if (!P.test(P.QUALIFIED_NAME, key) || prefix.length > 253) {
          add(path, `"${key}" is not a valid label key (optional DNS prefix and "/", then at most 63 letters, digits, "-", "_", ".")`);
        } else if (/(^|\.)(kubernetes|k8s)\.io$/.test(prefix) && !KUBELET_ALLOWED_PREFIXES.some((p) => key.startsWith(p))) {
          add(path, `"${key}" is in a namespace kubelets may not set (NodeRestriction); use ${KUBELET_ALLOWED_PREFIXES.join(' or ')} or your own prefix`);
        }
        if (!P.test(P.LABEL_VALUE, value)) add(path, `value "${value}" is not a valid label value (at most 63 letters, digits, "-", "_", ".")`);
      }
    },
    (s, add) => {
      const seen = new Set<string>();
      s.nodeTaints?.forEach((t, i) => {
        const id = `${t.key}:${t.effect}`;
        if (seen.has(id)) add(`spec.nodeTaints[${i}]`, `duplicates another taint with key "${t.key}" and effect ${t.effect}`);
        seen.add(id);
      });
    },
    (s, add) => {
      const isZero = (v: number | string) => v === 0 || v === '0%';
      for (const key of ['maxSurge', 'maxUnavailable'] as const) {
        const v = s.rollout[key];
        if (typeof v === 'string' && !isPercent(v)) add(`spec.rollout.${key}`, `"${v}" must be a count or a percentage such as "25%"`);
        if (typeof v === 'number' && v < 0) add(`spec.rollout.${key}`, `must not be negative; got ${v}`);
      }
      if (isZero(s.rollout.maxSurge) && isZero(s.rollout.maxUnavailable)) {
        add('spec.rollout', 'maxSurge and maxUnavailable cannot both be 0: a rollout could never replace a machine');
      }
    },
  ]);
}

export type HardwayObject = EtcdCluster | ControlPlane | WorkerPool;

export const validators = {
  EtcdCluster: validateEtcdCluster,
  ControlPlane: validateControlPlane,
  WorkerPool: validateWorkerPool,
} as const;

/** Validates any hardway object by its kind; an unknown kind is a single problem. */
export function validateObject(raw: unknown): ValidationResult<HardwayObject> {
  const kind = (raw as { kind?: string } | null)?.kind;
  if (kind && kind in validators) return validators[kind as keyof typeof validators](raw);
  return { object: raw as HardwayObject, problems: [{ path: 'kind', message: `"${kind}" is not one of ${Object.keys(validators).join(', ')}` }] };
}
