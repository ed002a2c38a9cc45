/**
 * `s3s3bucket --distribute` on the real servers (source and dest1 on Ceph, dest2 on Swift's S3
 * API): three worker processes (s3s3listen --role worker) share the ranges of one run while one
 * is SIGKILLed mid-run; the summary equals a local sweep's of the same buckets, the destinations
 * end equal to the source (every key shape, prefixes, deletes), and nothing of the run is left
 * in Redis. Also: two runs of different
 * pairs on one shared queue, and a worker whose config names other buckets refusing a run.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Daemon, runScript, setup, tempDir, waitFor, type Setup } from '../helpers/listen.js';
import { redisUrl, testServers } from '../helpers/servers.js';
import { putAll } from '../helpers/seed.js';
import { KEY_SHAPES, ORDER_KEYS } from '../helpers/keys.js';
import type { S3Store } from '../../src/api/store/s3-store.js';
import { rangesQueueName } from '../../src/api/distribute/ranges-queue.js';

const servers = testServers();
const ceph = servers.find((s) => s.name === 'ceph') ?? servers[0]!;
/** dest2 on Swift (s3api) when the servers include it: ranged listings and splits against its quirks. */
const swift = servers.find((s) => s.name === 'swift') ?? ceph;

/** Every key shape that fits under the prefixes (a key of exactly 1024 bytes would not). */
const SHAPES = [...KEY_SHAPES, ...ORDER_KEYS].filter((k) => Buffer.byteLength(k) <= 1000);
const NUMBERED = Array.from({ length: 1200 }, (_, i) => `n/${String(i).padStart(5, '0')}`);
const body = (k: string) => Buffer.from(`body of ${k}\n`.repeat(8));

/** The keys under a store's prefix (relative) with their ETags, in listing order. */
async function contents(store: S3Store, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list({ prefix })) out.push(`${o.key.slice(prefix.length)} ${o.etag} ${o.size}`);
  return out;
}

/**
 * One pair's buckets, seeded alike for every run: the source under `src/`, dest1 under `dst/`
 * holding some keys equal, some different, and keys the source lacks; dest2 (on Swift) empty.
 */
async function seeded(label: string): Promise<Setup> {
  const s = await setup({
    source: ceph,
    dests: [ceph, swift],
    redisUrl: redisUrl(),
    label,
    pubsub: { concurrency: 8 },
    sourceExtra: { prefix: 'src/' },
    destExtra: { prefix: 'dst/' },
  });
  const keys = [...SHAPES, ...NUMBERED];
  await putAll(
    s.source,
    keys.map((k) => ({ key: `src/${k}`, body: body(k) })),
  );
  const equal = keys.filter((_, i) => i % 3 === 0);
  const differ = keys.filter((_, i) => i % 7 === 1);
  const extra = Array.from({ length: 40 }, (_, i) => `n/${String(i * 30).padStart(5, '0')}-extra`);
  await putAll(s.dests[0]!, [
    ...equal.map((k) => ({ key: `dst/${k}`, body: body(k) })),
    ...differ.map((k) => ({ key: `dst/${k}`, body: Buffer.from('old') })),
    ...extra.map((k) => ({ key: `dst/${k}`, body: Buffer.from('extra') })),
  ]);
  return s;
}

/** The JSON summary of a run, without what differs between any two runs (time). */
function summary(stdout: string): Record<string, unknown> {
  const doc = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  delete doc.seconds;
  return doc;
}

