/** The MD5 tap every copied byte flows through: hashes, counts, and fails a short body. */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { PartEtagHasher } from './part-etag.js';
import { streamed } from './reclaim.js';

/** The body ended before the size announced: the write it fed must not complete. */
export class ShortBodyError extends Error {
  override name = 'ShortBodyError';
}

/**
 * A pass-through that hashes (MD5) and counts the bytes flowing through it, and fails the
 * stream when the byte count is not the one announced, so a short body never ends a PUT.
 *
 * node:crypto rather than spark-md5: measured on this machine, 413 MiB/s against 120 MiB/s
 * for 64 MiB in 64 KiB chunks, and this hash sits on the path of every byte copied.
 */
export class Md5Tap extends Transform {
  private readonly hash: Hash = createHash('md5');
  private count = 0;
  private digestHex: string | undefined;
  /** Also hashes the bytes as multipart parts, to check them against a `-N` ETag. */
  partHasher: PartEtagHasher | undefined;
  /**
   * Run once every byte has been read and hashed, before the last chunk is let through: an
   * error fails the stream, so no write (single PUT or the last part of a multipart upload)
   * can complete with bytes that do not match the source.
   */
  beforeEnd: ((md5: string | undefined) => Promise<Error | undefined>) | undefined;
  /** The last chunk, held back until beforeEnd has passed. */
  private held: Buffer | undefined;

  /** Settles when the whole body has been hashed (or the stream failed). */
  readonly digest: Promise<string | undefined>;
  private settle!: { resolve: (md5: string | undefined) => void; reject: (err: Error) => void };

  /**
   * @param hashing false when the MD5 is already known and every destination checks it
   *   (Content-MD5): hashing then costs CPU for nothing; `digest` resolves to undefined.
   */
  constructor(
    private readonly expectedSize: number | undefined,
    private readonly hashing = true,
  ) {
    // 1 MiB: measured on 8 x 64 MiB (Ceph, 16 at once), 64 KiB and 256 KiB were 25-40 % slower,
    // 4 MiB no faster and ~20 MiB more RSS.
    super({ highWaterMark: 1 << 20 });
    this.digest = new Promise<string | undefined>((resolve, reject) => (this.settle = { resolve, reject }));
    // Nobody may be waiting when the stream fails; the failure reaches the writers anyway.
    this.digest.catch(() => {});
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    // Every tap is destroyed when it ends (autoDestroy): build the error only when it is one,
    // an Error's stack trace costs more than the rest of a small object's hashing.
    if (err || !this.writableFinished)
      this.settle.reject(err ?? new ShortBodyError('stream closed before the body ended'));
    done(err);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.count += chunk.length;
    streamed(chunk.length);
    if (this.expectedSize !== undefined && this.count > this.expectedSize) {
      done(new ShortBodyError(`body longer than announced: more than ${this.expectedSize} bytes`));
      return;
    }
    if (this.hashing) this.hash.update(chunk);
    this.partHasher?.update(chunk);
    const previous = this.held;
    this.held = chunk;
    done(null, previous);
  }

  override _flush(done: TransformCallback): void {
    if (this.expectedSize !== undefined && this.count !== this.expectedSize) {
      done(new ShortBodyError(`body ended after ${this.count} of ${this.expectedSize} bytes`));
      return;
    }
    this.digestHex = this.hashing ? this.hash.digest('hex') : undefined;
    const release = (err: Error | undefined) => {
      if (err) {
        done(err);
        return;
      }
      if (this.held) this.push(this.held);
      this.held = undefined;
      this.settle.resolve(this.digestHex);
      done();
    };
    if (!this.beforeEnd) release(undefined);
    else
      this.beforeEnd(this.digestHex).then(release, (err: unknown) =>
        release(err instanceof Error ? err : new Error(String(err))),
      );
  }

  get bytes(): number {
    return this.count;
  }

  /** Hex MD5; only after the stream has ended, and only when hashing. */
  get md5(): string {
    if (this.digestHex === undefined)
      throw new Error(this.hashing ? 'md5 read before the stream ended' : 'md5 read from a tap that does not hash');
    return this.digestHex;
  }
}

/** A hex MD5 as the base64 that Content-MD5 wants. */
export function hexToBase64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}
