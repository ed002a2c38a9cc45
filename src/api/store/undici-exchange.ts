/**
 * exchange() of lean-http.ts on undici instead of node:http, for the measurement of issue 21
 * (bench/transport.sh); lean-http.ts loads it only under S3S3_BENCH_TRANSPORT=undici. The only
 * file of ours that imports undici, a devDependency: the figures kept node:http (docs/performance.md),
 * so an install for production does not carry it. Same contract as the node:http exchange:
 *
 * - one undici Agent per node:http agent (per store, per scheme for Swift), made on first use,
 *   `connections` = the agent's maxSockets per origin, keep-alive, no pipelining, no retries,
 *   no redirects; TLS ca / rejectUnauthorized taken from the agent; destroyed with it;
 * - connect_timeout on connecting; read_timeout as undici's headers and body timeouts, both
 *   translated into the TimeoutError the node:http exchange throws;
 * - a >= 300 answer rejects with a LeanServiceError (its body read up to ERROR_BODY_LIMIT for the
 *   code), a HEAD's without a body; an answer >= 300 to a request that carried a body closes the
 *   connection (the server may have left that body unread on it), at the end of its body (by its
 *   length, or for a chunked one by its closing `</Error>` / `</html>`);
 * - a GET's body (or `readBody`'s) is a Readable with backpressure; any other body is drained.
 */
