/**
 * What `delete_mode = trash` kept, and the only way to empty it (`s3s3 trash list` and
 * `s3s3 trash purge`). A sweep never deletes trash, whatever its prefix was: the trash of a
 * destination is every root in its registry (see trash-roots.ts) and its current root.
 */
import { deleteManyFailures, type HeadInfo, type ObjectStore } from '../store/object-store.js';
import { trashRoot } from '../sync/sync-key.js';
import { loadTrashRoots, TRASH_REGISTRY_PREFIX } from '../sync/trash-roots.js';

/** One object in a destination's trash. */
export interface TrashObject {
  /** The destination's section name. */
  readonly destination: string;
  /** The trash root it lies under (`.s3s3-trash/`, or a `trash_prefix` used now or before). */
  readonly root: string;
  /** Its full key in the destination (the trash key, root included). */
  readonly key: string;
  readonly size: number;
  /** When it was put in the trash (the object's Last-Modified); undefined when the listing has none. */
  readonly lastModified?: Date;
  /** Its ETag as listed: a purge tells by it (and the date) that the key was written again since. */
  readonly etag?: string;
}

/**
 * The trash roots of `store` to list, read afresh from its registry (one LIST, a GET per
 * root), plus its current root; a root nested in another is listed once, with it.
 */
export async function trashRootsToList(store: ObjectStore): Promise<string[]> {
  const roots = new Set(await loadTrashRoots(store));
  const current = trashRoot(store);
  if (current !== undefined) roots.add(current);
  const sorted = [...roots].sort((a, b) => a.length - b.length);
  const kept: string[] = [];
  for (const r of sorted) if (!kept.some((k) => r.startsWith(k))) kept.push(r);
  return kept.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/**
 * Every object in the trash of `store`, root by root, in each root's listing order (the
 * registry's markers left out).
 */
export async function* listTrash(store: ObjectStore): AsyncGenerator<TrashObject> {
  for (const root of await trashRootsToList(store)) {
    for await (const o of store.list({ prefix: root })) {
      if (o.key.startsWith(TRASH_REGISTRY_PREFIX)) continue;
      yield {
        destination: store.name,
        root,
        key: o.key,
        size: o.size,
        ...(o.lastModified ? { lastModified: o.lastModified } : {}),
        ...(o.etag ? { etag: o.etag } : {}),
      };
    }
  }
}

/**
 * An age as the trash commands print it: the largest whole unit, rounded down (`3d`, `5h`,
 * `12m`, `40s`), in the grammar of src/api/duration.ts; `?` when unknown.
 */
export function formatAge(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '?';
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s >= 86_400) return `${Math.floor(s / 86_400)}d`;
  if (s >= 3_600) return `${Math.floor(s / 3_600)}h`;
  if (s >= 60) return `${Math.floor(s / 60)}m`;
  return `${s}s`;
}

/** What `purgeTrash` does with one trashed object. */
export type PurgeAction = 'purged' | 'would purge' | 'kept' | 'failed';

/** Options of `purgeTrash`. */
export interface PurgeOptions {
  /** Only objects put in the trash longer ago than this (milliseconds). */
  readonly olderThanMs: number;
  /** List what would be purged; delete nothing. */
  readonly dryRun?: boolean;
  /** The time ages are measured from (default: now). */
  readonly now?: Date;
  /** Called for every trashed object as it is settled (after its batch's delete). */
  readonly onObject?: (object: TrashObject, action: PurgeAction, error?: Error) => void;
  readonly signal?: AbortSignal;
}

/** What a purge of one destination's trash did. */
export interface PurgeReport {
  readonly destination: string;
  purged: number;
  wouldPurge: number;
  /** Newer than `olderThanMs`, or without a Last-Modified: left in the trash. */
  kept: number;
  failed: number;
  /** Bytes purged (or that would be). */
  bytes: number;
}

/** Keys per DeleteObjects request (S3's limit). */
const BATCH = 1000;

