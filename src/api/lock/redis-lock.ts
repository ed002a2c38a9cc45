/** The sweep lock as a Redis key. */
import { LockError } from '../errors.js';
import type { RedisCommands } from '../redis/redis.js';
import { parseHolder, type HeldLock, type LockBackend, type LockHolder } from './lock.js';

const RENEW =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then " + "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * A lock in Redis: `SET key value NX PX ttl`, renewed every third of the TTL while held,
 * and released by a compare-and-delete in Lua, so a run never removes a lock that expired
 * and was taken by someone else. The value is the holder as JSON (unique by its token).
 */
export class RedisLock implements LockBackend {
  constructor(
    private readonly redis: RedisCommands,
    readonly name: string,
    private readonly ttlMs: number,
    private readonly ownsConnection = true,
  ) {}

  async tryAcquire(holder: LockHolder): Promise<{ held: HeldLock } | { held: null; by: LockHolder | null }> {
    const value = JSON.stringify(holder);
    const ok = await this.redis.call('SET', this.name, value, 'NX', 'PX', this.ttlMs);
    if (ok !== 'OK') {
      const current = (await this.redis.call('GET', this.name)) as string | null;
      return { held: null, by: current === null ? null : parseHolder(current) };
    }
    return { held: new HeldRedisLock(this.redis, this.name, value, holder, this.ttlMs) };
  }

  async close(): Promise<void> {
    if (this.ownsConnection) await this.redis.close();
  }
}

class HeldRedisLock implements HeldLock {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private lastRenewed = Date.now();
  private released = false;

  constructor(
    private readonly redis: RedisCommands,
    readonly name: string,
    private readonly value: string,
    readonly holder: LockHolder,
    private readonly ttlMs: number,
  ) {
    this.timer = setInterval(() => void this.renew(), Math.max(500, Math.floor(ttlMs / 3)));
    this.timer.unref();
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
      const n = Number(await this.redis.call('EVAL', RENEW, 1, this.name, this.value, this.ttlMs));
      if (n === 1) {
        this.lastRenewed = Date.now();
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
    if (!this.released) this.controller.abort(new LockError({ lock: this.name, detail }));
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    if (this.controller.signal.aborted) return;
    await this.redis.call('EVAL', RELEASE, 1, this.name, this.value);
  }
}
