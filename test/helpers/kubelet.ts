// The node components the simulator does not run for real (there is no kubelet, kube-proxy or scheduler
// binary in the test environment): small in-process stand-ins that read the same files a real one reads,
// refuse to start the way a real one does when a file is missing or a key does not match its certificate,
// serve the real health endpoints with the node's own certificates, and (the kubelet) talk to the real API
// with the node's own client certificate, so Node authorization and NodeRestriction apply to them.
import { Agent, createServer as createHttpsServer, request, type Server as HttpsServer } from 'node:https';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { checkServerIdentity, createSecureContext, type PeerCertificate, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import { randomUUID } from 'node:crypto';
import { parse, stringify } from 'yaml';
import { generateKey } from '../../src/pki/x509.ts';
import { opensslCsr } from './csr.ts';
import { guard } from './tcp-proxy.ts';

/** What a simulated component knows about its node. */
export interface AgentEnv {
  name: string;
  privateIp: string;
  publicIp?: string;
  /** A file of the node by its path on the node (or already under the node's root); Go-style errors. */
  read(file: string): string;
  /** Writes a file of the node (by its path on the node), as the kubelet writes its kubeconfig and certificates. */
  write(file: string, content: string, mode: number): void;
  /** A records of the fake zone. */
  resolve(host: string): string[];
  note(message: string): void;
  timing: { heartbeatMs: number; registerRetryMs: number };
}

/** The addresses behind a bind address: 0.0.0.0 means both of the node's own (it shares the machine). */
export function nodeAddresses(env: AgentEnv, bind: string | undefined): string[] {
  if (!bind || bind === '0.0.0.0' || bind === '::') return [env.privateIp, ...(env.publicIp ? [env.publicIp] : [])];
  return [bind];
}

function flag(args: string[], name: string): string | undefined {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}

/** Fails like Go's TLS loader when the key does not belong to the certificate. */
function checkPair(cert: string, key: string): void {
  try {
    createSecureContext({ cert, key });
  } catch (e) {
    throw new Error(`tls: private key does not match public key (${(e as Error).message})`);
  }
}

async function listen(server: HttpsServer | HttpServer, host: string, port: number): Promise<void> {
  guard(server, host);
  await new Promise<void>((resolve, reject) => {
    const fail = (e: NodeJS.ErrnoException) => reject(new Error(`listen tcp ${host}:${port}: bind: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.message}`));
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      resolve();
    });
  });
}

const closeServer = (s: HttpsServer | HttpServer) =>
  new Promise<void>((r) => {
    s.closeAllConnections();
    s.close(() => r());
  });

// ------------------------------------------------------------------------------------ API client

export interface Kubeconfig {
  server: URL;
  /** The name the server's certificate must carry (tls-server-name, else the server's host). */
  serverName: string;
  ca: string;
  /** A client certificate and key, or a bearer token (a bootstrap kubeconfig). */
  cert?: string;
  key?: string;
  token?: string;
}

/** Reads a kubeconfig and the files it names, failing as client-go does when one is missing. */
export function loadKubeconfig(env: AgentEnv, file: string): Kubeconfig {
  const doc = parse(env.read(file)) as {
    clusters: { cluster: { server: string; 'certificate-authority'?: string; 'certificate-authority-data'?: string; 'tls-server-name'?: string } }[];
    users: { user: { 'client-certificate'?: string; 'client-key'?: string; 'client-certificate-data'?: string; 'client-key-data'?: string; token?: string } }[];
  };
  const c = doc.clusters[0]!.cluster;
  const u = doc.users[0]!.user;
  const data = (inline: string | undefined, path: string | undefined) => (inline ? Buffer.from(inline, 'base64').toString() : env.read(path!));
  const server = new URL(c.server);
  const base = { server, serverName: c['tls-server-name'] ?? server.hostname, ca: data(c['certificate-authority-data'], c['certificate-authority']) };
  if (u.token) return { ...base, token: u.token };
  const kc = { ...base, cert: data(u['client-certificate-data'], u['client-certificate']), key: data(u['client-key-data'], u['client-key']) };
  checkPair(kc.cert, kc.key);
  return kc;
}

export interface ApiResponse {
  status: number;
  body: any;
}

/**
 * HTTPS to the API as a kubeconfig says, with its client certificate. A host name is resolved from the fake
 * zone's A records (several: used in turn, as a Go client's dialer would); the certificate is verified for
 * the kubeconfig's server name, not for the address connected to.
 */
