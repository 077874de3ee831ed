import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CloudFactory, tokenIdentity } from './clouds.ts';
import { FakeKube } from '../kube/fake.ts';
import { FakeDigitalOcean } from '../cloud/fake/digitalocean.ts';
import { FakeCloudflare } from '../cloud/fake/cloudflare.ts';
import { Metrics } from '../runtime/metrics.ts';
import { digitalOceanContract, cloudflareContract } from '../../test/helpers/contracts.ts';

test('the remaining quota is one series per token, named by a hash that does not reveal it', async () => {
  const compute = await new FakeDigitalOcean({ tokens: ['dop_v1_one', 'dop_v1_two'], contract: digitalOceanContract() }).start();
  const dns = await new FakeCloudflare({ tokens: ['cf-a'], zones: ['example.com'], contract: cloudflareContract() }).start();
  try {
    const metrics = new Metrics({ defaultMetrics: false });
    const f = new CloudFactory(new FakeKube(), { digitalOceanUrl: compute.url, cloudflareUrl: dns.url }, metrics);
    const one = f.forTokens('dop_v1_one', 'cf-a');
    const two = f.forTokens('dop_v1_two', 'cf-a');
    await one.compute.getAccount();
    await one.compute.getAccount();
    await two.compute.getAccount();
    await two.dns.findZone('example.com');
    const text = await metrics.registry.metrics();
    const id = (provider: string, token: string) => createHash('sha256').update(`${provider}\0${token}`).digest('hex').slice(0, 12);
    assert.equal(tokenIdentity('digitalocean', 'dop_v1_one'), id('digitalocean', 'dop_v1_one'));
    assert.match(text, new RegExp(`hardway_cloud_ratelimit_remaining\\{provider="digitalocean",token="${id('digitalocean', 'dop_v1_one')}"\\} 4998`));
    assert.match(text, new RegExp(`hardway_cloud_ratelimit_remaining\\{provider="digitalocean",token="${id('digitalocean', 'dop_v1_two')}"\\} 4999`));
    assert.match(text, new RegExp(`hardway_cloud_ratelimit_remaining\\{provider="cloudflare",token="${id('cloudflare', 'cf-a')}"\\} 1199`));
    assert.ok(!text.includes('dop_v1_') && !text.includes('cf-a'), 'no token in the metrics');
  } finally {
    await compute.stop();
    await dns.stop();
  }
});
