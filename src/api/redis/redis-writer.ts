/** The listener's Redis writes (jobs to queue, and markers), kept off the copy slots. */
import { silentLogger, type Logger } from '../log.js';
import { backoff, REDIS_RETRY } from '../retry.js';

/** One write to Redis: the key it is about, what it records, and the command that does it. */
export interface RedisWrite {
  /** The key the write is about (for ordering and for the log). */
  readonly key: string;
  /** `enqueue`: the key was received (its job is added); `settle`: copied, gone or failed (the marker). */
  readonly what: 'enqueue' | 'settle';
  readonly run: () => Promise<unknown>;
}

/**
 * What became of a submitted write:
 * - `written`: Redis applied it.
 * - `pending`: Redis refused it (or is slow); it is kept and retried in the background.
 * - `refused`: too many writes are waiting already; a new key is not taken.
 */
export type WriteState = 'written' | 'pending' | 'refused';

/** Where a RedisWriter writes, and how long it waits, keeps and reminds. */
export interface RedisWriterOptions {
  /** The redacted Redis URL, for messages. */
  readonly redis: string;
  readonly logger?: Logger;
  /** Writes kept while Redis refuses them; past this, new keys are refused. Default 100000. */
  readonly maxPending?: number;
  /** How long submit() waits for a write before answering 'pending'; default 2 s. */
  readonly graceMs?: number;
  /** Longest pause between retries; default 5 s. */
  readonly maxRetryDelayMs?: number;
  /** A reminder while writes keep failing; default 5 min. */
  readonly reminderMs?: number;
  /** Called once writes work again after an outage. */
  readonly onRecovered?: () => void;
  /** Called whenever the last write waiting or in flight is done. */
  readonly onFlushed?: () => void;
}

interface Entry {
  readonly seq: number;
  readonly write: RedisWrite;
}

/** What a Redis error reply means for the operator: a short reason and what to do. */
export function redisWriteAdvice(message: string): { reason: string; hint: string } {
  if (/\bREADONLY\b/.test(message))
    return { reason: 'READONLY', hint: 'this redis is a read-only replica: point redis_url at the primary' };
  if (/\bOOM\b/.test(message))
    return {
      reason: 'OOM',
      hint:
        'redis is at maxmemory and may not evict (noeviction): ' +
        'raise maxmemory, free memory, or use a volatile-* maxmemory-policy',
    };
  if (/\bMISCONF\b/.test(message))
    return {
      reason: 'MISCONF',
      hint:
        'redis refuses writes since its last RDB save failed: ' +
        'fix the save (disk full? permissions on its dir?), see the redis log',
    };
  if (/\(redis_wait_replicas\)/.test(message))
    return {
      reason: 'replicas',
      hint:
        'too few replicas acknowledged within redis_wait_timeout: ' +
        'check the replicas (INFO replication on the master) or lower redis_wait_replicas',
    };
  if (/\bNOREPLICAS\b/.test(message))
    return {
      reason: 'NOREPLICAS',
      hint: 'too few replicas for min-replicas-to-write: bring the replicas back or lower min-replicas-to-write',
    };
  if (/\bWRONGTYPE\b/.test(message))
    return {
      reason: 'WRONGTYPE',
      hint:
        'a key s3s3 writes (the bull:<queue>:* keys of the queue, or a backup=> marker) holds another type: ' +
        'delete or rename that key, or set another [pubsub] queue',
    };
  if (/\b(NOAUTH|WRONGPASS|NOPERM)\b/.test(message))
    return {
      reason: 'auth',
      hint: 'redis refuses these commands to this user: check the password and ACL of redis_url',
    };
  if (/no answer within|has given no answer/.test(message))
    return {
      reason: 'no answer',
      hint:
        'redis does not answer (hung, or the network drops the packets): ' +
        'check that it runs and that this host reaches its port',
    };
  return { reason: 'error', hint: 'see the redis log' };
}

