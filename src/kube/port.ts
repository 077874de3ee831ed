// The Kubernetes port: what controllers and the runtime need from an API server, and nothing else.
// Implemented by adapter.ts (a real API server through @kubernetes/client-node) and fake.ts (in memory).

import type { ObjectMeta } from '../api/meta.ts';
export type Metadata = ObjectMeta;

/** Any Kubernetes object. Kind-specific fields are typed by the caller's T. */
export interface KObject {
  apiVersion?: string;
  kind?: string;
  metadata: Metadata;
  [field: string]: unknown;
}

/** A resource type: where it lives in the API. */
export interface Resource {
  group: string; // '' for the core group
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** Whether status is a subresource (status writes go to /status, spec writes leave status alone). */
  statusSubresource?: boolean;
}

export const apiVersionOf = (r: Resource) => (r.group ? `${r.group}/${r.version}` : r.version);

export interface ObjectKey {
  namespace?: string;
  name: string;
}

export const keyOf = (o: { metadata: { namespace?: string; name: string } }): string =>
  o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;

export function parseKey(key: string): ObjectKey {
  const i = key.indexOf('/');
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export interface ListOptions {
  namespace?: string;
  /** A label selector such as "app=x,tier!=db". */
  labelSelector?: string;
}

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

export interface PatchOptions {
  /** Optimistic concurrency: the write fails with ConflictError unless the object is still at this version. */
  resourceVersion?: string;
  /** Patch the status subresource instead of the main resource. */
  status?: boolean;
}

export interface ApplyOptions {
  fieldManager: string;
  /** Take ownership of fields another manager owns (controllers own their status). */
  force?: boolean;
}

export interface DeleteOptions {
  /** Only delete this exact incarnation (guards against deleting a re-created object). */
  uid?: string;
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
}

export interface KubeClient {
  get<T extends KObject>(r: Resource, key: ObjectKey): Promise<T>;
  /** get, but undefined instead of NotFoundError. */
  tryGet<T extends KObject>(r: Resource, key: ObjectKey): Promise<T | undefined>;
  list<T extends KObject>(r: Resource, opts?: ListOptions): Promise<ListResult<T>>;
  create<T extends KObject>(r: Resource, obj: T): Promise<T>;
  /** Full replacement (PUT); metadata.resourceVersion in obj makes it conditional. */
  replace<T extends KObject>(r: Resource, obj: T): Promise<T>;
  /** JSON merge patch (RFC 7386). */
  mergePatch<T extends KObject>(r: Resource, key: ObjectKey, patch: object, opts?: PatchOptions): Promise<T>;
  /** Server-side apply of the status subresource: obj holds apiVersion, kind, metadata.name and status. */
  applyStatus<T extends KObject>(r: Resource, key: ObjectKey, status: object, opts: ApplyOptions): Promise<T>;
  delete(r: Resource, key: ObjectKey, opts?: DeleteOptions): Promise<void>;
  /** Adds a finalizer if missing, conditionally on resourceVersion so concurrent edits are not lost. */
  addFinalizer<T extends KObject>(r: Resource, obj: T, finalizer: string): Promise<T>;
  /** Removes a finalizer if present; NotFound (already gone) is not an error. */
  removeFinalizer<T extends KObject>(r: Resource, obj: T, finalizer: string): Promise<T | undefined>;
  /** A ListWatch-shaped source for an informer. */
  listWatch<T extends KObject>(r: Resource, opts?: ListOptions): ListWatchSource<T>;
}

/** The part of client-node's ListWatch an informer uses; the fake provides the same shape. */
export interface ListWatchSource<T extends KObject> {
  on(verb: 'add' | 'update' | 'delete', cb: (obj: T) => void): void;
  on(verb: 'error', cb: (err: unknown) => void): void;
  on(verb: 'connect', cb: (err?: unknown) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  list(namespace?: string): T[];
  get(name: string, namespace?: string): T | undefined;
  /** Resolves once the first list has been loaded into the cache. */
  listed(): Promise<void>;
}
