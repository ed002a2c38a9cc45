/**
 * The lean request path for the calls on the hot path (HEAD, GET, PUT, DELETE of one object):
 * node:http on the store's keep-alive agent, signed by our own SigV4 (cached signing key) or
 * SigV2 signer. The SDK spends ~3 ms of CPU per request in its middleware stack; this path
 * builds the request, signs it and reads the answer, nothing else. Errors are thrown in the
 * SDK's shape so classify.ts types them exactly as before.
 *
 * Canonical paths are built from the key's bytes (encodeKeyPath) and sent as they are: no
 * URL object ever normalises a `..` segment or a `//`.
 *
 * Bench-only switch (issue 21): with S3S3_BENCH_TRANSPORT=undici (read once, when this module
 * loads) every exchange goes through undici instead (undici-exchange.ts, loaded only then);
 * `http` or unset is node:http. bench/transport.sh compares the two; its figures (2026-12-07,
 * docs/performance.md) kept node:http, and undici is a devDependency, kept so the comparison
 * can be run again when Node or undici change.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import type { S3EndpointConfig } from '../config.js';
import { discardSocketAfterResponse } from './http-agent.js';
import { SignatureV2Signer } from './sigv2.js';
import { EMPTY_SHA256, encodeKeyPath, encodeQueryComponent, SignatureV4Signer } from './sigv4.js';
import { parseListing, type ListOutput } from './list-xml.js';
import { printAs } from '../redact.js';

/** One request on the lean path (or to Swift). */
export interface LeanRequest {
  /** POST and COPY are for Swift (Keystone's token request, Swift's server-side COPY). */
  readonly method: 'GET' | 'HEAD' | 'PUT' | 'DELETE' | 'POST' | 'COPY';
  /** The object's key; undefined for a request on the bucket itself (a listing). */
  readonly key?: string;
  readonly query?: Readonly<Record<string, string>>;
  /** Header names in lower case. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Readable | Buffer;
  readonly contentLength?: number;
  readonly signal?: AbortSignal;
  /** The caller reads the body of this non-GET answer (a Keystone token, a Swift bulk result). */
  readonly readBody?: boolean;
}

/** A 2xx answer, its body unread for a GET. */
export interface LeanResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body, unread (GET); already drained for every other method. */
  readonly body: Readable;
}

/** An error in the SDK's shape, so classify.ts reads it as it reads the SDK's. */
export class LeanServiceError extends Error {
  readonly Code: string | undefined;
  readonly $metadata: { readonly httpStatusCode: number };
  readonly $response: { readonly statusCode: number; readonly headers: Record<string, string | undefined> };
  constructor(status: number, code: string | undefined, message: string | undefined, headers: IncomingHttpHeaders) {
    super(message ?? code ?? `HTTP ${status}`);
    this.name = code ?? (status === 404 ? 'NotFound' : 'UnknownError');
    this.Code = code;
    this.$metadata = { httpStatusCode: status };
    const flat: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(headers)) flat[k] = Array.isArray(v) ? v.join(', ') : v;
    this.$response = { statusCode: status, headers: flat };
  }
}

/** The most of an error body read to find its Code and Message. */
export const ERROR_BODY_LIMIT = 64 * 1024;

/** Which transport exchange() uses: the bench-only switch described at the top of this module. */
const BENCH_TRANSPORT = process.env.S3S3_BENCH_TRANSPORT ?? 'http';
if (BENCH_TRANSPORT !== 'http' && BENCH_TRANSPORT !== 'undici')
  throw new Error(`S3S3_BENCH_TRANSPORT must be http or undici, not ${JSON.stringify(BENCH_TRANSPORT)}`);

/** The lean HTTP client of one S3 bucket: signs (v4 or v2) and sends single-object requests and listings. */
export class LeanS3 {
  private readonly agent: http.Agent;
  private readonly secure: boolean;
  private readonly hostname: string;
  private readonly port: number | undefined;
  /** `host` header: the endpoint's host (path style) or `bucket.host` (virtual hosted). */
  private readonly hostHeader: string;
  private readonly pathPrefix: string;
  private readonly v4: SignatureV4Signer | undefined;
  private readonly v2: SignatureV2Signer | undefined;

  get endpoint(): string {
    return this.config.endpoint;
  }

  get bucket(): string {
    return this.config.bucket;
  }

