/**
 * The versioned sweep (`[source] versions = true`): a merge-join of the source's version listing
 * with every destination's, key by key in UTF-8 byte order, each key's history reconciled
 * (reconcile.ts) with a limit on keys in flight; keys the source has no entry of are deleted
 * after a clean run, within the guards of every sweep (max_delete, an empty source).
 */
import { silentLogger } from '../log.js';
import { Limiter } from '../copy/limiter.js';
import type { TargetResult } from '../copy/copy-key.js';
import { isVersionCapable, type ObjectStore, type VersionEntry } from '../store/object-store.js';
import { judgeDeletes } from '../sweep/deletes.js';
import { countResult, emptyReport, type DuplicateOptions, type DuplicateReport } from '../sweep/duplicate.js';
import { makeFilter } from '../sweep/filters.js';
import { rangedPages } from '../sweep/ranged-listing.js';
import { KeySpool } from '../sweep/spool.js';
import { deletesAt, fullKey, storePrefix } from '../sync/sync-key.js';
import { deleteHistory, HistoryDiffersError, keyHistory, reconcileHistory, type Versioned } from './reconcile.js';

/** One key's entries, newest first, the key relative to the store's prefix. */
interface KeyGroup {
  readonly rel: string;
  readonly entries: VersionEntry[];
}

/**
 * A store's version listing under `prefix`, grouped by key (a key's history may span pages), in
 * `list_parallel` key ranges at once (rangedPages: a split never falls inside a key's history).
 */
async function* groups(store: Versioned, prefix: string): AsyncGenerator<KeyGroup> {
  const base = storePrefix(store);
  let current: KeyGroup | undefined;
  let seen = new Set<string>();
  const full = base + prefix;
  const entries = rangedPages(
    store,
    {
      page: async (o) => {
        const got = await store.listVersionsPage({ prefix: full, ...o });
        return { items: got.entries, next: got.next };
      },
      keyOf: (e: VersionEntry) => e.key,
      repeats: true,
    },
    full,
    { parallel: store.settings.listParallel },
  );
  {
    for await (const e of entries) {
      const rel = e.key.slice(base.length);
      if (current && current.rel === rel) {
        // The same version twice (a server ignoring version-id-marker): the history read is wrong.
        if (seen.has(e.versionId))
          throw new Error(
            `the version listing of ${store.bucket} at ${store.endpoint} repeats version ${e.versionId} of ` +
              `${JSON.stringify(e.key)}; nothing was compared after it`,
          );
        seen.add(e.versionId);
        current.entries.push(e);
      } else {
        // Out of order (or a key's history split in two): the merge would pair the wrong histories.
        if (current && compare(current.rel, rel) >= 0)
          throw new Error(
            `the version listing of ${store.bucket} at ${store.endpoint} is out of order at ` +
              `${JSON.stringify(e.key)}; nothing was compared after it`,
          );
        if (current) yield current;
        current = { rel, entries: [e] };
        seen = new Set([e.versionId]);
      }
    }
  }
  if (current) yield current;
}

/** A listing read one group ahead, for the merge. */
class Cursor {
  head: KeyGroup | undefined;
  private readonly it: AsyncGenerator<KeyGroup>;
  constructor(store: Versioned, prefix: string) {
    this.it = groups(store, prefix);
  }
  async advance(): Promise<void> {
    const n = await this.it.next();
    this.head = n.done ? undefined : n.value;
  }
}

/** Keys only a destination has, set aside (on disk past a few thousand) for the delete phase. */
interface Doomed {
  readonly spool: KeySpool;
  /** Those the delete would change: a newest entry that is no delete marker (any, with delete_mode = versions). */
  candidates: number;
}

/**
 * The delete phase's delete of one key, from fresh looks: the source must still have no entry
 * of it (a key written again meanwhile is kept), and the destination's history is read again.
 */
async function deleteLater(source: Versioned, dest: Versioned, rel: string, dryRun: boolean): Promise<TargetResult> {
  const key = fullKey(dest, rel);
  try {
    // The destination first, then the source: a version copied there after these looks is never
    // among those deleted (delete_mode = versions removes only the version ids read here).
    const history = await keyHistory(dest, key);
    if (!dryRun && (await keyHistory(source, fullKey(source, rel))).length > 0)
      return { destination: dest.name, key, outcome: 'kept', bytes: 0 };
    return await deleteHistory(dest, key, history, dryRun);
  } catch (err) {
    return {
      destination: dest.name,
      key,
      outcome: 'failed',
      bytes: 0,
      error: err instanceof Error ? err : new Error(String(err)),
    };
  }
}

const compare = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/**
 * The versioned sweep of `source` to `destinations` (every one S3 with versioning enabled:
 * see bucketFeatureProblems). `DuplicateOptions` apply as to a plain sweep: prefix, filters
 * (on each key's newest version), dry run, deletes and their guards, concurrency, results.
 */
