/** `ListenClient`: the listener daemon in-process, what `s3s3listen` runs. */
import { BucketClient } from '../bucket-client.js';
import type { Config } from '../config.js';
import { DaemonHttp } from '../http/daemon-http.js';
import { Intake } from '../intake/intake.js';
import { LagWatch } from './lag-watch.js';
import { silentLogger, type Logger } from '../log.js';
import { QUEUE_ANSWER_MS, queueName, SyncQueue } from '../queue/queue.js';
import { takeOverLegacy } from '../queue/upgrade.js';
import { printAs } from '../redact.js';
import type { RetryPolicy } from '../retry.js';
import type { SettledEvent, WorkerStats } from '../worker/settle.js';
import { SyncWorker } from '../worker/worker.js';
import { connectRedis, type RedisCommands } from '../redis/redis.js';
import { RangeWorker } from '../distribute/range-worker.js';

/** What a listener process does: receive, copy, or both. */
export type ListenRole = 'all' | 'intake' | 'worker';
/** Every role, for `--role` validation. */
export const LISTEN_ROLES: readonly ListenRole[] = ['all', 'intake', 'worker'];

/** How a listener runs: role, log, concurrency, timeouts, callbacks. */
export interface ListenClientOptions {
  readonly role?: ListenRole;
  readonly logger?: Logger;
  /** Jobs run at once by this worker; default `[pubsub] concurrency`. */
  readonly concurrency?: number;
  readonly shutdownTimeoutMs?: number;
  readonly verifyMd5?: boolean;
  readonly retry?: RetryPolicy;
  readonly statusIntervalMs?: number;
  readonly bucketProbeMs?: number;
  /** A running job's lock; a killed worker's jobs run elsewhere once it expires. Default 30 s. */
  readonly jobLockMs?: number;
  /** Redis writes kept in memory while Redis refuses them; default 100000. */
  readonly maxPendingWrites?: number;
  /** Called once per key run as it is settled (copied, gone, or failed for good). */
  readonly onSettled?: (event: SettledEvent) => void;
}

/** What `stop()` resolves to. */
export interface ListenStopReport {
  /**
   * Keys the intake received but could not queue before it stopped (Redis refused them or
   * did not answer), each once, in the order received; each was logged as `not queued:
   * "KEY"`. Empty when everything received is on the queue. `s3s3listen` exits 1 when not empty.
   */
  readonly unqueued: readonly string[];
}

/** What this process did since it started (intake and worker counters together). */
export interface ListenStats extends WorkerStats {
  /** Valid messages received (intake). */
  received: number;
  /** Messages rejected as malformed (intake). */
  rejected: number;
  /** Keys taken over at start from the journal and failed list of s3s3 before the queue. */
  recovered: number;
}

/**
 * The listener daemon, in-process (what `s3s3listen` runs). It works on the
 * durable queue, in one of three roles:
 * - `intake`: subscribes to the channel and turns each message into a job;
 * - `worker`: takes jobs and reconciles their keys (any number of them, on any machine);
 * - `all` (default): both in one process.
 * At start, keys left by the listener of s3s3 before the queue (its journal `pending_set`
 * and failed list `failed_list`) are queued and removed from those keys, so an upgrade
 * loses nothing.
 */
export class ListenClient {
  readonly role: ListenRole;
  readonly queueName: string;
  private readonly log: Logger;
  private redis: RedisCommands | undefined;
  private intake: Intake | undefined;
  private worker: SyncWorker | undefined;
  /** Range jobs of distributed sweeps (`s3s3bucket --distribute`), beside the key worker. */
  private rangeWorker: RangeWorker | undefined;
  /** `lag_threshold`: the keys past it, the bytes pending, the lag events. */
  private lagWatch: LagWatch | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private stopPromise: Promise<ListenStopReport> | undefined;
  private lostKeys: readonly string[] = [];
  private http: DaemonHttp | undefined;
  /** The queue as the HTTP surface sees it when this process runs no intake. */
  private httpQueue: SyncQueue | undefined;
  /** Stores for the readiness probes when this process runs no worker. */
  private httpBucket: BucketClient | undefined;
  private recovered = 0;
  private started = false;
  private resolveStopped!: () => void;
  /** Resolves once stop() has finished. */
  readonly stopped = new Promise<void>((r) => (this.resolveStopped = r));

  constructor(
    readonly config: Config,
    private readonly options: ListenClientOptions = {},
  ) {
    this.role = options.role ?? 'all';
    this.log = options.logger ?? silentLogger;
    this.queueName = queueName(config);
  }