/**
 * The listener's Redis writes (jobs to queue, and markers), kept off the copy slots.
 *
 * A write is tried at once. When Redis answers it with an error (READONLY replica, OOM at
 * maxmemory with noeviction, MISCONF after a failed save, NOREPLICAS, WRONGTYPE...) the write
 * is kept in memory, in order, and retried with backoff by one background loop; every later
 * write queues behind it so a key's writes are applied in the order they were made. The
 * caller is never blocked past a short grace: it gets 'pending' and goes on copying.
 * One log line when writes start failing (with what to do), one when they work again.
 */
export class RedisWriter {
  private readonly log: Logger;
  private readonly maxPending: number;
  private readonly graceMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly reminderMs: number;
  /** Writes Redis refused, oldest first (by seq), waiting for the retry loop. */
  private queue: Entry[] = [];
  /** Writes sent directly and not answered yet. */
  private readonly direct = new Map<Promise<unknown>, Entry>();
  private seq = 0;
  private looping = false;
  private closed = false;
  private outageSince: number | undefined;
  private lastError = '';
  private refusedLogged = false;
  private reminder: NodeJS.Timeout | undefined;
  private flushWaiters: Array<() => void> = [];
  private wake: (() => void) | undefined;

  constructor(private readonly o: RedisWriterOptions) {
    this.log = o.logger ?? silentLogger;
    this.maxPending = o.maxPending ?? 100_000;
    this.graceMs = o.graceMs ?? 2000;
    this.maxRetryDelayMs = o.maxRetryDelayMs ?? 5000;
    this.reminderMs = o.reminderMs ?? 300_000;
  }

  /** True while Redis refuses writes (some are waiting to be retried). */
  get degraded(): boolean {
    return this.queue.length > 0;
  }

  /** Writes waiting to be retried. */
  get pending(): number {
    return this.queue.length;
  }

  /** True when no write is waiting or in flight. */
  get flushed(): boolean {
    return this.isFlushed();
  }

