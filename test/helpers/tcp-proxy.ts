// Plain TCP forwarding for the node simulator: a droplet's public address in front of its private one, and
// a DigitalOcean load balancer in front of the droplets carrying its tag. Bytes only: TLS stays end to end,
// so clients see the real server's certificate.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface Target {
  host: string;
  port: number;
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    host,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
