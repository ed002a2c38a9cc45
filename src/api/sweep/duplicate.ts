/**
 * duplicateBucket: a single-pass merge-join of the source listing with every destination
 * listing (all in UTF-8 byte order), copying what is missing or different. Listing and
 * copying overlap; a semaphore taken before each copy starts bounds what is in flight,
 * so memory depends on the concurrency, never on the number of keys.
 */
import type { MaxDelete } from '../config.js';
import { ListingOrderError, StoreError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { RetryPolicy } from '../retry.js';
import { copyKey, type CopyTarget, type TargetResult } from '../copy/copy-key.js';
import { decide, knownMd5 } from '../copy/decide.js';
import { Limiter } from '../copy/limiter.js';
import type { ObjectInfo, ObjectStore } from '../store/object-store.js';
import { DEFAULT_MAX_DELETE, deleteLimit, describeMaxDelete, runDeletes } from './deletes.js';
import { makeFilter, type FilterOptions } from './filters.js';
import { Cursor } from './ordered.js';
import { deletesAt, neverDeleted, settleGone, trashInSource, trashRoot } from '../sync/sync-key.js';
import { loadTrashRoots, registerTrashRoot, TRASH_REGISTRY_PREFIX } from '../sync/trash-roots.js';
import { fullKey, inTrash, scopedListing } from './scope.js';
import { KeySpool } from './spool.js';

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
  /**
   * Delete destination keys the source lacks (in scope, after filters), on every destination
   * whose section does not say `delete = false`; a section's `delete = true` deletes anyway.
   */
  readonly delete?: boolean;
  /** Cap on each destination's deletes, instead of its `max_delete` (default 10%). */
  readonly maxDelete?: MaxDelete;
  /** Also recopy objects whose standard headers or user metadata differ (`--check-metadata`). */
  readonly checkMetadata?: boolean;
  /** Delete even when the source lists no key in scope (else refused: a wrong bucket or prefix would empty the replica). */
  readonly allowEmptySource?: boolean;
  /**
   * Instead of copying a key the plan says to copy, hand it over (`s3s3bucket --enqueue`
   * queues it for the workers); the results it returns are recorded, none is fine. Awaited
   * inside the copy slot, so a slow hand-over is backpressure on the listing.
   */
  readonly onCopy?: (
    sourceKey: string,
    info: ObjectInfo,
    targets: readonly CopyTarget[],
  ) => Promise<readonly TargetResult[]>;
}

/** Counts per key and destination: for one destination, or summed over all of them. */
export interface DestinationTotals {
  copied: number;
  skipped: number;
  gone: number;
  failed: number;
  wouldCopy: number;
  /** Deleted (or moved to the trash) because the source lacks them. */
  deleted: number;
  wouldDelete: number;
  /** Not deleted: the source had the key again when asked right before deleting. */
  kept: number;
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
  /** Why no delete was made although deletes were asked for (a failed listing or copy, a signal). */
  deletesSkipped?: string;
  /** A guard refused the deletes (max_delete exceeded, empty source): the run fails. */
  refused?: string[];
}

const MAX_KEPT_FAILURES = 1000;

