// HttpKubeHealth against the real test kube-apiserver's /readyz and /livez.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { kubeEnv, type KubeEnv } from './env.ts';
import { workloadTargetFor, TEST_SERVER_NAME } from './workload-target.ts';
import { HttpKubeHealth } from '../../src/health/probes.ts';
import { freePort } from '../env/cluster.ts';

let env: KubeEnv;
before(async () => (env = await kubeEnv()));
after(async () => env?.close());

test('apiserver /readyz and /livez of the real server are ok; components not running are reported, not thrown', async () => {
  const t = workloadTargetFor(env.kubeconfig);
  const nothing = await freePort();
  const h = new HttpKubeHealth({ ports: { apiserver: t.port, controllerManager: nothing, scheduler: nothing } });
  const creds = { ca: t.ca, cert: t.cert, key: t.key };
  const r = await h.controlPlane({ ip: t.ip, dnsName: TEST_SERVER_NAME }, creds);
  assert.deepEqual(r.apiserverReady, { ok: true });
  assert.deepEqual(r.apiserverLive, { ok: true });
  assert.match(r.controllerManager.message!, /ECONNREFUSED/);
  assert.match(r.scheduler.message!, /ECONNREFUSED/);

  const wrong = await h.controlPlane({ ip: t.ip, dnsName: 'demo-cp-aaaaa.example.com' }, creds);
  assert.equal(wrong.apiserverReady.ok, false);
  assert.match(wrong.apiserverReady.message!, /certificate is not valid for demo-cp-aaaaa\.example\.com/);
});
