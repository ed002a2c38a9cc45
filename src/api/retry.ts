/** One backoff for every retry loop of s3s3 (store requests, Redis reconnects and writes, copies). */

/**
 * How a retry loop backs off: exponential with full jitter, stretched to a server's
 * `Retry-After` when it gave one (capped at a minute).
 */
export interface RetryPolicy {
  /** Attempts in all, including the first. */
  readonly attempts: number;
  readonly baseMs: number;
  readonly maxMs: number;
}

/** The policy when a caller gives none: 5 attempts, from 200 ms to at most 10 s apart. */
export const DEFAULT_RETRY: RetryPolicy = Object.freeze({ attempts: 5, baseMs: 200, maxMs: 10_000 });

/** Longest wait a `Retry-After` may ask for; a larger one is taken as this. */
export const MAX_RETRY_AFTER_MS = 60_000;

/**
 * The policy for `max_retries` retries: patient enough to sit out a throttling storm or a
 * gateway restart (rclone retries 10 times with its pacer); ~45 s in all on average at 10.
 */
export function patientPolicy(maxRetries: number): RetryPolicy {
  return Object.freeze({ attempts: maxRetries + 1, baseMs: 250, maxMs: 20_000 });
}

/** Redis reconnects and refused Redis writes: tried for as long as it takes, at most 10 s apart. */
export const REDIS_RETRY: RetryPolicy = Object.freeze({
  attempts: Number.POSITIVE_INFINITY,
  baseMs: 200,
  maxMs: 10_000,
});

/** The wait before attempt `attempt + 1`; at least what the server asked for. */
export function backoff(attempt: number, policy: RetryPolicy, retryAfterMs?: number): number {
  const jittered = Math.random() * Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
  if (retryAfterMs === undefined) return jittered;
  return Math.max(jittered, Math.min(MAX_RETRY_AFTER_MS, retryAfterMs));
}

/**
 * Run `fn` until it succeeds or its attempts run out; only errors `isRetryable` accepts are
 * tried again, everything else fails at once.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  isRetryable: (err: unknown) => boolean,
  policy: RetryPolicy = DEFAULT_RETRY,
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void,
  retryAfterMs?: (err: unknown) => number | undefined,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= policy.attempts || !isRetryable(err)) throw err;
      const delay = backoff(attempt, policy, retryAfterMs?.(err));
      onRetry?.(err, attempt, delay);
      await sleep(delay);
    }
  }
}

/** A promise that resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
