/**
 * s3s3listen when things go wrong, against a real redis-server and the real S3 servers:
 * Redis killed and restarted on the same port; a destination that is down (the queue's
 * failed set, then `s3s3bucket --retry-failed`); SIGTERM during a large copy; the shutdown
 * timeout; SIGKILL in the middle of copies and a restart. Timings are never asserted: every wait
 * polls the real state.
 */
import { createHash } from 'node:crypto';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { publish } from '../../src/api/listen/publish.js';
import { markerKey } from '../../src/api/worker/settle.js';
import { redisUrl, testServers } from '../helpers/servers.js';
import { Daemon, everywhere, OwnRedis, runScript, setup, TcpProxy, waitFor, type Setup } from '../helpers/listen.js';

const servers = testServers();
const other = (i: number) => servers[(i + 1) % servers.length]!;
/** Jobs not done yet: waiting, delayed or held by a worker (alive or dead). */
const pendingCount = async (s: Setup) => {
  const c = await s.counts();
  return c.waiting + c.delayed + c.active;
};

describe('s3s3listen and a Redis restart', () => {
  const own = new OwnRedis('restart');
  after(() => own.stop());

  it('reconnects, resubscribes, logs the outage with its length, and copies what is published afterwards', async () => {
    own.start();
    const s = await setup({ source: servers[0]!, dests: servers, redisUrl: own.url, label: 'redis-restart' });
    const d = Daemon.start(s.file);
    try {
      await d.waitForLine(/ listening /);
      await s.source.put('before', Buffer.from('1'), { contentLength: 1 });
      await publish('before', { config: s.config });
      await waitFor('"before" everywhere', () => everywhere(s.dests, 'before', Buffer.from('1')));

      own.stop();
      await d.waitForLine(/redis connection lost; reconnecting/);
      await new Promise((r) => setTimeout(r, 1500));
      own.start(); // same port, empty
      const back = await d.waitForLine(/redis reconnected and resubscribed/, 60_000);
      assert.match(back, /outageSeconds=\d+(\.\d+)?/);
      assert.match(back, /run s3s3bucket to sweep/);

      await s.source.put('after', Buffer.from('2'), { contentLength: 1 });
      await waitFor(
        'a subscriber again',
        async () => Number(((await s.redis.call('PUBSUB', 'NUMSUB', s.channel)) as [string, number])[1]) === 1,
      );
      await publish('after', { config: s.config });
      await waitFor('"after" everywhere', () => everywhere(s.dests, 'after', Buffer.from('2')));
      assert.equal(d.child.exitCode, null, 'never exited');
      d.kill('SIGTERM');
      assert.equal((await d.exited).code, 0);
    } finally {
      await d.dispose();
      await s.cleanup();
    }
  });
});

