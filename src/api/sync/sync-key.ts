/** The one-key reconcile every hint ends in, and the destination-side helpers it needs (prefixes, trash). */
import { syncKeyVersions } from '../versions/reconcile.js';
import { copyKey, type CopyKeyOptions, type CopyTarget, type TargetResult } from '../copy/copy-key.js';
import { sourceNow } from '../copy/source-now.js';
import { isVersionCapable, type ObjectStore } from '../store/object-store.js';
import {
  DEFAULT_TRASH_ROOT,
  knownTrashRoots,
  knowTrashRoots,
  loadTrashRoots,
  registerTrashRoot,
} from './trash-roots.js';

export { DEFAULT_TRASH_ROOT } from './trash-roots.js';

const MAX_KEY_BYTES = 1024;
/** How long a worker trusts the trash registry it read before a delete (a sweep reads it afresh). */
const REGISTRY_MAX_AGE_MS = 60_000;

/** The store's `prefix` setting, '' when none: every key s3s3 touches there starts with it. */
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

/**
 * Every trash root of `store` known now: the current one (`trash_prefix`, or the default
 * root in trash mode) and every root its registry lists (once loaded, see loadTrashRoots).
 * Keys under them are out of scope: never listed by a sweep or a check, never copied into.
 */
export function trashRoots(store: ObjectStore): readonly string[] {
  const current = trashRoot(store);
  const roots = new Set(knownTrashRoots(store));
  if (current !== undefined) roots.add(current);
  return [...roots];
}

/** True when `key` (a full key of `store`) is in one of its trash roots (see trashRoots). */
export function inTrash(store: ObjectStore, key: string): boolean {
  return trashRoots(store).some((root) => key.startsWith(root));
}

/**
 * Keys s3s3 never deletes at a destination: every trash root it ever used (the current
 * `trash_prefix` and the registry's roots), and the default trash root even when trash mode
 * is off (what an earlier run with it on kept must not be lost by a later one).
 */
export function neverDeleted(store: ObjectStore, key: string): boolean {
  return key.startsWith(DEFAULT_TRASH_ROOT) || inTrash(store, key);
}

/**
 * The destination's trash lies in the source's part of the same bucket: a trashed object would be
 * read as a source key.
 */
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

/**
 * Does this run delete at `dest`? Its section's `delete = true`, or the run's `delete` unless the
 * section says false.
 */
export function deletesAt(dest: ObjectStore, options: { readonly delete?: boolean }): boolean {
  return dest.settings.delete === true || (options.delete === true && dest.settings.delete !== false);
}

/** `copyKey`'s options, plus whether this run deletes where the source lacks the key. */
export interface SyncKeyOptions extends CopyKeyOptions {
  /** Delete where the section does not say `delete = false` (default: only where it says `delete = true`). */
  readonly delete?: boolean;
}

/** What one key's reconcile did: one result per destination, and whether they all match the source now. */
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

/**
 * Make every destination match the source for one key (the source key, with its prefix).
 *
 * One key, reconciled from the source's state: every message, event, retry and sweep
 * decision is only a hint that a key may have changed. The source is looked at; present,
 * the key is copied wherever it differs; absent (the bucket known to exist, the key not
 * found), it is deleted from the destinations that delete, and reported gone elsewhere.
 * Idempotent and order-insensitive: replays, duplicates and out-of-order hints converge.
 */
