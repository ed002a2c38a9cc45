/**
 * The worker side of distributed sweeps: takes range jobs from `<queue>-ranges` and sweeps each
 * range (sweepRange) with this worker's own stores and concurrency. `s3s3listen` runs one beside
 * its key worker (roles `worker` and `all`).
 */
import { hostname } from 'node:os';
import { BucketClient } from '../bucket-client.js';
import type { Config } from '../config.js';
import type { TargetResult } from '../copy/copy-key.js';
import { BurstWarning, silentLogger, type Logger } from '../log.js';
import type { RetryPolicy } from '../retry.js';
import { sweepRange, type RangeReport } from '../sweep/duplicate.js';
import type { KeyRange } from '../sweep/key-range.js';
import { RangesQueue } from './ranges-queue.js';
import {
  pairMismatch,
  type RangeJobData,
  type RangeRecord,
  type RunOptions,
  type RunPair,
  type RunState,
} from './run-store.js';

/** How a RangeWorker runs: concurrency, range jobs at once, lock, retries. */
export interface RangeWorkerOptions {
  readonly logger?: Logger;
  /** Copies in flight per range (a run's `--concurrency` overrides it). */
  readonly concurrency: number;
  /** Range jobs at once in this process; default 2 (one lists while the other waits on the network). */
  readonly jobs?: number;
  /** A running range's lock: a killed worker's range runs again once it expires. Default 30 s. */
  readonly lockMs?: number;
  readonly retry?: RetryPolicy;
  readonly verifyMd5?: boolean;
}

/** A result as a `--report` row travels to the coordinator (the fields resultRow reads). */
export interface RowResult {
  readonly destination: string;
  readonly key: string;
  readonly outcome: TargetResult['outcome'];
  readonly bytes: number;
  readonly sourceKey?: string;
  readonly size?: number;
  readonly sourceEtag?: string;
  readonly md5?: string;
  readonly error?: string;
}

/** A run whose coordinator has not been heard of for this long is taken for dead: its ranges are dropped. */
const STALE_MS = 120_000;

/** True while a run is in its copy or delete phase and its coordinator beats. */
function runIsLive(state: RunState): boolean {
  if (state.phase !== 'copy' && state.phase !== 'delete') return false;
  return state.sinceBeatMs < STALE_MS;
}

/** A BullMQ job, as the worker hands it over. */
type BullJob = InstanceType<RangesQueue['bullmq']['Job']>;

/**
 * A run's live ranges (waiting or running) at most: past it a range does not split, so Redis
 * holds a bounded number of ranges and jobs per run whatever the bucket's size (a few hundred
 * ranges already keep every worker of a large fleet busy).
 */
export const MAX_LIVE_RANGES = 512;

/**
 * `--report` rows waiting in Redis for the coordinator above which a worker's listing waits
 * (a report file on a slow disk or pipe): Redis holds a few MiB of rows per run at most.
 */
export const ROWS_WAITING_HIGH = 20_000;

/** Rows a worker keeps before it pushes them without waiting for its one-second tick. */
const ROWS_PUSH_EVERY = 2000;

/** Rows per push (one script call: Lua's unpack takes a few thousand arguments at most). */
const ROWS_PER_PUSH = 1000;

/** Failures each range passes on to its run (the run keeps 1000 in all). */
const FAILURES_PER_RANGE = 100;

/** A BullMQ worker on the ranges queue; every range swept with this process's stores. */
export class RangeWorker {
  private readonly log: Logger;
  private readonly id = `${hostname()}:${process.pid}`;
  private q: RangesQueue | undefined;
  private worker: InstanceType<RangesQueue['bullmq']['Worker']> | undefined;
  private client: BucketClient | undefined;
  /** Aborted at stop(): the ranges running stop, and run again elsewhere. */
  private readonly stopping = new AbortController();
  /** Runs of another pair this worker refused (and said so): a few a day from cron, cleared past 1000. */
  private readonly refused = new Set<string>();

  constructor(
    readonly config: Config,
    private readonly o: RangeWorkerOptions,
  ) {
    this.log = o.logger ?? silentLogger;
    Object.defineProperty(this, 'q', { enumerable: false });
    Object.defineProperty(this, 'worker', { enumerable: false });
  }

  /** The ranges queue's name. */
  get queueName(): string | undefined {
    return this.q?.name;
  }

