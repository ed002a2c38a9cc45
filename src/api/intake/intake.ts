/** Intake: the channel's messages in, jobs on the queue out. */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { parseMessage } from '../listen/message.js';
import { RedisWriter, type RedisWrite } from '../redis/redis-writer.js';
import { subscribe, type Subscription } from '../redis/redis.js';
import { QUEUE_ANSWER_MS, SyncQueue } from '../queue/queue.js';

/**
 * Refused keys remembered for stop() (at least; `maxPendingWrites` when larger): distinct keys,
 * about as much memory as the writer's own bound.
 */
const MAX_REFUSED_KEPT = 100_000;

/** What the intake received since it started. */
export interface IntakeStats {
  /** Valid messages received. */
  received: number;
  /** Messages rejected as malformed. */
  rejected: number;
}

/** How an intake logs and how many Redis writes it keeps in memory. */
export interface IntakeOptions {
  readonly logger: Logger;
  readonly maxPendingWrites?: number;
}

/**
 * The subscriber and its queue: receives the channel's messages and turns each valid one into a job on the queue.
 * Nothing else: no copying, no settling. A job Redis refuses to take (READONLY, OOM...) is
 * kept in memory by the RedisWriter and added once Redis takes writes again, in order; past
 * its limit new keys are refused, remembered (as many again at most) and named at shutdown
 * unless a later job of the same key was queued meanwhile: none is dropped silently.
 */
export class Intake {
  readonly stats: IntakeStats = { received: 0, rejected: 0 };
  readonly queue: SyncQueue;
  private readonly writer: RedisWriter;
  private subscription: Subscription | undefined;
  private readonly log: Logger;
  /** Messages received so far: each write's place, so stop() names keys in the order received. */
  private receipts = 0;
  private readonly receiptOf = new WeakMap<RedisWrite, number>();
  /**
   * Keys the writer refused (too many writes already waiting), with when each was received:
   * never queued unless a later job of the key was. At most `maxRefused`, so memory stays
   * bounded like the writer's; past that a refused key is named at once instead (not at stop).
   */
  private readonly refused = new Map<string, number>();
  private readonly maxRefused: number;

  constructor(
    readonly config: Config,
    o: IntakeOptions,
  ) {
    this.log = o.logger;
    this.maxRefused = Math.max(o.maxPendingWrites ?? 0, MAX_REFUSED_KEPT);
    // Bounded: POST /events answers 503 rather than hang while Redis is unreachable, and the
    // writer keeps the pub/sub keys in memory instead of piling adds up in the connection.
    this.queue = new SyncQueue(config, {
      logger: o.logger,
      name: 's3s3listen-intake',
      answerWithinMs: QUEUE_ANSWER_MS,
    });
    this.writer = new RedisWriter({
      redis: config.pubsub.redisUrlRedacted,
      logger: o.logger,
      maxPending: o.maxPendingWrites,
    });
  }

  get subscribed(): boolean {
    return this.subscription?.connected ?? false;
  }

  /** True while Redis refuses to take jobs (they wait in memory). */
  get degraded(): boolean {
    return this.writer.degraded;
  }

  get pendingWrites(): number {
    return this.writer.pending;
  }

  /** Subscribe; resolves once Redis has confirmed the subscription. */
  async start(): Promise<void> {
    const p = this.config.pubsub;
    this.subscription = subscribe(p.redisTarget, {
      mode: 'daemon',
      logger: this.log,
      name: 's3s3listen-sub',
      channel: p.channel,
      onMessage: (payload) => this.onMessage(payload),
    });
    await this.subscription.ready;
  }

  /**
   * Unsubscribe, then wait (up to `timeoutMs`) for the jobs not yet added. Returns the keys
   * received but never queued (Redis refused or did not answer), each once, in the order
   * received; each is logged as its own error line, `not queued: "KEY"` (JSON-quoted, so a
   * key's control characters cannot reach the terminal raw), for the operator to sweep.
   */
  async stop(timeoutMs: number): Promise<string[]> {
    await this.subscription?.close();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.writer.flush(), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    const pending = this.writer
      .close()
      .filter((w) => w.what === 'enqueue')
      .map((w) => ({ key: w.key, at: this.receiptOf.get(w) ?? 0 }));
    const refused = [...this.refused].map(([key, at]) => ({ key, at }));
    const lost = [...new Set([...pending, ...refused].sort((a, b) => a.at - b.at).map((e) => e.key))];
    for (const key of lost) this.log.error(`not queued: ${JSON.stringify(key)}`);
    if (lost.length > 0) {
      this.log.error(
        'these keys were received but never queued (redis refused them or did not answer); ' +
          'run s3s3bucket once redis takes writes, or publish them again',
        {
          keys: lost.length,
          redis: this.config.pubsub.redisUrlRedacted,
        },
      );
    }
    await this.queue.close();
    return lost;
  }

  private onMessage(payload: Buffer): void {
    const parsed = parseMessage(payload);
    if (!parsed.ok) {
      this.stats.rejected++;
      this.log.warn('message skipped', { reason: parsed.reason, bytes: payload.length, preview: preview(payload) });
      return;
    }
    this.stats.received++;
    const { key, op } = parsed;
    const at = ++this.receipts;
    const write: RedisWrite = {
      key,
      what: 'enqueue',
      run: async () => {
        await this.queue.add(key, op);
        // A job of this key is on the queue now: the worker looks at the source after any
        // earlier announcement of it, refused ones included.
        this.refused.delete(key);
      },
    };
    this.receiptOf.set(write, at);
    void this.writer.submit(write).then((state) => {
      if (state === 'refused') this.refuse(key, at);
    });
  }

  /** A key the writer would not take: remembered for stop(), or named now when too many are. */
  private refuse(key: string, at: number): void {
    if (this.refused.has(key)) return;
    if (this.refused.size < this.maxRefused) {
      this.refused.set(key, at);
      return;
    }
    this.log.error(`not queued: ${JSON.stringify(key)}`);
  }
}

function preview(payload: Buffer): string {
  const head = payload
    .subarray(0, 60)
    .toString('utf8')
    .replace(/[\u0000-\u001f\u007f]/g, '?');
  return payload.length > 60 ? head + '...' : head;
}
