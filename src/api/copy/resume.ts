/**
 * Resumable multipart copies: the record a fresh upload leaves in the journal, and the checks a
 * resumed one passes before it counts — as strong as an uninterrupted copy's (docs/copying.md):
 * each new part with its Content-MD5 and read under If-Match of the source's ETag, the completed
 * object's composite ETag against its parts, and the whole object read back from the
 * destination against the source's MD5 or `-N` ETag where the source gives one.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { StoreError, VerificationError } from '../errors.js';
import type { Logger } from '../log.js';
import {
  etagMd5,
  isMultipartCapable,
  type CompletedPart,
  type HeadInfo,
  type ObjectStore,
} from '../store/object-store.js';
import { headersDigest, type UploadJournal, type UploadRecord } from '../uploads/journal.js';
import { Md5Tap } from './md5-tap.js';
import type { UploadTracker } from './multipart.js';
import { candidatePartSizes, multipartParts, PartEtagHasher } from './part-etag.js';

/** Where a copy keeps its uploads resumable, and whom it tells when the journal fails. */
export interface Resumable {
  readonly journal: UploadJournal;
  readonly logger: Logger;
}

const warned = new WeakSet<UploadJournal>();

/** A journal that cannot be written makes copies non-resumable, never failed: said once per journal. */
export function journalFailed(r: Resumable, err: unknown): void {
  if (warned.has(r.journal)) return;
  warned.add(r.journal);
  r.logger.warn('upload state cannot be kept: large copies interrupted now start over', {
    where: r.journal.where,
    error: err instanceof Error ? err.message : String(err),
  });
}

/** The record of an upload to `store`/`key` of the source version `info`, written with `headers`. */
export function uploadRecord(
  store: ObjectStore,
  key: string,
  info: HeadInfo,
  headers: object,
  upload: { uploadId: string; partSize: number },
  versionId?: string,
): UploadRecord {
  return {
    ...(versionId !== undefined ? { sourceVersionId: versionId } : {}),
    destination: store.name,
    endpoint: store.endpoint,
    bucket: store.bucket,
    key,
    uploadId: upload.uploadId,
    partSize: upload.partSize,
    size: info.size,
    sourceEtag: info.etag,
    headers: headersDigest(headers),
    startedAt: Date.now(),
  };
}

/** The tracker a fresh multipart upload reports to: its record is written once it exists, removed once it ends. */
export function trackerFor(
  r: Resumable,
  store: ObjectStore,
  key: string,
  info: HeadInfo,
  headers: object,
  keeps: (err: unknown) => boolean,
  versionId?: string,
): UploadTracker {
  return {
    async started(uploadId, partSize) {
      try {
        const before = await r.journal.get(store.endpoint, store.bucket, key);
        await r.journal.put(uploadRecord(store, key, info, headers, { uploadId, partSize }, versionId));
        // An earlier upload of this object, superseded by this one: nobody would take it up again.
        if (before !== undefined && before.uploadId !== uploadId && isMultipartCapable(store)) {
          if (store.resumeMultipart) await store.resumeMultipart(key, before.uploadId, {}).catch(() => null);
          await store.abortMultipart(key, before.uploadId).catch(() => undefined);
        }
        return true;
      } catch (err) {
        journalFailed(r, err);
        return false;
      }
    },
    async ended(uploadId) {
      await r.journal
        .remove({ endpoint: store.endpoint, bucket: store.bucket, key, uploadId })
        .catch((err: unknown) => journalFailed(r, err));
    },
    keeps,
  };
}

/**
 * Bytes `start`..`end` of the source version an upload copies (`etag`, and `versionId` where
 * versioned): read with If-Match, and refused (a StoreError of kind `preconditionFailed`) when
 * the answer names another ETag — a server that ignores If-Match on GET still says what it sent.
 */
export async function readRangeOf(
  store: ObjectStore,
  key: string,
  start: number,
  end: number,
  etag: string,
  versionId?: string,
): Promise<Readable> {
  const got = await store.getRange!(key, start, end, etag, versionId);
  if (got.etag === etag) return got.body;
  got.body.destroy();
  throw new StoreError({
    section: store.name,
    op: 'GetObject',
    endpoint: store.endpoint,
    bucket: store.bucket,
    key,
    status: 412,
    code: 'PreconditionFailed',
    errorClass: 'retry',
    detail:
      `a range came with ETag ${got.etag}, the upload copies ${etag}` +
      (versionId !== undefined ? ` (version ${versionId})` : ''),
  });
}

/** Whether a record may be resumed for the source version `info` with `headers`; else why not. */
export function resumeRefusal(
  record: UploadRecord,
  info: HeadInfo,
  headers: object,
  versionId?: string,
): string | undefined {
  if (record.sourceEtag === '') return 'the source gives no ETag to read the same version by';
  if (record.sourceVersionId !== versionId)
    return `it copies source version ${record.sourceVersionId ?? 'current'}, not ${versionId ?? 'the current one'}`;
  if (record.sourceEtag !== info.etag || record.size !== info.size)
    return `the source changed since the upload began (ETag ${record.sourceEtag}, now ${info.etag})`;
  if (record.headers !== headersDigest(headers)) return 'the headers to write changed since the upload began';
  return undefined;
}

/**
 * The checks of a resumed copy once completed (see the file's comment). `etag` is what the
 * destination says of the completed object. Throws VerificationError.
 */
export async function verifyResumed(
  store: ObjectStore,
  key: string,
  info: HeadInfo,
  parts: readonly CompletedPart[],
  etag: string,
  hints: readonly number[],
): Promise<void> {
  const where = { endpoint: store.endpoint, bucket: store.bucket, key };
  // S3's composite ETag: the MD5 of the parts' MD5s, `-N` (a Swift SLO's manifest is checked by the store).
  if (/-\d+$/.test(etag)) {
    const md5s = Buffer.concat(parts.map((p) => Buffer.from(p.etag, 'hex')));
    const want = `${createHash('md5').update(md5s).digest('hex')}-${parts.length}`;
    if (etag !== want)
      throw new VerificationError({ ...where, detail: `resumed copy has ETag ${etag}, its parts give ${want}` });
  }
  const sourceMd5 = etagMd5(info);
  const sourceParts = sourceMd5 === undefined ? multipartParts(info.etag) : undefined;
  if (sourceMd5 === undefined && sourceParts === undefined) return;
  // The whole object, read back from the destination (not the source): its MD5, and the `-N`
  // ETags of the likely part sizes, against what the source says of itself.
  const got = await store.get(key);
  const tap = new Md5Tap(got.info.size, true);
  if (sourceParts !== undefined) tap.partHasher = new PartEtagHasher(candidatePartSizes(info.size, sourceParts, hints));
  got.body.once('error', (e) => tap.destroy(e));
  got.body.pipe(tap);
  for await (const _ of tap) {
    // Only the hashes are wanted.
  }
  const md5 = tap.md5;
  const ok = sourceMd5 !== undefined ? md5 === sourceMd5 : (tap.partHasher?.etags().includes(info.etag) ?? false);
  if (!ok)
    throw new VerificationError({
      ...where,
      detail: `resumed copy reads back with MD5 ${md5 ?? 'none'}, which does not give the source's ETag ${info.etag}`,
    });
}
