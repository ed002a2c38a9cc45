/**
 * An SLO's bytes checked against its manifest as they stream. Swift's ETag of an SLO is no MD5
 * of its bytes, so nothing downstream can tell a damaged read from a good one; the manifest
 * names each segment's MD5 and size, so every segment is checked at its end, and a mismatch
 * fails the read (retryable) before the last byte is handed on.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** One entry of `?multipart-manifest=get` (Swift's listing-style format). */
export interface ManifestEntry {
  hash?: string;
  bytes?: number;
  sub_slo?: boolean;
  range?: string;
}

/** What one SLO segment must be: its size and MD5. */
export interface SegmentCheck {
  readonly md5: string;
  readonly size: number;
}

/**
 * The checks for a whole read of an SLO of `length` bytes, or undefined when the manifest
 * cannot vouch for the bytes (nested SLOs, ranged segments, sizes that do not add up).
 */
export function segmentChecks(manifest: unknown, length: number): SegmentCheck[] | undefined {
  if (!Array.isArray(manifest) || manifest.length === 0) return undefined;
  const out: SegmentCheck[] = [];
  let total = 0;
  for (const e of manifest as ManifestEntry[]) {
    if (
      e.sub_slo ||
      e.range !== undefined ||
      typeof e.hash !== 'string' ||
      !/^[0-9a-f]{32}$/i.test(e.hash) ||
      typeof e.bytes !== 'number'
    )
      return undefined;
    out.push({ md5: e.hash.toLowerCase(), size: e.bytes });
    total += e.bytes;
  }
  return total === length ? out : undefined;
}

/** The MD5 of an SLO's manifest as Swift gives it for the object's ETag: MD5 of the segments' MD5s. */
export function sloEtagOf(checks: readonly SegmentCheck[]): string {
  return createHash('md5')
    .update(checks.map((c) => c.md5).join(''))
    .digest('hex');
}

/** Passes bytes on, checking each segment's MD5 at its end; `fail(index, got, want)` makes the error. */
export class SegmentVerifier extends Transform {
  private index = 0;
  private left: number;
  private hash: Hash = createHash('md5');

  constructor(
    private readonly checks: readonly SegmentCheck[],
    private readonly fail: (segment: number, got: string, want: string) => Error,
  ) {
    super();
    this.left = checks[0]?.size ?? 0;
    this.skipEmpty();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.index >= this.checks.length) return done(this.fail(this.index, 'extra bytes', 'none'));
      const n = Math.min(this.left, chunk.length - at);
      this.hash.update(chunk.subarray(at, at + n));
      at += n;
      this.left -= n;
      if (this.left === 0) {
        const err = this.close();
        if (err) return done(err);
      }
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.index < this.checks.length)
      return done(this.fail(this.index, 'a short body', `${this.checks[this.index]!.size} bytes`));
    done();
  }

  /** The segment just completed: checked, and the next one begun. */
  private close(): Error | undefined {
    const got = this.hash.digest('hex');
    const want = this.checks[this.index]!.md5;
    if (got !== want) return this.fail(this.index, got, want);
    this.index++;
    this.hash = createHash('md5');
    this.left = this.checks[this.index]?.size ?? 0;
    return this.skipEmpty();
  }

  /** Zero-byte segments are complete before any byte arrives. */
  private skipEmpty(): Error | undefined {
    while (this.index < this.checks.length && this.left === 0) {
      const err = this.close();
      if (err) return err;
    }
    return undefined;
  }
}
