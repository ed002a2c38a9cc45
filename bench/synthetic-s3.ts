/**
 * A synthetic S3 endpoint for benchmarks only: it stores nothing. Every bucket either lists
 * the same N generated keys (in UTF-8 byte order) or is empty; objects are generated from
 * their key on the fly. It measures what this machine's real servers cannot hold (a sweep of
 * 10M keys); correctness is proven on Ceph and Swift, never here.
 *
 *   node --import tsx bench/synthetic-s3.ts [--keys N] [--size BYTES] [--port P] [--host H]
 *
 * Prints one line `{"endpoint":"http://127.0.0.1:PORT", ...}` on stdout once listening; on
 * SIGTERM/SIGINT prints the request counts and its own CPU seconds as one JSON line on stderr.
 *
 * Buckets (path-style only, any name, no auth: any Authorization is accepted):
 * - a name starting with `empty`: lists nothing; PUTs are read, hashed and discarded, so it
 *   stays empty (a sweep into it copies every key, every time);
 * - any other name: lists the N keys, so a sweep between two such buckets finds every key
 *   unchanged (all skipped: listing + merge-join speed).
 *
 * Keys: a few odd ones (space, `+`, `%`, a control character, `..` segments, non-ASCII whose
 * UTF-8 and UTF-16 orders differ, an astral character) around `k/00000000`, `k/00000001`...
 * (the odd ones only when N >= 100; the total is always N). Every object has `--size` bytes
 * (default 4096): a fixed filler then the hex MD5 of the key, so its ETag (the real MD5 of the
 * body) is cheap to compute from a hash state of the filler.
 *
 * Requests: HeadBucket, ListObjects (v1) and ListObjectsV2 (max-keys, prefix, marker,
 * start-after, continuation-token, encoding-type=url; no delimiter), HeadObject, GetObject
 * (streamed), PutObject (body read and discarded, ETag = MD5 of what was read, aws-chunked
 * bodies decoded, Content-MD5 checked), CopyObject, DeleteObject, DeleteObjects,
 * ListMultipartUploads (always none). Anything else answers 501 NotImplemented.
 */
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Options {
  keys: number;
  size: number;
  port: number;
  host: string;
}

function parseOptions(argv: readonly string[]): Options {
  const o: Options = { keys: 10_000, size: 4096, port: 0, host: '127.0.0.1' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--keys') o.keys = Number(value());
    else if (a === '--size') o.size = Number(value());
    else if (a === '--port') o.port = Number(value());
    else if (a === '--host') o.host = value();
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isSafeInteger(o.keys) || o.keys < 0 || o.keys > 100_000_000) throw new Error('--keys: 0 to 100000000');
  if (!Number.isSafeInteger(o.size) || o.size < 0) throw new Error('--size: a byte count');
  return o;
}

const utf8Compare = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** All sort before `k/` (first byte < 0x6b). */
const ODD_BEFORE = ['a b', 'a+b', 'a%2Fb', 'ctl\u0001x', 'dots/../x', 'amp&<lt>'].sort(utf8Compare);
/** All sort after `k/99999999`: U+FF61 (EF BD A1) comes before U+1F600 (F0 9F 98 80) in UTF-8, after it in UTF-16. */
const ODD_AFTER = ['z/caf\u00e9', '\u00e9t\u00e9', '\uff61', '\u{1f600}'].sort(utf8Compare);

/** The listing: a virtual sorted array of N keys, each computed from its index. */
class Keys {
  readonly count: number;
  private readonly before: readonly string[];
  private readonly after: readonly string[];
  private readonly numbered: number;

  constructor(count: number) {
    this.count = count;
    const odd = count >= 100;
    this.before = odd ? ODD_BEFORE : [];
    this.after = odd ? ODD_AFTER : [];
    this.numbered = count - this.before.length - this.after.length;
  }

  at(i: number): string {
    if (i < this.before.length) return this.before[i]!;
    i -= this.before.length;
    if (i < this.numbered) return `k/${String(i).padStart(8, '0')}`;
    return this.after[i - this.numbered]!;
  }

