/** One source version written to a versioned destination, as its newest version, and checked. */
import { StoreError, VerificationError } from '../errors.js';
import { copyHeaders, keepsUpload, lockAfterParts, writeHeaders } from '../copy/copy-key.js';
import {
  journalFailed,
  readRangeOf,
  resumeRefusal,
  trackerFor,
  verifyResumed,
  type Resumable,
} from '../copy/resume.js';
import { takesTags } from '../copy/tags.js';
import type { SourceAcl } from '../store/acl.js';
import { META_MD5, META_SOURCE_ETAG, META_SOURCE_VERSION } from '../copy/decide.js';
import type { Limiter } from '../copy/limiter.js';
import { hexToBase64, Md5Tap } from '../copy/md5-tap.js';
import { candidatePartSizes, multipartParts, PartEtagHasher } from '../copy/part-etag.js';
import { multipartUpload, resumeMultipart } from '../copy/multipart.js';
import {
  etagMd5,
  isMd5Etag,
  isMultipartCapable,
  type HeadInfo,
  type ObjectStore,
  type VersionCapable,
  type VersionEntry,
  type WriteHeaders,
} from '../store/object-store.js';

/**
 * GET ?versionId= of `entry`, PUT (or a multipart upload past `multipart_threshold`) to
 * `destKey`, with the source's headers and metadata and `s3s3-source-version-id`. The bytes
 * are checked against the source's MD5 (Content-MD5 where it is known, the MD5 of the bytes
 * moved against the copy's ETag); a copy found wrong after it was written is removed (that
 * version only) and the error thrown. Returns the bytes copied.
 */
export async function copyVersion(
  source: ObjectStore & VersionCapable,
  entry: VersionEntry,
  dest: ObjectStore & VersionCapable,
  destKey: string,
  options: { readonly partSlots?: Limiter; readonly uploads?: Resumable } = {},
): Promise<number> {
  const multipart = entry.size > dest.settings.multipartThreshold && isMultipartCapable(dest);
  if (multipart && options.uploads) {
    const resumed = await resumeVersion(source, entry, dest, destKey, options.uploads, options);
    if (resumed !== undefined) return resumed;
  }
  const got = await source.getVersion(entry.key, entry.versionId);
  const info = got.info;
  const where = { endpoint: source.endpoint, bucket: source.bucket, key: entry.key };
  if (info.etag !== entry.etag || info.size !== entry.size) {
    got.body.destroy();
    throw new VerificationError({
      ...where,
      detail:
        `version ${entry.versionId} reads as ${info.size} bytes, ETag ${info.etag}; ` +
        `it was listed as ${entry.size}, ${entry.etag}`,
    });
  }
  const sourceMd5 = etagMd5(info);
  let headers: WriteHeaders & { metadata: Record<string, string> };
  try {
    headers = await versionHeaders(source, entry, info, dest, destKey);
  } catch (err) {
    got.body.destroy();
    throw err;
  }
  const tap = new Md5Tap(info.size, true);
  // The last bytes are held back until the MD5 of what was read is the source's: a corrupted
  // read never completes a write (a multipart upload included).
  if (sourceMd5 !== undefined)
    tap.beforeEnd = async (md5) =>
      md5 !== undefined && md5 !== sourceMd5
        ? new VerificationError({
            ...where,
            detail: `bytes read have MD5 ${md5}, the source version's ETag says ${info.etag}`,
          })
        : undefined;
  // A version uploaded in parts (`-N`): its ETag is recomputed for the likely part sizes as the
  // bytes pass; where none gives it, the version is read again and the two reads must agree.
  const parts = sourceMd5 === undefined ? multipartParts(info.etag) : undefined;
  if (parts !== undefined) {
    const hints = [source.settings.multipartChunksize, dest.settings.multipartChunksize];
    tap.partHasher = new PartEtagHasher(candidatePartSizes(info.size, parts, hints));
    tap.beforeEnd = async (md5) => {
      if (md5 === undefined || tap.partHasher?.etags().includes(info.etag)) return undefined;
      const again = await hashVersion(source, entry);
      return again === md5
        ? undefined
        : new VerificationError({
            ...where,
            detail: `two reads of version ${entry.versionId} differ (MD5 ${md5} and ${again ?? 'none'})`,
          });
    };
  }
  got.body.once('error', (e) => tap.destroy(e));
  got.body.pipe(tap);
  const settings = dest.settings;
  const put =
    multipart && isMultipartCapable(dest)
      ? await multipartUpload(dest, destKey, tap, {
          size: info.size,
          partSize: settings.multipartChunksize,
          parallel: Math.max(1, Math.min(4, settings.concurrency)),
          headers,
          partSlots: options.partSlots,
          ...(options.uploads
            ? { tracker: trackerFor(options.uploads, dest, destKey, info, headers, keepsUpload, entry.versionId) }
            : {}),
        })
      : await dest.put(destKey, tap, {
          ...headers,
          contentLength: info.size,
          contentMd5: sourceMd5 ? hexToBase64(sourceMd5) : undefined,
        });
  const md5 = await tap.digest;
  const wrong =
    sourceMd5 !== undefined && md5 !== sourceMd5
      ? `bytes read have MD5 ${md5 ?? 'none'}, the source version's ETag says ${info.etag}`
      : isMd5Etag(put.etag) && put.etagIsMd5 !== false && md5 !== undefined && put.etag !== md5
        ? `the copy's ETag ${put.etag} is not the MD5 ${md5} of the bytes sent`
        : undefined;
  if (wrong !== undefined) {
    await removeNewest(dest, destKey, put.etag);
    throw new VerificationError({ endpoint: dest.endpoint, bucket: dest.bucket, key: destKey, detail: wrong });
  }
  if (multipart) await afterParts(dest, destKey, headers, info);
  return info.size;
}

