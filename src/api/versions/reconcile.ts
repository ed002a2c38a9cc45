/**
 * One key's history at one destination made to follow the source's (`versions = true`): the
 * versions and delete markers it lacks applied oldest first, or the key reported when its
 * history cannot follow. Shared by the versioned sweep and the worker.
 */
import { S3s3Error } from '../errors.js';
import type { TargetResult } from '../copy/copy-key.js';
import type { Limiter } from '../copy/limiter.js';
import type { Resumable } from '../copy/resume.js';
import type { ObjectStore, VersionCapable, VersionEntry } from '../store/object-store.js';
import { copyVersion } from './copy-version.js';
import { planHistory } from './history.js';

/** A store with versions, as the versioned paths take them. */
export type Versioned = ObjectStore & VersionCapable;

/** A destination's history that cannot follow the source's: said per key, nothing done to it. */
export class HistoryDiffersError extends S3s3Error {
  override name = 'HistoryDiffersError';
  constructor(
    readonly destination: string,
    readonly key: string,
    detail: string,
  ) {
    super(
      `[${destination}] ${JSON.stringify(key)}: ${detail}; nothing was copied for this key ` +
        '(see docs/s3s3bucket.md#versioned-buckets)',
    );
  }
}

/** Every entry of exactly `key` (newest first), from a version listing by prefix. */
export async function keyHistory(store: Versioned, key: string): Promise<VersionEntry[]> {
  const out: VersionEntry[] = [];
  let next: string | undefined;
  do {
    const page = await store.listVersionsPage({ prefix: key, next });
    for (const e of page.entries) {
      if (e.key !== key) return out;
      out.push(e);
    }
    if (page.next !== undefined && page.next === next)
      throw new Error(`the version listing of ${JSON.stringify(key)} at [${store.name}] does not move on; stopped`);
    next = page.next;
  } while (next !== undefined);
  return out;
}

/** How one key is reconciled: a dry run, the part buffers multipart copies share, deletes. */
export interface ReconcileOptions {
  readonly dryRun?: boolean;
  readonly partSlots?: Limiter;
  /** Keeps multipart copies of versions resumable (see CopyKeyOptions.uploads). */
  readonly uploads?: Resumable;
  /**
   * Whether this destination deletes in this run (`--delete`, `delete`): only then are delete
   * markers copied; otherwise both histories are compared without them.
   */
  readonly deletes?: boolean;
}

/** A history without its delete markers, where the destination does not delete. */
function kept(history: readonly VersionEntry[], deletes: boolean | undefined): readonly VersionEntry[] {
  return deletes ? history : history.filter((e) => !e.deleteMarker);
}

/** Writes one source entry on top of the destination's history: a version copied, or a delete marker. */
async function applyEntry(
  sourceStore: Versioned,
  e: VersionEntry,
  dest: Versioned,
  destKey: string,
  options: ReconcileOptions,
): Promise<void> {
  if (e.deleteMarker) await dest.delete(destKey);
  else await copyVersion(sourceStore, e, dest, destKey, { partSlots: options.partSlots, uploads: options.uploads });
}

/**
 * Applies what `dest` lacks of the source's history `source` (both newest first) to `destKey`:
 * each version copied (copyVersion), each delete marker written as one (a DELETE without a
 * version id). Stops at the first failure: no entry is ever applied out of order. Afterwards
 * the destination's history is read again and must follow the source's (two copies racing may
 * interleave their writes): otherwise the key is reported.
 */
