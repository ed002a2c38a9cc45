/**
 * The storage abstraction s3s3 needs, and nothing more (rclone's lesson): list a sorted
 * page, head, get as a stream, put from a stream, delete. Extras (multipart, server-side
 * copy) are optional capabilities that generic code probes for.
 */
import type { Readable } from 'node:stream';
import { ENDPOINT_SETTING_FIELDS, type EndpointConfig, type EndpointSettings } from '../config.js';
import type { Pacer } from './pacer.js';
import type { SourceAcl } from './acl.js';

/** One object as a listing shows it. */
export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  /** Without quotes. A plain MD5 only when it matches /^[0-9a-f]{32}$/ and etagIsMd5 is not false. */
  readonly etag: string;
  /** False when the server says the ETag is no MD5 even if it looks like one (SSE-KMS, SSE-C). */
  readonly etagIsMd5?: boolean;
  readonly lastModified?: Date;
}

/** The headers a copy must carry over unchanged. */
export interface ObjectHeaders {
  readonly contentType?: string;
  readonly cacheControl?: string;
  readonly contentDisposition?: string;
  readonly contentEncoding?: string;
  readonly contentLanguage?: string;
  /** Raw HTTP-date string, kept as the server sent it. */
  readonly expires?: string;
  /** User metadata (`x-amz-meta-*`), names lower-case without the prefix. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** An object's S3 Object Lock state: its retention (mode and date) and its legal hold. */
export interface ObjectLock {
  /** `GOVERNANCE` or `COMPLIANCE`. */
  readonly mode?: string;
  /** When the retention ends, ISO-8601. */
  readonly retainUntil?: string;
  readonly legalHold?: boolean;
}

/** One object as a HEAD (or a GET) shows it: its listing facts and the headers a copy carries. */
export interface HeadInfo extends ObjectInfo, ObjectHeaders {
  /** S3 `x-amz-storage-class` when the server names it (AWS omits STANDARD; Ceph names it). */
  readonly storageClass?: string;
  /** S3 `x-amz-tagging-count`: how many tags the object has (absent: none, or a server that does not say). */
  readonly tagCount?: number;
  /** S3 Object Lock retention and legal hold, when the object has any (and the reader may see them). */
  readonly objectLock?: ObjectLock;
}

/** What a write may set besides the headers a copy carries: the storage class (`storage_class`). */
export interface WriteHeaders extends Partial<ObjectHeaders> {
  /** Sent as `x-amz-storage-class`; undefined: none (the bucket's default). */
  readonly storageClass?: string;
  /** A canned ACL, sent as `x-amz-acl`; undefined: none (the bucket's default). */
  readonly acl?: string;
  /** Object tags, sent as `x-amz-tagging`; undefined: none. */
  readonly tags?: Readonly<Record<string, string>>;
  /** Retention and legal hold, sent as `x-amz-object-lock-*`; undefined: none. */
  readonly objectLock?: ObjectLock;
}

/** One version or delete marker of a key in a versioned bucket, as ListObjectVersions shows it. */
export interface VersionEntry {
  readonly key: string;
  readonly versionId: string;
  readonly deleteMarker: boolean;
  readonly isLatest: boolean;
  /** 0 for a delete marker. */
  readonly size: number;
  /** Without quotes; '' for a delete marker. */
  readonly etag: string;
  readonly lastModified?: Date;
}

/** One page of a version listing: keys in byte order, each key's history newest first. */
export interface VersionPage {
  readonly entries: readonly VersionEntry[];
  /** Opaque: pass back to get the next page; undefined on the last page. */
  readonly next?: string;
}

/** A versioned S3 bucket's calls (`versions = true`): optional, S3 only. */
export interface VersionCapable {
  /** Whether the bucket has versioning enabled (GetBucketVersioning). */
  versioningEnabled(): Promise<boolean>;
  /** `startAfter`: the first page of the keys after this one, every version of each (ignored with `next`). */
  listVersionsPage(options?: { prefix?: string; next?: string; startAfter?: string }): Promise<VersionPage>;
  /** One version's body and headers (GET ?versionId=). */
  getVersion(key: string, versionId: string): Promise<{ readonly body: Readable; readonly info: HeadInfo }>;
  /** One version's headers (HEAD ?versionId=); null when there is no such version. */
  headVersion(key: string, versionId: string): Promise<HeadInfo | null>;
  /** Removes one version for good (DELETE ?versionId=). */
  deleteVersion(key: string, versionId: string): Promise<void>;
}

/** True when the store can work on versions (VersionCapable). */
export function isVersionCapable(store: ObjectStore): store is ObjectStore & VersionCapable {
  const s = store as Partial<VersionCapable>;
  return typeof s.listVersionsPage === 'function' && typeof s.getVersion === 'function';
}

/** One page of a listing. */
export interface ListPage {
  readonly objects: readonly ObjectInfo[];
  /** Opaque: pass back to get the next page; undefined on the last page. */
  readonly next?: string;
}

/** How to write one object: its length, MD5 and headers. */
export interface PutOptions extends WriteHeaders {
  readonly contentLength: number;
  /** Base64 MD5 of the body, so the server rejects a body corrupted on the way. */
  readonly contentMd5?: string;
  /** Aborts the request (its body stream failed, or the caller gave up). */
  readonly signal?: AbortSignal;
}

/** What the store says of an object just written. */
export interface PutResult {
  readonly etag: string;
  readonly etagIsMd5?: boolean;
}

/** A key a batch delete could not delete, with its error. */
export interface DeleteFailure {
  readonly key: string;
  readonly error: Error;
}

/** One uploaded part of a multipart upload. */
export interface CompletedPart {
  readonly partNumber: number;
  readonly etag: string;
}

/** A part an upload already holds, as the store lists it (S3 ListParts, a Swift segment listing). */
export interface UploadedPart {
  readonly partNumber: number;
  readonly size: number;
  /** Without quotes: the part's MD5 (S3 and Swift both answer a part's PUT with it). */
  readonly etag: string;
}

/** Multipart upload: optional, because some clones lack parts of it. */
export interface MultipartCapable {
  createMultipart(key: string, headers: WriteHeaders): Promise<string>;
  uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Readable | Buffer,
    options: { contentLength: number; contentMd5?: string },
  ): Promise<string>;
  completeMultipart(key: string, uploadId: string, parts: readonly CompletedPart[]): Promise<PutResult>;
  abortMultipart(key: string, uploadId: string): Promise<void>;
  /**
   * Optional: takes up an upload begun earlier, maybe by a process since killed: the parts it
   * holds, in part order; null when that upload is gone (completed, aborted, expired). After
   * it, uploadPart/completeMultipart/abortMultipart work on that upload in this process.
   */
  resumeMultipart?(key: string, uploadId: string, headers: WriteHeaders): Promise<UploadedPart[] | null>;
}

