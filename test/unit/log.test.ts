/** The text log never prints a control character raw: keys are untrusted names, the log goes to a terminal. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BurstWarning, createLogger } from '../../src/api/log.js';

/** Every character a terminal may act on: C0, DEL, C1, U+2028/2029. */
const CONTROLS = [
  ...Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i)),
  '\u007f',
  ...Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(0x80 + i)),
  '\u2028',
  '\u2029',
];
const RAW = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function lines(format: 'text' | 'json', log: (l: ReturnType<typeof createLogger>) => void): string[] {
  const out: string[] = [];
  log(createLogger({ format, write: (l) => out.push(l) }));
  return out;
}

const hex = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

describe('log escapes control characters', () => {
  it(
    'text: a field value holding any control character is JSON-quoted and escaped, ' + 'even with no space, quote or =',
    () => {
      for (const c of CONTROLS) {
        const [line] = lines('text', (l) => l.info('copied', { key: `a${c}b` }));
        assert.doesNotMatch(line!, RAW, hex(c));
        const m = /^s3s3 info: copied key=(".*")$/.exec(line!);
        assert.ok(m, `${hex(c)}: ${JSON.stringify(line)}`);
        assert.equal(JSON.parse(m[1]!), `a${c}b`, `${hex(c)} reads back`);
      }
      // An ESC sequence in a key, the case that reaches an operator's terminal.
      assert.deepEqual(
        lines('text', (l) => l.warn('failed', { key: '\u001b[2J\u001b]0;pwned\u0007', keys: ['x\u009b31m'] })),
        ['s3s3 warn: failed key="\\u001b[2J\\u001b]0;pwned\\u0007" keys=["x\\u009b31m"]'],
      );
      assert.deepEqual(
        lines('text', (l) => l.info('ok', { key: 'plain/key.txt', n: 3 })),
        ['s3s3 info: ok key=plain/key.txt n=3'],
        'a plain value stays bare',
      );
    },
  );

  it('text: a message embedding a key has its control characters escaped in place', () => {
    for (const c of CONTROLS) {
      const [line] = lines('text', (l) => l.error(`cannot copy "k${c}y"`));
      assert.doesNotMatch(line!, RAW, hex(c));
      assert.equal(
        line,
        `s3s3 error: cannot copy "k${JSON.stringify(c)
          .slice(1, -1)
          .replace(/^[\u007f-\u009f\u2028\u2029]$/, hex(c))}y"`,
      );
    }
    assert.equal(lines('text', (l) => l.error('key \u001b[31mred'))[0], 's3s3 error: key \\u001b[31mred');
  });

  it(
    'json: every control character escaped too (DEL, C1 and U+2028/2029, ' +
      'which JSON.stringify leaves raw); lines parse back',
    () => {
      for (const c of CONTROLS) {
        const [line] = lines('json', (l) => l.info(`m${c}`, { key: `a${c}b`, list: [c] }));
        assert.doesNotMatch(line!, RAW, hex(c));
        const o = JSON.parse(line!) as { msg: string; key: string; list: string[] };
        assert.deepEqual([o.msg, o.key, o.list], [`m${c}`, `a${c}b`, [c]]);
      }
    },
  );
});

describe('BurstWarning', () => {
  it('warns once per window; the rest of the burst are info lines counting it; a later burst warns again', async () => {
    const out: string[] = [];
    const b = new BurstWarning(createLogger({ level: 'debug', write: (l) => out.push(l) }), 'a job stalled', 50);
    for (const job of ['1', '2', '3']) b.note({ job });
    await new Promise((r) => setTimeout(r, 60));
    b.note({ job: '4' });
    assert.deepEqual(out, [
      's3s3 warn: a job stalled job=1',
      's3s3 info: a job stalled job=2 inBurst=2',
      's3s3 info: a job stalled job=3 inBurst=3',
      's3s3 warn: a job stalled job=4',
    ]);
  });
});
