/**
 * A real HTTP proxy in front of a real S3 server, for fault injection: answer an error
 * status, drop or reset the connection, stop sending or reading mid-body, or flip a byte
 * of a request or response body, for the requests a rule matches, a number of times or
 * for a stretch of time (a storm). It also records every request, so a test can see what
 * the client really did. The Host header is passed on unchanged, so signatures verify
 * upstream.
 *
 * Matchers classify requests by method and URL shape (path-style, as s3s3 addresses
 * buckets), never only by the SDK's `x-id` parameter, so they keep working whatever
 * HTTP client s3s3 uses.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ObjectStore } from '../../src/api/store/object-store.js';

export interface RequestInfo {
  readonly method: string;
  /** Path and query as sent, URL-encoded. */
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  /** For a listing: which page of its listing this is (1 = no marker or token; a retry of a
   *  page keeps its number), counted per bucket and prefix in order of first appearance. */
  readonly listPage?: number;
}

export type Fault =
  /**
   * Answer with this status and an S3 error body; `headers` e.g. `{ 'retry-after': '1' }`.
   * `body` (with `contentType`, default text/html) replaces the S3 error body: what a load
   * balancer or proxy in front of the store answers, naming no S3 error code.
   */
  | {
      kind: 'status';
      status: number;
      code: string;
      headers?: Record<string, string>;
      body?: string;
      contentType?: string;
    }
  /** Hold the whole request (headers and body) for `ms`, then pass it on unchanged: a slow or distant server. */
  | { kind: 'delay'; ms: number }
  /** Close the connection before answering anything. */
  | { kind: 'drop' }
  /** Flip the byte at offset `at` (default 0) of the request body on its way upstream. */
  | { kind: 'corrupt-request'; at?: number }
  /** Flip the byte at offset `at` (default 0) of the response body on its way back. */
  | { kind: 'corrupt-response'; at?: number }
  /** Send the headers and the first `after` bytes of the body (default: half of it), then reset the connection. */
  | { kind: 'cut-response'; after?: number }
  /** Pass the first `after` bytes of the request body upstream (default: half of it), then reset both connections. */
  | { kind: 'cut-request'; after?: number }
  /** Take the request and never answer. */
  | { kind: 'stall' }
  /**
   * Send the headers and the first `after` bytes of the body (default: half of it), then send nothing
   * more, holding the connection.
   */
  | { kind: 'stall-response'; after?: number }
  /** Read the first `after` bytes of the request body (default: half of it), then stop reading and never answer. */
  | { kind: 'stall-request'; after?: number }
  /** Replace the whole response body (e.g. a listing served out of order). */
  | { kind: 'rewrite-response'; rewrite: (body: string) => string };

export type Matcher = (r: RequestInfo) => boolean;

/** A rule in force: how often it fired, and a way to lift it early. */
export interface Injection {
  readonly hits: number;
  stop(): void;
}

class Rule implements Injection {
  hits = 0;
  /** For a storm: when it ends, set at its first hit. */
  until: number | undefined;

  constructor(
    readonly match: Matcher,
    readonly fault: Fault,
    public remaining: number,
    readonly stormMs?: number,
  ) {}

  /** True when this rule applies to the request now (and counts it). */
  take(info: RequestInfo, now: number): boolean {
    if (this.remaining <= 0) return false;
    if (this.until !== undefined && now >= this.until) {
      this.remaining = 0;
      return false;
    }
    if (!this.match(info)) return false;
    if (this.stormMs !== undefined) this.until ??= now + this.stormMs;
    this.remaining--;
    this.hits++;
    return true;
  }

  stop(): void {
    this.remaining = 0;
  }
}

const HALF = -1;

export class FaultProxy {
  readonly requests: RequestInfo[] = [];
  /** Bytes of response bodies passed back to clients so far (set it to 0 to count afresh). */
  responseBytes = 0;
  private readonly rules: Rule[] = [];
  private server: http.Server | undefined;
  private readonly upstream: URL;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  /** Page markers seen per listing (bucket + prefix), in order, to number pages. */
  private readonly pages = new Map<string, string[]>();

