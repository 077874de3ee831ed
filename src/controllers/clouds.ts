// Cloud clients per credentials Secret. Clients (and their fleet caches) are shared by every object that
// uses the same token, so a resync lists each account's fleet once.
import { createHash } from 'node:crypto';
import type { KubeClient, KObject } from '../kube/port.ts';
import { Secrets } from '../kube/resources.ts';
import { isNotFound } from '../kube/errors.ts';
import type { Compute, Dns } from '../cloud/ports.ts';
import { DigitalOceanCompute } from '../cloud/digitalocean/compute.ts';
import { CloudflareDns } from '../cloud/cloudflare/dns.ts';
import { DropletCache } from '../cloud/digitalocean/droplet-cache.ts';
import { FLEET_TAG } from '../cloud/tags.ts';
import type { Metrics } from '../runtime/metrics.ts';
import { TokenGate } from '../cloud/token-gate.ts';

export interface Clouds {
  compute: Compute;
  dns: Dns;
  droplets: DropletCache;
}

export interface CloudEndpoints {
  digitalOceanUrl?: string;
  cloudflareUrl?: string;
  timeoutMs?: number;
  fleetCacheTtlMs?: number;
}

export type CredentialsProblem = { reason: 'CredentialsNotFound' | 'CredentialsInvalid'; message: string };

export class CloudFactory {
  private readonly byToken = new Map<string, Clouds>();
  /** The clients each credentials Secret last gave, so cleanup can finish after the Secret went first. */
  private readonly lastBySecret = new Map<string, Clouds>();
  private readonly gates = new Map<string, TokenGate>();

  constructor(
    private readonly kube: KubeClient,
    private readonly endpoints: CloudEndpoints = {},
    private readonly metrics?: Metrics,
  ) {}

  /** Reads the credentials Secret; a problem (missing Secret or key) comes back as a value, not a throw. */
  /**
   * With forCleanup, a Secret that is gone is not a problem if this process used it before: Argo CD prune
   * and `helm uninstall` delete the credentials together with the objects that still need them to clean up.
   */
  async forSecret(namespace: string, name: string, o: { forCleanup?: boolean } = {}): Promise<Clouds | CredentialsProblem> {
    let secret: KObject & { data?: Record<string, string> };
    try {
      secret = await this.kube.get(Secrets, { namespace, name });
    } catch (e) {
      const remembered = this.lastBySecret.get(`${namespace}/${name}`);
      if (isNotFound(e) && o.forCleanup && remembered) return remembered;
      if (isNotFound(e)) return { reason: 'CredentialsNotFound', message: `Secret ${namespace}/${name} does not exist` };
      throw e;
    }
    const read = (k: string) => (secret.data?.[k] ? Buffer.from(secret.data[k]!, 'base64').toString('utf8').trim() : '');
    const doToken = read('digitalocean-token');
    const cfToken = read('cloudflare-api-token');
    const missing = [!doToken && 'digitalocean-token', !cfToken && 'cloudflare-api-token'].filter(Boolean);
    if (missing.length) return { reason: 'CredentialsNotFound', message: `Secret ${namespace}/${name} has no ${missing.join(' or ')}` };
    const clouds = this.forTokens(doToken, cfToken);
    this.lastBySecret.set(`${namespace}/${name}`, clouds);
    return clouds;
  }

  /** One gate per token, whichever pair of tokens it is used in: a rate limit is the token's, not the Secret's. */
  private gate(provider: string, token: string): TokenGate {
    const key = createHash('sha256').update(`${provider}\0${token}`).digest('hex');
    let g = this.gates.get(key);
    if (!g) this.gates.set(key, (g = new TokenGate()));
    return g;
  }

  forTokens(doToken: string, cfToken: string): Clouds {
    // Keyed by a hash: tokens themselves are never kept as map keys (heap dumps, debug output).
    const key = createHash('sha256').update(`${doToken}\0${cfToken}`).digest('hex');
    let c = this.byToken.get(key);
    if (!c) {
      const observe = (provider: string) => (operation: string, status: number, rl: { remaining?: number }) => this.metrics?.observeCloudCall(provider, operation, status, rl.remaining);
      const compute = new DigitalOceanCompute({ token: doToken, baseUrl: this.endpoints.digitalOceanUrl, timeoutMs: this.endpoints.timeoutMs, observe: observe('digitalocean'), gate: this.gate('digitalocean', doToken) });
      const dns = new CloudflareDns({ token: cfToken, baseUrl: this.endpoints.cloudflareUrl, timeoutMs: this.endpoints.timeoutMs, observe: observe('cloudflare') });
      c = { compute, dns, droplets: new DropletCache(compute, { fleetTag: FLEET_TAG, ttlMs: this.endpoints.fleetCacheTtlMs }) };
      this.byToken.set(key, c);
    }
    return c;
  }
}
