/**
 * `bwlimit`: one byte budget for the whole process, spent by every body read from the source,
 * whatever copies them (sweep, worker, library) and however many at once.
 */
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import { rateAt, type Bandwidth } from '../config/bandwidth.js';
import { TokenBucket } from './token-bucket.js';

/** A tenth of a second of bytes (at least 64 KiB): the burst after a quiet spell. */
const capacity = (rate: number): number => Math.max(64 * 1024, rate / 10);

/** The process's buckets, one per timetable, so every store of the source shares one budget. */
const buckets = new Map<string, TokenBucket>();

/** The process-wide byte bucket of a `bwlimit`. */
export function bandwidthBucket(bandwidth: Bandwidth): TokenBucket {
  let bucket = buckets.get(bandwidth.text);
  if (!bucket) {
    // Local time, read at each take: a period that begins takes effect within a slice (200 ms).
    bucket = new TokenBucket(() => rateAt(bandwidth, new Date()), capacity);
    buckets.set(bandwidth.text, bucket);
  }
  return bucket;
}

/**
 * `body` with each chunk let through once the bucket allows its bytes. Joined by `pipeline`:
 * destroying the result destroys `body` (its socket is closed), and an error of `body`, or
 * its closing before its end, fails the result.
 */
export function limitedBody(body: Readable, bucket: TokenBucket): Readable {
  const out = new Transform({
    // As much as the source socket's buffer holds: the limit, not the hop, sets the pace.
    highWaterMark: 64 * 1024,
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      const wait = bucket.take(chunk.length);
      if (wait === undefined) done(null, chunk);
      else wait.then(() => done(null, chunk), done);
    },
  });
  pipeline(body, out, () => {});
  return out;
}
