/** What a worker records once a key's run is over: marker, report rows, log line, counters. */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { RedisCommands } from '../redis/redis.js';
import { RedisWriter } from '../redis/redis-writer.js';
import { ReportWriter, resultRow } from '../report.js';
import type { TargetResult } from '../copy/copy-key.js';
import type { SyncResult } from '../sync/sync-key.js';
import { telemetry } from '../telemetry.js';

/** The original s3s3's marker for a key that has been copied. */
export function markerKey(key: string): string {
  return `backup=>${key}`;
}

/** The value the original (Python, redis-py) wrote: `r.set('backup=>' + key, True)`. */
export const MARKER_VALUE = 'True';

/** How a key's run ended for good: copied (or already in place), gone from the source, or failed. */
export type SettledOutcome = 'copied' | 'gone' | 'failed';

/** What the `onSettled` hook is told about each key whose run is over. */
export interface SettledEvent {
  readonly key: string;
  readonly outcome: SettledOutcome;
  /** The object's size when some destination copied it, else 0. */
  readonly bytes: number;
  readonly ms: number;
  readonly result?: SyncResult;
}

/** The counters of a worker since it started (what `s3s3listen` logs and the board shows). */
export interface WorkerStats {
  copied: number;
  gone: number;
  deleted: number;
  failed: number;
  /** Runs that failed and were left to BullMQ to retry. */
  retried: number;
  bytes: number;
}

/** What a `Settlement` writes to and tells: the config, logger, Redis, the queue's name and the hook. */
export interface SettlementOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly redis: RedisCommands;
  readonly queue: string;
  readonly onSettled?: (event: SettledEvent) => void;
  readonly maxPendingWrites?: number;
}

/** The counters an outcome moves, in the worker's and in the single-process listener's stats. */
export interface OutcomeCounters {
  copied: number;
  gone: number;
  deleted: number;
  bytes: number;
}

/**
 * The log line and counters of a run that ended copied or gone (the same for the queue's
 * workers and the single-process listener); false for a failure, whose line says where the
 * key waits and so belongs to the caller.
 */
export function logSettled(
  log: Logger,
  stats: OutcomeCounters,
  key: string,
  outcome: SettledOutcome,
  result: SyncResult | undefined,
  bytes: number,
  ms: number,
): boolean {
  const names = (o: string) => (result ? result.results.filter((r) => r.outcome === o).map((r) => r.destination) : []);
  if (outcome === 'copied') {
    stats.copied++;
    stats.bytes += bytes;
    const copied = names('copied');
    log.info(copied.length > 0 ? 'copied' : 'already in place', {
      key,
      destinations: copied.length > 0 ? copied : names('skipped'),
      skipped: copied.length > 0 && names('skipped').length > 0 ? names('skipped') : undefined,
      bytes,
      ms,
    });
    return true;
  }
  if (outcome === 'gone') {
    stats.gone++;
    const deleted = [...names('deleted'), ...names('trashed')];
    if (deleted.length > 0) {
      stats.deleted++;
      log.info('deleted: not in the source bucket any more', {
        key,
        destinations: deleted,
        trashed: names('trashed').length > 0 ? names('trashed') : undefined,
        ms,
      });
    } else if (!result?.outsidePrefix)
      log.info('not in the source bucket (deleted since it was announced); skipped', { key, ms });
    return true;
  }
  return false;
}

/**
 * `[pubsub] report`: one CSV row per settled key and destination; a row that cannot be written is
 * logged once, the copies go on.
 */
export class SettledRows {
  private failed = false;
  private constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly report: ReportWriter,
  ) {}

  /** Undefined when the config asks for no report; throws ReportError when the file cannot be opened. */
  static open(config: Config, log: Logger): SettledRows | undefined {
    const p = config.pubsub;
    return p.report === undefined
      ? undefined
      : new SettledRows(
          config,
          log,
          ReportWriter.open(p.report, { maxSize: p.reportMaxSize, keep: p.reportKeep }, { rawKeys: p.reportRawKeys }),
        );
  }

  write(result: SyncResult | undefined): void {
    if (!result) return;
    for (const r of result.results) {
      const row = resultRow(this.config, r);
      if (!row) continue;
      try {
        this.report.row(row);
        if (this.failed) this.log.info('report written again', { report: this.report.file });
        this.failed = false;
      } catch (err) {
        if (!this.failed)
          this.log.error('cannot write the report; copies go on, rows are missing until it works again', {
            error: err instanceof Error ? err.message : String(err),
          });
        this.failed = true;
      }
    }
  }

  close(): void {
    this.report.close();
  }
}

/** Clock skew allowed between the source's Last-Modified and this host's clock. */
const SKEW_MS = 60_000;

