// The KubeClient port over a real API server. @kubernetes/client-node supplies configuration loading
// (kubeconfig, in-cluster, exec/OIDC auth) and the watch/ListWatch machinery; requests are plain HTTPS
// through one keep-alive agent, because client-node 1.x builds a new agent (no connection reuse) per call.
import { KubeConfig, ListWatch, Watch } from '@kubernetes/client-node';
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
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
import { errorFromResponse, isNotFound, KubeError } from './errors.ts';
import { resourcePath } from './resources.ts';

export interface KubeConfigSource {
  /** Path of a kubeconfig file; otherwise $KUBECONFIG, ~/.kube/config, then in-cluster. */
  kubeconfig?: string;
  context?: string;
}

export function loadKubeConfig(src: KubeConfigSource = {}): KubeConfig {
  const kc = new KubeConfig();
  if (src.kubeconfig) kc.loadFromFile(src.kubeconfig);
  else kc.loadFromDefault();
  if (src.context) kc.setCurrentContext(src.context);
  if (!kc.getCurrentCluster()) throw new Error('no Kubernetes cluster configured: set --kubeconfig or KUBECONFIG, or run in a cluster');
  return kc;
}

/** Observes every API call (for metrics); never throws. */
export type RequestObserver = (method: string, resource: string, statusCode: number, seconds: number) => void;

