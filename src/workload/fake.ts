// An in-memory workload cluster for controller tests, behaving like HttpsWorkloadCluster against a real
// API server: the same kinds accepted by apply, the same drain rules (mirror, DaemonSet and finished pods
// are neither evicted nor waited for; terminating pods are waited for), 404 on a missing node for cordon,
// readyz that answers {ok:false} instead of throwing. Pods are named "namespace/name" in results.
import { WorkloadError, type BootstrapTokenSpec, type CertificateRequest, type EvictionResult, type Manifest, type WorkloadCluster, type WorkloadConnector, type WorkloadNode, type WorkloadTarget } from './port.ts';
import { manifestPath } from './adapter.ts';

export type WorkloadOperation = 'readyz' | 'apply' | 'listNodes' | 'cordon' | 'evictPods' | 'deleteNode' | 'reencryptSecrets' | 'createBootstrapToken' | 'deleteBootstrapTokens' | 'listCertificateRequests' | 'approveCertificateRequest';

export interface FakePod {
  namespace: string;
  name: string;
  node: string;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  daemonSet?: boolean;
  mirror?: boolean;
  /** Has a deletionTimestamp: still on the node until finishTerminating(). */
  terminating?: boolean;
  /** A PodDisruptionBudget refuses its eviction (429) until unblockPod(). */
  blocked?: boolean;
  /** When evicted, it terminates (stays listed) instead of vanishing at once, like a real grace period. */
  graceful?: boolean;
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;
const manifestKey = (m: Pick<Manifest, 'apiVersion' | 'kind'>, name: string, namespace?: string) => `${m.apiVersion}/${m.kind}/${namespace ?? ''}/${name}`;

export class FakeWorkloadCluster implements WorkloadCluster {
  /** Every call fails as a connection failure would (WorkloadError status 0; readyz answers not ok). */
  unreachable = false;
  /** What /readyz answers when reachable. */
  readyzAnswer: { ok: boolean; message?: string } = { ok: true };
  /** Operations in call order, for assertions. */
  readonly calls: WorkloadOperation[] = [];
  private readonly nodes = new Map<string, WorkloadNode>();
  private readonly podsByKey = new Map<string, FakePod>();
  private readonly appliedObjects = new Map<string, Manifest>();
  private readonly failures = new Map<WorkloadOperation, WorkloadError[]>();

  addNode(name: string, o: Partial<Omit<WorkloadNode, 'name'>> = {}): this {
    this.nodes.set(name, { name, ready: 'True', unschedulable: false, ...o });
    return this;
  }

  removeNode(name: string): this {
    this.nodes.delete(name);
    return this;
  }

  setReady(name: string, ready: WorkloadNode['ready'], message?: string): this {
    const n = this.mustNode(name);
    this.nodes.set(name, { ...n, ready, message });
    return this;
  }

  node(name: string): WorkloadNode | undefined {
    const n = this.nodes.get(name);
    return n && { ...n };
  }

  addPod(p: Omit<FakePod, 'namespace'> & { namespace?: string }): this {
    const pod = { namespace: 'default', phase: 'Running' as const, ...p };
    this.podsByKey.set(key(pod.namespace, pod.name), pod);
    return this;
  }

  /** Pods (copies), optionally only those bound to one node. */
  pods(node?: string): FakePod[] {
    return [...this.podsByKey.values()].filter((p) => node === undefined || p.node === node).map((p) => ({ ...p }));
  }

  blockPod(namespace: string, name: string, blocked = true): this {
    this.mustPod(namespace, name).blocked = blocked;
    return this;
  }

  unblockPod(namespace: string, name: string): this {
    return this.blockPod(namespace, name, false);
  }

  /** Terminating pods go away, as when their kubelet confirms (optionally on one node only). */
  finishTerminating(node?: string): this {
    for (const [k, p] of this.podsByKey) if (p.terminating && (node === undefined || p.node === node)) this.podsByKey.delete(k);
    return this;
  }

  /** The next call of `op` fails with this error (default: HTTP 500); queued errors are used in order. */
  failNext(op: WorkloadOperation, error: WorkloadError = new WorkloadError(op, 500, 'injected failure')): this {
    this.failures.set(op, [...(this.failures.get(op) ?? []), error]);
    return this;
  }

  /** Every applied object, last apply of each wins. */
  applied(): Manifest[] {
    return [...this.appliedObjects.values()].map((m) => structuredClone(m));
  }

  appliedObject(apiVersion: string, kind: string, name: string, namespace?: string): Manifest | undefined {
    const m = this.appliedObjects.get(manifestKey({ apiVersion, kind }, name, namespace));
    return m && structuredClone(m);
  }