export async function sweepVersions(
  source: ObjectStore,
  destinations: readonly ObjectStore[],
  options: DuplicateOptions & {
    /** A check's dry run: a key only a destination has is a `would delete` at once, whatever deletes. */
    readonly destinationOnly?: boolean;
  } = {},
): Promise<DuplicateReport> {
  const started = performance.now();
  const log = options.logger ?? silentLogger;
  const report = emptyReport(source, destinations);
  const record = (r: TargetResult) => {
    countResult(report, r);
    options.onResult?.(r);
  };
  if (!isVersionCapable(source) || !destinations.every(isVersionCapable)) {
    report.aborted = 'versions = true needs S3 buckets everywhere (the source and every destination)';
    return report;
  }
  const dests = destinations as readonly Versioned[];
  const keep = makeFilter(options);
  const prefix = options.prefix ?? '';
  const limiter = new Limiter(options.concurrency ?? source.settings.concurrency);
  const partSlots = new Limiter(options.concurrency ?? source.settings.concurrency);
  const dryRun = options.dryRun === true;
  const deleting = dests.filter((d) => deletesAt(d, options));
  const doomed = new Map<Versioned, Doomed>(deleting.map((d) => [d, { spool: new KeySpool(), candidates: 0 }]));
  let historyDiffers = 0;
  const inScope = new Map<Versioned, number>(dests.map((d) => [d, 0]));
  log.info('versioned sweep started', { source: `${source.bucket} at ${source.endpoint}`, dryRun });

  const src = new Cursor(source, prefix);
  const cursors = dests.map((d) => new Cursor(d, prefix));
  try {
    await Promise.all([src.advance(), ...cursors.map((c) => c.advance())]);
    for (;;) {
      if (options.signal?.aborted) report.aborted ??= 'stopped by signal';
      if (report.aborted !== undefined) break;
      const heads = [src.head, ...cursors.map((c) => c.head)].filter((h): h is KeyGroup => h !== undefined);
      if (heads.length === 0) break;
      const rel = heads.map((h) => h.rel).reduce((a, b) => (compare(a, b) <= 0 ? a : b));
      const s = src.head?.rel === rel ? src.head.entries : [];
      // Filters judge the newest version (a delete marker has no size of its own).
      const newest = [s, ...cursors.map((c) => (c.head?.rel === rel ? c.head.entries : []))]
        .map((h) => h.find((e) => !e.deleteMarker) ?? h[0])
        .find((e) => e !== undefined);
      const inFilter =
        newest !== undefined &&
        keep({ key: rel, size: newest.size, etag: newest.etag, lastModified: newest.lastModified });
      if (inFilter && s.length > 0) report.listed++;
      const work: Array<Promise<void>> = [];
      for (const [i, dest] of dests.entries()) {
        const d = cursors[i]!.head?.rel === rel ? cursors[i]!.head!.entries : [];
        if (!inFilter) continue;
        // A key whose newest entry is a delete marker is deleted there already.
        const present = d.length > 0 && !d[0]!.deleteMarker;
        if (present) inScope.set(dest, inScope.get(dest)! + 1);
        const destKey = fullKey(dest, rel);
        const sourceKey = fullKey(source, rel);
        if (s.length === 0) {
          if (options.destinationOnly)
            record({ destination: dest.name, key: destKey, outcome: present ? 'would delete' : 'skipped', bytes: 0 });
          else {
            const spooled = doomed.get(dest);
            spooled?.spool.add({ key: rel, size: 0 });
            if (spooled && (present || dest.settings.deleteMode === 'versions')) spooled.candidates++;
          }
          continue;
        }
        const deletes = deletesAt(dest, options);
        work.push(
          limiter.spawn(async () => {
            const r = await reconcileHistory(source as Versioned, s, dest, destKey, d, {
              dryRun,
              partSlots,
              deletes,
              uploads: options.uploads,
            });
            if (r.error instanceof HistoryDiffersError) historyDiffers++;
            record({ ...r, sourceKey });
          }),
        );
      }
      await Promise.all(work);
      await Promise.all([
        src.head?.rel === rel ? src.advance() : undefined,
        ...cursors.map((c) => (c.head?.rel === rel ? c.advance() : undefined)),
      ]);
    }
  } catch (err) {
    report.aborted = err instanceof Error ? err.message : String(err);
  } finally {
    await limiter.drain().catch((err: unknown) => (report.aborted ??= String(err)));
  }

  try {
    if (deleting.length > 0) {
      // A key whose history cannot follow is reported, and does not hold back the deletes of the others.
      const failed = report.failed - historyDiffers;
      if (report.aborted !== undefined || failed > 0) {
        report.deletesSkipped = `no delete in this run: ${report.aborted ?? `${failed} copies failed`}`;
      } else {
        const judged = judgeDeletes({
          source,
          destinations: deleting.map((dest) => ({
            dest,
            candidates: doomed.get(dest)!.candidates,
            inScope: inScope.get(dest)!,
          })),
          sourceListed: report.listed,
          maxDelete: options.maxDelete,
          allowEmptySource: options.allowEmptySource,
        });
        if (judged.refused.length > 0) report.refused = judged.refused;
        for (const { dest } of judged.allowed)
          for await (const c of doomed.get(dest as Versioned)!.spool.entries()) {
            const r = await deleteLater(source as Versioned, dest as Versioned, c.key, dryRun);
            if (r.outcome !== 'skipped') record(r);
          }
      }
    }
  } finally {
    // The spools' temp files go whatever happened in the delete phase.
    for (const d of doomed.values()) d.spool.close();
  }
  report.seconds = (performance.now() - started) / 1000;
  log.info('versioned sweep finished', { listed: report.listed, copied: report.copied, failed: report.failed });
  return report;
}