  /** Starts taking range jobs. */
  start(): void {
    const q = (this.q = new RangesQueue(this.config, 's3s3listen-ranges', this.log));
    const lockMs = this.o.lockMs ?? 30_000;
    this.worker = new q.bullmq.Worker(q.name, (job, token) => this.process(job, token), {
      connection: q.connection,
      ...(q.prefix !== undefined ? { prefix: q.prefix } : {}),
      concurrency: this.o.jobs ?? 2,
      autorun: false,
      lockDuration: lockMs,
      stalledInterval: Math.max(1000, Math.round(lockMs / 2)),
      maxStalledCount: 5,
    });
    this.worker.on('error', (err) => this.log.debug('range worker error (retried)', { error: err.message }));
    const stalled = new BurstWarning(this.log, 'a range job stalled (its worker died or hung): it runs again');
    this.worker.on('stalled', (id) => stalled.note({ queue: q.name, job: id }));
    void this.worker
      .run()
      .catch((err: unknown) =>
        this.log.error('range worker stopped', { error: err instanceof Error ? err.message : String(err) }),
      );
  }

  /** Stops taking ranges; those running stop and run again elsewhere. Safe to call twice. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping.abort();
    let timer: NodeJS.Timeout | undefined;
    if (this.worker)
      await Promise.race([
        this.worker.close().catch(() => undefined),
        new Promise((r) => (timer = setTimeout(r, Math.min(timeoutMs, 10_000)))),
      ]);
    clearTimeout(timer);
    await this.q?.close();
    this.client?.close();
    this.worker = undefined;
    this.q = undefined;
    this.client = undefined;
  }

  private async process(job: BullJob, token: string | undefined): Promise<void> {
    const data = job.data as RangeJobData;
    const q = this.q!;
    const runs = q.runs;
    const { run, range } = data;
    const state = await runs.state(run);
    // A run done, cancelled or gone (its coordinator's keys expired, or it has not been heard of
    // for STALE_MS: it died), or a range finished: nothing to do.
    if (!runIsLive(state)) return;
    const record = await runs.range(run, range);
    if (!record || record.phase !== state.phase) return;
    const pair = JSON.parse(state.fields.pair ?? '{}') as RunPair;
    const mismatch = pairMismatch(this.config, pair);
    if (mismatch) {
      const message =
        `worker ${this.id} (config ${this.config.file ?? 'from the environment'}) refuses run ${run}: ${mismatch}; ` +
        "start the workers with this pair's config (the same [source] and [dest*] endpoints and buckets)";
      await runs.refuse(run, message);
      // Once per run: the job comes back every 2 s while the run waits for a worker of its pair.
      if (!this.refused.has(run)) this.log.error(message);
      if (this.refused.size > 1000) this.refused.clear();
      this.refused.add(run);
      // Handed back, not failed: a worker of that pair (on a queue shared by several pairs) takes it.
      await job.moveToDelayed(Date.now() + 2000, token);
      throw new q.bullmq.DelayedError();
    }
    const options = JSON.parse(state.fields.options ?? '{}') as RunOptions;
    let self: RangeRecord = { ...record, state: 'active', worker: this.id };
    await runs.markActive(run, range, record, this.id);
    this.log.info('range started', { run, range, phase: record.phase, after: record.after, upTo: record.upTo });
    this.client ??= new BucketClient(this.config, { logger: this.log });
    const client = this.client;
    const live = { listed: 0, copied: 0, failed: 0 };
    let rows: string[] = [];
    const cancel = new AbortController();
    let backlog = 0;
    // Live counts and rows out to Redis. One flush at a time (the last one, before the range
    // counts as done, waits for any in flight); what a failed flush did not write is put back.
    const flushNow = async (): Promise<void> => {
      const counts = { ...live };
      live.listed = live.copied = live.failed = 0;
      try {
        await runs.addLive(run, counts);
      } catch (err) {
        live.listed += counts.listed;
        live.copied += counts.copied;
        live.failed += counts.failed;
        throw err;
      }
      const out = rows;
      rows = [];
      let pushed = 0;
      try {
        for (; pushed < out.length; pushed += ROWS_PER_PUSH)
          backlog = await runs.pushRows(run, out.slice(pushed, pushed + ROWS_PER_PUSH));
      } catch (err) {
        rows = out.slice(pushed).concat(rows);
        throw err;
      }
    };
    let flushing: Promise<void> = Promise.resolve();
    const flush = (): Promise<void> => (flushing = flushing.catch(() => undefined).then(flushNow));
    // Back-pressure: while the coordinator is behind on the rows, the listing waits (a cancelled
    // or gone run, or a stopping worker, ends the wait: the run's state is looked at each second).
    const paced = async (): Promise<void> => {
      if (rows.length >= ROWS_PUSH_EVERY) await flush().catch(() => undefined);
      while (backlog > ROWS_WAITING_HIGH && !cancel.signal.aborted && !this.stopping.signal.aborted) {
        await new Promise((r) => setTimeout(r, 200));
        backlog = await runs.rowsWaiting(run).catch(() => backlog);
      }
    };
    // Once a second: live progress and rows out; a run cancelled (or gone) stops this range.
    const timer = setInterval(() => {
      void flush()
        .catch(() => undefined)
        .then(() => runs.state(run))
        .then((s) => {
          if (s.phase !== record.phase || !runIsLive(s)) cancel.abort();
        })
        .catch(() => undefined);
    }, 1000);
    const keyRange: KeyRange = { after: record.after, upTo: record.upTo };
    let report: RangeReport;
    try {
      report = await sweepRange(client.source, client.destinations, {
        prefix: options.prefix,
        force: options.force,
        verifyMd5: options.verifyMd5 || this.o.verifyMd5,
        checkMetadata: options.checkMetadata,
        delete: options.delete,
        minSize: options.minSize,
        maxSize: options.maxSize,
        include: options.include,
        exclude: options.exclude,
        concurrency: options.concurrency ?? this.o.concurrency,
        retry: this.o.retry,
        logger: this.log,
        uploads: client.uploads,
        signal: AbortSignal.any([cancel.signal, this.stopping.signal]),
        range: keyRange,
        step: record.phase,
        deleteAt: record.phase === 'delete' ? (JSON.parse(state.fields.deleteAt ?? '[]') as string[]) : undefined,
        budget: (dest, n) => runs.take(run, dest, n),
        splitEvery: options.splitEvery,
        onSplit: async (split) => {
          const id = await runs.split(run, range, self, split);
          if (id === undefined) throw new Error(`range ${range} of run ${run} is gone`);
          self = { ...self, upTo: split };
          this.log.debug('range split', { run, range, split, upper: id });
          // The split is recorded: a job not added now is added by the coordinator's next look.
          await q.add(run, id).catch((err: unknown) =>
            this.log.warn('range job not queued yet (the coordinator queues it again)', {
              run,
              range: id,
              error: err instanceof Error ? err.message : String(err),
            }),
          );
        },
        maySplit: async () => (await runs.rangesLeft(run)) < MAX_LIVE_RANGES,
        onListed: (n) => {
          live.listed += n;
          return options.rows ? paced() : undefined;
        },
        onResult: (r) => {
          if (r.outcome === 'copied') live.copied++;
          else if (r.outcome === 'failed') {
            live.failed++;
            this.log.error('copy failed', { key: r.key, destination: r.destination, error: r.error?.message });
          }
          if (options.rows) rows.push(JSON.stringify(rowResult(r)));
        },
      });
    } finally {
      clearInterval(timer);
      await flush().catch(() => undefined);
    }
    // Every row in Redis before the range counts as done, or the report would miss them: a
    // few more tries, then the range fails and runs again.
    for (let attempt = 1; rows.length > 0; attempt++) {
      await new Promise((r) => setTimeout(r, 1000));
      await flush().catch((err: unknown) => {
        if (attempt >= 5)
          throw new Error(`${rows.length} report rows not written to Redis (${String(err)}); the range runs again`);
      });
    }
    if (cancel.signal.aborted) {
      this.log.info('range left: its run was cancelled', { run, range });
      return;
    }
    // Stopping mid-range: the range is not finished; it runs again (here after a restart, or elsewhere).
    if (this.stopping.signal.aborted) throw new Error('the worker stopped mid-range; the range runs again');
    const finished = await runs.finish(run, range, self.upTo, report, FAILURES_PER_RANGE);
    // Redis holds other bounds than this sweep covered (a split it lost in a failover): the
    // job runs again, over the range as Redis has it, so no key falls between two ranges.
    if (finished === 'moved')
      throw new Error(`range ${range} of run ${run} changed in Redis while it ran; it runs again`);
    this.log.info('range done', {
      run,
      range,
      listed: report.listed,
      copied: report.copied,
      skipped: report.skipped,
      failed: report.failed,
      deleted: report.deleted,
      seconds: Number(report.seconds.toFixed(3)),
    });
  }
}

/** A result, as a `--report` row travels (the error as its message). */
function rowResult(r: TargetResult): RowResult {
  return {
    destination: r.destination,
    key: r.key,
    outcome: r.outcome,
    bytes: r.bytes,
    sourceKey: r.sourceKey,
    size: r.size,
    sourceEtag: r.sourceEtag,
    md5: r.md5,
    error: r.error?.message,
  };
}
