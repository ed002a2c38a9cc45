/** `s3s3bucket --retry-failed` for the queue. */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { compileGlob } from '../sweep/filters.js';
import { connectRedis } from '../redis/redis.js';
import { SyncQueue } from './queue.js';
import { takeOverLegacy } from './upgrade.js';

/** The scope of a `--retry-failed`: the sweep's prefix and globs, and a logger. */
export interface RequeueFailedOptions {
  readonly logger?: Logger;
  readonly prefix?: string;
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
}

/** What `requeueFailed` did: how many failed jobs it queued again, kept, and took over. */
export interface RequeueFailedReport {
  readonly queue: string;
  /** Failed jobs queued again. */
  readonly requeued: number;
  /** Failed jobs left in the failed set (out of scope). */
  readonly kept: number;
  /** Keys taken over from the journal and failed list of s3s3 before the queue. */
  readonly legacy: number;
}

/**
 * `s3s3bucket --retry-failed` for the queue: the failed jobs whose key is in scope (the
 * sweep's `--prefix`, `--include`, `--exclude`, on the key relative to the [source] prefix)
 * are queued again; the workers do the rest. The size filters do not apply: a failed job
 * knows no size. Keys still in the journal or failed list of s3s3 before the queue are
 * taken over first (all of them: they were received and must not wait for a listener).
 */
export async function requeueFailed(config: Config, options: RequeueFailedOptions = {}): Promise<RequeueFailedReport> {
  const sourcePrefix = config.source.prefix;
  const include = (options.include ?? []).map(compileGlob);
  const exclude = (options.exclude ?? []).map(compileGlob);
  const inScope = (key: string): boolean => {
    if (!key.startsWith(sourcePrefix)) return false;
    const rel = key.slice(sourcePrefix.length);
    if (options.prefix !== undefined && !rel.startsWith(options.prefix)) return false;
    if (exclude.some((m) => m(rel))) return false;
    return include.length === 0 || include.some((m) => m(rel));
  };
  const queue = new SyncQueue(config, { logger: options.logger, name: 's3s3bucket-retry' });
  const p = config.pubsub;
  const redis = connectRedis(p.redisTarget, { mode: 'client', name: 's3s3bucket-retry', logger: options.logger });
  try {
    const legacy = (await takeOverLegacy(config, redis, queue, options.logger)).total;
    const requeued = await queue.requeueFailed(inScope);
    const kept = (await queue.counts()).failed;
    return { queue: queue.name, requeued, kept, legacy };
  } finally {
    await queue.close();
    await redis.close();
  }
}
