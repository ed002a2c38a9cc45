/**
 * checkBucket: the proof that a replica agrees with its source (rclone's `check --combined`).
 * The same merge-join as a sweep, copying and deleting nothing: one line per key and
 * destination, `+` only in the source, `-` only in the destination, `*` different, `?`
 * not provable from the listings (and HEADs), `=` the same. Listings are streamed and
 * lines come out as they are settled, so memory depends on the concurrency, never on the
 * number of keys.
 */
import { hashObject } from '../copy/copy-key.js';
import { metadataDiff } from '../copy/source-now.js';
import { tagsDiffer } from '../copy/tags.js';
import { decide, type DestinationState } from '../copy/decide.js';
import { Limiter } from '../copy/limiter.js';
import { ListingOrderError, StoreError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { HeadInfo, ObjectInfo, ObjectStore } from '../store/object-store.js';
import { makeFilter, type FilterOptions } from './filters.js';
import { Cursor } from './ordered.js';
import { fullKey, scopedListing } from './scope.js';
import { neverDeleted } from '../sync/sync-key.js';
import { loadTrashRoots } from '../sync/trash-roots.js';

/** The names of the headers and metadata that differ (declared in copy/source-now.ts, the one rule). */
export { metadataDiff };

/** `+` only in the source, `-` only in the destination, `*` differs, `?` unproven, `=` same. */
export type CheckMark = '+' | '-' | '*' | '?' | '=' | 'v';

/** Every mark, in the order the summaries print them. */
export const CHECK_MARKS: readonly CheckMark[] = ['+', '-', '*', '?', '=', 'v'];

/** Every mark at zero (`v` too in a versioned check). */
export function zeroMarks(versions = false): MarkCounts {
  return Object.fromEntries(CHECK_MARKS.filter((m) => versions || m !== 'v').map((m) => [m, 0])) as MarkCounts;
}

/** Whether these counts show a difference (`?` alone does not). */
export function marksDiffer(c: MarkCounts): boolean {
  return c['+'] + c['-'] + c['*'] + (c.v ?? 0) > 0;
}

/** One key at one destination, as `s3s3bucket --check` prints it. */
export interface CheckLine {
  /** What the check found (see CheckMark). */
  readonly mark: CheckMark;
  /** The key as printed: the source's full key, except for `-` (the destination's full key). */
  readonly key: string;
  /** The destination's section name. */
  readonly destination: string;
  /** The destination's full key (differs from `key` when the prefixes differ); unset for `+`. */
  readonly destinationKey?: string;
  /**
   * Why `*`, `?` or `v`: `size differs`, `md5 differs`, `source changed`, `hash differs`,
   * `metadata differs: ...`, `unverifiable`; `versions missing` or why a history cannot follow.
   */
  readonly reason?: string;
}

/** How a check runs: scope, how hard it looks, and where its lines go. */
export interface CheckOptions extends FilterOptions {
  /** Only keys under this prefix (relative to the `prefix` settings). */
  readonly prefix?: string;
  /** Settle `?` by reading both bodies and comparing their MD5s. */
  readonly download?: boolean;
  /**
   * Also compare standard headers, user metadata (not `s3s3-*`) and tags (where the destination
   * takes them); HEADs both sides of every key.
   */
  readonly checkMetadata?: boolean;
  /** HEADs and downloads in flight at once; default: the source's configured concurrency. */
  readonly concurrency?: number;
  /** Where the check logs (default: nowhere). */
  readonly logger?: Logger;
  /** Stops the check: it reports `aborted`. */
  readonly signal?: AbortSignal;
  /**
   * Every line, `=` included, in key order per destination (the lines of several
   * destinations interleave). Called synchronously; do not throw.
   */
  readonly onLine?: (line: CheckLine) => void;
}

/** Lines per mark, for one destination; `v` only in a versioned check (`versions = true`). */
export type MarkCounts = Record<Exclude<CheckMark, 'v'>, number> & { v?: number };

/** A key the check could not settle at one destination (its HEAD or GET failed), and why. */
export interface CheckError {
  readonly key: string;
  readonly destination: string;
  readonly error: string;
}

/** What a check found: counts per destination and mark, errors, and whether the replica matches. */
export interface CheckReport {
  readonly source: string;
  /** Source keys in scope (after filters). */
  listed: number;
  /** Lines per destination and mark. */
  readonly destinations: Record<string, MarkCounts>;
  /** Keys whose HEAD or GET failed: the check is incomplete. */
  errors: number;
  /** The first errors (at most 100 kept; `errors` counts all). */
  readonly errorSamples: CheckError[];
  /** Set when the check stopped early: a listing failed, or a signal. */
  aborted?: string;
  /** No `+`, `-` or `*` anywhere, no error, and the check finished. `?` alone is ok. */
  ok: boolean;
  seconds: number;
}

const MAX_KEPT_ERRORS = 100;

/**
 * The proof that a replica agrees with its source (`s3s3bucket --check`, rclone's `check
 * --combined`): the same merge-join as a sweep, copying and deleting nothing. Lines come out as
 * they are settled (see CheckMark), so memory depends on the concurrency, never on the number of keys.
 */
export async function checkBucket(
  source: ObjectStore,
  destinations: ObjectStore | readonly ObjectStore[],
  options: CheckOptions = {},
): Promise<CheckReport> {
  const dests = Array.isArray(destinations) ? (destinations as readonly ObjectStore[]) : [destinations as ObjectStore];
  const log = options.logger ?? silentLogger;
  const started = performance.now();
  const report: CheckReport = {
    source: source.name,
    listed: 0,
    destinations: Object.fromEntries(dests.map((d) => [d.name, zeroMarks()])),
    errors: 0,
    errorSamples: [],
    ok: false,
    seconds: 0,
  };
  const concurrency = options.concurrency ?? source.settings.concurrency;
  const out = new InOrder(
    (line) => {
      report.destinations[line.destination]![line.mark]++;
      options.onLine?.(line);
    },
    Math.max(256, concurrency * 32),
  );
  const filter = makeFilter(options);
  const limiter = new Limiter(concurrency);
  const fail = (key: string, destination: string, err: unknown): void => {
    report.errors++;
    const error = err instanceof Error ? err.message : String(err);
    if (report.errorSamples.length < MAX_KEPT_ERRORS) report.errorSamples.push({ key, destination, error });
    log.error('could not check a key', { key, destination, error });
  };
  // A destination key the source lacks is a `-` (filters see the relative key, as in a sweep).
  const cursors = dests.map(
    (d) =>
      new Cursor(out.throttle(scopedListing(d, options.prefix)), (o) => {
        // A key under the default trash root is never deleted, so never an extra either.
        if (filter(o) && !neverDeleted(d, fullKey(d, o.key)))
          out.push([{ mark: '-', key: fullKey(d, o.key), destination: d.name, destinationKey: fullKey(d, o.key) }]);
      }),
  );
  try {
    try {
      // Every trash root each destination ever used is out of scope (one LIST each).
      await Promise.all(dests.map((d) => loadTrashRoots(d)));
      for await (const object of out.throttle(scopedListing(source, options.prefix, 'source'))) {
        if (options.signal?.aborted) break;
        const found = await Promise.all(cursors.map((c) => c.seek(object.key)));
        // A key filtered out at the source is out of scope on both sides.
        if (!filter(object)) continue;
        report.listed++;
        const sourceKey = fullKey(source, object.key);
        const lines: Array<CheckLine | undefined> = dests.map(() => undefined);
        const open: number[] = [];
        for (const [i, dest] of dests.entries()) {
          const listed = found[i] ?? null;
          const line =
            listed === null
              ? ({ mark: '+', key: sourceKey, destination: dest.name } as const)
              : fromListings(object, listed, sourceKey, dest, options);
          if (line) lines[i] = line;
          else open.push(i);
        }
        const slot = out.reserve();
        if (open.length === 0) {
          out.fill(slot, lines);
          continue;
        }
        // HEADs and downloads run concurrently; the slot keeps the key's place in the output.
        await limiter.spawn(() =>
          settleKey(
            source,
            { ...object, key: sourceKey },
            object.key,
            open.map((i) => ({ dest: dests[i]!, listed: found[i]! })),
            options,
          )
            .then((settled) => {
              for (const [j, i] of open.entries()) {
                const s = settled[j]!;
                if ('error' in s) fail(sourceKey, dests[i]!.name, s.error);
                else lines[i] = s;
              }
            })
            .catch((err: unknown) => {
              for (const i of open) fail(sourceKey, dests[i]!.name, err);
            })
            .finally(() => out.fill(slot, lines)),
        );
      }
      // The destination keys after the source's last one are extra too.
      if (!options.signal?.aborted) await Promise.all(cursors.map((c) => c.drain()));
    } catch (err) {
      report.aborted =
        err instanceof ListingOrderError || err instanceof StoreError ? err.message : `listing failed: ${String(err)}`;
    } finally {
      await limiter.drain();
    }
  } finally {
    report.seconds = (performance.now() - started) / 1000;
  }
  if (options.signal?.aborted && !report.aborted) report.aborted = 'stopped by signal';
  const differs = Object.values(report.destinations).some(marksDiffer);
  report.ok = !differs && report.errors === 0 && report.aborted === undefined;
  return report;
}

/** The line when the listings settle it (missing, size or MD5), else undefined: a HEAD is needed. */
function fromListings(
  object: ObjectInfo,
  listed: ObjectInfo,
  sourceKey: string,
  dest: ObjectStore,
  options: CheckOptions,
): CheckLine | undefined {
  const d = decide(object, listed);
  const destinationKey = fullKey(dest, listed.key);
  if (d.action === 'copy')
    return { mark: '*', key: sourceKey, destination: dest.name, destinationKey, reason: d.reason };
  // An empty object's ETag is every empty object's: its metadata decides (see the sweep's plan).
  if (d.action === 'skip' && !options.checkMetadata && object.size !== 0)
    return { mark: '=', key: sourceKey, destination: dest.name, destinationKey };
  return undefined;
}

type Settled = CheckLine | { readonly error: unknown };

/** One source key against the destinations the listings could not settle. */
async function settleKey(
  source: ObjectStore,
  object: ObjectInfo,
  rel: string,
  targets: ReadonlyArray<{ dest: ObjectStore; listed: ObjectInfo }>,
  options: CheckOptions,
): Promise<Settled[]> {
  // Shared by every destination of this key: one source HEAD, one source download at most.
  let sourceHead: Promise<HeadInfo | null> | undefined;
  let sourceHash: Promise<string | null> | undefined;
  const headSource = () => (sourceHead ??= source.head(object.key));
  const hashSource = () => (sourceHash ??= hashObject(source, object.key));
  return Promise.all(
    targets.map(async ({ dest, listed }): Promise<Settled> => {
      const destinationKey = fullKey(dest, rel);
      const line = (mark: CheckMark, reason?: string): CheckLine => ({
        mark,
        key: mark === '-' ? destinationKey : object.key,
        destination: dest.name,
        destinationKey,
        ...(reason ? { reason } : {}),
      });
      try {
        let head: HeadInfo | null | undefined;
        let d = decide(object, listed);
        if (d.action === 'head') {
          // s3s3 records the source's MD5 and ETag in the copy's metadata: a HEAD may prove it.
          head = await dest.head(destinationKey);
          if (head === null) return line('+');
          d = decide(object, head as DestinationState, { verifyMd5: options.download });
        }
        if (d.action === 'hash') {
          const [a, b] = await Promise.all([hashSource(), hashObject(dest, destinationKey)]);
          if (a === null) return line('-');
          if (b === null) return line('+');
          d = a === b ? { action: 'skip' } : { action: 'copy', reason: 'hash differs' };
        }
        if (d.action === 'copy' && d.reason !== 'unverifiable') return line('*', d.reason);
        if (options.checkMetadata || object.size === 0) {
          head ??= await dest.head(destinationKey);
          if (head === null) return line('+');
          const src = await headSource();
          if (src === null) return line('-');
          const diff = metadataDiff(src, head);
          if (diff.length > 0) return line('*', `metadata differs: ${diff.join(', ')}`);
          if (
            await tagsDiffer(
              { store: source, key: object.key },
              src,
              { store: dest, key: destinationKey },
              head,
              options,
            )
          )
            return line('*', 'tags differ');
        }
        return d.action === 'copy' ? line('?', d.reason) : line('=');
      } catch (error) {
        return { error };
      }
    }),
  );
}

interface Slot {
  lines: ReadonlyArray<CheckLine | undefined> | undefined;
}

/**
 * Lines in the order their keys were listed, although HEADs finish in any order: each key
 * takes a slot when listed and its lines leave once every earlier slot has. The number of
 * slots waiting is bounded; listings pause (throttle) while it is reached.
 */
class InOrder {
  private readonly slots: Slot[] = [];
  private waiters: Array<() => void> = [];

  constructor(
    private readonly emit: (line: CheckLine) => void,
    private readonly max: number,
  ) {}

  reserve(): Slot {
    const slot: Slot = { lines: undefined };
    this.slots.push(slot);
    return slot;
  }

  fill(slot: Slot, lines: ReadonlyArray<CheckLine | undefined>): void {
    slot.lines = lines;
    this.flush();
  }

  /** Lines that are settled now, kept behind any earlier slot still open. */
  push(lines: readonly CheckLine[]): void {
    if (this.slots.length === 0) for (const l of lines) this.emit(l);
    else this.slots.push({ lines });
  }

  /** A listing that pauses while too many slots wait. */
  async *throttle(it: AsyncIterable<ObjectInfo>): AsyncGenerator<ObjectInfo> {
    for await (const o of it) {
      while (this.slots.length >= this.max) await new Promise<void>((r) => this.waiters.push(r));
      yield o;
    }
  }

  private flush(): void {
    while (this.slots.length > 0 && this.slots[0]!.lines !== undefined) {
      for (const l of this.slots.shift()!.lines!) if (l) this.emit(l);
    }
    if (this.slots.length < this.max && this.waiters.length > 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const r of w) r();
    }
  }
}
