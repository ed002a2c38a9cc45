/**
 * `s3s3bucket --distribute` as a user runs it: the flags it cannot go with (exit 2), a config
 * without Redis (exit 2), no worker (said once, --max-wait, exit 1), and, on the synthetic
 * endpoint with one worker, the `s3s3 queue` line of the run in progress and SIGINT cancelling
 * the run cleanly (exit 1, the worker's range stops, nothing of the run left in Redis).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configDir, runBucket } from '../helpers/bucket-cli.js';
import { Daemon, ROOT, runScript, waitFor } from '../helpers/listen.js';
import { redisUrl } from '../helpers/servers.js';

const { dir, write } = configDir('distribute');
const section = (name: string, endpoint: string, bucket: string) =>
  `[${name}]\naws_access_key_id = synthetic\naws_secret_access_key = synthetic-secret\n` +
  `bucket_name = ${bucket}\nendpoint = ${endpoint}\n`;

describe('s3s3bucket --distribute', () => {
  const plain = write(
    'plain.ini',
    section('source', 'http://127.0.0.1:9', 'a') + section('dest1', 'http://127.0.0.1:9', 'b'),
  );

  it('refuses the flags it cannot go with, and a config without Redis (exit 2)', async () => {
    const other = write(
      'other.ini',
      section('source', 'http://127.0.0.1:9', 'c') + section('dest1', 'http://127.0.0.1:9', 'd'),
    );
    const cases: Array<[string[], RegExp]> = [
      [['--check'], /--distribute hands the sweep to the workers as key ranges; it cannot be combined with --check/],
      [['--enqueue'], /cannot be combined with --enqueue/],
      [['--retry-failed'], /cannot be combined with --retry-failed/],
      [['--dry-run'], /cannot be combined with --dry-run/],
      [['--config', other], /--distribute cannot be combined with several --config/],
    ];
    for (const [extra, message] of cases) {
      const r = await runBucket(['--config', plain, '--distribute', ...extra], { cwd: dir });
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    for (const [flag, value] of [
      ['--max-wait', '5'],
      ['--split-every', '100'],
    ] as const) {
      const r = await runBucket(['--config', plain, flag, value], { cwd: dir });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`${flag} only goes with --distribute`));
    }
    const r = await runBucket(['--config', plain, '--distribute'], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--distribute puts key ranges on a queue in Redis for the workers; .* has no \[pubsub\]/);
  });

  it('with no worker: says so once, waits up to --max-wait, exit 1', async () => {
    const file = write(
      'lonely.ini',
      section('source', 'http://127.0.0.1:9', 'a') +
        section('dest1', 'http://127.0.0.1:9', 'b') +
        `[pubsub]\nredis = true\nredis_url = ${redisUrl()}\nqueue = t-dist-lonely-${Date.now()}\n`,
    );
    const started = Date.now();
    const r = await runBucket(['--config', file, '--distribute', '--max-wait', '2'], { cwd: dir });
    assert.equal(r.code, 1, r.stderr);
    assert.ok(Date.now() - started >= 2000);
    assert.equal(
      r.stderr.match(/no worker takes range jobs from t-dist-lonely-\d+-ranges: waiting for one/g)?.length,
      1,
    );
    assert.match(r.stderr, /no worker took range jobs from t-dist-lonely-\d+-ranges within 2 s/);
    const q = await runScript('s3s3', ['queue', '--config', file]);
    assert.equal(q.code, 0, q.stderr);
    assert.doesNotMatch(q.stdout, /^run=/m, 'the run is gone');
  });

  describe('on the synthetic endpoint, one worker', () => {
    let server: ChildProcess | undefined;
    after(() => server?.kill('SIGTERM'));

    it('s3s3 queue shows the run in progress; SIGINT cancels it (exit 1), nothing of it left', async () => {
      server = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/synthetic-s3.ts'), '--keys', '3000000'], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      const line = await new Promise<string>((r) => createInterface({ input: server!.stdout! }).once('line', r));
      const endpoint = (JSON.parse(line) as { endpoint: string }).endpoint;
      const file = write(
        'synthetic.ini',
        section('source', endpoint, 'source') +
          section('dest1', endpoint, 'same') +
          `[pubsub]\nredis = true\nredis_url = ${redisUrl()}\nqueue = t-dist-sigint-${Date.now()}\n`,
      );
      const worker = new Daemon(['--config', file, '--role', 'worker', '--log-format', 'json']);
      try {
        await worker.waitForLine(/"msg":"working"/);
        // One range that never splits: the signal surely lands while it runs.
        const sweep = new Daemon(
          ['--config', file, '--distribute', '--json', '--log-format', 'json', '--split-every', '100000000'],
          {},
          'bucket',
        );
        await worker.waitForLine(/"msg":"range started"/);
        const runLine = await waitFor('a run line', async () => {
          const q = await runScript('s3s3', ['queue', '--config', file]);
          const m = /^run=(\w+) ranges_waiting=\d+ ranges_active=\d+ ranges_done=\d+ keys_listed=([1-9]\d*)$/m.exec(
            q.stdout,
          );
          return m &&
            /^waiting=\d+ active=\d+ delayed=\d+ failed=\d+ oldest_waiting_seconds=\d+$/m.test(q.stdout.split('\n')[0]!)
            ? m
            : undefined;
        });
        sweep.kill('SIGINT');
        const exit = await sweep.exited;
        assert.equal(exit.code, 1, sweep.lines.join('\n'));
        assert.ok(sweep.matching(/distributed run cancelled/).length === 1);
        await worker.waitForLine(/"msg":"range left: its run was cancelled"/, 10_000);
        const q = await runScript('s3s3', ['queue', '--config', file]);
        assert.doesNotMatch(q.stdout, new RegExp(`^run=${runLine[1]}`, 'm'));
      } finally {
        await worker.dispose();
      }
    });
  });
});
