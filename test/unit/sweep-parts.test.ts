/** Key order, globs and the limiter: the small parts the sweep stands on. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compareKeys } from '../../src/api/sweep/ordered.js';
import { globToRegExp, makeFilter } from '../../src/api/sweep/filters.js';
import { Limiter } from '../../src/api/copy/limiter.js';

describe('sweep parts', () => {
  it('orders keys by UTF-8 bytes, not UTF-16 code units', () => {
    // U+FF5E is EF BD 9E in UTF-8, U+1F600 is F0 9F 98 80: bytes put U+FF5E first; JS `<` does not.
    assert.ok('\u{1F600}' < '\uff5e');
    assert.ok(compareKeys('\uff5e', '\u{1F600}') < 0);
    assert.ok(compareKeys('a/b', 'a-c') > 0);
    assert.equal(compareKeys('same', 'same'), 0);
    // Agrees with Buffer.compare of the UTF-8 bytes on a mix of every range.
    const samples = [
      '',
      'a',
      'ab',
      'a/b',
      'a-c',
      '\u00e9',
      '\u07ff',
      '\u0800',
      '\ud7ff',
      '\ue000',
      '\uff5e',
      '\uffff',
      '\u{10000}',
      '\u{1F600}',
      '\u{10FFFF}',
      'x\u{1F600}y',
      'x\uffffy',
    ];
    for (const a of samples) {
      for (const b of samples) {
        assert.equal(
          Math.sign(compareKeys(a, b)),
          Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))),
          `${JSON.stringify(a)} vs ${JSON.stringify(b)}`,
        );
      }
    }
  });

  it('matches rclone-style globs', () => {
    assert.ok(globToRegExp('*.txt').test('a.txt'));
    assert.ok(!globToRegExp('*.txt').test('dir/a.txt'));
    assert.ok(globToRegExp('**.txt').test('dir/a.txt'));
    assert.ok(globToRegExp('logs/202?/*.{gz,zip}').test('logs/2024/x.zip'));
    assert.ok(!globToRegExp('logs/202?/*.{gz,zip}').test('logs/2024/x.tar'));
    assert.ok(globToRegExp('[ab]*').test('b1'));
    assert.ok(globToRegExp('a+b (1).txt').test('a+b (1).txt'));
  });

  it('filters by size and globs, exclusion winning', () => {
    const f = makeFilter({ minSize: 2, maxSize: 10, include: ['**.txt'], exclude: ['tmp/**'] });
    assert.ok(f({ key: 'a.txt', size: 5, etag: '' }));
    assert.ok(!f({ key: 'a.txt', size: 1, etag: '' }));
    assert.ok(!f({ key: 'a.txt', size: 11, etag: '' }));
    assert.ok(!f({ key: 'a.bin', size: 5, etag: '' }));
    assert.ok(!f({ key: 'tmp/a.txt', size: 5, etag: '' }));
  });

  it('never lets more than its size run at once', async () => {
    const limiter = new Limiter(3);
    let active = 0;
    let peak = 0;
    const tasks = [];
    for (let i = 0; i < 20; i++) {
      await limiter.acquire();
      active++;
      peak = Math.max(peak, active);
      tasks.push(
        new Promise<void>((r) => setTimeout(r, 2)).then(() => {
          active--;
          limiter.release();
        }),
      );
    }
    await Promise.all(tasks);
    assert.equal(peak, 3);
  });
});
