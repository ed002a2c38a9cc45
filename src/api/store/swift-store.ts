/** The store of a Swift container through Swift's own API (SwiftStore). */
import { createHash, randomBytes } from 'node:crypto';
import type http from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import { swiftSection, type EndpointConfig, type SwiftConfig, type SwiftEndpointConfig } from '../config.js';
import { META_SOURCE_ETAG } from '../copy/decide.js';
import { StoreError } from '../errors.js';
import { silentLogger } from '../log.js';
import { printAs } from '../redact.js';
import { patientPolicy, type RetryPolicy } from '../retry.js';
import { BucketCheck } from './bucket-check.js';
import { endpointPacer, nullIfMissing, pacedCall, type CallOptions } from './endpoint-call.js';
import { createAgent } from './http-agent.js';
import { readListing, readText, type LeanRequest, type LeanResponse } from './lean-http.js';
import {
  listAll,
  settingsOf,
  type CompletedPart,
  type DeleteFailure,
  type HeadInfo,
  type ListPage,
  type MultipartCapable,
  type ObjectHeaders,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type PutResult,
  type StoreSettings,
  type UploadedPart,
} from './object-store.js';
import type { Pacer } from './pacer.js';
import { encodeKeyPath, encodeQueryComponent } from './sigv4.js';
import { segmentChecks, SegmentVerifier, sloEtagOf, type SegmentCheck } from './swift-verify.js';
import { sendTo, statusOf, SwiftAuth, unreachableError, type SwiftSession, type Transport } from './swift-auth.js';
import { eachAtMost } from '../each.js';
import { SWIFT_QUIRKS, type Quirks } from './quirks.js';
import { bodyLimit, errorContext, headerValue, stripQuotes, userMetadata, type StoreOptions } from './store-common.js';

/** What a SwiftStore is given besides its config section: the options every store takes. */
export type SwiftStoreOptions = StoreOptions;

/** A request on the container (no key) or on one object, in this container or another of the account. */
interface SwiftRequest extends LeanRequest {
  readonly container?: string;
}

/** One SLO being uploaded: the headers for its manifest and the segments put so far. */
interface Upload {
  readonly key: string;
  readonly headers: Partial<ObjectHeaders>;
  readonly prefix: string;
  readonly sizes: Map<number, number>;
}

interface ListingEntry {
  name?: string;
  subdir?: string;
  bytes?: number;
  hash?: string;
  last_modified?: string;
  slo_etag?: string;
}

/** The MD5 of no bytes: how a DLO manifest (and a real empty object) is listed. */
const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

/** Segments per SLO manifest that every Swift takes (max_manifest_segments defaults to 1000). */
export const SLO_MAX_SEGMENTS = SWIFT_QUIRKS.maxParts;

/**
 * A Swift container through Swift's own API (`type = swift`): JSON listings in byte order,
 * object HEAD/GET/PUT/DELETE with the ETag header on PUT (Swift checks the MD5 itself),
 * `X-Object-Meta-*` for user metadata, server-side copy within one account (`X-Copy-From`),
 * and Static Large Objects for objects over multipart_threshold: the copy layer's multipart
 * upload, with segments in `<container>_segments` and the manifest put last.
 *
 * Requests go through the same keep-alive agents, timeouts, error classes, pacer, retry
 * policy and bucket checks as the S3 store; only the addressing and the auth differ.
 */
