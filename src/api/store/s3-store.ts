/** The S3 store (S3Store): the only module that talks to @aws-sdk/client-s3. */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ObjectCannedACL, ObjectLockMode, S3Client, S3ClientConfig, StorageClass } from '@aws-sdk/client-s3';
import { createRequire } from 'node:module';

/**
 * The AWS SDK is loaded on first use: the lean path does every object call and the listings,
 * so a sweep of objects below multipart_threshold never loads it (~40 MiB of RSS).
 */
let sdkModule: typeof import('@aws-sdk/client-s3') | undefined;
let handlerModule: typeof import('@smithy/node-http-handler') | undefined;
function sdk(): typeof import('@aws-sdk/client-s3') {
  sdkModule ??= createRequire(import.meta.url)('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');
  return sdkModule;
}
function httpHandler(): typeof import('@smithy/node-http-handler') {
  handlerModule ??= createRequire(import.meta.url)(
    '@smithy/node-http-handler',
  ) as typeof import('@smithy/node-http-handler');
  return handlerModule;
}
import { s3Section, type EndpointConfig, type S3EndpointConfig } from '../config.js';
import { StoreError } from '../errors.js';
import { silentLogger } from '../log.js';
import { patientPolicy, type RetryPolicy } from '../retry.js';
import { BucketCheck } from './bucket-check.js';
import { endpointPacer, nullIfMissing, pacedCall, type CallOptions } from './endpoint-call.js';
import type { Pacer } from './pacer.js';
import { createAgent, discardSocketAfterResponse } from './http-agent.js';
import type {
  CompletedPart,
  DeleteFailure,
  HeadInfo,
  ListPage,
  MultipartCapable,
  ObjectInfo,
  ObjectLock,
  ObjectStore,
  PutOptions,
  PutResult,
  StoreSettings,
  UploadedPart,
  VersionEntry,
  VersionPage,
  WriteHeaders,
} from './object-store.js';
import { listAll, settingsOf } from './object-store.js';
import { cannedFromGrants, type SourceAcl } from './acl.js';
import { quirksFor, type S3Quirks } from './quirks.js';
import { bodyLimit, errorContext, headerValue, stripQuotes, userMetadata, type StoreOptions } from './store-common.js';
import { SignatureV2Signer } from './sigv2.js';
import { LeanS3, readListing, type LeanResponse } from './lean-http.js';
import { parseVersionListing } from './list-xml.js';
import { printAs } from '../redact.js';

/** What an S3Store is given besides its config section: the options every store takes. */
export type S3StoreOptions = StoreOptions;

interface HttpRequestLike {
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
}
interface HttpResponseLike {
  statusCode?: number;
  body?: { socket?: import('node:stream').Duplex | null };
}

/**
 * No `info` or `error`: the SDK calls them as `logger?.info?.(filter(input), ...)`, so when
 * they are absent it skips building the filtered copies of every request and response,
 * which cost ~10% of the CPU of a sweep of small objects. `debug` and `warn` are called
 * unconditionally in places, so they exist and do nothing.
 */
const QUIET_SDK_LOGGER = { debug() {}, warn() {} } as unknown as S3ClientConfig['logger'];

/**
 * The S3 implementation of ObjectStore: the only module that talks to @aws-sdk/client-s3.
 * One attempt per SDK call (the SDK cannot replay a streamed body); idempotent calls with
 * no body are retried here, and copies are retried whole by the copy layer.
 */
export class S3Store implements ObjectStore, MultipartCapable {
  readonly name: string;
  readonly endpoint: string;
  readonly bucket: string;
  /** What this endpoint is and does (list version, signature, URL-encoded listings, lean path): see quirks.ts. */
  readonly quirks: S3Quirks;
  readonly config: S3EndpointConfig;
  readonly settings: StoreSettings;
  /** The SDK client, made on first use (see sdk()). */
  private clientInstance: S3Client | undefined;
  private readonly agent: ReturnType<typeof createAgent>;
  /** The lean path for single-object calls; undefined: every call goes through the SDK. */
  private readonly lean: LeanS3 | undefined;
  private readonly retry: RetryPolicy;
  /** Every request to this endpoint goes through it: throttling slows them all down. */
  readonly pacer: Pacer;
  /** The bodies read, kept to `bwlimit` (the source's section only). */
  private readonly limited: (body: Readable) => Readable;

  constructor(section: EndpointConfig, options: S3StoreOptions = {}) {
    const config = s3Section(section);
    this.config = config;
    this.name = config.name;
    this.endpoint = config.endpoint;
    this.bucket = config.bucket;
    this.quirks = quirksFor(config);
    this.settings = settingsOf(config);
    this.retry = options.retry ?? patientPolicy(config.maxRetries);
    this.pacer = endpointPacer(config, options.logger ?? silentLogger);
    this.limited = bodyLimit(config);
    const url = new URL(config.endpoint);
    const secure = url.protocol === 'https:';
    // Room for every object in flight plus the listing that feeds them.
    const agent = createAgent(secure, config.concurrency + 4, {
      ca: config.caBundle,
      rejectUnauthorized: config.verifySsl,
    });
    this.agent = agent;
    this.lean = this.quirks.leanRequests ? new LeanS3(config, agent) : undefined;
    this.bucketCheck = new BucketCheck({
      store: this,
      quirks: this.quirks,
      headBucket: () => {
        const lean = this.lean;
        return lean
          ? this.call('HeadBucket', undefined, () => lean.send({ method: 'HEAD' }))
          : this.call('HeadBucket', undefined, () =>
              this.client.send(new (sdk().HeadBucketCommand)({ Bucket: this.bucket })),
            );
      },
    });
  }