export async function duplicateBucket(
  source: ObjectStore,
  destinations: ObjectStore | readonly ObjectStore[],
  options: DuplicateOptions = {},
): Promise<DuplicateReport> {
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
    deleted: 0,
    wouldDelete: 0,
    kept: 0,
    destinations: Object.fromEntries(
      dests.map((d) => [
        d.name,
        { copied: 0, skipped: 0, gone: 0, failed: 0, wouldCopy: 0, deleted: 0, wouldDelete: 0, kept: 0, bytes: 0 },
      ]),
    ),
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
      case 'deleted':
      case 'trashed':
        report.deleted++;
        totals.deleted++;
        break;
      case 'would delete':
        report.wouldDelete++;
        totals.wouldDelete++;
        break;
      case 'kept':
        report.kept++;
        totals.kept++;
        break;
      case 'failed':
        report.failed++;
        totals.failed++;
        if (report.failures.length < MAX_KEPT_FAILURES)
          report.failures.push({ key: r.key, destination: r.destination, error: r.error?.message ?? 'unknown error' });
        if (r.error instanceof StoreError && r.error.errorClass === 'fatal') report.aborted ??= r.error.message;
        break;
    }
    options.onResult?.(r);
  };

  // Filters see keys relative to the prefixes, the same on both sides.
  const filter = makeFilter(options);
  const concurrency = options.concurrency ?? source.settings.concurrency;
  const limiter = new Limiter(concurrency);
  const partSlots = new Limiter(concurrency);
  // Per destination: keys it lists in scope, and those the source lacks (only where it deletes).
  const inScope = dests.map(() => 0);
  // Every trash root each destination ever used, read before its listing is: out of scope.
  try {
    await Promise.all(dests.map((d) => loadRoots(d, options.dryRun !== true && !options.onCopy)));
  } catch (err) {
    report.aborted = err instanceof Error ? err.message : String(err);
    report.seconds = (performance.now() - started) / 1000;
    if (dests.some((d) => deletesAt(d, options)) && !options.onCopy)
      report.deletesSkipped = `no delete in this run: the sweep stopped (${report.aborted})`;
    return report;
  }
  // Planning for the workers (onCopy) deletes nothing: no copy has happened yet, and a delete
  // must follow a run whose copies all succeeded (`--enqueue --delete --wait-drained` sweeps after).
  const spools = dests.map((d) => (deletesAt(d, options) && !options.onCopy ? new KeySpool() : undefined));
  const cursors = dests.map(
    (d, i) =>
      // Keys in scope: those the filters keep and a delete could touch (max_delete's base).
      new Cursor(
        counted(scopedListing(d, options.prefix), (o) =>
          filter(o) && !neverDeleted(d, fullKey(d, o.key)) ? inScope[i]!++ : 0,
        ),
        (o) => {
          if (filter(o) && !neverDeleted(d, fullKey(d, o.key))) spools[i]?.add({ key: o.key, size: o.size });
        },
      ),
  );
  let listed = false;
  try {
    try {
      for await (const object of scopedListing(source, options.prefix, 'source')) {
        if (report.aborted || options.signal?.aborted) break;
        const found = await Promise.all(cursors.map((c) => c.seek(object.key)));
        if (!filter(object)) continue;
        report.listed++;
        // Most keys of a second sweep are settled from the listings alone, without a task.
        const targets: CopyTarget[] = [];
        for (const [i, dest] of dests.entries()) {
          const target = fullKey(dest, object.key);
          if (inTrash(dest, target)) {
            // A source key that would land in this destination's trash: never written there.
            log.warn('skipped: the key would land in the destination trash', {
              key: fullKey(source, object.key),
              destination: dest.name,
            });
            record({
              destination: dest.name,
              key: target,
              outcome: 'skipped',
              bytes: 0,
              sourceKey: fullKey(source, object.key),
            });
            continue;
          }
          const known = found[i] ?? null;
          const d = decide(object, known, {
            force: options.force,
            verifyMd5: options.verifyMd5 || source.settings.verifyMd5 || dest.settings.verifyMd5,
          });
          if (d.action === 'skip' && !options.checkMetadata) {
            record({
              destination: dest.name,
              key: fullKey(dest, object.key),
              outcome: 'skipped',
              bytes: 0,
              sourceKey: fullKey(source, object.key),
              size: object.size,
              sourceEtag: object.etag,
              md5: knownMd5(object),
            });
          } else
            targets.push({
              store: dest,
              key: fullKey(dest, object.key),
              known: known && { ...known, key: fullKey(dest, known.key) },
            });
        }
        if (targets.length === 0) continue;
        const sourceInfo = { ...object, key: fullKey(source, object.key) };
        await limiter.spawn(() =>
          (options.onCopy
            ? options.onCopy(sourceInfo.key, sourceInfo, targets)
            : copyKey({ store: source, key: sourceInfo.key, info: sourceInfo }, targets, {
                force: options.force,
                dryRun: options.dryRun,
                verifyMd5: options.verifyMd5,
                retry: options.retry,
                logger: log,
                onSourceRead: options.onSourceRead,
                partSlots,
                checkMetadata: options.checkMetadata,
              })
          )
            // A key found gone (listed, then deleted before or while it was copied) is removed where
            // this run deletes, as the worker would: its delete event may have been handled before
            // this copy landed, and nothing else would remove it before the next sweep.
            .then((results) =>
              options.dryRun
                ? results
                : Promise.all(
                    results.map((r, i) =>
                      settleGone(source, sourceInfo.key, targets[i]!.store, r, {
                        delete: options.delete,
                        logger: log,
                        retry: options.retry,
                        partSlots,
                      }),
                    ),
                  ),
            )
            .then((results) => results.forEach(record))
            .catch((err: unknown) => {
              // copyKey reports failures as results; reaching here is a bug, still counted, never lost.
              for (const t of targets)
                record({
                  destination: t.store.name,
                  key: t.key,
                  outcome: 'failed',
                  bytes: 0,
                  error: err instanceof Error ? err : new Error(String(err)),
                });
            }),
        );
      }
      // The destination keys after the source's last one are extra too: list them to the end.
      if (!report.aborted && !options.signal?.aborted && spools.some((sp) => sp !== undefined)) {
        await Promise.all(cursors.map((c, i) => (spools[i] ? c.drain() : undefined)));
      }
      listed = !report.aborted && !options.signal?.aborted;
    } catch (err) {
      // Reported once, by whoever reads the report.
      report.aborted =
        err instanceof ListingOrderError || err instanceof StoreError ? err.message : `listing failed: ${String(err)}`;
    } finally {
      await limiter.drain();
    }
    if (spools.some((sp) => sp !== undefined))
      await deletePhase(source, dests, spools, inScope, listed, report, options, log, record, concurrency);
  } finally {
    for (const sp of spools) sp?.close();
    report.seconds = (performance.now() - started) / 1000;
  }
  if (options.signal?.aborted && !report.aborted) report.aborted = 'stopped by signal';
  return report;
}

