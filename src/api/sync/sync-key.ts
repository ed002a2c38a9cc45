/**
 * One key, reconciled from the source's state: every message, event, retry and sweep
 * decision is only a hint that a key may have changed. The source is looked at; present,
 * the key is copied wherever it differs; absent (the bucket known to exist, the key not
 * found), it is deleted from the destinations that delete, and reported gone elsewhere.
 * Idempotent and order-insensitive: replays, duplicates and out-of-order hints converge.
 */
import { copyKey, type CopyKeyOptions, type CopyTarget, type TargetResult } from '../copy/copy-key.js';
import type { ObjectStore } from '../store/object-store.js';

const MAX_KEY_BYTES = 1024;
/** Where `delete_mode = trash` puts objects when `trash_prefix` is not set (a date is added). */
export const DEFAULT_TRASH_ROOT = '.s3s3-trash/';

export function storePrefix(store: ObjectStore): string {
  return store.settings.prefix ?? '';
}

/** The store's full key for a key relative to its prefix. */
export function fullKey(store: ObjectStore, rel: string): string {
  return storePrefix(store) + rel;
}

/** The key relative to the store's prefix, or undefined when the key is outside it. */
export function relativeKey(store: ObjectStore, key: string): string | undefined {
  const p = storePrefix(store);
  return key.startsWith(p) ? key.slice(p.length) : undefined;
}

/**
 * The prefix under which a destination's trash lives (never swept, checked, written or
 * deleted), or undefined for a store that keeps no trash (`delete_mode = trash` or a
 * `trash_prefix` makes one).
 */
export function trashRoot(store: ObjectStore): string | undefined {
  if (store.settings.trashPrefix !== undefined) return store.settings.trashPrefix;
  return store.settings.deleteMode === 'trash' ? DEFAULT_TRASH_ROOT : undefined;
}

/** True when `key` (a full key of `store`) is in its trash. */
export function inTrash(store: ObjectStore, key: string): boolean {
  const root = trashRoot(store);
  return root !== undefined && key.startsWith(root);
}

/**
 * Keys s3s3 never deletes at a destination: its trash, and the default trash root even when
 * trash mode is off (what an earlier run with it on kept must not be lost by a later one).
 */
export function neverDeleted(store: ObjectStore, key: string): boolean {
  return key.startsWith(store.settings.trashPrefix ?? DEFAULT_TRASH_ROOT);
}

/** The destination's trash lies in the source's part of the same bucket: a trashed object would be read as a source key. */
export function trashInSource(source: ObjectStore, dest: ObjectStore): boolean {
  const trash = trashRoot(dest);
  if (trash === undefined || source.endpoint !== dest.endpoint || source.bucket !== dest.bucket) return false;
  const sp = storePrefix(source);
  return trash.startsWith(sp) || sp.startsWith(trash);
}

/** The trash key for `key` deleted now (`.s3s3-trash/2026-12-02/key` by default). */
export function trashKey(store: ObjectStore, key: string, now = new Date()): string {
  const custom = store.settings.trashPrefix;
  return custom !== undefined ? custom + key : `${DEFAULT_TRASH_ROOT}${now.toISOString().slice(0, 10)}/${key}`;
}

/** Does this run delete at `dest`? Its section's `delete = true`, or the run's `delete` unless the section says false. */
export function deletesAt(dest: ObjectStore, options: { readonly delete?: boolean }): boolean {
  return dest.settings.delete === true || (options.delete === true && dest.settings.delete !== false);
}

export interface SyncKeyOptions extends CopyKeyOptions {
  /** Delete where the section does not say `delete = false` (default: only where it says `delete = true`). */
  readonly delete?: boolean;
}

export interface SyncResult {
  /** The source key the hint named. */
  readonly key: string;
  readonly results: readonly TargetResult[];
  /** True when every destination matches the source now (copied, in place, deleted, or gone). */
  readonly ok: boolean;
  /** The key is outside the `[source]` prefix: nothing was done. */
  readonly outsidePrefix?: boolean;
  /** Destinations where the key falls in the trash: left alone there. */
  readonly inTrash?: readonly string[];
}

