// DigitalOcean's droplet metadata service for the test machines: HTTP on 169.254.169.254:80 (on the
// machines' bridge), answering each machine about itself, recognised by the address it connects from.
// Paths and shapes from DigitalOcean's Metadata API reference (docs.digitalocean.com/reference/api/metadata/:
// "Droplet Properties" for the index, id, hostname, user-data and v1.json; "Network Interfaces" for
// interfaces/{public,private}/0/ipv4/{address,netmask,gateway}, mac and type). Unknown paths answer 404,
// as the reference says.
// Lenient where the reference is unclear: "Droplet Properties" says an index asked for without its
// trailing slash answers 301, while "Network Interfaces" shows /metadata/v1/interfaces answering the
// index; both forms answer the index here (the node scripts ask for leaf values only).
import { createServer, type Server } from 'node:http';

export interface MetadataDroplet {
  id: number;
  name: string;
  region: string;
  userData?: string;
  tags: string[];
  privateIp: string;
  publicIp?: string;
  privatePrefix: number;
  publicPrefix: number;
  publicGateway?: string;
}

const netmask = (prefix: number) => [0, 8, 16, 24].map((s) => ((0xffffffff << (32 - prefix)) >>> (24 - s)) & 0xff).join('.');

/** The answer for one path, or undefined for 404. */
export function metadataAnswer(d: MetadataDroplet, p: string): { type: string; body: string } | undefined {
  const text = (body: string) => ({ type: 'text/plain; charset=utf-8', body });
  const index = (items: string[]) => text(items.join('\n'));
  const iface = (kind: 'public' | 'private') =>
    kind === 'public'
      ? d.publicIp
        ? { ip_address: d.publicIp, netmask: netmask(d.publicPrefix), gateway: d.publicGateway ?? '' }
        : undefined
      : { ip_address: d.privateIp, netmask: netmask(d.privatePrefix), gateway: '' };
  const mac = (kind: string) => `02:00:00:${kind === 'public' ? '00' : '01'}:${((d.id >> 8) & 0xff).toString(16).padStart(2, '0')}:${(d.id & 0xff).toString(16).padStart(2, '0')}`;
  if (p === '/metadata/v1.json') {
    const ifs = (kind: 'public' | 'private') => {
      const a = iface(kind);
      return a ? [{ ipv4: a, mac: mac(kind), type: kind }] : [];
    };
    return { type: 'application/json', body: JSON.stringify({ droplet_id: d.id, hostname: d.name, user_data: d.userData ?? '', region: d.region, tags: d.tags, interfaces: { public: ifs('public'), private: ifs('private') }, public_keys: [] }) };
  }
  const rest = p.replace(/^\/metadata\/v1\/?/, '/');
  if (!p.startsWith('/metadata/v1')) return undefined;
  switch (rest.replace(/\/$/, '')) {
    case '':
      return index(['id', 'hostname', 'user-data', 'vendor-data', 'public-keys', 'region', 'interfaces/', 'dns/', 'floating_ip/', 'reserved_ip/', 'tags/', 'features/']);
    case '/id':
      return text(String(d.id));
    case '/hostname':
      return text(d.name);
    case '/user-data':
      return text(d.userData ?? '');
    case '/vendor-data':
      return text('');
    case '/public-keys':
      return text('');
    case '/region':
      return text(d.region);
    case '/tags':
      return index(d.tags);
    case '/interfaces':
      return index([...(d.publicIp ? ['public/'] : []), 'private/']);
  }
  const m = /^\/interfaces\/(public|private)(?:\/(0)(?:\/(mac|type|ipv4)(?:\/(address|netmask|gateway))?)?)?\/?$/.exec(rest);
  if (!m) return undefined;
  const kind = m[1] as 'public' | 'private';
  const a = iface(kind);
  if (!a) return undefined;
  if (!m[2]) return index(['0/']);
  if (!m[3]) return index(['mac', 'type', 'ipv4/']);
  if (m[3] === 'mac') return text(mac(kind));
  if (m[3] === 'type') return text(kind);
  if (!m[4]) return index(['address', 'netmask', 'gateway']);
  return text(m[4] === 'address' ? a.ip_address : m[4] === 'netmask' ? a.netmask : a.gateway);
}

export interface MetadataServer {
  requests: { from: string; path: string; status: number }[];
  stop(): Promise<void>;
}

/** Serves on host:port; lookup finds the droplet a machine's address belongs to. */
export async function startMetadataServer(host: string, lookup: (address: string) => MetadataDroplet | undefined, port = 80): Promise<MetadataServer> {
  const requests: MetadataServer['requests'] = [];
  const server: Server = createServer((req, res) => {
    const from = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const d = lookup(from);
    const a = d && req.method === 'GET' ? metadataAnswer(d, new URL(req.url ?? '/', 'http://x').pathname) : undefined;
    const status = a ? 200 : 404;
    requests.push({ from, path: req.url ?? '', status });
    if (!a) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n');
    res.writeHead(200, { 'content-type': a.type }).end(a.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { requests, stop: () => new Promise<void>((r) => server.close(() => r())) };
}
