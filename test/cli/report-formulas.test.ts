/**
 * `s3s3bucket --report` over keys a spreadsheet would run as formulas (OWASP CSV injection):
 * the CSV holds them with a `'` before them inside the quotes, and stripping that `'` gives
 * the exact keys back; the destination holds the keys unchanged.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { restoreField } from '../../src/api/report.js';
import { S3Store } from '../../src/api/store/s3-store.js';
import { configDir, runBucket } from '../helpers/bucket-cli.js';
import { destConfig, sectionIni, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, listKeys, putAll } from '../helpers/seed.js';

const { dir, write } = configDir('report-formulas');

/** Rows as Python's csv module reads them (RFC 4180, quoted newlines included). */
function parseCsv(file: string): string[][] {
  const out = execFileSync(
    '/usr/bin/python3',
    [
      '-c',
      'import csv,sys,json; print(json.dumps(list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))))',
      file,
    ],
    { encoding: 'utf8' },
  );
  return JSON.parse(out) as string[][];
}

const FORMULAS = ['=1+2', '-x', '@a', '\tb', '\rc', '+d', "'=x"];
const PLAIN = ['ok', 'a=b', "'q"];

describe('s3s3bucket --report with formula-like keys', () => {
  const [server] = testServers();
  const stores: S3Store[] = [];
  after(async () => {
    for (const s of stores) await dropStore(s).catch(() => {});
  });

  it("puts a ' before keys starting with =, +, -, @, tab or CR; stripping it gives the exact key", async () => {
    const src = await freshStore(server!, uniqueBucket('rf-src'));
    const dst = new S3Store(destConfig(server!, uniqueBucket('rf-dst')));
    await dst.createBucket();
    stores.push(src, dst);
    const keys = [...FORMULAS, ...PLAIN];
    await putAll(
      src,
      keys.map((key) => ({ key, body: Buffer.from(`body of ${key}`) })),
    );
    const file = write('rf.ini', sectionIni('source', server!, src.bucket) + sectionIni('dest1', server!, dst.bucket));
    const report = join(dir, 'rf.csv');
    const r = await runBucket(['--config', file, '--quiet', '--lock-file', join(dir, 'lock'), '--report', report], {
      cwd: dir,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      (await listKeys(dst)).map((o) => o.key).sort(),
      [...keys].sort(),
      'the destination holds the keys unchanged',
    );

    const text = readFileSync(report, 'utf8');
    assert.ok(text.includes(`,"'=1+2",dest1,${dst.bucket},"'=1+2",copied,`), text);
    const rows = parseCsv(report).slice(1);
    assert.equal(rows.length, keys.length);
    for (const k of keys) {
      const row = rows.find((x) => restoreField(x[2]!) === k);
      assert.ok(row, `a row for ${JSON.stringify(k)}`);
      const shown = FORMULAS.includes(k) ? "'" + k : k;
      assert.equal(row[2], shown, `source_key of ${JSON.stringify(k)}`);
      assert.equal(row[5], shown, `destination_key of ${JSON.stringify(k)}`);
      assert.equal(row[6], 'copied');
    }
  });

  it('report_raw_keys = true writes the keys as they are', async () => {
    const src = await freshStore(server!, uniqueBucket('rf-raw-src'));
    const dst = new S3Store(destConfig(server!, uniqueBucket('rf-raw-dst')));
    await dst.createBucket();
    stores.push(src, dst);
    await putAll(
      src,
      FORMULAS.map((key) => ({ key, body: Buffer.from(`body of ${key}`) })),
    );
    const file = write(
      'rf-raw.ini',
      '[pubsub]\nredis = false\nreport_raw_keys = true\n\n' +
        sectionIni('source', server!, src.bucket) +
        sectionIni('dest1', server!, dst.bucket),
    );
    const report = join(dir, 'rf-raw.csv');
    const r = await runBucket(['--config', file, '--quiet', '--lock-file', join(dir, 'lock-raw'), '--report', report], {
      cwd: dir,
    });
    assert.equal(r.code, 0, r.stderr);
    const rows = parseCsv(report).slice(1);
    assert.deepEqual(rows.map((x) => x[2]).sort(), [...FORMULAS].sort());
    assert.deepEqual(rows.map((x) => x[5]).sort(), [...FORMULAS].sort());
  });
});