  constructor(
    private readonly config: S3EndpointConfig,
    agent: http.Agent,
  ) {
    this.agent = agent;
    const url = new URL(config.endpoint);
    this.secure = url.protocol === 'https:';
    this.port = url.port === '' ? undefined : Number(url.port);
    const base = url.pathname.replace(/\/+$/, '');
    // An IPv6 literal is connected to without its brackets; the host header keeps them.
    const bare = url.hostname.replace(/^\[(.*)\]$/, '$1');
    // Virtual-hosted only for a bucket that is a DNS label (as the SDK does): `my.bucket` or
    // `Logs_2024` in a host name would not resolve, or not match the certificate.
    if (config.forcePathStyle || !/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(config.bucket)) {
      this.hostname = bare;
      this.hostHeader = url.host;
      this.pathPrefix = `${base}/${encodeKeyPath(config.bucket)}/`;
    } else {
      this.hostname = `${config.bucket}.${bare}`;
      this.hostHeader = `${config.bucket}.${url.host}`;
      this.pathPrefix = `${base}/`;
    }
    const credentials = { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey };
    if (config.signatureVersion === 'v2')
      this.v2 = new SignatureV2Signer({ credentials, endpointHost: url.hostname, bucket: config.bucket });
    else this.v4 = new SignatureV4Signer({ ...credentials, region: config.region });
  }

  /** One listing page (v1 or v2 by its query); empty parameters are left out. */
  async list(query: Readonly<Record<string, string | undefined>>): Promise<ListOutput> {
    const q: Record<string, string> = {};
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q[k] = v;
    const res = await this.send({ method: 'GET', query: q });
    return readListing(res.body, parseListing);
  }

  /**
   * One request. Resolves with a 2xx answer; rejects with a LeanServiceError for anything
   * else (its body read for the Code), or with the socket's error.
   */
  async send(req: LeanRequest): Promise<LeanResponse> {
    // A bucket-level request: `/bucket` (path style) or `/` (virtual hosted), as the SDK sends it.
    const path =
      req.key === undefined ? this.pathPrefix.replace(/(.)\/$/, '$1') : this.pathPrefix + encodeKeyPath(req.key);
    const query = req.query ?? {};
    const qs = Object.entries(query)
      .map(([k, v]) => (v === '' ? encodeQueryComponent(k) : `${encodeQueryComponent(k)}=${encodeQueryComponent(v)}`))
      .join('&');
    const headers: Record<string, string> = { host: this.hostHeader, ...req.headers };
    if (req.contentLength !== undefined) headers['content-length'] = String(req.contentLength);
    // undici never sends `content-length: 0` on a DELETE, and SigV4 signs every header given.
    else if (
      req.body === undefined &&
      (req.method === 'PUT' || (req.method === 'DELETE' && BENCH_TRANSPORT === 'http'))
    )
      headers['content-length'] = '0';
    if (this.v4)
      this.v4.sign(
        { method: req.method, path, query, headers },
        req.body === undefined ? EMPTY_SHA256 : 'UNSIGNED-PAYLOAD',
      );
    else await this.v2!.sign({ method: req.method, hostname: this.hostname, path, query, headers });
    return this.exchange(req, qs === '' ? path : `${path}?${qs}`, headers);
  }

  private exchange(req: LeanRequest, pathAndQuery: string, headers: Record<string, string>): Promise<LeanResponse> {
    const c = this.config;
    const target = {
      agent: this.agent,
      secure: this.secure,
      hostname: this.hostname,
      port: this.port,
      connectTimeoutMs: c.connectTimeoutMs,
      readTimeoutMs: c.readTimeoutMs,
    };
    return exchange(target, req, pathAndQuery, headers, s3ErrorBody);
  }
}

/** Where a request goes and how long it may take to connect and between bytes. */
export interface HttpTarget {
  readonly agent: http.Agent;
  readonly secure: boolean;
  /** Without brackets for an IPv6 literal. */
  readonly hostname: string;
  readonly port: number | undefined;
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
}

/** The error code and message in a failed answer's body (S3: XML `<Code>`; Swift: none, its bodies are HTML). */
export type ErrorBodyReader = (status: number, text: string) => { code?: string; message?: string };

function s3ErrorBody(_status: number, text: string): { code?: string; message?: string } {
  return { code: tag(text, 'Code'), message: tag(text, 'Message') };
}

/**
 * One HTTP exchange on a keep-alive agent, with connect and read (inactivity) timeouts.
 * Resolves with a 2xx answer; rejects with a LeanServiceError for anything else (its body
 * read for the code by `readError`), or with the socket's error. Shared by the S3 lean path
 * and the Swift store.
 */