import type http from 'node:http';
import type https from 'node:https';
import { Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import {
  ERROR_BODY_LIMIT,
  LeanServiceError,
  timeoutError,
  type ErrorBodyReader,
  type HttpTarget,
  type LeanRequest,
  type LeanResponse,
} from './lean-http.js';

/** One undici dispatcher per node:http agent, so per store (and scheme): sized and configured like the agent. */
const dispatchers = new WeakMap<http.Agent, Agent>();

function dispatcherFor(target: HttpTarget): Agent {
  const known = dispatchers.get(target.agent);
  if (known) return known;
  // createAgent() put the section's TLS settings on the https agent; take them from there.
  const tls = target.secure ? (target.agent as https.Agent).options : undefined;
  const dispatcher = new Agent({
    connections: target.agent.maxSockets,
    pipelining: 1,
    headersTimeout: target.readTimeoutMs,
    bodyTimeout: target.readTimeoutMs,
    connect: {
      timeout: target.connectTimeoutMs,
      ...(tls?.ca !== undefined ? { ca: tls.ca } : {}),
      ...(tls ? { rejectUnauthorized: tls.rejectUnauthorized ?? true } : {}),
    },
  });
  dispatchers.set(target.agent, dispatcher);
  // The store destroys its agent when it is done: the dispatcher goes with it.
  const agent = target.agent;
  const destroyAgent = agent.destroy.bind(agent);
  agent.destroy = () => {
    dispatchers.delete(agent);
    dispatcher.destroy().catch(() => {});
    destroyAgent();
  };
  return dispatcher;
}

function originOf(t: HttpTarget): string {
  const host = t.hostname.includes(':') ? `[${t.hostname}]` : t.hostname;
  return `${t.secure ? 'https' : 'http'}://${host}${t.port === undefined ? '' : `:${t.port}`}`;
}

/** The undici exchange: see exchange() in lean-http.ts for the contract. */
export function undiciExchange(
  target: HttpTarget,
  req: LeanRequest,
  pathAndQuery: string,
  headers: Record<string, string>,
  readError: ErrorBodyReader,
): Promise<LeanResponse> {
  if (req.signal?.aborted) return Promise.reject(abortError(req.signal.reason));
  return new Promise<LeanResponse>((resolve, reject) => {
    const handler = new ExchangeHandler(target, req, readError, resolve, reject);
    dispatcherFor(target).dispatch(
      {
        origin: originOf(target),
        path: pathAndQuery,
        method: req.method,
        // `host` among them: undici sends it instead of the origin's.
        headers,
        body: req.body ?? null,
        // undici closes the connection after every HEAD unless told not to.
        reset: false,
        headersTimeout: target.readTimeoutMs,
        bodyTimeout: target.readTimeoutMs,
      },
      handler,
    );
  });
}

/** Follows one request through undici's dispatch callbacks. */
class ExchangeHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  /** An abort (signal) that came before undici started the request. */
  private abortedEarly: Error | undefined;
  private settled = false;
  private done = false;
  private status = 0;
  private headers: http.IncomingHttpHeaders = {};
  /** The 2xx body handed to the caller (GET, readBody); undefined: drained. */
  private body: ResponseBody | undefined;
  /** The error answer's body being read. */
  private errorChunks: Buffer[] | undefined;
  private errorSize = 0;
  /**
   * When to close the connection after an error answer (see onResponseStart): at this many bytes
   * of its body, or (`tag`) at a chunk that ends the XML or HTML document; undefined: never.
   */
  private closeAfter: number | 'tag' | undefined;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    private readonly target: HttpTarget,
    private readonly req: LeanRequest,
    private readonly readError: ErrorBodyReader,
    private readonly resolve: (res: LeanResponse) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    const signal = req.signal;
    if (signal) {
      this.onAbort = () => this.abort(abortError(signal.reason));
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortedEarly) controller.abort(this.abortedEarly);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (status < 200) return; // informational: the answer follows
    this.status = status;
    this.headers = nodeHeaders(headers);
    // A redirect is an error too, as in the SDK (PermanentRedirect: another region or endpoint).
    if (status >= 300) {
      if (this.req.method === 'HEAD')
        return this.fail(new LeanServiceError(status, undefined, undefined, this.headers));
      this.errorChunks = [];
      // A server that refused the request before reading its body leaves it on the wire, and
      // undici would reuse the connection (it closes it itself only when the answer ends while
      // the body is still being written, or the server says `connection: close`; a handler
      // cannot close it once the answer is complete). So the error body is read for its code
      // and the connection aborted at its last byte: known from its length; for a chunked one,
      // the chunk that closes `</Error>` (S3) or `</html>` (Swift), or failing that never (the
      // node:http exchange always closes it). An empty body: at once. A body that runs until
      // the connection closes needs nothing.
      if (this.req.body !== undefined && !/\bclose\b/i.test(headerText(this.headers.connection))) {
        const length = this.headers['content-length'];
        if (length !== undefined && Number(length) > 0) this.closeAfter = Number(length);
        else if (length !== undefined) {
          this.failError();
          controller.abort(closingError());
        } else if (this.headers['transfer-encoding'] !== undefined) this.closeAfter = 'tag';
      }
      return;
    }
    this.settled = true;
    if (this.req.method === 'GET' || this.req.readBody) {
      this.body = new ResponseBody(controller);
      this.resolve({ status, headers: this.headers, body: this.body });
    } else {
      const empty = new Readable({ read() {} });
      empty.push(null);
      this.resolve({ status, headers: this.headers, body: empty });
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.body) {
      if (!this.body.destroyed && !this.body.push(chunk)) controller.pause();
      return;
    }
    if (this.errorChunks === undefined) return; // a drained body
    if (this.errorSize < ERROR_BODY_LIMIT) this.errorChunks.push(chunk);
    this.errorSize += chunk.length;
    const end = this.closeAfter;
    if (end === undefined) return;
    if (
      end === 'tag'
        ? DOCUMENT_END.test(chunk.toString('latin1', Math.max(0, chunk.length - 32)))
        : this.errorSize >= end
    ) {
      this.failError();
      controller.abort(closingError());
    }
  }

  onResponseEnd(): void {
    this.finish();
    if (this.errorChunks !== undefined) this.failError();
    else this.body?.push(null);
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.finish();
    if (!this.settled) {
      // The error answer's body did not come whole: the status alone, as the node:http exchange does.
      if (this.errorChunks !== undefined)
        return this.fail(new LeanServiceError(this.status, undefined, undefined, this.headers));
      return this.fail(translate(err, this.target));
    }
    if (this.body && !this.body.destroyed && !this.body.readableEnded) this.body.destroy(translate(err, this.target));
  }

  /** The caller's signal: stop the request, or the body being read. */
  private abort(err: Error): void {
    if (this.done) return;
    if (this.body) this.body.destroy(err);
    else if (this.controller) this.controller.abort(err);
    else this.abortedEarly = err;
    this.fail(err);
  }

  private failError(): void {
    const chunks = this.errorChunks;
    if (chunks === undefined || this.settled) return;
    const e = this.readError(this.status, Buffer.concat(chunks).toString('utf8'));
    this.fail(new LeanServiceError(this.status, e.code, e.message, this.headers));
  }

  private fail(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(err);
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.onAbort) this.req.signal?.removeEventListener('abort', this.onAbort);
  }
}