export class SwiftStore implements ObjectStore, MultipartCapable {
  readonly name: string;
  readonly endpoint: string;
  readonly bucket: string;
  /** What Swift's own API does unlike S3's (see quirks.ts). */
  readonly quirks: Quirks = SWIFT_QUIRKS;
  readonly config: SwiftEndpointConfig;
  readonly swift: SwiftConfig;
  readonly settings: StoreSettings;
  readonly pacer: Pacer;
  /** The bodies read, kept to `bwlimit` (the source's section only). */
  private readonly limited: (body: Readable) => Readable;
  readonly auth: SwiftAuth;
  private readonly agents = new Map<boolean, http.Agent>();
  private readonly transport: Transport;
  private readonly retry: RetryPolicy;
  /** Keys seen to be SLOs (listing or HEAD): overwriting or deleting one removes its segments. */
  private readonly sloKeys = new Set<string>();
  private readonly uploads = new Map<string, Upload>();
  private segmentsContainer: Promise<void> | undefined;
  /** The container seen to exist, and what a 404 on a key means (shared with the S3 store). */
  private readonly bucketCheck: BucketCheck;

  constructor(section: EndpointConfig, options: SwiftStoreOptions = {}) {
    const config = swiftSection(section);
    this.config = config;
    this.swift = config.swift;
    this.name = config.name;
    this.endpoint = config.endpoint;
    this.bucket = config.bucket;
    // Swift's default max_manifest_segments: larger objects get larger segments, not more of them.
    this.settings = Object.freeze({ ...settingsOf(config), maxParts: this.quirks.maxParts });
    this.retry = options.retry ?? patientPolicy(config.maxRetries);
    this.pacer = endpointPacer(config, options.logger ?? silentLogger);
    this.limited = bodyLimit(config);
    const agents = this.agents;
    this.transport = {
      // auth_url and the storage URL may differ in scheme: one agent each, made on first use.
      agentFor(secure: boolean): http.Agent {
        let a = agents.get(secure);
        if (!a)
          agents.set(
            secure,
            (a = createAgent(secure, config.concurrency + 4, {
              ca: config.caBundle,
              rejectUnauthorized: config.verifySsl,
            })),
          );
        return a;
      },
      connectTimeoutMs: config.connectTimeoutMs,
      readTimeoutMs: config.readTimeoutMs,
    };
    this.auth = new SwiftAuth(config.swift, {
      section: config.name,
      container: config.bucket,
      transport: this.transport,
    });
    this.bucketCheck = new BucketCheck({
      store: this,
      quirks: this.quirks,
      headBucket: () => this.call('HeadBucket', undefined, (s) => this.send(s, { method: 'HEAD' })),
    });
  }

  /** Large objects' segments live here: `<container>_segments`. */
  get segmentContainer(): string {
    return `${this.bucket}_segments`;
  }

  private ctx(op: string, key?: string) {
    return errorContext(this, op, key);
  }

  /** One request with the session's token, addressed by the key's bytes (never normalised). */
  private send(session: SwiftSession, req: SwiftRequest): Promise<LeanResponse> {
    const base = new URL(session.storageUrl);
    const container = `${base.pathname.replace(/\/+$/, '')}/${encodeQueryComponent(req.container ?? this.bucket)}`;
    const path = req.key === undefined ? container : `${container}/${encodeKeyPath(req.key)}`;
    const qs = Object.entries(req.query ?? {})
      .map(([k, v]) => (v === '' ? encodeQueryComponent(k) : `${encodeQueryComponent(k)}=${encodeQueryComponent(v)}`))
      .join('&');
    return sendTo(this.transport, base, qs === '' ? path : `${path}?${qs}`, req, {
      'x-auth-token': session.token,
      ...req.headers,
    });
  }

