// Strict CIDR parsing and arithmetic for validation (and later for picking service IPs). Pure.

export interface Cidr {
  family: 4 | 6;
  /** The address as written, as an unsigned integer. */
  address: bigint;
  prefix: number;
  text: string;
}

const BITS = { 4: 32, 6: 128 } as const;

function parseIPv4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    // Leading zeros are refused, as Go's net.ParseIP does since 1.17 (they used to mean octal).
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseIPv6(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const g = items[i]!;
      if (i === items.length - 1 && g.includes('.')) {
        const v4 = parseIPv4(g);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) {
        out.push(parseInt(g, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

/** Parses "a.b.c.d/n" or an IPv6 CIDR. Returns a reason string when it does not parse. */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  if (slash < 0) return 'is not a CIDR: it needs a prefix length such as /24';
  const ip = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  const family: 4 | 6 = ip.includes(':') ? 6 : 4;
  const address = family === 4 ? parseIPv4(ip) : parseIPv6(ip);
  if (address === undefined) return `has an invalid IPv${family} address "${ip}"`;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > BITS[family]) {
    return `has an invalid prefix length "/${prefixText}" (0 to ${BITS[family]} for IPv${family})`;
  }
  return { family, address, prefix: Number(prefixText), text };
}

function hostMask(c: Cidr): bigint {
  return (1n << BigInt(BITS[c.family] - c.prefix)) - 1n;
}

export function networkAddress(c: Cidr): bigint {
  return c.address & ~hostMask(c);
}

export function formatAddress(family: 4 | 6, v: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join('.');
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((v >> s) & 0xffffn).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** The CIDR as it should be written, with host bits cleared: 10.0.0.5/16 → 10.0.0.0/16. */
export function canonicalCidr(c: Cidr): string {
  return `${formatAddress(c.family, networkAddress(c))}/${c.prefix}`;
}

export function hasHostBits(c: Cidr): boolean {
  return (c.address & hostMask(c)) !== 0n;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const shorter = Math.min(a.prefix, b.prefix);
  const bits = BigInt(BITS[a.family] - shorter);
  return a.address >> bits === b.address >> bits;
}

export function size(c: Cidr): bigint {
  return 1n << BigInt(BITS[c.family] - c.prefix);
}

/** The n-th address of the network (n = 1 is the first usable one in a service range). */
export function nthAddress(c: Cidr, n: number): string {
  if (BigInt(n) >= size(c)) throw new RangeError(`${c.text} has no address number ${n}`);
  return formatAddress(c.family, networkAddress(c) + BigInt(n));
}
