/** The lock that keeps two sweeps of the same buckets from overlapping. */
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { RedisError } from '../errors.js';
import { connectRedis } from '../redis/redis.js';
import { FileLock } from './file-lock.js';
import { acquire, type AcquireOptions, type HeldLock, type LockBackend, type LockScope } from './lock.js';
import { RedisLock } from './redis-lock.js';

/** Where the lock file lives when Redis is not configured, and the lock's TTL. */
export interface SweepLockOptions {
  /** Lock file to use when Redis is not configured; default: one in the temp dir named after the buckets. */
  readonly lockFile?: string;
  /** Default `[pubsub] lock_ttl`. */
  readonly ttlMs?: number;
}

/** The buckets a sweep of this config touches, as `endpoint/bucket`: what its lock and queue are named after. */
export function sweepScope(config: Config): LockScope {
  const id = (e: { endpoint: string; bucket: string }) => `${e.endpoint}/${e.bucket}`;
  return { source: id(config.source), destinations: config.destinations.map(id).sort() };
}

/** `s3s3:lock:<source> -> <dest>,<dest>`: readable in `redis-cli keys 's3s3:lock:*'`. */
export function sweepLockKey(config: Config): string {
  const s = sweepScope(config);
  return `s3s3:lock:${s.source} -> ${s.destinations.join(',')}`;
}

/** The lock file a sweep uses without Redis: in the temp dir, named after the source bucket and a digest of all. */
export function defaultLockFile(config: Config): string {
  const s = sweepScope(config);
  const digest = createHash('sha256')
    .update(`${s.source}\n${s.destinations.join('\n')}`)
    .digest('hex')
    .slice(0, 16);
  return join(tmpdir(), `s3s3-sweep-${config.source.bucket.replace(/[^A-Za-z0-9._-]/g, '_')}-${digest}.lock`);
}

/**
 * The lock that keeps two sweeps of the same buckets from overlapping (two cron runs, or a
 * sweep and a `--retry-failed`). It is named after the source and destination buckets, so
 * sweeps of other buckets never wait for it. Redis when `[pubsub] redis = true`, else a
 * lock file.
 */
export class SweepLock {
  backend: LockBackend;
  readonly scope: LockScope;
  private readonly fallback: FileLock;
  /** `redis_wait_replicas` set: no fallback to the lock file. */
  private readonly strict: boolean;

  constructor(config: Config, options: SweepLockOptions = {}) {
    this.scope = sweepScope(config);
    const ttl = options.ttlMs ?? config.pubsub.lockTtlMs;
    const p = config.pubsub;
    this.fallback = new FileLock(options.lockFile ?? defaultLockFile(config), ttl);
    this.strict = p.redis && p.waitReplicas > 0;
    this.backend = p.redis
      ? new RedisLock(
          connectRedis(p.redisTarget, { mode: 'client', name: 's3s3bucket-lock' }),
          sweepLockKey(config),
          ttl,
          true,
          { replicas: p.waitReplicas, timeoutMs: p.waitTimeoutMs },
        )
      : this.fallback;
  }

  get name(): string {
    return this.backend.name;
  }

  /**
   * Take the lock. When Redis is configured but cannot be reached, the lock file is used
   * instead (`onFallback` says why): a sweep is what catches what pub/sub dropped while Redis
   * was down, so it should not be kept from running by that very outage. Not with
   * `redis_wait_replicas`: whoever asks for replicated locks asks that two sweeps never overlap,
   * and a lock file on one machine cannot promise that; the error is thrown (exit 1).
   */
  async acquire(options: AcquireOptions & { onFallback?: (error: Error) => void } = {}): Promise<HeldLock | null> {
    try {
      return await acquire(this.backend, this.scope, options);
    } catch (err) {
      if (!(err instanceof RedisError) || this.backend === this.fallback || this.strict) throw err;
      options.onFallback?.(err);
      await this.backend.close();
      this.backend = this.fallback;
      return acquire(this.backend, this.scope, options);
    }
  }

  close(): Promise<void> {
    return this.backend.close();
  }
}
