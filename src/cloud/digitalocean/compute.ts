// The Compute port over DigitalOcean: JSON in the provider's shapes in, our types out.
import { DigitalOceanClient, type DigitalOceanClientOptions } from './client.ts';
import { FLEET_TAG } from '../tags.ts';
import { CloudError } from '../errors.ts';
import type { Json } from '../json.ts';
import { MAX_NAMES_PER_CREATE } from '../limits.ts';
import type {
  Compute,
  Droplet,
  DropletSpec,
  Firewall,
  FirewallRule,
  FirewallSpec,
  LoadBalancer,
  LoadBalancerSpec,
  Action,
  Account,
  Result,
} from '../ports.ts';


export function toDroplet(d: Json): Droplet {
  const v4 = (d.networks?.v4 ?? []) as Json[];
  return {
    id: d.id,
    name: d.name,
    status: d.status,
    tags: d.tags ?? [],
    region: d.region?.slug ?? d.region,
    size: d.size_slug ?? d.size?.slug,
    image: d.image?.slug ?? String(d.image?.id ?? ''),
    privateIPv4: v4.find((n) => n.type === 'private')?.ip_address,
    publicIPv4: v4.find((n) => n.type === 'public')?.ip_address,
    vpcUUID: d.vpc_uuid,
    createdAt: d.created_at,
  };
}

const target = (t: FirewallRule['targets']): Json => ({
  ...(t.addresses?.length ? { addresses: t.addresses } : {}),
  ...(t.tags?.length ? { tags: t.tags } : {}),
  ...(t.dropletIds?.length ? { droplet_ids: t.dropletIds } : {}),
  ...(t.loadBalancerUids?.length ? { load_balancer_uids: t.loadBalancerUids } : {}),
});

const fromTarget = (t: Json | undefined): FirewallRule['targets'] => ({
  ...(t?.addresses?.length ? { addresses: t.addresses } : {}),
  ...(t?.tags?.length ? { tags: t.tags } : {}),
  ...(t?.droplet_ids?.length ? { dropletIds: t.droplet_ids } : {}),
  ...(t?.load_balancer_uids?.length ? { loadBalancerUids: t.load_balancer_uids } : {}),
});

function firewallBody(s: FirewallSpec): Json {
  return {
    name: s.name,
    tags: s.tags,
    inbound_rules: s.inbound.map((r) => ({ protocol: r.protocol, ports: r.ports, sources: target(r.targets) })),
    outbound_rules: s.outbound.map((r) => ({ protocol: r.protocol, ports: r.ports, destinations: target(r.targets) })),
  };
}

function toFirewall(f: Json): Firewall {
  return {
    id: f.id,
    name: f.name,
    status: f.status,
    tags: f.tags ?? [],
    inbound: (f.inbound_rules ?? []).map((r: Json) => ({ protocol: r.protocol, ports: r.ports, targets: fromTarget(r.sources) })),
    outbound: (f.outbound_rules ?? []).map((r: Json) => ({ protocol: r.protocol, ports: r.ports, targets: fromTarget(r.destinations) })),
  };
}

function toLoadBalancer(l: Json): LoadBalancer {
  return {
    id: l.id,
    name: l.name,
    status: l.status,
    ip: l.ip ?? '',
    region: l.region?.slug ?? l.region,
    tag: l.tag,
    vpcUUID: l.vpc_uuid,
    forwarding: (l.forwarding_rules ?? []).map((r: Json) => ({ entryPort: r.entry_port, targetPort: r.target_port, protocol: r.entry_protocol })),
    healthCheck: { protocol: l.health_check?.protocol ?? 'http', port: l.health_check?.port ?? 80, ...(l.health_check?.protocol !== 'tcp' ? { path: l.health_check?.path ?? '/' } : {}) },
  };
}

function loadBalancerBody(spec: LoadBalancerSpec): Json {
  return {
    name: spec.name,
    region: spec.region,
    tag: spec.tag,
    ...(spec.vpcUUID ? { vpc_uuid: spec.vpcUUID } : {}),
    forwarding_rules: spec.forwarding.map((f) => ({ entry_protocol: f.protocol, entry_port: f.entryPort, target_protocol: f.protocol, target_port: f.targetPort })),
    health_check: { protocol: spec.healthCheck.protocol, port: spec.healthCheck.port, ...(spec.healthCheck.path ? { path: spec.healthCheck.path } : {}) },
  };
}

