// The WorkloadCluster port over HTTPS: the workload API reached at an IP while its certificate is verified
// against the endpoint's DNS name, authenticated by the admin client certificate. Plain node:https (the
// management-cluster client library is for the management cluster only); one keep-alive agent per target.
import { Agent, request } from 'node:https';
import { isIP } from 'node:net';
import { checkServerIdentity } from 'node:tls';
import { createHash } from 'node:crypto';
import { WorkloadError, type BootstrapTokenSpec, type CertificateRequest, type EvictionResult, type Manifest, type WorkloadCluster, type WorkloadConnector, type WorkloadNode, type WorkloadTarget } from './port.ts';

export const FIELD_MANAGER = 'hardway';
export const DRAIN_STARTED_ANNOTATION = 'hardway.dev/drain-started';
const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';
/** On bootstrap token Secrets: the droplet the token was made for. */
export const MACHINE_LABEL = 'hardway.dev/machine';
const CSR_PATH = '/apis/certificates.k8s.io/v1/certificatesigningrequests';

export interface HttpsWorkloadOptions {
  /** Per-request socket timeout; default 5000 ms. */
  timeoutMs?: number;
  userAgent?: string;
}

/** REST facts of the kinds addons and tests use, by `group/Kind` ("" is the core group). */
const KINDS: Record<string, { plural: string; namespaced: boolean }> = {
  '/Namespace': { plural: 'namespaces', namespaced: false },
  '/ServiceAccount': { plural: 'serviceaccounts', namespaced: true },
  '/ConfigMap': { plural: 'configmaps', namespaced: true },
  '/Secret': { plural: 'secrets', namespaced: true },
  '/Service': { plural: 'services', namespaced: true },
  'apps/Deployment': { plural: 'deployments', namespaced: true },
  'apps/DaemonSet': { plural: 'daemonsets', namespaced: true },
  'rbac.authorization.k8s.io/ClusterRole': { plural: 'clusterroles', namespaced: false },
  'rbac.authorization.k8s.io/ClusterRoleBinding': { plural: 'clusterrolebindings', namespaced: false },
  'rbac.authorization.k8s.io/Role': { plural: 'roles', namespaced: true },
  'rbac.authorization.k8s.io/RoleBinding': { plural: 'rolebindings', namespaced: true },
  'policy/PodDisruptionBudget': { plural: 'poddisruptionbudgets', namespaced: true },
};