/**
 * One destination's outcome to the telemetry; a copy also as a replication latency (AWS's
 * ReplicationLatency), from the source write: the event's time, else the source's Last-Modified
 * when it is no older than the key's queueing (an object written long before it was announced,
 * a backfill, counts from its queueing), else the queueing.
 */
function counted(key: string, r: TargetResult, queuedAt: number | undefined, writtenAt: number | undefined): void {
  telemetry.object({ destination: r.destination, outcome: r.outcome, bytes: r.bytes });
  if (r.outcome !== 'copied') return;
  const modified =
    r.sourceModified !== undefined && (queuedAt === undefined || r.sourceModified >= queuedAt - SKEW_MS)
      ? r.sourceModified
      : undefined;
  const from = writtenAt ?? modified ?? queuedAt;
  if (from !== undefined)
    telemetry.replicated({ destination: r.destination, key, seconds: Math.max(0, (Date.now() - from) / 1000) });
}

/**
 * Settlement: what a worker records once a key's run is over — the original s3s3's marker
 * (through the RedisWriter, so a Redis refusing writes never holds a copy slot), the report
 * rows (`[pubsub] report`), the log line, the counters and the `onSettled` hook. Metrics
 * hook in here too: this is the one place an outcome passes through.
 */
export class Settlement {
  readonly stats: WorkerStats = { copied: 0, gone: 0, deleted: 0, failed: 0, retried: 0, bytes: 0 };
  readonly writer: RedisWriter;
  private readonly log: Logger;
  private readonly rows: SettledRows | undefined;

  constructor(private readonly o: SettlementOptions) {
    this.log = o.logger;
    const p = o.config.pubsub;
    this.writer = new RedisWriter({ redis: p.redisUrlRedacted, logger: o.logger, maxPending: o.maxPendingWrites });
    this.rows = SettledRows.open(o.config, o.logger);
  }

  /** Record a run that is over for good: copied, gone, or failed after its last attempt. */
  settle(
    key: string,
    outcome: SettledOutcome,
    result: SyncResult | undefined,
    ms: number,
    error: string | undefined,
    queuedAt?: number,
    writtenAt?: number,
  ): void {
    if (result) for (const r of result.results) counted(key, r, queuedAt, writtenAt);
    else if (outcome === 'failed')
      for (const d of this.o.config.destinations)
        telemetry.object({ destination: d.name, outcome: 'failed', bytes: 0 });
    if (queuedAt !== undefined) telemetry.lag(Math.max(0, (Date.now() - queuedAt) / 1000));
    const marker = this.o.config.pubsub.marker;
    if (marker && outcome === 'copied')
      void this.writer.submit({
        key,
        what: 'settle',
        run: () => this.o.redis.call('SET', markerKey(key), MARKER_VALUE),
      });
    if (marker && outcome === 'gone')
      void this.writer.submit({ key, what: 'settle', run: () => this.o.redis.call('DEL', markerKey(key)) });
    this.rows?.write(result);
    const names = (o: string) =>
      result ? result.results.filter((r) => r.outcome === o).map((r) => r.destination) : [];
    const bytes = result ? Math.max(0, ...result.results.map((r) => r.bytes)) : 0;
    if (!logSettled(this.log, this.stats, key, outcome, result, bytes, ms)) {
      this.stats.failed++;
      this.log.error(
        "copy failed after retries; kept in the queue's failed set " +
          '(run s3s3bucket --retry-failed, or see s3s3 queue failed)',
        {
          key,
          destinations: names('failed'),
          error,
          queue: this.o.queue,
          ms,
        },
      );
    }
    try {
      this.o.onSettled?.({ key, outcome, bytes, ms, result });
    } catch (err) {
      this.log.error('onSettled threw', { key, error: err instanceof Error ? err.message : String(err) });
    }
  }

  /**
   * A failed run BullMQ will retry: one line; the destinations it did copy are counted now (the
   * next run finds them in place and copies nothing there).
   */
  retrying(
    key: string,
    attempt: number,
    error: string,
    result?: SyncResult,
    queuedAt?: number,
    writtenAt?: number,
  ): void {
    for (const r of result?.results ?? []) if (r.outcome === 'copied') counted(key, r, queuedAt, writtenAt);
    this.stats.retried++;
    this.log.warn('copy failed; the queue retries it with backoff', { key, attempt, error });
  }

  /** Wait for the marker writes (up to `timeoutMs`), then close; returns the keys whose marker never reached Redis. */
  async close(timeoutMs: number): Promise<string[]> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.writer.flush(), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    this.rows?.close();
    return [...new Set(this.writer.close().map((w) => w.key))];
  }
}
