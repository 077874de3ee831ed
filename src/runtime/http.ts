// /healthz (the process is alive and not wedged), /readyz (informers synced; the lease held if leading),
// /metrics (Prometheus text).
import { createServer, type Server } from 'node:http';
import type { Metrics } from './metrics.ts';

export type Check = () => { ok: boolean; message?: string };

export interface HealthServerOptions {
  host: string;
  port: number;
  metrics?: Metrics;
  liveness?: Record<string, Check>;
  readiness?: Record<string, Check>;
}

function runChecks(checks: Record<string, Check> | undefined) {
  const results = Object.entries(checks ?? {}).map(([name, check]) => {
    try {
      return { name, ...check() };
    } catch (err) {
      return { name, ok: false, message: err instanceof Error ? err.message : String(err) };
    }
  });
  return { ok: results.every((r) => r.ok), results };
}

export function startHealthServer(o: HealthServerOptions): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const respond = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return respond(405, 'method not allowed\n');
    if (url.pathname === '/healthz' || url.pathname === '/readyz') {
      const { ok, results } = runChecks(url.pathname === '/healthz' ? o.liveness : o.readiness);
      // Like the API server: a short answer by default, every check with ?verbose.
      const lines = results.map((r) => `[${r.ok ? '+' : '-'}]${r.name} ${r.ok ? 'ok' : `failed: ${r.message ?? ''}`}`);
      const body = url.searchParams.has('verbose') || !ok ? `${lines.join('\n')}\n${ok ? 'ok' : 'failed'}\n` : 'ok\n';
      return respond(ok ? 200 : 503, body);
    }
    if (url.pathname === '/metrics' && o.metrics) {
      o.metrics.registry
        .metrics()
        .then((text) => respond(200, text, o.metrics!.registry.contentType))
        .catch((err: Error) => respond(500, `${err.message}\n`));
      return;
    }
    respond(404, 'not found\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      const port = (server.address() as { port: number }).port;
      resolve({ server, port, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}
