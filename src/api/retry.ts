/**
 * Retry with exponential backoff and full jitter. Only errors the caller classes as
 * retryable are tried again; everything else fails at once.
 */
export interface RetryPolicy {
  /** Attempts in all, including the first. */
  readonly attempts: number;
  readonly baseMs: number;
  readonly maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = Object.freeze({ attempts: 5, baseMs: 200, maxMs: 10_000 });

export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  isRetryable: (err: unknown) => boolean,
  policy: RetryPolicy = DEFAULT_RETRY,
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= policy.attempts || !isRetryable(err)) throw err;
      const delay = Math.random() * Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
      onRetry?.(err, attempt, delay);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
