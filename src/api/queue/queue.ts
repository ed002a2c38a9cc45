/**
 * The durable queue of keys to reconcile: BullMQ on the Redis s3s3 already uses. The only
 * importer of `bullmq`.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Job, JobsOptions, Queue, Worker } from 'bullmq';

/**
 * bullmq is loaded on first use, not when the library is imported: a sweep or a listener
 * without --role never pays its memory (~15 MiB of peak RSS, measured with bench/duplicate.sh).
 */
let bullmq: typeof import('bullmq') | undefined;
function lib(): typeof import('bullmq') {
  bullmq ??= createRequire(import.meta.url)('bullmq') as typeof import('bullmq');
  return bullmq;
}
import type { Config } from '../config.js';
import { RedisError, ReplicasError } from '../errors.js';
import { BurstWarning, silentLogger, type Logger } from '../log.js';
import {
  bullmqConnection,
  bullmqPrefix,
  connectionEpoch,
  connectionError,
  waitForReplicas,
  type RawRedisConnection,
} from '../redis/redis.js';
import { sweepScope } from '../lock/sweep-lock.js';
import { printAs } from '../redact.js';

/** What a job announces: a put or a delete (a hint; the source decides). */
export type JobOp = 'put' | 'delete';

/** What the sender already knows: hints for skipping work, never a verification. */
export interface JobHints {
  readonly size?: number;
  readonly etag?: string;
  /** When the source was written, as its event says (ms since the epoch): where replication latency starts. */
  readonly at?: number;
}

/** A job's payload: the key, the op, the sender's hints. */
export interface SyncJobData {
  readonly key: string;
  readonly op: JobOp;
  readonly hints?: JobHints;
}

/** Attempts per job (BullMQ retries with exponential backoff from 1 s) before the failed set. */
export const JOB_ATTEMPTS = 3;
const BACKOFF_MS = 1000;

/**
 * `[pubsub] queue`, else `s3s3-<source bucket>-<digest of source and destinations>` (no ':',
 * BullMQ's separator).
 */
export function queueName(config: Config): string {
  if (config.pubsub.queue !== undefined) return config.pubsub.queue;
  const s = sweepScope(config);
  const digest = createHash('sha256')
    .update(`${s.source}\n${s.destinations.join('\n')}`)
    .digest('hex')
    .slice(0, 12);
  return `s3s3-${config.source.bucket.replace(/[^A-Za-z0-9._-]/g, '_')}-${digest}`;
}

const COMPARE_AND_DELETE =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/**
 * Make the fields that hold a Redis connection non-enumerable: `console.dir` and
 * `inspect(x, { customInspect: false })` skip `printAs` and walk the fields, and an ioredis
 * connection carries the password in its options.
 */
export function hideFields<T extends object>(obj: T, keys: readonly string[]): void {
  for (const key of keys) Object.defineProperty(obj, key, { enumerable: false });
}

/** The per-key deduplication id: any key, any bytes, in 40 hex characters. */
export function keyId(key: string): string {
  return createHash('sha1').update(key, 'utf8').digest('hex');
}

/** The queue's jobs by state, as /metrics and `s3s3 queue` show them. */
export interface QueueCounts {
  readonly waiting: number;
  readonly active: number;
  readonly delayed: number;
  readonly failed: number;
  /** Age of the oldest waiting job, 0 when none waits. */
  readonly oldestWaitingSeconds: number;
}

/** A job in the failed set, with its last error. */
export interface FailedJob {
  readonly id: string;
  readonly key: string;
  readonly op: JobOp;
  readonly error: string;
  /** When it failed for the last time (ms since the epoch). */
  readonly at: number;
  readonly attempts: number;
}

/** A key's job while it is queued or running. */
export interface QueuedJob {
  /** `waiting` for a worker, `delayed` until its retry, `active` on a worker now. */
  readonly state: 'waiting' | 'delayed' | 'active';
  /** Attempts made so far (failed runs before this one). */
  readonly attempts: number;
  /** When the job was added (ms since the epoch). */
  readonly since: number;
}

