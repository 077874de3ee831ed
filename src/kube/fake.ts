// In-memory KubeClient for unit tests, modelling the API-server behaviour controllers rely on:
// resourceVersion on every write, generation bumped on spec changes only, the status subresource (status
// writes touch only status, other writes never touch it), 409 on stale resourceVersion, 409 on create of
// an existing name, finalizers holding deletion (deletionTimestamp set), and watch events.
import { randomUUID } from 'node:crypto';
import type {
  KubeClient,
  KObject,
  Resource,
  ObjectKey,
  ListOptions,
  ListResult,
  PatchOptions,
  ApplyOptions,
  DeleteOptions,
  ListWatchSource,
} from './port.ts';
import { apiVersionOf } from './port.ts';
import { KubeError } from './errors.ts';
import { canonical } from '../api/canonical.ts';

type Verb = 'add' | 'update' | 'delete';
type Listener = (verb: Verb, obj: KObject) => void;

const resKey = (r: Resource) => `${r.group}/${r.plural}`;
const objKey = (k: ObjectKey) => `${k.namespace ?? ''}/${k.name}`;
const clone = <T>(v: T): T => structuredClone(v);

/** A label selector: equality (a=b, a==b), inequality (a!=b), existence (a, !a). Enough for controllers. */
export function matchesSelector(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  if (!selector) return true;
  const l = labels ?? {};
  return selector.split(',').every((term) => {
    const t = term.trim();
    let m: RegExpMatchArray | null;
    if ((m = t.match(/^([^!=]+)!=(.*)$/))) return l[m[1]!.trim()] !== m[2]!.trim();
    if ((m = t.match(/^([^!=]+)==?(.*)$/))) return l[m[1]!.trim()] === m[2]!.trim();
    if (t.startsWith('!')) return !(t.slice(1) in l);
    return t in l;
  });
}