/** The object's REST path, or a WorkloadError for a kind outside the table or a missing namespace. */
export function manifestPath(m: Manifest): string {
  const slash = m.apiVersion.indexOf('/');
  const group = slash < 0 ? '' : m.apiVersion.slice(0, slash);
  const kind = KINDS[`${group}/${m.kind}`];
  const what = `${m.apiVersion} ${m.kind} ${m.metadata.namespace ? `${m.metadata.namespace}/` : ''}${m.metadata.name}`;
  if (!kind) throw new WorkloadError('apply', 0, `${what}: kind not supported`);
  if (kind.namespaced && !m.metadata.namespace) throw new WorkloadError('apply', 0, `${what}: namespace required`);
  const base = group ? `/apis/${m.apiVersion}` : `/api/${m.apiVersion}`;
  const ns = kind.namespaced ? `/namespaces/${encodeURIComponent(m.metadata.namespace!)}` : '';
  return `${base}${ns}/${kind.plural}/${encodeURIComponent(m.metadata.name)}`;
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Answer {
  status: number;
  text: string;
  json: Json | undefined;
}

/** A short reason from an answer: the API's Status message if there is one, else the body's start. */
function reasonOf(a: Answer): string {
  const message = typeof a.json?.message === 'string' ? a.json.message : a.text.slice(0, 200);
  return `HTTP ${a.status}${message ? `: ${message.slice(0, 300)}` : ''}`;
}

const parseTime = (s: unknown): Date | undefined => {
  if (typeof s !== 'string') return undefined;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d;
};

export function toWorkloadNode(n: Json): WorkloadNode {
  const ready = ((n.status?.conditions ?? []) as Json[]).find((c) => c.type === 'Ready');
  const status = ready?.status === 'True' || ready?.status === 'False' ? ready.status : 'Unknown';
  const message = [ready?.reason, ready?.message].filter((s) => typeof s === 'string' && s).join(': ');
  return {
    name: String(n.metadata?.name),
    ready: status,
    ...(message ? { message } : {}),
    unschedulable: n.spec?.unschedulable === true,
    ...(n.status?.nodeInfo?.kubeletVersion ? { kubeletVersion: String(n.status.nodeInfo.kubeletVersion) } : {}),
    ...(parseTime(n.metadata?.annotations?.[DRAIN_STARTED_ANNOTATION]) ? { drainStartedAt: parseTime(n.metadata.annotations[DRAIN_STARTED_ANNOTATION]) } : {}),
  };
}

/** Pods a drain neither evicts nor waits for: mirror pods, DaemonSet pods, finished pods. */
function drainIgnores(p: Json): boolean {
  if (p.metadata?.annotations?.[MIRROR_ANNOTATION] !== undefined) return true;
  if (((p.metadata?.ownerReferences ?? []) as Json[]).some((o) => o.kind === 'DaemonSet')) return true;
  return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
}

const podKey = (p: Json) => `${p.metadata.namespace}/${p.metadata.name}`;

export class HttpsWorkloadCluster implements WorkloadCluster {
  private readonly agent: Agent;
  /** Which Eviction version the server accepts, learnt on first use (policy/v1 from 1.22, v1beta1 before). */
  private evictionVersion: 'policy/v1' | 'policy/v1beta1' = 'policy/v1';

  constructor(
    private readonly target: WorkloadTarget,
    private readonly opts: HttpsWorkloadOptions = {},
  ) {
    // Node unrefs idle keep-alive sockets, so a cached cluster never keeps the process alive.
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: 4,
      ca: target.ca,
      cert: target.cert,
      key: target.key,
      // SNI carries a DNS name only; the identity check is always against serverName, never the IP.
      ...(isIP(target.serverName) ? {} : { servername: target.serverName }),
      checkServerIdentity: (_host, cert) => checkServerIdentity(target.serverName, cert),
    });
  }

  /** Closes pooled connections. */
  close(): void {
    this.agent.destroy();
  }

  private send(operation: string, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Answer> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.opts.userAgent ?? 'hardway-operator' };
    if (payload !== undefined) {
      headers['content-type'] = contentType;
      // Explicit: Node sends some bodies (DELETE) with neither length nor chunking (see docs/architecture.md).
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const timeout = this.opts.timeoutMs ?? 5000;
    return new Promise<Answer>((resolve, reject) => {
      const req = request({ host: this.target.ip, port: this.target.port ?? 6443, path, method, headers, agent: this.agent, timeout }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Json | undefined;
          try {
            json = text ? (JSON.parse(text) as Json) : undefined;
          } catch {
            // not JSON (/readyz answers plain text): keep the text
          }
          resolve({ status: res.statusCode ?? 0, text, json });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeout} ms`)));
      req.on('error', reject);
      req.end(payload);
    }).catch((e: Error) => {
      throw new WorkloadError(operation, 0, `${method} ${path.split('?')[0]} at ${this.target.serverName} (${this.target.ip}): ${e.message}`);
    });
  }

  private async call(operation: string, method: string, path: string, body?: unknown, contentType?: string): Promise<Json> {
    const a = await this.send(operation, method, path, body, contentType);
    if (a.status < 200 || a.status > 299) throw new WorkloadError(operation, a.status, `${method} ${path.split('?')[0]}: ${reasonOf(a)}`);
    return a.json ?? {};
  }

  /** Every item of a list, following `continue`. */
  private async list(operation: string, path: string, query: Record<string, string> = {}): Promise<Json[]> {
    const items: Json[] = [];
    let cont: string | undefined;
    do {
      const q = new URLSearchParams({ ...query, limit: '500', ...(cont ? { continue: cont } : {}) });
      const page = await this.call(operation, 'GET', `${path}?${q}`);
      items.push(...((page.items ?? []) as Json[]));
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return items;
  }

  async readyz(): Promise<{ ok: boolean; message?: string }> {
    try {
      const a = await this.send('readyz', 'GET', '/readyz');
      return a.status === 200 ? { ok: true } : { ok: false, message: `HTTP ${a.status}: ${a.text.slice(0, 200)}` };
    } catch (e) {
      return { ok: false, message: (e as Error).message };
    }
  }

  async apply(objects: Manifest[]): Promise<void> {
    const paths = objects.map(manifestPath); // refuse unknown kinds before changing anything
    for (const [i, o] of objects.entries()) {
      const q = new URLSearchParams({ fieldManager: FIELD_MANAGER, force: 'true' });
      // Server-side apply takes YAML; JSON is YAML.
      await this.call('apply', 'PATCH', `${paths[i]}?${q}`, o, 'application/apply-patch+yaml');
    }
  }

  async listNodes(): Promise<WorkloadNode[]> {
    return (await this.list('listNodes', '/api/v1/nodes')).map(toWorkloadNode);
  }

  async cordon(name: string, now: Date): Promise<Date> {
    const path = `/api/v1/nodes/${encodeURIComponent(name)}`;
    const node = await this.call('cordon', 'GET', path);
    const started = parseTime(node.metadata?.annotations?.[DRAIN_STARTED_ANNOTATION]);
    if (started && node.spec?.unschedulable === true) return started;
    const at = started ?? now;
    await this.call(
      'cordon',
      'PATCH',
      path,
      { spec: { unschedulable: true }, metadata: { annotations: { [DRAIN_STARTED_ANNOTATION]: at.toISOString() } } },
      'application/merge-patch+json',
    );
    return at;
  }

  async evictPods(name: string): Promise<EvictionResult> {
    const onNode = async () => (await this.list('evictPods', '/api/v1/pods', { fieldSelector: `spec.nodeName=${name}` })).filter((p) => !drainIgnores(p));
    const blocked: string[] = [];
    const failures: string[] = [];
    let firstStatus = 0;
    for (const p of await onNode()) {
      if (p.metadata.deletionTimestamp) continue; // already going; it counts as remaining below
      const a = await this.evict(p.metadata.namespace, p.metadata.name);
      if (a.status === 429) blocked.push(podKey(p));
      else if (a.status !== 404 && (a.status < 200 || a.status > 299)) {
        firstStatus ||= a.status;
        failures.push(`${podKey(p)}: ${reasonOf(a)}`);
      }
    }
    if (failures.length) throw new WorkloadError('evictPods', firstStatus, `${failures.length} eviction(s) failed; ${failures[0]}`);
    // Evicted pods with a grace period stay (terminating) until their kubelet confirms: list again.
    return { remaining: (await onNode()).map(podKey).sort(), blocked: blocked.sort() };
  }

  private async evict(namespace: string, name: string): Promise<Answer> {
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/eviction`;
    const body = (apiVersion: string) => ({ apiVersion, kind: 'Eviction', metadata: { name, namespace } });
    let a = await this.send('evictPods', 'POST', path, body(this.evictionVersion));
    // Before 1.22 the server knows only v1beta1 and answers 400 'no kind "Eviction" is registered for version "policy/v1"'.
    if (this.evictionVersion === 'policy/v1' && (a.status === 400 || a.status === 404) && /policy\/v1"/.test(String(a.json?.message ?? a.text))) {
      this.evictionVersion = 'policy/v1beta1';
      a = await this.send('evictPods', 'POST', path, body(this.evictionVersion));
    }
    return a;
  }

  async createBootstrapToken(t: BootstrapTokenSpec): Promise<void> {
    const a = await this.send('createBootstrapToken', 'POST', '/api/v1/namespaces/kube-system/secrets', {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `bootstrap-token-${t.id}`, namespace: 'kube-system', labels: { [MACHINE_LABEL]: t.machine, 'app.kubernetes.io/managed-by': FIELD_MANAGER } },
      type: 'bootstrap.kubernetes.io/token',
      stringData: {
        description: `hardway: join of ${t.machine}`,
        'token-id': t.id,
        'token-secret': t.secret,
        expiration: t.expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        'usage-bootstrap-authentication': 'true',
        'auth-extra-groups': t.groups.join(','),
      },
    });
    if (a.status === 409 || (a.status >= 200 && a.status <= 299)) return;
    throw new WorkloadError('createBootstrapToken', a.status, `POST bootstrap token for ${t.machine}: ${reasonOf(a)}`);
  }

  async deleteBootstrapTokens(machine: string): Promise<void> {
    const q = new URLSearchParams({ labelSelector: `${MACHINE_LABEL}=${machine}`, fieldSelector: 'type=bootstrap.kubernetes.io/token' });
    for (const s of await this.list('deleteBootstrapTokens', `/api/v1/namespaces/kube-system/secrets`, Object.fromEntries(q))) {
      const a = await this.send('deleteBootstrapTokens', 'DELETE', `/api/v1/namespaces/kube-system/secrets/${encodeURIComponent(s.metadata.name)}`);
      if (a.status !== 404 && (a.status < 200 || a.status > 299)) throw new WorkloadError('deleteBootstrapTokens', a.status, `DELETE ${s.metadata.name}: ${reasonOf(a)}`);
    }
  }

  async listCertificateRequests(): Promise<CertificateRequest[]> {
    return (await this.list('listCertificateRequests', CSR_PATH)).map((c) => ({
      name: String(c.metadata?.name),
      signerName: String(c.spec?.signerName ?? ''),
      username: String(c.spec?.username ?? ''),
      groups: (c.spec?.groups ?? []) as string[],
      usages: (c.spec?.usages ?? []) as string[],
      request: Buffer.from(String(c.spec?.request ?? ''), 'base64').toString('utf8'),
      decided: ((c.status?.conditions ?? []) as Json[]).some((x) => ['Approved', 'Denied', 'Failed'].includes(x.type)),
    }));
  }

  async approveCertificateRequest(name: string, message: string): Promise<void> {
    const path = `${CSR_PATH}/${encodeURIComponent(name)}`;
    const csr = await this.call('approveCertificateRequest', 'GET', path);
    const conditions = (csr.status?.conditions ?? []) as Json[];
    if (conditions.some((x) => x.type === 'Approved')) return;
    const body = { ...csr, status: { ...csr.status, conditions: [...conditions, { type: 'Approved', status: 'True', reason: 'HardwayApproved', message }] } };
    await this.call('approveCertificateRequest', 'PUT', `${path}/approval`, body);
  }

  async reencryptSecrets(): Promise<number> {
    let rewritten = 0;
    for (const s of await this.list('reencryptSecrets', '/api/v1/secrets')) {
      const path = `/api/v1/namespaces/${encodeURIComponent(s.metadata.namespace)}/secrets/${encodeURIComponent(s.metadata.name)}`;
      // Unchanged, with the resourceVersion read: the API server stores it again with the writing key.
      const a = await this.send('reencryptSecrets', 'PUT', path, { ...s, apiVersion: 'v1', kind: 'Secret' });
      // Changed since the listing (409) means written since, with the same key; deleted (404) needs nothing.
      if (a.status === 409 || a.status === 404) continue;
      if (a.status < 200 || a.status > 299) throw new WorkloadError('reencryptSecrets', a.status, `PUT secret ${s.metadata.namespace}/${s.metadata.name}: ${reasonOf(a)}`);
      rewritten++;
    }
    return rewritten;
  }

  async deleteNode(name: string): Promise<void> {
    const a = await this.send('deleteNode', 'DELETE', `/api/v1/nodes/${encodeURIComponent(name)}`);
    if (a.status === 404 || (a.status >= 200 && a.status <= 299)) return;
    throw new WorkloadError('deleteNode', a.status, `DELETE node ${name}: ${reasonOf(a)}`);
  }
}

/**
 * Hands out one HttpsWorkloadCluster per target (same address, name and credentials), so connections and
 * what was learnt about the server are reused across reconciles. Least recently used ones beyond
 * maxCached are closed.
 */
export class HttpsWorkloadConnector implements WorkloadConnector {
  private readonly clusters = new Map<string, HttpsWorkloadCluster>();

  constructor(private readonly opts: HttpsWorkloadOptions & { maxCached?: number } = {}) {}

  connect(target: WorkloadTarget): HttpsWorkloadCluster {
    // A digest, so the cache key does not hold key material in clear.
    const id = createHash('sha256')
      .update(JSON.stringify([target.ip, target.port ?? 6443, target.serverName, target.ca, target.cert, target.key]))
      .digest('hex');
    let c = this.clusters.get(id);
    if (c) this.clusters.delete(id);
    else c = new HttpsWorkloadCluster(target, this.opts);
    this.clusters.set(id, c); // re-inserted: Map order is recency
    for (const [k, old] of this.clusters) {
      if (this.clusters.size <= (this.opts.maxCached ?? 64)) break;
      old.close();
      this.clusters.delete(k);
    }
    return c;
  }

  close(): void {
    for (const c of this.clusters.values()) c.close();
    this.clusters.clear();
  }
}
