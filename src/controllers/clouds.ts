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
import { ListingCache } from '../cloud/digitalocean/listing-cache.ts';
import type { DnsRecord, Firewall, LoadBalancer } from '../cloud/ports.ts';
import { FLEET_TAG } from '../cloud/tags.ts';
import type { Metrics } from '../runtime/metrics.ts';
import { TokenBudget, DIGITALOCEAN_LIMITS, CLOUDFLARE_LIMITS, type BudgetWindow } from '../cloud/token-budget.ts';

export interface Clouds {
  compute: Compute;
  dns: Dns;
  droplets: DropletCache;
  /** Every firewall and load balancer on the account, listed once per listingCacheTtlMs for all objects. */
  firewalls: ListingCache<Firewall>;
  loadBalancers: ListingCache<LoadBalancer>;
  /** Every record an object of this operator owns in a zone, listed once per listingCacheTtlMs for all of them. */
  records: (zoneId: string) => ListingCache<DnsRecord>;
}

/** The clients of one pair of tokens with their shared listings (CloudFactory; tests build them directly). */
export function cloudsFor(compute: Compute, dns: Dns, o: { fleetCacheTtlMs?: number; fleetMsPerPage?: number; listingCacheTtlMs?: number; now?: () => number } = {}): Clouds {
  const listing = { ttlMs: o.listingCacheTtlMs ?? 300_000, now: o.now };
  const zones = new Map<string, ListingCache<DnsRecord>>();
  return {
    compute,
    dns,
    droplets: new DropletCache(compute, { fleetTag: FLEET_TAG, ttlMs: o.fleetCacheTtlMs, msPerPage: o.fleetMsPerPage, now: o.now }),
    firewalls: new ListingCache(() => compute.listFirewalls(), listing),
    loadBalancers: new ListingCache(() => compute.listLoadBalancers(), listing),
    records: (zoneId) => {
      let c = zones.get(zoneId);
      if (!c) zones.set(zoneId, (c = new ListingCache(() => dns.listRecords(zoneId, { anyOwner: true }), listing)));
      return c;
    },
  };
}

export interface CloudEndpoints {
  digitalOceanUrl?: string;
  cloudflareUrl?: string;
  timeoutMs?: number;
  /** Shortest age at which the fleet's droplets are listed again (DropletCache's ttlMs). */
  fleetCacheTtlMs?: number;
  /** DropletCache's msPerPage: the fleet listing's period grows with its pages (see there). */
  fleetMsPerPage?: number;
  /** How long a firewall or load-balancer listing serves every object (default 5 min). */
  listingCacheTtlMs?: number;
  /** The caches' and budgets' clock (tests move it). */
  now?: () => number;
  /** How a budget waits for room (tests run time faster). */
  sleep?: (ms: number) => Promise<void>;
  /** The longest a request waits for room in its token's budget before it is refused (TokenBudget's maxWaitMs). */
  budgetMaxWaitMs?: number;
}

export type CredentialsProblem = { reason: 'CredentialsNotFound' | 'CredentialsInvalid'; message: string };

export class CloudFactory {
  private readonly byToken = new Map<string, Clouds>();
  /** The clients each credentials Secret last gave, so cleanup can finish after the Secret went first. */
  private readonly lastBySecret = new Map<string, Clouds>();
  private readonly budgets = new Map<string, TokenBudget>();

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

  /** One budget per token, whichever pair of tokens it is used in: a rate limit is the token's, not the Secret's. */
  private budget(provider: string, token: string, windows: BudgetWindow[]): TokenBudget {
    const key = tokenIdentity(provider, token);
    let b = this.budgets.get(key);
    if (!b) this.budgets.set(key, (b = new TokenBudget({ windows, now: this.endpoints.now, sleep: this.endpoints.sleep, maxWaitMs: this.endpoints.budgetMaxWaitMs })));
    return b;
  }

  forTokens(doToken: string, cfToken: string): Clouds {
    // Keyed by a hash: tokens themselves are never kept as map keys (heap dumps, debug output).
    const key = createHash('sha256').update(`${doToken}\0${cfToken}`).digest('hex');
    let c = this.byToken.get(key);
    if (!c) {
      const doBudget = this.budget('digitalocean', doToken, DIGITALOCEAN_LIMITS);
      const cfBudget = this.budget('cloudflare', cfToken, CLOUDFLARE_LIMITS);
      // The remaining quota is labelled by the token's identity: with several tokens, one per provider would overwrite the others.
      const observe = (provider: string, token: string, budget: TokenBudget) => (operation: string, status: number) => this.metrics?.observeCloudCall(provider, operation, status, tokenIdentity(provider, token), budget.remaining());
      const compute = new DigitalOceanCompute({ token: doToken, baseUrl: this.endpoints.digitalOceanUrl, timeoutMs: this.endpoints.timeoutMs, observe: observe('digitalocean', doToken, doBudget), budget: doBudget, now: this.endpoints.now });
      const dns = new CloudflareDns({ token: cfToken, baseUrl: this.endpoints.cloudflareUrl, timeoutMs: this.endpoints.timeoutMs, observe: observe('cloudflare', cfToken, cfBudget), budget: cfBudget, now: this.endpoints.now });
      c = cloudsFor(compute, dns, this.endpoints);
      this.byToken.set(key, c);
    }
    return c;
  }
}

/**
 * A stable name for a token that does not reveal it: the first 12 hex digits of SHA-256 over the provider
 * and the token. An administrator finds which token it is with
 * `printf 'digitalocean\0%s' "$TOKEN" | sha256sum | cut -c1-12`.
 */
export function tokenIdentity(provider: string, token: string): string {
  return createHash('sha256').update(`${provider}\0${token}`).digest('hex').slice(0, 12);
}
