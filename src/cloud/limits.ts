// DigitalOcean limits the operator stays inside, so that a request over one is refused here with a clear
// message instead of by DigitalOcean (or, for user-data, by a droplet that never boots). The loopback fake
// enforces the same numbers, each from the source named beside it.

/** Droplets per create request: "Up to ten Droplets may be created this way at a time" (FACTS §2.4). */
export const MAX_NAMES_PER_CREATE = 10;

/**
 * user_data "must be plain text and may not exceed 64 KiB in size" (contract
 * #/components/schemas/droplet_create/properties/user_data; no maxLength, no documented error body).
 */
export const USER_DATA_MAX_BYTES = 64 * 1024;

/**
 * Firewall limits. Not in ../shared/contracts (no maxItems anywhere under the firewall schemas); from
 * DigitalOcean's product docs, docs.digitalocean.com/products/networking/firewalls/details/limits/:
 * "a maximum of 10 Droplets per firewall and 5 tags per firewall", "up to 50 total incoming and outgoing
 * rules", "limited to 1000 entries in the Sources or Destinations field".
 */
export const FIREWALL_LIMITS = { dropletIds: 10, tags: 5, rules: 50, entriesPerTarget: 1000 } as const;

export interface FirewallShape {
  dropletIds: number;
  tags: number;
  rules: number;
  /** The most entries (addresses, tags, droplet ids, load balancers) any one rule's target has. */
  largestTarget: number;
}

/** What is over DigitalOcean's firewall limits, in words; empty when the firewall fits. */
export function firewallOverLimits(f: FirewallShape): string[] {
  const over: string[] = [];
  if (f.dropletIds > FIREWALL_LIMITS.dropletIds) over.push(`${f.dropletIds} droplet IDs (at most ${FIREWALL_LIMITS.dropletIds})`);
  if (f.tags > FIREWALL_LIMITS.tags) over.push(`${f.tags} tags (at most ${FIREWALL_LIMITS.tags})`);
  if (f.rules > FIREWALL_LIMITS.rules) over.push(`${f.rules} rules (at most ${FIREWALL_LIMITS.rules})`);
  if (f.largestTarget > FIREWALL_LIMITS.entriesPerTarget) over.push(`a rule with ${f.largestTarget} sources or destinations (at most ${FIREWALL_LIMITS.entriesPerTarget})`);
  return over;
}
