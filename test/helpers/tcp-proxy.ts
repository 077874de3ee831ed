// Plain TCP forwarding for the node simulator: a droplet's public address in front of its private one, and
// a DigitalOcean load balancer in front of the droplets carrying its tag. Bytes only: TLS stays end to end,
// so clients see the real server's certificate.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface Target {
  host: string;
  port: number;
}

/**
 * Addresses cut off from outside (a partitioned node's public address): listeners on them refuse every new
 * connection and forwarders drop the ones they carry. Shared by every listener in this process, the way one
 * network is; the simulator's nodes own distinct addresses.
 */
const cutOff = new Set<string>();
const cutListeners = new Set<{ host: string; cut(): void }>();

/** Cuts (true) or restores (false) the network path to an address. */
export function setReachable(host: string, reachable: boolean): void {
  if (reachable) {
    cutOff.delete(host);
    return;
  }
  cutOff.add(host);
  for (const l of cutListeners) if (l.host === host) l.cut();
}

/** Makes a server listening on host refuse new connections while host is cut off. */
export function guard(server: Server, host: string): void {
  server.on('connection', (s: Socket) => {
    if (cutOff.has(host)) s.destroy();
  });
}

export interface Forwarder {
  host: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Listens on host:port. Each connection goes to the first of targets() (tried in rotation, so a pool is
 * shared) that accepts it: a target that refuses is skipped, as a load balancer's health check would. When
 * none accepts, the client's connection is closed.
 */
export async function forward(host: string, port: number, targets: () => Target[]): Promise<Forwarder> {
  const open = new Set<Socket>();
  let next = 0;
  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    if (cutOff.has(host)) {
      client.destroy();
      return;
    }
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    const list = targets();
    const start = next++;
    const attempt = (i: number) => {
      if (i >= list.length || client.destroyed) {
        client.destroy();
        return;
      }
      const t = list[(start + i) % list.length]!;
      const upstream = connect(t.port, t.host);
      open.add(upstream);
      upstream.on('close', () => open.delete(upstream));
      const refused = () => {
        upstream.destroy();
        attempt(i + 1);
      };
      upstream.once('error', refused);
      upstream.once('connect', () => {
        upstream.off('error', refused);
        upstream.on('error', () => client.destroy());
        upstream.on('close', () => client.destroy());
        client.on('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  const cut = { host, cut: () => [...open].forEach((s) => s.destroy()) };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  cutListeners.add(cut);
  return {
    host,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        cutListeners.delete(cut);
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
