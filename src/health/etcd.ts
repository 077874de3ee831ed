// etcd's HTTP/JSON gateway over mutual TLS: health, status, alarms and membership. The operator connects
// to a member's IP but verifies its certificate against the DNS name it issued (SNI + identity check).
// Short timeouts; callers probe members concurrently.
import { request } from 'node:https';
import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { isIP } from 'node:net';

export interface EtcdTls {
  ca: string;
  cert: string;
  key: string;
}

export interface EtcdEndpoint {
  /** Where to connect (a private IP). */
  ip: string;
  /** The name the member's certificate is issued for. */
  dnsName: string;
  port?: number;
}

export interface EtcdMemberInfo {
  /** Member ID in hexadecimal, as etcdctl prints it. */
  id: string;
  /** Empty until the member has started and joined. */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export interface EtcdStatus {
  /** The cluster's ID (hex), fixed when the cluster was founded: a member of another cluster has another. */
  clusterId: string;
  memberId: string;
  leaderId: string;
  version: string;
  raftIndex: string;
  /** The store's revision when the member answered. */
  revision: string;
  isLearner: boolean;
  errors: string[];
}

export class EtcdError extends Error {
  constructor(
    readonly endpoint: string,
    message: string,
    readonly code?: number,
  ) {
    super(`etcd ${endpoint}: ${message}`);
    this.name = 'EtcdError';
  }
}

/** The gateway writes uint64 IDs as decimal strings; people and etcdctl use hex. */
export const toHexId = (decimal: string | number | undefined): string => (decimal === undefined ? '' : BigInt(decimal).toString(16));
export const toDecimalId = (hex: string): string => BigInt(`0x${hex}`).toString(10);

type Json = Record<string, unknown>;

export class EtcdClient {
  constructor(
    private readonly tls: EtcdTls,
    private readonly o: { timeoutMs?: number } = {},
  ) {}