const CONTENT_TYPES = {
  json: 'application/json',
  merge: 'application/merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

export class ClientNodeKube implements KubeClient {
  private agent?: Agent;
  private readonly server: URL;

  constructor(
    private readonly kc: KubeConfig,
    private readonly opts: { timeoutMs?: number; observe?: RequestObserver; userAgent?: string } = {},
  ) {
    this.server = new URL(kc.getCurrentCluster()!.server);
  }

  /** Connection and auth options; auth is re-read every call so rotated tokens (in-cluster, exec) apply. */
  private async requestOptions(): Promise<RequestOptions> {
    const o: RequestOptions = {};
    await this.kc.applyToHTTPSOptions(o);
    this.agent ??= new Agent({
      keepAlive: true,
      ca: o.ca,
      cert: o.cert,
      key: o.key,
      ...(o.rejectUnauthorized !== undefined ? { rejectUnauthorized: o.rejectUnauthorized } : {}),
      ...(o.servername ? { servername: o.servername } : {}),
    });
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.opts.userAgent ?? 'hardway-operator' };
    for (const [k, v] of Object.entries(o.headers ?? {})) if (typeof v === 'string') headers[k.toLowerCase()] = v;
    if (o.auth) headers.authorization = `Basic ${Buffer.from(o.auth).toString('base64')}`;
    return { agent: this.server.protocol === 'https:' ? this.agent : undefined, headers };
  }

  private async call<T>(method: string, path: string, query: Record<string, string | undefined>, body?: unknown, contentType: keyof typeof CONTENT_TYPES = 'json'): Promise<T> {
    const url = new URL(this.server.toString().replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
    const base = await this.requestOptions();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = { ...(base.headers as Record<string, string>) };
    if (payload !== undefined) {
      headers['content-type'] = CONTENT_TYPES[contentType];
      // Explicit, because Node sends a DELETE body with neither length nor chunking: on a keep-alive
      // connection the server then reads that body as the start of the next request (400 Bad Request).
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const started = process.hrtime.bigint();
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const { statusCode, text } = await new Promise<{ statusCode: number; text: string }>((resolve, reject) => {
      const req = send(url, { ...base, method, headers, timeout: this.opts.timeoutMs ?? 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    }).catch((err: Error) => {
      this.opts.observe?.(method, path, 0, Number(process.hrtime.bigint() - started) / 1e9);
      throw new KubeError('Other', 0, `${method} ${url.pathname}: ${err.message}`);
    });
    this.opts.observe?.(method, path, statusCode, Number(process.hrtime.bigint() - started) / 1e9);
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (a proxy's error page): keep the text for the message
    }
    if (statusCode < 200 || statusCode > 299) throw errorFromResponse(statusCode, parsed, `${method} ${url.pathname}`);
    return parsed as T;
  }

  async get<T extends KObject>(r: Resource, key: ObjectKey): Promise<T> {
    return this.call<T>('GET', resourcePath(r, key.namespace, key.name), {});
  }

  async tryGet<T extends KObject>(r: Resource, key: ObjectKey): Promise<T | undefined> {
    try {
      return await this.get<T>(r, key);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list<T extends KObject>(r: Resource, opts: ListOptions = {}): Promise<ListResult<T>> {
    const res = await this.call<{ items: T[]; metadata: { resourceVersion: string } }>('GET', resourcePath(r, opts.namespace), {
      labelSelector: opts.labelSelector,
    });
    // Items in a list carry no apiVersion/kind; fill them so callers can treat them like single gets.
    const items = res.items.map((i) => ({ apiVersion: apiVersionOf(r), kind: r.kind, ...i }));
    return { items, resourceVersion: res.metadata.resourceVersion };
  }

  async create<T extends KObject>(r: Resource, obj: T): Promise<T> {
    return this.call<T>('POST', resourcePath(r, obj.metadata.namespace), {}, { apiVersion: apiVersionOf(r), kind: r.kind, ...obj });
  }

  async replace<T extends KObject>(r: Resource, obj: T): Promise<T> {
    return this.call<T>('PUT', resourcePath(r, obj.metadata.namespace, obj.metadata.name), {}, { apiVersion: apiVersionOf(r), kind: r.kind, ...obj });
  }

  async mergePatch<T extends KObject>(r: Resource, key: ObjectKey, patch: object, opts: PatchOptions = {}): Promise<T> {
    const body = opts.resourceVersion ? withResourceVersion(patch, opts.resourceVersion) : patch;
    return this.call<T>('PATCH', resourcePath(r, key.namespace, key.name, opts.status ? 'status' : undefined), {}, body, 'merge');
  }

  async applyStatus<T extends KObject>(r: Resource, key: ObjectKey, status: object, opts: ApplyOptions): Promise<T> {
    // Empty strings are left out: server-side apply on Kubernetes 1.20 turns "" into null and then rejects
    // the object as invalid ("must be of type string").
    const body = { apiVersion: apiVersionOf(r), kind: r.kind, metadata: { name: key.name, namespace: key.namespace }, status: withoutEmpty(status) };
    const where = resourcePath(r, key.namespace, key.name, r.statusSubresource ? 'status' : undefined);
    const apply = () => this.call<T>('PATCH', where, { fieldManager: opts.fieldManager, force: opts.force ? 'true' : undefined }, body, 'apply');
    try {
      return await apply();
    } catch (e) {
      // Server-side apply on 1.20 (the API server the tests run): when an apply drops every entry of a
      // list of listType=map this manager owned (an EtcdCluster's status.members once all droplets are
      // gone), the merged object holds null there, which validation refuses. The list is removed by a
      // merge patch, then the apply goes through.
      const list = /status\.(\w+): Invalid value: "null": status\.\1 in body must be of type array/.exec((e as Error).message)?.[1];
      if (!list || list in (body.status as object)) throw e;
      await this.call('PATCH', where, {}, { status: { [list]: null } }, 'merge');
      return apply();
    }
  }

  async delete(r: Resource, key: ObjectKey, opts: DeleteOptions = {}): Promise<void> {
    const body = {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      ...(opts.uid ? { preconditions: { uid: opts.uid } } : {}),
      ...(opts.propagationPolicy ? { propagationPolicy: opts.propagationPolicy } : {}),
    };
    try {
      await this.call('DELETE', resourcePath(r, key.namespace, key.name), {}, body);
    } catch (e) {
      if (!isNotFound(e)) throw e; // already gone is what we wanted
    }
  }

  async addFinalizer<T extends KObject>(r: Resource, obj: T, finalizer: string): Promise<T> {
    const current = obj.metadata.finalizers ?? [];
    if (current.includes(finalizer)) return obj;
    return this.mergePatch<T>(r, obj.metadata, { metadata: { finalizers: [...current, finalizer] } }, { resourceVersion: obj.metadata.resourceVersion });
  }

  async removeFinalizer<T extends KObject>(r: Resource, obj: T, finalizer: string): Promise<T | undefined> {
    const current = obj.metadata.finalizers ?? [];
    if (!current.includes(finalizer)) return obj;
    try {
      return await this.mergePatch<T>(
        r,
        obj.metadata,
        { metadata: { finalizers: current.filter((f) => f !== finalizer) } },
        { resourceVersion: obj.metadata.resourceVersion },
      );
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  listWatch<T extends KObject>(r: Resource, opts: ListOptions = {}): ListWatchSource<T> {
    let markListed: () => void = () => {};
    const listed = new Promise<void>((resolve) => (markListed = resolve));
    const listFn = async () => {
      const res = await this.list<T>(r, opts);
      // ListWatch fills its cache synchronously right after this promise settles; a macrotask later it is full.
      setImmediate(markListed);
      return { items: res.items, metadata: { resourceVersion: res.resourceVersion } };
    };
    // client-node types metadata timestamps as Date; on the wire (and in our types) they are strings.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const lw = new ListWatch<any>(
      resourcePath(r, opts.namespace),
      new Watch(this.kc),
      listFn as never,
      false,
      opts.labelSelector,
    );
    return Object.assign(lw as unknown as ListWatchSource<T>, { listed: () => listed });
  }

  /** Closes idle keep-alive connections (tests, shutdown). */
  close(): void {
    this.agent?.destroy();
  }
}

export function withoutEmpty(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutEmpty);
  if (typeof v !== 'object' || v === null) return v;
  // Empty lists too: left out, a field this manager applied before is removed, which is what an empty list
  // means; sent as [], the same API server rejects status.members of an EtcdCluster whose droplets are all
  // gone ("must be of type array": null). Removing such a list is finished in applyStatus.
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== '' && !(Array.isArray(x) && x.length === 0)).map(([k, x]) => [k, withoutEmpty(x)]));
}

function withResourceVersion(patch: object, resourceVersion: string): object {
  const p = patch as { metadata?: object };
  return { ...p, metadata: { ...(p.metadata ?? {}), resourceVersion } };
}