/** RFC 7386 JSON merge patch. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return clone(patch);
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

const specOf = (o: KObject) => {
  const { metadata: _m, status: _s, ...rest } = o;
  return JSON.stringify(rest);
};

export interface FakeCall {
  verb: string;
  resource: string;
  key?: string;
}

export class FakeKube implements KubeClient {
  private readonly stores = new Map<string, Map<string, KObject>>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private rv = 0;
  readonly calls: FakeCall[] = [];
  /** Make the next calls fail: (verb, resource) → error to throw, or undefined to proceed. */
  failNext?: (verb: string, r: Resource) => Error | undefined;

  constructor(private readonly now: () => Date = () => new Date()) {}

  private store(r: Resource) {
    let s = this.stores.get(resKey(r));
    if (!s) this.stores.set(resKey(r), (s = new Map()));
    return s;
  }

  private record(verb: string, r: Resource, key?: ObjectKey) {
    this.calls.push({ verb, resource: r.plural, key: key && objKey(key) });
    const err = this.failNext?.(verb, r);
    if (err) throw err;
  }

  private emit(r: Resource, verb: Verb, obj: KObject) {
    for (const l of this.listeners.get(resKey(r)) ?? []) l(verb, clone(obj));
  }

  private notFound(r: Resource, key: ObjectKey): KubeError {
    return new KubeError('NotFound', 404, `${r.plural} "${key.name}" not found`);
  }

  private mustGet(r: Resource, key: ObjectKey): KObject {
    const o = this.store(r).get(objKey(key));
    if (!o) throw this.notFound(r, key);
    return o;
  }

  private checkVersion(r: Resource, current: KObject, resourceVersion: string | undefined) {
    if (resourceVersion !== undefined && resourceVersion !== current.metadata.resourceVersion) {
      throw new KubeError(
        'Conflict',
        409,
        `Operation cannot be fulfilled on ${r.plural} "${current.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
  }

  /** Stores next as the new state of an existing object, finishing deletion when finalizers are gone. */
  private commit(r: Resource, prev: KObject, next: KObject): KObject {
    if (r.statusSubresource && specOf(prev) !== specOf(next)) next.metadata.generation = (prev.metadata.generation ?? 1) + 1;
    // A write that changes nothing (whatever the key order) keeps the resourceVersion and sends no event,
    // as on a real server.
    if (canonical(prev) === canonical({ ...next, metadata: { ...next.metadata, resourceVersion: prev.metadata.resourceVersion } })) {
      return clone(prev);
    }
    next.metadata.resourceVersion = String(++this.rv);
    const key = objKey(next.metadata);
    if (next.metadata.deletionTimestamp && !(next.metadata.finalizers ?? []).length) {
      this.store(r).delete(key);
      this.emit(r, 'delete', next);
    } else {
      this.store(r).set(key, next);
      this.emit(r, 'update', next);
    }
    return clone(next);
  }

  async get<T extends KObject>(r: Resource, key: ObjectKey): Promise<T> {
    this.record('get', r, key);
    return clone(this.mustGet(r, key)) as T;
  }

  async tryGet<T extends KObject>(r: Resource, key: ObjectKey): Promise<T | undefined> {
    this.record('get', r, key);
    const o = this.store(r).get(objKey(key));
    return o ? (clone(o) as T) : undefined;
  }

  async list<T extends KObject>(r: Resource, opts: ListOptions = {}): Promise<ListResult<T>> {
    this.record('list', r);
    const items = [...this.store(r).values()]
      .filter((o) => (!opts.namespace || o.metadata.namespace === opts.namespace) && matchesSelector(o.metadata.labels, opts.labelSelector))
      .map((o) => clone(o) as T);
    return { items, resourceVersion: String(this.rv) };
  }

  async create<T extends KObject>(r: Resource, obj: T): Promise<T> {
    this.record('create', r, obj.metadata);
    const key = objKey(obj.metadata);
    if (obj.metadata.resourceVersion) throw new KubeError('Other', 500, 'resourceVersion should not be set on objects to be created'); // a 500, as kube-apiserver answers
    if (this.store(r).has(key)) throw new KubeError('Conflict', 409, `${r.plural} "${obj.metadata.name}" already exists`);
    const { status: _ignored, ...rest } = clone(obj) as KObject;
    const created: KObject = {
      ...(r.statusSubresource ? rest : clone(obj)),
      apiVersion: apiVersionOf(r),
      kind: r.kind,
      metadata: {
        ...clone(obj.metadata),
        uid: randomUUID(),
        resourceVersion: String(++this.rv),
        creationTimestamp: this.now().toISOString().replace(/\.\d{3}Z$/, 'Z'),
        ...(r.statusSubresource ? { generation: 1 } : {}),
      },
    };
    delete created.metadata.deletionTimestamp;
    this.store(r).set(key, created);
    this.emit(r, 'add', created);
    return clone(created) as T;
  }

  async replace<T extends KObject>(r: Resource, obj: T): Promise<T> {
    this.record('replace', r, obj.metadata);
    const prev = this.mustGet(r, obj.metadata);
    this.checkVersion(r, prev, obj.metadata.resourceVersion);
    const next = clone(obj) as KObject;
    next.metadata = { ...next.metadata, uid: prev.metadata.uid, creationTimestamp: prev.metadata.creationTimestamp, generation: prev.metadata.generation };
    if (prev.metadata.deletionTimestamp) next.metadata.deletionTimestamp = prev.metadata.deletionTimestamp;
    if (r.statusSubresource) next.status = prev.status;
    return this.commit(r, prev, next) as T;
  }

  async mergePatch<T extends KObject>(r: Resource, key: ObjectKey, patch: object, opts: PatchOptions = {}): Promise<T> {
    this.record(opts.status ? 'patchStatus' : 'patch', r, key);
    const prev = this.mustGet(r, key);
    this.checkVersion(r, prev, opts.resourceVersion);
    const patched = applyMergePatch(prev, patch) as KObject;
    let next: KObject;
    if (opts.status && r.statusSubresource) {
      next = { ...clone(prev), status: patched.status };
    } else {
      next = patched;
      // Immutable or server-owned metadata cannot be changed by a patch.
      next.metadata = { ...next.metadata, name: prev.metadata.name, namespace: prev.metadata.namespace, uid: prev.metadata.uid, generation: prev.metadata.generation, creationTimestamp: prev.metadata.creationTimestamp, deletionTimestamp: prev.metadata.deletionTimestamp };
      if (!next.metadata.deletionTimestamp) delete next.metadata.deletionTimestamp;
      if (r.statusSubresource) next.status = prev.status;
      if (next.status === undefined) delete next.status;
    }
    return this.commit(r, prev, next) as T;
  }

  /** Server-side apply by one field manager that owns the whole status: the applied status replaces it. */
  async applyStatus<T extends KObject>(r: Resource, key: ObjectKey, status: object, _opts: ApplyOptions): Promise<T> {
    this.record('applyStatus', r, key);
    const prev = this.mustGet(r, key);
    return this.commit(r, prev, { ...clone(prev), status: clone(status) }) as T;
  }

  async delete(r: Resource, key: ObjectKey, opts: DeleteOptions = {}): Promise<void> {
    this.record('delete', r, key);
    const prev = this.store(r).get(objKey(key));
    if (!prev) return;
    if (opts.uid && opts.uid !== prev.metadata.uid) {
      throw new KubeError('Conflict', 409, `Precondition failed: UID in precondition: ${opts.uid}, UID in object meta: ${prev.metadata.uid}`);
    }
    if ((prev.metadata.finalizers ?? []).length) {
      if (prev.metadata.deletionTimestamp) return;
      const next = clone(prev);
      next.metadata.deletionTimestamp = this.now().toISOString().replace(/\.\d{3}Z$/, 'Z');
      this.commit(r, prev, next);
      return;
    }
    this.store(r).delete(objKey(key));
    this.emit(r, 'delete', prev);
  }

  async addFinalizer<T extends KObject>(r: Resource, obj: T, finalizer: string): Promise<T> {
    const current = obj.metadata.finalizers ?? [];
    if (current.includes(finalizer)) return obj;
    return this.mergePatch<T>(r, obj.metadata, { metadata: { finalizers: [...current, finalizer] } }, { resourceVersion: obj.metadata.resourceVersion });
  }

  async removeFinalizer<T extends KObject>(r: Resource, obj: T, finalizer: string): Promise<T | undefined> {
    const current = obj.metadata.finalizers ?? [];
    if (!current.includes(finalizer)) return obj;
    if (!this.store(r).has(objKey(obj.metadata))) return undefined;
    const out = await this.mergePatch<T>(r, obj.metadata, { metadata: { finalizers: current.filter((f) => f !== finalizer) } }, { resourceVersion: obj.metadata.resourceVersion });
    return this.store(r).has(objKey(obj.metadata)) ? out : undefined;
  }

  private readonly sources = new Set<FakeListWatch<KObject>>();

  listWatch<T extends KObject>(r: Resource, opts: ListOptions = {}): ListWatchSource<T> {
    const source = new FakeListWatch<T>(this, r, opts);
    this.sources.add(source as unknown as FakeListWatch<KObject>);
    return source;
  }

  /** Subscribes to changes of one resource (used by FakeListWatch). */
  subscribe(r: Resource, l: Listener): () => void {
    let set = this.listeners.get(resKey(r));
    if (!set) this.listeners.set(resKey(r), (set = new Set()));
    set.add(l);
    return () => set.delete(l);
  }

  /** Breaks every running watch with err, as a dropped connection or a server restart would. */
  breakWatches(err: unknown = new Error('connection reset')): void {
    for (const s of this.sources) s.fail(err);
  }
}

class FakeListWatch<T extends KObject> implements ListWatchSource<T> {
  private readonly cache = new Map<string, T>();
  private readonly cbs: Record<string, ((x: never) => void)[]> = { add: [], update: [], delete: [], error: [], connect: [] };
  private unsubscribe?: () => void;
  private markListed!: () => void;
  private readonly listedPromise = new Promise<void>((r) => (this.markListed = r));

  constructor(
    private readonly kube: FakeKube,
    private readonly r: Resource,
    private readonly opts: ListOptions,
  ) {}

  on(verb: string, cb: (x: never) => void): void {
    this.cbs[verb]!.push(cb);
  }

  private fire(verb: string, arg: unknown) {
    for (const cb of this.cbs[verb]!) (cb as (x: unknown) => void)(arg);
  }

  async start(): Promise<void> {
    this.fire('connect', undefined);
    const { items } = await this.kube.list<T>(this.r, this.opts);
    const seen = new Set(items.map((i) => objKey(i.metadata)));
    for (const [k, old] of this.cache) {
      if (seen.has(k)) continue;
      this.cache.delete(k);
      this.fire('delete', old);
    }
    for (const item of items) this.upsert(item);
    this.unsubscribe?.();
    this.unsubscribe = this.kube.subscribe(this.r, (verb, obj) => {
      if (this.opts.namespace && obj.metadata.namespace !== this.opts.namespace) return;
      if (!matchesSelector(obj.metadata.labels, this.opts.labelSelector)) return;
      if (verb === 'delete') {
        if (this.cache.delete(objKey(obj.metadata))) this.fire('delete', obj);
      } else this.upsert(obj as T);
    });
    this.markListed();
  }

  private upsert(obj: T) {
    const k = objKey(obj.metadata);
    const old = this.cache.get(k);
    if (old?.metadata.resourceVersion === obj.metadata.resourceVersion) return;
    this.cache.set(k, obj);
    this.fire(old ? 'update' : 'add', obj);
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  fail(err: unknown) {
    if (!this.unsubscribe) return;
    void this.stop();
    this.fire('error', err);
  }

  list(namespace?: string): T[] {
    return [...this.cache.values()].filter((o) => !namespace || o.metadata.namespace === namespace);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.cache.get(objKey({ name, namespace }));
  }

  listed(): Promise<void> {
    return this.listedPromise;
  }
}
