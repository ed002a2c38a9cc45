/**
 * What a sweep sees of a store: the keys under its `prefix` (and the sweep's own
 * `--prefix`), with that prefix stripped, so a source and a destination under different
 * prefixes line up key for key (`images/a.jpg` <-> `avatar/a.jpg`). Stripping a common
 * prefix keeps S3's byte order, so the merge-join still holds. The trash is never seen.
 */
import type { ObjectInfo, ObjectStore } from '../store/object-store.js';
import { inTrash, storePrefix } from '../sync/sync-key.js';
import { orderedListing } from './ordered.js';

export {
  fullKey,
  inTrash,
  relativeKey,
  storePrefix,
  trashKey,
  trashRoot,
  trashRoots,
  DEFAULT_TRASH_ROOT,
} from '../sync/sync-key.js';

/**
 * The store's objects in scope, keys relative to its prefix, in UTF-8 byte order. A
 * destination's trash is left out; a source has none (its keys are all copied, whatever
 * their names).
 */
export async function* scopedListing(
  store: ObjectStore,
  subPrefix = '',
  role: 'source' | 'destination' = 'destination',
): AsyncGenerator<ObjectInfo> {
  const prefix = storePrefix(store);
  for await (const o of orderedListing(store, prefix + subPrefix)) {
    if (role === 'destination' && inTrash(store, o.key)) continue;
    yield prefix === '' ? o : { ...o, key: o.key.slice(prefix.length) };
  }
}