/** A job queued or running, as the lag watch reads it. */
export interface PendingJob {
  readonly id: string;
  readonly key: string;
  /** When its source was written (the event's time), else when it was queued (ms since the epoch). */
  readonly since: number;
  /** The object's size when the announcement told it. */
  readonly size?: number;
}

/** How a SyncQueue logs, names its connection and bounds its calls. */
export interface SyncQueueOptions {
  readonly logger?: Logger;
  /** Shown in `CLIENT LIST`. */
  readonly name?: string;
  /**
   * A bound on each `add()` and `counts()`: past it the call fails with a `RedisError` ("no
   * answer within N s"), and until Redis answers a PING again later calls fail at once
   * without sending anything, so a caller that retries (a sender of events, the intake's
   * writer) piles nothing up in the connection. A call that timed out may still complete
   * later (the command is in the connection); jobs are idempotent hints, so that is harmless.
   * Undefined (the default): wait for Redis as long as it takes, as `--enqueue` does.
   */
  readonly answerWithinMs?: number;
}

/** The intake's and the HTTP surface's bound on one queue call: /events answers 503 within 5 s. */
export const QUEUE_ANSWER_MS = 4000;

/** A queue call that Redis did not answer in time (blackholed, hung, partitioned). */
class NoAnswer extends Error {}

function connection(config: Config, name: string, log: Logger): RawRedisConnection {
  const p = config.pubsub;
  return bullmqConnection(p.redisTarget, { mode: 'daemon', logger: log, name });
}

/**
 * On a Cluster, BullMQ's prefix `{s3s3}`: every key of a queue in one slot, as its scripts
 * need; our own keys next to the queue (the dedupe entry `repairHalfAdded` deletes) start
 * with it too. Elsewhere BullMQ's default, so existing queues stay where they are.
 */
function prefix(config: Config): { prefix?: string } {
  const p = bullmqPrefix(config.pubsub.redisTarget);
  return p === undefined ? {} : { prefix: p };
}

function jobOptions(config: Config, key: string): JobsOptions {
  const keep = config.pubsub.failedKeep;
  return {
    deduplication: { id: keyId(key), keepLastIfActive: true },
    attempts: JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: BACKOFF_MS },
    removeOnComplete: true,
    removeOnFail: keep > 0 ? { count: keep } : false,
  };
}

/**
 * The producer side: add jobs, read counts, list / re-queue / clear the failed set.
 *
 * BullMQ owns durability (at-least-once), stalled-job recovery (a SIGKILLed worker's jobs go
 * back to waiting once their lock expires), retries with backoff and the failed set; this
 * module adds only what BullMQ lacks:
 * - the queue's name, derived from the buckets (as the sweep lock's) so two configs on one
 *   Redis never mix their jobs;
 * - per-key deduplication: the deduplication id is a hash of the key (BullMQ ids cannot hold
 *   every key byte, e.g. ':'), with `keepLastIfActive`: at most one job waiting and one
 *   running per key across all workers; a key announced while its job runs runs once more.
 *   Job ids themselves are BullMQ's own: a failed job kept under a key-derived id would make
 *   every later announcement of that key a silent no-op.
 * - tiny payloads `{key, op, hints}`; completed jobs removed at once; failed jobs kept until
 *   retried or cleared (or the oldest past `[pubsub] failed_keep` dropped).
 */
export class SyncQueue {
  readonly name: string;
  private readonly queue: Queue<SyncJobData>;
  private readonly conn: RawRedisConnection;
  private readonly log: Logger;
  private readonly answerWithinMs: number | undefined;
  /** Set while Redis is taken for unreachable: since when, and the call that found it. */
  private noAnswer: { readonly since: number; readonly what: string } | undefined;
  private probing = false;
  /** Probes while Redis is taken for unreachable, so the outage ends without waiting for a call. */
  private prober: NodeJS.Timeout | undefined;

  constructor(
    readonly config: Config,
    options: SyncQueueOptions = {},
  ) {
    this.name = queueName(config);
    this.log = options.logger ?? silentLogger;
    this.answerWithinMs = options.answerWithinMs;
    this.conn = connection(config, options.name ?? 's3s3-queue', this.log);
    this.queue = new (lib().Queue)<SyncJobData>(this.name, { connection: this.conn, ...prefix(config) });
    // Errors are retried by the connection; without a listener an 'error' event would crash.
    this.queue.on('error', () => undefined);
    hideFields(this, ['queue', 'conn']);
  }

