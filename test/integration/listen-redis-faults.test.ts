/**
 * s3s3listen when Redis answers writes with an error, against redis-servers of the test's own:
 * a replica (READONLY), a Redis at maxmemory with noeviction (OOM), a failed RDB save (MISCONF)
 * and a queue key of another type (WRONGTYPE). The queue lives in Redis, so nothing can be
 * queued meanwhile: the daemon must keep every key it receives (more than its concurrency) in
 * memory, say once what is wrong and what to do, show `redis=degraded` in its status line,
 * never exit, and queue and copy everything once Redis takes writes again.
 * Also Redis (with appendonly, as docs/s3s3listen.md asks) killed with SIGKILL while copies are in
 * flight and restarted on the same port: every key lands.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { publish } from '../../src/api/listen/publish.js';
import { markerKey } from '../../src/api/worker/settle.js';
import { queueName } from '../../src/api/queue/queue.js';
import { testServers } from '../helpers/servers.js';
import { Daemon, everywhere, OwnRedis, setup, TcpProxy, waitFor, type Setup } from '../helpers/listen.js';

const servers = testServers();
const CONCURRENCY = 2;

async function putAll(s: Setup, keys: readonly string[], bodies: readonly Buffer[]): Promise<void> {
  for (const [n, key] of keys.entries()) await s.source.put(key, bodies[n]!, { contentLength: bodies[n]!.length });
}

/** Every key in every destination, byte for byte. */
async function allCopied(s: Setup, keys: readonly string[], bodies: readonly Buffer[]): Promise<void> {
  for (const [n, key] of keys.entries())
    await waitFor(`${key} in every destination`, () => everywhere(s.dests, key, bodies[n]!), 120_000);
}

/** Queue drained and every marker set: what "settled" means in Redis. */
async function allSettled(s: Setup, keys: readonly string[]): Promise<void> {
  await s.drained(0, 120_000);
  for (const key of keys)
    await waitFor(`the marker of ${key}`, async () => (await s.redis.call('GET', markerKey(key))) === 'True', 60_000);
}

interface WriteFault {
  readonly name: string;
  /** Make `own` refuse writes; `primary` is a second Redis it may replicate. */
  readonly break: (own: OwnRedis, primary: OwnRedis, s: Setup) => void;
  readonly heal: (own: OwnRedis, s: Setup) => void;
  /** The one error line, with its advice. */
  readonly line: RegExp;
}

