/**
 * The built s3s3bucket against every key shape plus twins, both directions (Ceph <-> Swift),
 * with prefixes on both sides: three sweeps (the 2nd and 3rd copy nothing), --check silent,
 * --check-all one parseable `=` line per key, --report rows Python's csv module reads back
 * to the exact keys, dry-run delete lines that parse, and a destination prefix that pushes
 * a key past 1024 bytes failing that key only, with a clear line and no stack trace.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { S3Store } from '../../src/api/store/s3-store.js';
import { destConfig, sectionIni, testServers, uniqueBucket, type TestServer } from '../helpers/servers.js';
import { dropStore, freshStore, listKeys, md5Hex, putAll, readAll } from '../helpers/seed.js';
import { KEY_SHAPES, ORDER_KEYS } from '../helpers/keys.js';

const BIN = join(import.meta.dirname, '../../dist/scripts/bucket.js');
const dir = mkdtempSync(join(tmpdir(), 's3s3-hostile-'));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        env: { PATH: process.env.PATH, HOME: dir, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        cwd: dir,
        maxBuffer: 64 * 1024 * 1024,
        timeout: 120_000,
      },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

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

const TWINS = [
  'tw/a b',
  'tw/a+b',
  'tw/a%20b',
  'tw/a%2Bb',
  'tw/trailing ',
  'tw/trailing  ',
  'tw/\u00e9',
  'tw/e\u0301',
  'tw/=1+1',
  'tw/-cmd',
  'tw/\u2028ls',
  'tw/"q",x',
  'tw/\r\n',
];
const body = (k: string) => Buffer.from(`body of ${k}`);
const sortedBytes = (keys: readonly string[]) =>
  [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
/** Keys under the source prefix: every shape, relative to it (the exact-1024 one would not fit). */
const REL = [...new Set([...KEY_SHAPES, ...ORDER_KEYS, ...TWINS])].filter((k) => Buffer.byteLength(k) <= 1000);

function lineKeys(stdout: string, mark: string): string[] {
  // Each line is `<mark> <JSON string> [dest1]`; a key never breaks a line.
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const m = /^(.) (".*") \[dest1\]$/s.exec(l);
      assert.ok(m, `line does not parse: ${JSON.stringify(l)}`);
      assert.equal(m[1], mark);
      return JSON.parse(m[2]!) as string;
    });
}

const servers = testServers();
const ceph = servers.find((s) => s.name === 'ceph')!;
const swift = servers.find((s) => s.name === 'swift')!;