export class ApiClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 4 });
  private turn = 0;

  constructor(
    private readonly kc: Kubeconfig,
    private readonly resolve: (host: string) => string[],
  ) {}

  async request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<ApiResponse> {
    const host = this.kc.server.hostname;
    const addresses = isIP(host) ? [host] : this.resolve(host);
    if (!addresses.length) throw new Error(`dial tcp: lookup ${host}: no such host`);
    const address = addresses[this.turn++ % addresses.length]!;
    const name = this.kc.serverName;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<ApiResponse>((resolve, reject) => {
      const req = request(
        {
          host: address,
          port: Number(this.kc.server.port || 443),
          method,
          path,
          agent: this.agent,
          ca: this.kc.ca,
          ...(this.kc.token ? {} : { cert: this.kc.cert, key: this.kc.key }),
          ...(isIP(name) ? {} : { servername: name }),
          checkServerIdentity: (_h, cert) => checkServerIdentity(name, cert),
          headers: { accept: 'application/json', ...(this.kc.token ? { authorization: `Bearer ${this.kc.token}` } : {}), ...(payload ? { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) } : {}) },
          timeout: 5_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              /* not JSON: keep the text */
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
      req.on('error', (e) => reject(new Error(`${method} https://${host}:${this.kc.server.port}${path} (${address}): ${e.message}`)));
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

const message = (r: ApiResponse) => (typeof r.body === 'object' && r.body?.message ? r.body.message : String(r.body).slice(0, 200));

// ---------------------------------------------------------------------------------------- kubelet

interface KubeletConfig {
  address?: string;
  port?: number;
  tlsCertFile?: string;
  tlsPrivateKeyFile?: string;
  serverTLSBootstrap?: boolean;
  rotateCertificates?: boolean;
  authentication?: { anonymous?: { enabled?: boolean }; webhook?: { enabled?: boolean }; x509?: { clientCAFile?: string } };
  authorization?: { mode?: 'Webhook' | 'AlwaysAllow' };
  registerWithTaints?: { key: string; value?: string; effect: string }[];
}

const seconds = (d = new Date()) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const micro = (d = new Date()) => d.toISOString().replace(/Z$/, '000Z');

/**
 * A kubelet: serves /healthz on 10250 (x509 client certificates from its client CA, anonymous as its config
 * says, authorization by SubjectAccessReview against the API as a Webhook-mode kubelet does), registers its
 * Node with its own credentials, and keeps Ready=True with status updates and a Lease in kube-node-lease.
 */
export class SimKubelet {
  registered = false;
  heartbeats = 0;
  lastError?: string;
  private api?: ApiClient;
  private servers: HttpsServer[] = [];
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly since = seconds();
  private lease?: any;
  private nodeUid?: string;
  private readonly authzCache = new Map<string, { allowed: boolean; until: number }>();
  private taints: { key: string; value?: string; effect: string }[] = [];
  /** The bootstrap kubeconfig while the client certificate is being asked for. */
  private bootstrapping?: Kubeconfig;
  private kubeconfigPath?: string;
  private certDir = '/var/lib/kubelet/pki';
  private servingPending = false;
  private serveWith?: (cert: string, key: string) => Promise<void>;
  private readonly csrs = new Map<'client' | 'serving', { name: string; key: string }>();

  readonly nodeName: string;
  private readonly labels: Record<string, string>;

  constructor(
    private readonly env: AgentEnv,
    private readonly args: string[],
    /** The rendered Kubernetes version (nodeInfo.kubeletVersion). */
    readonly version: string,
  ) {
    this.nodeName = (flag(args, 'hostname-override') ?? env.name).toLowerCase();
    const extra = flag(args, 'node-labels');
    this.labels = Object.fromEntries((extra ? extra.split(',') : []).map((kv) => kv.split('=') as [string, string]));
  }

  /** Loads everything as the real kubelet does at startup; throws (and the unit fails) when it cannot. */
  async start(): Promise<void> {
    const configPath = flag(this.args, 'config');
    let config: KubeletConfig;
    try {
      config = configPath ? (parse(this.env.read(configPath)) as KubeletConfig) : {};
    } catch (e) {
      throw new Error(`failed to load Kubelet config file ${configPath}, error: ${(e as Error).message}`);
    }
    const kubeconfig = flag(this.args, 'kubeconfig');
    if (!kubeconfig) throw new Error('no --kubeconfig: a standalone kubelet registers nothing');
    this.kubeconfigPath = kubeconfig;
    let kc: Kubeconfig;
    try {
      kc = loadKubeconfig(this.env, kubeconfig);
    } catch (e) {
      // As the real kubelet: without a usable kubeconfig, a bootstrap kubeconfig gets it a certificate.
      const bootstrap = flag(this.args, 'bootstrap-kubeconfig');
      if (!bootstrap) throw new Error(`failed to run Kubelet: invalid kubeconfig: ${(e as Error).message}`);
      try {
        kc = loadKubeconfig(this.env, bootstrap);
      } catch (b) {
        throw new Error(`failed to run Kubelet: unable to load bootstrap kubeconfig: ${(b as Error).message}`);
      }
      this.bootstrapping = kc;
      this.env.note(`using bootstrap kubeconfig ${bootstrap} to ask for a client certificate`);
    }
    this.certDir = flag(this.args, 'cert-dir') ?? '/var/lib/kubelet/pki';
    const caFile = config.authentication?.x509?.clientCAFile;
    const clientCA = caFile ? this.env.read(caFile) : undefined;
    this.api = new ApiClient(kc, this.env.resolve);
    const anonymous = config.authentication?.anonymous?.enabled ?? false;
    const webhook = (config.authorization?.mode ?? 'Webhook') === 'Webhook';
    const port = config.port ?? 10250;
    this.serveWith = async (cert: string, key: string) => {
      for (const host of nodeAddresses(this.env, config.address)) {
        const server = createHttpsServer({ cert, key, ...(clientCA ? { ca: clientCA, requestCert: true, rejectUnauthorized: false } : {}) }, (req, res) => void this.serve(req, res, anonymous, webhook));
        this.servers.push(server);
        await listen(server, host, port);
      }
      this.env.note(`serving https on ${nodeAddresses(this.env, config.address).join(', ')}:${port} (anonymous ${anonymous ? 'allowed' : 'refused'}, authorization ${webhook ? 'Webhook' : 'AlwaysAllow'})`);
    };
    if (config.serverTLSBootstrap) {
      // The serving certificate comes from a CSR once the Node is registered (kubelet-serving signer).
      this.servingPending = true;
    } else {
      const certFile = config.tlsCertFile;
      const keyFile = config.tlsPrivateKeyFile;
      if (!certFile || !keyFile) throw new Error('failed to run Kubelet: no tlsCertFile/tlsPrivateKeyFile (self-signed serving certificates are not simulated)');
      const cert = this.env.read(certFile);
      const key = this.env.read(keyFile);
      checkPair(cert, key);
      await this.serveWith(cert, key);
    }
    this.taints = config.registerWithTaints ?? [];
    this.schedule(0);
  }

  /**
   * One step of a certificate request: create it (once), then read it until it carries a certificate.
   * Returns the PEM certificate, or undefined while it waits (the step loop asks again).
   */
  private async requestCertificate(kind: 'client' | 'serving'): Promise<{ cert: string; key: string } | undefined> {
    const api = this.api!;
    let pending = this.csrs.get(kind);
    if (!pending) {
      const key = generateKey().privateKeyPem;
      const subject = `/O=system:nodes/CN=system:node:${this.nodeName}`;
      const san = kind === 'serving' ? [`DNS:${this.nodeName}`, `IP:${this.env.privateIp}`, ...(this.env.publicIp ? [`IP:${this.env.publicIp}`] : [])].join(',') : undefined;
      const r = await api.request('POST', '/apis/certificates.k8s.io/v1/certificatesigningrequests', {
        apiVersion: 'certificates.k8s.io/v1',
        kind: 'CertificateSigningRequest',
        metadata: { generateName: 'csr-' },
        spec: {
          request: Buffer.from(opensslCsr(subject, san, key)).toString('base64'),
          signerName: kind === 'client' ? 'kubernetes.io/kube-apiserver-client-kubelet' : 'kubernetes.io/kubelet-serving',
          usages: ['digital signature', 'key encipherment', kind === 'client' ? 'client auth' : 'server auth'],
        },
      });
      if (r.status !== 201) throw new Error(`cannot create certificate signing request: ${r.status} ${message(r)}`);
      pending = { name: r.body.metadata.name, key };
      this.csrs.set(kind, pending);
      this.env.note(`${kind} certificate requested: ${pending.name}`);
    }
    const g = await api.request('GET', `/apis/certificates.k8s.io/v1/certificatesigningrequests/${pending.name}`);
    if (g.status !== 200) throw new Error(`get certificate signing request ${pending.name}: ${g.status} ${message(g)}`);
    if ((g.body.status?.conditions ?? []).some((c: { type: string }) => c.type === 'Denied' || c.type === 'Failed')) throw new Error(`certificate signing request ${pending.name} was denied`);
    if (!g.body.status?.certificate) return undefined;
    this.csrs.delete(kind);
    this.env.note(`${kind} certificate issued (${pending.name})`);
    return { cert: Buffer.from(g.body.status.certificate, 'base64').toString('utf8'), key: pending.key };
  }

  /** The client certificate from the bootstrap CSR: written as the real kubelet writes it, then used. */
  private async bootstrap(): Promise<boolean> {
    const got = await this.requestCertificate('client');
    if (!got) return false;
    const current = `${this.certDir}/kubelet-client-current.pem`;
    this.env.write(current, got.cert + got.key, 0o600);
    const kc = this.bootstrapping!;
    this.env.write(
      this.kubeconfigPath!,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'default-cluster', cluster: { server: kc.server.origin, 'certificate-authority-data': Buffer.from(kc.ca).toString('base64'), ...(kc.serverName !== kc.server.hostname ? { 'tls-server-name': kc.serverName } : {}) } }],
        users: [{ name: 'default-auth', user: { 'client-certificate': current, 'client-key': current } }],
        contexts: [{ name: 'default-context', context: { cluster: 'default-cluster', user: 'default-auth' } }],
        'current-context': 'default-context',
      }),
      0o600,
    );
    this.api!.close();
    this.api = new ApiClient(loadKubeconfig(this.env, this.kubeconfigPath!), this.env.resolve);
    this.bootstrapping = undefined;
    return true;
  }

  private async serve(req: IncomingMessage, res: ServerResponse, anonymous: boolean, webhook: boolean): Promise<void> {
    const text = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(body);
    };
    const socket = req.socket as TLSSocket;
    let user: { name: string; groups: string[] } | undefined;
    if (socket.authorized) {
      const peer = socket.getPeerCertificate() as PeerCertificate;
      const subject = peer.subject as { CN?: string | string[]; O?: string | string[] };
      user = { name: String(subject.CN ?? ''), groups: ([] as string[]).concat(subject.O ?? []) };
    } else if (anonymous) {
      user = { name: 'system:anonymous', groups: ['system:unauthenticated'] };
    }
    if (!user) return text(401, 'Unauthorized');
    const verb = ({ GET: 'get', HEAD: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as Record<string, string>)[req.method ?? 'GET'] ?? 'get';
    if (webhook) {
      const allowed = await this.authorize(user, verb).catch(() => undefined);
      if (allowed === undefined) return text(500, `Authorization error (user=${user.name}, verb=${verb}, resource=nodes, subresource=proxy)`);
      if (!allowed) return text(403, `Forbidden (user=${user.name}, verb=${verb}, resource=nodes, subresource=proxy)`);
    }
    if (req.url === '/healthz' || req.url?.startsWith('/healthz?')) return text(200, 'ok');
    return text(404, '404 page not found');
  }

  /** A SubjectAccessReview, cached as the kubelet's webhook authorizer does (5 min allowed, 30 s denied). */
  private async authorize(user: { name: string; groups: string[] }, verb: string): Promise<boolean> {
    const key = `${user.name}|${user.groups.join(',')}|${verb}`;
    const hit = this.authzCache.get(key);
    if (hit && hit.until > Date.now()) return hit.allowed;
    const r = await this.api!.request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { user: user.name, groups: user.groups, resourceAttributes: { verb, resource: 'nodes', subresource: 'proxy', name: this.nodeName } },
    });
    if (r.status !== 201 && r.status !== 200) throw new Error(`subjectaccessreview: ${r.status} ${message(r)}`);
    const allowed = !!r.body?.status?.allowed;
    this.authzCache.set(key, { allowed, until: Date.now() + (allowed ? 300_000 : 30_000) });
    return allowed;
  }

  private schedule(ms: number) {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.step(), ms);
  }

  private async step(): Promise<void> {
    try {
      if (this.bootstrapping && !(await this.bootstrap())) return this.schedule(this.env.timing.registerRetryMs);
      if (!this.registered) await this.register();
      else await this.heartbeat();
      if (this.registered && this.servingPending) {
        const got = await this.requestCertificate('serving');
        if (got) {
          this.servingPending = false;
          this.env.write(`${this.certDir}/kubelet-server-current.pem`, got.cert + got.key, 0o600);
          await this.serveWith!(got.cert, got.key);
        }
      }
      this.lastError = undefined;
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== this.lastError) this.env.note(this.registered ? `error updating node status, will retry: ${msg}` : `unable to register node with API server, will retry: ${msg}`);
      this.lastError = msg;
    }
    this.schedule(this.registered ? this.env.timing.heartbeatMs : this.env.timing.registerRetryMs);
  }

  private conditions(now = seconds()) {
    const c = (type: string, status: string, reason: string, msg: string) => ({ type, status, reason, message: msg, lastHeartbeatTime: now, lastTransitionTime: this.since });
    return [
      c('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
      c('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
      c('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
      c('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
    ];
  }

  /** The Node as a kubelet registers it (status included: nodes may set it on create). */
  nodeObject(): unknown {
    const ip = this.env.privateIp;
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: this.nodeName,
        labels: {
          'beta.kubernetes.io/arch': 'amd64',
          'beta.kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'kubernetes.io/hostname': this.nodeName,
          'kubernetes.io/os': 'linux',
          ...this.labels,
        },
        annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
      },
      spec: this.taints.length ? { taints: this.taints } : {},
      status: {
        addresses: [
          { type: 'InternalIP', address: ip },
          { type: 'Hostname', address: this.nodeName },
        ],
        capacity: { cpu: '2', memory: '4009152Ki', pods: '110', 'ephemeral-storage': '82536112Ki' },
        allocatable: { cpu: '2', memory: '3906752Ki', pods: '110', 'ephemeral-storage': '76065924519' },
        conditions: this.conditions(),
        daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
        nodeInfo: {
          machineID: randomUUID().replace(/-/g, ''),
          systemUUID: randomUUID(),
          bootID: randomUUID(),
          kernelVersion: '6.1.0-simulated',
          osImage: 'Debian GNU/Linux 12 (bookworm) (simulated)',
          containerRuntimeVersion: 'containerd://2.1.4',
          kubeletVersion: this.version,
          kubeProxyVersion: this.version,
          operatingSystem: 'linux',
          architecture: 'amd64',
        },
      },
    };
  }

  private async register(): Promise<void> {
    const api = this.api!;
    const r = await api.request('POST', '/api/v1/nodes', this.nodeObject());
    if (r.status === 201) {
      this.nodeUid = r.body.metadata.uid;
      this.env.note(`successfully registered node ${this.nodeName}`);
    } else if (r.status === 409) {
      const g = await api.request('GET', `/api/v1/nodes/${this.nodeName}`);
      if (g.status !== 200) throw new Error(`${g.status} ${message(g)}`);
      this.nodeUid = g.body.metadata.uid;
      this.env.note(`node ${this.nodeName} was previously registered`);
    } else {
      throw new Error(`${r.status} ${message(r)}`);
    }
    this.registered = true;
    await this.heartbeat();
  }

  private async heartbeat(): Promise<void> {
    const api = this.api!;
    const r = await api.request('PATCH', `/api/v1/nodes/${this.nodeName}/status`, { status: { conditions: this.conditions() } }, 'application/strategic-merge-patch+json');
    if (r.status !== 200) throw new Error(`patch status: ${r.status} ${message(r)}`);
    this.heartbeats++;
    await this.renewLease(api);
  }

  private async renewLease(api: ApiClient): Promise<void> {
    const base = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases`;
    if (!this.lease) {
      const g = await api.request('GET', `${base}/${this.nodeName}`);
      if (g.status === 200) this.lease = g.body;
      else if (g.status !== 404) throw new Error(`get lease: ${g.status} ${message(g)}`);
    }
    if (!this.lease) {
      const c = await api.request('POST', base, {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.nodeName, namespace: 'kube-node-lease', ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: this.nodeName, uid: this.nodeUid }] },
        spec: { holderIdentity: this.nodeName, leaseDurationSeconds: 40, renewTime: micro() },
      });
      if (c.status !== 201) throw new Error(`create lease: ${c.status} ${message(c)}`);
      this.lease = c.body;
      return;
    }
    this.lease.spec.renewTime = micro();
    const u = await api.request('PUT', `${base}/${this.nodeName}`, this.lease);
    if (u.status !== 200) {
      this.lease = undefined;
      throw new Error(`update lease: ${u.status} ${message(u)}`);
    }
    this.lease = u.body;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.api?.close();
    await Promise.all(this.servers.map(closeServer));
  }
}

// ------------------------------------------------------------------------------------- kube-proxy

/**
 * kube-proxy's health endpoint (plain HTTP, as the real one) at its config's healthzBindAddress. It loads
 * its kubeconfig and certificates first and refuses to start without them; it programs no rules.
 */
export async function startKubeProxy(env: AgentEnv, args: string[]): Promise<() => Promise<void>> {
  const configPath = flag(args, 'config');
  const config = (configPath ? parse(env.read(configPath)) : {}) as { clientConnection?: { kubeconfig?: string }; healthzBindAddress?: string };
  const kubeconfig = config.clientConnection?.kubeconfig ?? flag(args, 'kubeconfig');
  if (!kubeconfig) throw new Error('no kubeconfig in the kube-proxy configuration');
  try {
    loadKubeconfig(env, kubeconfig);
  } catch (e) {
    throw new Error(`failed to create kube-proxy: invalid kubeconfig: ${(e as Error).message}`);
  }
  const [bind, portText] = (config.healthzBindAddress ?? '0.0.0.0:10256').split(/:(?=\d+$)/);
  const port = Number(portText ?? 10256);
  const servers: HttpServer[] = [];
  const started = new Date();
  for (const host of nodeAddresses(env, bind)) {
    const server = createHttpServer((req, res) => {
      if (req.url !== '/healthz' && req.url !== '/livez') {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('404 page not found');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-content-type-options': 'nosniff' });
      res.end(JSON.stringify({ lastUpdated: started.toISOString(), currentTime: new Date().toISOString(), nodeEligible: true }));
    });
    servers.push(server);
    await listen(server, host, port);
  }
  env.note(`healthz on http ${nodeAddresses(env, bind).join(', ')}:${port}`);
  return async () => {
    await Promise.all(servers.map(closeServer));
  };
}

// --------------------------------------------------------------------------------- kube-scheduler

/**
 * kube-scheduler's secure port with the unit's serving certificate. /healthz, /livez and /readyz answer
 * anyone (the unit's --authorization-always-allow-paths); the rest is forbidden to anonymous callers. It
 * loads its kubeconfig first and refuses to start without it; it schedules nothing.
 */
export async function startScheduler(env: AgentEnv, args: string[]): Promise<() => Promise<void>> {
  const configPath = flag(args, 'config');
  const config = (configPath ? parse(env.read(configPath)) : {}) as { clientConnection?: { kubeconfig?: string } };
  const kubeconfig = config.clientConnection?.kubeconfig ?? flag(args, 'kubeconfig') ?? flag(args, 'authentication-kubeconfig');
  if (kubeconfig) {
    try {
      loadKubeconfig(env, kubeconfig);
    } catch (e) {
      throw new Error(`couldn't create scheduler: invalid kubeconfig: ${(e as Error).message}`);
    }
  }
  const certFile = flag(args, 'tls-cert-file');
  const keyFile = flag(args, 'tls-private-key-file');
  if (!certFile || !keyFile) throw new Error('no --tls-cert-file/--tls-private-key-file (self-signed serving certificates are not simulated)');
  const cert = env.read(certFile);
  const key = env.read(keyFile);
  checkPair(cert, key);
  const allowed = (flag(args, 'authorization-always-allow-paths') ?? '/healthz').split(',');
  const port = Number(flag(args, 'secure-port') ?? 10259);
  const bind = flag(args, 'bind-address');
  const servers: HttpsServer[] = [];
  for (const host of nodeAddresses(env, bind)) {
    const server = createHttpsServer({ cert, key }, (req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      if (allowed.includes(path)) {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
        res.end('ok');
        return;
      }
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `forbidden: User "system:anonymous" cannot get path "${path}"`, reason: 'Forbidden', code: 403 }));
    });
    servers.push(server);
    await listen(server, host, port);
  }
  env.note(`serving https on ${nodeAddresses(env, bind).join(', ')}:${port}`);
  return async () => {
    await Promise.all(servers.map(closeServer));
  };
}
