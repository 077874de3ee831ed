// Runs a reconcile function for keys from a work queue: workers with bounded concurrency, results and
// errors turned into requeues, backoff or terminal failures. Nothing a reconcile throws escapes.
import { WorkQueue, type QueueOptions } from './queue.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

export interface ReconcileResult {
  /** Reconcile the key again after this long even if nothing changes (polling remote health, say). */
  requeueAfterMs?: number;
}

export interface ReconcileContext {
  /** A child logger bound to the object's key and kind. */
  log: Logger;
}

export type Reconcile = (key: string, ctx: ReconcileContext) => Promise<ReconcileResult | void>;

/** A failure retrying cannot fix (an invalid spec, say): no retry until the object changes. */
export class TerminalError extends Error {
  constructor(
    /** UpperCamelCase condition reason, e.g. InvalidSpec. */
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'TerminalError';
  }
}

export interface ControllerOptions {
  kind: string;
  reconcile: Reconcile;
  log: Logger;
  metrics?: Metrics;
  concurrency?: number;
  queue?: QueueOptions;
  /** Records a terminal error where users see it (a condition); its own failures are logged. */
  onTerminalError?: (key: string, err: TerminalError) => Promise<void>;
  /**
   * Each requeue waits up to this share longer (default 0): objects started together (a restart, a
   * resync) would otherwise keep making their periodic checks, and their cloud calls, in the same instant.
   */
  requeueJitter?: number;
  random?: () => number;
}

export class Controller {
  readonly queue: WorkQueue;
  private workers: Promise<void>[] = [];
  private running = false;

  constructor(private readonly opts: ControllerOptions) {
    this.queue = new WorkQueue({ ...opts.queue, observer: opts.queue?.observer ?? opts.metrics?.queueObserver(opts.kind) });
  }

  /** Enqueues a key; safe to call from any watch callback. */
  enqueue = (key: string): void => this.queue.add(key);

  start(): void {
    if (this.running) return;
    this.running = true;
    const n = this.opts.concurrency ?? 2;
    for (let i = 0; i < n; i++) this.workers.push(this.worker());
  }

  /** Stops taking keys and waits for reconciles in flight to finish. */
  async stop(): Promise<void> {
    this.queue.shutdown();
    await Promise.all(this.workers);
    this.workers = [];
    this.running = false;
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.process(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  /** One reconcile of one key, with every outcome mapped to the queue. Never throws. */
  async process(key: string): Promise<void> {
    const { kind, metrics } = this.opts;
    // Built on first use: most reconciles log nothing, and a pino child costs more than a no-op reconcile.
    let child: Logger | undefined;
    const ctx: ReconcileContext = {
      get log() {
        return (child ??= parent.child({ kind, key }));
      },
    };
    const parent = this.opts.log;
    const log = () => ctx.log;
    const started = process.hrtime.bigint();
    let result: ReconcileResult | void;
    try {
      result = await this.opts.reconcile(key, ctx);
    } catch (err) {
      metrics?.reconcileErrors.inc({ kind });
      if (err instanceof TerminalError) {
        metrics?.reconcileTotal.inc({ kind, result: 'terminal' });
        this.queue.forget(key);
        log().warn({ reason: err.reason, err: { message: err.message } }, 'reconcile failed terminally; waiting for a change to the object');
        await this.opts.onTerminalError?.(key, err).catch((e: unknown) => log().error({ err: e }, 'could not record terminal error'));
      } else {
        metrics?.reconcileTotal.inc({ kind, result: 'error' });
        const retries = this.queue.backoff.retries(key);
        const wait = this.queue.addRateLimited(key);
        log().error({ err, retries, retryInMs: wait }, 'reconcile failed; retrying with backoff');
      }
      return;
    } finally {
      metrics?.reconcileDuration.observe({ kind }, Number(process.hrtime.bigint() - started) / 1e9);
    }
    this.queue.forget(key);
    if (result?.requeueAfterMs !== undefined) {
      metrics?.reconcileTotal.inc({ kind, result: 'requeue' });
      const jitter = this.opts.requeueJitter ? result.requeueAfterMs * this.opts.requeueJitter * (this.opts.random ?? Math.random)() : 0;
      this.queue.addAfter(key, Math.round(result.requeueAfterMs + jitter));
    } else {
      metrics?.reconcileTotal.inc({ kind, result: 'success' });
    }
  }
}
