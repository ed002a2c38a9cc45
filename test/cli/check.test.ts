/**
 * `s3s3bucket --check` and `--report FILE` as an operator runs them: the built command,
 * its exit code, its stdout lines or JSON, and the CSV it leaves behind.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/api/config.js';
import { SweepLock } from '../../src/api/lock/sweep-lock.js';
import { S3Store } from '../../src/api/store/s3-store.js';
import { destConfig, sectionIni, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, listKeys, putAll } from '../helpers/seed.js';

const BIN = join(import.meta.dirname, '../../dist/scripts/bucket.js');
const dir = mkdtempSync(join(tmpdir(), 's3s3-check-'));
const COLUMNS =
  'time,source_bucket,source_key,destination,destination_bucket,destination_key,action,size,source_etag,md5,error';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH, HOME: dir }, cwd: dir, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

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

const body = (k: string) => Buffer.from(`body of ${k}`);
const put = (store: S3Store, keys: readonly string[]) =>
  putAll(
    store,
    keys.map((key) => ({ key, body: body(key) })),
  );

describe('s3s3bucket --check and --report', () => {
  const [server] = testServers();
  const stores: S3Store[] = [];
  let n = 0;
  after(async () => {
    for (const s of stores) await dropStore(s).catch(() => {});
  });

  /** A source and destination bucket, and a config file joining them. */
  const setup = async (
    label: string,
    srcExtra: Record<string, string> = {},
    destExtra: Record<string, string> = {},
  ) => {
    const src = await freshStore(server!, uniqueBucket(`${label}-src`), srcExtra);
    const dst = new S3Store(destConfig(server!, uniqueBucket(`${label}-dst`), destExtra));
    await dst.createBucket();
    stores.push(src, dst);
    const file = join(dir, `${label}-${n++}.ini`);
    writeFileSync(
      file,
      sectionIni('source', server!, src.bucket, srcExtra) + sectionIni('dest1', server!, dst.bucket, destExtra),
      { mode: 0o600 },
    );
    return { src, dst, file, lockFile: join(dir, `${label}-${n}.lock`) };
  };

  it('exits 0 with nothing on stdout for a clean replica; --check-all prints = lines; --json says ok', async () => {
    const { src, file, lockFile } = await setup('clean');
    await put(src, ['a', 'b"q', 'c,d']);
    assert.equal((await run(['--config', file, '--lock-file', lockFile])).code, 0);
    const r = await run(['--config', file, '--check']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    const all = await run(['--config', file, '--check', '--check-all']);
    assert.equal(all.code, 0, all.stderr);
    assert.equal(all.stdout, '= "a" [dest1]\n= "b\\"q" [dest1]\n= "c,d" [dest1]\n');
    const json = await run(['--config', file, '--check', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as {
      ok: boolean;
      differences: unknown[];
      counts: Record<string, Record<string, number>>;
    };
    assert.equal(parsed.ok, true);
    assert.deepEqual(parsed.differences, []);
    assert.deepEqual(parsed.counts, { dest1: { '+': 0, '-': 0, '*': 0, '?': 0, '=': 3 } });
  });

  it(
    'prints + - * lines with JSON-quoted keys and exits 1; --json gives the same; ? alone exits 0, ' +
      '--download settles it',
    async () => {
      const { src, dst, file } = await setup('diff');
      const odd = 'new\nline "quoted"';
      await put(src, ['same', odd]);
      await put(dst, ['same', 'extra\u0001']);
      await src.put('other', Buffer.from('aaaa'), { contentLength: 4 });
      await dst.put('other', Buffer.from('bbbb'), { contentLength: 4 });
      const before = await listKeys(dst);
      const r = await run(['--config', file, '--check']);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, `- "extra\\u0001" [dest1]\n+ ${JSON.stringify(odd)} [dest1]\n* "other" [dest1]\n`);
      const json = await run(['--config', file, '--check', '--json']);
      assert.equal(json.code, 1);
      const parsed = JSON.parse(json.stdout) as {
        ok: boolean;
        differences: Array<{ mark: string; key: string; destination: string }>;
        counts: Record<string, Record<string, number>>;
      };
      assert.equal(parsed.ok, false);
      assert.deepEqual(
        parsed.differences.map((d) => [d.mark, d.key, d.destination]),
        [
          ['-', 'extra\u0001', 'dest1'],
          ['+', odd, 'dest1'],
          ['*', 'other', 'dest1'],
        ],
      );
      assert.deepEqual(parsed.counts.dest1, { '+': 1, '-': 1, '*': 1, '?': 0, '=': 1 });
      assert.deepEqual(await listKeys(dst), before, 'a check writes nothing');

      // Only an unprovable key left: `?` is no difference, unless --download finds one.
      const u = await setup('unproven');
      const id = await u.src.createMultipart('mp', {});
      await u.src.completeMultipart('mp', id, [
        { partNumber: 1, etag: await u.src.uploadPart('mp', id, 1, Buffer.from('xy'), { contentLength: 2 }) },
      ]);
      await u.dst.put('mp', Buffer.from('zz'), { contentLength: 2 });
      const q = await run(['--config', u.file, '--check']);
      assert.equal(q.code, 0, q.stderr);
      assert.equal(q.stdout, '? "mp" [dest1]\n');
      const d = await run(['--config', u.file, '--check', '--download']);
      assert.equal(d.code, 1, d.stderr);
      assert.equal(d.stdout, '* "mp" [dest1]\n');
    },
  );

  it('--check-metadata turns a header difference into *', async () => {
    const { src, dst, file } = await setup('meta');
    await src.put('k', Buffer.from('x'), { contentLength: 1, contentType: 'text/plain' });
    await dst.put('k', Buffer.from('x'), { contentLength: 1, contentType: 'text/html' });
    assert.equal((await run(['--config', file, '--check'])).code, 0);
    const r = await run(['--config', file, '--check', '--check-metadata']);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '* "k" [dest1]\n');
  });

  it('takes no lock: runs while a sweep of the same buckets holds it', async () => {
    const { src, file, lockFile } = await setup('nolock');
    await put(src, ['a']);
    const lock = new SweepLock(loadConfig({ file, env: {} }), { lockFile });
    const held = await lock.acquire();
    assert.ok(held);
    try {
      const sweep = await run(['--config', file, '--lock-file', lockFile]);
      assert.match(sweep.stderr, /already running/);
      const r = await run(['--config', file, '--lock-file', lockFile, '--check']);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, '+ "a" [dest1]\n');
    } finally {
      await held.release();
      await lock.close();
    }
  });

  it('a check that cannot list exits 1 with one clear stderr line', async () => {
    const { file } = await setup('nobucket');
    const text = readFileSync(file, 'utf8').replace(/bucket_name = (t-nobucket-src-\S+)/, 'bucket_name = $1-missing');
    writeFileSync(file, text);
    const r = await run(['--config', file, '--check', '-q']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /check stopped: .*-missing/);
  });

  it(
    'usage errors: --check with --delete or --report, ' + '--download without --check, --report with --dry-run',
    async () => {
      const { file } = await setup('usage');
      for (const args of [
        ['--check', '--delete'],
        ['--check', '--report', join(dir, 'x.csv')],
        ['--download'],
        ['--check-all'],
        ['--dry-run', '--report', join(dir, 'y.csv')],
      ]) {
        const r = await run(['--config', file, ...args]);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, /^s3s3bucket: .*(--check|--report|dry run)/);
      }
    },
  );

  it(
    '--report: one well-formed row per object and destination, ' +
      'source and destination keys of a prefix move, header once',
    async () => {
      const { src, dst, file, lockFile } = await setup('report', { prefix: 'images/' }, { prefix: 'avatar/' });
      const rel = [
        'a.jpg',
        'comma,key',
        'quote"key',
        'nl\nkey',
        'cr\rkey',
        'ctl\u0001\u001fkey',
        'back\\slash',
        'caf\u00e9 \u{1F600}',
      ];
      await put(src, [...rel.map((k) => `images/${k}`), 'other/out-of-scope']);
      const report = join(dir, 'route.csv');
      const first = await run(['--config', file, '--lock-file', lockFile, '--report', report]);
      assert.equal(first.code, 0, first.stderr);
      const second = await run(['--config', file, '--lock-file', lockFile, '--report', report]);
      assert.equal(second.code, 0, second.stderr);
      const text = readFileSync(report, 'utf8');
      assert.ok(text.startsWith(COLUMNS + '\n'));
      assert.equal(text.split(COLUMNS).length, 2, 'one header');
      const rows = parseCsv(report);
      assert.equal(rows.length, 1 + 2 * rel.length, 'one row per object per run');
      const sortedRel = [...rel].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      const byRun = [rows.slice(1, 1 + rel.length), rows.slice(1 + rel.length)];
      for (const [i, action] of ['copied', 'skipped'].entries()) {
        const got = byRun[i]!.map((r) => r[2]!.slice('images/'.length)).sort((a, b) =>
          Buffer.compare(Buffer.from(a), Buffer.from(b)),
        );
        assert.deepEqual(got, sortedRel);
        for (const r of byRun[i]!) {
          assert.equal(r.length, 11);
          const [time, sourceBucket, sourceKey, destination, destinationBucket, destinationKey, act, size, , , error] =
            r;
          assert.match(time!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
          assert.equal(sourceBucket, src.bucket);
          assert.equal(destination, 'dest1');
          assert.match(destinationBucket!, /^t-report-dst-/);
          assert.equal(destinationKey, 'avatar/' + sourceKey!.slice('images/'.length));
          assert.equal(act, action);
          if (action === 'copied') assert.equal(size, String(body(sourceKey!).length));
          assert.equal(error, '');
        }
      }
      // A check of the moved copy is clean.
      const check = await run(['--config', file, '--check']);
      assert.equal(check.code, 0, check.stderr);
      assert.equal(check.stdout, '');
      // A delete lands in the report too: the destination key, and the source key that maps there.
      await dst.put('avatar/stale,"x"', Buffer.from('old'), { contentLength: 3 });
      const del = await run([
        '--config',
        file,
        '--lock-file',
        lockFile,
        '--report',
        report,
        '--delete',
        '--max-delete',
        '100%',
      ]);
      assert.equal(del.code, 0, del.stderr);
      const deleted = parseCsv(report).filter((r) => r[6] === 'deleted');
      assert.deepEqual(
        deleted.map((r) => [r[2], r[5]]),
        [['images/stale,"x"', 'avatar/stale,"x"']],
      );
    },
  );
});
