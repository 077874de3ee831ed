// Prometheus metrics on a registry of our own (not prom-client's global one: tests and two operators in
// one process must not share counters).
import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import type { QueueObserver } from './queue.ts';

export class Metrics {
  readonly registry = new Registry();

  readonly reconcileTotal = new Counter({
    name: 'hardway_reconcile_total',
    help: 'Reconciles by kind and result (success, requeue, error, terminal).',
    labelNames: ['kind', 'result'] as const,
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: 'hardway_reconcile_errors_total',
    help: 'Reconciles that failed (retried with backoff, or terminal), by kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'hardway_reconcile_duration_seconds',
    help: 'Time spent in one reconcile, by kind.',
    labelNames: ['kind'] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'hardway_workqueue_depth',
    help: 'Keys waiting in the work queue, by queue.',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });
  readonly queueLatency = new Histogram({
    name: 'hardway_workqueue_queue_duration_seconds',
    help: 'How long a key waited in the queue before a worker took it.',
    labelNames: ['queue'] as const,
    buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 60],
    registers: [this.registry],
  });
  readonly queueRetries = new Counter({
    name: 'hardway_workqueue_retries_total',
    help: 'Rate-limited re-adds (retries after errors), by queue.',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });
  readonly cloudRequests = new Counter({
    name: 'hardway_cloud_api_requests_total',
    help: 'Cloud API calls by provider, operation and HTTP status.',
    labelNames: ['provider', 'operation', 'status'] as const,
    registers: [this.registry],
  });
  readonly cloudRateLimitRemaining = new Gauge({
    name: 'hardway_cloud_ratelimit_remaining',
    help: 'Requests left in the current rate-limit window per token: the provider’s last figure less what was sent since. token is the first 12 hex digits of sha256(provider NUL token).',
    labelNames: ['provider', 'token'] as const,
    registers: [this.registry],
  });
  readonly kubeRequests = new Counter({
    name: 'hardway_kube_api_requests_total',
    help: 'Kubernetes API calls by method and HTTP status (0: no response).',
    labelNames: ['method', 'status'] as const,
    registers: [this.registry],
  });
  readonly probes = new Counter({
    name: 'hardway_health_probes_total',
    help: 'Health probes of cluster nodes by component and result (healthy, unhealthy, failed).',
    labelNames: ['component', 'result'] as const,
    registers: [this.registry],
  });
  readonly probeDuration = new Histogram({
    name: 'hardway_health_probe_duration_seconds',
    help: 'Time one health probe took, by component.',
    labelNames: ['component'] as const,
    buckets: [0.005, 0.02, 0.1, 0.5, 1, 3, 10],
    registers: [this.registry],
  });
  readonly backupOperations = new Counter({
    name: 'hardway_etcd_backup_operations_total',
    help: 'etcd snapshot operations by operation (snapshot, prune, restore-check) and result (success, failure).',
    labelNames: ['operation', 'result'] as const,
    registers: [this.registry],
  });
  readonly backupDuration = new Histogram({
    name: 'hardway_etcd_backup_duration_seconds',
    help: 'Time one snapshot operation took, from the first byte read from etcd to the manifest written.',
    labelNames: ['operation'] as const,
    buckets: [0.5, 2, 10, 30, 120, 600, 1800],
    registers: [this.registry],
  });
  readonly backupBytes = new Gauge({
    name: 'hardway_etcd_backup_last_size_bytes',
    help: 'Size of the newest snapshot taken, by EtcdCluster (namespace/name).',
    labelNames: ['cluster'] as const,
    registers: [this.registry],
  });
  readonly backupLastSuccess = new Gauge({
    name: 'hardway_etcd_backup_last_success_timestamp_seconds',
    help: 'When the newest snapshot was taken (Unix time), by EtcdCluster (namespace/name).',
    labelNames: ['cluster'] as const,
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'hardway_leader',
    help: '1 while this process holds the leader lease.',
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'hardway_' });
  }

  queueObserver(queue: string): QueueObserver {
    return {
      depth: (n) => this.queueDepth.set({ queue }, n),
      latency: (s) => this.queueLatency.observe({ queue }, s),
      retry: () => this.queueRetries.inc({ queue }),
    };
  }

  observeProbe(component: string, result: 'healthy' | 'unhealthy' | 'failed', seconds: number): void {
    this.probes.inc({ component, result });
    this.probeDuration.observe({ component }, seconds);
  }

  observeBackup(operation: 'snapshot' | 'prune' | 'restore-check', ok: boolean, seconds: number, cluster?: string, size?: number, at?: Date): void {
    this.backupOperations.inc({ operation, result: ok ? 'success' : 'failure' });
    this.backupDuration.observe({ operation }, seconds);
    if (ok && cluster && size !== undefined) this.backupBytes.set({ cluster }, size);
    if (ok && cluster && at) this.backupLastSuccess.set({ cluster }, at.getTime() / 1000);
  }

  /** Records one cloud API call and, when the response said so, the remaining quota. */
  observeCloudCall(provider: string, operation: string, status: number, token: string, remaining?: number): void {
    this.cloudRequests.inc({ provider, operation, status: String(status) });
    if (remaining !== undefined && Number.isFinite(remaining)) this.cloudRateLimitRemaining.set({ provider, token }, remaining);
  }
}