  constructor(upstream: string) {
    this.upstream = new URL(upstream);
  }

  /** Apply `fault` to the next `times` requests that `match`. */
  inject(match: Matcher, fault: Fault, times = 1): Injection {
    const rule = new Rule(match, fault, times);
    this.rules.push(rule);
    return rule;
  }

  /** Apply `fault` to every request that matches, for `ms` from the first one it hits. */
  storm(match: Matcher, fault: Fault, ms: number): Injection {
    const rule = new Rule(match, fault, Number.POSITIVE_INFINITY, ms);
    this.rules.push(rule);
    return rule;
  }

  /** Lift every rule. */
  clear(): void {
    for (const r of this.rules) r.stop();
  }

  count(match: Matcher): number {
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
    const now = performance.now();
    // The first rule that applies wins (a storm's clock starts at its first hit).
    return this.rules.find((rule) => rule.take(info, now))?.fault;
  }

  private pageOf(method: string, url: string, headers: http.IncomingHttpHeaders): number | undefined {
    const s = s3Request({ method, url, headers });
    if (s.op !== 'ListObjects' && s.op !== 'ListObjectsV2') return undefined;
    const q = s.query;
    const id = `${s.bucket ?? ''}\n${q.get('prefix') ?? ''}`;
    const marker = q.get('continuation-token') ?? q.get('marker') ?? q.get('start-after') ?? '';
    let seen = this.pages.get(id);
    if (!seen) this.pages.set(id, (seen = []));
    let i = seen.indexOf(marker);
    if (i < 0) i = seen.push(marker) - 1;
    return i + 1;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const info: RequestInfo = { method, url, headers: req.headers, listPage: this.pageOf(method, url, req.headers) };
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
      const body =
        fault.body ??
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code}</Code><Message>injected by the ` +
          `test proxy</Message></Error>`;
      const contentType = fault.body !== undefined ? (fault.contentType ?? 'text/html') : 'application/xml';
      res.writeHead(fault.status, {
        'content-type': contentType,
        'content-length': Buffer.byteLength(body),
        connection: 'close',
        ...fault.headers,
      });
      res.end(body);
      return;
    }
    if (fault?.kind === 'delay') {
      // The body waits unread in the socket (no 'data' listener yet); a client that gave up
      // meanwhile is not forwarded at all, so no half request reaches the server.
      let gone = false;
      req.on('error', () => (gone = true));
      // The response closes early only when the connection does (per request: no listener piles up on a
      // kept-alive socket).
      res.once('close', () => (gone = true));
      setTimeout(() => {
        if (!gone && !req.destroyed) this.forward(req, res, undefined);
      }, fault.ms);
      return;
    }
    this.forward(req, res, fault);
  }

  /** Pass the request upstream, with the fault (if any) applied to the bodies on their way. */
  private forward(req: http.IncomingMessage, res: http.ServerResponse, fault: Fault | undefined): void {
    // Set once the proxy itself has cut the upstream side short: the errors that follow
    // must not close the client's connection (a stalled client must stay stalled).
    const state = { detached: false };
    const upstream = http.request(
      {
        host: this.upstream.hostname,
        port: this.upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: this.agent,
      },
      (up) => this.respond(up, res, fault, state),
    );
    upstream.on('error', () => {
      if (!state.detached) res.destroy();
    });
    this.forwardBody(req, upstream, fault, state);
  }

  /** The request body, upstream: passed on, corrupted, cut or stalled. */
  private forwardBody(
    req: http.IncomingMessage,
    upstream: http.ClientRequest,
    fault: Fault | undefined,
    state: { detached: boolean },
  ): void {
    const length = Number(req.headers['content-length'] ?? NaN);
    const corruptAt = fault?.kind === 'corrupt-request' ? (fault.at ?? 0) : undefined;
    const stopAt =
      fault?.kind === 'cut-request' || fault?.kind === 'stall-request' ? limit(fault.after ?? HALF, length) : undefined;
    let offset = 0;
    req.on('data', (chunk: Buffer) => {
      if (stopAt !== undefined && offset >= stopAt) return;
      if (corruptAt !== undefined && corruptAt >= offset && corruptAt < offset + chunk.length) {
        chunk = Buffer.from(chunk);
        chunk[corruptAt - offset] = chunk[corruptAt - offset]! ^ 0xff;
      }
      if (stopAt !== undefined && offset + chunk.length >= stopAt) {
        upstream.write(chunk.subarray(0, stopAt - offset));
        offset = stopAt;
        // The server sees a body cut short (never a whole object); the client sees a reset,
        // or a peer that stops reading and never answers.
        state.detached = true;
        upstream.destroy();
        if (fault?.kind === 'cut-request') req.socket.destroy();
        else req.pause();
        return;
      }
      offset += chunk.length;
      upstream.write(chunk);
    });
    req.on('end', () => {
      if (stopAt === undefined) upstream.end();
      else if (offset < stopAt) {
        // The whole body was shorter than the cut point: still never complete it.
        state.detached = true;
        upstream.destroy();
        if (fault?.kind === 'cut-request') req.socket.destroy();
      }
    });
    req.on('error', () => upstream.destroy());
  }

  /** The response, back to the client: passed on, corrupted, cut, stalled or rewritten. */
  private respond(
    up: http.IncomingMessage,
    res: http.ServerResponse,
    fault: Fault | undefined,
    state: { detached: boolean },
  ): void {
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
    const length = Number(up.headers['content-length'] ?? NaN);
    const corruptAt = fault?.kind === 'corrupt-response' ? (fault.at ?? 0) : undefined;
    const stopAt =
      fault?.kind === 'cut-response' || fault?.kind === 'stall-response'
        ? limit(fault.after ?? HALF, length)
        : undefined;
    let offset = 0;
    const stop = () => {
      state.detached = true;
      up.destroy();
      // A reset, or a peer that goes quiet with the connection open (until the client gives up).
      if (fault?.kind === 'cut-response') res.socket?.destroy();
    };
    up.on('data', (chunk: Buffer) => {
      if (stopAt !== undefined && offset >= stopAt) return;
      if (corruptAt !== undefined && corruptAt >= offset && corruptAt < offset + chunk.length) {
        chunk = Buffer.from(chunk);
        chunk[corruptAt - offset] = chunk[corruptAt - offset]! ^ 0xff;
      }
      if (stopAt !== undefined && offset + chunk.length >= stopAt) {
        res.write(chunk.subarray(0, stopAt - offset));
        offset = stopAt;
        stop();
        return;
      }
      offset += chunk.length;
      this.responseBytes += chunk.length;
      // Back-pressure, as a real server's socket: the proxy reads upstream no faster than the client takes it.
      if (!res.write(chunk)) {
        up.pause();
        res.once('drain', () => up.resume());
      }
    });
    // A client gone mid-body (killed, gave up): the upstream answer is read no further.
    res.once('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    up.on('end', () => {
      if (stopAt === undefined) res.end();
      else if (offset < stopAt) stop();
    });
    up.on('error', () => {
      if (!state.detached) res.destroy();
    });
  }
}

/** Where a cut or stall happens: `after` bytes, or half the body when its length is known. */
function limit(after: number, length: number): number {
  if (after !== HALF) return after;
  return Number.isFinite(length) && length > 1 ? Math.floor(length / 2) : 256 * 1024;
}

// --- What a request is, from its method and URL shape --------------------------------

export type S3Op =
  | 'ListObjects'
  | 'ListObjectsV2'
  | 'ListMultipartUploads'
  | 'ListParts'
  | 'GetObject'
  | 'HeadObject'
  | 'HeadBucket'
  | 'PutObject'
  | 'CopyObject'
  | 'UploadPart'
  | 'UploadPartCopy'
  | 'CreateMultipartUpload'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'DeleteObject'
  | 'DeleteObjects'
  | 'CreateBucket'
  | 'DeleteBucket'
  | 'other';

export interface S3Request {
  readonly op: S3Op;
  readonly bucket: string | undefined;
  /** Decoded; undefined for a request on the bucket itself. */
  readonly key: string | undefined;
  readonly query: URLSearchParams;
}

/** Bucket sub-resources that are not a listing of objects. */
const BUCKET_SUBRESOURCES = [
  'acl',
  'cors',
  'delete',
  'lifecycle',
  'location',
  'logging',
  'notification',
  'policy',
  'replication',
  'tagging',
  'uploads',
  'versioning',
  'versions',
  'website',
  'encryption',
  'object-lock',
];

/** Path-style only: `/bucket` or `/bucket/` is the bucket, `/bucket/key...` an object. */
export function s3Request(r: Pick<RequestInfo, 'method' | 'url' | 'headers'>): S3Request {
  const url = new URL(r.url, 'http://proxy.invalid');
  const query = url.searchParams;
  const path = url.pathname.slice(1);
  const slash = path.indexOf('/');
  const bucket = path === '' ? undefined : safeDecode(slash < 0 ? path : path.slice(0, slash));
  const rawKey = slash < 0 ? '' : path.slice(slash + 1);
  const key = rawKey === '' ? undefined : safeDecode(rawKey);
  const copySource = r.headers['x-amz-copy-source'] !== undefined;
  const op = ((): S3Op => {
    switch (r.method) {
      case 'GET':
        if (key === undefined) {
          if (bucket === undefined) return 'other';
          if (query.has('uploads')) return 'ListMultipartUploads';
          if (BUCKET_SUBRESOURCES.some((s) => query.has(s))) return 'other';
          return query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
        }
        return query.has('uploadId') ? 'ListParts' : 'GetObject';
      case 'HEAD':
        return key === undefined ? 'HeadBucket' : 'HeadObject';
      case 'PUT':
        if (key === undefined)
          return bucket === undefined || [...query.keys()].some((k) => k !== 'x-id') ? 'other' : 'CreateBucket';
        if (query.has('uploadId') && query.has('partNumber')) return copySource ? 'UploadPartCopy' : 'UploadPart';
        return copySource ? 'CopyObject' : 'PutObject';
      case 'POST':
        if (key === undefined) return query.has('delete') ? 'DeleteObjects' : 'other';
        if (query.has('uploads')) return 'CreateMultipartUpload';
        return query.has('uploadId') ? 'CompleteMultipartUpload' : 'other';
      case 'DELETE':
        if (key === undefined) return bucket === undefined ? 'other' : 'DeleteBucket';
        return query.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
      default:
        return 'other';
    }
  })();
  return { op, bucket, key, query };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const inBucket = (s: S3Request, bucket: string | undefined) => bucket === undefined || s.bucket === bucket;

/** One S3 operation (by its SDK name), on `bucket` (any when undefined), optionally only for keys `key` accepts. */
export const isOp =
  (op: S3Op | readonly S3Op[], bucket?: string, key?: string | ((k: string) => boolean)): Matcher =>
  (r) => {
    const s = s3Request(r);
    const ops: readonly S3Op[] = typeof op === 'string' ? [op] : op;
    if (!ops.includes(s.op) || !inBucket(s, bucket)) return false;
    if (key === undefined) return true;
    if (s.key === undefined) return false;
    return typeof key === 'string' ? s.key === key : key(s.key);
  };

/** A listing of objects, v1 or v2; with `page`, only that page (1 = first) or those `page` accepts. */
export const isList =
  (bucket?: string, page?: number | ((n: number) => boolean)): Matcher =>
  (r) => {
    const s = s3Request(r);
    if ((s.op !== 'ListObjects' && s.op !== 'ListObjectsV2') || !inBucket(s, bucket)) return false;
    if (page === undefined) return true;
    if (r.listPage === undefined) return false;
    return typeof page === 'number' ? r.listPage === page : page(r.listPage);
  };

/** Requests that carry object bytes or make an object appear: PUT, multipart parts and completion, copies. */
export const isWrite = (bucket?: string, key?: string | ((k: string) => boolean)): Matcher =>
  isOp(
    ['PutObject', 'CopyObject', 'UploadPart', 'UploadPartCopy', 'CreateMultipartUpload', 'CompleteMultipartUpload'],
    bucket,
    key,
  );

/** HEAD of an object or of the bucket. */
export const isHead = (bucket?: string): Matcher => isOp(['HeadObject', 'HeadBucket'], bucket);

/** Any request for `bucket` (any when undefined). */
export const anyRequest =
  (bucket?: string): Matcher =>
  (r) =>
    inBucket(s3Request(r), bucket);

export const anyOf =
  (...matchers: Matcher[]): Matcher =>
  (r) =>
    matchers.some((m) => m(r));

/** A 503 SlowDown, as a throttling S3 server sends it; `retryAfter` in seconds adds the header. */
export function slowDown(retryAfter?: number): Fault {
  return {
    kind: 'status',
    status: 503,
    code: 'SlowDown',
    ...(retryAfter !== undefined ? { headers: { 'retry-after': String(retryAfter) } } : {}),
  };
}

// --- What a user could see in a destination while a fault is on ------------------------

export interface Expected {
  readonly size: number;
  /** MD5 hex of the bytes; a single-part copy lists it as its ETag. */
  readonly md5: string;
}

export interface Watch {
  /** Stop polling; what was seen that should never be: keys of the wrong size or content. */
  stop(): Promise<string[]>;
}

/**
 * Lists `store` (the real destination, not through the proxy) every `intervalMs` while a
 * fault is on, and records every object a user could have read that is not the source's:
 * a wrong size (a partial object), an ETag that is an MD5 but not the source's (corrupted),
 * or a key the source does not have. `expected` may list several acceptable versions of
 * a key (e.g. the old one a copy replaces). A multipart ETag (`-N`) says nothing of the
 * bytes, so only its size is checked.
 */
export function watchObjects(
  store: ObjectStore,
  expected: ReadonlyMap<string, Expected | readonly Expected[]>,
  intervalMs = 150,
): Watch {
  const seen = new Set<string>();
  let running = true;
  let polls = 0;
  const loop = (async () => {
    while (running) {
      try {
        for await (const o of store.list()) {
          const entry = expected.get(o.key);
          const wants: readonly Expected[] =
            entry === undefined ? [] : Array.isArray(entry) ? entry : [entry as Expected];
          const etag = o.etag.toLowerCase();
          const sized = wants.filter((w) => w.size === o.size);
          let problem: string | undefined;
          if (wants.length === 0) problem = `${JSON.stringify(o.key)} appeared but the source has no such key`;
          else if (sized.length === 0)
            problem =
              `${JSON.stringify(o.key)} was listed with ${o.size} bytes, ` +
              `the source has ${wants.map((w) => w.size).join(' or ')}`;
          else if (/^[0-9a-f]{32}$/.test(etag) && !sized.some((w) => w.md5 === etag))
            problem =
              `${JSON.stringify(o.key)} was listed with ETag ${etag}, ` +
              `not the MD5 of the source's bytes (${sized[0]!.md5})`;
          if (problem) seen.add(problem);
        }
        polls++;
      } catch {
        // A failed poll proves nothing either way; the next one looks again.
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      if (polls === 0) return ['the destination could not be listed even once while the fault was on'];
      return [...seen];
    },
  };
}
