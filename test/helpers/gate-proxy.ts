/**
 * A proxy that holds chosen requests at a gate the test opens, to put a race in a known order:
 * `response` lets the server do the request and holds its answer (the write is done, the
 * client does not know yet); `last-byte` holds the request's last body byte (the server
 * commits only when the gate opens) and sends it even when the client has given up, as a
 * proxy that buffered the request (nginx's default) or a server slow to read its socket does.
 * It can also answer chosen requests itself, as a load balancer with no backend for them does.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Matcher, RequestInfo } from './fault-proxy.js';

/** Where a held request waits. */
export type GateMode = 'response' | 'last-byte';

/** One gate: how many requests reached it, a promise for the first, and the way to open it. */
export interface Gate {
  readonly reached: number;
  /** Resolves when the first matching request is held. */
  readonly arrived: Promise<void>;
  /** Resolves when the upstream answered a request let through this gate (after `open`). */
  readonly done: Promise<number>;
  open(): void;
}

class GateRule implements Gate {
  reached = 0;
  remaining: number;
  private opened = false;
  private readonly waiters: Array<() => void> = [];
  private arrive!: () => void;
  private finish!: (status: number) => void;
  readonly arrived = new Promise<void>((r) => (this.arrive = r));
  readonly done = new Promise<number>((r) => (this.finish = r));

  constructor(
    readonly match: Matcher,
    readonly mode: GateMode,
    times: number,
  ) {
    this.remaining = times;
  }

  hold(): Promise<void> {
    this.reached++;
    this.arrive();
    return this.opened ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }

  answered(status: number): void {
    this.finish(status);
  }

  open(): void {
    this.opened = true;
    for (const w of this.waiters.splice(0)) w();
  }
}

/** An answer the proxy gives itself instead of the server's (e.g. a load balancer's HTML 404 page). */
export interface CannedAnswer {
  readonly status: number;
  readonly body: string;
  readonly contentType: string;
}

/** A canned answer in force: how often it was given. */
export interface Canned {
  readonly hits: number;
}

class CannedRule implements Canned {
  hits = 0;
  constructor(
    readonly match: Matcher,
    readonly answer: CannedAnswer,
    public remaining: number,
  ) {}
}

export class GateProxy {
  readonly requests: RequestInfo[] = [];
  private readonly gates: GateRule[] = [];
  private readonly canned: CannedRule[] = [];
  private server: http.Server | undefined;
  private readonly upstream: URL;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  constructor(upstream: string) {
    this.upstream = new URL(upstream);
  }

  /** Hold the next `times` requests that `match`, in `mode`, until the gate opens. */
  gate(match: Matcher, mode: GateMode, times = 1): Gate {
    const g = new GateRule(match, mode, times);
    this.gates.push(g);
    return g;
  }

  /** Answer the next `times` requests that `match` with `answer`, never asking the server. */
  answer(match: Matcher, answer: CannedAnswer, times = 1): Canned {
    const c = new CannedRule(match, answer, times);
    this.canned.push(c);
    return c;
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const g of this.gates) g.open();
    this.agent.destroy();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const info: RequestInfo = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers };
    this.requests.push(info);
    const canned = this.canned.find((c) => c.remaining > 0 && c.match(info));
    if (canned) {
      canned.remaining--;
      canned.hits++;
      req.resume();
      const { status, body, contentType } = canned.answer;
      res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const gate = this.gates.find((g) => g.remaining > 0 && g.match(info));
    if (gate) gate.remaining--;
    const upstream = http.request(
      {
        host: this.upstream.hostname,
        port: this.upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: this.agent,
      },
      (up) => {
        const relay = () => {
          if (res.destroyed) {
            up.resume();
            return;
          }
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        };
        if (gate) gate.answered(up.statusCode ?? 0);
        if (gate?.mode === 'response') void gate.hold().then(relay);
        else relay();
      },
    );
    upstream.on('error', () => res.destroy());
    if (gate?.mode !== 'last-byte') {
      req.pipe(upstream);
      return;
    }
    // Everything but the last byte goes on at once; the last one when the gate opens, whether
    // or not the client is still there (the request is already the proxy's).
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => {});
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (body.length === 0) {
        void gate.hold().then(() => upstream.end());
        return;
      }
      upstream.write(body.subarray(0, body.length - 1));
      void gate.hold().then(() => upstream.end(body.subarray(body.length - 1)));
    });
  }
}
