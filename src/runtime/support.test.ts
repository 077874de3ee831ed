// Events, configuration, logging and the health server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { EventRecorder } from './events.ts';
import { parseConfig, ConfigError } from './config.ts';
import { createLogger } from './logger.ts';
import { startHealthServer } from './http.ts';
import { Metrics } from './metrics.ts';
import { ManualClock } from './clock.ts';
import { FakeKube } from '../kube/fake.ts';
import { Events, EtcdClusters } from '../kube/resources.ts';
import type { KObject } from '../kube/port.ts';

function capture() {
  const lines: Record<string, any>[] = [];
  const log = createLogger({ level: 'debug', destination: new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }) });
  return { log, lines };
}

test('events: a repeat bumps count and lastTimestamp on the same Event', async () => {
  const kube = new FakeKube();
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const obj = await kube.create<KObject>(EtcdClusters, { metadata: { name: 'demo', namespace: 'ns' }, spec: {} });
  const rec = new EventRecorder(kube, { component: 'hardway-operator', log: capture().log, clock });
  await rec.record(obj, 'Warning', 'InvalidSpec', 'spec.replicas: must be odd');
  clock.advance(60_000);
  await rec.record(obj, 'Warning', 'InvalidSpec', 'spec.replicas: must be odd');
  await rec.record(obj, 'Normal', 'Created', 'droplet demo-etcd-abcde');
  const { items } = await kube.list<any>(Events, { namespace: 'ns' });
  assert.equal(items.length, 2);
  const warning = items.find((e) => e.reason === 'InvalidSpec');
  assert.equal(warning.count, 2);
  assert.equal(warning.firstTimestamp, '2026-01-01T00:00:00Z');
  assert.equal(warning.lastTimestamp, '2026-01-01T00:01:00Z');
  assert.deepEqual(warning.involvedObject, { apiVersion: 'hardway.dev/v1alpha1', kind: 'EtcdCluster', name: 'demo', namespace: 'ns', uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion });
  assert.equal(warning.source.component, 'hardway-operator');
});

test('events: an expired Event is re-created; API failures are logged, never thrown', async () => {
  const kube = new FakeKube();
  const { log, lines } = capture();
  const obj = await kube.create<KObject>(EtcdClusters, { metadata: { name: 'demo', namespace: 'ns' }, spec: {} });
  const rec = new EventRecorder(kube, { component: 'c', log });
  await rec.record(obj, 'Normal', 'R', 'm');
  const [first] = (await kube.list<any>(Events)).items;
  await kube.delete(Events, first.metadata);
  await rec.record(obj, 'Normal', 'R', 'm');
  assert.equal((await kube.list(Events)).items.length, 1);
  kube.failNext = () => new Error('apiserver down');
  await assert.doesNotReject(rec.record(obj, 'Normal', 'Other', 'm'));
  assert.ok(lines.some((l) => l.msg === 'could not record event'));
});

test('config: defaults, flags over environment, both flag forms', () => {
  const cfg = parseConfig(['--concurrency', '8', '--leader-elect=false', '--metrics-bind-address=127.0.0.1:9090'], {
    HARDWAY_CONCURRENCY: '2',
    HARDWAY_LOG_LEVEL: 'debug',
    POD_NAMESPACE: 'hardway-system',
  });
  assert.equal(cfg.concurrency, 8);
  assert.equal(cfg.leaderElect, false);
  assert.equal(cfg.logLevel, 'debug');
  assert.equal(cfg.metricsHost, '127.0.0.1');
  assert.equal(cfg.metricsPort, 9090);
  assert.equal(cfg.leaderElectionNamespace, 'hardway-system');
  assert.equal(cfg.resyncSeconds, 600);
  assert.equal(parseConfig(['--leader-elect'], {}).leaderElect, true, 'a bare boolean flag means true');
  assert.equal(parseConfig(['--metrics-bind-address', ':8080'], {}).metricsHost, '0.0.0.0');
});