  /**
   * One call through the pacer, errors typed. A 401 gets one new token (shared with every call
   * refused with the same one) and, when the request can be sent again, one more try; a second
   * 401 is fatal. A streamed body cannot be sent again: that upload fails retryable instead.
   */
  private async call<T>(
    op: string,
    key: string | undefined,
    fn: (s: SwiftSession) => Promise<T>,
    o: CallOptions = {},
  ): Promise<T> {
    const attempt = async (): Promise<T> => {
      const session = await this.auth.session();
      try {
        return await fn(session);
      } catch (err) {
        // The storage URL comes from the auth service (or storage_url): name it, not auth_url.
        const unreachable = unreachableError(
          err,
          { ...this.ctx(op, key), endpoint: session.storageUrl },
          this.swift.storageUrl !== undefined
            ? 'check storage_url and that Swift is up'
            : 'the auth service at auth_url hands out this storage URL and it does not answer from here: ' +
                'set storage_url to the account URL that reaches Swift',
        );
        if (unreachable) throw unreachable;
        if (statusOf(err) !== 401) throw err;
        const fresh = await this.auth.renew(session);
        if (o.replayable === false) {
          throw new StoreError({
            ...this.ctx(op, key),
            status: 401,
            code: 'TokenRefused',
            errorClass: 'retry',
            cause: err,
            detail:
              'the token was refused (expired or revoked); a new one was obtained and the upload will be tried again',
          });
        }
        return await fn(fresh);
      }
    };
    return pacedCall(this.pacer, this.retry, this.ctx(op, key), attempt, o);
  }

  bucketExists(): Promise<boolean> {
    return this.bucketCheck.exists();
  }

  async listPage(options: { prefix?: string; next?: string; startAfter?: string } = {}): Promise<ListPage> {
    const limit = this.config.listPageSize;
    const query: Record<string, string> = { format: 'json', limit: String(limit) };
    if (options.prefix) query.prefix = options.prefix;
    const marker = options.next ?? options.startAfter;
    if (marker !== undefined) query.marker = marker;
    let entries: ListingEntry[];
    try {
      entries = await this.call('ListObjects', undefined, async (s) =>
        readListing((await this.send(s, { method: 'GET', query })).body, parseJsonListing),
      );
    } catch (err) {
      // A listing's 404 is the container's own: there is no key to be missing.
      if (err instanceof StoreError && err.status === 404)
        throw this.bucketCheck.missing('ListObjects', undefined, err);
      throw err;
    }
    this.bucketCheck.seen();
    const objects: ObjectInfo[] = [];
    for (const e of entries) {
      if (e.name === undefined) continue;
      // The listing's hash of an SLO is the MD5 of its manifest; slo_etag is the object's ETag, no MD5 either.
      const slo = e.slo_etag !== undefined;
      if (slo) this.sloKeys.add(e.name);
      else this.sloKeys.delete(e.name);
      objects.push({
        key: e.name,
        size: e.bytes ?? 0,
        etag: stripQuotes(slo ? e.slo_etag : e.hash),
        ...(slo ? { etagIsMd5: false } : {}),
        ...(e.last_modified
          ? { lastModified: new Date(e.last_modified.endsWith('Z') ? e.last_modified : `${e.last_modified}Z`) }
          : {}),
      });
    }
    await this.resolveDlos(objects);
    // Swift says nothing of more pages: a full page may have a next one.
    const last = entries.length >= limit ? entries[entries.length - 1] : undefined;
    const next = last?.name ?? last?.subdir;
    return next === undefined ? { objects } : { objects, next };
  }

  /**
   * A Dynamic Large Object is listed as its manifest: 0 bytes with the MD5 of nothing, while a
   * GET gives its segments' bytes. Listed so, it would be copied again by every sweep, and size
   * filters would see 0. Each such entry is asked about (HEAD): a DLO gets its real size and
   * ETag (no MD5). A real empty object costs one HEAD per sweep.
   */
  private async resolveDlos(objects: ObjectInfo[]): Promise<void> {
    const empty = objects.flatMap((o, i) => (o.size === 0 && o.etag === EMPTY_MD5 ? [i] : []));
    await eachAtMost(empty, 8, async (i) => {
      const o = objects[i]!;
      const h = await this.head(o.key);
      if (h && h.etagIsMd5 === false)
        objects[i] = {
          key: o.key,
          size: h.size,
          etag: h.etag,
          etagIsMd5: false,
          ...(o.lastModified ? { lastModified: o.lastModified } : {}),
        };
    });
  }

  list(options: { prefix?: string } = {}): AsyncGenerator<ObjectInfo> {
    return listAll(this, options);
  }

