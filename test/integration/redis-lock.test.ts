/**
 * The Redis side against a real redis-server: the sweep lock (SET NX PX, renewal,
 * compare-and-delete release) and publishing.
 */
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectRedis, type RedisCommands } from '../../src/api/redis/redis.js';
import { RedisLock } from '../../src/api/lock/redis-lock.js';
import { acquire } from '../../src/api/lock/lock.js';
import { Publisher, publish, InvalidKeyError } from '../../src/api/listen/publish.js';
import { RedisError, LockError } from '../../src/api/errors.js';
import { redisUrl } from '../helpers/servers.js';
import { closedPort, waitFor } from '../helpers/listen.js';

const scope = { source: 'http://127.0.0.1:1/src', destinations: ['http://127.0.0.1:2/dst'] };
const unique = (label: string) => `t:${label}:${randomBytes(4).toString('hex')}`;

describe('redis lock and publish on a real Redis', () => {
  let redis: RedisCommands;
  before(() => {
    redis = connectRedis(redisUrl(), { redactedUrl: redisUrl(), mode: 'client' });
  });
  after(async () => {
    await redis.close();
    await redis.close();
  });

  it('lets one holder in; the second learns who holds it; release frees it', async () => {
    const key = unique('lock');
    const lock = new RedisLock(redis, key, 10_000, false);
    const first = await acquire(lock, scope);
    assert.ok(first);
    assert.ok(Number(await redis.call('PTTL', key)) > 5000, 'has a TTL');
    let by: { pid: number; source: string } | null = null;
    assert.equal(await acquire(lock, scope, { onBusy: (b) => (by = b) }), null);
    assert.equal(by!.pid, process.pid);
    assert.equal(by!.source, scope.source);
    await first.release();
    assert.equal(await redis.call('EXISTS', key), 0);
    const again = await acquire(lock, scope);
    assert.ok(again);
    await again.release();
  });

  it('a holder that cannot renew gives the lock up before its key expires (no overlap with the next)', async () => {
    // Its own ACL user, whose EVAL (the renewal) is then refused: Redis answers, the renewals fail.
    const user = `locktest-${randomBytes(4).toString('hex')}`;
    const pass = randomBytes(8).toString('hex');
    await redis.call('ACL', 'SETUSER', user, 'on', `>${pass}`, '~*', '&*', '+@all');
    const url = new URL(redisUrl());
    url.username = user;
    url.password = pass;
    const own = connectRedis(url.toString(), { redactedUrl: 'redis://locktest', mode: 'client' });
    const key = unique('expiry');
    try {
      const held = (await acquire(new RedisLock(own, key, 3000, false), scope))!;
      await redis.call('ACL', 'SETUSER', user, '-eval');
      const pttlAtAbort = await new Promise<number>((resolve) =>
        held.signal.addEventListener('abort', () => void redis.call('PTTL', key).then((t) => resolve(Number(t)))),
      );
      assert.ok(pttlAtAbort > 0, `the lock was given up ${-pttlAtAbort} ms too late (PTTL ${pttlAtAbort})`);
      assert.match(String((held.signal.reason as Error).message), /not renewed within its TTL|cannot renew/);
    } finally {
      await own.close();
      await redis.call('ACL', 'DELUSER', user);
    }
  });

  it('renews the lock while held, past its TTL', async () => {
    const key = unique('renew');
    const held = (await acquire(new RedisLock(redis, key, 3000, false), scope))!;
    await new Promise((r) => setTimeout(r, 4500));
    assert.equal(await redis.call('EXISTS', key), 1, 'still held after more than one TTL');
    assert.equal(held.signal.aborted, false);
    await held.release();
  });

  it(
    'never deletes a lock that expired and was taken by someone else; ' + 'the first holder learns it lost it',
    async () => {
      const key = unique('steal');
      const lock = new RedisLock(redis, key, 3000, false);
      const first = (await acquire(lock, scope))!;
      await redis.call('DEL', key); // as if it had expired
      const second = (await acquire(lock, scope))!;
      assert.ok(second);
      await waitFor('the first holder to notice', () => first.signal.aborted, 5000);
      assert.ok(first.signal.reason instanceof LockError);
      await first.release();
      assert.equal(await redis.call('GET', key), JSON.stringify(second.holder), 'the second holder keeps its lock');
      await second.release();
    },
  );

  it('waits for the holder with wait: true', async () => {
    const key = unique('wait');
    const lock = new RedisLock(redis, key, 10_000, false);
    const first = (await acquire(lock, scope))!;
    setTimeout(() => void first.release(), 500);
    const second = await acquire(lock, scope, { wait: true, pollMs: 100 });
    assert.ok(second);
    await second.release();
  });

  it('publishes plain and JSON messages, in order, and counts the ones nobody heard', async () => {
    const channel = unique('chan');
    const got: string[] = [];
    const { subscribe } = await import('../../src/api/redis/redis.js');
    const sub = subscribe(redisUrl(), {
      redactedUrl: redisUrl(),
      mode: 'daemon',
      channel,
      onMessage: (m) => got.push(m.toString('utf8')),
    });
    await sub.ready;
    const keys = Array.from({ length: 1200 }, (_, i) => `p/${i} \u{1F600}`);
    const r = await publish(keys, { redisUrl: redisUrl(), channel });
    assert.deepEqual(r, { published: 1200, unheard: 0, invalid: 0 });
    const p = new Publisher({ redisUrl: redisUrl(), channel, format: 'json' });
    await p.publish(['j/1']);
    await assert.rejects(p.publish(['ok', '']), InvalidKeyError);
    await p.close();
    await waitFor('every message', () => got.length >= 1202, 10_000);
    assert.deepEqual(got.slice(0, 1200), keys);
    assert.equal(got[1200], '{"key":"j/1","op":"put"}');
    assert.equal(got[1201], '{"key":"ok","op":"put"}');
    await sub.close();
    await sub.close();
    const nobody = await publish('k', { redisUrl: redisUrl(), channel });
    assert.equal(nobody.unheard, 1);
  });

  it('fails fast with a RedisError naming the redacted URL when Redis is unreachable', async () => {
    const port = await closedPort();
    const url = `redis://:hunter2@127.0.0.1:${port}/0`;
    await assert.rejects(publish('k', { redisUrl: url }), (err: unknown) => {
      assert.ok(err instanceof RedisError, String(err));
      assert.doesNotMatch(err.message, /hunter2/);
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      return true;
    });
  });
});
