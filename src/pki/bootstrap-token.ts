// Bootstrap tokens: how a worker's kubelet first authenticates, to ask for its own client certificate.
// Format and Secret layout from Kubernetes' "Authenticating with Bootstrap Tokens" (kubernetes/website
// content/en/docs/reference/access-authn-authz/bootstrap-tokens.md): a token is "<id>.<secret>", id 6 and
// secret 16 characters of [a-z0-9]; it lives in kube-system as Secret bootstrap-token-<id> of type
// bootstrap.kubernetes.io/token, and the API server refuses it after its `expiration`. Pure: randomness in.

/** The group every hardway bootstrap token adds: the RBAC addons let it create CSRs and get them approved. */
export const BOOTSTRAP_GROUP = 'system:bootstrappers:hardway:worker';

/** How long a token is good for: a worker that has not joined by then is replaced anyway. */
export const BOOTSTRAP_TOKEN_TTL_MS = 60 * 60_000;

export interface BootstrapToken {
  id: string;
  secret: string;
  expiresAt: Date;
  /** The droplet it was made for (label hardway.dev/machine on its Secret). */
  machine: string;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** n characters of [a-z0-9] from random bytes (rejection sampling keeps them uniform). */
function chars(n: number, randomBytes: (n: number) => Uint8Array): string {
  let out = '';
  while (out.length < n) {
    for (const b of randomBytes(n * 2)) if (b < 252 && out.length < n) out += ALPHABET[b % 36];
  }
  return out;
}

export function newBootstrapToken(machine: string, now: Date, randomBytes: (n: number) => Uint8Array): BootstrapToken {
  return { id: chars(6, randomBytes), secret: chars(16, randomBytes), expiresAt: new Date(now.getTime() + BOOTSTRAP_TOKEN_TTL_MS), machine };
}

export const tokenString = (t: BootstrapToken): string => `${t.id}.${t.secret}`;
