/**
 * The --report CSV: every key shape round-trips through a real CSV parser (Python's csv
 * module), the header is written once, and a writer killed with SIGKILL leaves whole rows.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  csvField,
  neutralisedField,
  REPORT_COLUMNS,
  ReportError,
  ReportWriter,
  restoreField,
} from '../../src/api/report.js';
import { CONTROL_KEYS, KEY_SHAPES } from '../helpers/keys.js';

const dir = mkdtempSync(join(tmpdir(), 's3s3-report-'));
const ROOT = join(import.meta.dirname, '../..');

/** Rows as Python's csv module reads them (RFC 4180, quoted newlines included). */
function parseCsv(file: string): string[][] {
  const out = execFileSync(
    '/usr/bin/python3',
    [
      '-c',
      'import csv,sys,json; print(json.dumps(list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))))',
      file,
    ],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  );
  return JSON.parse(out) as string[][];
}

// Lone surrogates cannot be written as UTF-8 (nor stored as S3 keys): left out.
const KEYS = [
  ...KEY_SHAPES,
  ...CONTROL_KEYS,
  'a,b',
  'a"b',
  '"',
  '""',
  'line1\nline2',
  'cr\ronly',
  'crlf\r\n',
  ' lead and trail ',
  '\\N',
  'tab\tkey',
].filter((k) => Buffer.from(k, 'utf8').toString('utf8') === k);