  private enter(op: WorkloadOperation): void {
    this.calls.push(op);
    if (this.unreachable) throw new WorkloadError(op, 0, 'connect ECONNREFUSED (fake unreachable)');
    const queued = this.failures.get(op);
    const e = queued?.shift();
    if (queued && !queued.length) this.failures.delete(op);
    if (e) throw e;
  }

  private mustNode(name: string, op: WorkloadOperation = 'listNodes'): WorkloadNode {
    const n = this.nodes.get(name);
    if (!n) throw new WorkloadError(op, 404, `nodes "${name}" not found`);
    return n;
  }

  private mustPod(namespace: string, name: string): FakePod {
    const p = this.podsByKey.get(key(namespace, name));
    if (!p) throw new Error(`fake workload cluster: no pod ${key(namespace, name)}`);
    return p;
  }

  async readyz(): Promise<{ ok: boolean; message?: string }> {
    try {
      this.enter('readyz');
    } catch (e) {
      return { ok: false, message: (e as Error).message };
    }
    return { ...this.readyzAnswer };
  }

  async apply(objects: Manifest[]): Promise<void> {
    this.enter('apply');
    objects.forEach(manifestPath); // the adapter's kind table: unknown kinds fail before anything is applied
    for (const o of objects) this.appliedObjects.set(manifestKey(o, o.metadata.name, o.metadata.namespace), structuredClone(o));
  }

  async listNodes(): Promise<WorkloadNode[]> {
    this.enter('listNodes');
    return [...this.nodes.values()].map((n) => ({ ...n }));
  }

  async cordon(name: string, now: Date): Promise<Date> {
    this.enter('cordon');
    const n = this.mustNode(name, 'cordon');
    const at = n.drainStartedAt ?? now;
    this.nodes.set(name, { ...n, unschedulable: true, drainStartedAt: at });
    return at;
  }

  async evictPods(name: string): Promise<EvictionResult> {
    this.enter('evictPods');
    const drained = () => this.pods(name).filter((p) => !p.mirror && !p.daemonSet && p.phase !== 'Succeeded' && p.phase !== 'Failed');
    const blocked: string[] = [];
    for (const p of drained()) {
      if (p.terminating) continue;
      if (p.blocked) blocked.push(key(p.namespace, p.name));
      else if (p.graceful) this.mustPod(p.namespace, p.name).terminating = true;
      else this.podsByKey.delete(key(p.namespace, p.name));
    }
    return { remaining: drained().map((p) => key(p.namespace, p.name)).sort(), blocked: blocked.sort() };
  }

  /** Bootstrap tokens by id, as createBootstrapToken stored them. */
  readonly tokens = new Map<string, BootstrapTokenSpec>();
  /** CertificateSigningRequests by name; approved ones are listed in `approved`. */
  readonly certificateRequests = new Map<string, CertificateRequest>();
  readonly approved: string[] = [];

  async createBootstrapToken(t: BootstrapTokenSpec): Promise<void> {
    this.enter('createBootstrapToken');
    if (!this.tokens.has(t.id)) this.tokens.set(t.id, { ...t });
  }

  async deleteBootstrapTokens(machine: string): Promise<void> {
    this.enter('deleteBootstrapTokens');
    for (const [id, t] of this.tokens) if (t.machine === machine) this.tokens.delete(id);
  }

  async listCertificateRequests(): Promise<CertificateRequest[]> {
    this.enter('listCertificateRequests');
    return [...this.certificateRequests.values()].map((c) => ({ ...c }));
  }

  async approveCertificateRequest(name: string): Promise<void> {
    this.enter('approveCertificateRequest');
    const c = this.certificateRequests.get(name);
    if (!c) throw new WorkloadError('approveCertificateRequest', 404, `certificatesigningrequests "${name}" not found`);
    if (!c.decided) this.approved.push(name);
    c.decided = true;
  }

  /** Secrets in the cluster, for reencryptSecrets' count. */
  secretCount = 3;

  async reencryptSecrets(): Promise<number> {
    this.enter('reencryptSecrets');
    return this.secretCount;
  }

  async deleteNode(name: string): Promise<void> {
    this.enter('deleteNode');
    // Like the real API: the Node goes, its pods stay until garbage-collected.
    this.nodes.delete(name);
  }
}

/** One FakeWorkloadCluster per serverName; records every target it was asked to connect to. */
export class FakeWorkloadConnector implements WorkloadConnector {
  readonly targets: WorkloadTarget[] = [];
  private readonly clusters = new Map<string, FakeWorkloadCluster>();

  /** The fake behind serverName, created on first use (tests prepare it before controllers connect). */
  cluster(serverName: string): FakeWorkloadCluster {
    let c = this.clusters.get(serverName);
    if (!c) this.clusters.set(serverName, (c = new FakeWorkloadCluster()));
    return c;
  }

  connect(target: WorkloadTarget): FakeWorkloadCluster {
    this.targets.push({ ...target });
    return this.cluster(target.serverName);
  }
}