  /** Apply a write, or keep it for later; never rejects. */
  submit(write: RedisWrite): Promise<WriteState> {
    if (this.closed) return Promise.resolve('refused');
    const entry: Entry = { seq: ++this.seq, write };
    if (this.queue.length > 0) {
      // Behind the writes already waiting, so a key's writes keep their order.
      if (write.what === 'enqueue' && this.queue.length >= this.maxPending) {
        if (!this.refusedLogged) {
          this.refusedLogged = true;
          this.log.error(
            'redis has refused writes for too long: keys announced from now on are not taken ' +
              '(run s3s3bucket once redis takes writes again)',
            {
              redis: this.o.redis,
              pendingWrites: this.queue.length,
            },
          );
        }
        return Promise.resolve('refused');
      }
      this.queue.push(entry);
      this.kick();
      return Promise.resolve('pending');
    }
    return new Promise<WriteState>((resolve) => {
      let timer: NodeJS.Timeout | undefined = setTimeout(() => {
        timer = undefined;
        resolve('pending');
      }, this.graceMs);
      const done = (state: WriteState) => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        resolve(state);
      };
      const p = Promise.resolve().then(write.run);
      this.direct.set(p, entry);
      p.then(
        () => {
          this.supersede(entry);
          done('written');
        },
        (err: unknown) => {
          if (this.closed) {
            done('pending');
            return;
          }
          this.failed(err);
          this.insert(entry);
          this.kick();
          done('pending');
        },
      ).finally(() => {
        this.direct.delete(p);
        this.checkFlushed();
      });
    });
  }

  /** Resolves once no write is waiting or in flight (or the writer is closed). */
  flush(): Promise<void> {
    if (this.isFlushed()) return Promise.resolve();
    return new Promise((r) => this.flushWaiters.push(r));
  }

  /**
   * Stop retrying. Returns the writes that never reached Redis, in the order they were made:
   * those waiting to be retried and those sent but not answered yet (Redis may still apply
   * one of these, but nothing says it did).
   */
  close(): RedisWrite[] {
    this.closed = true;
    if (this.reminder) clearInterval(this.reminder);
    this.reminder = undefined;
    this.wake?.();
    const lost = [...this.queue, ...this.direct.values()].sort((a, b) => a.seq - b.seq).map((e) => e.write);
    this.queue = [];
    const w = this.flushWaiters;
    this.flushWaiters = [];
    for (const f of w) f();
    return lost;
  }

  private isFlushed(): boolean {
    return this.closed || (this.queue.length === 0 && this.direct.size === 0);
  }

  private checkFlushed(): void {
    if (!this.isFlushed()) return;
    const w = this.flushWaiters;
    this.flushWaiters = [];
    for (const f of w) f();
    this.o.onFlushed?.();
  }

  /** Keep the queue in seq order: a direct write can fail after later ones were queued. */
  private insert(entry: Entry): void {
    let i = this.queue.length;
    while (i > 0 && this.queue[i - 1]!.seq > entry.seq) i--;
    this.queue.splice(i, 0, entry);
  }

  /**
   * A settlement went through: an older enqueue of the same key still waiting (its direct
   * write failed while the settlement was already on its way) would queue a settled key again.
   */
  private supersede(entry: Entry): void {
    if (entry.write.what !== 'settle' || this.queue.length === 0) return;
    // The retry loop notices an emptied queue and reports the recovery itself.
    this.queue = this.queue.filter(
      (e) => !(e.write.what === 'enqueue' && e.write.key === entry.write.key && e.seq < entry.seq),
    );
  }

  private failed(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.lastError = message;
    if (this.outageSince !== undefined) return;
    this.outageSince = Date.now();
    const { reason, hint } = redisWriteAdvice(message);
    this.log.error(
      `redis rejects writes (${reason}): ${hint}; ` +
        'nothing is lost: the keys received and the markers wait in memory and are written once redis accepts them',
      {
        redis: this.o.redis,
        error: message,
      },
    );
    this.reminder = setInterval(() => {
      this.log.warn('redis still rejects writes; the keys received and the markers wait in memory', {
        redis: this.o.redis,
        outageSeconds: Math.round((Date.now() - (this.outageSince ?? Date.now())) / 1000),
        pendingWrites: this.queue.length,
        error: this.lastError,
      });
    }, this.reminderMs);
    this.reminder.unref();
  }

  private recovered(applied: number): void {
    if (this.outageSince === undefined) return;
    const outageMs = Date.now() - this.outageSince;
    this.outageSince = undefined;
    this.refusedLogged = false;
    if (this.reminder) clearInterval(this.reminder);
    this.reminder = undefined;
    this.log.info('redis takes writes again; the keys and markers kept meanwhile are written', {
      redis: this.o.redis,
      outageSeconds: Number((outageMs / 1000).toFixed(1)),
      applied,
    });
    this.o.onRecovered?.();
  }

  private kick(): void {
    if (this.looping || this.closed) return;
    this.looping = true;
    void this.loop().finally(() => {
      this.looping = false;
      this.checkFlushed();
    });
  }

  /** Apply the waiting writes in order; retry the oldest with backoff while Redis refuses it. */
  private async loop(): Promise<void> {
    let attempt = 0;
    let applied = 0;
    while (!this.closed && this.queue.length > 0) {
      const entry = this.queue[0]!;
      try {
        await entry.write.run();
        attempt = 0;
        applied++;
        // Removed by identity: supersede() may have filtered the queue meanwhile.
        const i = this.queue.indexOf(entry);
        if (i >= 0) this.queue.splice(i, 1);
        this.supersede(entry);
      } catch (err) {
        if (this.closed) return;
        this.failed(err);
        attempt++;
        await this.sleep(Math.round(backoff(Math.min(attempt, 20), { ...REDIS_RETRY, maxMs: this.maxRetryDelayMs })));
      }
    }
    if (!this.closed) this.recovered(applied);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        r();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        r();
      };
    });
  }
}