describe('report CSV', () => {
  it('quotes only fields with a comma, a quote, CR or LF, doubling quotes', () => {
    assert.equal(csvField('plain key.txt'), 'plain key.txt');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('x\ny'), '"x\ny"');
    assert.equal(csvField('x\ry'), '"x\ry"');
    assert.equal(csvField('back\\slash'), 'back\\slash');
  });

  it('writes the header once, and every key shape round-trips through a CSV parser', () => {
    const file = join(dir, 'shapes.csv');
    const first = ReportWriter.open(file);
    const half = Math.floor(KEYS.length / 2);
    const time = new Date(Date.UTC(2026, 11, 2, 1, 2, 3, 45));
    const row = (key: string, i: number) => ({
      time,
      sourceBucket: 'old-bucket',
      sourceKey: `images/${key}`,
      destination: 'dest1',
      destinationBucket: 'new,bucket',
      destinationKey: `avatar/${key}`,
      action: i % 2 ? ('copied' as const) : ('failed' as const),
      size: i,
      sourceEtag: 'abc',
      md5: '',
      error: i % 2 ? undefined : `boom, "${key}"`,
    });
    KEYS.slice(0, half).forEach((k, i) => first.row(row(k, i)));
    first.close();
    // Reopened (a second run appending): no second header.
    const second = ReportWriter.open(file);
    KEYS.slice(half).forEach((k, i) => second.row(row(k, half + i)));
    second.close();
    const text = readFileSync(file, 'utf8');
    assert.ok(text.startsWith(REPORT_COLUMNS.join(',') + '\n'));
    assert.ok(!text.includes('\r\n' + '2026-'), 'LF line ends between rows');
    const rows = parseCsv(file);
    assert.deepEqual(rows[0], [...REPORT_COLUMNS]);
    assert.equal(rows.length, KEYS.length + 1, 'one header, one row per key');
    for (const [i, k] of KEYS.entries()) {
      const r = rows[i + 1]!;
      assert.equal(r.length, REPORT_COLUMNS.length, JSON.stringify(k));
      assert.deepEqual(r, [
        '2026-12-02T01:02:03.045Z',
        'old-bucket',
        `images/${k}`,
        'dest1',
        'new,bucket',
        `avatar/${k}`,
        i % 2 ? 'copied' : 'failed',
        String(i),
        'abc',
        '',
        i % 2 ? '' : `boom, "${k}"`,
      ]);
    }
  });

  // OWASP CSV injection: what a spreadsheet would run as a formula, plus the values that would
  // read back as one once the loader strips the leading quote.
  const FORMULAS = ['=1+2', '-x', '@a', '\tb', '\rc', '+d', '=HYPERLINK("http://x","y")', '-', "'=x", "''+y", '\r\n=z'];
  const HARMLESS = ['a=b', "'plain", "'", 'x-y', ' =sp', '\nnl', '', 'é=1'];

  it(
    'puts a quote before keys and errors that start with =, +, -, @, tab or CR, ' +
      'inside the quotes; exactly undoable',
    () => {
      assert.equal(neutralisedField('=1+2'), `"'=1+2"`);
      assert.equal(neutralisedField('\tb'), `"'\tb"`);
      assert.equal(neutralisedField('=HYPERLINK("a")'), `"'=HYPERLINK(""a"")"`);
      assert.equal(neutralisedField("'=x"), `"''=x"`);
      assert.equal(neutralisedField('a=b'), 'a=b');
      const file = join(dir, 'formulas.csv');
      const w = ReportWriter.open(file);
      for (const k of [...FORMULAS, ...HARMLESS]) {
        w.row({
          sourceBucket: '-bucket',
          sourceKey: k,
          destination: 'dest1',
          destinationBucket: 'd',
          destinationKey: k,
          action: 'failed',
          sourceEtag: '-e',
          error: k,
        });
      }
      w.close();
      const text = readFileSync(file, 'utf8');
      assert.ok(text.includes(`,"'=1+2",dest1,d,"'=1+2",failed,,-e,,"'=1+2"\n`), text);
      const rows = parseCsv(file).slice(1);
      for (const [i, k] of [...FORMULAS, ...HARMLESS].entries()) {
        const r = rows[i]!;
        assert.equal(r[1], '-bucket', 'only keys and errors are touched');
        for (const col of [2, 5, 10]) {
          const field = r[col]!;
          if (i < FORMULAS.length) {
            assert.ok(
              field.startsWith("'") && /^'+[=+\-@\t\r]/.test(field),
              `${JSON.stringify(k)} column ${col}: ${JSON.stringify(field)}`,
            );
            assert.equal(field, "'" + k);
          } else {
            assert.equal(field, k, `${JSON.stringify(k)} is left alone`);
          }
          assert.equal(restoreField(field), k, `${JSON.stringify(k)} reads back byte-exact`);
        }
      }
    },
  );

  it('report_raw_keys: the values as they are', () => {
    const file = join(dir, 'raw.csv');
    const w = ReportWriter.open(file, undefined, { rawKeys: true });
    for (const k of FORMULAS)
      w.row({
        sourceBucket: 's',
        sourceKey: k,
        destination: 'dest1',
        destinationBucket: 'd',
        destinationKey: k,
        action: 'failed',
        error: k,
      });
    w.close();
    const rows = parseCsv(file).slice(1);
    assert.deepEqual(
      rows.map((r) => [r[2], r[5], r[10]]),
      FORMULAS.map((k) => [k, k, k]),
    );
  });

  it('a file that cannot be opened is a ReportError naming it', () => {
    assert.throws(
      () => ReportWriter.open(join(dir, 'no/such/dir/r.csv')),
      (e: unknown) => e instanceof ReportError && /no\/such\/dir\/r\.csv.*ENOENT/.test(e.message),
    );
  });

  it('a writer killed with SIGKILL after any write(2) leaves only whole rows', async () => {
    // The child kills itself right after its Nth write(2) of the report: with one write per
    // row, every stopping point leaves whole rows; a row written in pieces would be torn at
    // some N. A key full of quotes, commas and newlines makes a torn row unparsable.
    const script = join(dir, 'writer.mts');
    writeFileSync(
      script,
      `import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
const stopAfter = Number(process.argv[2]);
const real = fs.writeSync;
let calls = 0;
(fs as { writeSync: unknown }).writeSync = (...args: unknown[]) => {
  const n = (real as (...a: unknown[]) => number)(...args);
  if (++calls === stopAfter) process.kill(process.pid, 'SIGKILL');
  return n;
};
syncBuiltinESMExports();
const { ReportWriter } = await import(${JSON.stringify(join(ROOT, 'src/api/report.ts'))});
const w = ReportWriter.open(process.argv[3]);
const key = 'k,"\\n'.repeat(200);
for (let i = 0; ; i++)
  w.row({ sourceBucket: 's', sourceKey: key + i, destination: 'dest1', destinationBucket: 'd', destinationKey: key + i,
    action: 'copied', size: i });
`,
    );
    const key = 'k,"\n'.repeat(200);
    for (const stopAfter of [1, 2, 3, 4, 5, 8, 13]) {
      const file = join(dir, `killed-${stopAfter}.csv`);
      const child = spawn(process.execPath, ['--import', 'tsx', script, String(stopAfter), file], {
        cwd: ROOT,
        stdio: 'ignore',
      });
      const signal = await new Promise((r) => child.once('exit', (_code, sig) => r(sig)));
      assert.equal(signal, 'SIGKILL');
      const text = readFileSync(file, 'utf8');
      assert.ok(text.endsWith('\n'), `stopped after write ${stopAfter}: the file ends with a whole line`);
      const rows = parseCsv(file);
      assert.deepEqual(rows[0], [...REPORT_COLUMNS]);
      assert.equal(
        rows.length,
        stopAfter,
        `stopped after write ${stopAfter}: the header and ${stopAfter - 1} whole rows`,
      );
      for (const [i, r] of rows.slice(1).entries()) {
        assert.equal(r.length, REPORT_COLUMNS.length);
        assert.equal(r[2], key + i);
        assert.equal(r[7], String(i));
      }
    }
  });
});
