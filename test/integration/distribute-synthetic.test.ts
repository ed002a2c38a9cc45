/**
 * `s3s3bucket --distribute` at scale, on the synthetic endpoint (bench/synthetic-s3.ts): 1M
 * unchanged keys over three worker processes. Every key is planned exactly once (the summed
 * range counts: listed = skipped = 1M), Redis's peak used_memory stays within 20 MiB of its idle
 * level (a Redis of the test's own, so no other test moves it), and each worker's peak RSS
 * within 100 MiB (run with its bin's node flags, as `s3s3listen` runs). A `--report` written to a
 * pipe read slowly (a slow disk) makes the workers wait: the rows waiting in Redis stay bounded.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Daemon, OwnRedis, ROOT, runScript, tempDir } from '../helpers/listen.js';
import { ROWS_WAITING_HIGH } from '../../src/api/distribute/range-worker.js';

const KEYS = Number(process.env.S3S3TEST_DISTRIBUTE_KEYS ?? 1_000_000);

/** The node flags of a bin's shebang line (`#!/usr/bin/env -S node FLAGS`). */
function shebangFlags(script: string): string[] {
  const first = readFileSync(join(ROOT, 'dist/scripts', `${script}.js`), 'utf8').split('\n', 1)[0] ?? '';
  return (/^#!\S*env -S node(.*)$/.exec(first)?.[1] ?? '').split(/\s+/).filter(Boolean);
}

/** Peak RSS of a live process (VmHWM), in MiB. */
function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

async function synthetic(keys: number): Promise<{ endpoint: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench/synthetic-s3.ts'), '--keys', String(keys)],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`synthetic-s3 exited (${code})`)));
  });
  return { endpoint: (JSON.parse(first) as { endpoint: string }).endpoint, child };
}

describe('s3s3bucket --distribute on the synthetic endpoint', () => {
  const redis = new OwnRedis('distribute-synthetic');
  let server: ChildProcess | undefined;
  after(() => {
    server?.kill('SIGTERM');
    redis.stop();
  });

  before(() => redis.start());

  /** A config whose source and destination are the synthetic endpoint's unchanged buckets. */
  function config(dir: string, endpoint: string): string {
    const section = (bucket: string) =>
      `aws_access_key_id = synthetic\naws_secret_access_key = synthetic-secret\n` +
      `bucket_name = ${bucket}\nendpoint = ${endpoint}\n`;
    const file = join(dir, 's3s3.ini');
    writeFileSync(
      file,
      `[source]\n${section('source')}\n[dest1]\n${section('same')}\n` +
        `[pubsub]\nredis = true\nredis_url = ${redis.url}\nqueue = synthetic\nchannel = synthetic\n`,
      { mode: 0o600 },
    );
    return file;
  }

  it('--report to a pipe read slowly: the workers wait, the rows waiting in Redis stay bounded', async () => {
    const keys = 200_000;
    const syn = await synthetic(keys);
    const dir = tempDir('distribute-report');
    const file = config(dir, syn.endpoint);
    const fifo = join(dir, 'report.pipe');
    spawnSync('mkfifo', [fifo]);
    const workers = [0, 1, 2].map(() => new Daemon(['--config', file, '--role', 'worker', '--log-format', 'json']));
    // The reader: ~20,000 rows a second, slower than three workers list unchanged keys.
    let lines = 0;
    const reading = (async () => {
      for await (const chunk of createReadStream(fifo, { highWaterMark: 16_384 })) {
        for (const b of chunk as Buffer) if (b === 10) lines++;
        await new Promise((r) => setTimeout(r, 8));
      }
    })();
    const waitingRows = () =>
      Number(
        redis.cli(
          'EVAL',
          "local n = 0 for _, k in ipairs(redis.call('KEYS', '*:rows')) do n = n + redis.call('LLEN', k) end return n",
          '0',
        ),
      );
    let peak = 0;
    const poll = setInterval(() => (peak = Math.max(peak, waitingRows())), 250);
    try {
      for (const w of workers) await w.waitForLine(/"msg":"working"/);
      const r = await runScript('bucket', [
        '--config',
        file,
        '--distribute',
        '--json',
        '--split-every',
        '20000',
        '--report',
        fifo,
      ]);
      assert.equal(r.code, 0, r.stderr);
      await reading;
      assert.equal(lines, keys + 1, 'a header and a row per key');
      process.stderr.write(
        `distribute-report: ${keys} rows through a slow pipe; rows waiting in Redis peaked at ${peak}\n`,
      );
      // The high mark, plus what each worker lists before it looks again.
      assert.ok(peak <= ROWS_WAITING_HIGH + 3 * 6000, `${peak} rows waited in Redis`);
    } finally {
      clearInterval(poll);
      for (const w of workers) await w.dispose();
      syn.child.kill('SIGTERM');
    }
  });

  it(`${KEYS} keys over three workers: each planned once, Redis and worker memory bounded`, async () => {
    const syn = await synthetic(KEYS);
    server = syn.child;
    const dir = tempDir('distribute-synthetic');
    const file = config(dir, syn.endpoint);
    const used = () => Number(/used_memory:(\d+)/.exec(redis.cli('INFO', 'memory'))![1]);
    const idle = used();
    const flags = shebangFlags('listen');
    // The bin's node flags, through NODE_OPTIONS: the workers run as `s3s3listen` does.
    const workers = [0, 1, 2].map(
      () =>
        new Daemon(['--config', file, '--role', 'worker', '--log-format', 'json'], { NODE_OPTIONS: flags.join(' ') }),
    );
    let peak = idle;
    const poll = setInterval(() => (peak = Math.max(peak, used())), 200);
    try {
      for (const w of workers) await w.waitForLine(/"msg":"working"/);
      const started = performance.now();
      const r = await runScript('bucket', ['--config', file, '--distribute', '--json', '--split-every', '20000']);
      const seconds = (performance.now() - started) / 1000;
      assert.equal(r.code, 0, r.stderr);
      const s = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number> & {
        destinations: Record<string, Record<string, number>>;
      };
      assert.equal(s.listed, KEYS, 'every key listed exactly once');
      assert.equal(s.skipped, KEYS, 'every key planned exactly once');
      assert.equal(s.destinations.dest1!.skipped, KEYS);
      assert.equal(s.failed, 0);
      const rss = workers.map((w) => peakRssMiB(w.pid));
      const growth = (peak - idle) / 1048576;
      process.stderr.write(
        `distribute-synthetic: ${KEYS} keys in ${seconds.toFixed(1)} s (${Math.round(KEYS / seconds)} keys/s); ` +
          `redis peak +${growth.toFixed(2)} MiB; worker peak RSS ${rss.map((x) => x.toFixed(0)).join(', ')} MiB\n`,
      );
      assert.ok(growth <= 20, `Redis grew ${growth.toFixed(1)} MiB`);
      for (const x of rss) assert.ok(x <= 100, `a worker's peak RSS ${x.toFixed(0)} MiB`);
    } finally {
      clearInterval(poll);
      for (const w of workers) await w.dispose();
    }
  });
});
