/**
 * `s3s3bucket --distribute` when Redis loses the run's state mid-run (a Redis restarted without
 * persistence, or a failover to a replica that had not caught up): an empty ranges hash must
 * not read as "every range done". The coordinator stops with exit 1 saying so, and deletes
 * nothing (a key only the destination has stays).
 */
import { createHash } from 'node:crypto';
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Daemon, runScript, setup } from '../helpers/listen.js';
import { redisUrl, testServers } from '../helpers/servers.js';
import { putAll } from '../helpers/seed.js';
import { rangesQueueName } from '../../src/api/distribute/ranges-queue.js';

const servers = testServers();
const ceph = servers.find((s) => s.name === 'ceph') ?? servers[0]!;
// Spread over the key space (hex), so the one range splits early and others finish soon.
const KEYS = Array.from({ length: 1500 }, (_, i) => createHash('md5').update(String(i)).digest('hex').slice(0, 12));

it('the run state lost from Redis mid-run: exit 1, said, nothing deleted', { timeout: 180_000 }, async () => {
  const s = await setup({
    source: ceph,
    dests: [ceph],
    redisUrl: redisUrl(),
    label: 'dist-lost',
    pubsub: { concurrency: 8 },
  });
  await putAll(
    s.source,
    KEYS.map((k) => ({ key: k, body: Buffer.from('x'.repeat(100)) })),
  );
  await s.dests[0]!.put('only-in-dest', Buffer.from('keep me'), { contentLength: 7 });
  const pattern = `*${rangesQueueName(s.config)}:run:*`;
  const w = new Daemon(['--config', s.file, '--log-format', 'json', '--role', 'worker']);
  try {
    await w.waitForLine(/"msg":"working"/);
    const run = runScript('bucket', ['--config', s.file, '--distribute', '--delete', '--split-every', '50']);
    let lost: string[] = [];
    for (let i = 0; i < 2400 && lost.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const keys = (await s.redis.call('KEYS', pattern)) as string[];
      const runKey = keys.find((k) => /:run:[0-9a-f]+$/.test(k));
      if (runKey && Number(await s.redis.call('HGET', runKey, 'ranges_done')) >= 1) {
        lost = keys;
        await s.redis.call('DEL', ...keys);
      }
    }
    assert.ok(lost.length > 0, `the run was caught mid-copy; the worker said:\n${w.lines.slice(-15).join('\n')}`);
    const got = await run;
    assert.equal(got.code, 1, got.stderr);
    assert.match(got.stderr, /the run's state in Redis is gone or inconsistent/);
    assert.notEqual(await s.dests[0]!.head('only-in-dest'), null, 'no delete after the state was lost');
  } finally {
    await w.dispose();
    await s.cleanup();
  }
});
