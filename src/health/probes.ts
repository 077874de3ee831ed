// KubeHealth over the network (BRIEF section 4): each component's health endpoint on the node's IP, with
// the certificate verified against the node's DNS name and the cluster CA. The client certificate is
// presented everywhere (harmless where anonymous /healthz is allowed). One call's probes run concurrently,
// each with a short timeout; failures become {ok:false, message}, never exceptions.
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { checkServerIdentity } from 'node:tls';
import type { ControlPlaneHealth, KubeHealth, NodeAddress, ProbeCredentials, ProbeResult, WorkerHealth } from './kube.ts';

export interface KubePorts {
  apiserver: number;
  controllerManager: number;
  scheduler: number;
  kubelet: number;
  kubeProxy: number;
}

export const DEFAULT_KUBE_PORTS: KubePorts = { apiserver: 6443, controllerManager: 10257, scheduler: 10259, kubelet: 10250, kubeProxy: 10256 };

export interface HttpKubeHealthOptions {
  /** Per-probe timeout; default 3000 ms. */
  timeoutMs?: number;
  /** Ports to probe (tests); defaults DEFAULT_KUBE_PORTS. */
  ports?: Partial<KubePorts>;
}

export class HttpKubeHealth implements KubeHealth {
  private readonly ports: KubePorts;

  constructor(private readonly o: HttpKubeHealthOptions = {}) {
    this.ports = { ...DEFAULT_KUBE_PORTS, ...o.ports };
  }

  async controlPlane(node: NodeAddress, creds: ProbeCredentials): Promise<ControlPlaneHealth> {
    const [apiserverReady, apiserverLive, controllerManager, scheduler] = await Promise.all([
      this.probe(node, this.ports.apiserver, '/readyz', creds),
      this.probe(node, this.ports.apiserver, '/livez', creds),
      this.probe(node, this.ports.controllerManager, '/healthz', creds),
      this.probe(node, this.ports.scheduler, '/healthz', creds),
    ]);
    return { apiserverReady, apiserverLive, controllerManager, scheduler };
  }

  async worker(node: NodeAddress, creds: ProbeCredentials): Promise<WorkerHealth> {
    const [kubelet, kubeProxy] = await Promise.all([this.probe(node, this.ports.kubelet, '/healthz', creds), this.probe(node, this.ports.kubeProxy, '/healthz')]);
    return { kubelet, kubeProxy };
  }

  /** GET over HTTPS when creds are given, else plain HTTP (kube-proxy). 200 is healthy. */
  private probe(node: NodeAddress, port: number, path: string, creds?: ProbeCredentials): Promise<ProbeResult> {
    const timeout = this.o.timeoutMs ?? 3000;
    return new Promise<ProbeResult>((resolve) => {
      const onResponse = (res: IncomingMessage) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (body.length < 1000) body += d;
        });
        res.on('error', (e) => resolve({ ok: false, message: e.message }));
        res.on('end', () => resolve(res.statusCode === 200 ? { ok: true } : { ok: false, message: `HTTP ${res.statusCode}: ${failedChecks(body)}` }));
      };
      let req: ClientRequest;
      try {
        // A fresh connection per probe (agent: false): no pooled sockets outlive a probe.
        const common = { host: node.ip, port, path, method: 'GET', timeout, agent: false as const, headers: { accept: 'text/plain, application/json' } };
        req = creds
          ? httpsRequest(
              {
                ...common,
                ca: creds.ca,
                cert: creds.cert,
                key: creds.key,
                // SNI only for DNS names; identity is always checked against the name we issued.
                ...(isIP(node.dnsName) ? {} : { servername: node.dnsName }),
                checkServerIdentity: (_host, cert) => checkServerIdentity(node.dnsName, cert),
              },
              onResponse,
            )
          : httpRequest(common, onResponse);
      } catch (e) {
        return resolve({ ok: false, message: (e as Error).message }); // e.g. unparsable PEM
      }
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeout} ms`)));
      req.on('error', (e: NodeJS.ErrnoException) =>
        resolve({ ok: false, message: e.code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? `certificate is not valid for ${node.dnsName}: ${e.message}` : e.message }),
      );
      req.end();
    });
  }
}

/**
 * What a failing /readyz or /livez says, reduced to its failed checks ("[-]etcd failed: reason withheld"):
 * the verbose answer lists every passing check too, which buries the one that matters in a condition.
 */
export function failedChecks(body: string): string {
  const failed = body.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('[-]'));
  return (failed.length ? failed.join('; ') : body.trim()).slice(0, 200);
}