test('config: every problem is reported at once, clearly', () => {
  const table: [string[], Record<string, string>, RegExp][] = [
    [['--concurrency=0'], {}, /--concurrency: "0" is not a whole number from 1 to 64/],
    [['--log-level=loud'], {}, /--log-level: "loud" is not one of fatal, error/],
    [['--metrics-bind-address=8080'], {}, /is not host:port/],
    [['--leader-elect=maybe'], {}, /"maybe" is not true or false/],
    [['--frobnicate'], {}, /unknown argument "--frobnicate"/],
    [['--kubeconfig'], {}, /--kubeconfig needs a value/],
    [[], { HARDWAY_RESYNC_SECONDS: '-1' }, /--resync-seconds: "-1"/],
  ];
  for (const [argv, env, want] of table) {
    assert.throws(() => parseConfig(argv, env), (e: unknown) => e instanceof ConfigError && want.test(e.message), argv.join(' '));
  }
  try {
    parseConfig(['--concurrency=0', '--log-level=loud'], {});
    assert.fail('should throw');
  } catch (e) {
    assert.equal((e as ConfigError).problems.length, 2);
  }
});

test('logger: tokens, keys, Secret data and user-data are redacted', () => {
  const { log, lines } = capture();
  log.info(
    {
      key: 'ns/demo',
      token: 'dop_v1_secret',
      credentials: { 'digitalocean-token': 'x', 'cloudflare-api-token': 'y' },
      secret: { data: { 'ca.key': 'S0VZ' } },
      droplet: { name: 'demo-etcd-abcde', user_data: '#cloud-config ...' },
      request: { headers: { authorization: 'Bearer abc' } },
      pki: { privateKey: '-----BEGIN' },
    },
    'reconciling',
  );
  const line = JSON.stringify(lines[0]);
  for (const secret of ['dop_v1_secret', '"x"', '"y"', 'S0VZ', '#cloud-config', 'Bearer abc', '-----BEGIN']) assert.ok(!line.includes(secret), `${secret} leaked: ${line}`);
  assert.equal(lines[0]!.key, 'ns/demo', 'object keys are not secrets');
  assert.equal(lines[0]!.droplet.name, 'demo-etcd-abcde');
});

test('logger: --log-format=text prints one readable line per entry, redacted the same, with the stack of an error', () => {
  const out: string[] = [];
  const log = createLogger({ level: 'debug', format: 'text', destination: new Writable({ write: (c, _e, cb) => (out.push(String(c)), cb()) }) });
  log.info({ kind: 'EtcdCluster', key: 'ns/demo', token: 'dop_v1_secret', retries: 2, note: 'two words' }, 'reconciling');
  log.error({ err: new Error('boom') }, 'reconcile failed; retrying with backoff');
  const text = out.join('');
  assert.match(text, /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}\[hardway-operator\] reconciling kind=EtcdCluster key=ns\/demo token=\[REDACTED\] retries=2 note="two words"\n/);
  assert.ok(!text.includes('dop_v1_secret'));
  assert.match(text, /ERROR \[hardway-operator\] reconcile failed; retrying with backoff err="boom"\n {4}Error: boom\n {8}at /);
  assert.equal(parseConfig(['--log-format=text'], {}).logFormat, 'text');
  assert.equal(parseConfig([], {}).logFormat, 'json');
  assert.throws(() => parseConfig(['--log-format=pretty'], {}), /--log-format: "pretty" is not one of json, text/);
});

test('health server: readyz follows its checks; metrics are served', async () => {
  let synced = false;
  const metrics = new Metrics({ defaultMetrics: false });
  metrics.reconcileTotal.inc({ kind: 'EtcdCluster', result: 'success' });
  const srv = await startHealthServer({
    host: '127.0.0.1',
    port: 0,
    metrics,
    liveness: { ping: () => ({ ok: true }) },
    readiness: { informers: () => ({ ok: synced, message: 'not synced: EtcdCluster' }) },
  });
  const get = async (p: string) => {
    const r = await fetch(`http://127.0.0.1:${srv.port}${p}`);
    return { status: r.status, body: await r.text() };
  };
  try {
    assert.equal((await get('/healthz')).status, 200);
    const notReady = await get('/readyz');
    assert.equal(notReady.status, 503);
    assert.match(notReady.body, /\[-\]informers failed: not synced: EtcdCluster/);
    synced = true;
    assert.deepEqual(await get('/readyz'), { status: 200, body: 'ok\n' });
    assert.match((await get('/readyz?verbose')).body, /\[\+\]informers ok/);
    assert.match((await get('/metrics')).body, /hardway_reconcile_total\{kind="EtcdCluster",result="success"\} 1/);
    assert.equal((await get('/nope')).status, 404);
  } finally {
    await srv.close();
  }
});
