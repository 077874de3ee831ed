// API errors mapped to the few cases controllers branch on.

export type KubeErrorReason = 'NotFound' | 'Conflict' | 'Gone' | 'Invalid' | 'Forbidden' | 'Unauthorized' | 'Other';

export class KubeError extends Error {
  constructor(
    readonly reason: KubeErrorReason,
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = `Kube${reason}Error`;
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof KubeError && e.reason === 'NotFound';
export const isConflict = (e: unknown): boolean => e instanceof KubeError && e.reason === 'Conflict';
export const isGone = (e: unknown): boolean => e instanceof KubeError && e.reason === 'Gone';

export function reasonFor(statusCode: number, apiReason?: string): KubeErrorReason {
  switch (statusCode) {
    case 404:
      return 'NotFound';
    case 409:
      // 409 AlreadyExists is a conflict for our purposes too: someone else created it first.
      return 'Conflict';
    case 410:
      return 'Gone';
    case 422:
      return 'Invalid';
    case 400:
      return apiReason === 'BadRequest' || apiReason === 'Invalid' ? 'Invalid' : 'Other';
    case 403:
      return 'Forbidden';
    case 401:
      return 'Unauthorized';
    default:
      return apiReason === 'Expired' ? 'Gone' : 'Other';
  }
}

/** Builds a KubeError from an HTTP status and a metav1.Status body (or whatever the server sent). */
export function errorFromResponse(statusCode: number, body: unknown, what: string): KubeError {
  const status = (typeof body === 'object' && body !== null ? body : {}) as { message?: string; reason?: string };
  const message = status.message ?? (typeof body === 'string' && body ? body.slice(0, 300) : `HTTP ${statusCode}`);
  return new KubeError(reasonFor(statusCode, status.reason), statusCode, `${what}: ${message}`);
}
