// The workload cluster as controllers see it: the Kubernetes API of a cluster this operator built, reached
// at a control-plane node's IP (never through DNS or the load balancer) while verifying the certificate
// against the endpoint's DNS name. Implemented over HTTPS (adapter.ts) and in memory (fake.ts).

/** Where and as whom to reach a workload API. */
export interface WorkloadTarget {
  /** IP address to connect to. */
  ip: string;
  port?: number;
  /** The name the API server's certificate must carry (SNI and identity check): the endpoint host. */
  serverName: string;
  /** Kubernetes CA (PEM). */
  ca: string;
  /** Admin client certificate and key (PEM). */
  cert: string;
  key: string;
}

/** A Node as the operator needs it. */
export interface WorkloadNode {
  name: string;
  /** The Node's Ready condition. */
  ready: 'True' | 'False' | 'Unknown';
  /** Reason and message of the Ready condition, for status messages. */
  message?: string;
  unschedulable: boolean;
  kubeletVersion?: string;
  /** When the operator started draining it (annotation hardway.dev/drain-started), if it did. */
  drainStartedAt?: Date;
}

/** Any Kubernetes object to apply (addons). */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [field: string]: unknown;
}

export interface EvictionResult {
  /** Pods still on the node that a drain must wait for (DaemonSet and mirror pods excluded). */
  remaining: string[];
  /** Pods whose eviction a PodDisruptionBudget refused this time (HTTP 429). */
  blocked: string[];
}

/** A CertificateSigningRequest as the operator reads it. */
export interface CertificateRequest {
  name: string;
  signerName: string;
  username: string;
  groups: string[];
  usages: string[];
  /** The PKCS#10 request, PEM. */
  request: string;
  /** Approved, Denied or Failed condition present; none: pending. */
  decided: boolean;
}

/** A bootstrap token to put into the cluster (src/pki/bootstrap-token.ts). */
export interface BootstrapTokenSpec {
  id: string;
  secret: string;
  expiresAt: Date;
  machine: string;
  groups: string[];
}

export interface WorkloadCluster {
  /** The API's /readyz: whether it answers at all, and why not. */
  readyz(): Promise<{ ok: boolean; message?: string }>;
  /** Server-side apply of every object (field manager "hardway", forced). Idempotent. */
  apply(objects: Manifest[]): Promise<void>;
  listNodes(): Promise<WorkloadNode[]>;
  /** Marks the node unschedulable and records when draining began (kept if already set). Returns that time. */
  cordon(name: string, now: Date): Promise<Date>;
  /** Asks to evict every pod on the node that a drain moves (Eviction API: PodDisruptionBudgets apply). */
  evictPods(name: string): Promise<EvictionResult>;
  /**
   * Writes every Secret back unchanged, so that each is stored again with the encryption key that now
   * writes (the documented way to re-encrypt). Returns how many were rewritten.
   */
  reencryptSecrets(): Promise<number>;
  /** Creates the token's Secret in kube-system (kept if it exists). Idempotent. */
  createBootstrapToken(t: BootstrapTokenSpec): Promise<void>;
  /** Deletes every bootstrap token made for the machine; none is success. */
  deleteBootstrapTokens(machine: string): Promise<void>;
  /** Every CertificateSigningRequest. */
  listCertificateRequests(): Promise<CertificateRequest[]>;
  /** Adds the Approved condition (certificates.k8s.io/v1 approval subresource). */
  approveCertificateRequest(name: string, message: string): Promise<void>;
  /** Deletes the Node object; already gone is success. */
  deleteNode(name: string): Promise<void>;
}

export interface WorkloadConnector {
  connect(target: WorkloadTarget): WorkloadCluster;
}

/** Failure to reach or use a workload API: never carries credentials. */
export class WorkloadError extends Error {
  constructor(
    readonly operation: string,
    /** HTTP status; 0 when there was no answer. */
    readonly status: number,
    message: string,
  ) {
    super(`workload API ${operation}: ${message}`);
    this.name = 'WorkloadError';
  }
}
