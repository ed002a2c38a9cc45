/**
 * The coordinator of a distributed sweep (`s3s3bucket --distribute`): records a run, puts its
 * first range (the whole key space) on `<queue>-ranges`, and waits while the workers sweep and
 * split the ranges; then, after a clean copy phase and within the run-wide max_delete, a delete
 * phase of range jobs. Ends with the same DuplicateReport as a local sweep, summed over ranges.
 */
import { randomBytes } from 'node:crypto';
import { BucketClient } from '../bucket-client.js';
import type { Config, MaxDelete } from '../config.js';
import type { TargetResult } from '../copy/copy-key.js';
import { silentLogger, type Logger } from '../log.js';
import { judgeDeletes } from '../sweep/deletes.js';
import { COUNTERS, type DestinationTotals, type DuplicateOptions, type DuplicateReport } from '../sweep/duplicate.js';
import { deletesAt } from '../sync/sync-key.js';
import type { RowResult } from './range-worker.js';
import { RangesQueue } from './ranges-queue.js';
import { runPair, type RunOptions, type RunState } from './run-store.js';

/** How a distributed sweep runs: the sweep's options, and how long to wait for a worker. */
export interface DistributeOptions extends Pick<
  DuplicateOptions,
  | 'prefix'
  | 'force'
  | 'verifyMd5'
  | 'checkMetadata'
  | 'minSize'
  | 'maxSize'
  | 'include'
  | 'exclude'
  | 'concurrency'
  | 'delete'
  | 'maxDelete'
  | 'allowEmptySource'
  | 'signal'
  | 'logger'
> {
  /** With no worker on the ranges queue, wait this long for one, then fail (default: for ever). */
  readonly maxWaitMs?: number;
  /** A range looks for a split after this many source keys (default 10000). */
  readonly splitEvery?: number;
  /** Each result, as the workers report it (`--report`); unset, workers send none. */
  readonly onResult?: (r: TargetResult) => void;
  /** Progress, about every `progressMs`. */
  readonly onProgress?: (p: DistributeProgress) => void;
  /** Default 10 s. */
  readonly progressMs?: number;
  /** How often the coordinator reads the run (default 500 ms). */
  readonly pollMs?: number;
}

/** Where a distributed run is. */
export interface DistributeProgress {
  readonly run: string;
  readonly phase: 'copy' | 'delete';
  readonly rangesDone: number;
  readonly rangesTotal: number;
  readonly listed: number;
  readonly copied: number;
  readonly failed: number;
  /** Source keys listed per second since the start. */
  readonly keysPerSecond: number;
}

/**
 * How long a run refused by a worker may make no progress before it fails (a worker of another
 * pair is there, none of this one): at least this, or `--max-wait` when longer.
 */
const REFUSAL_MS = 15_000;

/** A sweep that failed before it could start: no worker came, a worker refused the run. */
export class DistributeError extends Error {}

/**
 * The sweep of `config`'s pair spread over every worker on `<queue>-ranges` (see the module
 * comment); the report, as duplicateBucket's. A worker refusing the run (its config names other
 * buckets) or no worker within `maxWaitMs` throws DistributeError.
 */
export async function distributeSweep(config: Config, options: DistributeOptions = {}): Promise<DuplicateReport> {
  const run = new Coordinator(config, options);
  try {
    return await run.run();
  } finally {
    await run.close();
  }
}

class Coordinator {
  private readonly log: Logger;
  private readonly q: RangesQueue;
  private readonly client: BucketClient;
  readonly id = randomBytes(6).toString('hex');
  private readonly started = performance.now();
  private readonly pollMs: number;
  private lastProgress = performance.now();
  private refusalShown = false;
  private created = false;
  /** The run ended as it should (every range done, or cancelled by a signal). */
  private finished = false;
  private cancelled = false;

  constructor(
    readonly config: Config,
    private readonly o: DistributeOptions,
  ) {
    this.log = o.logger ?? silentLogger;
    this.q = new RangesQueue(config, 's3s3bucket-distribute', this.log);
    this.client = new BucketClient(config, { logger: this.log });
    this.pollMs = o.pollMs ?? 500;
  }

  async run(): Promise<DuplicateReport> {
    const { o, q, id, log } = this;
    const runOptions: RunOptions = {
      prefix: o.prefix,
      force: o.force,
      verifyMd5: o.verifyMd5,
      checkMetadata: o.checkMetadata,
      delete: o.delete,
      minSize: o.minSize,
      maxSize: o.maxSize,
      include: o.include,
      exclude: o.exclude,
      concurrency: o.concurrency,
      splitEvery: o.splitEvery ?? 10_000,
      rows: o.onResult !== undefined,
    };
    const first = await q.runs.create(id, runPair(this.config), runOptions);
    this.created = true;
    await q.add(id, first);
    log.info('distributed sweep started: ranges are queued for the workers', { run: id, queue: q.name });
    await this.waitForWorker();
    await this.phase('copy');
    const report = await this.report();
    await this.deletes(report);
    if (o.signal?.aborted && !report.aborted) report.aborted = 'stopped by signal';
    report.seconds = this.elapsed();
    this.finished = true;
    return report;
  }

