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
 * True when `now` is the version `read` describes: same size, and the same ETag where both
 * have one (else the same Last-Modified where both have one). What decides whether a copy
 * just written is still the source's newest.
 */
export function sameVersion(read: ObjectInfo, now: ObjectInfo): boolean {
  if (read.size !== now.size) return false;
  if (read.etag && now.etag) return read.etag === now.etag;
  if (read.lastModified && now.lastModified) return read.lastModified.getTime() === now.lastModified.getTime();
  return true;
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