/** Make every destination match the source for one key (the source key, with its prefix). */
export async function syncKey(source: ObjectStore, destinations: readonly ObjectStore[], key: string, options: SyncKeyOptions = {}): Promise<SyncResult> {
  const rel = relativeKey(source, key);
  if (rel === undefined) return { key, results: [], ok: true, outsidePrefix: true };
  // A key that would land in a destination's trash is left alone there: the trash is never written or deleted.
  const trashed = destinations.filter((store) => inTrash(store, fullKey(store, rel)));
  const targets: CopyTarget[] = destinations.filter((store) => !trashed.includes(store)).map((store) => ({ store, key: fullKey(store, rel) }));
  const copied = targets.length > 0 ? await copyKey({ store: source, key }, targets, options) : [];
  const results = await Promise.all(
    copied.map(async (r, i) => {
      const dest = targets[i]!.store;
      if (r.outcome !== 'gone' || !deletesAt(dest, options) || neverDeleted(dest, r.key)) return r;
      if (trashInSource(source, dest)) return trashConflict(dest, r.key);
      return removeIfPresent(dest, r.key);
    }),
  );
  const skipped = trashed.map((store): TargetResult => ({ destination: store.name, key: fullKey(store, rel), outcome: 'skipped', bytes: 0 }));
  return { key, results: [...results, ...skipped], ok: results.every((r) => r.outcome !== 'failed'), ...(trashed.length > 0 ? { inTrash: trashed.map((d) => d.name) } : {}) };
}

/**
 * The delete half of syncKey, for a caller that knows the key was deleted at the source:
 * the source is still asked first, so a key created again since is kept (and not copied).
 */
export async function deleteKey(source: ObjectStore, destinations: readonly ObjectStore[], key: string, options: { readonly delete?: boolean } = {}): Promise<SyncResult> {
  const rel = relativeKey(source, key);
  if (rel === undefined) return { key, results: [], ok: true, outsidePrefix: true };
  const present = await source.head(key);
  const results = await Promise.all(
    destinations.map(async (dest): Promise<TargetResult> => {
      const target = fullKey(dest, rel);
      if (neverDeleted(dest, target)) return { destination: dest.name, key: target, outcome: 'skipped', bytes: 0 };
      if (present !== null) return { destination: dest.name, key: target, outcome: 'kept', bytes: 0 };
      if (!deletesAt(dest, options)) return { destination: dest.name, key: target, outcome: 'gone', bytes: 0 };
      if (trashInSource(source, dest)) return trashConflict(dest, target);
      return removeIfPresent(dest, target);
    }),
  );
  return { key, results, ok: results.every((r) => r.outcome !== 'failed') };
}

function trashConflict(dest: ObjectStore, key: string): TargetResult {
  const error = new Error(`[${dest.name}] trash_prefix ${JSON.stringify(trashRoot(dest))} lies in the source's prefix of the same bucket: not deleted (choose a trash_prefix outside it)`);
  return { destination: dest.name, key, outcome: 'failed', bytes: 0, error };
}

async function removeIfPresent(dest: ObjectStore, key: string): Promise<TargetResult> {
  try {
    const had = await dest.head(key);
    if (had === null) return { destination: dest.name, key, outcome: 'gone', bytes: 0 };
    return await removeFromDestination(dest, key, had.size);
  } catch (err) {
    return { destination: dest.name, key, outcome: 'failed', bytes: 0, error: err instanceof Error ? err : new Error(String(err)) };
  }
}

/** Delete, or with `delete_mode = trash` move under the trash prefix first (never a hard delete instead). */
export async function removeFromDestination(dest: ObjectStore, key: string, size: number): Promise<TargetResult> {
  if (dest.settings.deleteMode !== 'trash') {
    await dest.delete(key);
    return { destination: dest.name, key, outcome: 'deleted', bytes: 0 };
  }
  if (neverDeleted(dest, key)) return { destination: dest.name, key, outcome: 'skipped', bytes: 0 };
  const target = trashKey(dest, key);
  if (Buffer.byteLength(target, 'utf8') > MAX_KEY_BYTES) {
    const error = new Error(`trash key ${JSON.stringify(target.slice(0, 80))}... would exceed ${MAX_KEY_BYTES} bytes; not deleted (shorten trash_prefix, or delete it by hand)`);
    return { destination: dest.name, key, outcome: 'failed', bytes: 0, error };
  }
  const [moved] = await copyKey({ store: dest, key }, [{ store: dest, key: target, known: null }]);
  if (moved?.outcome !== 'copied') {
    const error = moved?.error ?? new Error(`could not copy to the trash (${moved?.outcome ?? 'no result'}); not deleted`);
    return { destination: dest.name, key, outcome: 'failed', bytes: 0, error };
  }
  await dest.delete(key);
  return { destination: dest.name, key, outcome: 'trashed', bytes: size };
}
