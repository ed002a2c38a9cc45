/**
 * What both stores need to know about their bucket before a 404 may mean "no such key".
 *
 * A 404 on a key is the store's own "not found" only when the bucket is seen to exist right
 * then: a missing bucket answers every key with 404 too, and taking that for a deleted key
 * would have every `delete = true` destination delete its replicas. A 404 that is not the
 * store's own answer (an HTML page from a proxy or load balancer in front of it) is never
 * "gone" either. These rules were paid for (test/integration/gone-404.test.ts,
 * hostile-recheck.test.ts); both stores take them from here.
 */
import { StoreError } from '../errors.js';
import type { Quirks } from './quirks.js';
import { errorContext, type StoreIdentity } from './store-common.js';

/** How long a bucket seen to exist (a HeadBucket or listing answered) vouches for a bare 404 on a key. */
export const BUCKET_SEEN_TTL_MS = 30_000;

/** What a BucketCheck needs from its store. */
export interface BucketCheckOptions {
  /** The store's section, endpoint and bucket, for the errors made here. */
  readonly store: StoreIdentity;
  /** The protocol's facts: what it calls a bucket, and the code of its own "no such key". */
  readonly quirks: Pick<Quirks, 'bucketNoun' | 'bucketMissingHint' | 'noSuchKeyCode'>;
  /** HeadBucket through the store's own call (paced, retried, typed): resolves when the bucket answers. */
  readonly headBucket: () => Promise<unknown>;
}

/**
 * One store's view of its bucket: when it was last seen to exist, and what a 404 on a key
 * means in that light (`notFound`, `bucketMissing`, or an error to retry).
 */
export class BucketCheck {
  /** When the bucket was last seen to exist (ms since the epoch). */
  private seenAt = -Infinity;

  constructor(private readonly options: BucketCheckOptions) {}

  /** The bucket answered just now (a listing, say): a bare 404 on a key is "not found" for a while. */
  seen(): void {
    this.seenAt = Date.now();
  }

  /** HeadBucket: true when the bucket exists, false when it does not; throws on other errors. */
  async exists(): Promise<boolean> {
    try {
      await this.options.headBucket();
      this.seen();
      return true;
    } catch (err) {
      // Swift's errors carry no code: for it, each of these is a 404.
      if (err instanceof StoreError && (err.status === 404 || err.kind === 'bucketMissing' || err.kind === 'notFound'))
        return false;
      throw err;
    }
  }

  /**
   * A 404 on a key: `notFound` (returned as it is) if the bucket is known to exist (seen in the
   * last 30 s, asked now otherwise), `bucketMissing` (fatal) if it does not.
   */
  async confirmNotFound(err: StoreError): Promise<StoreError> {
    if (err.kind === 'bucketMissing') return err;
    if (Date.now() - this.seenAt < BUCKET_SEEN_TTL_MS) return err;
    if (await this.exists()) return err;
    return this.missing(err.op, err.key, err);
  }

  /**
   * What a GET's error means. A GET's error has a body: a 404 is the store's "no such key"
   * only with the store's own code for it (when it has one) and the bucket seen to exist; a
   * bare 404 (an HTML page from a proxy or load balancer in front of the store) is an error to
   * retry, never a deleted key. Anything but a 404 is returned as it is.
   */
  async getNotFound(err: unknown): Promise<unknown> {
    if (!(err instanceof StoreError && err.notFound)) return err;
    const own = this.options.quirks.noSuchKeyCode;
    if (own !== undefined && err.code !== own) {
      return new StoreError({
        ...errorContext(this.options.store, 'GetObject', err.key),
        status: err.status,
        code: err.code === 'NotFound' ? undefined : err.code,
        errorClass: 'retry',
        cause: err,
        detail:
          "a 404 without S3's NoSuchKey code: something in front of the store answered (a proxy or load balancer?)" +
          '; not taken as a deleted key',
      });
    }
    return this.confirmNotFound(err);
  }

  /** The fatal error of a bucket that does not exist. */
  missing(op: string, key: string | undefined, cause: unknown): StoreError {
    const { bucketNoun, bucketMissingHint } = this.options.quirks;
    return new StoreError({
      ...errorContext(this.options.store, op, key),
      status: 404,
      code: 'NoSuchBucket',
      errorClass: 'fatal',
      kind: 'bucketMissing',
      cause,
      detail: `the ${bucketNoun} does not exist (${bucketMissingHint})`,
    });
  }
}
