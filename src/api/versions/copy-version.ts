/** One source version written to a versioned destination, as its newest version, and checked. */
import { VerificationError } from '../errors.js';
import { copyHeaders, lockAfterParts, writeHeaders } from '../copy/copy-key.js';
import { takesTags } from '../copy/tags.js';
import type { SourceAcl } from '../store/acl.js';
import { META_MD5, META_SOURCE_ETAG, META_SOURCE_VERSION } from '../copy/decide.js';
import type { Limiter } from '../copy/limiter.js';
import { hexToBase64, Md5Tap } from '../copy/md5-tap.js';
import { multipartUpload } from '../copy/multipart.js';
import {
  etagMd5,
  isMd5Etag,
  isMultipartCapable,
  type ObjectStore,
  type VersionCapable,
  type VersionEntry,
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
  options: { readonly partSlots?: Limiter } = {},
): Promise<number> {
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
  const target = { store: dest, key: destKey };
  // The destination's storage_class, acl, tags and object_lock apply as to any copy, from this version's own.
  let from: { acl?: SourceAcl; tags?: Record<string, string> };
  try {
    from = {
      ...(dest.settings.acl === 'copy' && source.readAcl
        ? { acl: await source.readAcl(entry.key, entry.versionId) }
        : {}),
      ...((info.tagCount ?? 0) > 0 && takesTags(dest) && source.readTags
        ? { tags: await source.readTags(entry.key, entry.versionId) }
        : {}),
    };
  } catch (err) {
    got.body.destroy();
    throw err;
  }
  const headers = writeHeaders(target, info, sourceMd5, copyHeaders(info), from);
  // Recorded whatever record_metadata says (versions = true refuses it off): how a rerun knows the copy.
  headers.metadata[META_SOURCE_VERSION] = entry.versionId;
  if (info.etag) headers.metadata[META_SOURCE_ETAG] = info.etag;
  if (sourceMd5) headers.metadata[META_MD5] = sourceMd5;
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
  got.body.once('error', (e) => tap.destroy(e));
  got.body.pipe(tap);
  const settings = dest.settings;
  const multipart = info.size > settings.multipartThreshold && isMultipartCapable(dest);
  const put = multipart
    ? await multipartUpload(dest, destKey, tap, {
        size: info.size,
        partSize: settings.multipartChunksize,
        parallel: Math.max(1, Math.min(4, settings.concurrency)),
        headers,
        partSlots: options.partSlots,
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
  // Some servers (Ceph 16) drop the tags and the lock CreateMultipartUpload carries: set on the new version.
  if (multipart) {
    if (headers.tags !== undefined && Object.keys(headers.tags).length > 0)
      await dest.writeTags?.(destKey, headers.tags);
    await lockAfterParts(target, info);
  }
  return info.size;
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