  private call(ep: EtcdEndpoint, method: 'GET' | 'POST', path: string, body?: object): Promise<Json> {
    const where = `${ep.dnsName} (${ep.ip})`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: ep.ip,
          port: ep.port ?? 2379,
          path,
          method,
          // SNI and the identity check use the DNS name; an IP (tests without DNS) is checked as the host.
          ...(isIP(ep.dnsName) ? {} : { servername: ep.dnsName }),
          ca: this.tls.ca,
          cert: this.tls.cert,
          key: this.tls.key,
          timeout: this.o.timeoutMs ?? 3000,
          headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
        },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => {
            let parsed: Json = {};
            try {
              parsed = text ? (JSON.parse(text) as Json) : {};
            } catch {
              return reject(new EtcdError(where, `not JSON (HTTP ${res.statusCode}): ${text.slice(0, 120)}`));
            }
            if ((res.statusCode ?? 0) >= 400) {
              return reject(new EtcdError(where, String(parsed.message ?? parsed.error ?? `HTTP ${res.statusCode}`), Number(parsed.code ?? 0)));
            }
            resolve(parsed);
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.o.timeoutMs ?? 3000} ms`)));
      req.on('error', (e) => reject(e instanceof EtcdError ? e : new EtcdError(where, e.message)));
      req.end(payload);
    });
  }

  /** GET /health: {"health":"true"} when the member has a leader and can serve. */
  async health(ep: EtcdEndpoint): Promise<{ healthy: boolean; reason?: string }> {
    const r = await this.call(ep, 'GET', '/health');
    return { healthy: r.health === 'true', reason: typeof r.reason === 'string' && r.reason ? r.reason : undefined };
  }

  async status(ep: EtcdEndpoint): Promise<EtcdStatus> {
    const r = await this.call(ep, 'POST', '/v3/maintenance/status', {});
    const header = (r.header ?? {}) as Json;
    return {
      clusterId: toHexId(header.cluster_id as string),
      memberId: toHexId(header.member_id as string),
      leaderId: toHexId(r.leader as string),
      version: String(r.version ?? ''),
      raftIndex: String(r.raftIndex ?? '0'),
      revision: String(header.revision ?? '0'),
      isLearner: r.isLearner === true,
      errors: (r.errors as string[] | undefined) ?? [],
    };
  }

  async alarms(ep: EtcdEndpoint): Promise<{ memberId: string; alarm: string }[]> {
    const r = await this.call(ep, 'POST', '/v3/maintenance/alarm', { action: 'GET' });
    return ((r.alarms as Json[] | undefined) ?? []).map((a) => ({ memberId: toHexId(a.memberID as string), alarm: String(a.alarm) }));
  }

  async memberList(ep: EtcdEndpoint): Promise<EtcdMemberInfo[]> {
    const r = await this.call(ep, 'POST', '/v3/cluster/member/list', {});
    return ((r.members as Json[] | undefined) ?? []).map((m) => ({
      id: toHexId(m.ID as string),
      name: String(m.name ?? ''),
      peerURLs: (m.peerURLs as string[] | undefined) ?? [],
      clientURLs: (m.clientURLs as string[] | undefined) ?? [],
      isLearner: m.isLearner === true,
    }));
  }

  /** Adds a member (as a learner: it does not count towards quorum until promoted). */
  async memberAdd(ep: EtcdEndpoint, peerURL: string, learner = true): Promise<EtcdMemberInfo> {
    const r = await this.call(ep, 'POST', '/v3/cluster/member/add', { peerURLs: [peerURL], isLearner: learner });
    const m = (r.member ?? {}) as Json;
    return { id: toHexId(m.ID as string), name: '', peerURLs: (m.peerURLs as string[]) ?? [peerURL], clientURLs: [], isLearner: learner };
  }

  async memberRemove(ep: EtcdEndpoint, idHex: string): Promise<void> {
    await this.call(ep, 'POST', '/v3/cluster/member/remove', { ID: toDecimalId(idHex) });
  }

  /**
   * Hands leadership to another voting member; only the leader accepts it ("etcdserver: not leader"), and
   * it answers once the transferee leads (MoveLeader in server/etcdserver/api/v3rpc/maintenance.go and
   * server/etcdserver/server.go, etcd v3.5.21).
   */
  async moveLeader(leader: EtcdEndpoint, targetHex: string): Promise<void> {
    await this.call(leader, 'POST', '/v3/maintenance/transfer-leadership', { targetID: toDecimalId(targetHex) });
  }

  /** Promotes a learner; etcd refuses while it is not caught up with the leader. */
  async memberPromote(ep: EtcdEndpoint, idHex: string): Promise<void> {
    await this.call(ep, 'POST', '/v3/cluster/member/promote', { ID: toDecimalId(idHex) });
  }

  /**
   * The member's whole database as etcd streams it (POST /v3/maintenance/snapshot through the gateway):
   * newline-delimited {"result":{"blob":<base64>}} messages, 32 KiB of the bbolt file each, then one more
   * whose blob is the SHA-256 of all before it (server/etcdserver/api/v3rpc/maintenance.go Snapshot; the
   * gateway's framing: grpc-gateway v1.16.0 runtime/handler.go ForwardResponseStream; etcd v3.5.21). The
   * bytes out are the file `etcdctl snapshot save` writes (db + hash), which `etcdutl snapshot restore`
   * checks. The hash is checked here too: a stream cut short or corrupted ends in an error, never in a
   * short file that looks complete. Streamed: one message in memory at a time.
   */
  snapshot(ep: EtcdEndpoint, idleTimeoutMs = 30_000): Readable {
    const where = `${ep.dnsName} (${ep.ip})`;
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    const hash = createHash('sha256');
    let pending: Buffer | undefined;
    let buffered = '';
    let failed = false;
    const fail = (message: string) => {
      if (failed) return;
      failed = true;
      out.destroy(new EtcdError(where, `snapshot: ${message}`));
    };
    const onLine = (line: string): boolean => {
      if (!line.trim()) return true;
      let m: { result?: { blob?: string }; error?: { message?: string } };
      try {
        m = JSON.parse(line) as typeof m;
      } catch {
        fail(`not JSON: ${line.slice(0, 80)}`);
        return false;
      }
      if (m.error) {
        fail(m.error.message ?? 'the member ended the stream with an error');
        return false;
      }
      if (pending) hash.update(pending);
      const ok = pending ? out.write(pending) : true;
      pending = Buffer.from(m.result?.blob ?? '', 'base64');
      return ok;
    };
    const req = request(
      {
        host: ep.ip,
        port: ep.port ?? 2379,
        path: '/v3/maintenance/snapshot',
        method: 'POST',
        ...(isIP(ep.dnsName) ? {} : { servername: ep.dnsName }),
        ca: this.tls.ca,
        cert: this.tls.cert,
        key: this.tls.key,
        timeout: idleTimeoutMs,
        headers: { 'content-type': 'application/json', 'content-length': 2 },
      },
      (res) => {
        if ((res.statusCode ?? 0) >= 400) {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => fail(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
          return;
        }
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let nl: number;
          let keepGoing = true;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            keepGoing = onLine(line) && keepGoing;
            if (failed) return req.destroy();
          }
          // Back-pressure: the upload reads slower than etcd sends.
          if (!keepGoing) {
            res.pause();
            out.once('drain', () => res.resume());
          }
        });
        res.on('end', () => {
          if (failed) return;
          if (buffered.trim()) onLine(buffered);
          if (failed) return;
          if (!pending || pending.length !== 32) return fail('the stream ended before the hash (cut short)');
          if (!hash.digest().equals(pending)) return fail("the data does not match etcd's own SHA-256");
          out.end(pending);
        });
        res.on('error', (e) => fail(e.message));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no data for ${idleTimeoutMs} ms`)));
    req.on('error', (e) => fail(e.message));
    out.on('close', () => {
      if (!out.writableFinished) req.destroy();
    });
    req.end('{}');
    return out;
  }
}