  /**
   * Queue a key (deduplicated per key). First clears what an add Redis failed half-way may
   * have left (`repairHalfAdded`: one GET when nothing is queued for the key), wherever and
   * whenever that add ran.
   */
  async add(key: string, op: JobOp = 'put', hints?: JobHints): Promise<void> {
    const { waitReplicas, waitTimeoutMs } = this.config.pubsub;
    await this.bounded(
      'add',
      async () => {
        await this.repairHalfAdded(key);
        const data: SyncJobData = hints ? { key, op, hints } : { key, op };
        const epoch = connectionEpoch(this.conn);
        await this.queue.add(op, data, jobOptions(this.config, key));
        if (waitReplicas > 0) await this.replicated(key, waitReplicas, waitTimeoutMs, epoch);
      },
      waitReplicas > 0 ? waitTimeoutMs : 0,
    );
  }

  /**
   * `redis_wait_replicas`: the add counts only once that many replicas have it. The add went over
   * `conn` (BullMQ uses the connection it is given), so a WAIT on it covers the add. Fewer acks:
   * a RedisError, so the caller sends the key again (an add is idempotent: deduplicated per key).
   */
  private async replicated(key: string, replicas: number, timeoutMs: number, epoch: number): Promise<void> {
    const acked = await waitForReplicas(this.conn, this.queue.keys.meta!, replicas, timeoutMs);
    const url = this.config.pubsub.redisUrlRedacted;
    if (connectionEpoch(this.conn) !== epoch)
      // The WAIT may have gone out on a new connection that wrote nothing: its answer proves nothing.
      throw new ReplicasError({
        url,
        detail:
          `add of ${JSON.stringify(key)}: the connection was lost between the add and its WAIT ` +
          '(redis_wait_replicas): not counted as queued',
      });
    if (acked >= replicas) return;
    throw new ReplicasError({
      url,
      detail:
        `add of ${JSON.stringify(key)}: ${acked} of ${replicas} replica(s) acknowledged it within ` +
        `${timeoutMs / 1000} s (redis_wait_replicas): not counted as queued; ` +
        'check the replicas (INFO replication) or lower redis_wait_replicas',
    });
  }

  /** What the queue's connection last failed with while not ready ('' once ready): for a message. */
  get connectionError(): string {
    return connectionError(this.conn);
  }

  /**
   * Why Redis is taken for unreachable now (a bounded call got no answer in time and no PING
   * has been answered since), or undefined. Only with `answerWithinMs`.
   */
  get unreachable(): string | undefined {
    if (!this.noAnswer) return undefined;
    return (
      `no answer within ${this.answerWithinMs! / 1000} s (${this.noAnswer.what}) ` +
      `for ${Math.round((Date.now() - this.noAnswer.since) / 1000)} s`
    );
  }

