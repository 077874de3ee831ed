// What both cloud fakes share: an HTTP server on 127.0.0.1 with a free port, and answers that can be lost.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

type Match = (method: string, path: string) => boolean;

export abstract class LoopbackFake {
  private server?: Server;
  /** Base URL of the API (origin plus the provider's base path). */
  url = '';
  private lost: { remaining: number; match: Match }[] = [];

  constructor(private readonly basePath: string) {}

  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>;

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}${this.basePath}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /**
   * The next n matching requests are carried out, but the connection is cut before the answer: what the
   * client sees when the operator crashes, or the network fails, right after the call.
   */
  loseResponses(count: number, match: Match): void {
    this.lost.push({ remaining: count, match });
  }

  /** Cuts the connection instead of answering if a successful answer is to be lost; true if it did. */
  protected loseAnswer(res: ServerResponse, status: number, method: string, path: string): boolean {
    const lose = status < 400 && this.lost.find((l) => l.remaining > 0 && l.match(method, path));
    if (!lose) return false;
    lose.remaining--;
    res.socket?.destroy();
    return true;
  }
}
