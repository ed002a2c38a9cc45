/**
 * A real HTTP proxy in front of a real S3 server, for fault injection: answer 503,
 * drop the connection, or flip a byte of a request or response body, for the requests
 * a rule matches. It also counts requests, so a test can see what the client really did.
 * The Host header is passed on unchanged, so signatures still verify upstream.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RequestInfo {
  readonly method: string;
  /** Path and query as sent, URL-encoded. */
  readonly url: string;
}

export type Fault =
  | { kind: 'status'; status: number; code: string }
  | { kind: 'drop' }
  | { kind: 'corrupt-request' }
  | { kind: 'corrupt-response' }
  /** Send the headers and the first part of the body, then reset the connection. */
  | { kind: 'cut-response' }
  /** Take the request and never answer. */
  | { kind: 'stall' }
  /** Replace the whole response body (e.g. a listing served out of order). */
  | { kind: 'rewrite-response'; rewrite: (body: string) => string };

interface Rule {
  readonly match: (r: RequestInfo) => boolean;
  readonly fault: Fault;
  remaining: number;
}

export class FaultProxy {
  readonly requests: RequestInfo[] = [];
  private readonly rules: Rule[] = [];
  private server: http.Server | undefined;
  private readonly upstream: URL;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  constructor(upstream: string) {
    this.upstream = new URL(upstream);
  }

  /** Apply `fault` to the next `times` requests that `match`. */
  inject(match: (r: RequestInfo) => boolean, fault: Fault, times = 1): void {
    this.rules.push({ match, fault, remaining: times });
  }

  count(match: (r: RequestInfo) => boolean): number {
    return this.requests.filter(match).length;
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.agent.destroy();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private take(info: RequestInfo): Fault | undefined {
    const rule = this.rules.find((r) => r.remaining > 0 && r.match(info));
    if (!rule) return undefined;
    rule.remaining--;
    return rule.fault;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const info: RequestInfo = { method: req.method ?? 'GET', url: req.url ?? '/' };
    this.requests.push(info);
    const fault = this.take(info);
    if (fault?.kind === 'stall') {
      req.resume();
      return;
    }
    if (fault?.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      req.resume();
      const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code}</Code><Message>injected by the test proxy</Message></Error>`;
      res.writeHead(fault.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), connection: 'close' });
      res.end(body);
      return;
    }
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
        if (fault?.kind === 'rewrite-response') {
          const chunks: Buffer[] = [];
          up.on('data', (c: Buffer) => chunks.push(c));
          up.on('end', () => {
            const body = Buffer.from(fault.rewrite(Buffer.concat(chunks).toString('utf8')), 'utf8');
            const headers = { ...up.headers, 'content-length': String(body.length) };
            delete headers['transfer-encoding'];
            res.writeHead(up.statusCode ?? 502, headers);
            res.end(body);
          });
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (fault?.kind === 'cut-response') {
          let sent = 0;
          up.on('data', (chunk: Buffer) => {
            if (sent > 256 * 1024) return;
            sent += chunk.length;
            res.write(chunk);
            if (sent > 256 * 1024) {
              up.destroy();
              res.socket?.destroy();
            }
          });
          return;
        }
        let flipped = fault?.kind !== 'corrupt-response';
        up.on('data', (chunk: Buffer) => {
          if (!flipped && chunk.length > 0) {
            chunk = Buffer.from(chunk);
            chunk[0] = chunk[0]! ^ 0xff;
            flipped = true;
          }
          res.write(chunk);
        });
        up.on('end', () => res.end());
        up.on('error', () => res.destroy());
      },
    );
    upstream.on('error', () => res.destroy());
    let flipped = fault?.kind !== 'corrupt-request';
    req.on('data', (chunk: Buffer) => {
      if (!flipped && chunk.length > 0) {
        chunk = Buffer.from(chunk);
        chunk[0] = chunk[0]! ^ 0xff;
        flipped = true;
      }
      upstream.write(chunk);
    });
    req.on('end', () => upstream.end());
    req.on('error', () => upstream.destroy());
  }
}

/** Matchers for the S3 calls s3s3 makes (the SDK names each operation in an `x-id` query parameter). */
export const isOp = (op: string, bucket?: string) => (r: RequestInfo) => r.url.includes(`x-id=${op}`) && (bucket === undefined || r.url.startsWith(`/${bucket}/`));