export async function syncKey(
  source: ObjectStore,
  destinations: readonly ObjectStore[],
  key: string,
  options: SyncKeyOptions = {},
): Promise<SyncResult> {
  const rel = relativeKey(source, key);
  if (rel === undefined) return { key, results: [], ok: true, outsidePrefix: true };
  // `versions = true`: the key's whole history, not its current version (versions/reconcile.ts).
  if (source.settings.versions && isVersionCapable(source) && destinations.every(isVersionCapable)) {
    const results = await syncKeyVersions(source, destinations, key, {
      dryRun: options.dryRun,
      partSlots: options.partSlots,
      uploads: options.uploads,
      delete: (dest) => deletesAt(dest, options),
      destKey: (dest) => fullKey(dest, rel),
    });
    return { key, results, ok: results.every((r) => r.outcome !== 'failed') };
  }
  // A key that would land in a destination's trash (any root it ever used, from its registry) is
  // left alone there: the trash is never written or deleted. A registry that cannot be read
  // fails that destination (retried), never a copy on a guess.
  const unknown = new Map<ObjectStore, TargetResult>();
  await Promise.all(
    destinations.map(async (store) => {
      try {
        await knowTrashRoots(store, REGISTRY_MAX_AGE_MS);
      } catch (err) {
        const cause = err instanceof Error ? err.message : String(err);
        const error = new Error(
          `[${store.name}] could not read the trash registry (${JSON.stringify(DEFAULT_TRASH_ROOT)}.roots/) ` +
            `before copying: ${cause}; not copied (retried)`,
        );
        unknown.set(store, { destination: store.name, key: fullKey(store, rel), outcome: 'failed', bytes: 0, error });
      }
    }),
  );
  const trashed = destinations.filter((store) => !unknown.has(store) && inTrash(store, fullKey(store, rel)));
  const targets: CopyTarget[] = destinations
    .filter((store) => !unknown.has(store) && !trashed.includes(store))
    .map((store) => ({ store, key: fullKey(store, rel) }));
  const copied = targets.length > 0 ? await copyKey({ store: source, key }, targets, options) : [];
  const results = await Promise.all(copied.map((r, i) => settleGone(source, key, targets[i]!.store, r, options)));
  const skipped = trashed.map((store): TargetResult => ({
    destination: store.name,
    key: fullKey(store, rel),
    outcome: 'skipped',
    bytes: 0,
  }));
  return {
    key,
    results: [...results, ...skipped, ...unknown.values()],
    ok: unknown.size === 0 && results.every((r) => r.outcome !== 'failed'),
    ...(trashed.length > 0 ? { inTrash: trashed.map((d) => d.name) } : {}),
  };
}

/**
 * A copy's result at one destination, settled: a key the source was proven to lack ("gone",
 * see copy/source-now.ts) is deleted (or trashed) where this run deletes, then the source is
 * asked once more (recheckAfterDelete). Anything else is returned as it is. The sweep calls
 * this for its copies too: a key it listed and then found gone, or whose version it wrote while
 * the source lost it, must not stay at the destination when no event will come to remove it.
 */
export async function settleGone(
  source: ObjectStore,
  sourceKey: string,
  dest: ObjectStore,
  r: TargetResult,
  options: SyncKeyOptions = {},
): Promise<TargetResult> {
  if (r.outcome !== 'gone' || !deletesAt(dest, options)) return r;
  const unreadable = await registryUnreadable(dest, r.key);
  if (unreadable) return unreadable;
  if (neverDeleted(dest, r.key)) return r;
  if (trashInSource(source, dest)) return trashConflict(dest, r.key);
  return recheckAfterDelete(source, sourceKey, dest, await removeIfPresent(dest, r.key), options);
}

/**
 * The delete half of syncKey, for a caller that knows the key was deleted at the source:
 * the source is still asked first, so a key created again since is kept (and not copied).
 */
export async function deleteKey(
  source: ObjectStore,
  destinations: readonly ObjectStore[],
  key: string,
  options: { readonly delete?: boolean } & CopyKeyOptions = {},
): Promise<SyncResult> {
  const rel = relativeKey(source, key);
  if (rel === undefined) return { key, results: [], ok: true, outsidePrefix: true };
  // The one rule for gone: the store's own "no such key" and a HeadBucket asked now (a cached
  // one would let a proxy's 404 to everything delete every replica); unknown deletes nothing.
  const now = await sourceNow(source, key);
  const results = await Promise.all(
    destinations.map(async (dest): Promise<TargetResult> => {
      const target = fullKey(dest, rel);
      if (neverDeleted(dest, target)) return { destination: dest.name, key: target, outcome: 'skipped', bytes: 0 };
      if (now.state === 'unknown')
        return { destination: dest.name, key: target, outcome: 'failed', bytes: 0, error: now.error };
      if (now.state === 'present') return { destination: dest.name, key: target, outcome: 'kept', bytes: 0 };
      if (!deletesAt(dest, options)) return { destination: dest.name, key: target, outcome: 'gone', bytes: 0 };
      const unreadable = await registryUnreadable(dest, target);
      if (unreadable) return unreadable;
      if (neverDeleted(dest, target)) return { destination: dest.name, key: target, outcome: 'skipped', bytes: 0 };
      if (trashInSource(source, dest)) return trashConflict(dest, target);
      return recheckAfterDelete(source, key, dest, await removeIfPresent(dest, target), options);
    }),
  );
  return { key, results, ok: results.every((r) => r.outcome !== 'failed') };
}

/**
 * Before a worker deletes: the destination's trash registry (read at most once a minute), so
 * a key under a trash root an earlier config used is never deleted. Unreadable: a failed
 * result (the job is retried), never a delete on a guess.
 */
