/**
 * The split key of the ranged listing: strictly between its two keys in UTF-8 byte order, never
 * a surrogate half or NUL, for neighbours, prefixes, astral characters and the end of the key space.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { keyBetween } from '../../src/api/sweep/ranged-listing.js';

const bytes = (s: string) => Buffer.from(s, 'utf8');
const before = (a: string, b: string) => Buffer.compare(bytes(a), bytes(b)) < 0;
const END = '\u{10FFFF}\u{10FFFF}';

function check(low: string, high: string): string | undefined {
  const k = keyBetween(low, high);
  if (k === undefined) return k;
  assert.ok(
    before(low, k) && before(k, high),
    `${JSON.stringify(low)} < ${JSON.stringify(k)} < ${JSON.stringify(high)}`,
  );
  assert.ok(!/[\ud800-\udfff]/u.test(k) && !k.includes('\0'), `no surrogate or NUL in ${JSON.stringify(k)}`);
  assert.equal(Buffer.from(k, 'utf8').toString('utf8'), k);
  return k;
}

describe('keyBetween', () => {
  it('halves at the first code point that differs, and goes deeper for neighbours', () => {
    assert.equal(check('a', 'c'), 'b');
    assert.equal(check('img/0999', 'img/2'), 'img/1');
    const deeper = check('img/0999', 'img/1')!;
    assert.ok(deeper.startsWith('img/0'), deeper);
    assert.ok(check('a', 'a\u0005') !== undefined);
    assert.equal(keyBetween('a', 'a'), undefined);
    assert.equal(keyBetween('ab', 'a'), undefined);
    assert.equal(keyBetween('a', 'a\u0001'), undefined, 'nothing without NUL lies between');
  });

  it('works up to the end of the key space, across the surrogate range and with astral keys', () => {
    for (const low of ['', 'p/', 'p/\u{1F600}', 'p/\uffff', 'p/\ud7ff', 'p/\ue000', 'p/\u{10FFFF}', 'x'.repeat(1024)])
      check(low, 'p/' + END);
    check('p/\ud7fe', 'p/\u{1F600}');
    check('p/\u{1F600}', 'p/\u{1F602}');
    check('p/\u{1F600}', 'p/\u{1F601}');
    check('e\u0301', '\u00e9');
  });

  it('holds for random keys of every plane', () => {
    let seed = 7;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    const pick = () => {
      const r = rnd(10);
      if (r < 4) return 0x20 + rnd(0x5f);
      if (r < 6) return 1 + rnd(0x1f);
      if (r < 8) return 0x80 + rnd(0xd800 - 0x80);
      return 0x10000 + rnd(0x100000);
    };
    const key = () => String.fromCodePoint(...Array.from({ length: 1 + rnd(6) }, pick));
    let found = 0;
    for (let i = 0; i < 20000; i++) {
      let [a, b] = [key(), key()];
      if (rnd(3) === 0) b = a + b;
      if (before(b, a)) [a, b] = [b, a];
      if (a === b) continue;
      if (check(a, b) !== undefined) found++;
    }
    assert.ok(found > 15000, `a split key for most pairs (${found})`);
  });
});
