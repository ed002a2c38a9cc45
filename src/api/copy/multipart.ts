/** Multipart uploads from a stream, and the part size that fits an object within the limits. */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { S3s3Error } from '../errors.js';
import type { CompletedPart, MultipartCapable, PutResult, UploadedPart, WriteHeaders } from '../store/object-store.js';
import type { Limiter } from './limiter.js';

const MiB = 1024 * 1024;
/** Most parts in one upload. S3's limits here are AWS's; Ceph RGW and Swift s3api have the same or looser. */
export const MAX_PARTS = 10_000;
/** The largest part S3 takes. */
export const MAX_PART_SIZE = 5 * 1024 * MiB;
/** The largest object a multipart upload can make (5 TiB). */
export const MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MiB;

/** An object too large for any multipart upload (over 5 TiB): nothing was uploaded. */
export class ObjectTooLargeError extends S3s3Error {
  override name = 'ObjectTooLargeError';
  readonly key: string | undefined;
  readonly size: number;
  constructor(init: { size: number; key?: string; maxParts?: number }) {
    const what = init.key === undefined ? 'object' : JSON.stringify(init.key);
    const limit =
      init.maxParts === undefined || init.maxParts * MAX_PART_SIZE >= MAX_OBJECT_SIZE
        ? `the ${MAX_OBJECT_SIZE} bytes (5 TiB) an S3 multipart upload can hold`
        : `the ${init.maxParts * MAX_PART_SIZE} bytes ${init.maxParts} parts of 5 GiB can hold at this destination`;
    super(`${what} has ${init.size} bytes, over ${limit}; it cannot be copied (exclude it, e.g. --max-size 5T)`);
    this.key = init.key;
    this.size = init.size;
  }
}

/**
 * The part size for an object of `size` bytes: `chunkSize` when that needs at most `maxParts`
 * (S3: 10,000; a Swift SLO: its manifest's segment limit), else the smallest whole number of
 * MiB that does (as rclone and the AWS SDKs grow it). Throws ObjectTooLargeError over 5 TiB,
 * or where no part size up to 5 GiB fits.
 */
export function choosePartSize(size: number, chunkSize: number, key?: string, maxParts = MAX_PARTS): number {
  if (size > MAX_OBJECT_SIZE || size > maxParts * MAX_PART_SIZE) throw new ObjectTooLargeError({ size, key, maxParts });
  if (Math.ceil(size / chunkSize) <= maxParts) return chunkSize;
  const grown = Math.ceil(size / maxParts / MiB) * MiB;
  // 5 TiB / 10,000 rounds up to 525 MiB, far below the 5 GiB part limit.
  return Math.min(grown, MAX_PART_SIZE);
}

/** How `multipartUpload` cuts and sends: sizes, parallelism, headers, the shared part slots, the hooks. */
export interface MultipartOptions {
  readonly size: number;
  /** The configured part size (multipart_chunksize); grown to fit `maxParts`, see choosePartSize. */
  readonly partSize: number;
  /** Most parts the destination takes in one upload (default 10,000, S3's). */
  readonly maxParts?: number;
  readonly parallel: number;
  readonly headers: WriteHeaders;
  /** Shared by every upload of a sweep: one slot per part in flight, so memory stays within
   *  (slots + uploads being filled) x part size however many large objects are in flight. */
  readonly partSlots?: Limiter;
  readonly onAbortError?: (err: unknown) => void;
  /**
   * Told, before anything is uploaded, when the part size had to grow beyond `partSize`
   * to stay within 10,000 parts: each part buffer is then that large, so callers may log it.
   */
  readonly onPartSize?: (chosen: number, configured: number) => void;
  /** Keeps the upload resumable: told when it begins and ends; a failure it keeps is left for the next attempt. */
  readonly tracker?: UploadTracker;
}

/**
 * What makes an upload resumable (uploads/journal.ts through copy/resume.ts): its record is
 * written once the upload exists and removed once it is completed or aborted.
 */
export interface UploadTracker {
  /** The upload exists (record it); false when it could not be recorded (then it is not kept on failure). */
  started(uploadId: string, partSize: number): Promise<boolean>;
  /** Completed or aborted: forget it. */
  ended(uploadId: string): Promise<void>;
  /** Whether a failure leaves the upload for the next attempt to resume (a transient one) instead of aborting it. */
  keeps(err: unknown): boolean;
}

/** Yields buffers of exactly `partSize` bytes (the last may be shorter). */
async function* parts(stream: Readable, partSize: number): AsyncGenerator<Buffer> {
  let buf = Buffer.allocUnsafe(partSize);
  let filled = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, partSize - filled);
      chunk.copy(buf, filled, offset, offset + n);
      filled += n;
      offset += n;
      if (filled === partSize) {
        yield buf;
        buf = Buffer.allocUnsafe(partSize);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buf.subarray(0, filled);
}

/**
 * Multipart upload from a stream: parts are cut from the stream in order and uploaded
 * a few at a time, each with its own Content-MD5. Any failure aborts the upload, so no
 * orphaned parts are left behind. Memory: at most (parallel + 1) parts.
 */
