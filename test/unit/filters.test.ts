/** Include/exclude globs: rclone's grammar on every key shape, malformed globs refused. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileGlob, globToRegExp, GlobError, makeFilter, validateGlobs } from '../../src/api/sweep/filters.js';
import { KEY_SHAPES, ORDER_KEYS } from '../helpers/keys.js';

const CONTROL = [...Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)), '\x7f'];
/** Keys a glob must see as characters like any other. */
const NASTY = [
  ...KEY_SHAPES,
  ...ORDER_KEYS,
  ...CONTROL.map((c) => `ctl/${c}`),
  ...CONTROL.map((c) => `ctl/in${c}side${c}`),
  'nl/line1\nline2',
  'nl/\n',
  'nl/a\r\nb',
  '.dotfile',
  'dir/.hidden',
  '.dotdir/.x',
  'dir/..',
  '..',
  '',
  'trailing/',
  'astral/\u{1F600}',
  'astral/\u{1F600}\u{1F680}',
  'lone/\ud800',
  `k1024/${'\u{1F600}'.repeat(254)}xx`,
];

/** Escapes every glob metacharacter, so the glob means exactly the key. */
const literal = (key: string) => key.replace(/[\\*?[\]{},]/g, '\\$&');

/** [glob, key, matches?]: each row checked with the matcher and the RegExp alike. */
const TABLE: [string, string, boolean][] = [
  ['*.txt', 'a.txt', true],
  ['*.txt', 'dir/a.txt', false],
  ['**.txt', 'dir/a.txt', true],
  ['**.txt', 'a.txt', true],
  ['**', '', true],
  ['*', '', true],
  ['?', '', false],
  ['*', 'dir/', false], // * never matches a "/" (picomatch's does, at the end)
  ['*/', 'dir/', true],
  ['a**b', 'a/x/y/b', true], // ** crosses "/" anywhere, not only as a whole segment
  ['a*b', 'a/b', false],
  ['a?b', 'a/b', false],
  ['dir/**', 'dir/', true],
  ['dir/**', 'dir', false],
  ['**/x', 'x', false], // plain characters: "**/" needs the "/"
  ['**/x', 'a/b/x', true],
  // Dotfiles are keys like any other.
  ['*', '.dotfile', true],
  ['dir/*', 'dir/.hidden', true],
  ['**', '.dotdir/.x', true],
  ['dir/*', 'dir/..', true],
  ['?', '.', true],
  // Newlines and control characters are characters.
  ['nl/*', 'nl/line1\nline2', true],
  ['**2', 'nl/line1\nline2', true],
  ['nl/?', 'nl/\n', true],
  ['nl/a??b', 'nl/a\r\nb', true],
  ['ctl/in?side?', 'ctl/in\x01side\x01', true],
  ['ctl/[[:cntrl:]]', 'ctl/\x7f', true],
  ['ctl/[[:cntrl:]]', 'ctl/\x1f', true],
  ['ctl/[[:cntrl:]]', 'ctl/ ', false],
  ['ctl/\x01*', 'ctl/\x01x', true],
  // ? is one character: an astral one too (two UTF-16 units).
  ['astral/?', 'astral/\u{1F600}', true],
  ['astral/??', 'astral/\u{1F600}', false],
  ['astral/??', 'astral/\u{1F600}\u{1F680}', true],
  ['astral/[\u{1F600}]', 'astral/\u{1F600}', true],
  ['astral/[\u{1F600}-\u{1F64F}]', 'astral/\u{1F610}', true],
  ['astral/[!\u{1F600}]', 'astral/\u{1F600}', false],
  ['lone/?', 'lone/\ud800', true],
  // NFC and NFD are different keys.
  ['unicode/caf\u00e9', 'unicode/caf\u00e9', true],
  ['unicode/caf\u00e9', 'unicode/cafe\u0301', false],
  ['unicode/caf?', 'unicode/cafe\u0301', false],
  ['unicode/caf??', 'unicode/cafe\u0301', true],
  // Classes.
  ['[ab]*', 'b1', true],
  ['[ab]*', 'c1', false],
  ['[a-c]', 'b', true],
  ['[!a-c]', 'd', true],
  ['[^a-c]', 'b', false],
  ['x[!a]y', 'x/y', false], // a complement never takes "/"
  ['x[/]y', 'x/y', true],
  ['[-a]', '-', true],
  ['[a-]', '-', true],
  ['[\\]]', ']', true],
  ['[\\\\]', '\\', true],
  ['[[]', '[', true],
  ['[[:digit:]x]', '7', true],
  ['[[:digit:]x]', 'x', true],
  ['[[:alpha:]]', '\u00e9', false], // ASCII classes, as Go's regexp
  // Alternatives.
  ['logs/202?/*.{gz,zip}', 'logs/2024/x.zip', true],
  ['logs/202?/*.{gz,zip}', 'logs/2024/x.tar', false],
  ['{a,b/c}', 'b/c', true],
  ['{a,}x', 'x', true],
  ['{*.gz,**.zip}', 'd/x.zip', true],
  ['{*.gz,**.zip}', 'd/x.gz', false],
  ['a,b', 'a,b', true], // a comma outside braces is itself
  // Everything else is literal, regex syntax included.
  ['a+b (1).txt', 'a+b (1).txt', true],
  ['a.b', 'axb', false],
  ['(a|b)', 'a', false],
  ['(a|b)', '(a|b)', true],
  ['^$', '^$', true],
  ['*(a)', 'x(a)', true],
  ['\\*', '*', true],
  ['\\*', 'x', false],
  ['\\{a,b\\}', '{a,b}', true],
  ['punct/all + % ? # & = ; : @ $ ,', 'punct/all + % X # & = ; : @ $ ,', true],
  // Anchored at both ends.
  ['b', 'ab', false],
  ['a', 'ab', false],
  ['/leading-slash', '/leading-slash', true],
  ['leading-slash', '/leading-slash', false],
];

