// Handing a control-plane node its keys once it runs (docs/security.md): what controllers ask for.
export interface HandOverFile {
  path: string;
  content: string;
  /** Octal, e.g. '0600'. */
  permissions: string;
}

export interface HandOverTarget {
  address: string;
  /** 22 on droplets; tests point elsewhere. */
  port?: number;
  /** The node's host key (`ssh-ed25519 AAAA…`): any other is refused before anything is sent. */
  hostKey: string;
}

export interface NodeHandOver {
  /**
   * Writes every file (to a temporary name, then renamed over the target), then the marker. Safe to repeat.
   * Rejects with a HandOverError.
   */
  push(target: HandOverTarget, clientKey: string, files: HandOverFile[], marker: string): Promise<void>;
}

/** unreachable: the node does not answer yet (booting); refused: it answers but not as expected. */
export class HandOverError extends Error {
  constructor(
    readonly kind: 'unreachable' | 'host-key' | 'refused',
    message: string,
  ) {
    super(message);
  }
}
