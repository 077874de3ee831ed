// Kubernetes Events on our objects, aggregated as the API server's clients do: a repeat of the same
// (object, type, reason, message) bumps count and lastTimestamp on the existing Event instead of creating
// another. Recording never throws and never blocks a reconcile for long.
import { randomBytes } from 'node:crypto';
import type { KubeClient, KObject } from '../kube/port.ts';
import { isNotFound } from '../kube/errors.ts';
import { Events } from '../kube/resources.ts';
import { realClock, type Clock } from './clock.ts';
import type { Logger } from './logger.ts';

export type EventType = 'Normal' | 'Warning';

interface Seen {
  name: string;
  count: number;
  firstTimestamp: string;
}

const MAX_MESSAGE = 1024;
const time = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export class EventRecorder {
  private readonly seen = new Map<string, Seen>();
  private readonly clock: Clock;

  constructor(
    private readonly kube: KubeClient,
    private readonly o: { component: string; host?: string; log: Logger; clock?: Clock; cacheSize?: number },
  ) {
    this.clock = o.clock ?? realClock;
  }

  async record(obj: KObject, type: EventType, reason: string, message: string): Promise<void> {
    const m = obj.metadata;
    const msg = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message;
    const cacheKey = JSON.stringify([m.uid, m.namespace, m.name, type, reason, msg]);
    const now = time(this.clock.now());
    const prev = this.seen.get(cacheKey);
    try {
      if (prev) {
        try {
          await this.kube.mergePatch(Events, { namespace: m.namespace, name: prev.name }, { count: prev.count + 1, lastTimestamp: now });
          prev.count++;
          this.touch(cacheKey, prev);
          return;
        } catch (err) {
          if (!isNotFound(err)) throw err; // expired (events have a TTL): start a new one
        }
      }
      // Like Kubernetes' <object>.<hex time>, plus randomness so two replicas or one millisecond never collide.
      const name = `${m.name}.${this.clock.now().toString(16)}${randomBytes(4).toString('hex')}`;
      await this.kube.create(Events, {
        metadata: { name, namespace: m.namespace ?? 'default' },
        involvedObject: { apiVersion: obj.apiVersion, kind: obj.kind, name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion },
        type,
        reason,
        message: msg,
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
        source: { component: this.o.component, ...(this.o.host ? { host: this.o.host } : {}) },
        reportingComponent: this.o.component,
        reportingInstance: this.o.host ?? this.o.component,
      } as KObject);
      this.touch(cacheKey, { name, count: 1, firstTimestamp: now });
    } catch (err) {
      this.o.log.warn({ err, reason, object: `${m.namespace}/${m.name}` }, 'could not record event');
    }
  }

  /** LRU bookkeeping: most recent last; the oldest entry goes when the cache is full. */
  private touch(key: string, value: Seen) {
    this.seen.delete(key);
    this.seen.set(key, value);
    if (this.seen.size > (this.o.cacheSize ?? 4096)) this.seen.delete(this.seen.keys().next().value!);
  }
}
