// What controllers may ask of the clouds. Adapters (digitalocean/, cloudflare/) implement these over the
// real APIs; controllers never see an SDK or an HTTP call.

export type Provider = 'digitalocean' | 'cloudflare';

export interface RateLimitState {
  provider: Provider;
  limit?: number;
  remaining?: number;
  /** When quota comes back (DigitalOcean: the oldest counted request expires; Cloudflare: window reset). */
  resetAt?: Date;
}

/** Every answer carries the provider's rate-limit state as of that response. */
export interface Result<T> {
  data: T;
  rateLimit: RateLimitState;
}

// ------------------------------------------------------------------------------------- Compute

export interface Droplet {
  id: number;
  name: string;
  status: 'new' | 'active' | 'off' | 'archive';
  tags: string[];
  region: string;
  size: string;
  image: string;
  privateIPv4?: string;
  publicIPv4?: string;
  vpcUUID?: string;
  createdAt: string;
}

export interface DropletSpec {
  name: string;
  region: string;
  size: string;
  image: string;
  sshKeys?: string[];
  tags: string[];
  userData?: string;
  vpcUUID?: string;
}

export interface FirewallRuleTarget {
  addresses?: string[];
  tags?: string[];
  dropletIds?: number[];
  loadBalancerUids?: string[];
}

export interface FirewallRule {
  protocol: 'tcp' | 'udp' | 'icmp';
  /** "22", "8000-9000", or "0" for all. */
  ports: string;
  targets: FirewallRuleTarget;
}

export interface FirewallSpec {
  name: string;
  /** Droplets the firewall applies to, by tag. */
  tags: string[];
  inbound: FirewallRule[];
  outbound: FirewallRule[];
}

export interface Firewall extends FirewallSpec {
  id: string;
  status: 'waiting' | 'succeeded' | 'failed';
}

export interface LoadBalancerSpec {
  name: string;
  region: string;
  /** Droplets behind it, by tag. */
  tag: string;
  vpcUUID?: string;
  forwarding: { entryPort: number; targetPort: number; protocol: 'tcp' }[];
  /** `path` is used by http and https checks (the contract's health_check schema). */
  healthCheck: { protocol: 'tcp' | 'http' | 'https'; port: number; path?: string };
}

export interface LoadBalancer extends LoadBalancerSpec {
  id: string;
  status: 'new' | 'active' | 'errored';
  /** Empty while provisioning. */
  ip: string;
}

export interface Action {
  id: number;
  status: 'in-progress' | 'completed' | 'errored';
  type: string;
  resourceId?: number;
}

export interface Account {
  dropletLimit: number;
  status: 'active' | 'warning' | 'locked';
}

export interface Compute {
  /** Every droplet carrying the tag (all pages). */
  listDroplets(tag: string): Promise<Result<Droplet[]>>;
  getDroplet(id: number): Promise<Result<Droplet | undefined>>;
  /**
   * Creates droplets. Never retried automatically: droplet names are not unique and create has no
   * idempotency key, so a retry could make a second droplet. Callers look up by tag before creating.
   */
  createDroplets(specs: DropletSpec[]): Promise<Result<Droplet[]>>;
  /** 404 (already gone) is success. */
  deleteDroplet(id: number): Promise<Result<void>>;
  deleteDropletsByTag(tag: string): Promise<Result<void>>;
  getAction(id: number): Promise<Result<Action | undefined>>;
  /** Makes the tag exist (firewalls and load balancers may only name existing tags). */
  ensureTag(name: string): Promise<Result<void>>;
  /** Adds or removes a tag on droplets (load-balancer membership follows a tag). Missing droplets are skipped. */
  tagDroplets(tag: string, dropletIds: number[], on: boolean): Promise<Result<void>>;

  listFirewalls(): Promise<Result<Firewall[]>>;
  createFirewall(spec: FirewallSpec): Promise<Result<Firewall>>;
  updateFirewall(id: string, spec: FirewallSpec): Promise<Result<Firewall>>;
  deleteFirewall(id: string): Promise<Result<void>>;

  listLoadBalancers(): Promise<Result<LoadBalancer[]>>;
  createLoadBalancer(spec: LoadBalancerSpec): Promise<Result<LoadBalancer>>;
  /** Replaces the whole load balancer (PUT): every setting is sent. */
  updateLoadBalancer(id: string, spec: LoadBalancerSpec): Promise<Result<LoadBalancer>>;
  getLoadBalancer(id: string): Promise<Result<LoadBalancer | undefined>>;
  deleteLoadBalancer(id: string): Promise<Result<void>>;

  getAccount(): Promise<Result<Account>>;
  listRegions(): Promise<Result<{ slug: string; available: boolean; sizes: string[] }[]>>;
  listSizes(): Promise<Result<{ slug: string; available: boolean; regions: string[] }[]>>;
  /** An image by slug (or numeric id); undefined if it does not exist. */
  getImage(slug: string): Promise<Result<{ slug?: string; id: number; regions: string[] } | undefined>>;
}

// ------------------------------------------------------------------------------------------ DNS

export interface Zone {
  id: string;
  name: string;
}

export interface DnsRecordSpec {
  /** Fully qualified name. */
  name: string;
  type: 'A' | 'AAAA' | 'CNAME' | 'TXT';
  content: string;
  ttl: number;
  /**
   * UID of the object the record belongs to. The adapter marks the record with it (Cloudflare: in the
   * comment, which every plan has; record tags are refused on Free zones) and adopts only records so marked.
   */
  owner?: string;
  /** A note for people, kept beside the owner mark (cut to fit the provider's limit). */
  comment?: string;
}

export interface DnsRecord extends DnsRecordSpec {
  id: string;
  proxied: boolean;
}

export interface RecordFilter {
  name?: string;
  type?: DnsRecordSpec['type'];
  /** Only records marked with this owner UID. */
  owner?: string;
  /** Only records marked with an owner (every object's, on this zone). */
  anyOwner?: boolean;
}

/**
 * CloudError code of a create that met a record of the same name it does not own: nothing is changed,
 * someone has to delete or rename that record.
 */
export const RECORD_NOT_OWNED = 'record_not_owned';

export interface Dns {
  verifyToken(): Promise<Result<boolean>>;
  /** The zone by name (cached), or undefined if the token cannot see it. */
  findZone(name: string): Promise<Result<Zone | undefined>>;
  listRecords(zoneId: string, filter: RecordFilter): Promise<Result<DnsRecord[]>>;
  /**
   * Creates a record, never proxied (proxying breaks mTLS). If Cloudflare says it exists (81057/81058),
   * the existing record is adopted and brought to the wanted state only if it carries `spec.owner`'s mark
   * (our own earlier create whose answer was lost); a record someone else owns, or nobody marked, is never
   * touched: the call fails with a CloudError whose code is RECORD_NOT_OWNED.
   */
  createRecord(zoneId: string, spec: DnsRecordSpec): Promise<Result<DnsRecord>>;
  updateRecord(zoneId: string, id: string, spec: DnsRecordSpec): Promise<Result<DnsRecord>>;
  /** 404 (already gone) is success. */
  deleteRecord(zoneId: string, id: string): Promise<Result<void>>;
}
