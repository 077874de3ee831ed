// One per API token, shared by every client and object using that token: when the provider says to wait
// (a 429 with retry-after, or the quota spent until its reset), every user waits, and none sends a request
// the provider would refuse anyway (Cloudflare blocks every call for five minutes when its limit is
// crossed: FACTS §3.2). The full per-token budget with priorities is issue #18; this is its floor.

export class TokenGate {
  private until = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Nobody uses the token for this many seconds from now (a later hold only extends it). */
  hold(seconds: number): void {
    this.until = Math.max(this.until, this.now() + seconds * 1000);
  }

  /** Whole seconds still to wait; 0 when the token may be used. */
  waitSeconds(): number {
    const ms = this.until - this.now();
    return ms > 0 ? Math.ceil(ms / 1000) : 0;
  }
}
