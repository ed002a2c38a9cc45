/** The sweep: duplicateBucket and its phases (Sweep). */
import type { MaxDelete } from '../config.js';
import { ListingOrderError, StoreError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { RetryPolicy } from '../retry.js';
import type { Resumable } from '../copy/resume.js';
import { copyKey, type CopyTarget, type Outcome, type TargetResult } from '../copy/copy-key.js';
import { decide, knownMd5 } from '../copy/decide.js';
import { Limiter } from '../copy/limiter.js';
import type { ObjectInfo, ObjectStore } from '../store/object-store.js';
import { deletePhase, runDeletes } from './deletes.js';
import { findSplit, rangeListing, type KeyRange, type ListingMark } from './key-range.js';
import { makeFilter, type FilterOptions } from './filters.js';
import { compareKeys, Cursor } from './ordered.js';
import { deletesAt, neverDeleted, settleGone, trashRoot } from '../sync/sync-key.js';
import { loadTrashRoots, registerTrashRoot, TRASH_REGISTRY_PREFIX } from '../sync/trash-roots.js';
import { fullKey, inTrash, scopedListing } from './scope.js';
import { KeySpool } from './spool.js';

/** How a sweep runs (`s3s3bucket`'s flags, for the library): scope, copy rules, deletes, callbacks. */
export interface DuplicateOptions extends FilterOptions {
  /** Only keys under this prefix (relative to the `prefix` settings). */
  readonly prefix?: string;
  /** Copy and delete nothing: each would-be copy or delete is a `would copy` / `would delete` result. */
  readonly dryRun?: boolean;
  /** Copy every object even when the destination already has it. */
  readonly force?: boolean;
  /** Verify every copy by MD5 (reading back where the ETag is no MD5), whatever the config says. */
  readonly verifyMd5?: boolean;
  /** Objects in flight at once; default: the source's configured concurrency. */
  readonly concurrency?: number;
  /** Retries of each request and copy (default: the stores' own). */
  readonly retry?: RetryPolicy;
  /** Where the sweep logs (default: nowhere). */
  readonly logger?: Logger;
  /** Called once per key and destination as each is settled (copied, skipped, failed...). */
  readonly onResult?: (result: TargetResult) => void;
  /** Called for every source GET; a test counts reads with it. */
  readonly onSourceRead?: (key: string) => void;
  /** Stops the sweep: no new copy starts, those in flight finish, nothing is deleted. */
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
  /** Keeps multipart uploads resumable (see CopyKeyOptions.uploads). */
  readonly uploads?: Resumable;
  /**
   * Delete even when the source lists no key in scope (else refused: a wrong bucket or prefix
   * would empty the replica).
   */
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

/** One failed key at one destination, with the error's message. */
export interface Failure {
  readonly key: string;
  readonly destination: string;
  readonly error: string;
}

/** What a sweep did: the totals over every destination, per destination, and why it stopped or did not delete. */
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

/**
 * A sweep of one key range (`s3s3bucket --distribute`'s range jobs): DuplicateOptions, plus the
 * range, the step, and the hooks the distributed run needs.
 */
export interface RangeSweepOptions extends DuplicateOptions {
  /** The keys `(after, upTo]`, relative to the prefixes; `upTo` shrinks when the range splits. */
  readonly range: KeyRange;
  /**
   * `copy`: list, plan, copy, and count the delete candidates, deleting nothing (the run's
   * max_delete is judged once every range is listed); `delete`: list, and delete what the
   * source lacks at the `deleteAt` destinations, each delete taken from `budget`.
   */
  readonly step: 'copy' | 'delete';
  /** The delete step's destinations (section names): those the run's guards let delete. */
  readonly deleteAt?: readonly string[];
  /** The run-wide max_delete: grants at most `n` deletes at `destination` (see runDeletes). */
  readonly budget?: (destination: string, n: number) => Promise<number>;
  /** Look for a split after this many source keys since the start or the last look (default: never). */
  readonly splitEvery?: number;
  /**
   * A split at `split`: `(split, upTo]` is handed over (a new range job); once it resolves,
   * this range shrinks to `(after, split]`.
   */
  readonly onSplit?: (split: string, upTo: string | undefined) => Promise<void>;
  /** Asked before looking for a split: false holds the range whole (the run has ranges enough waiting). */
  readonly maySplit?: () => Promise<boolean>;
  /** Live progress: `n` more source keys listed; listing waits for a promise it returns (back-pressure). */
  readonly onListed?: (n: number) => void | Promise<void>;
}

/** What a range sweep did: a DuplicateReport, and what the run-wide delete guards need. */
export interface RangeReport extends DuplicateReport {
  /** Per destination that deletes in this run: its keys in scope within the range (max_delete's base). */
  readonly inScope: Record<string, number>;
  /** Per destination that deletes: its keys in scope the source lacks (copy step). */
  readonly candidates: Record<string, number>;
  /** Per destination: keys the delete step left for want of budget. */
  readonly overBudget: Record<string, number>;
}

/** One key range swept (see RangeSweepOptions): the phases of duplicateBucket on `(after, upTo]`. */
export async function sweepRange(
  source: ObjectStore,
  destinations: readonly ObjectStore[],
  options: RangeSweepOptions,
): Promise<RangeReport> {
  const sweep = new Sweep(source, destinations, options);
  await sweep.run();
  return sweep.rangeReport();
}

/** The first failures kept in a report (`failed` counts all). */
const MAX_KEPT_FAILURES = 1000;

/** The counters of DestinationTotals, in the order reports print them (zeroTotals checks it is all of them). */
export const COUNTERS = [
  'copied',
  'skipped',
  'gone',
  'failed',
  'wouldCopy',
  'deleted',
  'wouldDelete',
  'kept',
  'bytes',
] as const satisfies ReadonlyArray<keyof DestinationTotals>;

/** A counter one outcome adds 1 to (bytes are summed apart). */
type Counter = Exclude<(typeof COUNTERS)[number], 'bytes'>;

/**
 * What each outcome counts as, for one destination and for the whole report: the counter it
 * adds 1 to, and whether its bytes add to `bytes` (only a copy made moves bytes; the sizes on
 * `would copy` and `would delete` rows are for reports). A trash move is a delete. Typed over
 * every Outcome, so an outcome added to copy-key.ts fails to compile until it is counted here.
 */
const OUTCOME_COUNTS: Readonly<Record<Outcome, { readonly counter: Counter; readonly bytes?: true }>> = {
  copied: { counter: 'copied', bytes: true },
  skipped: { counter: 'skipped' },
  gone: { counter: 'gone' },
  failed: { counter: 'failed' },
  'would copy': { counter: 'wouldCopy' },
  deleted: { counter: 'deleted' },
  trashed: { counter: 'deleted' },
  'would delete': { counter: 'wouldDelete' },
  kept: { counter: 'kept' },
};

/** A report with nothing counted yet, for a sweep of `source` to `dests`. */
export function emptyReport(source: ObjectStore, dests: readonly ObjectStore[]): DuplicateReport {
  return {
    source: source.name,
    listed: 0,
    ...zeroTotals(),
    seconds: 0,
    failures: [],
    destinations: Object.fromEntries(dests.map((d) => [d.name, zeroTotals()])),
  };
}

/** One result counted in the report (its destination's totals and the whole), a failure kept. */
export function countResult(report: DuplicateReport, r: TargetResult): void {
  const totals = report.destinations[r.destination]!;
  const { counter, bytes } = OUTCOME_COUNTS[r.outcome];
  report[counter]++;
  totals[counter]++;
  if (bytes) {
    report.bytes += r.bytes;
    totals.bytes += r.bytes;
  }
  if (r.outcome === 'failed') {
    if (report.failures.length < MAX_KEPT_FAILURES)
      report.failures.push({ key: r.key, destination: r.destination, error: r.error?.message ?? 'unknown error' });
    if (r.error instanceof StoreError && r.error.errorClass === 'fatal') report.aborted ??= r.error.message;
  }
}

/** Every counter at zero. */
function zeroTotals(): DestinationTotals {
  // satisfies: a field added to DestinationTotals fails to compile until COUNTERS has it.
  const zero = Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Record<Counter | 'bytes', number>;
  return zero satisfies DestinationTotals;
}

/**
 * The sweep (`s3s3bucket`): a single-pass merge-join of the source listing with every
 * destination listing (all in UTF-8 byte order), copying what is missing or different; with
 * `delete`, then deleting what the source lacks, after a clean run and within the guards.
 * Listing and copying overlap; a semaphore taken before each copy starts bounds what is in
 * flight, so memory depends on the concurrency, never on the number of keys. The phases live
 * on Sweep.
 */
export async function duplicateBucket(
  source: ObjectStore,
  destinations: ObjectStore | readonly ObjectStore[],
  options: DuplicateOptions = {},
): Promise<DuplicateReport> {
  const dests = Array.isArray(destinations) ? (destinations as readonly ObjectStore[]) : [destinations as ObjectStore];
  return new Sweep(source, dests, options).run();
}

/** One destination as the sweep walks it. */
interface Lane {
  readonly store: ObjectStore;
  /** Its listing, merged with the source's. */
  readonly cursor: Cursor;
  /** The keys it lists in scope (those the filters keep and a delete could touch): max_delete's base. */
  inScope: number;
  /** The keys in scope the source lacks, set aside for the delete phase; only where this run deletes. */
  readonly spool: KeySpool | undefined;
  /** A range's copy step counts the keys the source lacks instead (`candidates`). */
  readonly counting: boolean;
  candidates: number;
  /** The last key its listing yielded (a split lands above it). */
  readonly mark: ListingMark;
}

/**
 * One sweep, in named phases (rclone's syncCopyMove, mc's mirrorJob):
 * - **list**: the source listing merged with every destination listing, one pass, in UTF-8 byte
 *   order; a destination key the source lacks is spooled for the delete phase;
 * - **plan**: per key, which destinations need a copy (most of a second sweep is settled here,
 *   from the listings alone, without a task);
 * - **copy**: the copy (or the hand-over, `onCopy`), in a slot of a limiter taken before it
 *   starts, so the listing waits for the copies (memory depends on the concurrency only);
 * - **settle**: a key found gone while copied is removed where this run deletes; every result
 *   is counted through OUTCOME_COUNTS;
 * - **delete**: after a clean run only, within the guards (deletes.ts: deletePhase).
 */
class Sweep {
  private readonly log: Logger;
  /** Set for a range sweep (`--distribute`); undefined for a whole sweep. */
  private readonly ranged: RangeSweepOptions | undefined;
  private lanes: readonly Lane[] = [];
  private readonly sourceMark: ListingMark = {};
  private readonly overBudget: Record<string, number> = {};
  private readonly started = performance.now();
  private readonly report: DuplicateReport;
  /** Filters see keys relative to the prefixes, the same on both sides. */
  private readonly filter: (o: ObjectInfo) => boolean;
  private readonly concurrency: number;
  /** Copies in flight. */
  private readonly limiter: Limiter;
  /** Multipart parts in flight, shared by every copy. */
  private readonly partSlots: Limiter;

  constructor(
    private readonly source: ObjectStore,
    private readonly dests: readonly ObjectStore[],
    private readonly options: DuplicateOptions | RangeSweepOptions,
  ) {
    this.log = options.logger ?? silentLogger;
    this.ranged = 'range' in options ? options : undefined;
    this.report = emptyReport(source, dests);
    this.filter = makeFilter(options);
    this.concurrency = options.concurrency ?? source.settings.concurrency;
    this.limiter = new Limiter(this.concurrency);
    this.partSlots = new Limiter(this.concurrency);
  }

  /** Every phase in turn; the report, also when a phase stopped the sweep. */
  async run(): Promise<DuplicateReport> {
    const { report, options } = this;
    // Every trash root each destination ever used, read before its listing is: out of scope.
    try {
      await Promise.all(this.dests.map((d) => loadRoots(d, options.dryRun !== true && !options.onCopy)));
    } catch (err) {
      report.aborted = err instanceof Error ? err.message : String(err);
      report.seconds = this.elapsed();
      if (this.dests.some((d) => deletesAt(d, options)) && !options.onCopy)
        report.deletesSkipped = `no delete in this run: the sweep stopped (${report.aborted})`;
      return report;
    }
    const lanes = this.dests.map((d) => this.lane(d));
    this.lanes = lanes;
    try {
      const listed = await this.list(lanes);
      if (this.ranged) {
        if (listed && this.ranged.step === 'delete') await this.deleteRange(lanes);
      } else if (lanes.some((l) => l.spool !== undefined)) await this.delete(lanes, listed);
    } finally {
      for (const l of lanes) l.spool?.close();
      report.seconds = this.elapsed();
    }
    if (options.signal?.aborted && !report.aborted) report.aborted = 'stopped by signal';
    return report;
  }

  /** A destination's lane: its listing, counted and spooled as the merge passes its keys. */
  private lane(store: ObjectStore): Lane {
    const inScope = (o: ObjectInfo) => this.filter(o) && !neverDeleted(store, fullKey(store, o.key));
    // Planning for the workers (onCopy) deletes nothing: no copy has happened yet, and a delete
    // must follow a run whose copies all succeeded (`--enqueue --delete --wait-drained` sweeps after).
    const deletes = deletesAt(store, this.options) && !this.options.onCopy;
    const r = this.ranged;
    // A range's copy step only counts the candidates; its delete step spools them where the run deletes.
    const counting = r !== undefined && r.step === 'copy' && deletes;
    const spooling = r === undefined ? deletes : r.step === 'delete' && (r.deleteAt ?? []).includes(store.name);
    const spool = spooling ? new KeySpool() : undefined;
    const mark: ListingMark = {};
    const listing = r
      ? rangeListing(store, this.options.prefix ?? '', 'destination', r.range, mark)
      : scopedListing(store, this.options.prefix);
    const lane: Lane = {
      store,
      inScope: 0,
      spool,
      counting,
      candidates: 0,
      mark,
      cursor: new Cursor(
        counted(listing, (o) => {
          if (inScope(o)) lane.inScope++;
        }),
        (o) => {
          if (!inScope(o)) return;
          spool?.add({ key: o.key, size: o.size });
          if (counting) lane.candidates++;
        },
      ),
    };
    return lane;
  }

  /**
   * The list phase, with plan and copy for each source key; then the destination keys after the
   * source's last one. True when every listing finished (no abort, no signal): deletes may follow.
   */
  private async list(lanes: readonly Lane[]): Promise<boolean> {
    const { report, options, ranged } = this;
    const listing = ranged
      ? rangeListing(this.source, options.prefix ?? '', 'source', ranged.range, this.sourceMark)
      : scopedListing(this.source, options.prefix, 'source');
    let sinceSplit = 0;
    let splitBackoff = 1;
    let unreported = 0;
    try {
      for await (const object of listing) {
        if (report.aborted || options.signal?.aborted) break;
        const found = await Promise.all(lanes.map((l) => l.cursor.seek(object.key)));
        if (ranged && ++sinceSplit >= (ranged.splitEvery ?? Infinity) * splitBackoff) {
          sinceSplit = 0;
          // A look that found no split costs up to 32 listing requests: look half as often after each.
          splitBackoff = (await this.split(ranged)) ? 1 : splitBackoff * 2;
        }
        if (ranged?.onListed && ++unreported >= 1000) {
          const n = unreported;
          unreported = 0;
          await ranged.onListed(n);
        }
        if (!this.filter(object)) continue;
        // The delete step only looks for what the source lacks: the copy step planned every key.
        if (ranged?.step === 'delete') continue;
        report.listed++;
        const targets = this.plan(object, found);
        if (targets.length > 0) await this.copy(object, targets);
      }
      if (unreported > 0) await ranged?.onListed?.(unreported);
      // The destination keys after the source's last one are extra too: list them to the end.
      if (!report.aborted && !options.signal?.aborted && lanes.some((l) => l.spool !== undefined || l.counting)) {
        await Promise.all(lanes.map((l) => (l.spool || l.counting ? l.cursor.drain() : undefined)));
      }
      return !report.aborted && !options.signal?.aborted;
    } catch (err) {
      // Reported once, by whoever reads the report.
      report.aborted =
        err instanceof ListingOrderError || err instanceof StoreError ? err.message : `listing failed: ${String(err)}`;
      return false;
    } finally {
      await this.limiter.drain();
    }
  }

  /**
   * The plan phase for one source key: the destinations to copy it to. Those the listings
   * settle (in place, or a key that would land in the destination's trash) are recorded skipped.
   */
  private plan(object: ObjectInfo, found: ReadonlyArray<ObjectInfo | null>): CopyTarget[] {
    const { source, options } = this;
    const sourceKey = fullKey(source, object.key);
    const targets: CopyTarget[] = [];
    for (const [i, dest] of this.dests.entries()) {
      const target = fullKey(dest, object.key);
      if (inTrash(dest, target)) {
        // A source key that would land in this destination's trash: never written there.
        this.log.warn('skipped: the key would land in the destination trash', {
          key: sourceKey,
          destination: dest.name,
        });
        this.record({ destination: dest.name, key: target, outcome: 'skipped', bytes: 0, sourceKey });
        continue;
      }
      const known = found[i] ?? null;
      const d = decide(object, known, {
        force: options.force,
        verifyMd5: options.verifyMd5 || source.settings.verifyMd5 || dest.settings.verifyMd5,
      });
      // Every empty object has one ETag: for those, equal ETags prove nothing about the rest
      // (an empty object written again with other metadata), so their metadata is compared.
      if (d.action === 'skip' && !options.checkMetadata && object.size !== 0) {
        this.record({
          destination: dest.name,
          key: target,
          outcome: 'skipped',
          bytes: 0,
          sourceKey,
          size: object.size,
          sourceEtag: object.etag,
          md5: knownMd5(object),
        });
      } else targets.push({ store: dest, key: target, known: known && { ...known, key: fullKey(dest, known.key) } });
    }
    return targets;
  }

  /**
   * The copy phase for one key: waits for a slot (backpressure on the listing), then copies it
   * (or hands it over, `onCopy`) and settles the results, without waiting for them.
   */
  private async copy(object: ObjectInfo, targets: readonly CopyTarget[]): Promise<void> {
    const { source, options } = this;
    const sourceInfo = { ...object, key: fullKey(source, object.key) };
    await this.limiter.spawn(() =>
      (options.onCopy
        ? options.onCopy(sourceInfo.key, sourceInfo, targets)
        : copyKey({ store: source, key: sourceInfo.key, info: sourceInfo }, targets, {
            force: options.force,
            dryRun: options.dryRun,
            verifyMd5: options.verifyMd5,
            retry: options.retry,
            logger: this.log,
            onSourceRead: options.onSourceRead,
            partSlots: this.partSlots,
            checkMetadata: options.checkMetadata || object.size === 0,
            uploads: options.uploads,
          })
      )
        .then((results) => this.settle(sourceInfo.key, targets, results))
        .then((results) => results.forEach((r) => this.record(r)))
        .catch((err: unknown) => {
          // copyKey reports failures as results; reaching here is a bug, still counted, never lost.
          for (const t of targets)
            this.record({
              destination: t.store.name,
              key: t.key,
              outcome: 'failed',
              bytes: 0,
              error: err instanceof Error ? err : new Error(String(err)),
            });
        }),
    );
  }

  /**
   * The settle phase for one key's results. A key found gone (listed, then deleted before or
   * while it was copied) is removed where this run deletes, as the worker would: its delete event
   * may have been handled before this copy landed, and nothing else would remove it before the
   * next sweep.
   */
  private async settle(
    sourceKey: string,
    targets: readonly CopyTarget[],
    results: readonly TargetResult[],
  ): Promise<readonly TargetResult[]> {
    const { options } = this;
    if (options.dryRun) return results;
    return Promise.all(
      results.map((r, i) =>
        settleGone(this.source, sourceKey, targets[i]!.store, r, {
          delete: options.delete,
          logger: this.log,
          retry: options.retry,
          partSlots: this.partSlots,
          uploads: options.uploads,
        }),
      ),
    );
  }

  /**
   * The delete phase: only after a clean run (every listing finished, no copy failed, no
   * signal); then the guards and the deletes themselves (deletes.ts).
   */
  private async delete(lanes: readonly Lane[], listed: boolean): Promise<void> {
    const { report, options, log } = this;
    const why = !listed
      ? report.aborted
        ? `the sweep stopped (${report.aborted})`
        : 'the sweep was interrupted'
      : report.failed > 0
        ? `${report.failed} ${report.failed === 1 ? 'copy' : 'copies'} failed; ` +
          'deletes wait for a run where every copy succeeds'
        : undefined;
    if (why) {
      report.deletesSkipped = `no delete in this run: ${why}`;
      log.warn(report.deletesSkipped);
      return;
    }
    const refused = await deletePhase({
      source: this.source,
      destinations: lanes.flatMap((l) => (l.spool ? [{ dest: l.store, spool: l.spool, inScope: l.inScope }] : [])),
      sourceListed: report.listed,
      maxDelete: options.maxDelete,
      allowEmptySource: options.allowEmptySource,
      dryRun: options.dryRun === true,
      concurrency: this.concurrency,
      log,
      record: (r) => this.record(r),
      signal: options.signal,
      copyOptions: { retry: options.retry, verifyMd5: options.verifyMd5 },
    });
    if (refused.length > 0) {
      report.refused = refused;
      for (const r of refused) log.error(`delete refused: ${r}`);
    }
  }

  /**
   * A range grown long hands what is left above a split over (onSplit), then shrinks to below
   * it. The split lands above every key any listing of this range has yielded, so no key is
   * both here and there; the listings stop at the new end as they reach it. True when it split.
   */
  private async split(r: RangeSweepOptions): Promise<boolean> {
    if (!r.onSplit) return false;
    // Held whole is no failed look: the next look comes at the usual interval.
    // A split that cannot be recorded (Redis failing over) is no split: the range goes on whole.
    if (r.maySplit && !(await r.maySplit().catch(() => false))) return true;
    let low = this.sourceMark.last;
    for (const l of this.lanes)
      if (l.mark.last !== undefined && (low === undefined || compareKeys(l.mark.last, low) > 0)) low = l.mark.last;
    if (low === undefined) return false;
    const upTo = r.range.upTo;
    const at = await findSplit(this.source, this.options.prefix ?? '', low, upTo);
    if (at === undefined) return false;
    try {
      await r.onSplit(at, upTo);
    } catch (err) {
      // Whether Redis kept the split or not, sweeping the whole range stays right (a key swept
      // twice is harmless); the range's end in Redis is compared when it finishes.
      this.options.logger?.warn('range not split (its split could not be recorded); it goes on whole', {
        split: at,
        error: err instanceof Error ? err.message : String(err),
      });
      return false;
    }
    r.range.upTo = at;
    return true;
  }

  /**
   * A range's delete step: the spooled keys deleted at each destination the run lets delete,
   * each re-checked against the source right before (runDeletes), each taken from the run's budget.
   */
  private async deleteRange(lanes: readonly Lane[]): Promise<void> {
    const r = this.ranged!;
    const { options } = this;
    for (const l of lanes) {
      if (!l.spool || options.signal?.aborted) continue;
      const name = l.store.name;
      await runDeletes({
        source: this.source,
        dest: l.store,
        spool: l.spool,
        dryRun: false,
        concurrency: this.concurrency,
        log: this.log,
        record: (x) => this.record(x),
        signal: options.signal,
        copyOptions: { retry: options.retry, verifyMd5: options.verifyMd5 },
        budget: r.budget ? (n) => r.budget!(name, n) : undefined,
        onOverBudget: (n) => (this.overBudget[name] = (this.overBudget[name] ?? 0) + n),
      });
    }
  }

  /** The report with what a distributed run's guards need (sweepRange). */
  rangeReport(): RangeReport {
    const deleting = this.lanes.filter((l) => l.counting || l.spool);
    return {
      ...this.report,
      inScope: Object.fromEntries(deleting.map((l) => [l.store.name, l.inScope])),
      candidates: Object.fromEntries(deleting.map((l) => [l.store.name, l.candidates])),
      overBudget: { ...this.overBudget },
    };
  }

  /** Counts one settled result (OUTCOME_COUNTS), for its destination and the whole run; then onResult. */
  private record(r: TargetResult): void {
    countResult(this.report, r);
    this.options.onResult?.(r);
  }

  private elapsed(): number {
    return (performance.now() - this.started) / 1000;
  }
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
      `[${dest.name}] could not read the trash registry (${TRASH_REGISTRY_PREFIX} in ${dest.bucket}): ${cause}; ` +
        'the sweep needs it to keep every trash out of scope',
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

export type { ObjectInfo };