export async function reconcileHistory(
  sourceStore: Versioned,
  sourceHistory: readonly VersionEntry[],
  dest: Versioned,
  destKey: string,
  destHistory: readonly VersionEntry[],
  options: ReconcileOptions = {},
): Promise<TargetResult> {
  const result = { destination: dest.name, key: destKey };
  const confirm = (d: VersionEntry) => dest.headVersion(d.key, d.versionId);
  const differs = (detail: string): TargetResult => ({
    ...result,
    outcome: 'failed',
    bytes: 0,
    error: new HistoryDiffersError(dest.name, destKey, detail),
  });
  const plan = async (s: readonly VersionEntry[], d: readonly VersionEntry[]) =>
    planHistory(kept(s, options.deletes), kept(d, options.deletes), confirm);
  try {
    let p = await plan(sourceHistory, destHistory);
    // Without deletes, a delete marker on top of the destination (written there, or by an earlier
    // run with deletes) would hide an object the source has: its newest version goes on top.
    if (
      p.apply.length === 0 &&
      p.differs === undefined &&
      !options.deletes &&
      destHistory[0]?.deleteMarker === true &&
      sourceHistory[0]?.deleteMarker === false
    ) {
      if (options.dryRun) return { ...result, outcome: 'would copy', reason: 'missing', bytes: sourceHistory[0].size };
      await applyEntry(sourceStore, sourceHistory[0], dest, destKey, options);
      return { ...result, outcome: 'copied', reason: 'missing', bytes: sourceHistory[0].size };
    }
    if (p.apply.length === 0 && p.current === undefined)
      return p.differs !== undefined ? differs(p.differs) : { ...result, outcome: 'skipped', bytes: 0 };
    if (options.dryRun)
      return p.differs !== undefined
        ? differs(p.differs)
        : { ...result, outcome: 'would copy', reason: 'missing', bytes: p.apply.reduce((n, e) => n + e.size, 0) };
    // A listing may be old by now (a sweep's): both histories are read again right before writing.
    const source = await keyHistory(sourceStore, sourceHistory[0]?.key ?? destKey);
    p = await plan(source, await keyHistory(dest, destKey));
    if (p.differs !== undefined) {
      if (p.current !== undefined) await applyEntry(sourceStore, p.current, dest, destKey, options);
      return differs(p.differs);
    }
    if (p.apply.length === 0) return { ...result, outcome: 'skipped', bytes: 0 };
    const bytes = p.apply.reduce((n, e) => n + e.size, 0);
    for (const e of p.apply) await applyEntry(sourceStore, e, dest, destKey, options);
    const after = await plan(source, await keyHistory(dest, destKey));
    // A slower copy landed last (an older version on top): the source's newest goes on top again.
    if (after.current !== undefined) await applyEntry(sourceStore, after.current, dest, destKey, options);
    if (after.differs !== undefined || after.apply.length > 0)
      return differs(
        after.differs ?? `${after.apply.length} entries still missing after they were copied (a write raced this one)`,
      );
    return { ...result, outcome: 'copied', reason: 'missing', bytes };
  } catch (err) {
    return { ...result, outcome: 'failed', bytes: 0, error: err instanceof Error ? err : new Error(String(err)) };
  }
}

/**
 * A key the source has no entry of (not even a delete marker): with `delete_mode = versions`
 * every version at the destination is removed for good; otherwise a delete marker is written
 * unless the destination's newest entry is one already.
 */
export async function deleteHistory(
  dest: Versioned,
  destKey: string,
  destHistory: readonly VersionEntry[],
  dryRun: boolean,
): Promise<TargetResult> {
  const result = { destination: dest.name, key: destKey };
  const purge = dest.settings.deleteMode === 'versions';
  if (!purge && (destHistory[0]?.deleteMarker ?? true)) return { ...result, outcome: 'skipped', bytes: 0 };
  if (dryRun) return { ...result, outcome: 'would delete', bytes: 0 };
  try {
    if (purge) for (const e of destHistory) await dest.deleteVersion(destKey, e.versionId);
    else await dest.delete(destKey);
    return { ...result, outcome: 'deleted', bytes: 0 };
  } catch (err) {
    return { ...result, outcome: 'failed', bytes: 0, error: err instanceof Error ? err : new Error(String(err)) };
  }
}

/**
 * One key (a worker's job, a library call): its history at every destination made to follow
 * the source's, listed afresh (ListObjectVersions by prefix, that key only). Where the source
 * has no entry of it, the destinations that delete get deleteHistory. A copy of a key whose
 * event named a version copies that version and every one before it the destination lacks;
 * one already there is skipped.
 */
export async function syncKeyVersions(
  source: Versioned,
  destinations: readonly Versioned[],
  key: string,
  options: ReconcileOptions & {
    readonly delete?: (dest: Versioned) => boolean;
    readonly destKey: (dest: Versioned) => string;
  },
): Promise<TargetResult[]> {
  const s = await keyHistory(source, key);
  return Promise.all(
    destinations.map(async (dest) => {
      const destKey = options.destKey(dest);
      try {
        const d = await keyHistory(dest, destKey);
        if (s.length > 0)
          return await reconcileHistory(source, s, dest, destKey, d, { ...options, deletes: options.delete?.(dest) });
        if (d.length === 0 || !options.delete?.(dest))
          return { destination: dest.name, key: destKey, outcome: 'gone' as const, bytes: 0 };
        return await deleteHistory(dest, destKey, d, options.dryRun === true);
      } catch (err) {
        return {
          destination: dest.name,
          key: destKey,
          outcome: 'failed' as const,
          bytes: 0,
          error: err instanceof Error ? err : new Error(String(err)),
        };
      }
    }),
  );
}
