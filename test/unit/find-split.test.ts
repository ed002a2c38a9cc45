/**
 * findSplit (`s3s3bucket --distribute`'s range splitting) on keys that share a long prefix
 * (`logs/2026/12/07/host-NNNNNN`): the split must land among the keys left, leaving a good part
 * of them on each side, within its probe budget. Halving from the end of the key space gave up
 * about five characters deep, so such a bucket never spread over the workers.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { findSplit } from '../../src/api/sweep/key-range.js';
import { compareKeys } from '../../src/api/sweep/ordered.js';
import type { ObjectStore } from '../../src/api/store/object-store.js';

const PAGE = 1000;

/** A store of sorted keys answering listPage as S3 does (1000 a page); counts the probes. */
function store(keys: string[]): { store: ObjectStore; probes: () => number } {
  const sorted = [...keys].sort(compareKeys);
  let probes = 0;
  const listPage = async (o: { prefix?: string; next?: string; startAfter?: string } = {}) => {
    if (o.startAfter !== undefined) probes++;
    const after = o.next ?? o.startAfter;
    // The first key above `after` (binary search).
    let i = 0;
    if (after !== undefined) {
      let hi = sorted.length;
      while (i < hi) {
        const m = (i + hi) >> 1;
        if (compareKeys(sorted[m]!, after) > 0) hi = m;
        else i = m + 1;
      }
    }
    const objects = [];
    while (i < sorted.length && objects.length < PAGE) {
      if (sorted[i]!.startsWith(o.prefix ?? '')) objects.push({ key: sorted[i]!, size: 1, etag: 'e' });
      i++;
    }
    const next = i < sorted.length && objects.length === PAGE ? objects.at(-1)!.key : undefined;
    return { objects, next };
  };
  return {
    store: { name: 'fake', settings: { prefix: '' }, listPage } as unknown as ObjectStore,
    probes: () => probes,
  };
}

describe('findSplit', () => {
  for (const [label, make] of [
    ['logs/2026/12/07/host-NNNNNN', (i: number) => `logs/2026/12/07/host-${String(i).padStart(6, '0')}`],
    ['k/NNNNNNNN', (i: number) => `k/${String(i).padStart(8, '0')}`],
    ['a 1000-byte common prefix', (i: number) => `${'p'.repeat(1000)}/${String(i).padStart(6, '0')}`],
  ] as const) {
    it(`${label}: splits what is left, a good part on each side`, async () => {
      const keys = Array.from({ length: 50_000 }, (_, i) => make(i));
      const s = store(keys);
      const low = make(5_000);
      const at = await findSplit(s.store, '', low, undefined);
      assert.ok(at !== undefined, 'a split was found');
      const above = keys.filter((k) => compareKeys(k, at) > 0).length;
      const between = keys.filter((k) => compareKeys(k, low) > 0 && compareKeys(k, at) <= 0).length;
      assert.ok(above >= PAGE, `${above} keys above the split ${JSON.stringify(at.slice(-20))}`);
      assert.ok(between >= 1000, `${between} keys between low and the split: a real split, not a handover`);
      assert.ok(s.probes() <= 32, `${s.probes()} probes`);
    });
  }
});