  /** With no worker on the ranges queue: says so once, waits for one (up to maxWaitMs). */
  private async waitForWorker(): Promise<void> {
    const { q, o, log } = this;
    if ((await q.workers()) > 0) return;
    log.warn(
      `no worker takes range jobs from ${q.name}: waiting for one ` +
        '(s3s3listen --role worker or --role all, with this config)' +
        (o.maxWaitMs !== undefined ? ` for up to ${o.maxWaitMs / 1000} s` : ''),
      { run: this.id },
    );
    const deadline = o.maxWaitMs !== undefined ? Date.now() + o.maxWaitMs : Infinity;
    for (;;) {
      if (o.signal?.aborted) return;
      await this.sleep(Math.min(1000, this.pollMs * 2));
      if ((await q.workers()) > 0) {
        log.info('a worker is here: the sweep goes on', { run: this.id });
        return;
      }
      // A worker that CLIENT LIST does not show (a Redis that refuses CLIENT SETNAME) may be at
      // work: its rows are taken meanwhile (it waits for them), and its progress ends the wait.
      await this.takeRows();
      const state = await q.runs.state(this.id);
      if (state.rangesDone > 0 || state.liveListed > 0) return;
      if (Date.now() > deadline)
        throw new DistributeError(
          `no worker took range jobs from ${q.name} within ${o.maxWaitMs! / 1000} s ` +
            '(start s3s3listen --role worker with this config); nothing was swept',
        );
      await q.runs.heartbeat(this.id);
    }
  }

  /**
   * Waits until every range of the phase is done (none left), re-queueing a range whose job was
   * lost (a split recorded, its job not yet added when its worker died); a signal cancels the run.
   */
  private async phase(phase: 'copy' | 'delete'): Promise<void> {
    const { q, id, o } = this;
    let polls = 0;
    for (;;) {
      if (o.signal?.aborted) return this.cancel();
      await this.takeRows();
      const { state, left } = await q.runs.snapshot(id);
      // The run's record lost or rolled back (Redis restarted without persistence, or failed over
      // to a replica without the latest writes): an empty ranges hash would read as "all done".
      if (state.phase !== phase || state.rangesTotal - state.rangesDone !== left)
        throw new DistributeError(
          `the run's state in Redis is gone or inconsistent (phase ${state.phase ?? 'missing'}, ` +
            `${state.rangesTotal - state.rangesDone} ranges expected, ${left} live): ` +
            'was Redis restarted without persistence or failed over? nothing more is done (no delete); ' +
            'run the sweep again',
        );
      await this.refusal(state);
      if (left === 0) {
        await this.takeRows();
        return this.progress(phase, state, true);
      }
      if (++polls % 20 === 0) {
        await q.runs.heartbeat(id);
        // Every range not yet done has a job: adding one that exists is nothing.
        for (const range of (await q.runs.ranges(id)).keys()) await q.add(id, range);
        await this.failedJobs();
        await this.workersGone();
      }
      this.progress(phase, state, false);
      await this.sleep(this.pollMs);
    }
  }

  /** Every worker gone mid-run (stopped, or their machines died): said once; the run waits for one. */
  private async workersGone(): Promise<void> {
    const n = await this.q.workers();
    if (n > 0) this.noWorkerSaid = false;
    else if (!this.noWorkerSaid) {
      this.noWorkerSaid = true;
      this.log.warn(`no worker takes range jobs from ${this.q.name} now: the run waits for one`, { run: this.id });
    }
  }
  private noWorkerSaid = false;

  /**
   * A worker's refusal (its config names other buckets), shown once: other workers may still
   * take the run's ranges. When no range has moved for REFUSAL_MS (or maxWaitMs) since, no worker of this pair
   * is running: the run fails with the refusal.
   */
  private async refusal(state: RunState): Promise<void> {
    const refusal = state.fields.refusal;
    if (refusal === undefined) return;
    if (!this.refusalShown) {
      this.refusalShown = true;
      this.log.error(refusal, { run: this.id });
    }
    const active = [...(await this.q.runs.ranges(this.id)).values()].some((r) => r.state === 'active');
    const moved = `${state.rangesDone}/${state.rangesTotal}/${active}`;
    if (moved !== this.lastMove || active) {
      this.lastMove = moved;
      this.stuckSince = Date.now();
      return;
    }
    // --max-wait counts from the run's start, as it does with no worker at all.
    if (Date.now() - this.stuckSince < REFUSAL_MS) return;
    if (this.o.maxWaitMs !== undefined && this.elapsed() * 1000 < this.o.maxWaitMs) return;
    await this.cancel();
    throw new DistributeError(`no worker of this pair took run ${this.id}'s ranges: ${refusal}`);
  }
  private lastMove = '';
  private stuckSince = Date.now();