  get stats(): ListenStats {
    const w = this.worker?.settlement.stats;
    return {
      received: this.intake?.stats.received ?? 0,
      rejected: this.intake?.stats.rejected ?? 0,
      recovered: this.recovered,
      copied: w?.copied ?? 0,
      gone: w?.gone ?? 0,
      deleted: w?.deleted ?? 0,
      failed: w?.failed ?? 0,
      retried: w?.retried ?? 0,
      bytes: w?.bytes ?? 0,
    };
  }

  /** True while Redis refuses writes (jobs not yet added, markers not yet set, wait in memory). */
  get redisDegraded(): boolean {
    return (this.intake?.degraded ?? false) || (this.worker?.settlement.writer.degraded ?? false);
  }

  /** True while this worker is paused for a missing bucket. */
  get paused(): boolean {
    return this.worker?.paused ?? false;
  }

  /** Keys being reconciled by this process now. */
  get inFlight(): number {
    return this.worker?.inFlight ?? 0;
  }

  /**
   * Connect, take over what the listener before the queue left, start the worker, subscribe.
   * Resolves once subscribed.
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('ListenClient.start() called twice');
    this.started = true;
    const p = this.config.pubsub;
    const o = this.options;
    this.redis = connectRedis(p.redisTarget, { mode: 'daemon', logger: this.log, name: `s3s3listen-${this.role}` });
    if (this.role !== 'worker')
      this.intake = new Intake(this.config, { logger: this.log, maxPendingWrites: o.maxPendingWrites });
    if (this.role !== 'intake') {
      this.worker = new SyncWorker(this.config, {
        logger: this.log,
        redis: this.redis,
        concurrency: o.concurrency ?? p.concurrency,
        verifyMd5: o.verifyMd5,
        retry: o.retry,
        bucketProbeMs: o.bucketProbeMs,
        jobLockMs: o.jobLockMs,
        onSettled: o.onSettled,
        maxPendingWrites: o.maxPendingWrites,
      });
    }
    this.lagWatch = new LagWatch(this.config, { logger: this.log, queue: this.intake?.queue });
    // Each step that waits on Redis gives way to a stop: started while Redis does not answer,
    // the listener would otherwise wait there, deaf to the operator's one SIGTERM.
    await this.unlessStopped(this.upgrade());
    if (this.stopAsked) return;
    // Listening before the work starts: a port already taken fails the start, nothing half-run.
    if (this.config.http) await this.startHttp(this.config.http);
    await this.unlessStopped(this.worker?.prime());
    if (this.stopAsked) return;
    this.worker?.start();
    if (this.worker) {
      const rangeOptions = { logger: this.log, concurrency: o.concurrency ?? p.concurrency, lockMs: o.jobLockMs };
      this.rangeWorker = new RangeWorker(this.config, { ...rangeOptions, retry: o.retry, verifyMd5: o.verifyMd5 });
      this.rangeWorker.start();
    }
    await this.unlessStopped(this.intake?.start());
    this.lagWatch.start();
    const every = o.statusIntervalMs ?? 600_000;
    if (every > 0) {
      this.statusTimer = setInterval(() => this.logStatus(), every);
      this.statusTimer.unref();
    }
  }

  /**
   * Stop taking messages, finish the jobs running (up to the timeout), close everything.
   * Safe to call twice (both resolve to the same report).
   */
  stop(
    timeoutMs: number = this.options.shutdownTimeoutMs ?? this.config.pubsub.shutdownTimeoutMs,
  ): Promise<ListenStopReport> {
    this.stopAsked = true;
    this.onStopAsked();
    this.stopPromise ??= this.shutdown(timeoutMs)
      .then(() => ({ unqueued: this.lostKeys }))
      .finally(() => this.resolveStopped());
    return this.stopPromise;
  }

  /** Keys received but not queued, once stopped (see `ListenStopReport.unqueued`); empty before. */
  get unqueued(): readonly string[] {
    return this.lostKeys;
  }

  /** The HTTP surface's address once started (`[http]` configured), else undefined. */
  get httpUrl(): string | undefined {
    return this.http?.url;
  }

  /** Set by stop(): a start still under way returns at its next step. */
  private stopAsked = false;
  private onStopAsked: () => void = () => {};
  private readonly stopAskedPromise = new Promise<void>((r) => (this.onStopAsked = r));

  /** `step`, or as soon as stop() is called; a step left behind fails quietly (stop closes what it waits on). */
  private async unlessStopped(step: Promise<unknown> | undefined): Promise<void> {
    if (step === undefined) return;
    step.catch(() => {});
    await Promise.race([step, this.stopAskedPromise]);
  }