describe('s3s3bucket --distribute', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups) await c().catch(() => undefined);
  });

  it(
    'three workers, one SIGKILLed mid-run: the summary equals a local sweep, the destinations equal the ' +
      'source, deletes within the run-wide max_delete, nothing left in Redis',
    async () => {
      const local = await seeded('dist-local');
      const dist = await seeded('dist-run');
      cleanups.push(local.cleanup, dist.cleanup);
      const flags = ['--delete', '--max-delete', '100', '--json', '--log-format', 'json'];
      const t0 = performance.now();
      const want = await runScript('bucket', ['--config', local.file, ...flags]);
      const t1 = performance.now();
      assert.equal(want.code, 0, want.stderr);

      const args = ['--config', dist.file, '--log-format', 'json', '--job-lock', '3', '--concurrency', '4'];
      const workers = [0, 1, 2].map(() => new Daemon([...args, '--role', 'worker']));
      try {
        for (const w of workers) await w.waitForLine(/"msg":"working"/);
        const sweep = runScript('bucket', ['--config', dist.file, ...flags, '--distribute', '--split-every', '400']);
        // The victim: whichever worker starts a range first (it holds the first, the longest, range).
        const victim = await waitFor(
          'a range started',
          () => workers.find((w) => w.matching(/"msg":"range started"/).length > 0),
          60_000,
          20,
        );
        await new Promise((r) => setTimeout(r, 300));
        victim.kill('SIGKILL');
        const got = await sweep;
        assert.equal(got.code, 0, got.stderr);
        process.stderr.write(
          `distribute: local sweep ${((t1 - t0) / 1000).toFixed(1)} s, ` +
            `distributed with a kill ${((performance.now() - t1) / 1000).toFixed(1)} s\n`,
        );
        const a = summary(want.stdout);
        const b = summary(got.stdout);
        // A range run again counts the copies its killed run made as skipped: the sums are equal.
        const sum = (d: Record<string, unknown>, dest: string) => {
          const t = (d.destinations as Record<string, Record<string, number>>)[dest]!;
          return { done: t.copied! + t.skipped!, deleted: t.deleted, failed: t.failed, kept: t.kept };
        };
        for (const dest of ['dest1', 'dest2']) assert.deepEqual(sum(b, dest), sum(a, dest), dest);
        for (const k of ['listed', 'failed', 'deleted', 'gone', 'aborted', 'deletesSkipped', 'refused', 'failures'])
          assert.deepEqual(b[k], a[k], k);
        assert.equal(b.deleted, 40);
        // The destinations hold what the source holds, key for key.
        const source = await contents(dist.source, 'src/');
        assert.equal(source.length, SHAPES.length + NUMBERED.length);
        for (const d of dist.dests) assert.deepEqual(await contents(d, 'dst/'), source);
        // The killed worker's ranges ran again elsewhere; every range ran to its end once.
        const started = (w: Daemon) =>
          w.matching(/"msg":"range started"/).map((l) => (JSON.parse(l) as { range: string }).range);
        const victimRanges = started(victim);
        const others = workers.filter((w) => w !== victim).flatMap(started);
        assert.ok(victimRanges.length > 0);
        assert.ok(
          victimRanges.some((r) => others.includes(r)),
          `a range of the killed worker (${victimRanges.join(', ')}) ran again`,
        );
        const ranges = got.stderr.split('\n').filter((l) => /distributed sweep progress/.test(l));
        assert.ok(ranges.length > 0, 'progress lines');
        assert.match(ranges.at(-1)!, /"ranges":"(\d+)\/\1"/);
        // No key of the run is left.
        const left = (await dist.redis.call('KEYS', `*${rangesQueueName(dist.config)}:run:*`)) as string[];
        assert.deepEqual(left, []);
      } finally {
        for (const w of workers) await w.dispose();
      }
    },
  );

  it(
    'two runs of different pairs share the workers on one queue; a worker of another pair refuses a run, ' +
      'and with none of its pair the run fails saying why; with --max-wait it waits that long for one',
    async () => {
      const queue = `t-dist-shared-${Date.now()}`;
      const make = async (label: string) => {
        const s = await setup({ source: ceph, dests: [ceph], redisUrl: redisUrl(), label, pubsub: { queue } });
        cleanups.push(s.cleanup);
        await putAll(
          s.source,
          NUMBERED.slice(0, 300).map((k) => ({ key: k, body: body(k) })),
        );
        return s;
      };
      const one = await make('dist-one');
      const two = await make('dist-two');
      const lone = await make('dist-lone');
      const w1 = new Daemon(['--config', one.file, '--log-format', 'json', '--role', 'worker']);
      const w2 = new Daemon(['--config', two.file, '--log-format', 'json', '--role', 'worker']);
      try {
        await w1.waitForLine(/"msg":"working"/);
        await w2.waitForLine(/"msg":"working"/);
        const flags = ['--distribute', '--json', '--split-every', '50', '--log-format', 'json'];
        const csv = join(tempDir('dist-report'), 'report.csv');
        const [r1, r2] = await Promise.all([
          runScript('bucket', ['--config', one.file, ...flags, '--report', csv]),
          runScript('bucket', ['--config', two.file, ...flags]),
        ]);
        assert.equal(r1.code, 0, r1.stderr);
        assert.equal(r2.code, 0, r2.stderr);
        assert.equal(summary(r1.stdout).copied, 300);
        assert.equal(summary(r2.stdout).copied, 300);
        // --report: the workers' rows, one per key and destination, written by the coordinator.
        const rows = readFileSync(csv, 'utf8').trim().split('\n').slice(1);
        assert.equal(rows.length, 300);
        assert.equal(rows.filter((r) => r.includes(',copied,')).length, 300);
        for (const s of [one, two])
          assert.deepEqual(
            (await contents(s.dests[0]!, '')).length,
            300,
            `${s.config.destinations[0]!.bucket} holds every key`,
          );
        // No worker of the third pair: the others refuse its ranges; the run fails naming why.
        const r3 = await runScript('bucket', ['--config', lone.file, ...flags]);
        assert.equal(r3.code, 1, r3.stderr);
        assert.match(r3.stderr, /refuses run \w+: the run's source is \[source\]/);
        assert.match(r3.stderr, /no worker of this pair took run/);
        assert.equal((await contents(lone.dests[0]!, '')).length, 0);
        // With --max-wait longer than the 15 s, the run waits that long for a worker of its pair:
        // one started after 17 s sweeps it. Each refusing worker said so once per run.
        const started = Date.now();
        const waiting = runScript('bucket', ['--config', lone.file, ...flags, '--max-wait', '40s']);
        await new Promise((r) => setTimeout(r, 17_000));
        const w3 = new Daemon(['--config', lone.file, '--log-format', 'json', '--role', 'worker']);
        try {
          const r4 = await waiting;
          assert.equal(r4.code, 0, r4.stderr);
          assert.ok(Date.now() - started > 17_000);
          assert.equal(summary(r4.stdout).copied, 300);
          assert.equal((await contents(lone.dests[0]!, '')).length, 300);
        } finally {
          await w3.dispose();
        }
        let seen = 0;
        for (const w of [w1, w2]) {
          const refusals = w.lines.filter((l) => /refuses run/.test(l)).map((l) => /refuses run (\w+)/.exec(l)![1]);
          seen += refusals.length;
          assert.equal(new Set(refusals).size, refusals.length, `one refusal line per run:\n${refusals.join('\n')}`);
        }
        assert.ok(seen >= 1, 'the workers of the other pairs refused');
        await waitFor('the queue line', async () => {
          const q = await runScript('s3s3', ['queue', '--config', one.file]);
          return (
            q.code === 0 &&
            /^waiting=\d+ active=\d+ delayed=\d+ failed=\d+ oldest_waiting_seconds=\d+\n$/.test(q.stdout)
          );
        });
      } finally {
        await w1.dispose();
        await w2.dispose();
      }
    },
  );
});