/** Specs that may share one request: everything but the name identical (user-data included). */
function createGroups(specs: DropletSpec[]): DropletSpec[][] {
  const groups = new Map<string, DropletSpec[]>();
  for (const s of specs) {
    const { name: _name, ...rest } = s;
    const key = JSON.stringify(rest);
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  const chunks: DropletSpec[][] = [];
  for (const g of groups.values()) for (let i = 0; i < g.length; i += MAX_NAMES_PER_CREATE) chunks.push(g.slice(i, i + MAX_NAMES_PER_CREATE));
  return chunks;
}

export class DigitalOceanCompute implements Compute {
  readonly client: DigitalOceanClient;

  constructor(opts: DigitalOceanClientOptions) {
    this.client = new DigitalOceanClient(opts);
  }

  /** One object by path, mapped; a 404 means it does not exist (undefined), not an error. */
  private async getOne<T>(operation: string, path: string, map: (body: Json) => T): Promise<Result<T | undefined>> {
    try {
      const r = await this.client.idempotent<Json>(operation, 'GET', path);
      return { data: map(r.body), rateLimit: r.rateLimit };
    } catch (e) {
      if (e instanceof CloudError && e.notFound) return { data: undefined, rateLimit: this.client.rateLimit };
      throw e;
    }
  }

  async listDroplets(tag: string): Promise<Result<Droplet[]>> {
    // The fleet's listing is a routine check; one owner's is part of creating or healing it (droplet-cache.ts).
    const r = await this.client.listAll<Json>('droplets.list', '/v2/droplets', 'droplets', { tag_name: tag }, tag === FLEET_TAG ? 'routine' : 'urgent');
    return { data: r.body.map(toDroplet), rateLimit: r.rateLimit };
  }

  getDroplet(id: number): Promise<Result<Droplet | undefined>> {
    return this.getOne('droplets.get', `/v2/droplets/${id}`, (b) => toDroplet(b.droplet));
  }

  async createDroplets(specs: DropletSpec[]): Promise<Result<Droplet[]>> {
    const created: Droplet[] = [];
    let rateLimit = this.client.rateLimit;
    for (const chunk of createGroups(specs)) {
      const s = chunk[0]!;
      const body: Json = {
        ...(chunk.length === 1 ? { name: s.name } : { names: chunk.map((c) => c.name) }),
        region: s.region,
        size: s.size,
        image: s.image,
        tags: s.tags,
        ...(s.sshKeys?.length ? { ssh_keys: s.sshKeys } : {}),
        ...(s.userData ? { user_data: s.userData } : {}),
        ...(s.vpcUUID ? { vpc_uuid: s.vpcUUID } : {}),
        monitoring: true,
      };
      const r = await this.client.write<Json>('droplets.create', 'POST', '/v2/droplets', body);
      rateLimit = r.rateLimit;
      created.push(...(r.body.droplets ?? [r.body.droplet]).map(toDroplet));
    }
    return { data: created, rateLimit };
  }

  private async deleteIgnoringMissing(operation: string, path: string): Promise<Result<void>> {
    try {
      const r = await this.client.idempotent<void>(operation, 'DELETE', path);
      return { data: undefined, rateLimit: r.rateLimit };
    } catch (e) {
      if (e instanceof CloudError && e.notFound) return { data: undefined, rateLimit: this.client.rateLimit };
      throw e;
    }
  }

  deleteDroplet(id: number): Promise<Result<void>> {
    return this.deleteIgnoringMissing('droplets.delete', `/v2/droplets/${id}`);
  }

  deleteDropletsByTag(tag: string): Promise<Result<void>> {
    return this.deleteIgnoringMissing('droplets.deleteByTag', `/v2/droplets?tag_name=${encodeURIComponent(tag)}`);
  }

  getAction(id: number): Promise<Result<Action | undefined>> {
    return this.getOne('actions.get', `/v2/actions/${id}`, ({ action: a }) => ({ id: a.id, status: a.status, type: a.type, resourceId: a.resource_id }));
  }

  async ensureTag(name: string): Promise<Result<void>> {
    // What POST /v2/tags answers for a tag that exists is not in the contract, so a refusal (or an answer
    // lost on the way) is checked by reading the tag rather than trusted either way.
    try {
      const r = await this.client.write<Json>('tags.create', 'POST', '/v2/tags', { name });
      return { data: undefined, rateLimit: r.rateLimit };
    } catch (e) {
      if (!(e instanceof CloudError) || e.rateLimited || e.unauthorized) throw e;
      const existing = await this.getOne('tags.get', `/v2/tags/${encodeURIComponent(name)}`, (b) => b.tag);
      if (existing.data) return { data: undefined, rateLimit: existing.rateLimit };
      throw e;
    }
  }

  async tagDroplets(tag: string, dropletIds: number[], on: boolean): Promise<Result<void>> {
    // Droplet IDs go as strings on this endpoint (FACTS §2).
    const resources = dropletIds.map((id) => ({ resource_id: String(id), resource_type: 'droplet' }));
    const path = `/v2/tags/${encodeURIComponent(tag)}/resources`;
    // Both are idempotent: tagging twice or untagging an untagged droplet changes nothing.
    if (!on) {
      try {
        return { data: undefined, rateLimit: (await this.client.idempotent<Json>('tags.detach', 'DELETE', path, { resources })).rateLimit };
      } catch (e) {
        // A tag that does not exist is on no droplet: nothing to detach.
        if (e instanceof CloudError && e.status === 404) return { data: undefined, rateLimit: { provider: 'digitalocean' } };
        throw e;
      }
    }
    try {
      return { data: undefined, rateLimit: (await this.client.write<Json>('tags.attach', 'POST', path, { resources })).rateLimit };
    } catch (e) {
      // Attaching needs the tag to exist (droplet create makes tags on use, this endpoint does not).
      if (!(e instanceof CloudError && e.status === 404)) throw e;
      await this.ensureTag(tag);
      return { data: undefined, rateLimit: (await this.client.write<Json>('tags.attach', 'POST', path, { resources })).rateLimit };
    }
  }

  async listFirewalls(): Promise<Result<Firewall[]>> {
    const r = await this.client.listAll<Json>('firewalls.list', '/v2/firewalls', 'firewalls');
    return { data: r.body.map(toFirewall), rateLimit: r.rateLimit };
  }

  async createFirewall(spec: FirewallSpec): Promise<Result<Firewall>> {
    const r = await this.client.write<Json>('firewalls.create', 'POST', '/v2/firewalls', firewallBody(spec));
    return { data: toFirewall(r.body.firewall), rateLimit: r.rateLimit };
  }

  async updateFirewall(id: string, spec: FirewallSpec): Promise<Result<Firewall>> {
    // PUT replaces the whole firewall; we always send the full desired state.
    const r = await this.client.write<Json>('firewalls.update', 'PUT', `/v2/firewalls/${id}`, firewallBody(spec));
    return { data: toFirewall(r.body.firewall), rateLimit: r.rateLimit };
  }

  deleteFirewall(id: string): Promise<Result<void>> {
    return this.deleteIgnoringMissing('firewalls.delete', `/v2/firewalls/${id}`);
  }

  async listLoadBalancers(): Promise<Result<LoadBalancer[]>> {
    const r = await this.client.listAll<Json>('loadBalancers.list', '/v2/load_balancers', 'load_balancers');
    return { data: r.body.map(toLoadBalancer), rateLimit: r.rateLimit };
  }

  async createLoadBalancer(spec: LoadBalancerSpec): Promise<Result<LoadBalancer>> {
    const r = await this.client.write<Json>('loadBalancers.create', 'POST', '/v2/load_balancers', loadBalancerBody(spec));
    return { data: toLoadBalancer(r.body.load_balancer), rateLimit: r.rateLimit };
  }

  async updateLoadBalancer(id: string, spec: LoadBalancerSpec): Promise<Result<LoadBalancer>> {
    const r = await this.client.write<Json>('loadBalancers.update', 'PUT', `/v2/load_balancers/${id}`, loadBalancerBody(spec));
    return { data: toLoadBalancer(r.body.load_balancer), rateLimit: r.rateLimit };
  }

  getLoadBalancer(id: string): Promise<Result<LoadBalancer | undefined>> {
    return this.getOne('loadBalancers.get', `/v2/load_balancers/${id}`, (b) => toLoadBalancer(b.load_balancer));
  }

  deleteLoadBalancer(id: string): Promise<Result<void>> {
    return this.deleteIgnoringMissing('loadBalancers.delete', `/v2/load_balancers/${id}`);
  }

  async getAccount(): Promise<Result<Account>> {
    const r = await this.client.idempotent<Json>('account.get', 'GET', '/v2/account');
    return { data: { dropletLimit: r.body.account.droplet_limit, status: r.body.account.status }, rateLimit: r.rateLimit };
  }

  async listRegions(): Promise<Result<{ slug: string; available: boolean; sizes: string[] }[]>> {
    const r = await this.client.listAll<Json>('regions.list', '/v2/regions', 'regions');
    return { data: r.body.map((x) => ({ slug: x.slug, available: x.available, sizes: x.sizes })), rateLimit: r.rateLimit };
  }

  async listSizes(): Promise<Result<{ slug: string; available: boolean; regions: string[] }[]>> {
    const r = await this.client.listAll<Json>('sizes.list', '/v2/sizes', 'sizes');
    return { data: r.body.map((x) => ({ slug: x.slug, available: x.available, regions: x.regions })), rateLimit: r.rateLimit };
  }

  getImage(slug: string): Promise<Result<{ slug?: string; id: number; regions: string[] } | undefined>> {
    return this.getOne('images.get', `/v2/images/${encodeURIComponent(slug)}`, ({ image }) => ({ slug: image.slug, id: image.id, regions: image.regions }));
  }
}