  private async startHttp(http: NonNullable<Config['http']>): Promise<void> {
    const queue =
      this.intake?.queue ??
      (this.httpQueue = new SyncQueue(this.config, {
        logger: this.log,
        name: `s3s3listen-${this.role}-http`,
        answerWithinMs: QUEUE_ANSWER_MS,
      }));
    let stores = this.worker?.stores;
    if (!stores) {
      this.httpBucket = new BucketClient(this.config, { logger: this.log });
      stores = [this.httpBucket.source, ...this.httpBucket.destinations];
    }
    this.http = new DaemonHttp({
      config: this.config,
      http,
      logger: this.log,
      redis: this.redis!,
      queue,
      intake: this.intake !== undefined,
      stores,
      labels: { role: this.role },
      pendingBytes: () => this.lagWatch?.pendingBytes,
    });
    await this.http.start();
    this.log.info('http surface listening', {
      url: this.http.url,
      events: this.intake !== undefined ? `${this.http.url}/events` : undefined,
    });
  }

  private async upgrade(): Promise<void> {
    const queue = this.intake?.queue ?? new SyncQueue(this.config, { logger: this.log, name: 's3s3listen-upgrade' });
    try {
      this.recovered += (await takeOverLegacy(this.config, this.redis!, queue, this.log)).total;
    } catch (err) {
      this.log.error(
        "cannot take over the single-process listener's journal and failed list now; " +
          'they are kept and taken over at the next start',
        {
          error: err instanceof Error ? err.message : String(err),
        },
      );
    } finally {
      if (queue !== this.intake?.queue) await queue.close();
    }
  }

  /**
   * Resolves once nothing is left to do: no job waiting, running or delayed in the queue
   * (whoever runs it), and no Redis write of this process waiting. For tests, benchmarks
   * and applications that publish a batch and want it done.
   */
  async idle(pollMs = 100): Promise<void> {
    const queue = this.intake?.queue ?? new SyncQueue(this.config, { logger: this.log, name: 's3s3listen-idle' });
    try {
      for (;;) {
        const pending = (this.intake?.pendingWrites ?? 0) + (this.worker?.settlement.writer.pending ?? 0);
        if (pending === 0 && this.inFlight === 0) {
          // The intake's queue gives up on a Redis that does not answer: ask again at the next poll.
          const c = await queue.counts().catch(() => undefined);
          if (c && c.waiting + c.active + c.delayed === 0 && this.inFlight === 0) return;
        }
        if (this.stopPromise) return;
        await new Promise((r) => setTimeout(r, pollMs));
      }
    } finally {
      if (queue !== this.intake?.queue) await queue.close();
    }
  }

  private logStatus(): void {
    const mem = process.memoryUsage();
    this.log.info('status', {
      role: this.role,
      queue: this.queueName,
      ...this.intake?.stats,
      ...this.worker?.settlement.stats,
      inFlight: this.worker?.inFlight,
      subscribed: this.intake?.subscribed,
      paused: this.worker?.paused || undefined,
      redis: this.redisDegraded ? 'degraded' : 'ok',
      rssMiB: Math.round(mem.rss / 1048576),
      heapMiB: Math.round(mem.heapUsed / 1048576),
    });
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.log.info('stopping: no new messages; finishing the jobs running', {
      role: this.role,
      inFlight: this.worker?.inFlight,
      timeoutSeconds: Math.round(timeoutMs / 1000),
    });
    this.http?.drain();
    this.lostKeys = (await this.intake?.stop(Math.min(timeoutMs, 5000))) ?? [];
    await Promise.all([this.worker?.stop(timeoutMs), this.rangeWorker?.stop(timeoutMs)]);
    await this.lagWatch?.stop();
    // /healthz and /metrics answer until the work is done.
    await this.http?.stop();
    await this.httpQueue?.close();
    this.httpBucket?.close();
    await this.redis?.close();
    this.log.info('stopped', { role: this.role, ...this.intake?.stats, ...this.worker?.settlement.stats });
  }
}

// Printing a listener shows its role, queue, channel and buckets, never the Redis URL's password or the
// store credentials.
printAs(ListenClient, 'ListenClient', (l) => ({
  role: l.role,
  queue: l.queueName,
  redis: l.config.pubsub.redisUrlRedacted,
  channel: l.config.pubsub.channel,
  source: `${l.config.source.endpoint}/${l.config.source.bucket}`,
  destinations: l.config.destinations.map((d) => `[${d.name}] ${d.endpoint}/${d.bucket}`),
}));
