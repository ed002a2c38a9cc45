/**
 * Drain the listener's failed list: copy each key again to every destination. An entry
 * moves to a processing list while its copy runs and leaves it only once settled (copied,
 * gone, or pushed back with the new reason), so a crash mid-drain loses nothing; the next
 * drain first returns what a crashed one left behind. Entries pushed back during this run
 * wait for the next one. The caller must hold the sweep lock.
 *
 * A missing bucket (source or destination) says nothing about the keys: the entry goes back
 * unchanged, no more are taken, and the run says which bucket to create.
 */
import type { BucketClient } from '../bucket-client.js';
import type { SyncResult } from '../sync/sync-key.js';
import type { TargetResult } from '../copy/copy-key.js';
import { Limiter } from '../copy/limiter.js';
import { StoreError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { FailedList, markerKey, type FailedEntry } from './journal.js';
import { connectRedis } from '../redis/redis.js';

export interface RetryFailedOptions {
  readonly logger?: Logger;
  /** Keys at once; default `[pubsub] concurrency`. */
  readonly concurrency?: number;
  readonly verifyMd5?: boolean;
  /** Stop taking entries (those taken are finished). */
  readonly signal?: AbortSignal;
  /** Each settled result, per key and destination (for `--report`). */
  readonly onResult?: (r: TargetResult) => void;
}

export interface RetryFailedReport {
  /** Entries taken from the list. */
  retried: number;
  copied: number;
  gone: number;
  /** Failed again, or not retried for a missing bucket: back in the list. */
  failed: number;
  /** Entries given back unchanged because a bucket is missing (counted in `failed` too). */
  bucketMissing: number;
  /** Entries a crashed drain had left half-done, returned to the list first. */
  recovered: number;
  bytes: number;
}

export async function retryFailed(client: BucketClient, options: RetryFailedOptions = {}): Promise<RetryFailedReport> {
  const log = options.logger ?? silentLogger;
  const p = client.config.pubsub;
  const redis = connectRedis(p.redisUrl, { redactedUrl: p.redisUrlRedacted, mode: 'client', logger: log, name: 's3s3bucket-retry', tls: p.redisTls });
  const list = new FailedList(redis, p.failedList);
  const report: RetryFailedReport = { retried: 0, copied: 0, gone: 0, failed: 0, bucketMissing: 0, recovered: 0, bytes: 0 };
  const missing: MissingState = { sections: new Set() };
  try {
    report.recovered = await list.recover();
    if (report.recovered > 0) log.warn('returned entries an interrupted retry left half-done', { entries: report.recovered, list: list.processing });
    const total = await list.length();
    log.info('retrying the failed list', { entries: total, list: p.failedList });
    const limiter = new Limiter(options.concurrency ?? p.concurrency);
    const running = new Set<Promise<void>>();
    let firstError: unknown;
    for (let i = 0; i < total && !options.signal?.aborted && firstError === undefined && missing.sections.size === 0; i++) {
      await limiter.acquire();
      if (missing.sections.size > 0) {
        limiter.release();
        break;
      }
      const taken = await list.take().catch((err: unknown) => {
        firstError ??= err;
        return null;
      });
      if (taken === null) {
        limiter.release();
        break;
      }
      report.retried++;
      const job = retryOne(client, list, taken.raw, taken.entry, options, log, report, p.marker, missing)
        .catch((err: unknown) => {
          firstError ??= err;
        })
        .finally(() => {
          limiter.release();
          running.delete(job);
        });
      running.add(job);
    }
    await Promise.all(running);
    if (firstError !== undefined) throw firstError;
    if (missing.sections.size > 0) {
      // The entries not retried were left in the processing list, in the order taken: back to the head as they were.
      await list.recover();
      log.error('the failed list is kept as it is: run s3s3bucket --retry-failed again once the bucket exists', {
        entries: await list.length().catch(() => undefined),
        list: p.failedList,
      });
    }
    return report;
  } finally {
    await redis.close();
  }
}

interface MissingState {
  /** Config sections found with a missing bucket (each logged once). */
  readonly sections: Set<string>;
}

async function retryOne(
  client: BucketClient,
  list: FailedList,
  raw: string,
  entry: FailedEntry,
  options: RetryFailedOptions,
  log: Logger,
  report: RetryFailedReport,
  marker: boolean,
  missing: MissingState,
): Promise<void> {
  const started = performance.now();
  let result: SyncResult | undefined;
  let error: string | undefined;
  try {
    // The same one-key reconcile as the listener: copy, or delete where the source has none.
    result = await client.sync(entry.key, { verifyMd5: options.verifyMd5 });
    for (const r of result.results) options.onResult?.(r);
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  const failed = result?.results.filter((r) => r.outcome === 'failed') ?? [];
  const ms = Math.round(performance.now() - started);
  const bucketErrors = failed.map((r) => r.error).filter((e): e is StoreError => e instanceof StoreError && e.bucketMissing);
  if (bucketErrors.length > 0) {
    // Neither gone nor failed again: nothing can be said of the key while its bucket is missing.
    // The entry stays in the processing list; the drain returns it to the list unchanged at its end.
    report.failed++;
    report.bucketMissing++;
    for (const err of bucketErrors) {
      const section = err.section ?? `${err.bucket} at ${err.endpoint}`;
      if (missing.sections.has(section)) continue;
      missing.sections.add(section);
      log.error(`[${section}] bucket ${err.bucket} at ${err.endpoint} does not exist: failed entries are kept, none is dropped; create the bucket or fix bucket_name in [${section}]`, {
        key: entry.key,
        error: err.message,
      });
    }
    return;
  }
  if (result && failed.length === 0) {
    const gone = result.outsidePrefix === true || result.results.some((r) => r.outcome === 'gone' || r.outcome === 'deleted' || r.outcome === 'trashed');
    await list.settle(raw, marker ? markerKey(entry.key) : undefined, gone ? 'delete' : 'set');
    const bytes = result.results.reduce((n, r) => n + r.bytes, 0);
    report.bytes += bytes;
    if (gone) {
      report.gone++;
      log.info('not in the source bucket any more; dropped from the failed list', { key: entry.key });
    } else {
      report.copied++;
      log.info('copied', { key: entry.key, destinations: result.results.map((r) => r.destination), bytes, ms });
    }
    return;
  }
  const reason = error ?? failed.map((r) => `[${r.destination}] ${r.error?.message ?? 'failed'}`).join('; ');
  await list.putBack(raw, {
    key: entry.key,
    reason,
    at: new Date().toISOString(),
    destinations: failed.map((r) => r.destination),
    attempts: (entry.attempts ?? 1) + 1,
  });
  report.failed++;
  log.error('still failing; back in the failed list', { key: entry.key, destinations: failed.map((r) => r.destination), error: reason });
}