  /** Index of the first key >= `s` (`strict`: > `s`), by UTF-8 bytes. */
  bound(s: string, strict: boolean): number {
    const target = Buffer.from(s, 'utf8');
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = Buffer.compare(Buffer.from(this.at(mid), 'utf8'), target);
      if (c < 0 || (strict && c === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  has(key: string): boolean {
    const i = this.bound(key, false);
    return i < this.count && this.at(i) === key;
  }
}

/** Objects: `size` bytes, a repeated filler then the key's hex MD5 (at most its first `size` bytes). */
class Bodies {
  readonly size: number;
  private readonly tailLength: number;
  private readonly fillerLength: number;
  /** 64 KiB of the filler pattern: the filler is this, repeated and cut at fillerLength. */
  private readonly chunk: Buffer;
  private readonly fillerHash: Hash;

  constructor(size: number) {
    this.size = size;
    this.tailLength = Math.min(32, size);
    this.fillerLength = size - this.tailLength;
    const pattern = Buffer.from('s3s3 synthetic object filler, the same in every body: 0123456789\n'.slice(0, 64));
    this.chunk = Buffer.alloc(64 * 1024);
    for (let i = 0; i < this.chunk.length; i += pattern.length) pattern.copy(this.chunk, i);
    this.fillerHash = createHash('md5');
    for (let left = this.fillerLength; left > 0; left -= this.chunk.length)
      this.fillerHash.update(left >= this.chunk.length ? this.chunk : this.chunk.subarray(0, left));
  }

  private tail(key: string): Buffer {
    return Buffer.from(createHash('md5').update(key, 'utf8').digest('hex').slice(0, this.tailLength), 'latin1');
  }

  etag(key: string): string {
    return this.fillerHash.copy().update(this.tail(key)).digest('hex');
  }

  /** Writes the body with backpressure; resolves when all is handed to the socket. */
  async write(key: string, res: ServerResponse): Promise<void> {
    for (let left = this.fillerLength; left > 0;) {
      const n = Math.min(left, this.chunk.length);
      left -= n;
      if (!res.write(n === this.chunk.length ? this.chunk : this.chunk.subarray(0, n))) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
        if (res.destroyed) return;
      }
    }
    res.end(this.tail(key));
  }
}

const LAST_MODIFIED = new Date(Date.UTC(2026, 0, 1));
const LAST_MODIFIED_ISO = LAST_MODIFIED.toISOString();
const LAST_MODIFIED_HTTP = LAST_MODIFIED.toUTCString();
const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

function xmlEscape(s: string): string {
  // Characters XML 1.0 cannot carry even escaped are written as numeric references, as AWS does;
  // a client asks for encoding-type=url to get such keys intact.
  return s.replace(/[&<>"'\u0000-\u0008\u000b\u000c\u000e-\u001f\r]/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      case "'":
        return '&apos;';
      default:
        return `&#x${c.charCodeAt(0).toString(16)};`;
    }
  });
}

/** encoding-type=url as AWS writes it: form encoding (space as `+`), `/` kept. */
function urlEncodeKey(s: string): string {
  return encodeURIComponent(s).replace(/%20/g, '+').replace(/%2F/g, '/');
}

/**
 * The Contents elements of one page, cached: a sweep asks the source and the destination for
 * the same pages within moments, so the second listing of a page costs the server nothing.
 */
class PageCache {
  private readonly entries = new Map<string, string>();
  constructor(private readonly max: number) {}
  get(id: string, make: () => string): string {
    let v = this.entries.get(id);
    if (v !== undefined) {
      this.entries.delete(id);
      this.entries.set(id, v);
      return v;
    }
    v = make();
    this.entries.set(id, v);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
    return v;
  }
}

const counts: Record<string, number> = {};
const count = (op: string) => {
  counts[op] = (counts[op] ?? 0) + 1;
};

function sendXml(res: ServerResponse, status: number, body: string, head = false): void {
  const buf = Buffer.from(body, 'utf8');
  res.writeHead(status, {
    'content-type': 'application/xml',
    'content-length': buf.length,
    'x-amz-request-id': 'synthetic',
  });
  res.end(head ? undefined : buf);
}

function sendError(res: ServerResponse, status: number, code: string, message: string, head = false): void {
  count(`error ${status} ${code}`);
  sendXml(
    res,
    status,
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
      `<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message><RequestId>synthetic</RequestId></Error>`,
    head,
  );
}

function main(): void {
  const options = parseOptions(process.argv.slice(2));
  const keys = new Keys(options.keys);
  const none = new Keys(0);
  const bodies = new Bodies(options.size);
  const pages = new PageCache(16);
  const listingOf = (bucket: string) => (bucket.startsWith('empty') ? none : keys);

  function contents(list: Keys, start: number, end: number, url: boolean): string {
    return pages.get(`${list.count}:${start}:${end}:${url}`, () => {
      const parts: string[] = [];
      for (let i = start; i < end; i++) {
        const key = list.at(i);
        parts.push(
          `<Contents><Key>${url ? urlEncodeKey(key) : xmlEscape(key)}</Key>` +
            `<LastModified>${LAST_MODIFIED_ISO}</LastModified><ETag>&quot;${bodies.etag(key)}&quot;</ETag>` +
            `<Size>${bodies.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
        );
      }
      return parts.join('');
    });
  }

  function list(res: ServerResponse, bucket: string, q: URLSearchParams): void {
    const v2 = q.get('list-type') === '2';
    count(v2 ? 'ListObjectsV2' : 'ListObjects');
    if (q.get('delimiter'))
      return sendError(res, 501, 'NotImplemented', 'the synthetic endpoint lists without a delimiter');
    const encoding = q.get('encoding-type');
    if (encoding !== null && encoding !== 'url')
      return sendError(res, 400, 'InvalidArgument', 'Invalid Encoding Method specified in Request');
    const url = encoding === 'url';
    const enc = (s: string) => (url ? urlEncodeKey(s) : xmlEscape(s));
    const maxKeysRaw = q.get('max-keys');
    const maxKeys = maxKeysRaw === null ? 1000 : Math.min(1000, Number(maxKeysRaw));
    if (!Number.isInteger(maxKeys) || maxKeys < 0)
      return sendError(res, 400, 'InvalidArgument', 'max-keys must be a non-negative integer');
    const prefix = q.get('prefix') ?? '';
    const list = listingOf(bucket);
    let start = prefix ? list.bound(prefix, false) : 0;
    const token = q.get('continuation-token');
    const startAfter = q.get('start-after');
    const marker = q.get('marker');
    // A continuation token is the base64 of the last key sent; it wins over start-after, as on AWS.
    const after = v2 ? (token !== null ? Buffer.from(token, 'base64url').toString('utf8') : startAfter) : marker;
    if (after) start = Math.max(start, list.bound(after, true));
    let end = start;
    while (end < list.count && end - start < maxKeys && (!prefix || list.at(end).startsWith(prefix))) end++;
    const truncated = end < list.count && (!prefix || list.at(end).startsWith(prefix));
    const last = end > start ? list.at(end - 1) : undefined;
    const head =
      `<?xml version="1.0" encoding="UTF-8"?>\n` +
      `<ListBucketResult xmlns="${XMLNS}"><Name>${xmlEscape(bucket)}</Name><Prefix>${enc(prefix)}</Prefix>`;
    const tail = `${contents(list, start, end, url)}</ListBucketResult>`;
    if (v2) {
      const next =
        truncated && last !== undefined
          ? `<NextContinuationToken>${Buffer.from(last, 'utf8').toString('base64url')}</NextContinuationToken>`
          : '';
      sendXml(
        res,
        200,
        `${head}${token !== null ? `<ContinuationToken>${xmlEscape(token)}</ContinuationToken>` : ''}` +
          `${startAfter !== null ? `<StartAfter>${enc(startAfter)}</StartAfter>` : ''}${next}` +
          `<KeyCount>${end - start}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>` +
          `${url ? '<EncodingType>url</EncodingType>' : ''}<IsTruncated>${truncated}</IsTruncated>${tail}`,
      );
    } else {
      const next = truncated && last !== undefined ? `<NextMarker>${enc(last)}</NextMarker>` : '';
      sendXml(
        res,
        200,
        `${head}<Marker>${marker !== null ? enc(marker) : ''}</Marker>${next}<MaxKeys>${maxKeys}</MaxKeys>` +
          `${url ? '<EncodingType>url</EncodingType>' : ''}<IsTruncated>${truncated}</IsTruncated>${tail}`,
      );
    }
  }

  function objectHeaders(key: string): Record<string, string | number> {
    return {
      'content-length': bodies.size,
      etag: `"${bodies.etag(key)}"`,
      'last-modified': LAST_MODIFIED_HTTP,
      'content-type': 'application/octet-stream',
      'accept-ranges': 'bytes',
      'x-amz-request-id': 'synthetic',
    };
  }

  async function put(req: IncomingMessage, res: ServerResponse, bucket: string, key: string): Promise<void> {
    const copySource = req.headers['x-amz-copy-source'];
    if (typeof copySource === 'string') {
      count('CopyObject');
      req.resume();
      const raw = decodeURIComponent(copySource.replace(/^\//, '').split('?')[0]!);
      const slash = raw.indexOf('/');
      const fromBucket = raw.slice(0, slash);
      const fromKey = raw.slice(slash + 1);
      if (slash < 0 || !listingOf(fromBucket).has(fromKey))
        return sendError(res, 404, 'NoSuchKey', 'The specified key does not exist.');
      const etag = bodies.etag(fromKey);
      const ifMatch = req.headers['x-amz-copy-source-if-match'];
      if (typeof ifMatch === 'string' && ifMatch.replace(/"/g, '') !== etag)
        return sendError(
          res,
          412,
          'PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold',
        );
      return sendXml(
        res,
        200,
        `<?xml version="1.0" encoding="UTF-8"?>\n` +
          `<CopyObjectResult xmlns="${XMLNS}"><LastModified>${LAST_MODIFIED_ISO}</LastModified>` +
          `<ETag>&quot;${etag}&quot;</ETag></CopyObjectResult>`,
      );
    }
    count('PutObject');
    const md5 = createHash('md5');
    const chunked =
      String(req.headers['content-encoding'] ?? '').includes('aws-chunked') ||
      String(req.headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-');
    const sink = chunked ? new AwsChunkedDecoder((b) => md5.update(b)) : undefined;
    let read = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      read += chunk.length;
      if (sink) sink.push(chunk);
      else md5.update(chunk);
    }
    const digest = md5.digest();
    const declared = req.headers['content-md5'];
    if (typeof declared === 'string' && declared !== digest.toString('base64'))
      return sendError(res, 400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
    const length = Number(req.headers['x-amz-decoded-content-length'] ?? req.headers['content-length'] ?? read);
    if (!chunked && length !== read)
      return sendError(
        res,
        400,
        'IncompleteBody',
        'You did not provide the number of bytes specified by the Content-Length HTTP header.',
      );
    void bucket;
    void key;
    res.writeHead(200, { etag: `"${digest.toString('hex')}"`, 'content-length': 0, 'x-amz-request-id': 'synthetic' });
    res.end();
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = req.url ?? '/';
    const qAt = raw.indexOf('?');
    const path = qAt < 0 ? raw : raw.slice(0, qAt);
    const q = new URLSearchParams(qAt < 0 ? '' : raw.slice(qAt + 1));
    // Path-style: /bucket or /bucket/key; the key is taken byte for byte, never normalised.
    const slash = path.indexOf('/', 1);
    const bucket = decodeURIComponent(slash < 0 ? path.slice(1) : path.slice(1, slash));
    const key = slash < 0 ? '' : decodeURIComponent(path.slice(slash + 1));
    const method = req.method ?? 'GET';
    if (!bucket) {
      req.resume();
      return sendError(res, 501, 'NotImplemented', 'ListBuckets is not implemented');
    }
    if (key === '') {
      if (method === 'HEAD') {
        count('HeadBucket');
        res.writeHead(200, { 'x-amz-request-id': 'synthetic', 'x-amz-bucket-region': 'us-east-1' });
        return void res.end();
      }
      if (method === 'GET' && q.has('uploads')) {
        count('ListMultipartUploads');
        return sendXml(
          res,
          200,
          `<?xml version="1.0" encoding="UTF-8"?>\n` +
            `<ListMultipartUploadsResult xmlns="${XMLNS}"><Bucket>${xmlEscape(bucket)}</Bucket>` +
            `<KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><MaxUploads>1000</MaxUploads>` +
            `<IsTruncated>false</IsTruncated></ListMultipartUploadsResult>`,
        );
      }
      if (method === 'GET' && !q.has('location') && !q.has('versioning')) return list(res, bucket, q);
      if (method === 'POST' && q.has('delete')) {
        count('DeleteObjects');
        for await (const _ of req) void _;
        return sendXml(
          res,
          200,
          `<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult xmlns="${XMLNS}"></DeleteResult>`,
        );
      }
      if (method === 'PUT') {
        count('CreateBucket');
        req.resume();
        res.writeHead(200, { 'content-length': 0 });
        return void res.end();
      }
      req.resume();
      return sendError(res, 501, 'NotImplemented', `${method} on a bucket with ?${q.toString()} is not implemented`);
    }
    switch (method) {
      case 'HEAD':
      case 'GET': {
        count(method === 'HEAD' ? 'HeadObject' : 'GetObject');
        req.resume();
        if (!listingOf(bucket).has(key))
          return sendError(res, 404, 'NoSuchKey', 'The specified key does not exist.', method === 'HEAD');
        res.writeHead(200, objectHeaders(key));
        if (method === 'HEAD') return void res.end();
        return bodies.write(key, res);
      }
      case 'PUT':
        if (q.has('partNumber') || q.has('uploadId')) break;
        return put(req, res, bucket, key);
      case 'DELETE':
        if (q.has('uploadId')) break;
        count('DeleteObject');
        req.resume();
        res.writeHead(204, { 'x-amz-request-id': 'synthetic' });
        return void res.end();
    }
    req.resume();
    return sendError(
      res,
      501,
      'NotImplemented',
      `${method} ${q.toString()} on an object is not implemented (no multipart here)`,
    );
  }

  // SYNTHETIC_S3_TRACE=FILE: one line per request (start ms, duration ms, method, url, headers).
  const trace = process.env.SYNTHETIC_S3_TRACE ? createWriteStream(process.env.SYNTHETIC_S3_TRACE) : undefined;
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    if (trace) {
      const t0 = performance.now();
      res.on('finish', () =>
        trace.write(
          `${t0.toFixed(1)} ${(performance.now() - t0).toFixed(1)} ${req.method} ${req.url} ` +
            `${res.statusCode} ${JSON.stringify(req.headers)}\n`,
        ),
      );
    }
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'InternalError', err instanceof Error ? err.message : String(err));
      else res.destroy();
    });
  });
  server.listen(options.port, options.host, () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(
      `${JSON.stringify({ endpoint: `http://${options.host}:${port}`, keys: options.keys, size: options.size })}\n`,
    );
  });
  const stop = () => {
    const cpu = process.cpuUsage();
    process.stderr.write(`${JSON.stringify({ requests: counts, cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`);
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/**
 * The payload of an `aws-chunked` body: `HEX[;chunk-signature=...]\r\n DATA \r\n` ... ending with
 * a zero-size chunk and optional trailers (ignored).
 */
class AwsChunkedDecoder {
  private pending: Buffer = Buffer.alloc(0);
  /** Bytes of data left in the current chunk, then its CRLF; -1 while reading a header line. */
  private left = -1;
  private done = false;
  constructor(private readonly out: (b: Buffer) => void) {}

  push(chunk: Buffer): void {
    let buf: Buffer = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (buf.length && !this.done) {
      if (this.left < 0) {
        const eol = buf.indexOf('\r\n');
        if (eol < 0) {
          this.pending = buf;
          return;
        }
        const size = parseInt(buf.subarray(0, eol).toString('latin1').split(';')[0]!, 16);
        buf = buf.subarray(eol + 2);
        if (size === 0) {
          this.done = true;
          return;
        }
        this.left = size + 2;
        continue;
      }
      const data = Math.max(0, this.left - 2);
      const take = Math.min(buf.length, this.left);
      this.out(buf.subarray(0, Math.min(take, data)));
      this.left -= take;
      buf = buf.subarray(take);
      if (this.left === 0) this.left = -1;
    }
  }
}

main();
