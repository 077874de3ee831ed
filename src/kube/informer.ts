// Informers over a ListWatch source. client-node's ListWatch stops for good after any error other than
// 410 Gone; this one restarts it with backoff, so a restarted or unreachable API server only delays events.
import type { KObject, ListWatchSource } from './port.ts';
import { keyOf } from './port.ts';

export type InformerEventType = 'add' | 'update' | 'delete' | 'resync';

export interface InformerEvent<T> {
  type: InformerEventType;
  object: T;
  /**
   * Whether the change matters to the object's own controller: add/delete, or an update that changed
   * generation (spec), deletionTimestamp, finalizers, labels or annotations. A status-only write (our own)
   * is not significant, so it does not wake us again.
   */
  significant: boolean;
}

export interface InformerLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface InformerOptions {
  name: string;
  /** Re-deliver every cached object this often (level-based safety net); 0 disables. */
  resyncMs?: number;
  restartBackoff?: { initialMs: number; maxMs: number };
  log?: InformerLogger;
}

/** The fields whose change wakes an object's own controller. */
export function significantFingerprint(o: KObject): string {
  const m = o.metadata;
  return JSON.stringify([m.generation, m.deletionTimestamp ?? null, m.finalizers ?? [], m.labels ?? {}, m.annotations ?? {}]);
}

export class Informer<T extends KObject> {
  private readonly handlers: ((e: InformerEvent<T>) => void)[] = [];
  private readonly fingerprints = new Map<string, string>();
  private synced = false;
  private stopped = true;
  private failures = 0;
  private lastStart = 0;
  private restartTimer?: NodeJS.Timeout;
  private resyncTimer?: NodeJS.Timeout;
  restarts = 0;

  constructor(
    private readonly source: ListWatchSource<T>,
    private readonly opts: InformerOptions,
  ) {
    source.on('add', (o) => this.deliver('add', o));
    source.on('update', (o) => this.deliver('update', o));
    source.on('delete', (o) => this.deliver('delete', o));
    source.on('error', (err) => this.onError(err));
  }

  private deliver(type: 'add' | 'update' | 'delete', object: T) {
    const key = keyOf(object);
    let significant = true;
    if (type === 'delete') {
      this.fingerprints.delete(key);
    } else {
      const fp = significantFingerprint(object);
      significant = type === 'add' || this.fingerprints.get(key) !== fp;
      this.fingerprints.set(key, fp);
    }
    this.emit({ type, object, significant });
  }

  private emit(e: InformerEvent<T>) {
    for (const h of this.handlers) {
      try {
        h(e);
      } catch (err) {
        // A handler bug must not kill the watch; handlers only enqueue keys, so this is a programming error.
        this.opts.log?.warn({ informer: this.opts.name, err }, 'informer handler threw');
      }
    }
  }

  private onError(err: unknown) {
    if (this.stopped) return;
    const { initialMs, maxMs } = this.opts.restartBackoff ?? { initialMs: 1000, maxMs: 30_000 };
    // A watch that ran for longer than the longest backoff was healthy: start counting afresh.
    if (Date.now() - this.lastStart > maxMs) this.failures = 0;
    const wait = Math.min(maxMs, initialMs * 2 ** this.failures++);
    this.opts.log?.warn({ informer: this.opts.name, err: errText(err), retryInMs: wait }, 'watch failed; restarting');
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => void this.run(), wait);
    this.restartTimer.unref?.();
  }

  private async run() {
    if (this.stopped) return;
    this.lastStart = Date.now();
    this.restarts++;
    try {
      await this.source.start();
    } catch (err) {
      this.onError(err);
    }
  }

  /** Adds a handler. Handlers must be quick and must not throw (they enqueue keys). */
  on(handler: (e: InformerEvent<T>) => void): void {
    this.handlers.push(handler);
  }

  /** Starts listing and watching; resolves when the cache holds the first full list. */
  async start(): Promise<void> {
    this.stopped = false;
    this.lastStart = Date.now();
    this.source.start().catch((err) => this.onError(err));
    await this.source.listed();
    this.synced = true;
    this.opts.log?.info({ informer: this.opts.name, objects: this.source.list().length }, 'informer synced');
    if (this.opts.resyncMs) {
      this.resyncTimer = setInterval(() => this.resync(), this.opts.resyncMs);
      this.resyncTimer.unref?.();
    }
  }

  /** Re-delivers every cached object as a significant 'resync' event. */
  resync(): void {
    for (const object of this.source.list()) this.emit({ type: 'resync', object, significant: true });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.resyncTimer);
    await this.source.stop();
  }

  hasSynced(): boolean {
    return this.synced;
  }

  get(key: string): T | undefined {
    const i = key.indexOf('/');
    return i < 0 ? this.source.get(key) : this.source.get(key.slice(i + 1), key.slice(0, i));
  }

  list(namespace?: string): T[] {
    return this.source.list(namespace);
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Enqueue an object's own key on significant changes (add, delete, spec/metadata updates, resync). */
export function enqueueOwn<T extends KObject>(enqueue: (key: string) => void) {
  return (e: InformerEvent<T>) => {
    if (e.significant) enqueue(keyOf(e.object));
  };
}

/**
 * What a dependant can act on: the dependency's spec, deletion and status, without the times in its
 * status (every probe moves a machine's lastProbeTime; a dependant never waits for one).
 */
export function dependencyFingerprint(o: KObject & { status?: unknown }): string {
  const timeless = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(timeless) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([k]) => !/Time$/.test(k)).map(([k, x]) => [k, timeless(x)])) : v;
  return JSON.stringify([o.metadata.generation, o.metadata.deletionTimestamp ?? null, timeless(o.status ?? null)]);
}

/**
 * Enqueue the objects that refer to a changed object when something they can act on changed, status
 * included (a ControlPlane waits for its EtcdCluster's Ready status, a WorkerPool for its ControlPlane's),
 * but not on a probe's timestamp alone: with every probe waking every dependant, a Ready cluster cost
 * dependants' passes (and cloud calls) in proportion to its probes.
 */
export function enqueueReferencing<S extends KObject>(map: (changed: S) => string[], enqueue: (key: string) => void) {
  const seen = new Map<string, string>();
  return (e: InformerEvent<S>) => {
    if (e.type === 'resync') return; // the referencing objects have their own resync
    const key = keyOf(e.object);
    const fingerprint = dependencyFingerprint(e.object);
    if (e.type === 'delete') seen.delete(key);
    else if (seen.get(key) === fingerprint) return;
    else seen.set(key, fingerprint);
    for (const k of map(e.object)) enqueue(k);
  };
}

/** A map function for enqueueReferencing: the objects in an informer whose ref field names the changed one. */
export function referencedBy<T extends KObject>(informer: Informer<T>, refName: (o: T) => string | undefined) {
  return (changed: KObject): string[] =>
    informer
      .list(changed.metadata.namespace)
      .filter((o) => refName(o) === changed.metadata.name)
      .map((o) => keyOf(o));
}