/** The end of an error document: S3's XML `</Error>`, Swift's HTML `</html>`. */
const DOCUMENT_END = /<\/(Error|html)>\s*$/i;

/** A 2xx body: undici's data pushed with backpressure; destroyed early, it aborts the request (and its connection). */
class ResponseBody extends Readable {
  constructor(private readonly controller: Dispatcher.DispatchController) {
    // undici's own response bodies use 64 KiB.
    super({ highWaterMark: 64 * 1024 });
  }

  override _read(): void {
    this.controller.resume();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    // A no-op once undici has the whole answer.
    if (!this.readableEnded) this.controller.abort(err ?? closingError());
    callback(err);
  }
}

/** Node's rules for repeated response headers: most joined with ', ', some only the first kept, set-cookie a list. */
const FIRST_ONLY = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

function nodeHeaders(headers: Record<string, string | string[] | undefined>): http.IncomingHttpHeaders {
  for (const name in headers) {
    const v = headers[name];
    if (Array.isArray(v) && name !== 'set-cookie')
      headers[name] = FIRST_ONLY.has(name) ? v[0] : v.join(name === 'cookie' ? '; ' : ', ');
  }
  return headers as http.IncomingHttpHeaders;
}

function headerText(v: string | string[] | undefined): string {
  return Array.isArray(v) ? v.join(', ') : (v ?? '');
}

/** undici's errors as the node:http exchange's: its timeouts as TimeoutError, a body cut short as ECONNRESET. */
function translate(err: Error, t: HttpTarget): Error {
  let out: Error;
  switch ((err as { code?: string }).code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      out = timeoutError(`not connected within ${t.connectTimeoutMs / 1000} s (connect_timeout)`);
      break;
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      out = timeoutError(`no data for ${t.readTimeoutMs / 1000} s (read_timeout)`);
      break;
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      // The connection closed before the whole body came (node:http: `aborted`, ECONNRESET).
      out = Object.assign(new Error(`aborted: ${err.message}`), { code: 'ECONNRESET' });
      break;
    case 'UND_ERR_INVALID_ARG':
      // A header value or name HTTP cannot carry (node:http: ERR_INVALID_CHAR, ERR_INVALID_HTTP_TOKEN).
      if (/^invalid header key$/.test(err.message))
        out = Object.assign(new Error(err.message), { code: 'ERR_INVALID_HTTP_TOKEN' });
      else if (/^invalid .* header$/.test(err.message))
        out = Object.assign(new Error(err.message), { code: 'ERR_INVALID_CHAR' });
      else return err;
      break;
    default:
      return err;
  }
  (out as { cause?: unknown }).cause = err;
  return out;
}

/** What node:http rejects with when a request's signal fires. */
function abortError(reason: unknown): Error {
  const err = new Error('The operation was aborted', { cause: reason });
  err.name = 'AbortError';
  (err as { code?: string }).code = 'ABORT_ERR';
  return err;
}

/** The reason given to undici when we close a connection ourselves (never seen by a caller). */
function closingError(): Error {
  return new Error('connection closed by the lean exchange');
}