export function exchange(
  target: HttpTarget,
  req: LeanRequest,
  pathAndQuery: string,
  headers: Record<string, string>,
  readError: ErrorBodyReader,
): Promise<LeanResponse> {
  if (BENCH_TRANSPORT === 'undici') {
    if (undiciExchange) return undiciExchange(target, req, pathAndQuery, headers, readError);
    return undiciLoading!.then((viaUndici) => viaUndici(target, req, pathAndQuery, headers, readError));
  }
  const c = target;
  return new Promise<LeanResponse>((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    const request = (target.secure ? https : http).request({
      agent: target.agent,
      hostname: target.hostname,
      port: target.port,
      method: req.method,
      path: pathAndQuery,
      headers,
      setHost: false,
      signal: req.signal,
    });
    // Connect within connect_timeout; then an inactivity timeout (read_timeout) for the
    // rest of the exchange, the body included: a half-open connection never hangs a copy.
    let connectTimer: NodeJS.Timeout | undefined;
    request.once('socket', (socket) => {
      const inactive = () => request.destroy(timeoutError(`no data for ${c.readTimeoutMs / 1000} s (read_timeout)`));
      const connecting = (socket as { connecting?: boolean }).connecting === true;
      if (connecting) {
        connectTimer = setTimeout(
          () => request.destroy(timeoutError(`not connected within ${c.connectTimeoutMs / 1000} s (connect_timeout)`)),
          c.connectTimeoutMs,
        );
        socket.once('connect', () => clearTimeout(connectTimer));
      }
      socket.setTimeout(c.readTimeoutMs, inactive);
      request.once('close', () => {
        clearTimeout(connectTimer);
        socket.setTimeout(0);
        socket.removeListener('timeout', inactive);
      });
    });
    // `on`, not `once`: an abort racing a socket error may emit twice, and a second error
    // with no listener would be an uncaught exception.
    request.on('error', fail);
    request.once('response', (res) => {
      clearTimeout(connectTimer);
      const status = res.statusCode ?? 0;
      // A redirect is an error too, as in the SDK (PermanentRedirect: another region or endpoint).
      if (status >= 300) {
        // A server that refused the request before reading its body leaves it on the wire.
        if (req.body !== undefined) discardSocketAfterResponse(res.socket);
        if (req.method === 'HEAD') {
          res.resume();
          return fail(new LeanServiceError(status, undefined, undefined, res.headers));
        }
        void readLimited(res, ERROR_BODY_LIMIT).then(
          (text) => {
            const e = readError(status, text);
            fail(new LeanServiceError(status, e.code, e.message, res.headers));
          },
          () => fail(new LeanServiceError(status, undefined, undefined, res.headers)),
        );
        return;
      }
      settled = true;
      if (req.method !== 'GET' && !req.readBody) res.resume();
      resolve({ status, headers: res.headers, body: res });
    });
    if (req.body === undefined) request.end();
    else if (Buffer.isBuffer(req.body)) request.end(req.body);
    else {
      const body = req.body;
      body.once('error', (err) => request.destroy(err));
      body.pipe(request);
    }
  });
}

/** The undici exchange (bench-only switch), loaded when this module loads; a failure to load surfaces on first use. */
let undiciExchange: typeof exchange | undefined;
const undiciLoading: Promise<typeof exchange> | undefined =
  BENCH_TRANSPORT === 'undici'
    ? import('./undici-exchange.js').then((m) => (undiciExchange = m.undiciExchange))
    : undefined;
undiciLoading?.catch(() => {});

/** A listing page read whole and parsed; one cut short or garbled in transit fails like a reset (worth another try). */
export async function readListing<T>(res: Readable, parse: (text: string) => T): Promise<T> {
  const text = await readText(res);
  try {
    return parse(text);
  } catch (err) {
    const e = new Error(`listing answer unreadable: ${err instanceof Error ? err.message : String(err)}`);
    (e as { code?: string }).code = 'ECONNRESET';
    throw e;
  }
}

/** The whole body as text (a listing page; a few MB at most). */
export function readText(res: Readable): Promise<string> {
  return readLimited(res, Number.POSITIVE_INFINITY);
}

/** An error named TimeoutError (a connect_timeout or read_timeout ran out): retried, as the SDK's timeouts are. */
export function timeoutError(message: string): Error {
  const err = new Error(message);
  err.name = 'TimeoutError';
  return err;
}

function readLimited(res: Readable, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      if (size < limit) chunks.push(c);
      size += c.length;
    });
    res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.once('error', reject);
  });
}

function tag(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return m
    ? m[1]!
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&apos;/g, "'")
        .replace(/&amp;/g, '&')
    : undefined;
}

// Printing the lean client shows where it points, never the signers' credentials.
printAs(LeanS3, 'LeanS3', (l) => ({ endpoint: l.endpoint, bucket: l.bucket }));