/**
 * How the copy layer should write to a store: the tuning and deletion keys every endpoint
 * section has (`EndpointSettings`, declared once in the config), plus what the store adds.
 */
export interface StoreSettings extends EndpointSettings {
  /** Most parts one multipart upload may have here; undefined: S3's 10,000 (a Swift SLO: 1,000 segments). */
  readonly maxParts?: number;
}

/** A section's settings for the copy layer, whatever the store's type: its `EndpointSettings` fields. */
export function settingsOf(config: EndpointConfig): StoreSettings {
  const settings: Partial<Record<keyof EndpointSettings, unknown>> = {};
  for (const field of ENDPOINT_SETTING_FIELDS) if (config[field] !== undefined) settings[field] = config[field];
  return Object.freeze(settings as StoreSettings);
}

/** A bucket (or container) of one config section: the calls s3s3 makes on it, whatever the backend. */
export interface ObjectStore {
  /** Config section name, for messages. */
  readonly name: string;
  readonly endpoint: string;
  readonly bucket: string;
  readonly settings: StoreSettings;
  /**
   * Optional: the endpoint's adaptive concurrency. A copy takes one of its slots for each
   * upload (put or multipart) before the body starts to flow; the store then runs the upload
   * without taking another.
   */
  readonly pacer?: Pacer;
  /** One page in the store's order (S3: UTF-8 byte order). */
  /** `startAfter`: the first page of the keys after this one (ignored with `next`). */
  listPage(options?: { prefix?: string; next?: string; startAfter?: string }): Promise<ListPage>;
  /** Every object, page by page; memory holds one page at a time. */
  list(options?: { prefix?: string }): AsyncIterable<ObjectInfo>;
  /**
   * Null when the key does not exist in a bucket known to exist. A missing bucket throws a
   * StoreError of kind `bucketMissing` instead, so it is never mistaken for a deleted key.
   */
  head(key: string): Promise<HeadInfo | null>;
  /** HeadBucket: true when the bucket exists, false when it does not; throws on other errors. */
  bucketExists(): Promise<boolean>;
  get(key: string): Promise<{ readonly body: Readable; readonly info: HeadInfo }>;
  put(key: string, body: Readable | Buffer, options: PutOptions): Promise<PutResult>;
  delete(key: string): Promise<void>;
  /** Deletes in batches; returns the keys that could not be deleted, each with its error. */
  deleteMany(keys: readonly string[]): Promise<DeleteFailure[]>;
  close(): void;
  /** Optional: true when this store can copy from `other` without moving bytes through us. */
  canCopyFrom?(other: ObjectStore): boolean;
  /** Optional: server-side copy from `other` (see canCopyFrom), metadata kept; `storageClass` as in WriteHeaders. */
  copyFrom?(
    other: ObjectStore,
    sourceKey: string,
    key: string,
    ifMatch?: string,
    options?: {
      readonly storageClass?: string;
      readonly acl?: string;
      readonly dropTags?: boolean;
      readonly objectLock?: ObjectLock;
    },
  ): Promise<PutResult>;
  /** Optional: sets an object's retention and legal hold (PutObjectRetention, PutObjectLegalHold). */
  writeObjectLock?(key: string, lock: ObjectLock): Promise<void>;
  /** Optional: whether the bucket has versioning enabled (GetBucketVersioning). */
  versioningEnabled?(): Promise<boolean>;
  /** Optional: whether the bucket has S3 Object Lock enabled (GetObjectLockConfiguration). */
  objectLockEnabled?(): Promise<boolean>;
  /**
   * Optional: bytes `start` to `end` (inclusive) of an object, refused (StoreError of kind
   * `preconditionFailed`) unless its ETag is still `ifMatch`; `etag` is what the answer says.
   */
  getRange?(
    key: string,
    start: number,
    end: number,
    ifMatch: string,
    versionId?: string,
  ): Promise<{ body: Readable; etag: string }>;
  /** Optional: an object's tags (S3 GetObjectTagging); a store without it has no object tags. */
  readTags?(key: string, versionId?: string): Promise<Record<string, string>>;
  /** Optional, with readTags: sets an object's tags (S3 PutObjectTagging). */
  writeTags?(key: string, tags: Readonly<Record<string, string>>): Promise<void>;
  /** Optional, with readTags: whether the server takes object tags at all (Swift's s3api does not). */
  takesTags?(): Promise<boolean>;
  /** Optional: an object's ACL as `acl = copy` carries it (S3 GetObjectAcl). */
  readAcl?(key: string, versionId?: string): Promise<SourceAcl>;
}