async function registryUnreadable(dest: ObjectStore, key: string): Promise<TargetResult | undefined> {
  try {
    await loadTrashRoots(dest, { maxAgeMs: REGISTRY_MAX_AGE_MS });
    return undefined;
  } catch (err) {
    const cause = err instanceof Error ? err.message : String(err);
    const error = new Error(
      `[${dest.name}] could not read the trash registry (${JSON.stringify(DEFAULT_TRASH_ROOT)}.roots/) ` +
        `before deleting: ${cause}; not deleted (retried)`,
    );
    return { destination: dest.name, key, outcome: 'failed', bytes: 0, error };
  }
}

/**
 * After a delete (or a move to the trash) decided from an earlier look at the source: the
 * source once more. A worker may have copied the key back between that look and the delete,
 * and the delete just undid its copy; when the source has the key now, it is copied again
 * (reported `copied`, or `kept` when already in place), never left deleted.
 */
export async function recheckAfterDelete(
  source: ObjectStore,
  sourceKey: string,
  dest: ObjectStore,
  removed: TargetResult,
  options: CopyKeyOptions = {},
): Promise<TargetResult> {
  if (removed.outcome !== 'deleted' && removed.outcome !== 'trashed') return removed;
  const failed = (what: string, err: unknown): TargetResult => {
    const cause = err instanceof Error ? err.message : String(err);
    const error = new Error(
      `deleted from [${dest.name}], but ${what}: ${cause}; ` +
        'if the source has it again, the next sweep (or a publish of the key) copies it back',
    );
    return { destination: dest.name, key: removed.key, outcome: 'failed', bytes: 0, error };
  };
  let now;
  try {
    now = await source.head(sourceKey);
  } catch (err) {
    return failed('the source could not be asked again after the delete', err);
  }
  if (now === null) return removed;
  options.logger?.info('copied again: the source has this key again since it was found missing', {
    key: removed.key,
    destination: dest.name,
  });
  // A plain copy (HEADs first): the job's hints described the version it was told of, not this one.
  const { verifyMd5, retry, logger, partSlots, checkMetadata, uploads } = options;
  const [again] = await copyKey({ store: source, key: sourceKey }, [{ store: dest, key: removed.key }], {
    verifyMd5,
    retry,
    logger,
    partSlots,
    checkMetadata,
    uploads,
  });
  if (!again) return failed('copying it again failed', new Error('no result'));
  if (again.outcome === 'gone') return removed;
  if (again.outcome === 'skipped') return { destination: dest.name, key: removed.key, outcome: 'kept', bytes: 0 };
  return again;
}

function trashConflict(dest: ObjectStore, key: string): TargetResult {
  const error = new Error(
    `[${dest.name}] trash_prefix ${JSON.stringify(trashRoot(dest))} lies in the source's prefix of the same bucket: ` +
      'not deleted (choose a trash_prefix outside it)',
  );
  return { destination: dest.name, key, outcome: 'failed', bytes: 0, error };
}

async function removeIfPresent(dest: ObjectStore, key: string): Promise<TargetResult> {
  try {
    const had = await dest.head(key);
    if (had === null) return { destination: dest.name, key, outcome: 'gone', bytes: 0 };
    return await removeFromDestination(dest, key, had.size);
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

/** Delete, or with `delete_mode = trash` move under the trash prefix first (never a hard delete instead). */
export async function removeFromDestination(dest: ObjectStore, key: string, size: number): Promise<TargetResult> {
  if (dest.settings.deleteMode !== 'trash') {
    await dest.delete(key);
    return { destination: dest.name, key, outcome: 'deleted', bytes: 0 };
  }
  if (neverDeleted(dest, key)) return { destination: dest.name, key, outcome: 'skipped', bytes: 0 };
  const target = trashKey(dest, key);
  // Registered before anything lands under it: a later trash_prefix never makes it deletable.
  await registerTrashRoot(dest, dest.settings.trashPrefix ?? DEFAULT_TRASH_ROOT);
  if (Buffer.byteLength(target, 'utf8') > MAX_KEY_BYTES) {
    const error = new Error(
      `trash key ${JSON.stringify(target.slice(0, 80))}... would exceed ${MAX_KEY_BYTES} bytes; ` +
        'not deleted (shorten trash_prefix, or delete it by hand)',
    );
    return { destination: dest.name, key, outcome: 'failed', bytes: 0, error };
  }
  const [moved] = await copyKey({ store: dest, key }, [{ store: dest, key: target, known: null }]);
  if (moved?.outcome !== 'copied') {
    const error =
      moved?.error ?? new Error(`could not copy to the trash (${moved?.outcome ?? 'no result'}); not deleted`);
    return { destination: dest.name, key, outcome: 'failed', bytes: 0, error };
  }
  await dest.delete(key);
  return { destination: dest.name, key, outcome: 'trashed', bytes: size };
}