export async function multipartUpload(
  store: MultipartCapable,
  key: string,
  body: Readable,
  options: MultipartOptions,
): Promise<PutResult> {
  let partSize: number;
  try {
    partSize = choosePartSize(options.size, options.partSize, key, options.maxParts);
  } catch (err) {
    body.destroy();
    throw err;
  }
  if (partSize !== options.partSize) options.onPartSize?.(partSize, options.partSize);
  const uploadId = await store.createMultipart(key, options.headers);
  const recorded = (await options.tracker?.started(uploadId, partSize)) ?? false;
  const done: CompletedPart[] = [];
  const inflight = new Set<Promise<void>>();
  let failure: unknown;
  try {
    let partNumber = 0;
    for await (const part of parts(body, partSize)) {
      if (failure !== undefined) break;
      // A slot is taken only for a full part about to go out, never while filling one: a
      // filling buffer may wait on a stream that another destination is holding back, so
      // holding a slot there could deadlock the fan-out.
      await options.partSlots?.acquire();
      const number = ++partNumber;
      const md5 = createHash('md5').update(part).digest('base64');
      const p: Promise<void> = store
        .uploadPart(key, uploadId, number, part, { contentLength: part.length, contentMd5: md5 })
        .then((etag) => {
          done.push({ partNumber: number, etag });
        })
        .catch((err: unknown) => {
          failure ??= err;
        })
        .finally(() => {
          inflight.delete(p);
          options.partSlots?.release();
        });
      inflight.add(p);
      while (inflight.size >= options.parallel) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    if (failure !== undefined) throw failure;
    done.sort((a, b) => a.partNumber - b.partNumber);
    if (done.length === 0) throw new Error('multipart upload of an empty body');
    const put = await store.completeMultipart(key, uploadId, done);
    await options.tracker?.ended(uploadId);
    return put;
  } catch (err) {
    body.destroy();
    await Promise.allSettled(inflight);
    // A transient failure of a recorded upload leaves it for the next attempt, which resumes it.
    if (recorded && options.tracker?.keeps(err)) throw err;
    await store.abortMultipart(key, uploadId).catch((abortErr: unknown) => options.onAbortError?.(abortErr));
    await options.tracker?.ended(uploadId);
    throw err;
  }
}

/** What `resumeMultipart` needs: the upload, its parts, and how to read a range of the source. */
export interface ResumeOptions {
  readonly uploadId: string;
  readonly size: number;
  readonly partSize: number;
  /** The parts the upload holds now (ListParts). */
  readonly have: readonly UploadedPart[];
  readonly parallel: number;
  readonly partSlots?: Limiter;
  /** Bytes `start`..`end` (inclusive) of the source version the upload copies. */
  readonly readRange: (start: number, end: number) => Promise<Readable>;
  /** Told of each byte count read from the source. */
  readonly onRead?: (bytes: number) => void;
}

/** The parts an object of `size` bytes has at `partSize`: number, offset, length. */
export function partLayout(
  size: number,
  partSize: number,
): Array<{ partNumber: number; start: number; length: number }> {
  const out = [];
  for (let n = 1, start = 0; start < size; n++, start += partSize)
    out.push({ partNumber: n, start, length: Math.min(partSize, size - start) });
  return out;
}

/**
 * Completes an upload begun earlier: a part it holds with the right size and an MD5 for ETag is
 * kept (S3 and Swift checked its Content-MD5 when it was put); every other part is read from
 * the source (a range) and uploaded with its own Content-MD5. Failures leave the upload as it
 * is (the caller decides whether to abort). Returns the completed upload and its parts.
 */
export async function resumeMultipart(
  store: MultipartCapable,
  key: string,
  options: ResumeOptions,
): Promise<{ put: PutResult; parts: CompletedPart[]; reused: number }> {
  const held = new Map(options.have.map((p) => [p.partNumber, p]));
  const done: CompletedPart[] = [];
  const missing: Array<{ partNumber: number; start: number; length: number }> = [];
  for (const p of partLayout(options.size, options.partSize)) {
    const h = held.get(p.partNumber);
    if (h && h.size === p.length && /^[0-9a-f]{32}$/.test(h.etag))
      done.push({ partNumber: p.partNumber, etag: h.etag });
    else missing.push(p);
  }
  const reused = done.length;
  const inflight = new Set<Promise<void>>();
  let failure: unknown;
  for (const p of missing) {
    if (failure !== undefined) break;
    await options.partSlots?.acquire();
    const task: Promise<void> = (async () => {
      const buf = await readAll(await options.readRange(p.start, p.start + p.length - 1), p.length);
      options.onRead?.(buf.length);
      const md5 = createHash('md5').update(buf).digest('base64');
      const etag = await store.uploadPart(key, options.uploadId, p.partNumber, buf, {
        contentLength: buf.length,
        contentMd5: md5,
      });
      done.push({ partNumber: p.partNumber, etag });
    })()
      .catch((err: unknown) => {
        failure ??= err;
      })
      .finally(() => {
        inflight.delete(task);
        options.partSlots?.release();
      });
    inflight.add(task);
    while (inflight.size >= options.parallel) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  if (failure !== undefined) throw failure;
  done.sort((a, b) => a.partNumber - b.partNumber);
  return { put: await store.completeMultipart(key, options.uploadId, done), parts: done, reused };
}

/** A range's body, exactly `length` bytes (a short one is an error: the part would be wrong). */
async function readAll(body: Readable, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let filled = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (filled + chunk.length > length) {
      body.destroy();
      throw new Error(`the source sent more than the ${length} bytes of the range asked for`);
    }
    chunk.copy(buf, filled);
    filled += chunk.length;
  }
  if (filled !== length) throw new Error(`the source sent ${filled} of the ${length} bytes of a range`);
  return buf;
}
