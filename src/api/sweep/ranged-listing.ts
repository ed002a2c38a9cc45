/**
 * One listing read as several key ranges at once (the way s3p bisects a bucket), yielded in
 * the store's byte order. A listing page needs the previous page's last key, so one lister
 * waits a round trip per 1000 keys; here each full page splits what is left of its range at a
 * key halfway between its last key and the range's end, and another lister takes the upper
 * half. Ranges are `(after, upTo]`: they partition the key space whatever the split key is,
 * and a guess that lands past every key only costs one empty page. Memory: each range holds
 * at most `ahead` pages before its lister waits for the reader.
 */
import { ListingOrderError } from '../errors.js';
import type { ObjectInfo, ObjectStore } from '../store/object-store.js';
import { compareKeys } from './ordered.js';

/** How rangedListing splits a listing: listers at once, pages held ahead. */
export interface RangedListingOptions {
  /** Listers at once (1 = a plain listing). */
  readonly parallel: number;
  /** Pages a range may hold ahead of the reader. */
  readonly ahead?: number;
  /** Only keys after this one (a full key): the start of a distributed sweep's range. */
  readonly after?: string;
  /** Only keys up to this one (a full key), inclusive. */
  readonly upTo?: string;
}

/** One code point past the last (U+10FFFF): the end of the key space under a prefix. */
const END = 0x110000;

/** A key after every key under `prefix` (two of the last code point: keys are at most 1024 bytes). */
export function endOfSpace(prefix: string): string {
  return prefix + String.fromCodePoint(END - 1) + String.fromCodePoint(END - 1);
}

class Range<T> {
  readonly pages: T[][] = [];
  done = false;
  error: unknown;
  /** Set when the range gets a page or finishes; the reader waits on it. */
  private wake: (() => void) | undefined;
  /** Set when the reader takes a page; the lister waits on it when `ahead` pages wait. */
  private room: (() => void) | undefined;
  next: Range<T> | undefined;

  constructor(
    readonly after: string | undefined,
    public upTo: string | undefined,
  ) {}

  notifyReader(): void {
    this.wake?.();
    this.wake = undefined;
  }

  notifyLister(): void {
    this.room?.();
    this.room = undefined;
  }

  waitForPage(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  waitForRoom(): Promise<void> {
    return new Promise((resolve) => (this.room = resolve));
  }
}

/** The objects under `prefix`, listed as several key ranges at once, yielded in the store's byte order. */
export function rangedListing(
  store: ObjectStore,
  prefix: string,
  options: RangedListingOptions,
): AsyncGenerator<ObjectInfo> {
  return rangedPages(
    store,
    {
      page: async (o) => {
        const got = await store.listPage({ prefix, ...o });
        return { items: got.objects, next: got.next };
      },
      keyOf: (o: ObjectInfo) => o.key,
    },
    prefix,
    options,
  );
}

/**
 * Any sorted listing as rangedListing reads one: `page` lists from after a key (`startAfter`:
 * every entry of later keys) or on from a page; with `repeats`, one key may have several
 * entries in a row (a version listing), and a split never falls between them.
 */
export interface RangedLister<T> {
  page(o: { startAfter?: string; next?: string }): Promise<{ items: readonly T[]; next?: string }>;
  keyOf(item: T): string;
  readonly repeats?: boolean;
}

/** rangedListing's ranges over any RangedLister (errors name `store`). */
export async function* rangedPages<T>(
  store: Pick<ObjectStore, 'name' | 'endpoint' | 'bucket'>,
  lister: RangedLister<T>,
  prefix: string,
  options: RangedListingOptions,
): AsyncGenerator<T> {
  const ahead = options.ahead ?? 2;
  let running = 0;
  let stopped = false;
  const first = new Range<T>(options.after, options.upTo);

  const listRange = async (range: Range<T>): Promise<void> => {
    running++;
    try {
      let next: string | undefined;
      let previous = range.after;
      let listed = false;
      for (let page = 0; ; page++) {
        while (range.pages.length >= ahead && !stopped) await range.waitForRoom();
        if (stopped) return;
        const got = page === 0 ? await lister.page({ startAfter: range.after }) : await lister.page({ next });
        const kept: T[] = [];
        let beyond = false;
        for (const o of got.items) {
          const key = lister.keyOf(o);
          // A misordered page would make the range test drop keys: refuse it here.
          const order = previous === undefined ? -1 : compareKeys(previous, key);
          // Repeats follow their own key only, never the range's start.
          if (order > 0 || (order === 0 && (!lister.repeats || !listed))) {
            throw new ListingOrderError({
              section: store.name,
              endpoint: store.endpoint,
              bucket: store.bucket,
              previous: previous!,
              key,
            });
          }
          previous = key;
          listed = true;
          if (range.upTo !== undefined && compareKeys(key, range.upTo) > 0) {
            beyond = true;
            break;
          }
          kept.push(o);
        }
        if (kept.length > 0) {
          range.pages.push(kept);
          range.notifyReader();
        }
        if (beyond || got.next === undefined) return;
        next = got.next;
        // A full page: what is left may be large; hand its upper half to another lister.
        if (running < options.parallel && previous !== undefined) {
          const split = keyBetween(previous, range.upTo ?? endOfSpace(prefix));
          if (split !== undefined && split.startsWith(prefix)) {
            const upper = new Range<T>(split, range.upTo);
            upper.next = range.next;
            range.next = upper;
            range.upTo = split;
            void listRange(upper);
          }
        }
      }
    } catch (err) {
      range.error = err;
    } finally {
      running--;
      range.done = true;
      range.notifyReader();
    }
  };

  void listRange(first);
  try {
    for (let range: Range<T> | undefined = first; range; range = range.next) {
      for (;;) {
        const page = range.pages.shift();
        if (page) {
          range.notifyLister();
          yield* page;
          continue;
        }
        if (range.error !== undefined) throw range.error;
        if (range.done) break;
        await range.waitForPage();
      }
    }
  } finally {
    // The reader stopped (done, or failed): listers still running stop at their next page.
    stopped = true;
    for (let range: Range<T> | undefined = first; range; range = range.next) range.notifyLister();
  }
}

/**
 * A key strictly between `low` and `high` in code point (UTF-8 byte) order, or undefined when
 * none is short enough to find: halfway at the first code point where they differ, or, where
 * those are neighbours, halfway between `low`'s next code point and the end of the key space.
 * Never a surrogate half or NUL, which no key or marker may hold.
 */
export function keyBetween(low: string, high: string): string | undefined {
  const a = [...low].map((c) => c.codePointAt(0)!);
  const b = [...high].map((c) => c.codePointAt(0)!);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (i >= b.length) return undefined; // high is a prefix of low (or equal): nothing between
  const out = a.slice(0, i);
  let lo = i < a.length ? a[i]! : 0;
  let hi = b[i]!;
  // Neighbours: go one code point deeper, under low (then anything up to the end of the key space fits).
  if (hi - lo < 2) {
    if (i >= a.length) return undefined;
    out.push(a[i]!);
    i++;
    lo = i < a.length ? a[i]! : 0;
    hi = END;
  }
  let mid = Math.floor((lo + hi) / 2);
  if (mid >= 0xd800 && mid <= 0xdfff) mid = 0xe000 < hi ? 0xe000 : 0xd7ff;
  if (mid <= lo || mid === 0) return undefined;
  out.push(mid);
  const key = String.fromCodePoint(...out);
  return compareKeys(low, key) < 0 && compareKeys(key, high) < 0 ? key : undefined;
}
