/**
 * The one rule for "gone", and the look every last write or delete takes at the source.
 * A decision made from a listing, a HEAD or a GET's 404 can be stale by the time it acts;
 * whatever turns a not-found into "gone" (and so maybe a delete) asks here, right then.
 */
import { StoreError } from '../errors.js';
import type { HeadInfo, ObjectInfo, ObjectStore } from '../store/object-store.js';

/** What the source holds for a key right now. */
export type SourceNow =
  | { readonly state: 'present'; readonly info: HeadInfo }
  | { readonly state: 'gone' }
  /** Neither could be proven (an error, a missing bucket): never act as if the key were gone. */
  | { readonly state: 'unknown'; readonly error: Error };

/**
 * Looks at `key` now: "gone" only when a HEAD through the store's checks found no such key
 * (the store's own answer) and a HeadBucket, asked now and never answered from a cache, sees
 * the bucket exist. `seenMissing`: the caller's own HEAD has just answered null, so only the
 * bucket is asked.
 */
export async function sourceNow(store: ObjectStore, key: string, seenMissing = false): Promise<SourceNow> {
  if (!seenMissing) {
    try {
      const info = await store.head(key);
      if (info !== null) return { state: 'present', info };
    } catch (err) {
      return { state: 'unknown', error: asError(err) };
    }
  }
  const missing = await bucketMissing(store);
  return missing ? { state: 'unknown', error: missing } : { state: 'gone' };
}

/**
 * True when `now` is the version `read` describes: same size; the same ETag where both have
 * one; and where both come from a GET or HEAD (headers, not a listing), the same
 * Last-Modified second and the same headers and user metadata, so an overwrite with the same
 * bytes but other metadata (every empty object has the same ETag) is a new version too.
 * What decides whether a copy just written is still the source's newest.
 */
export function sameVersion(read: ObjectInfo | HeadInfo, now: HeadInfo): boolean {
  if (read.size !== now.size) return false;
  if (read.etag && now.etag && read.etag !== now.etag) return false;
  if (!('metadata' in read)) return true;
  // HTTP dates carry whole seconds; a listing's milliseconds never reach here.
  // An unreadable date (NaN) says nothing: NaN would differ from itself, and copy for ever.
  const second = (d: Date | undefined) =>
    d === undefined || Number.isNaN(d.getTime()) ? undefined : Math.floor(d.getTime() / 1000);
  if (read.lastModified && now.lastModified && second(read.lastModified) !== second(now.lastModified)) return false;
  return !metadataDiffers(read, now);
}

/** The standard headers a copy carries, by their HTTP name and their HeadInfo field. */
const STANDARD_HEADERS = [
  ['content-type', 'contentType'],
  ['cache-control', 'cacheControl'],
  ['content-disposition', 'contentDisposition'],
  ['content-encoding', 'contentEncoding'],
  ['content-language', 'contentLanguage'],
] as const;

/**
 * The names of the standard headers and user metadata that differ between two objects
 * (`content-type`, `expires`, `x-amz-meta-color`, ...), in that order; empty when they agree.
 * `s3s3-*` metadata is s3s3's own record of the copy, never the source's, so it is left out.
 * Expires is compared as an instant (servers may reformat the HTTP-date), and one that is no
 * HTTP date counts as none (see expiresAt). The one rule for "metadata differs": the sweep's
 * `--check-metadata`, the check's `*` lines and sameVersion all ask here.
 */
export function metadataDiff(a: HeadInfo, b: HeadInfo): string[] {
  const diff: string[] = [];
  for (const [name, field] of STANDARD_HEADERS) if ((a[field] ?? '') !== (b[field] ?? '')) diff.push(name);
  if (expiresAt(a.expires) !== expiresAt(b.expires)) diff.push('expires');
  const names = new Set([...Object.keys(a.metadata), ...Object.keys(b.metadata)]);
  for (const n of [...names].sort()) {
    if (n.startsWith('s3s3-')) continue;
    if (a.metadata[n] !== b.metadata[n]) diff.push(`x-amz-meta-${n}`);
  }
  return diff;
}

/** Standard headers or user metadata differ (s3s3's own `s3s3-*` left out): metadataDiff is not empty. */
export function metadataDiffers(a: HeadInfo, b: HeadInfo): boolean {
  return metadataDiff(a, b).length > 0;
}

/**
 * An Expires header as an instant, or undefined when absent or no HTTP date. Servers keep
 * whatever a client sent (Ceph and Swift answer `Expires: never` as stored), and NaN equals
 * nothing, itself included: compared as NaN, such an object would never be the same version
 * as itself, and every copy of it would run its rounds and fail. s3s3's S3 PUT cannot carry
 * such a value either (it sends dates only), so an unparsable one counts as none.
 */
function expiresAt(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/** Null when the bucket exists now; else the error to report (bucketMissing, or why we cannot tell). */
async function bucketMissing(store: ObjectStore): Promise<Error | null> {
  try {
    if (await store.bucketExists()) return null;
    return new StoreError({
      section: store.name,
      op: 'HeadBucket',
      endpoint: store.endpoint,
      bucket: store.bucket,
      status: 404,
      code: 'NoSuchBucket',
      errorClass: 'fatal',
      kind: 'bucketMissing',
      detail: 'the bucket does not exist (create the bucket, or fix bucket_name)',
    });
  } catch (err) {
    return asError(err);
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
