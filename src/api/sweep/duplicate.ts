/**
 * duplicateBucket: a single-pass merge-join of the source listing with every destination
 * listing (all in UTF-8 byte order), copying what is missing or different. Listing and
 * copying overlap; a semaphore taken before each copy starts bounds what is in flight,
 * so memory depends on the concurrency, never on the number of keys.
 */
import { ListingOrderError, StoreError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { RetryPolicy } from '../retry.js';
import { copyKey, type CopyTarget, type TargetResult } from '../copy/copy-key.js';
import { decide } from '../copy/decide.js';
import { Limiter } from '../copy/limiter.js';
import type { ObjectInfo, ObjectStore } from '../store/object-store.js';
import { makeFilter, type FilterOptions } from './filters.js';
import { Cursor, orderedListing } from './ordered.js';

export interface DuplicateOptions extends FilterOptions {
  readonly prefix?: string;
  readonly dryRun?: boolean;
  readonly force?: boolean;
  /** Verify every copy by MD5 (reading back where the ETag is no MD5), whatever the config says. */
  readonly verifyMd5?: boolean;
  /** Objects in flight at once; default: the source's configured concurrency. */
  readonly concurrency?: number;
  readonly retry?: RetryPolicy;
  readonly logger?: Logger;
  /** Called once per key and destination as each is settled (copied, skipped, failed...). */
  readonly onResult?: (result: TargetResult) => void;
  /** Called for every source GET; a test counts reads with it. */
  readonly onSourceRead?: (key: string) => void;
  readonly signal?: AbortSignal;
}

/** Counts per key and destination: for one destination, or summed over all of them. */
export interface DestinationTotals {
  copied: number;
  skipped: number;
  gone: number;
  failed: number;
  wouldCopy: number;
  bytes: number;
}

export interface Failure {
  readonly key: string;
  readonly destination: string;
  readonly error: string;
}

export interface DuplicateReport extends DestinationTotals {
  readonly source: string;
  /** Source objects considered (after filters). */
  listed: number;
  seconds: number;
  /** The first failures (at most 1000 kept; `failed` counts all). */
  readonly failures: Failure[];
  readonly destinations: Record<string, DestinationTotals>;
  /** Set when the sweep stopped early: a listing failed or an error that no retry can fix. */
  aborted?: string;
}

const MAX_KEPT_FAILURES = 1000;

export async function duplicateBucket(source: ObjectStore, destinations: ObjectStore | readonly ObjectStore[], options: DuplicateOptions = {}): Promise<DuplicateReport> {
  const dests = Array.isArray(destinations) ? (destinations as readonly ObjectStore[]) : [destinations as ObjectStore];
  const log = options.logger ?? silentLogger;
  const started = performance.now();
  const report: DuplicateReport = {
    source: source.name,
    listed: 0,
    copied: 0,
    skipped: 0,
    gone: 0,
    failed: 0,
    wouldCopy: 0,
    bytes: 0,
    seconds: 0,
    failures: [],
    destinations: Object.fromEntries(dests.map((d) => [d.name, { copied: 0, skipped: 0, gone: 0, failed: 0, wouldCopy: 0, bytes: 0 }])),
  };
  const record = (r: TargetResult) => {
    const totals = report.destinations[r.destination]!;
    switch (r.outcome) {
      case 'copied':
        report.copied++;
        totals.copied++;
        report.bytes += r.bytes;
        totals.bytes += r.bytes;
        break;
      case 'skipped':
        report.skipped++;
        totals.skipped++;
        break;
      case 'gone':
        report.gone++;
        totals.gone++;
        break;
      case 'would copy':
        report.wouldCopy++;
        totals.wouldCopy++;
        break;
      case 'failed':
        report.failed++;
        totals.failed++;
        if (report.failures.length < MAX_KEPT_FAILURES) report.failures.push({ key: r.key, destination: r.destination, error: r.error?.message ?? 'unknown error' });
        if (r.error instanceof StoreError && r.error.errorClass === 'fatal') report.aborted ??= r.error.message;
        break;
    }
    options.onResult?.(r);
  };

  const filter = makeFilter(options);
  const concurrency = options.concurrency ?? source.settings.concurrency;
  const limiter = new Limiter(concurrency);
  const partSlots = new Limiter(concurrency);
  const running = new Set<Promise<void>>();
  const cursors = dests.map((d) => new Cursor(orderedListing(d, options.prefix)[Symbol.asyncIterator]()));
  try {
    for await (const object of orderedListing(source, options.prefix)) {
      if (report.aborted || options.signal?.aborted) break;
      if (!filter(object)) continue;
      report.listed++;
      const found = await Promise.all(cursors.map((c) => c.seek(object.key)));
      // Most keys of a second sweep are settled from the listings alone, without a task.
      const targets: CopyTarget[] = [];
      for (const [i, dest] of dests.entries()) {
        const known = found[i] ?? null;
        const d = decide(object, known, { force: options.force, verifyMd5: options.verifyMd5 || source.settings.verifyMd5 || dest.settings.verifyMd5 });
        if (d.action === 'skip') record({ destination: dest.name, key: object.key, outcome: 'skipped', bytes: 0 });
        else targets.push({ store: dest, key: object.key, known });
      }
      if (targets.length === 0) continue;
      await limiter.acquire();
      const task = copyKey({ store: source, key: object.key, info: object }, targets, {
        force: options.force,
        dryRun: options.dryRun,
        verifyMd5: options.verifyMd5,
        retry: options.retry,
        logger: log,
        onSourceRead: options.onSourceRead,
        partSlots,
      })
        .then((results) => results.forEach(record))
        .catch((err: unknown) => {
          // copyKey reports failures as results; reaching here is a bug, still counted, never lost.
          for (const t of targets) record({ destination: t.store.name, key: object.key, outcome: 'failed', bytes: 0, error: err instanceof Error ? err : new Error(String(err)) });
        })
        .finally(() => {
          limiter.release();
          running.delete(task);
        });
      running.add(task);
    }
  } catch (err) {
    // Reported once, by whoever reads the report.
    report.aborted = err instanceof ListingOrderError || err instanceof StoreError ? err.message : `listing failed: ${String(err)}`;
  } finally {
    await Promise.all(running);
    report.seconds = (performance.now() - started) / 1000;
  }
  if (options.signal?.aborted && !report.aborted) report.aborted = 'stopped by signal';
  return report;
}

export type { ObjectInfo };
