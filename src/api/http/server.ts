/** The daemon's HTTP server (`[http]`) on node:http. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpConfig } from '../config.js';
import { S3s3Error } from '../errors.js';
import type { Logger } from '../log.js';
import type { DaemonMetrics } from './metrics.js';
import type { Readiness } from './ready.js';
import { telemetry } from '../telemetry.js';

/** What POST /events answers. */
export interface EventsAnswer {
  readonly status: number;
  readonly body: string;
}

/** The routes' handlers and the parts /healthz, /readyz and /metrics read. */
export interface HttpSurfaceOptions {
  readonly logger: Logger;
  readonly metrics: DaemonMetrics;
  readonly readiness: Readiness;
  /** POST /events (where intake runs); `body` is at most MAX_EVENT_BYTES. */
  readonly events?: (body: Buffer, req: IncomingMessage) => Promise<EventsAnswer>;
  /** /queues and everything under it. */
  readonly board?: (req: IncomingMessage, res: ServerResponse) => void;
}

/** Bodies over this are refused with 413: a notification carries a few records. */
export const MAX_EVENT_BYTES = 1024 * 1024;
/** A larger body is read (and dropped) up to this before the connection is cut. */
const DISCARD_LIMIT = 64 * 1024 * 1024;

/** The HTTP server could not start (address in use, not permitted...). */
export class HttpStartError extends S3s3Error {}

/**
 * The daemon's HTTP surface (`[http]`): /healthz, /readyz, /metrics, POST /events and
 * /queues, on node:http. Each route's work lives elsewhere (metrics.ts, ready.ts, events.ts,
 * board.ts); this class only routes, limits and answers.
 */
export class HttpSurface {
  private readonly server: Server;
  private stopping = false;

  constructor(
    readonly config: HttpConfig,
    private readonly o: HttpSurfaceOptions,
  ) {
    this.server = createServer((req, res) => void this.route(req, res));
    // Keep-alive scrapes must not hold a shutdown.
    this.server.keepAliveTimeout = 5000;
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
  }

  /** The address it listens on (after start). */
  get url(): string {
    const a = this.server.address() as AddressInfo | null;
    const host = this.config.host.includes(':') ? `[${this.config.host}]` : this.config.host;
    return `http://${host}:${a?.port ?? this.config.port}`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        const how =
          err.code === 'EADDRINUSE'
            ? 'another process listens there: choose another [http] port (or S3S3_HTTP_PORT per process)'
            : err.code === 'EACCES'
              ? 'not allowed to listen there: use a port above 1023'
              : 'check [http] host and port';
        reject(
          new HttpStartError(
            `[http] cannot listen on ${this.config.host}:${this.config.port}: ${err.code ?? err.message}; ${how}`,
          ),
        );
      };
      this.server.once('error', onError);
      this.server.listen(this.config.port, this.config.host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.server.on('error', (err) => this.o.logger.error('http server error', { error: err.message }));
  }

  /** /readyz and /events answer 503 from now on (the daemon is stopping). */
  drain(): void {
    this.stopping = true;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.server.closeIdleConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    try {
      if (path === '/queues' || path.startsWith('/queues/')) {
        if (!this.o.board) return send(res, 404, 'no /queues here: this process runs no queue board\n');
        return this.o.board(req, res);
      }
      if (path === '/healthz') {
        if (!onlyGet(req, res)) send(res, 200, 'ok\n');
        return;
      }
      if (path === '/readyz') {
        if (onlyGet(req, res)) return;
        if (this.stopping) return send(res, 503, 'not ready: stopping\n');
        const r = await this.o.readiness.check();
        return send(res, r.ready ? 200 : 503, r.lines.join('\n') + '\n');
      }
      if (path === '/metrics') {
        if (onlyGet(req, res)) return;
        const text = await this.o.metrics.text();
        res.writeHead(200, { 'Content-Type': this.o.metrics.contentType });
        res.end(text);
        return;
      }
      if (path === '/events') return await this.events(req, res);
      return send(res, 404, 'not found: s3s3 serves /healthz, /readyz, /metrics, /events (POST) and /queues\n');
    } catch (err) {
      this.o.logger.error('http request failed', { path, error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) send(res, 500, 'internal error; see the s3s3 log\n');
      else res.destroy();
    }
  }

  private async events(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.o.events)
      return send(
        res,
        404,
        'no /events here: this process runs no intake (--role worker); send events to the intake\n',
      );
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return send(res, 405, 'POST the notification to /events\n');
    }
    if (this.stopping) return send(res, 503, 'stopping: send it again (to another intake, or once restarted)\n');
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      // Past the limit the rest is read and dropped, so the sender gets the 413 rather
      // than a reset; past DISCARD_LIMIT the connection is cut.
      if (size > DISCARD_LIMIT) return this.tooLarge(req, res, size, true);
      if (size <= MAX_EVENT_BYTES) chunks.push(chunk);
    }
    if (size > MAX_EVENT_BYTES) return this.tooLarge(req, res, size, false);
    const answer = await this.o.events(Buffer.concat(chunks, size), req);
    send(res, answer.status, answer.body.endsWith('\n') ? answer.body : answer.body + '\n');
  }

  private tooLarge(req: IncomingMessage, res: ServerResponse, bytes: number, cut: boolean): void {
    const reason = `body of ${bytes}${cut ? ' or more' : ''} bytes is over the 1 MiB a notification may have`;
    this.o.logger.warn(`events refused: ${reason}`, { from: req.socket.remoteAddress });
    telemetry.event('refused');
    res.setHeader('Connection', 'close');
    send(res, 413, reason + '\n');
    if (cut) res.once('finish', () => req.destroy());
  }
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** GET (or HEAD) only; answers 405 and returns true otherwise. */
function onlyGet(req: IncomingMessage, res: ServerResponse): true | undefined {
  if (req.method === 'GET' || req.method === 'HEAD') return undefined;
  res.setHeader('Allow', 'GET');
  send(res, 405, 'use GET\n');
  return true;
}
