// HttpKubeHealth against local servers on 127.0.0.1 with certificates from our own PKI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { createCA, issueLeaf, type PkiContext } from '../pki/certs.ts';
import { generateKey } from '../pki/x509.ts';
import { HttpKubeHealth, type KubePorts } from './probes.ts';
import type { ProbeCredentials } from './kube.ts';
import { FakeKubeHealth } from '../../test/helpers/fake-kube-health.ts';

const ctx: PkiContext = { now: new Date(), randomHex: (n) => randomBytes(n).toString('hex'), newKey: generateKey };
const ca = createCA('kubernetes-ca', ctx);
const serving = issueLeaf(ca, { commonName: 'demo-cp-aaaaa', names: ['demo-cp-aaaaa.example.com'], usages: ['server'] }, ctx);
const client = issueLeaf(ca, { commonName: 'admin', organizations: ['system:masters'], usages: ['client'] }, ctx);
const creds: ProbeCredentials = { ca: ca.cert, cert: client.cert, key: client.key };
const node = { ip: '127.0.0.1', dnsName: 'demo-cp-aaaaa.example.com' };

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let handler: Handler = (_req, res) => res.end('ok');
const clientCNs: string[] = [];
let https: HttpsServer;
let http: ReturnType<typeof createHttpServer>;
let silent: Server;
const silentSockets = new Set<Socket>();
let closedPort: number;

const listen = (s: Server | HttpsServer): Promise<number> => new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port)));
const ports: Partial<KubePorts> = {};

before(async () => {
  // Demands a client certificate from our CA, like the kubelet and the apiserver.
  https = createHttpsServer({ cert: serving.cert, key: serving.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    clientCNs.push((req.socket as TLSSocket).getPeerCertificate().subject.CN as string);
    handler(req, res);
  });
  http = createHttpServer((req, res) => handler(req, res));
  // Accepts connections and never says a word: no TLS handshake, no HTTP answer.
  silent = createNetServer((s) => silentSockets.add(s));
  const tmp = createNetServer();
  closedPort = await listen(tmp);
  await new Promise((r) => tmp.close(r));
  const [httpsPort, httpPort] = [await listen(https), await listen(http)];
  Object.assign(ports, { apiserver: httpsPort, controllerManager: httpsPort, scheduler: httpsPort, kubelet: httpsPort, kubeProxy: httpPort });
});
after(async () => {
  for (const s of silentSockets) s.destroy();
  https.closeAllConnections();
  http.closeAllConnections();
  await Promise.all([https, http, silent].map((s) => new Promise((r) => s.close(r))));
});

test('healthy components: every probe is ok, the client certificate is presented, /readyz and /livez are asked', async () => {
  const paths: string[] = [];
  handler = (req, res) => {
    paths.push(req.url!);
    res.end('ok');
  };
  clientCNs.length = 0;
  const h = new HttpKubeHealth({ ports });
  assert.deepEqual(await h.controlPlane(node, creds), { apiserverReady: { ok: true }, apiserverLive: { ok: true }, controllerManager: { ok: true }, scheduler: { ok: true } });
  assert.deepEqual(await h.worker(node, creds), { kubelet: { ok: true }, kubeProxy: { ok: true } });
  assert.deepEqual(paths.sort(), ['/healthz', '/healthz', '/healthz', '/healthz', '/livez', '/readyz']);
  assert.deepEqual(clientCNs, ['admin', 'admin', 'admin', 'admin', 'admin'], 'kube-proxy is plain HTTP; the others got our client certificate');
});

test('the probes of one call run concurrently', async () => {
  // Answers only once all four control-plane probes are waiting: sequential probes would time out.
  const waiting: ServerResponse[] = [];
  handler = (_req, res) => {
    waiting.push(res);
    if (waiting.length === 4) for (const r of waiting) r.end('ok');
  };
  const r = await new HttpKubeHealth({ ports, timeoutMs: 5000 }).controlPlane(node, creds);
  assert.ok(Object.values(r).every((p) => p.ok), JSON.stringify(r));
});