  /** Run `op` within `answerWithinMs`, or fail at once while Redis is taken for unreachable. */
  private async bounded<T>(what: string, op: () => Promise<T>, extraMs = 0): Promise<T> {
    if (this.answerWithinMs === undefined) return op();
    // A WAIT for replicas is part of the call: its time is added, so a slow replica is not taken for Redis gone.
    const ms = this.answerWithinMs + extraMs;
    const url = this.config.pubsub.redisUrlRedacted;
    if (this.noAnswer) {
      this.probe(ms);
      throw new RedisError({
        url,
        detail:
          `${what} not sent: ` +
          `redis has given no answer for ${Math.round((Date.now() - this.noAnswer.since) / 1000)} s ` +
          '(check that it runs and that the network lets this host reach it)',
      });
    }
    const p = op();
    // A call that timed out may still fail later: not an unhandled rejection.
    p.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        p,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new NoAnswer()), ms))),
      ]);
    } catch (err) {
      if (!(err instanceof NoAnswer)) throw err;
      if (!this.noAnswer) {
        this.noAnswer = { since: Date.now() - ms, what };
        this.prober = setInterval(() => this.probe(ms), 2000);
        this.prober.unref();
        this.log.error(
          `redis gave no answer to a queue ${what} within ${ms / 1000} s: ` +
            'queue calls fail at once until it answers a ping again ' +
            '(POST /events answers 503, /metrics leaves out the queue series, keys received by pub/sub wait in memory)',
          {
            redis: url,
            queue: this.name,
          },
        );
      }
      this.probe(ms);
      throw new RedisError({
        url,
        detail:
          `${what}: no answer within ${ms / 1000} s ` +
          '(check that redis runs and that the network lets this host reach it)',
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * One PING at a time while Redis is taken for unreachable; its answer ends the outage. A
   * PING unanswered on a connection that believes itself connected means the connection is
   * dead without knowing it (a blackhole keeps TCP quiet for many minutes): it is dropped
   * and reconnected, and ioredis sends its unanswered commands again on the new one.
   */
  private probe(ms: number): void {
    if (this.probing) return;
    this.probing = true;
    let timer: NodeJS.Timeout | undefined;
    const ping = this.conn.ping();
    ping.catch(() => undefined);
    void Promise.race([ping.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))])
      .catch(() => false)
      .then((answered) => {
        clearTimeout(timer);
        this.probing = false;
        if (answered && this.noAnswer) {
          const outage = Math.round((Date.now() - this.noAnswer.since) / 1000);
          this.noAnswer = undefined;
          clearInterval(this.prober);
          this.prober = undefined;
          this.log.info('redis answers again: queue calls go through', {
            redis: this.config.pubsub.redisUrlRedacted,
            queue: this.name,
            outageSeconds: outage,
          });
        } else if (!answered && this.conn.status === 'ready') {
          this.log.warn('redis did not answer a ping: reconnecting the queue connection', {
            redis: this.config.pubsub.redisUrlRedacted,
            queue: this.name,
          });
          this.conn.disconnect(true);
        }
      });
  }

  /**
   * BullMQ's add script is not atomic when Redis fails it half-way (WRONGTYPE, OOM between
   * two writes...): it may leave the key's deduplication entry pointing at a job that is in
   * no list, and every later announcement of the key would be taken for a duplicate of it,
   * for ever. Such an entry is removed (only if it still points at that job); returns true
   * when one was.
   */
  async repairHalfAdded(key: string): Promise<boolean> {
    const dedupe = keyId(key);
    const jobId = await this.queue.getDeduplicationJobId(dedupe);
    if (!jobId || (await this.queue.getJobState(jobId)) !== 'unknown') return false;
    const removed = (await this.conn.eval(COMPARE_AND_DELETE, 1, `${this.queue.keys.de}:${dedupe}`, jobId)) as number;
    await this.conn.del(this.queue.toKey(jobId));
    return removed === 1;
  }

  async counts(): Promise<QueueCounts> {
    return this.bounded('count', () => this.readCounts());
  }

  private async readCounts(): Promise<QueueCounts> {
    const c = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized');
    const oldest = await this.queue.getWaiting(0, 0);
    const ts = oldest[0]?.timestamp;
    // BullMQ lists waiting jobs newest first (LPUSH): the oldest is the last one.
    const last = (c.waiting ?? 0) > 1 ? ((await this.queue.getWaiting(-1, -1))[0]?.timestamp ?? ts) : ts;
    return {
      waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
      active: c.active ?? 0,
      delayed: c.delayed ?? 0,
      failed: c.failed ?? 0,
      oldestWaitingSeconds: last !== undefined ? Math.max(0, Math.round((Date.now() - last) / 1000)) : 0,
    };
  }

  /** Jobs waiting (including delayed), for `--enqueue` backpressure. */
  async waitingCount(): Promise<number> {
    return this.queue.getJobCountByTypes('waiting', 'prioritized', 'delayed');
  }

  /**
   * The key's job while it is queued or running (waiting, delayed for a retry, or active), or
   * undefined: what `s3s3 status` calls pending.
   */
  async queued(key: string): Promise<QueuedJob | undefined> {
    const jobId = await this.queue.getDeduplicationJobId(keyId(key));
    if (!jobId) return undefined;
    const job = await this.queue.getJob(jobId);
    if (!job) return undefined;
    const state = await job.getState();
    const as = { active: 'active', delayed: 'delayed', waiting: 'waiting', prioritized: 'waiting' } as const;
    if (!(state in as)) return undefined;
    return { state: as[state as keyof typeof as], attempts: job.attemptsMade, since: job.timestamp };
  }

  /**
   * Up to `limit` jobs queued or running (waiting, prioritized, delayed, active), oldest first:
   * what the lag watch reads for the bytes pending and the keys past `lag_threshold`.
   */
  async pendingJobs(limit: number): Promise<PendingJob[]> {
    return this.bounded('read of the pending jobs', async () => {
      // Ids first (BullMQ's getJobs would read `limit` jobs of every state at once), then at most
      // `limit` jobs, a hundred at a time.
      const ids = (await this.queue.getRanges(['active', 'waiting', 'prioritized', 'delayed'], 0, limit - 1, true))
        .slice(0, limit)
        .map(String);
      const out: PendingJob[] = [];
      for (let i = 0; i < ids.length; i += 100) {
        const jobs = await Promise.all(ids.slice(i, i + 100).map((id) => this.queue.getJob(id)));
        for (const j of jobs) {
          if (!j) continue;
          out.push({
            id: String(j.id),
            key: j.data.key,
            since: Math.min(Date.now(), j.data.hints?.at ?? j.timestamp),
            ...(j.data.hints?.size !== undefined ? { size: j.data.hints.size } : {}),
          });
        }
      }
      return out;
    });
  }

  /**
   * Claims "this job missed the threshold" once across every process: true for the first caller
   * (a Redis SET NX, kept `ttlSeconds`), false for every later one.
   */
  async claimMissed(job: PendingJob, ttlSeconds: number): Promise<boolean> {
    // Per key and write, not per job: a job re-added (--retry-failed, a re-announcement) for the
    // same write is the same miss.
    const claim = this.queue.toKey(`s3s3-missed:${keyId(job.key)}:${job.since}`);
    const set = await this.bounded('claim', () => this.conn.set(claim, '1', 'EX', ttlSeconds, 'NX'));
    return set === 'OK';
  }

  /** The newest failure of each of `keys` in the failed set (read whole, 500 jobs a call). */
  async failedOf(keys?: ReadonlySet<string>): Promise<Map<string, FailedJob>> {
    const out = new Map<string, FailedJob>();
    for (let start = 0; ; start += 500) {
      const raw = await this.queue.getFailed(start, start + 499);
      for (const j of raw) {
        if (!j) continue; // gone since the page was read (retried, cleared)
        const f = toFailed(j);
        if ((keys === undefined || keys.has(f.key)) && !out.has(f.key)) out.set(f.key, f);
      }
      // A page is short only at the end of the set, not when a job in it vanished meanwhile.
      if (raw.length < 500) return out;
    }
  }

  /** Failed jobs, newest first. */
  async failed(limit = 100, start = 0): Promise<FailedJob[]> {
    const jobs = await this.queue.getFailed(start, start + Math.max(0, limit - 1));
    return jobs.filter((j): j is Job<SyncJobData> => j !== undefined && j !== null).map(toFailed);
  }

  /**
   * Re-queue the failed jobs whose key passes `filter`: each is added again (deduplicated
   * like any announcement) and only then removed from the failed set, so a crash between
   * the two leaves the key in both, never in neither. Returns how many were re-queued.
   */
  async requeueFailed(filter: (key: string) => boolean = () => true): Promise<number> {
    let n = 0;
    let start = 0;
    for (;;) {
      const jobs = (await this.queue.getFailed(start, start + 499)).filter(
        (j): j is Job<SyncJobData> => j !== undefined && j !== null,
      );
      if (jobs.length === 0) break;
      let kept = 0;
      for (const job of jobs) {
        if (!filter(job.data.key)) {
          kept++;
          continue;
        }
        await this.add(job.data.key, job.data.op, job.data.hints);
        await job.remove();
        n++;
      }
      start += kept;
    }
    return n;
  }

  /** Empty the failed set; returns how many jobs were dropped. */
  async clearFailed(): Promise<number> {
    let n = 0;
    for (;;) {
      const removed = await this.queue.clean(0, 1000, 'failed');
      n += removed.length;
      if (removed.length === 0) return n;
    }
  }

  /** Remove the queue and every job in it (tests, and an operator retiring a config). */
  async obliterate(): Promise<void> {
    await this.queue.obliterate({ force: true });
  }

  /** Safe to call twice; bounded: BullMQ's close sends QUIT, which a blackholed Redis never answers. */
  async close(): Promise<void> {
    clearInterval(this.prober);
    this.prober = undefined;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.queue.close().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    this.conn.disconnect(false);
  }

  /** The BullMQ queue itself, for bull-board (src/api/http/board.ts). */
  get bullQueue(): Queue<SyncJobData> {
    return this.queue;
  }
}

