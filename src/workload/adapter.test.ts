// HttpsWorkloadCluster's wire behaviour against a scripted local HTTPS server (the real server is in
// test/integration/workload.test.ts): what it sends, and how it reads answers the test server cannot give.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { createCA, issueLeaf, type PkiContext } from '../pki/certs.ts';
import { generateKey } from '../pki/x509.ts';
import { HttpsWorkloadCluster, toWorkloadNode } from './adapter.ts';
import { WorkloadError, type WorkloadTarget } from './port.ts';

const ctx: PkiContext = { now: new Date(), randomHex: (n) => randomBytes(n).toString('hex'), newKey: generateKey };
const ca = createCA('kubernetes-ca', ctx);
const serving = issueLeaf(ca, { commonName: 'kube-apiserver', names: ['api.demo.example.com'], usages: ['server'] }, ctx);
const admin = issueLeaf(ca, { commonName: 'admin', organizations: ['system:masters'], usages: ['client'] }, ctx);

interface Seen {
  method: string;
  url: string;
  contentType?: string;
  contentLength?: string;
  body: string;
}
const seen: Seen[] = [];
let answer: (s: Seen, res: ServerResponse) => void = (_s, res) => res.end('{}');
let server: Server;
let target: WorkloadTarget;

before(async () => {
  server = createServer({ cert: serving.cert, key: serving.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const s = { method: req.method!, url: req.url!, contentType: req.headers['content-type'], contentLength: req.headers['content-length'], body };
      seen.push(s);
      answer(s, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  target = { ip: '127.0.0.1', port: (server.address() as { port: number }).port, serverName: 'api.demo.example.com', ca: ca.cert, cert: admin.cert, key: admin.key };
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const json = (res: ServerResponse, status: number, body: object) => {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
};
const podList = { items: [{ metadata: { name: 'a', namespace: 'ns' }, status: { phase: 'Running' } }, { metadata: { name: 'b', namespace: 'ns' }, status: { phase: 'Running' } }] };

test('Eviction: policy/v1 first; an old server\'s 400 switches to v1beta1 once, and the cluster remembers it', async () => {
  const gone = new Set<string>();
  answer = (s, res) => {
    if (s.method === 'GET') return json(res, 200, { items: podList.items.filter((p) => !gone.has(p.metadata.name)) });
    const ev = JSON.parse(s.body);
    if (ev.apiVersion === 'policy/v1') {
      return json(res, 400, { kind: 'Status', code: 400, message: 'Eviction in version "v1" cannot be handled as a Eviction: no kind "Eviction" is registered for version "policy/v1" in scheme' });
    }
    gone.add(ev.metadata.name);
    json(res, 201, { kind: 'Status', status: 'Success', code: 201 });
  };
  seen.length = 0;
  const c = new HttpsWorkloadCluster(target);
  assert.deepEqual(await c.evictPods('w1'), { remaining: [], blocked: [] });
  const posts = () => seen.filter((s) => s.method === 'POST').map((s) => JSON.parse(s.body).apiVersion);
  assert.deepEqual(posts(), ['policy/v1', 'policy/v1beta1', 'policy/v1beta1']);
  assert.equal(seen[0]!.url, '/api/v1/pods?fieldSelector=spec.nodeName%3Dw1&limit=500');
  assert.equal(seen[1]!.url, '/api/v1/namespaces/ns/pods/a/eviction');
  gone.clear();
  seen.length = 0;
  await c.evictPods('w1');
  assert.deepEqual(posts(), ['policy/v1beta1', 'policy/v1beta1']);
  c.close();
});

test('bodies carry content-length and their content type; apply is forced server-side apply as "hardway"', async () => {
  answer = (s, res) => (s.method === 'GET' ? json(res, 200, { metadata: { name: 'w1' }, spec: {} }) : json(res, 200, {}));
  seen.length = 0;
  const c = new HttpsWorkloadCluster(target);
  await c.apply([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ü', namespace: 'kube-system' }, data: { k: 'ß' } }]);
  await c.cordon('w1', new Date('2026-01-01T00:00:00Z'));
  await c.deleteNode('w1');
  assert.deepEqual(
    seen.map((s) => [s.method, s.url, s.contentType, s.contentLength === undefined ? undefined : Number(s.contentLength) === Buffer.byteLength(s.body)]),
    [
      ['PATCH', '/api/v1/namespaces/kube-system/configmaps/%C3%BC?fieldManager=hardway&force=true', 'application/apply-patch+yaml', true],
      ['GET', '/api/v1/nodes/w1', undefined, undefined],
      ['PATCH', '/api/v1/nodes/w1', 'application/merge-patch+json', true],
      ['DELETE', '/api/v1/nodes/w1', undefined, undefined],
    ],
  );
  assert.deepEqual(JSON.parse(seen[2]!.body), { spec: { unschedulable: true }, metadata: { annotations: { 'hardway.dev/drain-started': '2026-01-01T00:00:00.000Z' } } });
  c.close();
});

test('errors: the API\'s message with the status; readyz reads non-JSON; silence times out', async () => {
  const c = new HttpsWorkloadCluster(target, { timeoutMs: 200 });
  answer = (s, res) => {
    if (s.url === '/readyz') {
      res.statusCode = 500;
      return res.end(`[-]etcd failed: reason withheld\n${'x'.repeat(400)}`);
    }
    json(res, 403, { kind: 'Status', code: 403, message: 'nodes is forbidden: User "admin" cannot list resource "nodes"' });
  };
  await assert.rejects(c.listNodes(), (e: unknown) => e instanceof WorkloadError && e.status === 403 && /cannot list resource "nodes"/.test(e.message));
  const r = await c.readyz();
  assert.equal(r.ok, false);
  assert.match(r.message!, /^HTTP 500: \[-\]etcd failed/);
  assert.ok(r.message!.length <= 'HTTP 500: '.length + 200);

  answer = () => {}; // never answers
  await assert.rejects(c.deleteNode('w1'), (e: unknown) => e instanceof WorkloadError && e.status === 0 && /no answer within 200 ms/.test(e.message));
  c.close();
});

test('toWorkloadNode: Ready condition, unschedulable, kubelet version, drain annotation (ignored when unparsable)', () => {
  assert.deepEqual(
    toWorkloadNode({
      metadata: { name: 'w1', annotations: { 'hardway.dev/drain-started': '2026-01-01T00:00:00Z' } },
      spec: { unschedulable: true },
      status: { conditions: [{ type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: 'PLEG is not healthy' }], nodeInfo: { kubeletVersion: 'v1.34.2' } },
    }),
    { name: 'w1', ready: 'False', message: 'KubeletNotReady: PLEG is not healthy', unschedulable: true, kubeletVersion: 'v1.34.2', drainStartedAt: new Date('2026-01-01T00:00:00Z') },
  );
  assert.deepEqual(toWorkloadNode({ metadata: { name: 'w2', annotations: { 'hardway.dev/drain-started': 'yesterday' } } }), { name: 'w2', ready: 'Unknown', unschedulable: false });
});