/**
 * A destination's trash roots, read afresh (one LIST, one GET per root); with `register` and
 * trash mode on, its current root is recorded first if the registry lacks it (trash written before the
 * registry existed stays protected after trash_prefix changes).
 */
async function loadRoots(dest: ObjectStore, register: boolean): Promise<void> {
  try {
    const roots = await loadTrashRoots(dest);
    const current = trashRoot(dest);
    // Only a root trash mode writes to: a trash_prefix set under delete_mode = delete holds no
    // trash, and registering it would keep live keys out of every later sweep for good.
    if (register && dest.settings.deleteMode === 'trash' && current !== undefined && !roots.includes(current))
      await registerTrashRoot(dest, current);
  } catch (err) {
    // A store's own error names the endpoint, bucket and request already (a missing bucket reads as before).
    if (err instanceof StoreError) throw err;
    const cause = err instanceof Error ? err.message : String(err);
    throw new Error(
      `[${dest.name}] could not read the trash registry (${TRASH_REGISTRY_PREFIX} in ${dest.bucket}): ${cause}; the sweep needs it to keep every trash out of scope`,
    );
  }
}

/** Counts what a listing yields, as it yields it. */
async function* counted<T>(it: AsyncIterable<T>, onItem: (item: T) => void): AsyncGenerator<T> {
  for await (const x of it) {
    onItem(x);
    yield x;
  }
}

/**
 * Deletes only after a clean run: every listing finished, no copy failed, no signal; then
 * the guards (an empty source, `max_delete`) per destination; then each key once more
 * against the source.
 */
async function deletePhase(
  source: ObjectStore,
  dests: readonly ObjectStore[],
  spools: ReadonlyArray<KeySpool | undefined>,
  inScope: readonly number[],
  listed: boolean,
  report: DuplicateReport,
  options: DuplicateOptions,
  log: Logger,
  record: (r: TargetResult) => void,
  concurrency: number,
): Promise<void> {
  const why = !listed
    ? report.aborted
      ? `the sweep stopped (${report.aborted})`
      : 'the sweep was interrupted'
    : report.failed > 0
      ? `${report.failed} ${report.failed === 1 ? 'copy' : 'copies'} failed; deletes wait for a run where every copy succeeds`
      : undefined;
  if (why) {
    report.deletesSkipped = `no delete in this run: ${why}`;
    log.warn(report.deletesSkipped);
    return;
  }
  const refused: string[] = [];
  if (report.listed === 0 && !options.allowEmptySource) {
    const holding = dests
      .map((d, i) => (spools[i] && inScope[i]! > 0 ? `[${d.name}] holds ${inScope[i]}` : undefined))
      .filter(Boolean);
    if (holding.length > 0) {
      refused.push(
        `the source (${source.bucket}${source.settings.prefix ? `, prefix ${JSON.stringify(source.settings.prefix)}` : ''}) lists no key in scope while ${holding.join(', ')}: refusing to delete everything; check bucket_name, prefix and filters, or pass --allow-empty-source`,
      );
    }
  }
  for (const [i, dest] of dests.entries()) {
    const spool = spools[i];
    if (!spool || spool.length === 0) continue;
    if (refused.length > 0 && report.listed === 0) break;
    if (trashInSource(source, dest)) {
      refused.push(
        `[${dest.name}] trash_prefix lies in the source's prefix of the same bucket: nothing deleted there (trashed objects would be copied back); choose a trash_prefix outside it`,
      );
      continue;
    }
    const max = options.maxDelete ?? dest.settings.maxDelete ?? DEFAULT_MAX_DELETE;
    const limit = deleteLimit(max, inScope[i]!);
    if (spool.length > limit) {
      refused.push(
        `[${dest.name}] would delete ${spool.length} of ${inScope[i]} keys, more than max_delete ${describeMaxDelete(max)} (${limit}): nothing deleted there; check the source, or raise --max-delete / max_delete`,
      );
      continue;
    }
    await runDeletes({
      source,
      dest,
      spool,
      dryRun: options.dryRun === true,
      concurrency,
      log,
      record,
      signal: options.signal,
      copyOptions: { retry: options.retry, verifyMd5: options.verifyMd5 },
    });
  }
  if (refused.length > 0) {
    report.refused = refused;
    for (const r of refused) log.error(`delete refused: ${r}`);
  }
}

export type { ObjectInfo };
