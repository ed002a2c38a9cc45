/**
 * What a sweep sees of a store: the keys under its `prefix` (and the sweep's own
 * `--prefix`), with that prefix stripped, so a source and a destination under different
 * prefixes line up key for key (`images/a.jpg` <-> `avatar/a.jpg`). Stripping a common
 * prefix keeps S3's byte order, so the merge-join still holds. The trash is never seen.
 */
import type { ObjectInfo, ObjectStore } from '../store/object-store.js';
import { orderedListing } from './ordered.js';

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

/** The prefix under which a store's trash lives: never swept, checked or deleted. */
export function trashRoot(store: ObjectStore): string {
  return store.settings.trashPrefix ?? DEFAULT_TRASH_ROOT;
}

/** The trash key for `key` deleted now (`.s3s3-trash/2026-12-02/key` by default). */
export function trashKey(store: ObjectStore, key: string, now = new Date()): string {
  const custom = store.settings.trashPrefix;
  return custom !== undefined ? custom + key : `${DEFAULT_TRASH_ROOT}${now.toISOString().slice(0, 10)}/${key}`;
}

/** The store's objects in scope, keys relative to its prefix, in UTF-8 byte order. */
export async function* scopedListing(store: ObjectStore, subPrefix = ''): AsyncGenerator<ObjectInfo> {
  const prefix = storePrefix(store);
  const trash = trashRoot(store);
  for await (const o of orderedListing(store, prefix + subPrefix)) {
    if (o.key.startsWith(trash)) continue;
    yield prefix === '' ? o : { ...o, key: o.key.slice(prefix.length) };
  }
}
