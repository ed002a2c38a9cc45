/** `s3s3bucket --enqueue`: the sweep's copy decisions become jobs for the workers. */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { printAs } from '../redact.js';
import { ReplicasError } from '../errors.js';
import { hideFields, SyncQueue, type FailedJob, type JobHints, type JobOp } from './queue.js';

/** Adds of one key tried while the replicas do not acknowledge (redis_wait_replicas). */
const REPLICA_ATTEMPTS = 10;

/** How an Enqueuer logs, how much it lets wait, and when to give up waiting. */
export interface EnqueuerOptions {
  readonly logger?: Logger;
  /** Default `[pubsub] max_queued`. */
  readonly maxQueued?: number;
  readonly signal?: AbortSignal;
}

/** What `drained()` found once the queue was empty. */
export interface DrainedReport {
  /** Jobs that failed for good since this run started. */
  readonly failed: readonly FailedJob[];
}

/**
 * The sweep's producer for `s3s3bucket --enqueue`: its copy decisions become jobs for the
 * workers, with backpressure: while more than `max_queued` jobs wait, adding waits, so Redis
 * never holds a whole bucket. The count is read again every twentieth of `max_queued` adds
 * (and every half second while over), so the overshoot is at most that slack plus the
 * sweep's concurrency.
 */
export class Enqueuer {
  /** Jobs added by this run. */
  added = 0;
  /** Times adding waited for the workers. */
  waits = 0;
  readonly queue: SyncQueue;
  readonly maxQueued: number;
  readonly startedAt = Date.now();
  private readonly slack: number;
  private sinceCheck = Number.POSITIVE_INFINITY;
  private gate: Promise<void> | undefined;

  constructor(
    readonly config: Config,
    private readonly o: EnqueuerOptions = {},
  ) {
    this.queue = new SyncQueue(config, { logger: o.logger, name: 's3s3bucket-enqueue' });
    hideFields(this, ['queue']);
    this.maxQueued = o.maxQueued ?? config.pubsub.maxQueued;
    this.slack = Math.max(1, Math.floor(this.maxQueued / 20));
  }

  async add(key: string, op: JobOp, hints?: JobHints): Promise<void> {
    if (this.sinceCheck >= this.slack) {
      // One check at a time; the other adds wait for its answer.
      this.gate ??= this.room().finally(() => {
        this.gate = undefined;
        this.sinceCheck = 0;
      });
    }
    if (this.gate) await this.gate;
    this.sinceCheck++;
    // redis_wait_replicas: a replica slow to acknowledge (or reconnecting after a failover) is
    // waited for, about 30 s in all, before the key counts as failed.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.queue.add(key, op, hints);
        break;
      } catch (err) {
        if (!(err instanceof ReplicasError) || attempt >= REPLICA_ATTEMPTS || this.o.signal?.aborted) throw err;
        await sleep(Math.min(500 * attempt, 5000));
      }
    }
    this.added++;
  }

  /** Wait until no job waits, runs or is delayed; then report the jobs that failed since this run started. */
  async drained(pollMs = 1000): Promise<DrainedReport> {
    for (;;) {
      const c = await this.queue.counts();
      if (c.waiting + c.active + c.delayed === 0) break;
      if (this.o.signal?.aborted) break;
      await sleep(pollMs);
    }
    const failed: FailedJob[] = [];
    // Failed jobs are few (they are kept until retried or cleared); read them all, newest first.
    for (let start = 0; ; start += 500) {
      const page = await this.queue.failed(500, start);
      failed.push(...page.filter((f) => f.at >= this.startedAt));
      if (page.length < 500) break;
    }
    return { failed };
  }

  close(): Promise<void> {
    return this.queue.close();
  }

  private async room(): Promise<void> {
    let logged = false;
    for (;;) {
      const waiting = await this.queue.waitingCount();
      if (waiting <= this.maxQueued || this.o.signal?.aborted) return;
      if (!logged) {
        this.waits++;
        this.o.logger?.debug('queue full: waiting for the workers', {
          waiting,
          maxQueued: this.maxQueued,
          queue: this.queue.name,
        });
        logged = true;
      }
      await sleep(500);
    }
  }
}

// Printing an enqueuer shows its queue and progress, never the config's or the connection's password.
printAs(Enqueuer, 'Enqueuer', (e) => ({
  queue: e.queue.name,
  redis: e.config.pubsub.redisUrlRedacted,
  maxQueued: e.maxQueued,
  added: e.added,
}));

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