// Printing a queue shows its name and the redacted Redis URL, never the config's or the connection's password.
printAs(SyncQueue, 'SyncQueue', (q) => ({ name: q.name, redis: q.config.pubsub.redisUrlRedacted }));

function toFailed(job: Job<SyncJobData>): FailedJob {
  return {
    id: String(job.id),
    key: job.data.key,
    op: job.data.op,
    error: job.failedReason ?? '',
    at: job.finishedOn ?? job.timestamp,
    attempts: job.attemptsMade,
  };
}

/** What a job's run ends in, as the worker decides it. */
export type JobOutcome =
  | { readonly kind: 'done' }
  /** Nothing can be concluded now (a bucket is missing): try again later, not counted as an attempt. */
  | { readonly kind: 'later'; readonly delayMs: number }
  /** Failed: BullMQ retries it with backoff, then keeps it in the failed set. */
  | { readonly kind: 'failed'; readonly error: string };

/** One run of a job, as the worker sees it. */
export interface JobRun {
  readonly key: string;
  readonly op: JobOp;
  readonly hints?: JobHints;
  /** 1 for the first run. */
  readonly attempt: number;
  /** When the job was queued (ms since the epoch): the start of the replication lag. */
  readonly queuedAt: number;
  /** True when this is the last attempt: a failure now goes to the failed set. */
  readonly last: boolean;
}

