/** The queue worker of `s3s3listen`: takes jobs from the queue, reconciles each key, settles the outcome. */
import { BucketClient } from '../bucket-client.js';
import type { Config } from '../config.js';
import { Limiter } from '../copy/limiter.js';
import { StoreError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RedisCommands } from '../redis/redis.js';
import { QueueWorker, type JobOutcome, type JobRun } from '../queue/queue.js';
import type { RetryPolicy } from '../retry.js';
import type { ObjectStore } from '../store/object-store.js';
import type { SyncResult } from '../sync/sync-key.js';
import { knowTrashRoots } from '../sync/trash-roots.js';
import { Settlement, type SettledEvent, type SettledOutcome } from './settle.js';

/** Objects up to this size are copied without HEADing the destinations first. */
export const BLIND_MAX_BYTES = 16 * 1024 * 1024;

/**
 * A small put goes straight to GET + PUT, the copy's own checks proving it: small as the sender
 * told (an event, an enqueued sweep decision), or, with no size told (a publish), as the GET's
 * Content-Length says. Retries, replays, deletes and large objects HEAD first, so a
 * re-announced 50 GiB object is never sent again for nothing.
 */
export function blindPlan(job: Pick<JobRun, 'op' | 'attempt' | 'hints'>): { blind?: true; blindUpTo?: number } {
  if (job.op !== 'put' || job.attempt !== 1) return {};
  const size = job.hints?.size;
  if (size === undefined) return { blindUpTo: BLIND_MAX_BYTES };
  return size <= BLIND_MAX_BYTES ? { blind: true } : {};
}

/** What a `SyncWorker` needs besides the config: its logger, Redis, concurrency and tuning. */
export interface SyncWorkerOptions {
  readonly logger: Logger;
  /** Commands connection for the marker writes. */
  readonly redis: RedisCommands;
  /** Jobs run at once (also the number of multipart part slots). */
  readonly concurrency: number;
  readonly verifyMd5?: boolean;
  readonly retry?: RetryPolicy;
  /** While a bucket is missing, look for it this often; default 30 s. */
  readonly bucketProbeMs?: number;
  /** A running job's lock (a dead worker's jobs run elsewhere once it expires); default 30 s. */
  readonly jobLockMs?: number;
  readonly onSettled?: (event: SettledEvent) => void;
  readonly maxPendingWrites?: number;
}

interface MissingBucket {
  readonly store: ObjectStore;
  readonly since: number;
}

/**
 * A queue worker: takes jobs from the BullMQ queue (at most `concurrency` at once), runs the
 * one-key reconcile (`syncKey`) for each, and settles the outcome. Any number of workers, on
 * any machine reaching the same Redis, share one queue; the queue keeps one key from running
 * on two of them at once.
 *
 * A missing bucket fails nothing: the job is delayed (not counted as an attempt), this worker
 * stops reconciling, probes the bucket, and resumes once it is back; the jobs delayed
 * meanwhile run again on their own.
 */
export class SyncWorker {
  readonly settlement: Settlement;
  private readonly bucket: BucketClient;
  private readonly partSlots: Limiter;
  private readonly queue: QueueWorker;
  private readonly log: Logger;
  private readonly probeMs: number;
  private readonly missing = new Map<string, MissingBucket>();
  private probeTimer: NodeJS.Timeout | undefined;
  private uploadTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  /** The shutdown timeout passed with jobs running: what they end in can no longer be recorded. */
  private abandoned = false;
  private running = 0;

  constructor(
    readonly config: Config,
    private readonly o: SyncWorkerOptions,
  ) {
    this.log = o.logger;
    this.probeMs = o.bucketProbeMs ?? 30_000;
    this.bucket = new BucketClient(config, { logger: o.logger });
    this.partSlots = new Limiter(o.concurrency);
    this.queue = new QueueWorker(config, {
      concurrency: o.concurrency,
      lockMs: o.jobLockMs,
      logger: o.logger,
      name: 's3s3listen-worker',
      run: (job) => this.run(job),
      onFailedForGood: (f) => {
        // A job that died with its workers too often fails without passing through run().
        if (/stalled/.test(f.error)) this.settlement.settle(f.key, 'failed', undefined, 0, f.error);
      },
    });
    this.settlement = new Settlement({
      config,
      logger: o.logger,
      redis: o.redis,
      queue: this.queue.name,
      onSettled: o.onSettled,
      maxPendingWrites: o.maxPendingWrites,
    });
  }

  get queueName(): string {
    return this.queue.name;
  }

  /** Keys being reconciled now. */
  get inFlight(): number {
    return this.running;
  }

  /** The source and destination stores (readiness probes them). */
  get stores(): readonly ObjectStore[] {
    return [this.bucket.source, ...this.bucket.destinations];
  }

  get paused(): boolean {
    return this.missing.size > 0;
  }

  start(): void {
    this.queue.start();
    // `upload_ttl`: our own abandoned uploads are aborted now and every hour.
    const sweepUploads = () => void this.bucket.abortStaleUploads();
    sweepUploads();
    this.uploadTimer = setInterval(sweepUploads, 3600_000);
    this.uploadTimer.unref();
  }

  /**
   * Reads each destination's trash registry once before the first job, so jobs never wait for
   * it (they refresh it in the background once a minute). A failure is one warning: the first
   * job then reads it, and fails (retried) if it still cannot.
   */
  async prime(): Promise<void> {
    await Promise.all(
      this.bucket.destinations.map(async (store) => {
        try {
          await knowTrashRoots(store, 60_000);
        } catch (err) {
          this.log.warn('cannot read the trash registry yet; the first job reads it again', {
            destination: store.name,
            error: err instanceof Error ? err.message : String(err),
          });
        }
      }),
    );
  }