  /**
   * The SDK client for the calls the lean path does not make (multipart, server-side copy,
   * batch delete, bucket admin).
   */
  private get client(): S3Client {
    if (this.clientInstance) return this.clientInstance;
    const config = this.config;
    const url = new URL(config.endpoint);
    const secure = url.protocol === 'https:';
    const agent = this.agent;
    const credentials = { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey };
    this.clientInstance = new (sdk().S3Client)({
      endpoint: config.endpoint,
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      credentials,
      maxAttempts: 1,
      requestChecksumCalculation: config.requestChecksumCalculation,
      responseChecksumValidation: config.responseChecksumValidation,
      followRegionRedirects: false,
      // The SDK's own console warnings (e.g. on every failed streaming request) would break
      // our one-line error reporting; failures reach the caller as typed errors instead.
      logger: QUIET_SDK_LOGGER,
      requestHandler: new (httpHandler().NodeHttpHandler)({
        ...(secure ? { httpsAgent: agent } : { httpAgent: agent }),
        connectionTimeout: config.connectTimeoutMs,
        // An inactivity timeout: `requestTimeout` alone only logs a warning in this
        // version, and a half-open connection would hang a sweep (and keep its lock) forever.
        socketTimeout: config.readTimeoutMs,
      }),
      ...(this.quirks.signatureVersion === 'v2'
        ? { signer: new SignatureV2Signer({ credentials, endpointHost: url.hostname, bucket: config.bucket }) }
        : {}),
    });
    this.installMiddleware();
    if (this.quirks.signatureVersion === 'v4') this.reuseSigner();
    return this.clientInstance;
  }

  /**
   * The SDK builds a new SigV4 signer for every request (spreading its whole config and
   * deriving the signing key again with four HMACs); one per scheme and region is enough,
   * and the signer caches its keys. The SDK reads `config.signer` at signing time.
   */
  private reuseSigner(): void {
    const config = this.client.config as unknown as {
      signer?: (scheme?: { name?: string; signingRegion?: string; signingName?: string }) => Promise<unknown>;
    };
    const make = config.signer;
    if (typeof make !== 'function') return;
    const cache = new Map<string, Promise<unknown>>();
    config.signer = (scheme) => {
      const id = `${scheme?.name ?? ''}|${scheme?.signingRegion ?? ''}|${scheme?.signingName ?? ''}`;
      let signer = cache.get(id);
      if (!signer) {
        signer = make(scheme);
        signer.catch(() => cache.delete(id));
        cache.set(id, signer);
      }
      return signer;
    };
  }

  private installMiddleware(): void {
    const stack = this.client.middlewareStack;
    // Swift's s3api refuses DeleteObjects without Content-MD5, and recent SDKs send a CRC instead.
    stack.add(
      (next, context) => async (args) => {
        const request = args.request as HttpRequestLike;
        if (context.commandName === 'DeleteObjectsCommand' && request.headers && typeof request.body === 'string') {
          request.headers['content-md5'] = createHash('md5').update(request.body, 'utf8').digest('base64');
        }
        return next(args);
      },
      { step: 'build', name: 's3s3DeleteObjectsContentMd5' },
    );
    // Sits between the HTTP handler and the deserializer, so it sees the raw response first.
    stack.add(
      (next) => async (args) => {
        const result = await next(args);
        const response = result.response as HttpResponseLike;
        const request = args.request as HttpRequestLike;
        if ((response.statusCode ?? 0) >= 400 && request.body !== undefined && request.body !== null) {
          discardSocketAfterResponse(response.body?.socket);
        }
        return result;
      },
      { step: 'deserialize', priority: 'low', name: 's3s3DiscardRejectedSocket' },
    );
  }

  private ctx(op: string, key?: string) {
    return errorContext(this, op, key);
  }

  /** The bucket seen to exist, and what a 404 on a key means (shared with the Swift store). */
  private readonly bucketCheck: BucketCheck;

  bucketExists(): Promise<boolean> {
    return this.bucketCheck.exists();
  }

  /**
   * One call through the endpoint's pacer, errors typed; retried only when it has no body
   * and the error is transient, waiting at least what a `Retry-After` asked for.
   */
  private call<T>(op: string, key: string | undefined, fn: () => Promise<T>, options: CallOptions = {}): Promise<T> {
    return pacedCall(this.pacer, this.retry, this.ctx(op, key), fn, options);
  }

