/**
 * Intake: receives the channel's messages and turns each valid one into a job on the queue.
 * Nothing else: no copying, no settling. A job Redis refuses to take (READONLY, OOM...) is
 * kept in memory by the RedisWriter and added once Redis takes writes again, in order; past
 * its limit new keys are refused with one line (the sweep reconciles them).
 */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { parseMessage } from '../listen/message.js';
import { RedisWriter } from '../redis/redis-writer.js';
import { subscribe, type Subscription } from '../redis/redis.js';
import { QUEUE_ANSWER_MS, SyncQueue } from '../queue/queue.js';

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

/** The subscriber and its queue: messages in, jobs out (see the file's comment). */
export class Intake {
  readonly stats: IntakeStats = { received: 0, rejected: 0 };
  readonly queue: SyncQueue;
  private readonly writer: RedisWriter;
  private subscription: Subscription | undefined;
  private readonly log: Logger;

  constructor(
    readonly config: Config,
    o: IntakeOptions,
  ) {
    this.log = o.logger;
    // Bounded: POST /events answers 503 rather than hang while Redis is unreachable, and the
    // writer keeps the pub/sub keys in memory instead of piling adds up in the connection.
    this.queue = new SyncQueue(config, { logger: o.logger, name: 's3s3listen-intake', answerWithinMs: QUEUE_ANSWER_MS });
    this.writer = new RedisWriter({ redis: config.pubsub.redisUrlRedacted, logger: o.logger, maxPending: o.maxPendingWrites });
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
    this.subscription = subscribe(p.redisUrl, {
      redactedUrl: p.redisUrlRedacted,
      tls: p.redisTls,
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
    const lost = [...new Set(this.writer.close().filter((w) => w.what === 'enqueue').map((w) => w.key))];
    for (const key of lost) this.log.error(`not queued: ${JSON.stringify(key)}`);
    if (lost.length > 0) {
      this.log.error('these keys were received but never queued (redis refused them or did not answer); run s3s3bucket once redis takes writes, or publish them again', {
        keys: lost.length,
        redis: this.config.pubsub.redisUrlRedacted,
      });
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
    void this.writer.submit({ key, what: 'enqueue', run: () => this.queue.add(key, op) });
  }
}

function preview(payload: Buffer): string {
  const head = payload.subarray(0, 60).toString('utf8').replace(/[\u0000-\u001f\u007f]/g, '?');
  return payload.length > 60 ? head + '...' : head;
}