  head(key: string): Promise<HeadInfo | null> {
    return nullIfMissing(
      async () => this.toHead(key, await this.call('HeadObject', key, (s) => this.send(s, { method: 'HEAD', key }))),
      (err) => this.bucketCheck.confirmNotFound(err),
    );
  }

  async get(key: string): Promise<{ body: Readable; info: HeadInfo }> {
    try {
      const res = await this.call('GetObject', key, (s) => this.send(s, { method: 'GET', key }));
      const info = this.toHead(key, res);
      if (header(res, 'x-static-large-object')?.toLowerCase() !== 'true') return { body: this.limited(res.body), info };
      return { body: this.limited(await this.verifiedSlo(key, res, info)), info };
    } catch (err) {
      throw await this.bucketCheck.getNotFound(err);
    }
  }

  /**
   * An SLO's body, each segment checked against its manifest as it streams: its ETag is no
   * MD5, so this is the only check its bytes get. A manifest that changed since the GET (the
   * object was overwritten) or cannot vouch for the bytes (nested, ranged) leaves the body as is.
   */
  private async verifiedSlo(key: string, res: LeanResponse, info: HeadInfo): Promise<Readable> {
    let checks: SegmentCheck[] | undefined;
    try {
      const text = await this.call(
        'GetManifest',
        key,
        async (s) =>
          readText((await this.send(s, { method: 'GET', key, query: { 'multipart-manifest': 'get' } })).body),
        { slotted: false },
      );
      checks = segmentChecks(JSON.parse(text), info.size);
    } catch (err) {
      res.body.destroy();
      throw err;
    }
    if (checks === undefined || sloEtagOf(checks) !== info.etag) return res.body;
    const verifier = new SegmentVerifier(
      checks,
      (segment, got, want) =>
        new StoreError({
          ...this.ctx('GetObject', key),
          code: 'BadDigest',
          errorClass: 'retry',
          detail:
            `segment ${segment + 1} of the large object read back as ${got}, its manifest says ${want}: ` +
            'the bytes were damaged on the way; it is read again',
        }),
    );
    pipeline(res.body, verifier, () => {});
    return verifier;
  }

  private toHead(key: string, res: LeanResponse): HeadInfo {
    const info = headInfo(key, res);
    if (info.etagIsMd5 === false) this.sloKeys.add(key);
    else this.sloKeys.delete(key);
    return info;
  }

  async put(key: string, body: Readable | Buffer, options: PutOptions): Promise<PutResult> {
    const old = this.sloKeys.has(key) ? await this.segmentsOf(key) : [];
    const headers = objectHeaders(options);
    if (options.contentMd5 !== undefined) headers['etag'] = Buffer.from(options.contentMd5, 'base64').toString('hex');
    const res = await this.call(
      'PutObject',
      key,
      (s) =>
        this.send(s, {
          method: 'PUT',
          key,
          body,
          contentLength: options.contentLength,
          headers,
          signal: options.signal,
        }),
      {
        retry: false,
        replayable: Buffer.isBuffer(body),
      },
    );
    this.sloKeys.delete(key);
    await this.deleteSegments(old);
    return { etag: stripQuotes(header(res, 'etag')) };
  }

  /**
   * Deletes the object; for a manifest, the manifest alone: never `multipart-manifest=delete`,
   * which deletes every segment the manifest names, those of an SLO written by someone else
   * included (segments in containers s3s3 does not own, maybe shared by other manifests). For
   * a key seen to be an SLO (listed or HEADed: every delete path looks at the key first), the
   * manifest is read before the delete, and the segments s3s3 put for that key
   * (`<container>_segments/<sha256 of the key>/`) are deleted after it. A key already gone
   * counts as deleted.
   */
  async delete(key: string): Promise<void> {
    const own = this.sloKeys.has(key) ? await this.segmentsOf(key) : [];
    try {
      await this.call('DeleteObject', key, (s) => this.send(s, { method: 'DELETE', key }));
    } catch (err) {
      if (!(err instanceof StoreError && err.notFound)) throw err;
      // Gone already only in a container that exists: a missing container is fatal, as on S3.
      const confirmed = await this.bucketCheck.confirmNotFound(err);
      if (!confirmed.notFound) throw confirmed;
    }
    this.sloKeys.delete(key);
    await this.deleteSegments(own);
  }