  /**
   * One page. With `list_url_encoding` (the default) the listing asks for `encoding-type=url`:
   * keys with control characters cannot travel in XML (Swift s3api answers 500 to such a
   * page), and the SDK's XML parser trims whitespace; the keys are decoded here, as botocore
   * does. A gateway that ignores the parameter says so by not echoing it, and its keys are
   * taken as they are.
   */
  async listPage(options: { prefix?: string; next?: string; startAfter?: string } = {}): Promise<ListPage> {
    const { prefix } = options;
    const EncodingType = this.quirks.listEncoding;
    const MaxKeys = this.config.listPageSize;
    // The next page starts after the last key of this one (`Marker`, `StartAfter`), not from the
    // server's NextMarker or continuation token: Ceph sends those raw even when asked for URL
    // encoding (a `+` or `%` in them then decodes to another key, skipping keys or looping) and
    // a token holding only a newline arrives empty. A token is used only for a page with no key.
    const next =
      options.next !== undefined
        ? decodeNext(options.next)
        : options.startAfter !== undefined
          ? { after: options.startAfter }
          : undefined;
    const lean = this.lean;
    if (this.quirks.listObjectsVersion === 1) {
      const out = lean
        ? await this.call('ListObjects', undefined, () =>
            lean.list({ prefix, marker: next?.after, 'max-keys': String(MaxKeys), 'encoding-type': EncodingType }),
          )
        : await this.call('ListObjects', undefined, () =>
            this.client.send(
              new (sdk().ListObjectsCommand)({
                Bucket: this.bucket,
                Prefix: prefix || undefined,
                Marker: next?.after,
                MaxKeys,
                EncodingType,
              }),
            ),
          );
      const decode = this.keyDecoder('ListObjects', out.EncodingType);
      const objects = (out.Contents ?? []).map((o) => toInfo(o, decode));
      const last = objects[objects.length - 1]?.key;
      const following = out.IsTruncated ? (last ?? (out.NextMarker ? decode(out.NextMarker) : undefined)) : undefined;
      if (out.IsTruncated && following === undefined) {
        throw new StoreError({
          ...this.ctx('ListObjects'),
          errorClass: 'fatal',
          detail: 'listing truncated but gave no marker to go on from',
        });
      }
      return { objects, next: following === undefined ? undefined : encodeNext({ after: following }) };
    }
    const out = lean
      ? await this.call('ListObjectsV2', undefined, () =>
          lean.list({
            'list-type': '2',
            prefix,
            'start-after': next?.after,
            'continuation-token': next?.token,
            'max-keys': String(MaxKeys),
            'encoding-type': EncodingType,
          }),
        )
      : await this.call('ListObjectsV2', undefined, () =>
          this.client.send(
            new (sdk().ListObjectsV2Command)({
              Bucket: this.bucket,
              Prefix: prefix || undefined,
              StartAfter: next?.after,
              ContinuationToken: next?.token,
              MaxKeys,
              EncodingType,
            }),
          ),
        );
    const decode = this.keyDecoder('ListObjectsV2', out.EncodingType);
    const objects = (out.Contents ?? []).map((o) => toInfo(o, decode));
    if (!out.IsTruncated) return { objects };
    const last = objects[objects.length - 1]?.key;
    if (last !== undefined) return { objects, next: encodeNext({ after: last }) };
    if (!out.NextContinuationToken) {
      throw new StoreError({
        ...this.ctx('ListObjectsV2'),
        errorClass: 'fatal',
        detail: 'listing truncated but gave no continuation token; try list_objects_version = 1',
      });
    }
    return { objects, next: encodeNext({ token: out.NextContinuationToken }) };
  }

  private keyDecoder(op: string, encodingType: string | undefined): (key: string) => string {
    if (encodingType?.toLowerCase() !== 'url') return (key) => key;
    return (key) => {
      try {
        return formDecode(key);
      } catch {
        throw new StoreError({
          ...this.ctx(op, key),
          errorClass: 'fatal',
          detail:
            'the listing sent a key that is not valid URL encoding; set list_url_encoding = false for this endpoint',
        });
      }
    };
  }

  list(options: { prefix?: string } = {}): AsyncGenerator<ObjectInfo> {
    return listAll(this, options);
  }

  head(key: string): Promise<HeadInfo | null> {
    return nullIfMissing(
      async () => {
        const lean = this.lean;
        const out = lean
          ? leanHead(await this.call('HeadObject', key, () => lean.send({ method: 'HEAD', key })))
          : await this.call('HeadObject', key, () =>
              this.client.send(new (sdk().HeadObjectCommand)({ Bucket: this.bucket, Key: key })),
            );
        return toHead(key, out);
      },
      (err) => this.bucketCheck.confirmNotFound(err),
    );
  }

  async get(key: string): Promise<{ body: Readable; info: HeadInfo }> {
    try {
      const got = await this.getOnce(key);
      return { body: this.limited(got.body), info: got.info };
    } catch (err) {
      // A bare 404 (no NoSuchKey code) came from something in front of the store: retried, never "gone".
      throw await this.bucketCheck.getNotFound(err);
    }
  }

  private async getOnce(key: string): Promise<{ body: Readable; info: HeadInfo }> {
    const lean = this.lean;
    if (lean) {
      const res = await this.call('GetObject', key, () => lean.send({ method: 'GET', key }));
      return { body: res.body, info: toHead(key, leanHead(res)) };
    }
    const out = await this.call('GetObject', key, () =>
      this.client.send(new (sdk().GetObjectCommand)({ Bucket: this.bucket, Key: key })),
    );
    const body = out.Body;
    if (!(body instanceof Readable)) {
      throw new StoreError({
        ...this.ctx('GetObject', key),
        errorClass: 'retry',
        detail: 'response had no body stream',
      });
    }
    return { body, info: toHead(key, out) };
  }

  /** A range of the object, only while its ETag is `ifMatch` (a 412 otherwise): a resumed upload's missing parts. */
  async getRange(
    key: string,
    start: number,
    end: number,
    ifMatch: string,
    versionId?: string,
  ): Promise<{ body: Readable; etag: string }> {
    const range = `bytes=${start}-${end}`;
    const lean = versionId !== undefined ? this.leanForVersions : this.lean;
    if (lean) {
      const res = await this.call('GetObject', key, () =>
        lean.send({
          method: 'GET',
          key,
          headers: { range, 'if-match': `"${ifMatch}"` },
          ...(versionId !== undefined ? { query: { versionId } } : {}),
        }),
      );
      return { body: this.limited(res.body), etag: stripQuotes(headerValue(res.headers, 'etag')) };
    }
    const out = await this.call('GetObject', key, () =>
      this.client.send(
        new (sdk().GetObjectCommand)({ Bucket: this.bucket, Key: key, Range: range, IfMatch: `"${ifMatch}"` }),
      ),
    );
    if (!(out.Body instanceof Readable))
      throw new StoreError({
        ...this.ctx('GetObject', key),
        errorClass: 'retry',
        detail: 'response had no body stream',
      });
    return { body: this.limited(out.Body), etag: stripQuotes(out.ETag) };
  }

