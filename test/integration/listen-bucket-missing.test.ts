/**
 * A missing bucket is not a missing key. The source bucket deleted while s3s3listen runs:
 * keys announced meanwhile are neither dropped ("not in the source bucket") nor failed; the
 * daemon says once what is wrong, keeps running, and copies them by itself once the bucket
 * is back and refilled; the same for a destination bucket. `s3s3bucket --retry-failed` with
 * the source bucket missing queues the failed keys (here: the failed list of s3s3 before the
 * queue) and loses none. On Ceph RGW and on Swift.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { publish } from '../../src/api/listen/publish.js';
import { markerKey } from '../../src/api/worker/settle.js';
import { redisUrl, testServers } from '../helpers/servers.js';
import { Daemon, everywhere, runScript, setup, waitFor, type Setup } from '../helpers/listen.js';

const servers = testServers();
const other = (i: number) => servers[(i + 1) % servers.length]!;
/** Jobs not yet done: waiting, delayed (held for the bucket) or running. */
const pendingCount = async (s: Setup) => {
  const c = await s.counts();
  return c.waiting + c.delayed + c.active;
};
const failedCount = async (s: Setup) => (await s.counts()).failed;
const PROBE_SECONDS = 2;

servers.forEach((server, i) => {
  describe(`a bucket missing: source on ${server.name}, destinations on ${server.name} and ${other(i).name}`, () => {
    it('s3s3listen keeps the keys queued, logs once, and copies them by itself once the bucket is back', async () => {
      const s = await setup({
        source: server,
        dests: [server, other(i)],
        redisUrl: redisUrl(),
        label: `nobucket-${server.name}`,
      });
      const d = Daemon.start(s.file, [
        '--concurrency',
        '2',
        '--bucket-probe-interval',
        String(PROBE_SECONDS),
        '--verbose',
      ]);
      // More keys than the concurrency; one already in the destinations in an older version,
      // so its copy starts with a HEAD of the source (a bare 404) rather than a GET.
      const keys = ['gone/a', 'gone/b \u00e9', 'gone/c', 'gone/d', 'gone/stale'];
      const bodies = keys.map((k) => Buffer.from(`new body of ${k}`));
      try {
        await d.waitForLine(/ listening /);
        await s.source.put('before', Buffer.from('0'), { contentLength: 1 });
        await publish('before', { config: s.config });
        await waitFor('"before" everywhere', () => everywhere(s.dests, 'before', Buffer.from('0')));
        for (const dest of s.dests) await dest.put('gone/stale', Buffer.from('old'), { contentLength: 3 });

        await s.source.destroyBucket();
        await publish(keys, { config: s.config });
        const error = await d.waitForLine(/\[source\] bucket \S+ at \S+ does not exist: copying paused/);
        assert.match(
          error,
          new RegExp(`bucket ${s.config.source.bucket} at ${s.config.source.endpoint.replace(/[.]/g, '\\.')}`),
        );
        assert.match(error, /create the bucket or fix bucket_name in \[source\]/);
        // Several probes go by: nothing is dropped, nothing failed, everything still queued.
        const probes = d.matching(/bucket still missing/).length;
        await d.waitForLine(/bucket still missing/, 30_000, probes + 2);
        assert.equal(await pendingCount(s), keys.length, 'every key still queued');
        assert.equal(await failedCount(s), 0, 'nothing in the failed set');
        assert.equal(d.matching(/not in the source bucket/).length, 0, d.lines.join('\n'));
        assert.equal(d.matching(/copy failed/).length, 0, d.lines.join('\n'));
        assert.equal(d.matching(/does not exist: copying paused/).length, 1, 'one error line');
        assert.equal(d.child.exitCode, null, 'still running');

        // Right after a probe, so the bucket is refilled before the next one looks.
        await d.waitForLine(/bucket still missing/, 30_000, d.matching(/bucket still missing/).length + 1);
        await s.source.createBucket();
        for (const [n, key] of keys.entries())
          await s.source.put(key, bodies[n]!, { contentLength: bodies[n]!.length });

        await d.waitForLine(/\[source\] bucket \S+ at \S+ is back: copying resumes/);
        for (const [n, key] of keys.entries())
          await waitFor(`${key} everywhere`, () => everywhere(s.dests, key, bodies[n]!), 60_000);
        await s.drained();
        for (const key of keys) assert.equal(await s.redis.call('GET', markerKey(key)), 'True', key);
        d.kill('SIGTERM');
        assert.equal((await d.exited).code, 0, d.lines.join('\n'));
      } finally {
        await d.dispose();
        await s.redis.call('DEL', ...['before', ...keys].map(markerKey)).catch(() => undefined);
        await s.cleanup();
      }
    });

    it(
      `s3s3listen with a destination bucket (on ${other(i).name}) missing: pauses, keeps the keys, ` +
        `resumes once it is created`,
      async () => {
        const s = await setup({
          source: server,
          dests: [server, other(i)],
          redisUrl: redisUrl(),
          label: `nodest-${server.name}`,
        });
        const d = Daemon.start(s.file, ['--concurrency', '2', '--bucket-probe-interval', '1', '--verbose']);
        const keys = ['dest/a', 'dest/b', 'dest/c', 'dest/d'];
        const bodies = keys.map((k) => Buffer.from(`body of ${k}`));
        try {
          await d.waitForLine(/ listening /);
          for (const [n, key] of keys.entries())
            await s.source.put(key, bodies[n]!, { contentLength: bodies[n]!.length });
          await s.dests[1]!.destroyBucket();
          await publish(keys, { config: s.config });
          const error = await d.waitForLine(/\[dest2\] bucket \S+ at \S+ does not exist: copying paused/);
          assert.match(error, new RegExp(`bucket ${s.config.destinations[1]!.bucket} `));
          await d.waitForLine(/bucket still missing/, 30_000, 2);
          assert.equal(await pendingCount(s), keys.length, 'every key still queued');
          assert.equal(await failedCount(s), 0, 'nothing in the failed set');
          assert.equal(d.matching(/copy failed/).length, 0, d.lines.join('\n'));

          await s.dests[1]!.createBucket();
          await d.waitForLine(/\[dest2\] bucket \S+ at \S+ is back: copying resumes/);
          for (const [n, key] of keys.entries())
            await waitFor(`${key} everywhere`, () => everywhere(s.dests, key, bodies[n]!), 60_000);
          await s.drained();
          assert.equal(d.matching(/does not exist: copying paused/).length, 1, d.lines.join('\n'));
          d.kill('SIGTERM');
          assert.equal((await d.exited).code, 0, d.lines.join('\n'));
        } finally {
          await d.dispose();
          await s.redis.call('DEL', ...keys.map(markerKey)).catch(() => undefined);
          await s.cleanup();
        }
      },
    );

    it(
      's3s3bucket --retry-failed with the source bucket missing queues every failed key; ' +
        'the worker holds them and copies them once it is back',
      async () => {
        const s = await setup({
          source: server,
          dests: [server, other(i)],
          redisUrl: redisUrl(),
          label: `nobucket-retry-${server.name}`,
        });
        const keys = ['retry/a', 'retry/stale', 'retry/c \u0007'];
        const bodies = keys.map((k) => Buffer.from(`body of ${k}`));
        let d: Daemon | undefined;
        try {
          // One key in the destinations already (older): its copy HEADs the source first.
          for (const dest of s.dests) await dest.put('retry/stale', Buffer.from('old'), { contentLength: 3 });
          // What the listener of s3s3 before the queue left in its failed list.
          const entries = keys.map((key) =>
            JSON.stringify({
              key,
              reason: 'earlier failure',
              at: '2026-01-01T00:00:00.000Z',
              destinations: ['dest2'],
              attempts: 1,
            }),
          );
          await s.redis.call('RPUSH', s.config.pubsub.failedList, ...entries);
          await s.source.destroyBucket();

          const r = await runScript('bucket', ['--config', s.file, '--retry-failed', '--json']);
          assert.equal(r.code, 0, r.stderr);
          assert.equal((JSON.parse(r.stdout) as { legacy: number }).legacy, keys.length, r.stdout);
          assert.equal(Number(await s.redis.call('LLEN', s.config.pubsub.failedList)), 0, 'the old list is taken over');
          assert.equal(await pendingCount(s), keys.length, 'every key queued');

          d = Daemon.start(s.file, ['--bucket-probe-interval', String(PROBE_SECONDS), '--verbose']);
          await d.waitForLine(/\[source\] bucket \S+ at \S+ does not exist: copying paused/);
          await d.waitForLine(/bucket still missing/, 30_000, 2);
          assert.equal(await pendingCount(s), keys.length, 'every key still queued');
          assert.equal(await failedCount(s), 0);

          await d.waitForLine(/bucket still missing/, 30_000, d.matching(/bucket still missing/).length + 1);
          await s.source.createBucket();
          for (const [n, key] of keys.entries())
            await s.source.put(key, bodies[n]!, { contentLength: bodies[n]!.length });
          for (const [n, key] of keys.entries())
            await waitFor(`${key} everywhere`, () => everywhere(s.dests, key, bodies[n]!), 60_000);
          await s.drained();
          d.kill('SIGTERM');
          assert.equal((await d.exited).code, 0, d.lines.join('\n'));
        } finally {
          await d?.dispose();
          await s.redis.call('DEL', ...keys.map(markerKey)).catch(() => undefined);
          await s.cleanup();
        }
      },
    );
  });
});