  /** A range job failed for good (its worker refused it, or died too often): the run fails. */
  private async failedJobs(): Promise<void> {
    const failed = (await this.q.queue.getFailed(0, 99)).filter(
      (j) => j !== undefined && j !== null && (j.data as { run?: string }).run === this.id,
    );
    if (failed.length === 0) return;
    const reason = failed[0]!.failedReason ?? 'unknown error';
    await this.cancel();
    throw new DistributeError(`a range job of run ${this.id} failed for good: ${reason}`);
  }

  /** Cancels the run: workers stop its ranges at once; its waiting jobs are removed. */
  private async cancel(): Promise<void> {
    const { q, id } = this;
    if (this.cancelled) return;
    this.cancelled = true;
    await q.runs.setPhase(id, 'cancelled');
    for (const range of (await q.runs.ranges(id)).keys()) {
      const job = await q.queue.getJob(`${id}-${range}`);
      if (job && (await job.isWaiting().catch(() => false))) await job.remove().catch(() => undefined);
    }
    this.log.warn('distributed run cancelled: its ranges stop', { run: id });
  }

  private progress(phase: 'copy' | 'delete', state: RunState, last: boolean): void {
    const every = this.o.progressMs ?? 10_000;
    if (!last && performance.now() - this.lastProgress < every) return;
    this.lastProgress = performance.now();
    const p: DistributeProgress = {
      run: this.id,
      phase,
      rangesDone: state.rangesDone,
      rangesTotal: state.rangesTotal,
      listed: state.liveListed,
      copied: state.liveCopied,
      failed: state.liveFailed,
      keysPerSecond: Math.round(state.liveListed / Math.max(this.elapsed(), 0.001)),
    };
    if (this.o.onProgress) this.o.onProgress(p);
    else this.log.info('distributed sweep progress', { ...p });
  }

  /** The workers' `--report` rows, handed to onResult. */
  private async takeRows(): Promise<void> {
    if (!this.o.onResult) return;
    let beatAt = Date.now();
    for (;;) {
      // Rows may come as fast as they are read: the run must not look abandoned meanwhile.
      if (Date.now() - beatAt > 10_000) {
        await this.q.runs.heartbeat(this.id);
        beatAt = Date.now();
      }
      const rows = await this.q.runs.popRows(this.id, 5000);
      for (const json of rows) {
        const r = JSON.parse(json) as RowResult;
        this.o.onResult({ ...r, error: r.error !== undefined ? new Error(r.error) : undefined });
      }
      if (rows.length < 5000) return;
    }
  }

  /** The copy phase's report, summed over every range from the run's record. */
  private async report(): Promise<
    DuplicateReport & { inScope: Record<string, number>; candidates: Record<string, number> }
  > {
    const state = await this.q.runs.state(this.id);
    const f = state.fields;
    const n = (k: string) => Number(f[k] ?? 0);
    const destinations: Record<string, DestinationTotals> = {};
    const totals = Object.fromEntries(COUNTERS.map((c) => [c, 0])) as unknown as DestinationTotals;
    const inScope: Record<string, number> = {};
    const candidates: Record<string, number> = {};
    for (const d of this.config.destinations) {
      const t = Object.fromEntries(COUNTERS.map((c) => [c, n(`d:${d.name}:${c}`)])) as unknown as DestinationTotals;
      destinations[d.name] = t;
      for (const c of COUNTERS) totals[c] += t[c];
      inScope[d.name] = n(`inScope:${d.name}`);
      candidates[d.name] = n(`cand:${d.name}`);
    }
    return {
      source: this.client.source.name,
      listed: n('n:listed'),
      ...totals,
      seconds: this.elapsed(),
      failures: await this.q.runs.failures(this.id),
      destinations,
      ...(f.aborted !== undefined ? { aborted: f.aborted } : {}),
      inScope,
      candidates,
    };
  }