/** How a QueueWorker runs jobs: concurrency, lock, the run function. */
export interface QueueWorkerOptions {
  readonly concurrency: number;
  /** A running job's lock; a worker that dies lets its jobs run elsewhere once it expires. Default 30 s. */
  readonly lockMs?: number;
  readonly logger?: Logger;
  readonly name?: string;
  /** Each job: the worker's whole say in BullMQ. */
  readonly run: (job: JobRun) => Promise<JobOutcome>;
  /** A job failed for good (in the failed set now). */
  readonly onFailedForGood?: (job: FailedJob) => void;
}

/** The consumer side: BullMQ's Worker behind a small shape, so the worker module never sees bullmq. */
export class QueueWorker {
  readonly name: string;
  private readonly worker: Worker<SyncJobData>;
  private readonly conn: RawRedisConnection;
  private readonly log: Logger;

  constructor(
    readonly config: Config,
    private readonly o: QueueWorkerOptions,
  ) {
    this.name = queueName(config);
    this.log = o.logger ?? silentLogger;
    this.conn = connection(config, o.name ?? 's3s3-worker', this.log);
    const lockMs = o.lockMs ?? 30_000;
    this.worker = new (lib().Worker)<SyncJobData>(this.name, (job, token) => this.process(job, token), {
      connection: this.conn,
      ...prefix(config),
      concurrency: o.concurrency,
      autorun: false,
      lockDuration: lockMs,
      stalledInterval: Math.max(1000, Math.round(lockMs / 2)),
      // A job whose worker died is run again (idempotent); after this many deaths it fails, kept for --retry-failed.
      maxStalledCount: 5,
    });
    hideFields(this, ['worker', 'conn']);
    this.worker.on('error', (err) =>
      this.log.debug('queue worker error (retried)', { queue: this.name, error: err.message }),
    );
    const stalled = new BurstWarning(this.log, 'a job stalled (its worker died or hung): it runs again');
    this.worker.on('stalled', (id) => stalled.note({ queue: this.name, job: id }));
    this.worker.on('failed', (job) => {
      if (!job) return;
      const final =
        job.attemptsMade >= (job.opts.attempts ?? 1) || (job.failedReason ?? '').includes('stalled more than');
      if (final) this.o.onFailedForGood?.(toFailed(job));
      if (final && config.pubsub.failedKeep > 0) void this.checkFailedKeep(config.pubsub.failedKeep);
    });
  }

