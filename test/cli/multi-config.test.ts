/**
 * Several pairs in one run of the built s3s3bucket (`--config a.ini --config b.ini`): Ceph to
 * Swift and Swift to Ceph, each under its own lock, one combined summary and exit status,
 * `--json` as {runs, total}, a config error in any file before any sweep, one report mail.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/api/config.js';
import { SweepLock } from '../../src/api/lock/sweep-lock.js';
import { redisUrl, sectionIni, testServers, uniqueBucket } from '../helpers/servers.js';
import { SyncQueue } from '../../src/api/queue/queue.js';
import { dropStore, freshStore, listKeys, putAll } from '../helpers/seed.js';
import { SmtpServer } from '../helpers/smtp.js';
import { configDir, runBucket } from '../helpers/bucket-cli.js';
import type { S3Store } from '../../src/api/store/s3-store.js';

const { dir, write } = configDir('multi');
const BIN = join(import.meta.dirname, '../../dist/scripts/bucket.js');

interface Totals {
  runs: number;
  exitCode: number;
  ok: boolean;
  copied: number;
  failed: number;
  listed: number;
}
interface Entry {
  config: string;
  source: string;
  exitCode: number;
  copied?: number;
  notRun?: string;
}

describe('s3s3bucket --config a.ini --config b.ini', () => {
  const [ceph, swift] = testServers();
  const stores: S3Store[] = [];
  let a: { src: S3Store; dst: S3Store; ini: string };
  let b: { src: S3Store; dst: S3Store; ini: string };

  /** A fresh pair from `from` to `to`, its source holding `keys`. */
  async function pair(
    label: string,
    from: typeof ceph,
    to: typeof ceph,
    keys: string[],
    extra: Record<string, string> = {},
  ) {
    const src = await freshStore(from!, uniqueBucket(`${label}-src`));
    const dst = await freshStore(to!, uniqueBucket(`${label}-dst`));
    stores.push(src, dst);
    await putAll(
      src,
      keys.map((key) => ({ key, body: Buffer.from(`${label}:${key}`) })),
    );
    return { src, dst, ini: sectionIni('source', from!, src.bucket) + sectionIni('dest1', to!, dst.bucket, extra) };
  }

  before(async () => {
    a = await pair('multi-a', ceph, swift, ['a/1', 'a/2']);
    b = await pair('multi-b', swift, ceph, ['b/1', 'b/2', 'b/3']);
  });
  after(async () => {
    for (const s of stores) await dropStore(s).catch(() => {});
  });

  it(
    'sweeps each pair in turn: --json prints {runs, total}; the text log ends with one combined ' +
      'line; --report gets both',
    async () => {
      const fa = write('a.ini', a.ini);
      const fb = write('b.ini', b.ini);
      const report = join(dir, 'report.csv');
      const r = await runBucket(['--config', fa, '--config', fb, '--json', '--report', report], { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { runs: Entry[]; total: Totals };
      assert.deepEqual(Object.keys(out), ['runs', 'total']);
      assert.deepEqual(
        out.runs.map((e) => [e.config, e.source, e.exitCode, e.copied]),
        [
          [fa, `${a.src.bucket} at ${ceph!.endpoint}`, 0, 2],
          [fb, `${b.src.bucket} at ${swift!.endpoint}`, 0, 3],
        ],
      );
      assert.equal(out.total.runs, 2);
      assert.equal(out.total.copied, 5);
      assert.equal(out.total.listed, 5);
      assert.equal(out.total.exitCode, 0);
      assert.deepEqual(
        (await listKeys(a.dst)).map((o) => o.key),
        ['a/1', 'a/2'],
      );
      assert.deepEqual(
        (await listKeys(b.dst)).map((o) => o.key),
        ['b/1', 'b/2', 'b/3'],
      );
      assert.match(r.stderr, /s3s3 info: 2 pairs done listed=5 copied=5 skipped=0 failed=0 .*exitCode=0/);
      const rows = readFileSync(report, 'utf8').trim().split('\n').slice(1);
      assert.equal(rows.filter((l) => l.includes(a.dst.bucket)).length, 2, 'pair a in the report');
      assert.equal(rows.filter((l) => l.includes(b.dst.bucket)).length, 3, 'pair b in the report');

      // One config: the output of before, unchanged.
      const one = await runBucket(['--config', fa, '--json'], { cwd: dir });
      assert.equal(one.code, 0, one.stderr);
      const single = JSON.parse(one.stdout) as Record<string, unknown>;
      assert.equal(single.runs, undefined);
      assert.equal(single.skipped, 2);
      assert.doesNotMatch(one.stderr, /pairs done/);
    },
  );

  it('exits with the worst status: a failing pair does not keep the next from being swept', async () => {
    const c = await pair('multi-c', ceph, swift, ['c/1']);
    const missing = uniqueBucket('multi-nobucket');
    const broken = sectionIni('source', ceph!, c.src.bucket) + sectionIni('dest1', swift!, missing);
    const fbad = write('bad.ini', broken);
    const fc = write('c.ini', c.ini);
    const r = await runBucket(['--config', fbad, '--config', fc, '--json'], { cwd: dir });
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout) as { runs: Entry[]; total: Totals };
    assert.deepEqual(
      out.runs.map((e) => e.exitCode),
      [1, 0],
    );
    assert.equal(out.runs[1]!.copied, 1);
    assert.equal(out.total.exitCode, 1);
    assert.equal(out.total.ok, false);
    assert.deepEqual(
      (await listKeys(c.dst)).map((o) => o.key),
      ['c/1'],
      'the second pair was swept',
    );
    assert.match(r.stderr, new RegExp(`2 pairs done; failed: ${fbad.replace(/[.]/g, '\\.')}`));
  });

  it('a config error in the second file stops before any sweep, naming that file: exit 2', async () => {
    const d = await pair('multi-d', ceph, swift, ['d/1']);
    const fd = write('d.ini', d.ini);
    const fe = write('e.ini', d.ini.replace(/^aws_secret_access_key = .*$/m, 'aws_secret_access_key = {YOUR_SECRET}'));
    const r = await runBucket(['--config', fd, '--config', fe], { cwd: dir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `${fe.replace(/[.]/g, '\\.')} \\[source\\] aws_secret_access_key: still holds the template placeholder`,
      ),
    );
    assert.doesNotMatch(r.stderr, /sweep started/);
    assert.deepEqual(await listKeys(d.dst), [], 'the first pair was not swept either');
    const missing = await runBucket(['--config', fd, '--config', join(dir, 'nope.ini')], { cwd: dir });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope\.ini: cannot read config file: no such file/);
    assert.deepEqual(await listKeys(d.dst), []);
  });

  it(
    'each pair takes its own lock: with the second pair locked elsewhere, ' +
      'the first is swept and the second is reported not run',
    async () => {
      const e = await pair('multi-e', ceph, swift, ['e/1']);
      const f = await pair('multi-f', swift, ceph, ['f/1']);
      const fe = write('lock-e.ini', e.ini);
      const ff = write('lock-f.ini', f.ini);
      const lock = new SweepLock(loadConfig({ file: ff, env: {} }));
      const held = await lock.acquire();
      assert.ok(held);
      try {
        const r = await runBucket(['--config', fe, '--config', ff, '--json'], { cwd: dir });
        assert.equal(r.code, 0, r.stderr);
        const out = JSON.parse(r.stdout) as { runs: Entry[]; total: Totals };
        assert.equal(out.runs[0]!.copied, 1);
        assert.equal(out.runs[1]!.notRun, 'another sweep of these buckets holds the lock');
        assert.match(r.stderr, /already running: another sweep of these buckets holds the lock/);
        assert.deepEqual(
          (await listKeys(e.dst)).map((o) => o.key),
          ['e/1'],
        );
        assert.deepEqual(await listKeys(f.dst), []);
      } finally {
        await held.release();
        await lock.close();
      }
    },
  );

  it('environment overrides apply to every file alike', async () => {
    const g = await pair('multi-g', ceph, swift, ['g/1']);
    const h = await pair('multi-h', swift, ceph, ['h/1']);
    const r = await runBucket(['--config', write('g.ini', g.ini), '--config', write('h.ini', h.ini)], {
      cwd: dir,
      env: { S3S3_DEST1_PREFIX: 'from-env/' },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      (await listKeys(g.dst)).map((o) => o.key),
      ['from-env/g/1'],
    );
    assert.deepEqual(
      (await listKeys(h.dst)).map((o) => o.key),
      ['from-env/h/1'],
    );
  });

  it('one mail for the whole run, from the first config with [notify], naming every pair', async () => {
    const smtp = await SmtpServer.start();
    try {
      const i = await pair('multi-i', ceph, swift, ['i/1']);
      const j = await pair('multi-j', swift, ceph, ['j/1']);
      const notify = (to: string) =>
        `[notify]\nmail_to = ${to}\nmail_from = s3s3@example.com\nsmtp_url = smtp://127.0.0.1:${smtp.port}\nmail_when = always\n`;
      const fi = write('i.ini', i.ini);
      const fj = write('j.ini', j.ini + notify('first@example.com'));
      const fk = write(
        'k.ini',
        sectionIni('source', ceph!, i.src.bucket) +
          sectionIni('dest1', ceph!, uniqueBucket('never')) +
          notify('second@example.com'),
      );
      const r = await runBucket(['--config', fi, '--config', fj, '--config', fk], { cwd: dir });
      assert.equal(r.code, 1, r.stderr);
      const mails = smtp.messages();
      assert.equal(mails.length, 1, r.stderr);
      assert.deepEqual(mails[0]!.rcpt_tos, ['first@example.com']);
      assert.match(mails[0]!.subject, new RegExp(`^s3s3bucket FAILED: ${i.src.bucket} at .*, ${j.src.bucket} at `));
      assert.match(mails[0]!.text, /3 pairs; listed 2, copied 2 .*failed 0/);
      assert.match(mails[0]!.text, /: FAILED\r?\n.*k\.ini\r?\n.*\r?\n {2}stopped: \[dest1\] .*NoSuchBucket/);
      for (const f of [fi, fj, fk]) assert.ok(mails[0]!.text.includes(`config: ${f}`), f);
    } finally {
      smtp.close();
    }
  });

  it(
    'SIGINT stops the pair in flight cleanly (exit 1) and leaves the pairs not yet started for the next run',
    { timeout: 120_000 },
    async () => {
      const body = Buffer.alloc(100_000, 7);
      const slow = await pair('multi-sig', ceph, swift, []);
      await putAll(
        slow.src,
        Array.from({ length: 200 }, (_, i) => ({ key: `s/${String(i).padStart(3, '0')}`, body })),
      );
      const next = await pair('multi-next', swift, ceph, ['n/1']);
      const child = spawn(
        process.execPath,
        [
          BIN,
          '--config',
          write('sig.ini', slow.ini),
          '--config',
          write('next.ini', next.ini),
          '--concurrency',
          '2',
          '--json',
        ],
        {
          env: { PATH: process.env.PATH, HOME: dir },
          cwd: dir,
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
      while ((await listKeys(slow.dst)).length < 3) await new Promise((r) => setTimeout(r, 50));
      child.kill('SIGINT');
      assert.equal(await exited, 1, stderr);
      const out = JSON.parse(stdout) as { runs: Entry[]; total: Totals };
      assert.equal(out.runs[0]!.exitCode, 1);
      assert.match(out.runs[1]!.notRun ?? '', /^not swept: interrupted by SIGINT/);
      assert.equal(out.total.exitCode, 1);
      assert.ok((await listKeys(slow.dst)).length < 200, 'the first pair stopped early');
      assert.deepEqual(await listKeys(next.dst), [], 'the second pair was not started');
    },
  );

  it("--enqueue queues each pair's copies in its own queue", async () => {
    const p = await pair('multi-q1', ceph, swift, ['q/1', 'q/2']);
    const q = await pair('multi-q2', swift, ceph, ['q/1', 'q/2', 'q/3']);
    const pubsub = `[pubsub]\nredis_url = ${redisUrl()}\n`;
    const files = [write('q1.ini', p.ini + pubsub), write('q2.ini', q.ini + pubsub)];
    const queues = files.map((file) => new SyncQueue(loadConfig({ file, env: {} })));
    try {
      const r = await runBucket(['--config', files[0]!, '--config', files[1]!, '--enqueue', '--json'], { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { runs: Array<Entry & { queued: number }>; total: Totals };
      assert.deepEqual(
        out.runs.map((e) => e.queued),
        [2, 3],
      );
      assert.notEqual(queues[0]!.name, queues[1]!.name);
      assert.deepEqual(await Promise.all(queues.map((x) => x.waitingCount())), [2, 3]);
      assert.deepEqual(await listKeys(p.dst), [], 'queued, not copied');
    } finally {
      for (const x of queues) {
        await x.obliterate().catch(() => {});
        await x.close();
      }
    }
  });

  it('refuses flags that do not combine with several configs (exit 2, one line), and a file given twice', async () => {
    const fa = write('u.ini', a.ini);
    const fb = write('v.ini', b.ini);
    for (const [extra, message] of [
      [['--check'], /--check cannot be combined with several --config: .*run one --check per config/],
      [['--metrics-file', join(dir, 'm.prom')], /--metrics-file cannot be combined with several --config/],
      [
        ['--lock-file', join(dir, 'x.lock')],
        /--lock-file cannot be combined with several --config: each pair takes its own lock/,
      ],
    ] as const) {
      const r = await runBucket(['--config', fa, '--config', fb, ...extra], { cwd: dir });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, message);
    }
    const twice = await runBucket(['--config', fa, '--config', fa], { cwd: dir });
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /--config .*u\.ini is given twice/);
  });
});