  async put(key: string, body: Readable | Buffer, options: PutOptions): Promise<PutResult> {
    const lean = this.lean;
    if (lean) {
      const headers = leanPutHeaders(options);
      const res = await this.call(
        'PutObject',
        key,
        () =>
          lean.send({
            method: 'PUT',
            key,
            body,
            contentLength: options.contentLength,
            headers,
            signal: options.signal,
          }),
        { retry: false },
      );
      const out = leanHead(res);
      return { etag: stripQuotes(out.ETag), etagIsMd5: !encrypted(out) };
    }
    const out = await this.call(
      'PutObject',
      key,
      () =>
        this.client.send(
          new (sdk().PutObjectCommand)({
            Bucket: this.bucket,
            Key: key,
            Body: body,
            ContentLength: options.contentLength,
            ContentMD5: options.contentMd5,
            ...headerParams(options),
          }),
          { abortSignal: options.signal },
        ),
      { retry: false },
    );
    return { etag: stripQuotes(out.ETag), etagIsMd5: !encrypted(out) };
  }

  async delete(key: string): Promise<void> {
    const lean = this.lean;
    if (lean) await this.call('DeleteObject', key, () => lean.send({ method: 'DELETE', key }));
    else
      await this.call('DeleteObject', key, () =>
        this.client.send(new (sdk().DeleteObjectCommand)({ Bucket: this.bucket, Key: key })),
      );
  }

  /**
   * Batches of 1000 (DeleteObjects, with the Content-MD5 Swift wants). A key's own failure
   * inside a batch is returned, not thrown, so the caller can report each; a failed request
   * throws. A key already gone counts as deleted, as S3 says.
   */
  async deleteMany(keys: readonly string[]): Promise<DeleteFailure[]> {
    const failures: DeleteFailure[] = [];
    // A control character cannot travel in DeleteObjects' XML body (XML 1.0 forbids most of
    // them and normalises CR), and a server refuses the whole batch: such keys go one by one.
    const plain = keys.filter((k) => !XML_UNSAFE.test(k));
    const oneByOne = async (keysHere: readonly string[]) => {
      for (const key of keysHere) {
        try {
          await this.delete(key);
        } catch (err) {
          if (!(err instanceof StoreError) || err.errorClass === 'fatal') throw err;
          failures.push({ key, error: err });
        }
      }
    };
    await oneByOne(keys.filter((k) => XML_UNSAFE.test(k)));
    for (let i = 0; i < plain.length; i += 1000) {
      const batch = plain.slice(i, i + 1000);
      let out;
      try {
        out = await this.call('DeleteObjects', undefined, () =>
          this.client.send(
            new (sdk().DeleteObjectsCommand)({
              Bucket: this.bucket,
              Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
            }),
          ),
        );
      } catch (err) {
        // A server that refuses the whole batch (a key its XML parser will not take) must not
        // block the others: each key on its own, each error naming its key.
        if (!(err instanceof StoreError) || err.errorClass !== 'object') throw err;
        await oneByOne(batch);
        continue;
      }
      for (const e of out.Errors ?? []) {
        const key = e.Key ?? '';
        failures.push({
          key,
          error: new StoreError({
            ...this.ctx('DeleteObjects', key),
            code: e.Code,
            errorClass: 'object',
            detail: e.Message,
          }),
        });
      }
    }
    return failures;
  }

  async createMultipart(key: string, headers: WriteHeaders): Promise<string> {
    const out = await this.call('CreateMultipartUpload', key, () =>
      this.client.send(
        new (sdk().CreateMultipartUploadCommand)({ Bucket: this.bucket, Key: key, ...headerParams(headers) }),
      ),
    );
    if (!out.UploadId)
      throw new StoreError({
        ...this.ctx('CreateMultipartUpload', key),
        errorClass: 'object',
        detail: 'no UploadId in response',
      });
    return out.UploadId;
  }

