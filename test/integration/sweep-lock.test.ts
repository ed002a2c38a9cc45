/**
 * s3s3bucket's lock, as processes against the real servers: a sweep finds the lock held and
 * exits 0 with "already running", or waits for it with --wait; two sweeps started together
 * never both sweep. With Redis configured (a Redis key) and without (a lock file).
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SweepLock, sweepLockKey } from '../../src/api/lock/sweep-lock.js';
import { redisUrl, testServers } from '../helpers/servers.js';
import { closedPort, Daemon, runScript, setup, tempDir, type Setup } from '../helpers/listen.js';

const servers = testServers();
const [a, b] = [servers[0]!, servers[1] ?? servers[0]!];
const OBJECTS = 400;

async function listAll(s: Setup, i: number): Promise<number> {
  let n = 0;
  for await (const _ of s.dests[i]!.list()) n++;
  return n;
}

for (const mode of ['redis', 'lock file'] as const) {
  describe(`s3s3bucket lock (${mode}): source on ${a.name}, destination on ${b.name}`, () => {
    let s: Setup;
    const lockFile = join(tempDir('sweeplock'), 'sweep.lock');
    const args = () => ['--config', s.file, ...(mode === 'lock file' ? ['--lock-file', lockFile] : [])];

    before(async () => {
      s = await setup({
        source: a,
        dests: [b],
        redisUrl: redisUrl(),
        label: `lock-${mode === 'redis' ? 'r' : 'f'}`,
        pubsub: mode === 'redis' ? {} : { redis: false },
      });
      let next = 0;
      const body = Buffer.alloc(1024, 9);
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < OBJECTS) {
            const n = next++;
            await s.source.put(`obj/${String(n).padStart(4, '0')}`, body, { contentLength: body.length });
          }
        }),
      );
    });
    after(async () => {
      await s.cleanup();
    });

    it('exits 0 with "already running" while the lock is held, and copies nothing', async () => {
      const lock = new SweepLock(s.config, { lockFile });
      const held = await lock.acquire();
      assert.ok(held);
      if (mode === 'redis') assert.equal(held.name, sweepLockKey(s.config));
      assert.match(
        held.name,
        mode === 'redis'
          ? new RegExp(`^s3s3:lock:.*${s.config.source.bucket}.* -> .*${s.config.destinations[0]!.bucket}`)
          : /sweep\.lock$/,
      );
      try {
        const r = await runScript('bucket', args());
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /already running: another sweep of these buckets holds the lock; exiting/);
        assert.match(r.stderr, new RegExp(`pid ${process.pid} on `));
        assert.equal(await listAll(s, 0), 0);
      } finally {
        await held.release();
        await lock.close();
      }
    });

    it('waits with --wait, then sweeps once the lock is free', async () => {
      const lock = new SweepLock(s.config, { lockFile });
      const held = (await lock.acquire())!;
      const waiting = new Daemon([...args(), '--wait'], {}, 'bucket');
      try {
        await waiting.waitForLine(/another sweep of these buckets is running; waiting for it/);
        assert.equal(await listAll(s, 0), 0, 'nothing copied while waiting');
        await held.release();
        const { code } = await waiting.exited;
        assert.equal(code, 0, waiting.lines.join('\n'));
        assert.equal(await listAll(s, 0), OBJECTS);
      } finally {
        await lock.close();
        await waiting.dispose();
      }
      if (mode === 'lock file') assert.equal(existsSync(lockFile), false, 'the lock file is removed after the sweep');
      await s.dests[0]!.deleteMany(Array.from({ length: OBJECTS }, (_, n) => `obj/${String(n).padStart(4, '0')}`));
    });

    it('two sweeps started together: one sweeps, the other exits 0 with "already running"', async () => {
      const [one, two] = await Promise.all([runScript('bucket', args()), runScript('bucket', args())]);
      assert.equal(one.code, 0, one.stderr);
      assert.equal(two.code, 0, two.stderr);
      const swept = [one, two].filter((r) => /sweep finished/.test(r.stderr));
      const skipped = [one, two].filter((r) => /already running/.test(r.stderr));
      assert.equal(swept.length, 1, `${one.stderr}\n----\n${two.stderr}`);
      assert.equal(skipped.length, 1);
      assert.match(swept[0]!.stderr, new RegExp(`copied=${OBJECTS}`));
      assert.equal(await listAll(s, 0), OBJECTS);
      if (mode === 'redis')
        assert.equal(await s.redis.call('EXISTS', sweepLockKey(s.config)), 0, 'the lock is released');
    });
  });
}

describe('s3s3bucket lock when Redis is configured but down', () => {
  it('falls back to the lock file, says so, and still sweeps', async () => {
    const port = await closedPort();
    const s = await setup({
      source: a,
      dests: [b],
      redisUrl: `redis://:secretpw@127.0.0.1:${port}/0`,
      label: 'lock-down',
    });
    try {
      await s.source.put('k', Buffer.from('v'), { contentLength: 1 });
      const lockFile = join(tempDir('lockdown'), 'sweep.lock');
      const r = await runScript('bucket', ['--config', s.file, '--lock-file', lockFile]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /cannot reach Redis for the sweep lock; using a lock file instead/);
      assert.match(r.stderr, /sweep finished/);
      assert.ok(!r.stderr.includes('secretpw'), 'the Redis password is never printed');
      assert.equal(existsSync(lockFile), false, 'released');
      assert.equal((await s.dests[0]!.head('k'))?.size, 1);
    } finally {
      await s.cleanup();
    }
  });
});