/**
 * The objects of a batch still as old as listed, each looked at (HEAD) right before the
 * batch's delete. A trash key can be written again after its listing (a `trash_prefix` has no
 * date, so a key deleted twice reuses its trash key; a listing can lag behind a write): the
 * object there now is what was just deleted, newer than the cutoff, and is kept; so is one
 * written again whose date cannot be read. A HEAD that fails keeps the object (reported
 * failed): never deleted on the listing's word alone.
 */
async function stillOld(
  store: ObjectStore,
  listed: readonly TrashObject[],
  cutoff: number,
  settle: (o: TrashObject, action: PurgeAction, error?: Error) => void,
): Promise<TrashObject[]> {
  const old: TrashObject[] = [];
  let next = 0;
  const run = async () => {
    while (next < listed.length) {
      const o = listed[next++]!;
      try {
        const now = await store.head(o.key);
        // Gone since the listing: nothing to keep; its delete is a no-op.
        if (now === null) old.push(o);
        else if (writtenAgain(o, now) && !(now.lastModified !== undefined && now.lastModified.getTime() <= cutoff))
          settle(o, 'kept');
        else old.push(o);
      } catch (err) {
        settle(o, 'failed', err instanceof Error ? err : new Error(String(err)));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(store.settings.concurrency, listed.length) }, run));
  // The batch's listing order, whatever order the HEADs answered in.
  const keep = new Set(old);
  return listed.filter((o) => keep.has(o));
}

/**
 * True when the object at a trash key now is not the one listed: another ETag, or a
 * Last-Modified at least 2 s past the listed one's second (a HEAD's date has whole seconds, and
 * Swift rounds it up), or none that can be read.
 */
function writtenAgain(listed: TrashObject, now: HeadInfo): boolean {
  if (listed.etag && now.etag && listed.etag !== now.etag) return true;
  const t = now.lastModified?.getTime();
  if (t === undefined || Number.isNaN(t) || listed.lastModified === undefined) return true;
  return t >= Math.floor(listed.lastModified.getTime() / 1000) * 1000 + 2000;
}

/**
 * Delete the objects in the trash of `store` older than `olderThanMs`, over every trash
 * root it ever used, in batches of 1000, each object looked at again right before (see
 * stillOld). An object without a Last-Modified is kept (its age is unknown). Failures are
 * counted and reported through `onObject`, never thrown per key.
 */
export async function purgeTrash(store: ObjectStore, options: PurgeOptions): Promise<PurgeReport> {
  const report: PurgeReport = { destination: store.name, purged: 0, wouldPurge: 0, kept: 0, failed: 0, bytes: 0 };
  const cutoff = (options.now ?? new Date()).getTime() - options.olderThanMs;
  const settle = (o: TrashObject, action: PurgeAction, error?: Error) => {
    if (action === 'purged') report.purged++;
    else if (action === 'would purge') report.wouldPurge++;
    else if (action === 'kept') report.kept++;
    else report.failed++;
    if (action === 'purged' || action === 'would purge') report.bytes += o.size;
    options.onObject?.(o, action, error);
  };
  let batch: TrashObject[] = [];
  const flush = async () => {
    const listed = batch;
    batch = [];
    if (listed.length === 0) return;
    const objects = await stillOld(store, listed, cutoff, settle);
    if (objects.length === 0) return;
    const failed = await deleteManyFailures(
      store,
      objects.map((o) => o.key),
    );
    for (const o of objects) {
      const error = failed.get(o.key);
      settle(o, error ? 'failed' : 'purged', error);
    }
  };
  for await (const o of listTrash(store)) {
    if (options.signal?.aborted) break;
    if (o.lastModified === undefined || o.lastModified.getTime() > cutoff) {
      settle(o, 'kept');
      continue;
    }
    if (options.dryRun) {
      settle(o, 'would purge');
      continue;
    }
    batch.push(o);
    if (batch.length >= BATCH) await flush();
  }
  if (!options.signal?.aborted) await flush();
  return report;
}