/** Every object of a store, page by page (memory holds one page): `list` for any `listPage`. */
export async function* listAll(
  store: Pick<ObjectStore, 'listPage'>,
  options: { prefix?: string } = {},
): AsyncGenerator<ObjectInfo> {
  let next: string | undefined;
  do {
    const page = await store.listPage({ prefix: options.prefix, next });
    yield* page.objects;
    next = page.next;
  } while (next !== undefined);
}

/**
 * `deleteMany`, its own failure (the whole request) counted as every key's: the keys not
 * deleted, each with its error. Nothing is thrown, so each key gets its own outcome.
 */
export async function deleteManyFailures(
  store: Pick<ObjectStore, 'deleteMany'>,
  keys: readonly string[],
): Promise<Map<string, Error>> {
  let failures: readonly DeleteFailure[];
  try {
    failures = await store.deleteMany(keys);
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    failures = keys.map((key) => ({ key, error }));
  }
  return new Map(failures.map((f) => [f.key, f.error]));
}

/** True when the store can upload in parts (MultipartCapable). */
export function isMultipartCapable(store: ObjectStore): store is ObjectStore & MultipartCapable {
  const s = store as Partial<MultipartCapable>;
  return (
    typeof s.createMultipart === 'function' &&
    typeof s.uploadPart === 'function' &&
    typeof s.completeMultipart === 'function' &&
    typeof s.abortMultipart === 'function'
  );
}

/** True when the ETag is a plain MD5 (not multipart `-N`, not a clone's own hash). */
export function isMd5Etag(etag: string | undefined): etag is string {
  return etag !== undefined && /^[0-9a-f]{32}$/.test(etag);
}

/** The object's MD5 when its ETag is one: plain-MD5 shape, and not marked otherwise (SSE-KMS/C). */
export function etagMd5(o: { readonly etag: string; readonly etagIsMd5?: boolean }): string | undefined {
  return o.etagIsMd5 !== false && isMd5Etag(o.etag) ? o.etag : undefined;
}
