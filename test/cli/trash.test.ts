/**
 * `s3s3 trash list` and `s3s3 trash purge` as a user runs them, over trash made by real
 * sweeps (a control-character key and a 1000-byte key among it); and `s3s3bucket --enqueue`,
 * which never deletes while planning.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/api/config.js';
import { SyncQueue } from '../../src/api/queue/queue.js';
import type { S3Store } from '../../src/api/store/s3-store.js';
import { redisUrl, sectionIni, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, listKeys, putAll } from '../helpers/seed.js';
import { configDir, runBucket } from '../helpers/bucket-cli.js';

const S3S3 = join(import.meta.dirname, '../../dist/scripts/s3s3.js');
const { dir, write } = configDir('trash');
const REGISTRY = '.s3s3-trash/.roots/';

function s3s3(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [S3S3, ...args],
      { env: { PATH: process.env.PATH, HOME: dir }, cwd: dir, timeout: 120_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('s3s3 trash list / purge', () => {
  const [a, b] = testServers();
  const stores: S3Store[] = [];
  after(async () => {
    for (const s of stores) await dropStore(s).catch(() => {});
  });

  it(
    'lists every trashed object (age, size, JSON-quoted key), purges only the older ones, a dry run deletes nothing',
    { timeout: 180_000 },
    async () => {
      const src = await freshStore(a!, uniqueBucket('ctrash-src'));
      const dst = await freshStore(b!, uniqueBucket('ctrash-dst'));
      stores.push(src, dst);
      const control = 'ctl \u0001\u001b[31m\n"q"';
      const long = `long/${'x'.repeat(995)}`; // 1000 bytes: its trash key is 1023
      const body = (k: string) => Buffer.from(`bytes of ${k.slice(0, 20)}`);
      await putAll(src, [{ key: 'a', body: body('a') }]);
      await putAll(
        dst,
        ['a', control, long].map((key) => ({ key, body: body(key) })),
      );
      const file = write(
        't.ini',
        sectionIni('source', a!, src.bucket) +
          sectionIni('dest1', b!, dst.bucket, { delete: true, delete_mode: 'trash', max_delete: '100%' }),
      );
      const swept = await runBucket(['--config', file], { cwd: dir });
      assert.equal(swept.code, 0, swept.stderr);
      const trashKeys = async () =>
        (await listKeys(dst)).map((o) => o.key).filter((k) => k.startsWith('.s3s3-trash/') && !k.startsWith(REGISTRY));
      const older = await trashKeys();
      assert.equal(older.length, 2, JSON.stringify(older));

      const listed = await s3s3(['trash', 'list', '--config', file]);
      assert.equal(listed.code, 0, listed.stderr);
      const lines = listed.stdout.trimEnd().split('\n');
      assert.equal(lines.length, 2, listed.stdout);
      for (const k of older) {
        const size = body(k.replace(/^\.s3s3-trash\/\d{4}-\d\d-\d\d\//, '')).length;
        const line = lines.find((l) => l.endsWith(` ${size} ${JSON.stringify(k)} [dest1]`));
        assert.match(line ?? '', /^\d+s /, `${JSON.stringify(k)} listed with its age and size: ${listed.stdout}`);
      }
      for (const l of lines) assert.match(l, /^\d+s \d+ ".*" \[dest1\]$/, 'one line each, the key escaped');
      assert.doesNotMatch(listed.stdout, /\u001b/, 'no raw control character reaches the terminal');

      const json = await s3s3(['trash', 'list', '--config', file, '--dest', 'dest1', '--json']);
      assert.equal(json.code, 0, json.stderr);
      const objects = json.stdout
        .trimEnd()
        .split('\n')
        .map(
          (l) =>
            JSON.parse(l) as {
              destination: string;
              key: string;
              size: number;
              age_seconds: number;
              last_modified: string;
              root: string;
            },
        );
      assert.deepEqual(objects.map((o) => o.key).sort(), [...older].sort(), 'keys byte-exact');
      for (const o of objects) {
        assert.equal(o.destination, 'dest1');
        assert.equal(o.root, '.s3s3-trash/');
        assert.ok(
          Number.isInteger(o.age_seconds) && o.age_seconds >= 0 && Number.isFinite(Date.parse(o.last_modified)),
          JSON.stringify(o),
        );
      }

      // Older than 3 s: the first trash, once it is; a newer trashed object stays.
      await sleep(5000);
      await putAll(dst, [{ key: 'newer', body: body('newer') }]);
      assert.equal((await runBucket(['--config', file], { cwd: dir })).code, 0);
      const all = await trashKeys();
      assert.equal(all.length, 3);
      const dry = await s3s3(['trash', 'purge', '--config', file, '--older-than', '3s', '--dry-run']);
      assert.equal(dry.code, 0, dry.stderr);
      assert.equal(
        dry.stdout
          .trimEnd()
          .split('\n')
          .filter((l) => l.startsWith('would purge ')).length,
        2,
        dry.stdout,
      );
      assert.match(dry.stderr, /\[dest1\] would purge 2 .* kept 1 newer than 3s/);
      assert.deepEqual(await trashKeys(), all, 'a dry run deletes nothing');

      const purged = await s3s3(['trash', 'purge', '--config', file, '--older-than', '3s']);
      assert.equal(purged.code, 0, purged.stderr);
      assert.equal(
        purged.stdout
          .trimEnd()
          .split('\n')
          .filter((l) => l.startsWith('purged ')).length,
        2,
        purged.stdout,
      );
      const left = await trashKeys();
      assert.equal(left.length, 1);
      assert.match(left[0]!, /\/newer$/, 'the newer one stays');
      assert.ok(
        (await listKeys(dst)).some((o) => o.key.startsWith(REGISTRY)),
        'the registry is never purged',
      );
      assert.ok(
        (await listKeys(dst)).some((o) => o.key === 'a'),
        'live keys are never purged',
      );
    },
  );

  it('usage and config errors exit 2: no --older-than, a bad duration, an unknown --dest', async () => {
    const file = write(
      'u.ini',
      sectionIni('source', a!, 'nobucket-src') + sectionIni('dest1', b!, 'nobucket-dst', { delete_mode: 'trash' }),
    );
    const none = await s3s3(['trash', 'purge', '--config', file]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--older-than is required/);
    const bad = await s3s3(['trash', 'purge', '--config', file, '--older-than', '3x']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--older-than "3x" is not a duration/);
    const unknown = await s3s3(['trash', 'list', '--config', file, '--dest', 'dest9']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no destination section \[dest9\].*\[dest1\]/);
  });
});

describe('s3s3bucket --enqueue never deletes while planning', () => {
  const [a, b] = testServers();
  const stores: S3Store[] = [];
  after(async () => {
    for (const s of stores) await dropStore(s).catch(() => {});
  });

  it('a delete = true destination keeps its extra key, and the run says why', { timeout: 120_000 }, async () => {
    const src = await freshStore(a!, uniqueBucket('cenq-src'));
    const dst = await freshStore(b!, uniqueBucket('cenq-dst'));
    stores.push(src, dst);
    await putAll(src, [{ key: 'a', body: Buffer.from('a') }]);
    await putAll(
      dst,
      ['a', 'extra'].map((key) => ({ key, body: Buffer.from(key) })),
    );
    const file = write(
      'q.ini',
      sectionIni('source', a!, src.bucket) +
        sectionIni('dest1', b!, dst.bucket, { delete: true, max_delete: '100%' }) +
        `[pubsub]\nredis_url = ${redisUrl()}\n`,
    );
    const queue = new SyncQueue(loadConfig({ file, env: {} }));
    try {
      const r = await runBucket(['--config', file, '--enqueue'], { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        (await listKeys(dst)).map((o) => o.key),
        ['a', 'extra'],
        'nothing deleted while planning',
      );
      assert.match(r.stderr, /--enqueue deletes nothing while planning: .*\[dest1\]/);
    } finally {
      await queue.obliterate().catch(() => {});
      await queue.close();
    }
  });
});