  async uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Readable | Buffer,
    options: { contentLength: number; contentMd5?: string },
  ): Promise<string> {
    const out = await this.call(
      'UploadPart',
      key,
      () =>
        this.client.send(
          new (sdk().UploadPartCommand)({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: body,
            ContentLength: options.contentLength,
            ContentMD5: options.contentMd5,
          }),
        ),
      { retry: false },
    );
    return stripQuotes(out.ETag);
  }

  async completeMultipart(key: string, uploadId: string, parts: readonly CompletedPart[]): Promise<PutResult> {
    const out = await this.call(
      'CompleteMultipartUpload',
      key,
      () =>
        this.client.send(
          new (sdk().CompleteMultipartUploadCommand)({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: `"${p.etag}"` })) },
          }),
        ),
      { retry: false },
    );
    let etag = stripQuotes(out.ETag);
    // Ceph RGW answers with an empty ETag: ask for the real one, under the upload's slot.
    if (etag === '') {
      const head = await this.call(
        'HeadObject',
        key,
        () => this.client.send(new (sdk().HeadObjectCommand)({ Bucket: this.bucket, Key: key })),
        { slotted: false },
      );
      etag = stripQuotes(head.ETag);
    }
    return { etag };
  }

  /** ListParts, every page: the parts the upload holds; null when the upload is gone (NoSuchUpload). */
  async resumeMultipart(key: string, uploadId: string): Promise<UploadedPart[] | null> {
    const parts: UploadedPart[] = [];
    let marker: string | undefined;
    try {
      do {
        const out = await this.call('ListParts', key, () =>
          this.client.send(
            new (sdk().ListPartsCommand)({
              Bucket: this.bucket,
              Key: key,
              UploadId: uploadId,
              PartNumberMarker: marker,
            }),
          ),
        );
        for (const p of out.Parts ?? [])
          parts.push({ partNumber: p.PartNumber ?? 0, size: p.Size ?? -1, etag: stripQuotes(p.ETag) });
        marker = out.IsTruncated && out.NextPartNumberMarker ? String(out.NextPartNumberMarker) : undefined;
      } while (marker !== undefined);
    } catch (err) {
      if (err instanceof StoreError && (err.code === 'NoSuchUpload' || err.kind === 'notFound')) return null;
      throw err;
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  /** Multipart uploads begun and neither completed nor aborted (first 1000). */
  async pendingUploads(): Promise<Array<{ key: string; uploadId: string }>> {
    const out = await this.call('ListMultipartUploads', undefined, () =>
      this.client.send(new (sdk().ListMultipartUploadsCommand)({ Bucket: this.bucket })),
    );
    return (out.Uploads ?? []).map((u) => ({ key: u.Key ?? '', uploadId: u.UploadId ?? '' }));
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    await this.call('AbortMultipartUpload', key, () =>
      this.client.send(new (sdk().AbortMultipartUploadCommand)({ Bucket: this.bucket, Key: key, UploadId: uploadId })),
    );
  }

  /** Same endpoint, same credentials: the server can copy without the bytes passing through us. */
  canCopyFrom(other: ObjectStore): boolean {
    return (
      other instanceof S3Store &&
      other.config.endpoint === this.config.endpoint &&
      other.config.accessKeyId === this.config.accessKeyId &&
      other.config.secretAccessKey === this.config.secretAccessKey
    );
  }

  /** CopyObject, metadata and ETag kept (MetadataDirective COPY); the storage class as asked (else S3's default). */
  async copyFrom(
    other: ObjectStore,
    sourceKey: string,
    key: string,
    ifMatch?: string,
    options: {
      readonly storageClass?: string;
      readonly acl?: string;
      readonly dropTags?: boolean;
      readonly objectLock?: ObjectLock;
    } = {},
  ): Promise<PutResult> {
    const sourceBucket = other.bucket;
    const out = await this.call(
      'CopyObject',
      key,
      () =>
        this.client.send(
          new (sdk().CopyObjectCommand)({
            Bucket: this.bucket,
            Key: key,
            CopySource: `${sourceBucket}/${encodeCopySourceKey(sourceKey)}`,
            // Copy only the version that was planned; a newer one fails with 412 instead.
            CopySourceIfMatch: ifMatch ? `"${ifMatch}"` : undefined,
            MetadataDirective: 'COPY',
            StorageClass: options.storageClass as StorageClass | undefined,
            ACL: options.acl as ObjectCannedACL | undefined,
            // The source's tags go along (COPY, S3's default) unless `tags = false`.
            ...(options.dropTags ? { TaggingDirective: 'REPLACE' as const } : {}),
            ...objectLockParams(options.objectLock),
          }),
        ),
      { retry: false },
    );
    // Some servers (Ceph 16) copy the tags whatever the directive: `tags = false` removes them.
    if (options.dropTags)
      await this.call('DeleteObjectTagging', key, () =>
        this.client.send(new (sdk().DeleteObjectTaggingCommand)({ Bucket: this.bucket, Key: key })),
      ).catch(async (err: unknown) => {
        if (err instanceof StoreError && (err.status === 501 || err.code === 'NotImplemented')) return;
        // A copy keeping tags it should not have is no copy: removed, the failure reported.
        await this.delete(key).catch(() => undefined);
        throw err;
      });
    return { etag: stripQuotes(out.CopyObjectResult?.ETag) };
  }

  /** PutObjectRetention and PutObjectLegalHold, as objectLockParams would send them on a write. */
  async writeObjectLock(key: string, lock: ObjectLock): Promise<void> {
    const p = objectLockParams(lock);
    if (p.ObjectLockMode !== undefined)
      await this.call('PutObjectRetention', key, () =>
        this.client.send(
          new (sdk().PutObjectRetentionCommand)({
            Bucket: this.bucket,
            Key: key,
            Retention: { Mode: p.ObjectLockMode, RetainUntilDate: p.ObjectLockRetainUntilDate },
          }),
        ),
      );
    if (p.ObjectLockLegalHoldStatus !== undefined)
      await this.call('PutObjectLegalHold', key, () =>
        this.client.send(
          new (sdk().PutObjectLegalHoldCommand)({
            Bucket: this.bucket,
            Key: key,
            LegalHold: { Status: p.ObjectLockLegalHoldStatus },
          }),
        ),
      );
  }

  // --- Versioned buckets (`versions = true`) --------------------------------------------

  private versionLean: LeanS3 | undefined;

  /** ListObjectVersions goes the lean way even with lean_requests off: the SDK loses the order of a key's history. */
  private get leanForVersions(): LeanS3 {
    return this.lean ?? (this.versionLean ??= new LeanS3(this.config, this.agent));
  }

  /** GetBucketVersioning: `Enabled` (a suspended or never-versioned bucket is not). */
  async versioningEnabled(): Promise<boolean> {
    const out = await this.call('GetBucketVersioning', undefined, () =>
      this.client.send(new (sdk().GetBucketVersioningCommand)({ Bucket: this.bucket })),
    );
    return out.Status === 'Enabled';
  }

  /**
   * One page of ListObjectVersions (URL-encoded where the endpoint takes it), in the server's
   * order: keys in byte order, each key's versions and delete markers newest first. The next
   * page starts after the last entry (its key and version id), never at the server's markers
   * (Ceph sends those raw even when asked for URL encoding).
   */
  async listVersionsPage(options: { prefix?: string; next?: string; startAfter?: string } = {}): Promise<VersionPage> {
    const after =
      options.next !== undefined
        ? (JSON.parse(options.next) as { k: string; v?: string })
        : options.startAfter !== undefined
          ? { k: options.startAfter }
          : undefined;
    const lean = this.leanForVersions;
    const res = await this.call('ListObjectVersions', undefined, () =>
      lean.send({
        method: 'GET',
        query: {
          versions: '',
          ...(options.prefix ? { prefix: options.prefix } : {}),
          ...(after
            ? { 'key-marker': after.k, ...(after.v !== undefined ? { 'version-id-marker': after.v } : {}) }
            : {}),
          'max-keys': String(this.config.listPageSize),
          ...(this.quirks.listEncoding ? { 'encoding-type': this.quirks.listEncoding } : {}),
        },
      }),
    );
    const out = await readListing(res.body, parseVersionListing);
    const decode = this.keyDecoder('ListObjectVersions', out.EncodingType);
    const entries: VersionEntry[] = out.Entries.map((e) => ({
      key: decode(e.Key ?? ''),
      versionId: e.VersionId ?? 'null',
      deleteMarker: e.DeleteMarker,
      isLatest: e.IsLatest,
      size: e.Size ?? 0,
      etag: stripQuotes(e.ETag),
      lastModified: e.LastModified,
    }));
    const last = entries[entries.length - 1];
    if (out.IsTruncated && after?.v !== undefined && last?.key === after.k && last.versionId === after.v)
      throw new StoreError({
        ...this.ctx('ListObjectVersions'),
        errorClass: 'fatal',
        detail: 'the version listing does not move on (the same page again); stopped',
      });
    if (!out.IsTruncated) return { entries };
    if (!last)
      throw new StoreError({
        ...this.ctx('ListObjectVersions'),
        errorClass: 'fatal',
        detail: 'version listing truncated but empty: nothing to go on from',
      });
    return { entries, next: JSON.stringify({ k: last.key, v: last.versionId }) };
  }

  /** GET ?versionId=: that version's body and headers. */
  async getVersion(key: string, versionId: string): Promise<{ body: Readable; info: HeadInfo }> {
    const lean = this.leanForVersions;
    const res = await this.call('GetObject', key, () => lean.send({ method: 'GET', key, query: { versionId } }));
    return { body: this.limited(res.body), info: toHead(key, leanHead(res)) };
  }

  /** HEAD ?versionId=; null when there is no such version. */
  headVersion(key: string, versionId: string): Promise<HeadInfo | null> {
    const lean = this.leanForVersions;
    return nullIfMissing(
      async () =>
        toHead(
          key,
          leanHead(await this.call('HeadObject', key, () => lean.send({ method: 'HEAD', key, query: { versionId } }))),
        ),
      (err) => this.bucketCheck.confirmNotFound(err),
    );
  }

  /** DELETE ?versionId=: that version (or delete marker) removed for good. */
  async deleteVersion(key: string, versionId: string): Promise<void> {
    await this.call('DeleteObject', key, () =>
      this.client.send(new (sdk().DeleteObjectCommand)({ Bucket: this.bucket, Key: key, VersionId: versionId })),
    );
  }

  /** GetObjectLockConfiguration: Object Lock enabled on the bucket (a bucket that never had it: false). */
  async objectLockEnabled(): Promise<boolean> {
    try {
      const out = await this.call('GetObjectLockConfiguration', undefined, () =>
        this.client.send(new (sdk().GetObjectLockConfigurationCommand)({ Bucket: this.bucket })),
      );
      return out.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
    } catch (err) {
      if (
        err instanceof StoreError &&
        (err.code === 'ObjectLockConfigurationNotFoundError' || (err.status === 404 && err.code !== 'NoSuchBucket'))
      )
        return false;
      throw err;
    }
  }

  private tagsProbe: Promise<boolean> | undefined;

  /**
   * Whether the server takes object tags, asked once: PutObjectTagging of a key that does not
   * exist answers 404 where tags exist, 501 NotImplemented where they do not (Swift's s3api).
   * Anything else (a denial, a network error) is taken as yes: the first write with tags tells.
   */
  takesTags(): Promise<boolean> {
    this.tagsProbe ??= this.client
      .send(
        new (sdk().PutObjectTaggingCommand)({
          Bucket: this.bucket,
          Key: `.s3s3-tags-probe/${process.pid}-${Date.now()}`,
          Tagging: { TagSet: [] },
        }),
      )
      .then(
        () => true,
        (err: unknown) => {
          const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
          return !(e.name === 'NotImplemented' || e.$metadata?.httpStatusCode === 501);
        },
      );
    return this.tagsProbe;
  }

  /** PutObjectTagging: the object's tags, replaced. */
  async writeTags(key: string, tags: Readonly<Record<string, string>>): Promise<void> {
    await this.call('PutObjectTagging', key, () =>
      this.client.send(
        new (sdk().PutObjectTaggingCommand)({
          Bucket: this.bucket,
          Key: key,
          Tagging: { TagSet: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
        }),
      ),
    );
  }

  /** GetObjectTagging: the object's tags. */
  async readTags(key: string, versionId?: string): Promise<Record<string, string>> {
    const out = await this.call('GetObjectTagging', key, () =>
      this.client.send(new (sdk().GetObjectTaggingCommand)({ Bucket: this.bucket, Key: key, VersionId: versionId })),
    );
    const tags: Record<string, string> = {};
    for (const t of out.TagSet ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? '';
    return tags;
  }

  /** GetObjectAcl, as `acl = copy` carries it (see cannedFromGrants). */
  async readAcl(key: string, versionId?: string): Promise<SourceAcl> {
    const out = await this.call('GetObjectAcl', key, () =>
      this.client.send(new (sdk().GetObjectAclCommand)({ Bucket: this.bucket, Key: key, VersionId: versionId })),
    );
    const grants = (out.Grants ?? []).map((g) => ({
      uri: g.Grantee?.URI,
      id: g.Grantee?.ID,
      permission: g.Permission,
    }));
    return cannedFromGrants(grants, out.Owner?.ID);
  }

  async createBucket(): Promise<void> {
    const region = this.config.region;
    await this.call('CreateBucket', undefined, () =>
      this.client.send(
        new (sdk().CreateBucketCommand)({
          Bucket: this.bucket,
          ...(region !== 'us-east-1' ? { CreateBucketConfiguration: { LocationConstraint: region as never } } : {}),
        }),
      ),
    );
  }

  /** Deletes every object, then the bucket. For tests and the demo. */
  async destroyBucket(): Promise<void> {
    const check = (failures: DeleteFailure[]) => {
      if (failures.length > 0) throw failures[0]!.error;
    };
    let batch: string[] = [];
    for await (const o of this.list()) {
      batch.push(o.key);
      if (batch.length === 1000) {
        check(await this.deleteMany(batch));
        batch = [];
      }
    }
    if (batch.length) check(await this.deleteMany(batch));
    await this.call('DeleteBucket', undefined, () =>
      this.client.send(new (sdk().DeleteBucketCommand)({ Bucket: this.bucket })),
    );
  }

  close(): void {
    this.clientInstance?.destroy();
    this.agent.destroy();
  }
}

// Printing a store shows where it points, never the SDK client and its credentials.
printAs(S3Store, 'S3Store', (s) => ({ name: s.name, endpoint: s.endpoint, bucket: s.bucket }));

/** Each segment percent-encoded; `/` kept, as the copy source header requires. */
export function encodeCopySourceKey(key: string): string {
  return key
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()))
    .join('/');
}

const XML_UNSAFE =
  /[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]|[\u0000-\u001f\u007f\u0085\u2028\u2029]|^\s|\s$/u;

function toInfo(
  o: { Key?: string; Size?: number; ETag?: string; LastModified?: Date },
  decode: (key: string) => string,
): ObjectInfo {
  return { key: decode(o.Key ?? ''), size: o.Size ?? 0, etag: stripQuotes(o.ETag), lastModified: o.LastModified };
}

/** Where the next listing page starts: after a key, or (a page with no key) at a server token. Opaque to callers. */
type NextPage =
  { readonly after: string; readonly token?: undefined } | { readonly token: string; readonly after?: undefined };

function encodeNext(n: NextPage): string {
  return n.after !== undefined ? `k${n.after}` : `t${n.token}`;
}

function decodeNext(next: string | undefined): NextPage | undefined {
  if (next === undefined) return undefined;
  return next.startsWith('k') ? { after: next.slice(1) } : { token: next.slice(1) };
}

/** `application/x-www-form-urlencoded` decoding, as botocore's unquote_plus: AWS writes a space as `+`. */
export function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

interface HeadOutput {
  ContentLength?: number;
  ETag?: string;
  LastModified?: Date;
  ContentType?: string;
  CacheControl?: string;
  ContentDisposition?: string;
  ContentEncoding?: string;
  ContentLanguage?: string;
  Expires?: Date;
  ExpiresString?: string;
  Metadata?: Record<string, string>;
  ServerSideEncryption?: string;
  SSECustomerAlgorithm?: string;
  StorageClass?: string;
  TagCount?: number;
  ObjectLockMode?: string;
  ObjectLockRetainUntilDate?: Date;
  ObjectLockLegalHoldStatus?: string;
}

/** SSE-KMS and SSE-C objects have 32-hex ETags that are not the MD5 of their bytes (AWS docs). */
function encrypted(o: { ServerSideEncryption?: string; SSECustomerAlgorithm?: string }): boolean {
  return (
    (o.ServerSideEncryption !== undefined && o.ServerSideEncryption.startsWith('aws:kms')) ||
    o.SSECustomerAlgorithm !== undefined
  );
}

function toHead(key: string, o: HeadOutput): HeadInfo {
  return {
    key,
    size: o.ContentLength ?? 0,
    etag: stripQuotes(o.ETag),
    etagIsMd5: !encrypted(o),
    lastModified: o.LastModified,
    contentType: o.ContentType,
    cacheControl: o.CacheControl,
    contentDisposition: o.ContentDisposition,
    contentEncoding: o.ContentEncoding,
    contentLanguage: o.ContentLanguage,
    expires: o.ExpiresString ?? (o.Expires ? o.Expires.toUTCString() : undefined),
    metadata: { ...(o.Metadata ?? {}) },
    ...(o.StorageClass !== undefined ? { storageClass: o.StorageClass } : {}),
    ...(o.TagCount !== undefined && Number.isFinite(o.TagCount) ? { tagCount: o.TagCount } : {}),
    ...objectLockOf(o),
  };
}

/** The Object Lock headers of a HEAD or GET, when there are any. */
function objectLockOf(o: HeadOutput): { objectLock?: ObjectLock } {
  const until = o.ObjectLockRetainUntilDate;
  const lock: ObjectLock = {
    ...(o.ObjectLockMode ? { mode: o.ObjectLockMode } : {}),
    ...(until && !Number.isNaN(until.getTime()) ? { retainUntil: until.toISOString() } : {}),
    ...(o.ObjectLockLegalHoldStatus ? { legalHold: o.ObjectLockLegalHoldStatus === 'ON' } : {}),
  };
  return Object.keys(lock).length > 0 ? { objectLock: lock } : {};
}

/** A lean answer's headers in the SDK's output shape, so toHead reads both alike. */
function leanHead(res: LeanResponse): HeadOutput {
  const one = (name: string): string | undefined => headerValue(res.headers, name);
  const metadata = userMetadata(res.headers, 'x-amz-meta-');
  const length = one('content-length');
  const modified = one('last-modified');
  const expires = one('expires');
  const until = one('x-amz-object-lock-retain-until-date');
  return {
    ContentLength: length === undefined ? undefined : Number(length),
    ETag: one('etag'),
    LastModified: modified === undefined ? undefined : new Date(modified),
    ContentType: one('content-type'),
    CacheControl: one('cache-control'),
    ContentDisposition: one('content-disposition'),
    ContentEncoding: one('content-encoding'),
    ContentLanguage: one('content-language'),
    ExpiresString: expires,
    Metadata: metadata,
    ServerSideEncryption: one('x-amz-server-side-encryption'),
    SSECustomerAlgorithm: one('x-amz-server-side-encryption-customer-algorithm'),
    StorageClass: one('x-amz-storage-class'),
    TagCount: one('x-amz-tagging-count') === undefined ? undefined : Number(one('x-amz-tagging-count')),
    ObjectLockMode: one('x-amz-object-lock-mode'),
    ObjectLockRetainUntilDate: until === undefined ? undefined : new Date(until),
    ObjectLockLegalHoldStatus: one('x-amz-object-lock-legal-hold'),
  };
}

/** The PUT headers the SDK would send for these options (lower-case names). */
function leanPutHeaders(o: PutOptions): Record<string, string> {
  const p = headerParams(o);
  const h: Record<string, string> = {};
  if (o.contentMd5 !== undefined) h['content-md5'] = o.contentMd5;
  if (p.ContentType !== undefined) h['content-type'] = p.ContentType;
  if (p.CacheControl !== undefined) h['cache-control'] = p.CacheControl;
  if (p.ContentDisposition !== undefined) h['content-disposition'] = p.ContentDisposition;
  if (p.ContentEncoding !== undefined) h['content-encoding'] = p.ContentEncoding;
  if (p.ContentLanguage !== undefined) h['content-language'] = p.ContentLanguage;
  if (p.Expires !== undefined) h['expires'] = p.Expires.toUTCString();
  for (const [k, v] of Object.entries(p.Metadata ?? {})) h[`x-amz-meta-${k.toLowerCase()}`] = v;
  if (p.StorageClass !== undefined) h['x-amz-storage-class'] = p.StorageClass;
  if (p.ACL !== undefined) h['x-amz-acl'] = p.ACL;
  if (p.Tagging !== undefined) h['x-amz-tagging'] = p.Tagging;
  if (p.ObjectLockMode !== undefined) h['x-amz-object-lock-mode'] = p.ObjectLockMode;
  if (p.ObjectLockRetainUntilDate !== undefined)
    h['x-amz-object-lock-retain-until-date'] = p.ObjectLockRetainUntilDate.toISOString();
  if (p.ObjectLockLegalHoldStatus !== undefined) h['x-amz-object-lock-legal-hold'] = p.ObjectLockLegalHoldStatus;
  return h;
}

function headerParams(h: WriteHeaders) {
  const expires = h.expires !== undefined ? new Date(h.expires) : undefined;
  return {
    ContentType: h.contentType,
    CacheControl: h.cacheControl,
    ContentDisposition: h.contentDisposition,
    ContentEncoding: h.contentEncoding,
    ContentLanguage: h.contentLanguage,
    Expires: expires && !Number.isNaN(expires.getTime()) ? expires : undefined,
    Metadata: h.metadata && Object.keys(h.metadata).length > 0 ? { ...h.metadata } : undefined,
    StorageClass: h.storageClass as StorageClass | undefined,
    ACL: h.acl as ObjectCannedACL | undefined,
    Tagging: h.tags && Object.keys(h.tags).length > 0 ? taggingHeader(h.tags) : undefined,
    ...objectLockParams(h.objectLock),
  };
}

/** Object Lock as a write sends it; a retention already over is not sent (S3 refuses a date in the past). */
function objectLockParams(lock: ObjectLock | undefined): {
  ObjectLockMode?: ObjectLockMode;
  ObjectLockRetainUntilDate?: Date;
  ObjectLockLegalHoldStatus?: 'ON' | 'OFF';
} {
  if (!lock) return {};
  const until = lock.retainUntil !== undefined ? new Date(lock.retainUntil) : undefined;
  const retained = lock.mode !== undefined && until !== undefined && until.getTime() > Date.now();
  return {
    ...(retained ? { ObjectLockMode: lock.mode as ObjectLockMode, ObjectLockRetainUntilDate: until } : {}),
    ...(lock.legalHold !== undefined ? { ObjectLockLegalHoldStatus: lock.legalHold ? 'ON' : 'OFF' } : {}),
  };
}

/** Tags as `x-amz-tagging` takes them: URL query parameters, each part percent-encoded. */
export function taggingHeader(tags: Readonly<Record<string, string>>): string {
  return Object.entries(tags)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
}