test('an unhealthy answer: not ok, with the status and the failed checks', async () => {
  handler = (req, res) => {
    res.statusCode = req.url === '/readyz' ? 500 : 200;
    res.end(req.url === '/readyz' ? `[+]ping ok\n[-]etcd failed: reason withheld\n${'x'.repeat(500)}` : 'ok');
  };
  const r = await new HttpKubeHealth({ ports }).controlPlane(node, creds);
  assert.equal(r.apiserverReady.ok, false);
  assert.equal(r.apiserverReady.message, 'HTTP 500: [-]etcd failed: reason withheld');
  assert.ok(r.apiserverReady.message!.length <= 'HTTP 500: '.length + 200);
  assert.deepEqual([r.apiserverLive.ok, r.controllerManager.ok, r.scheduler.ok], [true, true, true]);
});

test('a certificate for another name, or from another CA, is refused', async () => {
  handler = (_req, res) => res.end('ok');
  const h = new HttpKubeHealth({ ports });
  const wrongName = await h.worker({ ip: '127.0.0.1', dnsName: 'demo-cp-bbbbb.example.com' }, creds);
  assert.equal(wrongName.kubelet.ok, false);
  assert.match(wrongName.kubelet.message!, /certificate is not valid for demo-cp-bbbbb\.example\.com/);
  assert.equal(wrongName.kubeProxy.ok, true, 'plain HTTP has no certificate to check');

  const otherCA = createCA('other-ca', ctx);
  const foreign = await h.worker(node, { ...creds, ca: otherCA.cert });
  assert.equal(foreign.kubelet.ok, false);
  assert.match(foreign.kubelet.message!, /certificate/);
});

test('silence is a timeout and a closed port a refusal; bad credentials are a result, not an exception', async () => {
  const silentPort = await listen(silent);
  const h = new HttpKubeHealth({ timeoutMs: 200, ports: { kubelet: silentPort, kubeProxy: silentPort, apiserver: closedPort, controllerManager: closedPort, scheduler: closedPort } });
  const w = await h.worker(node, creds);
  assert.deepEqual(w, { kubelet: { ok: false, message: 'no answer within 200 ms' }, kubeProxy: { ok: false, message: 'no answer within 200 ms' } });
  const cp = await h.controlPlane(node, creds);
  assert.match(cp.apiserverReady.message!, /ECONNREFUSED/);
  const garbage = await new HttpKubeHealth({ ports }).worker(node, { ca: 'not a pem', cert: 'nope', key: 'nope' });
  assert.equal(garbage.kubelet.ok, false);
  assert.ok(garbage.kubelet.message);
});

test('FakeKubeHealth (test/helpers): healthy by default, set by node name (first DNS label) or by IP', async () => {
  const f = new FakeKubeHealth().unhealthy('demo-cp-aaaaa', ['scheduler']).unreachable('10.0.0.9');
  const cp = await f.controlPlane({ ip: '10.0.0.1', dnsName: 'demo-cp-aaaaa.example.com' }, creds);
  assert.deepEqual(cp, { apiserverReady: { ok: true }, apiserverLive: { ok: true }, controllerManager: { ok: true }, scheduler: { ok: false, message: 'HTTP 500: unhealthy (fake)' } });
  assert.deepEqual(await f.worker({ ip: '10.0.0.9', dnsName: 'demo-worker-bbbbb.example.com' }, creds), {
    kubelet: { ok: false, message: 'connect ECONNREFUSED' },
    kubeProxy: { ok: false, message: 'connect ECONNREFUSED' },
  });
  f.healthy('demo-cp-aaaaa').set('demo-cp-aaaaa', 'apiserverReady', { ok: false, message: 'HTTP 500: [-]etcd failed' });
  assert.equal((await f.controlPlane({ ip: '10.0.0.1', dnsName: 'demo-cp-aaaaa.example.com' }, creds)).scheduler.ok, true);
  assert.deepEqual(f.calls.map((c) => c.kind), ['controlPlane', 'worker', 'controlPlane']);
});

test('a failing readyz is reduced to its failed checks', async () => {
  const { failedChecks } = await import('./probes.ts');
  assert.equal(failedChecks('[+]ping ok\n[+]log ok\n[-]informer-sync failed: reason withheld\n[+]etcd ok\n[-]poststarthook/rbac failed: not finished\nreadyz check failed\n'), '[-]informer-sync failed: reason withheld; [-]poststarthook/rbac failed: not finished');
  assert.equal(failedChecks('internal error'), 'internal error');
});