  /** Finish the jobs running (up to `timeoutMs`); abandoned ones run again elsewhere once their lock expires. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    if (this.uploadTimer) clearInterval(this.uploadTimer);
    const finished = await this.queue.close(timeoutMs);
    this.abandoned = !finished;
    if (!finished) {
      this.log.warn(
        'shutdown timeout reached; jobs still running are abandoned: they run again once their lock expires',
        { queue: this.queue.name },
      );
    }
    const lost = await this.settlement.close(2000);
    if (lost.length > 0) {
      this.log.error('redis still rejects writes: the markers of these keys are not set; the copies are in place', {
        keys: lost.length,
        first: lost.slice(0, 20),
      });
    }
    this.bucket.close();
  }

  private async run(job: JobRun): Promise<JobOutcome> {
    // Paused for a missing bucket: nothing can be concluded, the job waits its turn again.
    if (this.missing.size > 0) return { kind: 'later', delayMs: this.probeMs };
    if (this.stopping) return { kind: 'later', delayMs: 0 };
    this.running++;
    const started = performance.now();
    this.log.debug('copy started', { key: job.key, attempt: job.attempt });
    let result: SyncResult | undefined;
    let error: string | undefined;
    try {
      // A job is a hint: the source's state decides (copy, or delete where deletes are on).
      result = await this.bucket.sync(job.key, {
        verifyMd5: this.o.verifyMd5,
        retry: this.o.retry,
        partSlots: this.partSlots,
        ...blindPlan(job),
      });
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    } finally {
      this.running--;
    }
    const ms = Math.round(performance.now() - started);
    const failed = result ? result.results.filter((r) => r.outcome === 'failed') : [];
    if (this.abandoned && (error !== undefined || failed.length > 0)) {
      // Cut short by a shutdown past its timeout: not a failure; the job runs again once its lock expires.
      this.log.debug('copy cut short by the shutdown; it runs again once its lock expires', { key: job.key });
      return { kind: 'failed', error: 'cut short by a shutdown' };
    }
    const missing = failed
      .map((r) => r.error)
      .filter((e): e is StoreError => e instanceof StoreError && e.bucketMissing);
    if (missing.length > 0) {
      this.holdForBucket(missing);
      return { kind: 'later', delayMs: this.probeMs };
    }
    if (result?.outsidePrefix)
      this.log.warn('key outside the [source] prefix; skipped', { key: job.key, prefix: this.config.source.prefix });
    const goneOutcomes = new Set(['gone', 'deleted', 'trashed']);
    const outcome: SettledOutcome =
      !result || failed.length > 0
        ? 'failed'
        : result.outsidePrefix || result.results.some((r) => goneOutcomes.has(r.outcome))
          ? 'gone'
          : 'copied';
    if (outcome !== 'failed') {
      this.settlement.settle(job.key, outcome, result, ms, undefined, job.queuedAt, job.hints?.at);
      return { kind: 'done' };
    }
    const reason = error ?? failed.map((r) => `[${r.destination}] ${r.error?.message ?? 'failed'}`).join('; ');
    if (job.last) this.settlement.settle(job.key, 'failed', result, ms, reason, job.queuedAt, job.hints?.at);
    else this.settlement.retrying(job.key, job.attempt, reason, result, job.queuedAt, job.hints?.at);
    return { kind: 'failed', error: reason };
  }

  private holdForBucket(errors: readonly StoreError[]): void {
    for (const err of errors) {
      const section = err.section ?? `${err.bucket} at ${err.endpoint}`;
      if (this.missing.has(section)) continue;
      const stores: ObjectStore[] = [this.bucket.source, ...this.bucket.destinations];
      const store =
        stores.find((s) => s.name === err.section) ??
        stores.find((s) => s.bucket === err.bucket && s.endpoint === err.endpoint);
      if (!store) continue;
      this.missing.set(section, { store, since: Date.now() });
      this.log.error(
        `[${section}] bucket ${store.bucket} at ${store.endpoint} does not exist: copying paused, keys stay queued; ` +
          `create the bucket or fix bucket_name in [${section}]`,
        {
          probeSeconds: Number((this.probeMs / 1000).toFixed(1)),
          queue: this.queue.name,
          error: err.message,
        },
      );
    }
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    if (this.probeTimer || this.stopping || this.missing.size === 0) return;
    this.probeTimer = setTimeout(() => void this.probe(), this.probeMs);
  }

  private async probe(): Promise<void> {
    for (const [section, m] of this.missing) {
      if (this.stopping) break;
      let back = false;
      try {
        back = await m.store.bucketExists();
      } catch (err) {
        this.log.debug('cannot tell whether the bucket is back; probing again', {
          section,
          error: err instanceof Error ? err.message : String(err),
        });
      }
      if (!back) {
        this.log.debug('bucket still missing; probing again', {
          section,
          bucket: m.store.bucket,
          inSeconds: Number((this.probeMs / 1000).toFixed(1)),
        });
        continue;
      }
      this.missing.delete(section);
      this.log.info(`[${section}] bucket ${m.store.bucket} at ${m.store.endpoint} is back: copying resumes`, {
        pausedSeconds: Math.round((Date.now() - m.since) / 1000),
      });
    }
    this.probeTimer = undefined;
    this.scheduleProbe();
  }
}
