// One error type for both clouds, carrying what a controller and a person need: which call, the HTTP
// status, the provider's own error id or code, its message, request id and when to try again.
import type { Provider } from './ports.ts';

export class CloudError extends Error {
  constructor(
    readonly provider: Provider,
    readonly operation: string,
    /** HTTP status; 0 when no response arrived (network error, timeout). */
    readonly status: number,
    /** DigitalOcean's error `id` ("unprocessable_entity") or Cloudflare's numeric code (81057). */
    readonly code: string | number | undefined,
    readonly detail: string,
    readonly requestId?: string,
    /** Seconds to wait before the next call, from retry-after or the rate-limit reset. */
    readonly retryAfterSeconds?: number,
  ) {
    super(`${provider} ${operation}: ${status ? `HTTP ${status}` : 'no response'}${code !== undefined ? ` ${code}` : ''}: ${detail}${requestId ? ` (request ${requestId})` : ''}`);
    this.name = 'CloudError';
  }

  get notFound(): boolean {
    return this.status === 404;
  }
  get rateLimited(): boolean {
    return this.status === 429;
  }
  get unauthorized(): boolean {
    // Cloudflare answers a bad token with HTTP 400 code 6003 "Invalid request headers" (jeessy2/ddns-go#240).
    return this.status === 401 || this.status === 403 || (this.provider === 'cloudflare' && this.code === 6003);
  }
  /** Worth retrying later without changing anything: no response, 5xx, or rate limited. */
  get transient(): boolean {
    return this.status === 0 || this.status >= 500 || this.status === 429;
  }
}

export const isCloudError = (e: unknown): e is CloudError => e instanceof CloudError;
