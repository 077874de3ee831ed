// What every converge harness starts with: the in-memory API server holding the credentials Secret, the
// contract-checked cloud fakes, and a debug logger whose lines tests read and whose writes wake `until`.
import { Writable } from 'node:stream';
import { EventEmitter } from 'node:events';
import { FakeKube } from '../../src/kube/fake.ts';
import { Secrets } from '../../src/kube/resources.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { FakeDigitalOcean } from '../../src/cloud/fake/digitalocean.ts';
import { FakeCloudflare } from '../../src/cloud/fake/cloudflare.ts';
import { digitalOceanContract, cloudflareContract } from './contracts.ts';

export async function harnessBase(o: { provisionDelayMs: number }) {
  const kube = new FakeKube();
  // Lists lag creates and deletes take a moment, as on DigitalOcean (see the fake's listLagMs).
  const compute = await new FakeDigitalOcean({ tokens: ['dop_v1_harness'], provisionDelayMs: o.provisionDelayMs, contract: digitalOceanContract(), minuteLimit: 100_000, listLagMs: 1_000, deleteDelayMs: 500 }).start();
  const dns = await new FakeCloudflare({ tokens: ['cf-harness'], zones: ['example.com'], contract: cloudflareContract(), limitPer5Min: 100_000 }).start();
  const lines: Record<string, any>[] = [];
  // Anything a test may wait for: object changes, log lines, cloud state (checked on those events).
  const bus = new EventEmitter();
  bus.setMaxListeners(200);
  const log = createLogger({
    level: 'debug',
    destination: new Writable({
      write: (c, _e, cb) => {
        lines.push(JSON.parse(String(c)));
        bus.emit('change');
        cb();
      },
    }),
  });
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  await kube.create(Secrets, { metadata: { name: 'demo-credentials', namespace: 'ns' }, data: { 'digitalocean-token': b64('dop_v1_harness'), 'cloudflare-api-token': b64('cf-harness') } });
  return { kube, compute, dns, lines, bus, log, b64 };
}
