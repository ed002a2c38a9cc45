/**
 * What every store (S3, Swift) does around each request to its endpoint: the endpoint's
 * adaptive concurrency (the pacer), typed errors, telemetry, and retries of calls without a
 * body, waiting at least what a `Retry-After` asked for.
 */
import type { EndpointConfig } from '../config.js';
import { StoreError } from '../errors.js';
import type { Logger } from '../log.js';
import { withRetry, type RetryPolicy } from '../retry.js';
import { telemetry } from '../telemetry.js';
import { toStoreError, type ErrorContext } from './classify.js';
import { requestBucket } from '../limits/requests.js';
import { Pacer, type PaceSignal } from './pacer.js';

/**
 * Uploads are not given a slot by their call: the copy took one for them before their body
 * began to flow (see copy-key.ts), and a multipart upload's own calls run under that slot.
 */
export const UPLOAD_OPS: ReadonlySet<string> = new Set([
  'PutObject',
  'CreateMultipartUpload',
  'UploadPart',
  'CompleteMultipartUpload',
  'AbortMultipartUpload',
]);

/** The pacer of one section's endpoint, its changes logged. */
export function endpointPacer(config: EndpointConfig, log: Logger): Pacer {
  return new Pacer({
    // Room for every object in flight plus the listing and the HEADs that feed them.
    max: config.concurrency + 4,
    ...(config.tpsLimit !== undefined ? { rate: requestBucket(config.tpsLimit, config.tpsBurst) } : {}),
    onChange: (limit, change, retryAfter) =>
      change === 'lowered'
        ? log.warn(`throttled: lowering concurrency for [${config.name}] to ${limit}`, {
            endpoint: config.endpoint,
            bucket: config.bucket,
            limit,
            retryAfterSeconds: retryAfter === undefined ? undefined : retryAfter / 1000,
          })
        : log.info(`throttling over: raising concurrency for [${config.name}] to ${limit}`, {
            endpoint: config.endpoint,
            bucket: config.bucket,
            limit,
          }),
  });
}

/** What an error tells the pacer: throttled (and how long the server asked to wait) or not. */
export function paceSignal(err: unknown): PaceSignal {
  return err instanceof StoreError && err.kind === 'throttled'
    ? { throttled: true, retryAfterMs: retryAfterMs(err) }
    : { throttled: false };
}

/** The server's `Retry-After`, in ms, when the error carries one. */
export function retryAfterMs(err: unknown): number | undefined {
  return err instanceof StoreError && err.retryAfterSeconds !== undefined ? err.retryAfterSeconds * 1000 : undefined;
}

/** How one store call is made: the one shape both stores pass to their request function. */
export interface CallOptions {
  /**
   * Retry a transient error (default true). False for a call whose body is a stream, which
   * cannot be sent again (PutObject): the copy layer retries the whole copy instead.
   */
  readonly retry?: boolean;
  /**
   * Take one of the pacer's slots (default: every op but the uploads, UPLOAD_OPS). False for a
   * call a write makes for itself under the slot its copy already holds.
   */
  readonly slotted?: boolean;
  /**
   * The request may be sent again as it is (default true): its body, if any, is a Buffer. Swift
   * sends a refused token's request again with a new one only then.
   */
  readonly replayable?: boolean;
}

/**
 * One call through the endpoint's pacer, errors typed (ErrorContext names the section, op and
 * key); retried under `policy` when `options.retry` (default) and the error is transient.
 */
export function pacedCall<T>(
  pacer: Pacer,
  policy: RetryPolicy,
  ctx: ErrorContext & { section: string },
  fn: () => Promise<T>,
  options: CallOptions = {},
): Promise<T> {
  const retry = options.retry !== false;
  const slotted = options.slotted ?? !UPLOAD_OPS.has(ctx.op);
  const once = () =>
    pacer.run(
      async () => {
        const started = performance.now();
        let status: number | undefined = 200;
        try {
          return await fn();
        } catch (err) {
          const e = toStoreError(err, ctx);
          status = e.status;
          if (e.kind === 'throttled') telemetry.throttled(ctx.section);
          throw e;
        } finally {
          telemetry.request({
            section: ctx.section,
            operation: ctx.op,
            status,
            seconds: (performance.now() - started) / 1000,
          });
        }
      },
      paceSignal,
      slotted,
    );
  if (!retry) return once();
  return withRetry(once, (e) => e instanceof StoreError && e.retryable, policy, undefined, retryAfterMs);
}

/**
 * The answer, or null for a key that is not there. A 404 means "no such key" only once
 * `confirm` has seen the bucket exist; anything else is thrown (a missing bucket is fatal).
 */
export async function nullIfMissing<T>(
  call: () => Promise<T>,
  confirm: (err: StoreError) => Promise<StoreError>,
): Promise<T | null> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof StoreError && err.notFound)) throw err;
    const confirmed = await confirm(err);
    if (confirmed.notFound) return null;
    throw confirmed;
  }
}
