/**
 * Settlement: what a worker records once a key's run is over — the original s3s3's marker
 * (through the RedisWriter, so a Redis refusing writes never holds a copy slot), the report
 * rows (`[pubsub] report`), the log line, the counters and the `onSettled` hook. Metrics
 * will hook in here too: this is the one place an outcome passes through.
 */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { markerKey, MARKER_VALUE } from '../listen/journal.js';
import type { RedisCommands } from '../listen/redis.js';
import { RedisWriter } from '../listen/redis-writer.js';
import { ReportWriter, resultRow } from '../report.js';
import type { SyncResult } from '../sync/sync-key.js';

export type SettledOutcome = 'copied' | 'gone' | 'failed';

export interface SettledEvent {
  readonly key: string;
  readonly outcome: SettledOutcome;
  /** The object's size when some destination copied it, else 0. */
  readonly bytes: number;
  readonly ms: number;
  readonly result?: SyncResult;
}

export interface WorkerStats {
  copied: number;
  gone: number;
  deleted: number;
  failed: number;
  /** Runs that failed and were left to BullMQ to retry. */
  retried: number;
  bytes: number;
}

export interface SettlementOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly redis: RedisCommands;
  readonly queue: string;
  readonly onSettled?: (event: SettledEvent) => void;
  readonly maxPendingWrites?: number;
}

export class Settlement {
  readonly stats: WorkerStats = { copied: 0, gone: 0, deleted: 0, failed: 0, retried: 0, bytes: 0 };
  readonly writer: RedisWriter;
  private readonly log: Logger;
  private readonly report: ReportWriter | undefined;
  private reportFailed = false;

  constructor(private readonly o: SettlementOptions) {
    this.log = o.logger;
    const p = o.config.pubsub;
    this.writer = new RedisWriter({ redis: p.redisUrlRedacted, logger: o.logger, maxPending: o.maxPendingWrites });
    if (p.report !== undefined) this.report = ReportWriter.open(p.report, { maxSize: p.reportMaxSize, keep: p.reportKeep });
  }

  /** Record a run that is over for good: copied, gone, or failed after its last attempt. */
  settle(key: string, outcome: SettledOutcome, result: SyncResult | undefined, ms: number, error: string | undefined): void {
    const marker = this.o.config.pubsub.marker;
    if (marker && outcome === 'copied') void this.writer.submit({ key, what: 'settle', run: () => this.o.redis.call('SET', markerKey(key), MARKER_VALUE) });
    if (marker && outcome === 'gone') void this.writer.submit({ key, what: 'settle', run: () => this.o.redis.call('DEL', markerKey(key)) });
    this.writeRows(result);
    const names = (o: string) => (result ? result.results.filter((r) => r.outcome === o).map((r) => r.destination) : []);
    const bytes = result ? Math.max(0, ...result.results.map((r) => r.bytes)) : 0;
    if (outcome === 'copied') {
      this.stats.copied++;
      this.stats.bytes += bytes;
      const copied = names('copied');
      this.log.info(copied.length > 0 ? 'copied' : 'already in place', { key, destinations: copied.length > 0 ? copied : names('skipped'), skipped: copied.length > 0 && names('skipped').length > 0 ? names('skipped') : undefined, bytes, ms });
    } else if (outcome === 'gone') {
      this.stats.gone++;
      const deleted = [...names('deleted'), ...names('trashed')];
      if (deleted.length > 0) {
        this.stats.deleted++;
        this.log.info('deleted: not in the source bucket any more', { key, destinations: deleted, trashed: names('trashed').length > 0 ? names('trashed') : undefined, ms });
      } else if (!result?.outsidePrefix) this.log.info('not in the source bucket (deleted since it was announced); skipped', { key, ms });
    } else {
      this.stats.failed++;
      this.log.error('copy failed after retries; kept in the queue\'s failed set (run s3s3bucket --retry-failed, or see s3s3 queue failed)', {
        key,
        destinations: names('failed'),
        error,
        queue: this.o.queue,
        ms,
      });
    }
    try {
      this.o.onSettled?.({ key, outcome, bytes, ms, result });
    } catch (err) {
      this.log.error('onSettled threw', { key, error: err instanceof Error ? err.message : String(err) });
    }
  }

  /** A failed run BullMQ will retry: one line, nothing recorded. */
  retrying(key: string, attempt: number, error: string): void {
    this.stats.retried++;
    this.log.warn('copy failed; the queue retries it with backoff', { key, attempt, error });
  }

  /** Wait for the marker writes (up to `timeoutMs`), then close; returns the keys whose marker never reached Redis. */
  async close(timeoutMs: number): Promise<string[]> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.writer.flush(), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    this.report?.close();
    return [...new Set(this.writer.close().map((w) => w.key))];
  }

  /** A report that cannot be written is logged once; the copies go on. */
  private writeRows(result: SyncResult | undefined): void {
    if (!this.report || !result) return;
    for (const r of result.results) {
      const row = resultRow(this.o.config, r);
      if (!row) continue;
      try {
        this.report.row(row);
        if (this.reportFailed) this.log.info('report written again', { report: this.report.file });
        this.reportFailed = false;
      } catch (err) {
        if (!this.reportFailed) this.log.error('cannot write the report; copies go on, rows are missing until it works again', { error: err instanceof Error ? err.message : String(err) });
        this.reportFailed = true;
      }
    }
  }
}