servers.forEach((server, i) => {
  describe(`s3s3listen with a destination down: source on ${server.name}`, () => {
    it(
      'keeps the key in the failed set with the reason; --retry-failed queues it again and it lands once the ' +
        'destination is back',
      async () => {
        const proxy = new TcpProxy(other(i).endpoint);
        await proxy.start();
        // Few retries per try, so the queue's 3 tries end in the failed set within seconds.
        const s = await setup({
          source: server,
          dests: [server, { server: other(i), endpoint: proxy.endpoint }],
          redisUrl: redisUrl(),
          label: `down-${server.name}`,
          endpointExtra: { max_retries: 1, connect_timeout: 1 },
        });
        await proxy.stop();
        const d = Daemon.start(s.file);
        const key = 'down/k \u00e9\u0001';
        const body = Buffer.from('kept safe');
        try {
          await d.waitForLine(/ listening /);
          await s.source.put(key, body, { contentLength: body.length });
          await publish(key, { config: s.config });
          await waitFor('the key in the failed set', async () => (await s.counts()).failed === 1, 120_000, 500);
          assert.equal(await pendingCount(s), 0, 'failed, not waiting');
          const listed = await runScript('s3s3', ['queue', 'failed', '--config', s.file]);
          assert.equal(listed.code, 0, listed.stderr);
          const [entry] = listed.stdout
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as { key: string; error: string });
          assert.equal(entry!.key, key, 'every key byte kept');
          assert.match(entry!.error, /\[dest2\]/);
          assert.ok(await everywhere([s.dests[0]!], key, body), 'the destination that is up has it');
          await d.waitForLine(/copy failed after retries; kept in the queue's failed set/);
          assert.equal(d.child.exitCode, null, 'an S3 error never stops the daemon');

          await proxy.start();
          const ok = await runScript('bucket', ['--config', s.file, '--retry-failed']);
          assert.equal(ok.code, 0, ok.stderr);
          assert.match(ok.stderr, /requeued=1 /);
          await waitFor('the key everywhere', () => everywhere(s.dests, key, body), 60_000);
          await s.drained();
          await waitFor('the marker', async () => (await s.redis.call('GET', markerKey(key))) === 'True');
          await s.redis.call('DEL', markerKey(key));
        } finally {
          await d.dispose();
          await proxy.stop();
          await s.cleanup(); // the bucket behind the proxy is emptied through the server itself
        }
      },
    );
  });

  describe(`s3s3listen stopping: source on ${server.name}, destination on ${other(i).name} behind a slow link`, () => {
    it('finishes a large copy in flight on SIGTERM, then exits 0', async () => {
      const slow = new TcpProxy(other(i).endpoint, 4 * 1024 * 1024);
      await slow.start();
      const s = await setup({
        source: server,
        dests: [{ server: other(i), endpoint: slow.endpoint }],
        redisUrl: redisUrl(),
        label: `term-${server.name}`,
      });
      const d = Daemon.start(s.file, ['--verbose']);
      const key = 'large/object';
      const size = 16 * 1024 * 1024 + 5;
      const body = Buffer.alloc(size, 7);
      try {
        await d.waitForLine(/ listening /);
        await s.source.put(key, body, { contentLength: size });
        await publish(key, { config: s.config, format: 'json' });
        await d.waitForLine(/copy started key=large\/object/);
        d.kill('SIGTERM');
        const { code } = await d.exited;
        assert.equal(code, 0, d.lines.join('\n'));
        const stopping = d.lines.findIndex((l) =>
          /stopping: no new messages; finishing the jobs running .*inFlight=1 /.test(l),
        );
        const copied = d.lines.findIndex((l) => / copied key=large\/object /.test(l));
        assert.ok(
          stopping >= 0 && copied > stopping,
          `the copy was in flight at SIGTERM and finished after it:\n${d.lines.join('\n')}`,
        );
        const head = await s.dests[0]!.head(key);
        assert.equal(head?.size, size);
        assert.equal(head?.etag, createHash('md5').update(body).digest('hex'));
        assert.equal(await pendingCount(s), 0);
        await s.redis.call('DEL', markerKey(key));
      } finally {
        await d.dispose();
        await s.cleanup();
        await slow.stop();
      }
    });

    it('never copies a key twice at once: announced again during its copy, it runs once more afterwards', async () => {
      const slow = new TcpProxy(other(i).endpoint, 4 * 1024 * 1024);
      await slow.start();
      const s = await setup({
        source: server,
        dests: [{ server: other(i), endpoint: slow.endpoint }],
        redisUrl: redisUrl(),
        label: `again-${server.name}`,
      });
      const d = Daemon.start(s.file, ['--verbose']);
      const key = 'again/slow';
      const size = 6 * 1024 * 1024;
      try {
        await d.waitForLine(/ listening /);
        await s.source.put(key, Buffer.alloc(size, 1), { contentLength: size });
        await publish(key, { config: s.config });
        await d.waitForLine(/copy started key=again\/slow/);
        const v2 = Buffer.alloc(size, 2);
        await s.source.put(key, v2, { contentLength: size });
        await publish([key, key, key, key, key], { config: s.config });
        const want = createHash('md5').update(v2).digest('hex');
        await waitFor('the last version', async () => (await s.dests[0]!.head(key))?.etag === want, 120_000);
        await s.drained();
        await d.waitForLine(/ (copied|already in place) key=again\/slow/);
        // Starts and ends alternate: never a second start before the first copy ended.
        // (The copy under way sees v2 at its check after the write and copies again in the same run.)
        const events = d.lines
          .filter((l) => /key=again\/slow/.test(l) && !/the source changed while it was copied/.test(l))
          .map((l) => (/copy started/.test(l) ? 'start' : / copied | already in place /.test(l) ? 'end' : l));
        // Five announcements during the copy: exactly one more run.
        assert.equal(events.length, 4, d.lines.join('\n'));
        events.forEach((e, n) => assert.equal(e, n % 2 === 0 ? 'start' : 'end', d.lines.join('\n')));
        d.kill('SIGTERM');
        assert.equal((await d.exited).code, 0);
        await s.redis.call('DEL', markerKey(key));
      } finally {
        await d.dispose();
        await s.cleanup();
        await slow.stop();
      }
    });

    it(
      'past shutdown_timeout leaves the job in the queue, exits 0, ' +
        'and the next start finishes it once its lock expires',
      async () => {
        const slow = new TcpProxy(other(i).endpoint, 2 * 1024 * 1024);
        await slow.start();
        const s = await setup({
          source: server,
          dests: [{ server: other(i), endpoint: slow.endpoint }],
          redisUrl: redisUrl(),
          label: `timeout-${server.name}`,
          pubsub: { shutdown_timeout: 1 },
        });
        const key = 'slow/object';
        const size = 12 * 1024 * 1024;
        const body = Buffer.alloc(size, 3);
        let d = Daemon.start(s.file, ['--verbose', '--job-lock', '3']);
        try {
          await d.waitForLine(/ listening /);
          await s.source.put(key, body, { contentLength: size });
          await publish(key, { config: s.config });
          await d.waitForLine(/copy started key=slow\/object/);
          d.kill('SIGTERM');
          assert.equal((await d.exited).code, 0);
          assert.ok(
            d.matching(/shutdown timeout reached; jobs still running are abandoned/).length === 1,
            d.lines.join('\n'),
          );
          assert.equal(
            await pendingCount(s),
            1,
            `still in the queue: ${JSON.stringify(await s.counts())}\n${d.lines.join('\n')}`,
          );

          d = Daemon.start(s.file, ['--job-lock', '3']);
          await d.waitForLine(/a job stalled \(its worker died or hung\): it runs again/);
          await waitFor('the copy everywhere', async () => (await s.dests[0]!.head(key))?.size === size, 120_000);
          await s.drained();
          d.kill('SIGTERM');
          assert.equal((await d.exited).code, 0);
          await s.redis.call('DEL', markerKey(key));
        } finally {
          await d.dispose();
          await s.cleanup();
          await slow.stop();
        }
      },
    );
  });

  describe(`s3s3listen killed with SIGKILL mid-copies: source on ${server.name}`, () => {
    it('loses nothing: after a restart every key it had received is in every destination', async () => {
      const slow = new TcpProxy(other(i).endpoint, 2 * 1024 * 1024);
      await slow.start();
      const s = await setup({
        source: server,
        dests: [server, { server: other(i), endpoint: slow.endpoint }],
        redisUrl: redisUrl(),
        label: `kill-${server.name}`,
      });
      const keys = Array.from({ length: 24 }, (_, n) => `kill/${String(n).padStart(2, '0')}`);
      const bodies = keys.map((_k, n) => Buffer.alloc(256 * 1024 + n, n + 1));
      for (const [n, key] of keys.entries()) await s.source.put(key, bodies[n]!, { contentLength: bodies[n]!.length });
      let d = Daemon.start(s.file, ['--concurrency', '2', '--job-lock', '3']);
      try {
        await d.waitForLine(/ listening /);
        await publish(keys, { config: s.config });
        await d.waitForLine(/ copied key=kill\//, 120_000, 2);
        d.kill('SIGKILL');
        assert.equal((await d.exited).signal, 'SIGKILL');
        const left = await pendingCount(s);
        assert.ok(left > 0, 'some keys were received and not finished');
        const done = d.matching(/ copied key=kill\//).length;
        assert.ok(left + done >= keys.length, `every key received is either done (${done}) or queued (${left})`);

        d = Daemon.start(s.file, ['--concurrency', '4', '--job-lock', '3']);
        await d.waitForLine(/a job stalled \(its worker died or hung\): it runs again/);
        for (const [n, key] of keys.entries())
          await waitFor(`${key} everywhere`, () => everywhere(s.dests, key, bodies[n]!), 120_000);
        await s.drained();
        d.kill('SIGTERM');
        assert.equal((await d.exited).code, 0);
        await s.redis.call('DEL', ...keys.map(markerKey));
      } finally {
        await d.dispose();
        await s.cleanup();
        await slow.stop();
      }
    });
  });
});