const faults: WriteFault[] = [
  {
    name: 'a replica (READONLY)',
    break: (own, primary) => {
      own.cli('REPLICAOF', '127.0.0.1', String(primary.port));
      // A replica refuses writes once it has synced; wait for it to say so.
      waitSync(() => own.cli('ZADD', 'probe:readonly', '1', 'x').includes('READONLY'));
    },
    heal: (own) => own.cli('REPLICAOF', 'NO', 'ONE'),
    line: /redis rejects writes \(READONLY\): this redis is a read-only replica: point redis_url at the primary/,
  },
  {
    name: 'maxmemory with noeviction (OOM)',
    break: (own) => {
      own.cliInput('x'.repeat(2 * 1024 * 1024), '-x', 'SET', 'filler');
      own.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
      own.cli('CONFIG', 'SET', 'maxmemory', String(1024 * 1024));
      assert.match(own.cli('ZADD', 'probe:oom', '1', 'x'), /OOM/);
    },
    heal: (own) => {
      own.cli('CONFIG', 'SET', 'maxmemory', '0');
      own.cli('DEL', 'filler');
    },
    line: /redis rejects writes \(OOM\): redis is at maxmemory and may not evict \(noeviction\): raise maxmemory/,
  },
  {
    name: 'a failed RDB save (MISCONF)',
    break: (own) => {
      // Its RDB file's path taken by a directory: the next BGSAVE fails, and with save points
      // set (stop-writes-on-bgsave-error is on by default) Redis refuses writes.
      mkdirSync(join(own.dir, 'dump.rdb'));
      own.cli('CONFIG', 'SET', 'save', '3600 1');
      own.cli('BGSAVE');
      waitSync(() => own.cli('ZADD', 'probe:misconf', '1', 'x').includes('MISCONF'));
    },
    heal: (own) => {
      rmSync(join(own.dir, 'dump.rdb'), { recursive: true });
      own.cli('BGSAVE');
    },
    line: new RegExp(
      /redis rejects writes \(MISCONF\): /.source +
        /redis refuses writes since its last RDB save failed: fix the save \(disk full\?/.source,
    ),
  },
  {
    name: 'a queue key holding another type (WRONGTYPE)',
    break: (own, _primary, s) => {
      own.cli('SET', `bull:${queueName(s.config)}:wait`, 'not a list');
    },
    heal: (own, s) => {
      own.cli('DEL', `bull:${queueName(s.config)}:wait`);
    },
    line: new RegExp(
      /redis rejects writes \(WRONGTYPE\): /.source +
        /a key s3s3 writes \(the bull:<queue>:\* keys of the queue, or a backup=> marker\) holds another type/.source,
    ),
  },
];

function waitSync(check: () => boolean): void {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
}

for (const fault of faults) {
  describe(`s3s3listen with redis refusing writes: ${fault.name}`, () => {
    const own = new OwnRedis('writes');
    const primary = new OwnRedis('primary');
    after(() => {
      own.stop();
      primary.stop();
    });

    it(
      'keeps more keys than its concurrency in memory, logs it once, status says degraded; ' +
        'queues and copies everything once writes work again',
      async () => {
        own.start();
        primary.start();
        const s = await setup({ source: servers[0]!, dests: servers, redisUrl: own.url, label: `redis-writes` });
        const d = Daemon.start(s.file, ['--concurrency', String(CONCURRENCY), '--status-interval', '1']);
        const keys = Array.from({ length: CONCURRENCY * 4 }, (_, n) => `degraded/${n} \u00e9`);
        const bodies = keys.map((_k, n) => Buffer.alloc(1000 + n, n + 1));
        try {
          await d.waitForLine(/ listening /);
          await d.waitForLine(/ status .*redis=ok/);
          await putAll(s, keys, bodies);
          fault.break(own, primary, s);

          await publish(keys, { config: s.config });
          await d.waitForLine(fault.line);
          await d.waitForLine(/ status .*redis=degraded/);
          // A few status lines go by: still degraded, still running, every key still held.
          await d.waitForLine(/ status .*redis=degraded/, 30_000, 3);
          assert.equal(d.child.exitCode, null, 'never exits for this');

          fault.heal(own, s);
          await d.waitForLine(/redis takes writes again/);
          await allCopied(s, keys, bodies);
          await allSettled(s, keys);
          await d.waitForLine(/ status .*redis=ok/, 60_000, d.matching(/ status .*redis=ok/).length + 1);
          assert.equal(
            d.matching(/redis rejects writes/).length,
            1,
            `one error line per outage:\n${d.lines.join('\n')}`,
          );
          assert.equal(d.matching(/redis takes writes again/).length, 1, d.lines.join('\n'));
          assert.equal(d.matching(/copy failed|moved to the failed list/).length, 0, d.lines.join('\n'));
          d.kill('SIGTERM');
          assert.equal((await d.exited).code, 0, d.lines.join('\n'));
        } finally {
          await d.dispose();
          await s.cleanup();
        }
      },
    );
  });
}

describe('s3s3listen and redis killed (SIGKILL) while copies are in flight', () => {
  const own = new OwnRedis('kill9', true);
  after(() => own.stop());

  it('copies and settles every key once redis is back on the same port', async () => {
    own.start();
    const slow = new TcpProxy(servers[1 % servers.length]!.endpoint, 2 * 1024 * 1024);
    await slow.start();
    const s = await setup({
      source: servers[0]!,
      dests: [servers[0]!, { server: servers[1 % servers.length]!, endpoint: slow.endpoint }],
      redisUrl: own.url,
      label: 'redis-kill9',
    });
    const d = Daemon.start(s.file, ['--concurrency', String(CONCURRENCY)]);
    const keys = Array.from({ length: 8 }, (_, n) => `kill9/${n}`);
    const bodies = keys.map((_k, n) => Buffer.alloc(512 * 1024 + n, n + 7));
    try {
      await d.waitForLine(/ listening /);
      await putAll(s, keys, bodies);
      await publish(keys, { config: s.config });
      await d.waitForLine(/ copied key=kill9\//);
      own.kill9();
      await d.waitForLine(/redis connection lost; reconnecting/);
      await new Promise((r) => setTimeout(r, 1500));
      own.start(); // same port, same appendonly file: the queue is as it was at the kill
      await allCopied(s, keys, bodies);
      await allSettled(s, keys).catch((err: unknown) => assert.fail(`${String(err)}\n${d.lines.join('\n')}`));
      assert.equal(d.child.exitCode, null);
      d.kill('SIGTERM');
      assert.equal((await d.exited).code, 0, d.lines.join('\n'));
    } finally {
      await d.dispose();
      await s.cleanup();
      await slow.stop();
    }
  });
});