for (const [from, to] of [
  [ceph, swift],
  [swift, ceph],
] as Array<[TestServer, TestServer]>) {
  describe(`s3s3bucket with hostile keys, ${from.name} -> ${to.name}, prefixes on both sides`, () => {
    const stores: S3Store[] = [];
    after(async () => {
      for (const s of stores) await dropStore(s).catch(() => {});
    });

    it(
      'three sweeps, a silent check, = for each, CSV rows and dry-run lines that parse to the exact keys',
      { timeout: 240_000 },
      async () => {
        const srcPrefix = 'old pre/\u00e9 x/';
        const dstPrefix = 'new/\u{1F600}/';
        const src = await freshStore(from, uniqueBucket('hx-src'));
        const dst = new S3Store(destConfig(to, uniqueBucket('hx-dst')));
        await dst.createBucket();
        stores.push(src, dst);
        await putAll(src, [
          ...REL.map((k) => ({ key: srcPrefix + k, body: body(k) })),
          { key: 'outside/x', body: body('x') },
          { key: 'old pre/e\u0301 x/k', body: body('twin prefix') },
          { key: 'old pre/\u00e9 x', body: body('no slash') },
        ]);
        await dst.put('outside-dst/keep', body('keep'), { contentLength: body('keep').length });
        const file = join(dir, `hx-${from.name}.ini`);
        writeFileSync(
          file,
          sectionIni('source', from, src.bucket, { prefix: srcPrefix }) +
            sectionIni('dest1', to, dst.bucket, { prefix: dstPrefix }),
          { mode: 0o600 },
        );
        const report = join(dir, `hx-${from.name}.csv`);
        const copied: number[] = [];
        for (let i = 1; i <= 3; i++) {
          const r = await run([
            '--config',
            file,
            '--json',
            '--quiet',
            '--lock-file',
            join(dir, 'l'),
            '--report',
            report,
          ]);
          assert.equal(r.code, 0, `run ${i}: ${r.stderr}`);
          const j = JSON.parse(r.stdout) as { listed: number; copied: number; failed: number };
          assert.equal(j.listed, REL.length, `run ${i} listed`);
          assert.equal(j.failed, 0);
          copied.push(j.copied);
        }
        assert.deepEqual(copied, [REL.length, 0, 0]);
        const inDst = (await listKeys(dst)).map((o) => o.key);
        assert.deepEqual(inDst, sortedBytes([...REL.map((k) => dstPrefix + k), 'outside-dst/keep']));
        for (const k of REL.slice(0, 40))
          assert.equal(md5Hex(await readAll((await dst.get(dstPrefix + k)).body)), md5Hex(body(k)), JSON.stringify(k));

        const check = await run(['--config', file, '--check']);
        assert.equal(check.code, 0, check.stderr);
        assert.equal(check.stdout, '');
        const all = await run(['--config', file, '--check', '--check-all']);
        assert.equal(all.code, 0, all.stderr);
        assert.deepEqual(
          sortedBytes(lineKeys(all.stdout, '=')),
          sortedBytes(REL.map((k) => srcPrefix + k)),
          '= lines name the source keys',
        );
        const eqKeys = new Set(lineKeys(all.stdout, '='));
        assert.equal(eqKeys.size, REL.length, 'one = line per key');
        const json = await run(['--config', file, '--check', '--check-all', '--json']);
        assert.equal(json.code, 0);
        JSON.parse(json.stdout);

        const rows = parseCsv(report);
        assert.equal(
          rows[0]!.join(','),
          'time,source_bucket,source_key,destination,destination_bucket,destination_key,' +
            'action,size,source_etag,md5,error',
        );
        const body3 = rows.slice(1);
        assert.equal(body3.length, 3 * REL.length, 'one row per object, destination and run');
        for (const r of body3) assert.equal(r.length, 11, JSON.stringify(r));
        const copiedRows = body3.filter((r) => r[6] === 'copied');
        assert.deepEqual(
          sortedBytes(copiedRows.map((r) => r[2]!)),
          sortedBytes(REL.map((k) => srcPrefix + k)),
          'source_key of each copied row is the exact key',
        );
        for (const r of copiedRows)
          assert.equal(r[5], dstPrefix + r[2]!.slice(srcPrefix.length), 'destination_key is the moved key');

        // Extras with nasty names, then a dry-run delete: every line parses back to its key.
        const extras = ['new\nline', 'quote"d', 'tab\tx', '\u0001', 'trailing '];
        for (const e of extras) await dst.put(dstPrefix + 'zz/' + e, body(e), { contentLength: body(e).length });
        const dry = await run([
          '--config',
          file,
          '--delete',
          '--max-delete',
          '100%',
          '--dry-run',
          '--lock-file',
          join(dir, 'l'),
        ]);
        assert.equal(dry.code, 0, dry.stderr);
        const would = dry.stdout.split('\n').filter((l) => l.startsWith('would delete'));
        const parsed = would.map((l) => {
          const m = /^would delete (".*") -> \[dest1\]$/s.exec(l);
          assert.ok(m, `dry-run line does not parse: ${JSON.stringify(l)}`);
          return JSON.parse(m[1]!) as string;
        });
        assert.deepEqual(sortedBytes(parsed), sortedBytes(extras.map((e) => dstPrefix + 'zz/' + e)));
        const real = await run(['--config', file, '--delete', '--max-delete', '100%', '--lock-file', join(dir, 'l')]);
        assert.equal(real.code, 0, real.stderr);
        assert.deepEqual(
          (await listKeys(dst)).map((o) => o.key),
          inDst,
          'exactly the extras went; outside-dst/keep stays',
        );
        const check2 = await run(['--config', file, '--check']);
        assert.equal(check2.stdout, '');
        assert.equal(check2.code, 0);
      },
    );

    it(
      'a destination prefix that makes a key longer than 1024 bytes fails that key only, with a clear line',
      { timeout: 120_000 },
      async () => {
        const src = await freshStore(from, uniqueBucket('hl-src'));
        const dst = new S3Store(destConfig(to, uniqueBucket('hl-dst')));
        await dst.createBucket();
        stores.push(src, dst);
        const long = KEY_SHAPES.find((k) => Buffer.byteLength(k) === 1024)!;
        await putAll(
          src,
          [long, 'short'].map((key) => ({ key, body: body(key) })),
        );
        const file = join(dir, `hl-${from.name}.ini`);
        writeFileSync(
          file,
          sectionIni('source', from, src.bucket) + sectionIni('dest1', to, dst.bucket, { prefix: 'p/' }),
          { mode: 0o600 },
        );
        const r = await run(['--config', file, '--lock-file', join(dir, 'l2')]);
        assert.equal(r.code, 1, r.stderr);
        assert.deepEqual(
          (await listKeys(dst)).map((o) => o.key),
          ['p/short'],
        );
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
        const lines = r.stderr.split('\n').filter((l) => /error/i.test(l));
        assert.ok(
          lines.some((l) => /\[dest1\]/.test(l) && /1024/.test(l)),
          `a line names [dest1] and the 1024-byte limit:\n${r.stderr}`,
        );
      },
    );
  });
}