  /**
   * The delete phase, judged as a local sweep judges it, on the counts summed over every range:
   * only after a clean copy phase (every range listed without error, no copy failed); then
   * the guards (empty source, trash in the source, max_delete); then range jobs that list and
   * delete again, each delete re-checked against the source and taken from the run's budget.
   */
  private async deletes(
    report: DuplicateReport & { inScope: Record<string, number>; candidates: Record<string, number> },
  ): Promise<void> {
    const { o, log, client } = this;
    const deleting = client.destinations.filter((d) => deletesAt(d, { delete: o.delete }));
    if (deleting.length === 0) return;
    // The same reasons, in the same words, as a local sweep's (Sweep.delete).
    const why = report.aborted
      ? `the sweep stopped (${report.aborted})`
      : o.signal?.aborted
        ? 'the sweep was interrupted'
        : report.failed > 0
          ? `${report.failed} ${report.failed === 1 ? 'copy' : 'copies'} failed; ` +
            'deletes wait for a run where every copy succeeds'
          : undefined;
    if (why) {
      report.deletesSkipped = `no delete in this run: ${why}`;
      log.warn(report.deletesSkipped);
      return;
    }
    const { refused, allowed } = judgeDeletes({
      source: client.source,
      destinations: deleting.map((d) => ({
        dest: d,
        candidates: report.candidates[d.name] ?? 0,
        inScope: report.inScope[d.name] ?? 0,
      })),
      sourceListed: report.listed,
      maxDelete: o.maxDelete as MaxDelete | undefined,
      allowEmptySource: o.allowEmptySource,
    });
    if (allowed.length > 0) {
      const budgets = Object.fromEntries(allowed.map((a) => [a.dest.name, a.limit]));
      const first = await this.q.runs.startDeletes(this.id, budgets);
      await this.q.add(this.id, first);
      log.info('every range listed cleanly: deleting what the source lacks', {
        run: this.id,
        destinations: Object.keys(budgets).map((d) => `[${d}]`),
      });
      await this.phase('delete');
      const after = await this.report();
      for (const c of COUNTERS) report[c] = after[c];
      for (const [d, t] of Object.entries(after.destinations)) report.destinations[d] = t;
      report.failures.splice(0, report.failures.length, ...after.failures);
      if (after.aborted !== undefined) report.aborted ??= after.aborted;
      const state = await this.q.runs.state(this.id);
      for (const a of allowed) {
        const over = Number(state.fields[`over:${a.dest.name}`] ?? 0);
        if (over > 0)
          refused.push(
            `[${a.dest.name}] reached max_delete (${a.limit}) while deleting: ${over} more keys the source lacks ` +
              'were left (the source lost keys during the run); the next run deletes them, within its own max_delete',
          );
      }
    }
    if (refused.length > 0) {
      report.refused = refused;
      for (const r of refused) log.error(`delete refused: ${r}`);
    }
  }

  private elapsed(): number {
    return (performance.now() - this.started) / 1000;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.o.signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  }

  /** Ends the run: its keys removed (a cancelled run's jobs find nothing and end), the connections closed. */
  async close(): Promise<void> {
    try {
      if (this.created) {
        // A run that failed (no worker came, a range failed for good): its waiting jobs go too.
        if (!this.finished) await this.cancel();
        else if (!this.cancelled) await this.q.runs.setPhase(this.id, 'done');
        await this.q.runs.remove(this.id);
      }
    } catch (err) {
      this.log.warn('could not remove the run from Redis; its keys expire within the hour', {
        run: this.id,
        error: err instanceof Error ? err.message : String(err),
      });
    } finally {
      this.client.close();
      await this.q.close();
    }
  }
}

/** One distributed run in progress, as `s3s3 queue` prints it. */
export interface DistributedRunStatus {
  readonly run: string;
  readonly rangesWaiting: number;
  readonly rangesActive: number;
  readonly rangesDone: number;
  /** Source keys listed so far (live count). */
  readonly keysListed: number;
}

/**
 * The distributed runs in progress on `config`'s ranges queue, oldest first (any bucket pair:
 * runs of several pairs may share the workers). A run whose keys expired (its coordinator died
 * an hour ago) is dropped from the index.
 */
export async function distributedRuns(config: Config, logger?: Logger): Promise<DistributedRunStatus[]> {
  const q = new RangesQueue(config, 's3s3-queue-runs', logger);
  try {
    const out: DistributedRunStatus[] = [];
    for (const run of await q.runs.runs()) {
      const state = await q.runs.state(run);
      if (state.phase === undefined) {
        await q.runs.forget(run);
        continue;
      }
      const ranges = [...(await q.runs.ranges(run)).values()];
      out.push({
        run,
        rangesWaiting: ranges.filter((r) => r.state === 'waiting').length,
        rangesActive: ranges.filter((r) => r.state === 'active').length,
        rangesDone: state.rangesDone,
        keysListed: state.liveListed,
      });
    }
    return out;
  } finally {
    await q.close();
  }
}