  private failedKeepWarned = 0;

  /** `failed_keep` reached: BullMQ drops the oldest failed jobs from now on; say so (at most once a minute). */
  private async checkFailedKeep(keep: number): Promise<void> {
    if (Date.now() - this.failedKeepWarned < 60_000) return;
    try {
      const n = await this.conn.zcard(this.worker.keys.failed!);
      if (n < keep) return;
      this.failedKeepWarned = Date.now();
      this.log.warn(
        'the failed set is at [pubsub] failed_keep: the oldest failed jobs are dropped; ' +
          'run s3s3bucket to reconcile their keys',
        { queue: this.name, failedKeep: keep },
      );
    } catch {
      // a count that cannot be read now is read at the next failure
    }
  }

  /** Start taking jobs; resolves once the worker is running. */
  start(): void {
    void this.worker.run().catch((err: unknown) =>
      this.log.error('queue worker stopped', {
        queue: this.name,
        error: err instanceof Error ? err.message : String(err),
      }),
    );
  }

  /**
   * Stop taking jobs and wait for the running ones (up to `timeoutMs`); past it they are
   * abandoned: their lock expires and another worker (or the next start) runs them.
   */
  async close(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      this.worker.close().then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    // BullMQ's forced close still waits for the running jobs; give it a moment, then cut the
    // connection: the jobs keep their lock in Redis until it expires, then run elsewhere.
    if (!finished)
      await Promise.race([
        this.worker.close(true).catch(() => undefined),
        new Promise((r) => setTimeout(r, 500).unref()),
      ]);
    this.conn.disconnect(false);
    return finished;
  }

  private async process(job: Job<SyncJobData>, token: string | undefined): Promise<void> {
    const attempt = job.attemptsMade + 1;
    const outcome = await this.o.run({
      key: job.data.key,
      op: job.data.op,
      hints: job.data.hints,
      attempt,
      last: attempt >= (job.opts.attempts ?? 1),
      queuedAt: job.timestamp,
    });
    if (outcome.kind === 'done') return;
    if (outcome.kind === 'later') {
      // Delayed, not failed: the attempt is not counted and the key keeps its place in the queue.
      await job.moveToDelayed(Date.now() + outcome.delayMs, token);
      throw new (lib().DelayedError)();
    }
    throw new Error(outcome.error);
  }
}

// The same for the consumer side: it holds the config and a connection with the password.
printAs(QueueWorker, 'QueueWorker', (w) => ({ name: w.name, redis: w.config.pubsub.redisUrlRedacted }));

/**
 * What a second BullMQ queue beside the key queue needs (`s3s3bucket --distribute`'s
 * `<queue>-ranges`): BullMQ itself, and the connection and key prefix of a key queue built
 * here, so however SyncQueue connects (one server, Sentinel, Cluster) and whatever prefix it
 * uses, the second queue does the same. `keyQueue.close()` closes the connection.
 */
export function siblingQueue(
  config: Config,
  name: string,
  logger?: Logger,
): {
  readonly bullmq: typeof import('bullmq');
  readonly keyQueue: SyncQueue;
  readonly connection: RawRedisConnection;
  readonly prefix: string | undefined;
} {
  const keyQueue = new SyncQueue(config, { logger, name });
  const opts = keyQueue.bullQueue.opts;
  return { bullmq: lib(), keyQueue, connection: opts.connection as RawRedisConnection, prefix: opts.prefix };
}
