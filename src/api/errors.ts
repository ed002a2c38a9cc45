/**
 * Typed errors. Each one says what failed, where, and what to do about it.
 * Leaf module: imports nothing of the project.
 */

/** Base class, so callers can tell s3s3's own failures from bugs. */
export class S3s3Error extends Error {
  override name = 'S3s3Error';
}

/** One problem found in a config file: where it is and what is wrong. */
export interface ConfigProblem {
  /** File the value came from, or `environment` / `defaults`. */
  readonly file: string;
  readonly section?: string;
  readonly key?: string;
  readonly message: string;
}

/** One problem as one line: `file [section] key: message`. */
export function formatProblem(p: ConfigProblem): string {
  const where = [p.file, p.section ? `[${p.section}]` : undefined, p.key].filter(Boolean).join(' ');
  return `${where}: ${p.message}`;
}

/** Every problem of a config at once, so one edit fixes them all. */
export class ConfigError extends S3s3Error {
  override name = 'ConfigError';
  readonly problems: readonly ConfigProblem[];
  /** Warnings found alongside the errors (unknown keys...), so one pass shows everything. */
  readonly warnings: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[], warnings: readonly ConfigProblem[] = []) {
    super(
      problems.length === 1
        ? `config error: ${formatProblem(problems[0]!)}`
        : `${problems.length} config errors:\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`,
    );
    this.problems = problems;
    this.warnings = warnings;
  }
}

/**
 * What to do about a failed store call (rclone's classes, not type names):
 * - `retry`: transient (5xx, throttling, timeout, reset); the same call may work later.
 * - `object`: this object failed (4xx, bad digest, verification); others can go on.
 * - `fatal`: nothing will work (bad credentials, missing bucket); stop everything.
 */
export type ErrorClass = 'retry' | 'object' | 'fatal';

/**
 * What happened, independent of the backend (rclone's fserrors): generic code (copy, sweep,
 * listener) tests these, never S3 operation names or HTTP codes.
 * - `notFound`: the key does not exist, in a bucket known to exist.
 * - `bucketMissing`: the bucket (or container) itself does not exist.
 * - `preconditionFailed`: an If-Match failed: the object changed since it was looked at.
 * - `badDigest`: the server rejected a body whose MD5 did not match Content-MD5.
 * - `throttled`: the server asked us to slow down (503 SlowDown, 429).
 */
export type ErrorKind = 'notFound' | 'bucketMissing' | 'preconditionFailed' | 'badDigest' | 'throttled';

/** What a StoreError is made from: the call, where it went, what came back, and how to treat it. */
export interface StoreErrorInit {
  /** The config section of the endpoint (`source`, `dest1`), so a message says which one. */
  readonly section?: string;
  readonly op: string;
  readonly endpoint: string;
  readonly bucket: string;
  readonly key?: string;
  readonly status?: number;
  readonly code?: string;
  readonly errorClass: ErrorClass;
  readonly kind?: ErrorKind;
  readonly cause?: unknown;
  readonly detail?: string;
  /** Seconds the server asked us to wait (`Retry-After`), when it said. */
  readonly retryAfterSeconds?: number;
}

/** A failed call to an S3 endpoint. Never carries a secret. */
export class StoreError extends S3s3Error {
  override name = 'StoreError';
  readonly section: string | undefined;
  readonly op: string;
  readonly endpoint: string;
  readonly bucket: string;
  readonly key: string | undefined;
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly errorClass: ErrorClass;
  readonly kind: ErrorKind | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(init: StoreErrorInit) {
    const what = init.code ?? (init.status !== undefined ? `HTTP ${init.status}` : 'error');
    const target = init.key === undefined ? init.bucket : `${init.bucket}/${JSON.stringify(init.key)}`;
    const detail = init.detail ? `: ${init.detail}` : '';
    const section = init.section ? `[${init.section}] ` : '';
    super(`${section}${init.op} ${target} at ${init.endpoint} failed: ${what}${detail}`, { cause: init.cause });
    this.section = init.section;
    this.op = init.op;
    this.endpoint = init.endpoint;
    this.bucket = init.bucket;
    this.key = init.key;
    this.status = init.status;
    this.code = init.code;
    this.errorClass = init.errorClass;
    this.kind = init.kind;
    this.retryAfterSeconds = init.retryAfterSeconds;
  }

  get retryable(): boolean {
    return this.errorClass === 'retry';
  }

  /** The same failure with another detail (what it means, what to do), caused by this one. */
  withDetail(detail: string, errorClass: ErrorClass = this.errorClass): StoreError {
    return new StoreError({
      section: this.section,
      op: this.op,
      endpoint: this.endpoint,
      bucket: this.bucket,
      key: this.key,
      status: this.status,
      code: this.code,
      errorClass,
      kind: this.kind,
      retryAfterSeconds: this.retryAfterSeconds,
      cause: this,
      detail,
    });
  }

  /** The key does not exist in a bucket that does (never true for a missing bucket). */
  get notFound(): boolean {
    return this.kind === 'notFound';
  }

  /** The bucket itself does not exist: nothing about its keys can be concluded. */
  get bucketMissing(): boolean {
    return this.kind === 'bucketMissing';
  }
}

/** A copy arrived but does not match its source; the bad copy has been removed. */
export class VerificationError extends S3s3Error {
  override name = 'VerificationError';
  readonly endpoint: string;
  readonly bucket: string;
  readonly key: string;
  constructor(init: { endpoint: string; bucket: string; key: string; detail: string }) {
    super(`verify ${init.bucket}/${JSON.stringify(init.key)} at ${init.endpoint} failed: ${init.detail}`);
    this.endpoint = init.endpoint;
    this.bucket = init.bucket;
    this.key = init.key;
  }
}

/** A listing came back out of S3's UTF-8 byte order; planning from it would mis-copy. */
export class ListingOrderError extends S3s3Error {
  override name = 'ListingOrderError';
  readonly endpoint: string;
  readonly bucket: string;
  readonly key: string;
  constructor(init: { section?: string; endpoint: string; bucket: string; previous: string; key: string }) {
    super(
      `${init.section ? `[${init.section}] ` : ''}listing of ${init.bucket} at ${init.endpoint} is out of order: ` +
        `${JSON.stringify(init.key)} came after ${JSON.stringify(init.previous)}; ` +
        'this server does not list in UTF-8 byte order as S3 does, so s3s3bucket cannot plan from it',
    );
    this.endpoint = init.endpoint;
    this.bucket = init.bucket;
    this.key = init.key;
  }
}

/** A Redis command or connection failed. Carries the URL with its password masked, never the secret. */
export class RedisError extends S3s3Error {
  override name = 'RedisError';
  /** The redacted URL (`redis://:***@host:port/db`). */
  readonly url: string;
  constructor(init: { url: string; detail: string; cause?: unknown }) {
    super(`redis at ${init.url}: ${init.detail}`, { cause: init.cause });
    this.url = init.url;
  }
}

/**
 * A write Redis took but fewer replicas acknowledged in time than `redis_wait_replicas` asks:
 * not counted as done; sending it again is safe (adds are deduplicated per key).
 */
export class ReplicasError extends RedisError {
  override name = 'ReplicasError';
}

/** The sweep lock could not be taken, or was lost while held. */
export class LockError extends S3s3Error {
  override name = 'LockError';
  /** The Redis key or the lock file. */
  readonly lock: string;
  constructor(init: { lock: string; detail: string; cause?: unknown }) {
    super(`lock ${init.lock}: ${init.detail}`, { cause: init.cause });
    this.lock = init.lock;
  }
}