/** Some servers (Ceph 16) drop the tags and the lock CreateMultipartUpload carries: set on the new version. */
async function afterParts(dest: ObjectStore, destKey: string, headers: WriteHeaders, info: HeadInfo): Promise<void> {
  if (headers.tags !== undefined && Object.keys(headers.tags).length > 0) await dest.writeTags?.(destKey, headers.tags);
  await lockAfterParts({ store: dest, key: destKey }, info);
}

/**
 * What the copy of one version is written with: its headers, metadata, tags (`tags`), ACL
 * (`acl = copy`) and Object Lock, the destination's class, and `s3s3-source-version-id`.
 */
async function versionHeaders(
  source: ObjectStore & VersionCapable,
  entry: VersionEntry,
  info: HeadInfo,
  dest: ObjectStore,
  destKey: string,
): Promise<WriteHeaders & { metadata: Record<string, string> }> {
  const from: { acl?: SourceAcl; tags?: Record<string, string> } = {
    ...(dest.settings.acl === 'copy' && source.readAcl
      ? { acl: await source.readAcl(entry.key, entry.versionId) }
      : {}),
    ...((info.tagCount ?? 0) > 0 && takesTags(dest) && source.readTags
      ? { tags: await source.readTags(entry.key, entry.versionId) }
      : {}),
  };
  const sourceMd5 = etagMd5(info);
  const headers = writeHeaders({ store: dest, key: destKey }, info, sourceMd5, copyHeaders(info), from);
  // Recorded whatever record_metadata says (versions = true refuses it off): how a rerun knows the copy.
  headers.metadata[META_SOURCE_VERSION] = entry.versionId;
  if (info.etag) headers.metadata[META_SOURCE_ETAG] = info.etag;
  if (sourceMd5) headers.metadata[META_MD5] = sourceMd5;
  return headers;
}

/**
 * The upload of this very version the journal holds, taken up (see copy/resume.ts): undefined
 * when there is none or it cannot be resumed (then it is aborted and the version copied whole).
 */
async function resumeVersion(
  source: ObjectStore & VersionCapable,
  entry: VersionEntry,
  dest: ObjectStore & VersionCapable,
  destKey: string,
  r: Resumable,
  options: { readonly partSlots?: Limiter },
): Promise<number | undefined> {
  if (!isMultipartCapable(dest) || !dest.resumeMultipart || !source.getRange) return undefined;
  const record = await r.journal.get(dest.endpoint, dest.bucket, destKey).catch((err: unknown) => {
    journalFailed(r, err);
    return undefined;
  });
  if (record === undefined) return undefined;
  const forget = async (): Promise<undefined> => {
    await dest.abortMultipart(destKey, record.uploadId).catch(() => undefined);
    await r.journal.remove(record).catch((err: unknown) => journalFailed(r, err));
    return undefined;
  };
  const info = await source.headVersion(entry.key, entry.versionId);
  if (info === null) return forget();
  const headers = await versionHeaders(source, entry, info, dest, destKey);
  if (resumeRefusal(record, info, headers, entry.versionId) !== undefined) return forget();
  let have;
  try {
    have = await dest.resumeMultipart(destKey, record.uploadId, headers);
  } catch (err) {
    if (keepsUpload(err)) throw err;
    return forget();
  }
  if (have === null) return forget();
  const etag = record.sourceEtag;
  const resumed = await resumeMultipart(dest, destKey, {
    uploadId: record.uploadId,
    size: record.size,
    partSize: record.partSize,
    have,
    parallel: Math.max(1, Math.min(4, dest.settings.concurrency)),
    partSlots: options.partSlots,
    readRange: (start, end) => readRangeOf(source, entry.key, start, end, etag, entry.versionId),
  }).catch(async (err: unknown) => {
    // A range that is not of this version: a broken server; the version is copied whole instead.
    if (err instanceof StoreError && err.kind === 'preconditionFailed') return undefined;
    if (!keepsUpload(err)) await forget();
    throw err;
  });
  if (resumed === undefined) return forget();
  await r.journal.remove(record).catch((err: unknown) => journalFailed(r, err));
  const head = await dest.head(destKey);
  try {
    const hints = [source.settings.multipartChunksize, dest.settings.multipartChunksize, record.partSize];
    await verifyResumed(dest, destKey, info, resumed.parts, head?.etag ?? resumed.put.etag, hints);
  } catch (err) {
    await removeNewest(dest, destKey, head?.etag ?? resumed.put.etag);
    throw err;
  }
  await afterParts(dest, destKey, headers, info);
  return info.size;
}

/** The MD5 of one version's bytes, read in full; null when it is gone. */
async function hashVersion(source: ObjectStore & VersionCapable, entry: VersionEntry): Promise<string | null> {
  let got;
  try {
    got = await source.getVersion(entry.key, entry.versionId);
  } catch (err) {
    if (err instanceof StoreError && err.notFound) return null;
    throw err;
  }
  const tap = new Md5Tap(got.info.size);
  got.body.once('error', (e) => tap.destroy(e));
  got.body.pipe(tap);
  for await (const _ of tap) {
    // Only the hash is wanted.
  }
  return tap.md5 ?? null;
}

/** The newest version of `key` with this ETag, removed for good (a copy found wrong). Best effort. */
async function removeNewest(dest: ObjectStore & VersionCapable, key: string, etag: string): Promise<void> {
  try {
    const page = await dest.listVersionsPage({ prefix: key });
    const newest = page.entries.find((e) => e.key === key && !e.deleteMarker && e.etag === etag);
    if (newest) await dest.deleteVersion(key, newest.versionId);
  } catch {
    // The copy is reported failed; the next run finds the history differing and says so.
  }
}
