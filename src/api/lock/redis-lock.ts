/** The sweep lock as a Redis key. */
import { LockError } from '../errors.js';
import type { RedisCommands } from '../redis/redis.js';
import { parseHolder, type HeldLock, type LockBackend, type LockHolder } from './lock.js';

const RENEW =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then " + "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/** `redis_wait_replicas`/`redis_wait_timeout`: replicas each lock write must reach before it counts. */
export interface ReplicaWait {
  readonly replicas: number;
  readonly timeoutMs: number;
}

const NO_WAIT: ReplicaWait = { replicas: 0, timeoutMs: 0 };

/**
 * Undefined when the lock's write (made while the connection was at `epoch`) reached
 * `wait.replicas` replicas in time, else what fell short.
 */
async function replicasMissing(
  redis: RedisCommands,
  key: string,
  wait: ReplicaWait,
  epoch: number,
): Promise<string | undefined> {
  if (wait.replicas <= 0) return undefined;
  const acked = await redis.waitForReplicas(key, wait.replicas, wait.timeoutMs);
  // A WAIT on a new connection (a failover since the write) counts nothing of that write.
  if (redis.epoch !== epoch) return 'the connection was lost between the lock write and its WAIT';
  if (acked >= wait.replicas) return undefined;
  return `${acked} of ${wait.replicas} replica(s) acknowledged the lock within ${wait.timeoutMs / 1000} s`;
}

/**
 * A lock in Redis: `SET key value NX PX ttl`, renewed every third of the TTL while held,
 * and released by a compare-and-delete in Lua, so a run never removes a lock that expired
 * and was taken by someone else. The value is the holder as JSON (unique by its token).
 * With `wait.replicas`, taking and renewing count only once that many replicas have the write:
 * a renewal short of them is not a renewal (past the TTL the lock is given up).
 */
export class RedisLock implements LockBackend {
  constructor(
    private readonly redis: RedisCommands,
    readonly name: string,
    private readonly ttlMs: number,
    private readonly ownsConnection = true,
    private readonly wait: ReplicaWait = NO_WAIT,
  ) {}

  async tryAcquire(holder: LockHolder): Promise<{ held: HeldLock } | { held: null; by: LockHolder | null }> {
    const value = JSON.stringify(holder);
    const epoch = this.redis.epoch;
    // The key lives ttl from when Redis ran the SET, which is after this.
    const sentAt = Date.now();
    const ok = await this.redis.call('SET', this.name, value, 'NX', 'PX', this.ttlMs);
    if (ok !== 'OK') {
      const current = (await this.redis.call('GET', this.name)) as string | null;
      return { held: null, by: current === null ? null : parseHolder(current) };
    }
    let missing: string | undefined;
    try {
      missing = await replicasMissing(this.redis, this.name, this.wait, epoch);
    } catch (err) {
      missing = `the WAIT for replicas failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (missing) {
      // Not a RedisError: the sweep must not fall back to a lock file and run unguarded.
      await this.redis.call('EVAL', RELEASE, 1, this.name, value).catch(() => undefined);
      throw new LockError({
        lock: this.name,
        detail:
          `${missing} (redis_wait_replicas): a failover could lose the lock and let a second sweep start, ` +
          'so this one does not; check the replicas (INFO replication) or lower redis_wait_replicas',
      });
    }
    return { held: new HeldRedisLock(this.redis, this.name, value, holder, this.ttlMs, this.wait, sentAt) };
  }

  async close(): Promise<void> {
    if (this.ownsConnection) await this.redis.close();
  }
}

/**
 * The lock is given up this long before the key can have expired in Redis (timers fire late, and
 * the other holder must not overlap): a tenth of the TTL, at most 2 s.
 */
function expiryMargin(ttlMs: number): number {
  return Math.min(2000, Math.floor(ttlMs / 10));
}

class HeldRedisLock implements HeldLock {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  /** When the last write that set the TTL (the SET or a renewal) was sent: the key lives at least ttl past it. */
  private lastRenewed: number;
  /** Fires when the key may expire without a renewal since: the lock is lost then, not at the next tick. */
  private expiry: NodeJS.Timeout | undefined;
  private released = false;

  constructor(
    private readonly redis: RedisCommands,
    readonly name: string,
    private readonly value: string,
    readonly holder: LockHolder,
    private readonly ttlMs: number,
    private readonly wait: ReplicaWait,
    sentAt: number,
  ) {
    this.lastRenewed = sentAt;
    this.armExpiry();
    this.timer = setInterval(() => void this.renew(), Math.max(500, Math.floor(ttlMs / 3)));
    this.timer.unref();
  }

  private armExpiry(): void {
    clearTimeout(this.expiry);
    const at = this.lastRenewed + this.ttlMs - expiryMargin(this.ttlMs);
    this.expiry = setTimeout(
      () => this.lose('not renewed within its TTL (redis did not answer in time)'),
      Math.max(0, at - Date.now()),
    );
    this.expiry.unref();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  private async renew(): Promise<void> {
    if (this.released || this.controller.signal.aborted) return;
    // A renewal still unanswered (a Cluster failing over queues commands) must not keep the lock
    // looking held past its TTL: checked on every tick, not only when a call fails.
    if (Date.now() - this.lastRenewed >= this.ttlMs) {
      this.lose('not renewed for longer than its TTL (redis did not answer)');
      return;
    }
    try {
      const epoch = this.redis.epoch;
      const sentAt = Date.now();
      const n = Number(await this.redis.call('EVAL', RENEW, 1, this.name, this.value, this.ttlMs));
      if (this.released || this.controller.signal.aborted) return;
      if (n === 1) {
        const missing = await replicasMissing(this.redis, this.name, this.wait, epoch);
        if (missing === undefined) {
          this.lastRenewed = sentAt;
          this.armExpiry();
        } else if (Date.now() - this.lastRenewed >= this.ttlMs) this.lose(`renewals not replicated: ${missing}`);
        return;
      }
      this.lose('the lock expired and is no longer ours (was Redis unreachable longer than lock_ttl?)');
    } catch (err) {
      if (Date.now() - this.lastRenewed >= this.ttlMs) {
        this.lose(`cannot renew it for longer than its TTL: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  private lose(detail: string): void {
    clearInterval(this.timer);
    clearTimeout(this.expiry);
    if (!this.released) this.controller.abort(new LockError({ lock: this.name, detail }));
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    clearTimeout(this.expiry);
    if (this.controller.signal.aborted) return;
    await this.redis.call('EVAL', RELEASE, 1, this.name, this.value);
  }
}