describe('globs', () => {
  it('match the table with the matcher and the RegExp alike', () => {
    for (const [glob, key, expected] of TABLE) {
      assert.equal(compileGlob(glob)(key), expected, `compileGlob(${JSON.stringify(glob)}) on ${JSON.stringify(key)}`);
      assert.equal(
        globToRegExp(glob).test(key),
        expected,
        `globToRegExp(${JSON.stringify(glob)}) on ${JSON.stringify(key)}`,
      );
    }
  });

  it('a key written as a glob matches that key and no other, on every key shape', () => {
    for (const key of NASTY) {
      const m = compileGlob(literal(key));
      const re = globToRegExp(literal(key));
      for (const other of NASTY) {
        assert.equal(m(other), other === key, `${JSON.stringify(literal(key))} on ${JSON.stringify(other)}`);
        assert.equal(re.test(other), other === key);
      }
    }
  });

  it('** takes every key, * the keys without "/", ? one code point', () => {
    const all = compileGlob('**');
    const star = compileGlob('*');
    const dirStar = compileGlob('*/*');
    for (const key of NASTY) {
      assert.ok(all(key), JSON.stringify(key));
      assert.equal(star(key), !key.includes('/'), JSON.stringify(key));
      assert.equal(dirStar(key), key.split('/').length === 2, JSON.stringify(key));
      const points = Array.from(key);
      const qs = points.map((c) => (c === '/' ? '/' : '?')).join('');
      assert.ok(compileGlob(qs)(key), `${qs} on ${JSON.stringify(key)}`);
      assert.equal(compileGlob(qs + '?')(key), false);
    }
  });

  it('runs in time linear in the key, however many stars (1024-byte keys)', () => {
    const key = 'a'.repeat(1024);
    const glob = '*a*a*a*a*a*a*a*a*b';
    const t0 = performance.now();
    assert.equal(compileGlob(glob)(key), false);
    assert.equal(compileGlob('**a**a**a**a**a**b')(key + '/' + key), false);
    assert.ok(performance.now() - t0 < 2_000, 'no catastrophic backtracking');
  });

  it('refuses malformed globs with a GlobError naming the glob and what is wrong', () => {
    const bad: [string, RegExp][] = [
      ['a}b', /"}" at character 2 closes no "{"/],
      ['{a,b', /"{" at character 1 is never closed by "}"/],
      ['{a,{b}}', /alternatives cannot be nested/],
      ['[z-a]', /range "z-a" at character 2 goes backwards/],
      ['[]]', /empty class "\[\]" at character 1/],
      ['[!]', /empty class "\[!\]"/],
      ['[', /"\[" at character 1 is never closed by "\]"/],
      ['logs/[2024/*', /"\[" at character 6 is never closed/],
      ['[a\\', /never closed/],
      ['a]', /"\]" at character 2 closes no "\["/],
      ['***', /3 stars in a row at character 1/],
      ['a\\', /"\\" at character 2 ends the glob/],
      ['[[:nope:]]', /unknown class "\[:nope:\]"/],
    ];
    for (const [glob, problem] of bad) {
      for (const f of [compileGlob, globToRegExp, (g: string) => validateGlobs(['ok', g])]) {
        assert.throws(
          () => f(glob),
          (err: unknown) => {
            assert.ok(err instanceof GlobError, `${JSON.stringify(glob)}: ${String(err)}`);
            assert.equal(err.glob, glob);
            assert.match(err.problem, problem);
            assert.equal(err.message, `bad glob ${JSON.stringify(glob)}: ${err.problem}`);
            assert.ok(!err.message.includes('\n'));
            return true;
          },
        );
      }
    }
    assert.throws(() => makeFilter({ exclude: ['{'] }), GlobError);
  });
});
