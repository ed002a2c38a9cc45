/**
 * S3 lists keys in UTF-8 byte order, and a merge-join is only right on that order.
 * JavaScript's `<` compares UTF-16 code units, which disagree above U+FFFF, so keys are
 * compared as bytes; a listing that breaks the order is refused, never silently mis-planned.
 */
import { ListingOrderError } from '../errors.js';
import type { ObjectInfo, ObjectStore } from '../store/object-store.js';
import { rangedListing } from './ranged-listing.js';

/**
 * UTF-8 byte order is code point order. UTF-16 code units agree with it except that
 * surrogates (U+D800-DFFF, the halves of code points above U+FFFF) must sort after
 * U+E000-FFFF; shifting the two ranges at the first difference fixes that without
 * encoding either key (this runs for every key of every listing).
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return utf8Rank(x) - utf8Rank(y);
  }
  return a.length - b.length;
}

function utf8Rank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

/**
 * The store's objects under `prefix` in UTF-8 byte order, as the merge-join needs them; a
 * listing that breaks the order throws ListingOrderError (never a silently mis-planned sweep).
 */
export async function* orderedListing(
  store: ObjectStore,
  prefix?: string,
  bounds: { readonly after?: string; readonly upTo?: string; readonly parallel?: number } = {},
): AsyncGenerator<ObjectInfo> {
  let previous: string | undefined;
  const parallel = bounds.parallel ?? store.settings.listParallel;
  const listing =
    parallel > 1
      ? rangedListing(store, prefix ?? '', { ...bounds, parallel })
      : bounds.after !== undefined
        ? listAfter(store, prefix, bounds.after)
        : store.list({ prefix });
  for await (const o of listing) {
    if (previous !== undefined && compareKeys(previous, o.key) >= 0) {
      throw new ListingOrderError({
        section: store.name,
        endpoint: store.endpoint,
        bucket: store.bucket,
        previous,
        key: o.key,
      });
    }
    previous = o.key;
    yield o;
  }
}

/** The keys under `prefix` after `after` (a full key), page by page. */
async function* listAfter(store: ObjectStore, prefix: string | undefined, after: string): AsyncGenerator<ObjectInfo> {
  let page = await store.listPage({ prefix, startAfter: after });
  for (;;) {
    yield* page.objects;
    if (page.next === undefined) return;
    page = await store.listPage({ prefix, next: page.next });
  }
}

/** A listing with one item of look-ahead, for the merge-join. */
export class Cursor {
  private head: ObjectInfo | undefined;
  private done = false;
  private started = false;

  /** `onPassed` sees each entry passed over: a key the other side does not have. */
  constructor(
    private readonly it: AsyncIterator<ObjectInfo>,
    private readonly onPassed?: (o: ObjectInfo) => void,
  ) {}

  /** The entry for `key` if the listing has it; entries before it are passed over. */
  async seek(key: string): Promise<ObjectInfo | null> {
    if (!this.started) await this.advance();
    while (!this.done && compareKeys(this.head!.key, key) < 0) {
      this.onPassed?.(this.head!);
      await this.advance();
    }
    if (!this.done && this.head!.key === key) {
      const hit = this.head!;
      await this.advance();
      return hit;
    }
    return null;
  }

  /** Pass over everything left (the keys after the other side's last). */
  async drain(): Promise<void> {
    if (!this.started) await this.advance();
    while (!this.done) {
      this.onPassed?.(this.head!);
      await this.advance();
    }
  }

  private async advance(): Promise<void> {
    this.started = true;
    const r = await this.it.next();
    this.done = r.done === true;
    this.head = r.done ? undefined : r.value;
  }
}