  /** One key at a time, `concurrency` at once (as delete: s3s3's own SLO segments go, nobody else's). */
  async deleteMany(keys: readonly string[]): Promise<DeleteFailure[]> {
    const failures: DeleteFailure[] = [];
    await eachAtMost(keys, this.settings.concurrency, async (key) => {
      try {
        await this.delete(key);
      } catch (err) {
        if (!(err instanceof StoreError) || err.errorClass === 'fatal') throw err;
        failures.push({ key, error: err });
      }
    });
    return failures;
  }

  // --- Static Large Objects, as the copy layer's multipart upload ---------------------

  async createMultipart(key: string, headers: Partial<ObjectHeaders>): Promise<string> {
    await (this.segmentsContainer ??= this.call('CreateMultipartUpload', key, (s) =>
      this.send(s, { method: 'PUT', container: this.segmentContainer }),
    ).then(
      () => undefined,
      (err: unknown) => {
        this.segmentsContainer = undefined;
        throw err;
      },
    ));
    const uploadId = `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
    // Named from a hash of the key, so a 1024-byte key's segments fit Swift's name limit too.
    this.uploads.set(uploadId, { key, headers, prefix: `${segmentDir(key)}${uploadId}/`, sizes: new Map() });
    return uploadId;
  }

  async uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Readable | Buffer,
    options: { contentLength: number; contentMd5?: string },
  ): Promise<string> {
    const upload = this.upload(uploadId, 'UploadPart', key);
    const headers: Record<string, string> = {};
    if (options.contentMd5 !== undefined) headers['etag'] = Buffer.from(options.contentMd5, 'base64').toString('hex');
    const segment = upload.prefix + String(partNumber).padStart(5, '0');
    const res = await this.call(
      'UploadPart',
      key,
      (s) =>
        this.send(s, {
          method: 'PUT',
          container: this.segmentContainer,
          key: segment,
          body,
          contentLength: options.contentLength,
          headers,
        }),
      {
        retry: Buffer.isBuffer(body),
        replayable: Buffer.isBuffer(body),
      },
    );
    upload.sizes.set(partNumber, options.contentLength);
    return stripQuotes(header(res, 'etag'));
  }

  /**
   * The manifest, last: Swift checks every segment's ETag and size against it. Its ETag is
   * the MD5 of the segments' ETags, checked here; it is no MD5 of the bytes. Segments of an
   * SLO this one replaces are deleted once the new manifest is in place.
   */
  async completeMultipart(key: string, uploadId: string, parts: readonly CompletedPart[]): Promise<PutResult> {
    const upload = this.upload(uploadId, 'CompleteMultipartUpload', key);
    // Whatever is there now is replaced: an SLO's segments are deleted once the new manifest is in place.
    const old = await this.segmentsOf(key);
    const manifest = Buffer.from(
      JSON.stringify(
        parts.map((p) => ({
          path: `/${this.segmentContainer}/${upload.prefix}${String(p.partNumber).padStart(5, '0')}`,
          etag: p.etag,
          size_bytes: upload.sizes.get(p.partNumber) ?? null,
        })),
      ),
    );
    const headers = objectHeaders(upload.headers);
    const res = await this.call(
      'CompleteMultipartUpload',
      key,
      (s) =>
        this.send(s, {
          method: 'PUT',
          key,
          query: { 'multipart-manifest': 'put' },
          body: manifest,
          contentLength: manifest.length,
          headers,
        }),
      { retry: true, replayable: true },
    );
    const etag = stripQuotes(header(res, 'etag'));
    const expected = createHash('md5')
      .update(parts.map((p) => p.etag).join(''))
      .digest('hex');
    if (etag !== '' && etag !== expected) {
      throw new StoreError({
        ...this.ctx('CompleteMultipartUpload', key),
        errorClass: 'retry',
        detail: `the manifest has ETag ${etag}, the segments put give ${expected}`,
      });
    }
    this.uploads.delete(uploadId);
    this.sloKeys.add(key);
    await this.deleteSegments(old.filter((s) => !s.startsWith(upload.prefix)));
    return { etag: etag || expected, etagIsMd5: false };
  }

  /**
   * An SLO upload begun earlier (maybe by a process since killed): its segments, named by part
   * number, with their sizes and MD5s; the upload is taken up in this process with `headers`
   * for its manifest. Null when it was completed (the key's manifest names its segments); an
   * upload with no segment left is [] (its id is s3s3's own).
   */
  async resumeMultipart(
    key: string,
    uploadId: string,
    headers: Partial<ObjectHeaders>,
  ): Promise<UploadedPart[] | null> {
    const prefix = `${segmentDir(key)}${uploadId}/`;
    // Completed already: the key's manifest names this upload's segments.
    if ((await this.segmentsOf(key)).some((n) => n.startsWith(prefix))) return null;
    const parts: UploadedPart[] = [];
    try {
      for await (const e of this.entries(this.segmentContainer, prefix, 'ListParts')) {
        const n = /^(\d{5})$/.exec(e.name?.slice(prefix.length) ?? '')?.[1];
        if (n !== undefined && e.bytes !== undefined && e.hash !== undefined)
          parts.push({ partNumber: Number(n), size: e.bytes, etag: e.hash });
      }
    } catch (err) {
      // No segment container yet: no segment either.
      if (!(err instanceof StoreError && (err.kind === 'notFound' || err.kind === 'bucketMissing'))) throw err;
    }
    this.uploads.set(uploadId, { key, headers, prefix, sizes: new Map(parts.map((p) => [p.partNumber, p.size])) });
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  /** A range of the object while its ETag is `ifMatch` (Swift answers 412 otherwise). */
  async getRange(key: string, start: number, end: number, ifMatch: string): Promise<{ body: Readable; etag: string }> {
    const res = await this.call('GetObject', key, (s) =>
      this.send(s, { method: 'GET', key, headers: { range: `bytes=${start}-${end}`, 'if-match': ifMatch } }),
    );
    return { body: this.limited(res.body), etag: stripQuotes(header(res, 'etag')) };
  }

  /** Deletes every segment of the upload (those put, and any whose answer was lost). */
  async abortMultipart(key: string, uploadId: string): Promise<void> {
    const upload = this.upload(uploadId, 'AbortMultipartUpload', key);
    // An upload whose manifest went in (its answer lost, or its record outlived it) is the live
    // object now: the segments the key's manifest names are never deleted here.
    const live = new Set(await this.segmentsOf(key));
    this.uploads.delete(uploadId);
    const names: string[] = [];
    for await (const name of this.names(this.segmentContainer, upload.prefix, 'AbortMultipartUpload'))
      if (!live.has(name)) names.push(name);
    await this.deleteSegments(names);
  }

  private upload(uploadId: string, op: string, key: string): Upload {
    const u = this.uploads.get(uploadId);
    if (!u || u.key !== key)
      throw new StoreError({
        ...this.ctx(op, key),
        errorClass: 'object',
        detail: `no upload ${uploadId} of this key in this process`,
      });
    return u;
  }

  /**
   * The segments of the SLO at `key` that s3s3 put (in `<container>_segments/<hash of key>/`);
   * [] for any other object. Runs under the caller's upload slot (unslotted), like every
   * call a write makes for itself.
   */
  private async segmentsOf(key: string): Promise<string[]> {
    let text: string;
    try {
      text = await this.call(
        'GetManifest',
        key,
        async (s) => {
          const res = await this.send(s, { method: 'GET', key, query: { 'multipart-manifest': 'get', format: 'raw' } });
          // No manifest: this GET is the object itself, and its bytes are not wanted.
          if (header(res, 'x-static-large-object')?.toLowerCase() !== 'true') {
            res.body.destroy();
            return '[]';
          }
          return readText(res.body);
        },
        { slotted: false },
      );
    } catch (err) {
      if (err instanceof StoreError && err.notFound) return [];
      throw err;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return [];
    }
    if (!Array.isArray(doc)) return [];
    const mine = `/${this.segmentContainer}/${segmentDir(key)}`;
    const out: string[] = [];
    for (const e of doc as Array<{ path?: string; name?: string }>) {
      const path = e.path ?? e.name;
      if (typeof path === 'string' && path.startsWith(mine)) out.push(path.slice(this.segmentContainer.length + 2));
    }
    return out;
  }

  /**
   * Best effort: a segment that cannot be deleted now is only wasted space, never wrong data.
   * Unslotted, as segmentsOf.
   */
  private async deleteSegments(names: readonly string[]): Promise<void> {
    await eachAtMost(names, 4, (name) =>
      this.call(
        'DeleteSegment',
        name,
        (s) => this.send(s, { method: 'DELETE', container: this.segmentContainer, key: name }),
        { slotted: false },
      ).then(
        () => {},
        () => {},
      ),
    );
  }

  // --- Server-side copy ---------------------------------------------------------------

  /** Same account, same credentials: Swift copies without the bytes passing through us. */
  canCopyFrom(other: ObjectStore): boolean {
    if (!(other instanceof SwiftStore)) return false;
    const a = this.swift;
    const b = other.swift;
    return (
      a.authUrl === b.authUrl &&
      a.user === b.user &&
      a.secret === b.secret &&
      a.projectName === b.projectName &&
      a.storageUrl === b.storageUrl &&
      a.region === b.region
    );
  }

  /**
   * PUT with X-Copy-From (metadata kept); `ifMatch` makes Swift refuse (412) a source that
   * changed. An SLO's copy is one object with an MD5 ETag, unlike its source's: the source ETag
   * is recorded on it (with record_metadata), so the next sweep can tell the copy is current.
   */
  async copyFrom(other: ObjectStore, sourceKey: string, key: string, ifMatch?: string): Promise<PutResult> {
    const headers: Record<string, string> = {
      'x-copy-from': `/${encodeQueryComponent(other.bucket)}/${encodeKeyPath(sourceKey)}`,
    };
    if (ifMatch) {
      headers['if-match'] = ifMatch;
      if (this.settings.recordMetadata) headers[`x-object-meta-${META_SOURCE_ETAG}`] = ifMatch;
    }
    const old = this.sloKeys.has(key) ? await this.segmentsOf(key) : [];
    const res = await this.call('CopyObject', key, (s) => this.send(s, { method: 'PUT', key, headers }), {
      retry: false,
    });
    this.sloKeys.delete(key);
    await this.deleteSegments(old);
    return { etag: stripQuotes(header(res, 'etag')) };
  }

  // --- For tests and the demo ---------------------------------------------------------

  async createBucket(): Promise<void> {
    await this.call('CreateBucket', undefined, (s) => this.send(s, { method: 'PUT' }));
  }

  /** Deletes every object (SLOs with their segments), the container and its segments container. */
  async destroyBucket(): Promise<void> {
    for (const container of [this.bucket, this.segmentContainer]) {
      const keys: string[] = [];
      try {
        for await (const o of this.names(container, '', 'ListObjects')) keys.push(o);
      } catch (err) {
        if (err instanceof StoreError && err.status === 404) continue;
        throw err;
      }
      if (container === this.bucket) {
        const failures = await this.deleteMany(keys);
        if (failures.length > 0) throw failures[0]!.error;
      } else await this.deleteSegments(keys);
      await this.call('DeleteBucket', undefined, (s) => this.send(s, { method: 'DELETE', container })).catch(
        (err: unknown) => {
          if (!(err instanceof StoreError && err.status === 404)) throw err;
        },
      );
    }
  }

  /** Every name in a container of this account (under `prefix`), for the segments and the tests' clean-up. */
  private async *names(container: string, prefix: string, op: string): AsyncGenerator<string> {
    for await (const e of this.entries(container, prefix, op)) if (e.name !== undefined) yield e.name;
  }

  private async *entries(container: string, prefix: string, op: string): AsyncGenerator<ListingEntry> {
    let marker: string | undefined;
    do {
      const query: Record<string, string> = {
        format: 'json',
        limit: '10000',
        ...(prefix ? { prefix } : {}),
        ...(marker !== undefined ? { marker } : {}),
      };
      const page = await this.call(op, undefined, async (s) =>
        readListing((await this.send(s, { method: 'GET', container, query })).body, parseJsonListing),
      );
      yield* page;
      marker = page.length >= 10000 ? page[page.length - 1]?.name : undefined;
    } while (marker !== undefined);
  }

  close(): void {
    for (const a of this.agents.values()) a.destroy();
  }
}

// Printing a store shows where it points, never its key or token.
printAs(SwiftStore, 'SwiftStore', (s) => ({ name: s.name, endpoint: s.endpoint, container: s.bucket }));

/** `<sha256 of the key>/`: segment names independent of the key's length and bytes. */
function segmentDir(key: string): string {
  return `${createHash('sha256').update(key, 'utf8').digest('hex')}/`;
}

function header(res: LeanResponse, name: string): string | undefined {
  return headerValue(res.headers, name);
}

/** What Swift says of an object: SLOs and DLOs have ETags that are no MD5 of their bytes. */
function headInfo(key: string, res: LeanResponse): HeadInfo {
  const metadata = userMetadata(res.headers, 'x-object-meta-');
  const large =
    header(res, 'x-static-large-object')?.toLowerCase() === 'true' || header(res, 'x-object-manifest') !== undefined;
  const length = header(res, 'content-length');
  const modified = header(res, 'last-modified');
  return {
    key,
    size: length === undefined ? 0 : Number(length),
    etag: stripQuotes(header(res, 'etag')),
    ...(large ? { etagIsMd5: false } : {}),
    ...(modified ? { lastModified: new Date(modified) } : {}),
    contentType: header(res, 'content-type'),
    cacheControl: header(res, 'cache-control'),
    contentDisposition: header(res, 'content-disposition'),
    contentEncoding: header(res, 'content-encoding'),
    contentLanguage: header(res, 'content-language'),
    expires: header(res, 'expires'),
    metadata,
  };
}

/** The standard headers Swift stores when sent, and the user metadata as `X-Object-Meta-*`. */
function objectHeaders(h: Partial<ObjectHeaders>): Record<string, string> {
  const out: Record<string, string> = {};
  if (h.contentType !== undefined) out['content-type'] = h.contentType;
  if (h.cacheControl !== undefined) out['cache-control'] = h.cacheControl;
  if (h.contentDisposition !== undefined) out['content-disposition'] = h.contentDisposition;
  if (h.contentEncoding !== undefined) out['content-encoding'] = h.contentEncoding;
  if (h.contentLanguage !== undefined) out['content-language'] = h.contentLanguage;
  if (h.expires !== undefined) out['expires'] = h.expires;
  for (const [k, v] of Object.entries(h.metadata ?? {})) out[`x-object-meta-${k.toLowerCase()}`] = v;
  return out;
}

/** A JSON listing page: an array of entries. */
function parseJsonListing(text: string): ListingEntry[] {
  const doc: unknown = JSON.parse(text);
  if (!Array.isArray(doc)) throw new Error('not a JSON array');
  return doc as ListingEntry[];
}
