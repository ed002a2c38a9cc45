/**
 * Issue 19: s3s3listen through a Redis that fails over. A Ceph source and destination from the
 * shared test servers; Redis is a Sentinel layout (1 master, 2 replicas, 3 sentinels) or a
 * Cluster (3 masters, 1 replica each) of the test's own (test/helpers/redis-ha.ts). An intake
 * and a worker (two ListenClients, as two processes would run them) take a burst of keys
 * announced one by one; a master is SIGKILLed a third of the way; every key lands in the
 * destination, neither client stops, and they log at most two warning lines (printed; the goal is one).
 * Pub/sub drops what is published while the subscriber is away: as an application does with
 * `unheard` (s3s3publish reports it), the sender announces a key again until a subscriber heard
 * it. The sweep lock is taken, kept across a failover and released through Sentinel.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../src/api/config.js';
import { createLogger } from '../../src/api/log.js';
import { ListenClient } from '../../src/api/listen/listen-client.js';
import { Publisher } from '../../src/api/listen/publish.js';
import { SweepLock, sweepLockKey } from '../../src/api/lock/sweep-lock.js';
import { SyncQueue } from '../../src/api/queue/queue.js';
import { S3Store } from '../../src/api/store/s3-store.js';
import { RedisHa, addr, keySlot, type KilledNode } from '../helpers/redis-ha.js';
import { tempDir, waitFor } from '../helpers/listen.js';
import { endpointConfig, sectionIni, testServers, uniqueBucket, type TestServer } from '../helpers/servers.js';

const KEYS = 300;
const DATA_PW = `data-${randomBytes(4).toString('hex')}`;
const SENTINEL_PW = `sentinel-${randomBytes(4).toString('hex')}`;

function ceph(): TestServer {
  const all = testServers();
  return all.find((s) => /ceph/i.test(s.name)) ?? all[0]!;
}

/** Buckets on Ceph and a config whose `[pubsub]` reaches Redis through `redisKeys`. */
async function setupHa(
  label: string,
  redisKeys: Record<string, string | number>,
): Promise<{ config: Config; source: S3Store; dest: S3Store; cleanup: () => Promise<void> }> {
  const server = ceph();
  const src = uniqueBucket(`${label}-src`);
  const dst = uniqueBucket(`${label}-dst`);
  const made = [new S3Store(endpointConfig(server, src)), new S3Store(endpointConfig(server, dst))];
  for (const s of made) await s.createBucket();
  const id = randomBytes(4).toString('hex');
  const pubsub = {
    redis: 'true',
    channel: `t-${label}-${id}`,
    queue: `t-${label}-${id}`,
    lock_ttl: '10s',
    ...redisKeys,
  };
  const ini =
    sectionIni('source', server, src, { read_timeout: 20, connect_timeout: 2 }) +
    sectionIni('dest1', server, dst, { read_timeout: 20, connect_timeout: 2 }) +
    '[pubsub]\n' +
    Object.entries(pubsub)
      .map(([k, v]) => `${k} = ${v}`)
      .join('\n') +
    '\n';
  const file = join(tempDir(label), 's3s3.ini');
  writeFileSync(file, ini, { mode: 0o600 });
  const config = loadConfig({ file, env: {} });
  return {
    config,
    source: new S3Store(config.source),
    dest: new S3Store(config.destinations[0]!),
    async cleanup() {
      for (const s of made) {
        await s.destroyBucket().catch(() => undefined);
        s.close();
      }
    },
  };
}

async function listed(store: S3Store): Promise<Set<string>> {
  const keys = new Set<string>();
  for await (const o of store.list({ prefix: 'ha/' })) keys.add(o.key);
  return keys;
}

/**
 * Announce `key` until a subscriber heard it (Sentinel: every client is on the master, so the
 * count is exact) or once (Cluster: PUBLISH counts the subscribers of the node it reached only).
 */
async function announce(p: Publisher, key: string, untilHeard: boolean): Promise<number> {
  let last = '';
  for (let tries = 1; ; tries++) {
    try {
      const r = await p.publish(key);
      if (r.unheard === 0 || !untilHeard) return tries;
      last = 'unheard';
    } catch (err) {
      // Redis is failing over: the publisher's commands fail after a couple of reconnects
      last = String(err);
    }
    if (tries > 600) throw new Error(`${key}: never heard after ${tries} announcements (last: ${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface BurstResult {
  /** The warning and error lines. */
  readonly warnings: string[];
  /** Every line logged (S3S3TEST_HA_LOG=debug: the debug lines too). */
  readonly lines: string[];
  readonly resent: number;
  readonly settleMs: number;
}

/**
 * The burst: KEYS objects on the source, an intake and a worker running, each key announced in
 * turn, `kill()` called after a third of them. Returns the warnings the clients logged.
 */
async function burst(
  s: { config: Config; source: S3Store; dest: S3Store },
  kill: () => Promise<KilledNode>,
  waitForMaster: (k: KilledNode) => Promise<unknown>,
  untilHeard: boolean,
): Promise<BurstResult> {
  const keys = Array.from({ length: KEYS }, (_, i) => `ha/${String(i).padStart(4, '0')} ${i % 7 === 0 ? 'é' : 'k'}`);
  for (let i = 0; i < keys.length; i += 20)
    await Promise.all(
      keys.slice(i, i + 20).map((k) => s.source.put(k, Buffer.from(k), { contentLength: Buffer.byteLength(k) })),
    );
  const warnings: string[] = [];
  const logger = (who: string) =>
    createLogger({
      level: process.env.S3S3TEST_HA_LOG === 'debug' ? 'debug' : 'warn',
      format: 'text',
      write: (line) => warnings.push(`${who}: ${line}`),
    });
  const intake = new ListenClient(s.config, { role: 'intake', logger: logger('intake') });
  const worker = new ListenClient(s.config, { role: 'worker', logger: logger('worker'), concurrency: 8 });
  const publisher = new Publisher({ config: s.config });
  let resent = 0;
  try {
    await intake.start();
    await worker.start();
    // The promotion is watched from the kill on, so a failure can say how far the failover got.
    let failover: Promise<unknown> | undefined;
    let failoverState = 'not started';
    for (const [i, key] of keys.entries()) {
      if (i === Math.floor(KEYS / 3)) {
        const killed = await kill();
        failoverState = 'pending';
        failover = waitForMaster(killed).then(
          () => (failoverState = `done after ${Date.now() - killed.at} ms`),
          (err: unknown) => {
            failoverState = `failed: ${String(err)}`;
            throw err;
          },
        );
        failover.catch(() => undefined);
      }
      resent +=
        (await announce(publisher, key, untilHeard).catch((err: unknown) => {
          throw new Error(`${String(err)}; the failover: ${failoverState}\n${warnings.join('\n')}`);
        })) - 1;
      await new Promise((r) => setTimeout(r, 5));
    }
    await failover;
    const start = Date.now();
    let have = new Set<string>();
    await waitFor(
      'every key in the destination',
      async () => {
        have = await listed(s.dest);
        return keys.every((k) => have.has(k));
      },
      120_000,
      500,
    ).catch((err: unknown) => {
      const missing = keys.filter((k) => !have.has(k));
      throw new Error(
        `${String(err)}: ${missing.length} missing, e.g. ${JSON.stringify(missing.slice(0, 5))}\n` +
          warnings.join('\n'),
      );
    });
    const settleMs = Date.now() - start;
    assert.equal(intake.stats.received >= KEYS, true, `the intake received ${intake.stats.received}`);
    const q = new SyncQueue(s.config, { name: 'test-counts' });
    try {
      await waitFor('the queue drained', async () => {
        const c = await q.counts();
        return c.waiting + c.active + c.delayed === 0 && c.failed === 0;
      });
    } finally {
      await q.close();
    }
    return { warnings: warnings.filter((l) => / (warn|error): /.test(l)), lines: warnings, resent, settleMs };
  } finally {
    await publisher.close();
    const [a, b] = await Promise.all([intake.stop(), worker.stop()]);
    assert.deepEqual(a.unqueued, [], 'the intake queued every key it received');
    assert.deepEqual(b.unqueued, []);
  }
}

describe('s3s3listen over Redis Sentinel', () => {
  let ha: RedisHa;
  before(async () => {
    ha = await RedisHa.start('sentinel', { password: DATA_PW, sentinelPassword: SENTINEL_PW });
  });
  after(async () => ha?.stop());

  function sentinelKeys(): Record<string, string> {
    return {
      redis_sentinels: ha.sentinels.map(addr).join(', '),
      redis_sentinel_name: ha.sentinelName,
      password: DATA_PW,
      redis_sentinel_password: SENTINEL_PW,
    };
  }

  it('intake + worker: the master SIGKILLed mid-burst, every key lands', { timeout: 240_000 }, async () => {
    const s = await setupHa('ha-sentinel', sentinelKeys());
    try {
      assert.match(s.config.pubsub.redisUrlRedacted, /^redis\+sentinel:\/\/127\.0\.0\.1:\d+,/);
      let failoverMs = 0;
      const r = await burst(
        s,
        () => ha.killMaster(),
        async (k) => (failoverMs = (await ha.waitForNewMaster(k)).ms),
        true,
      );
      console.log(
        `sentinel: failover ${failoverMs} ms; ${KEYS} keys landed ${r.settleMs} ms after it; ` +
          `${r.resent} announcements repeated (unheard during the failover); ` +
          `${r.warnings.length} warning lines:\n  ${r.warnings.join('\n  ')}`,
      );
      const text = r.lines.join('\n');
      assert.ok(!text.includes(DATA_PW) && !text.includes(SENTINEL_PW), 'no password in the log');
      assert.ok(r.warnings.length <= 2, `a failover is one warning line (two at most):\n${r.warnings.join('\n')}`);
    } finally {
      await s.cleanup();
    }
  });

  it(
    'the sweep lock: taken, refused to a second sweep, kept across a failover, released',
    { timeout: 120_000 },
    async () => {
      const s = await setupHa('ha-lock', sentinelKeys());
      const first = new SweepLock(s.config);
      const second = new SweepLock(s.config);
      try {
        const held = await first.acquire();
        assert.ok(held, 'the first sweep takes the lock');
        assert.equal(first.name, sweepLockKey(s.config));
        const master = await ha.master();
        const value = (await ha.cli(master, ['get', sweepLockKey(s.config)]))[0];
        assert.match(value ?? '', /"token"/, 'the lock is a key on the master');
        assert.equal(await second.acquire(), null, 'a second sweep is refused');
        const failover = await ha.failover();
        // Longer than lock_ttl (10 s) after the kill: renewals must have reached the new master.
        await new Promise((r) => setTimeout(r, Math.max(0, 12_000 - (Date.now() - failover.killed.at))));
        assert.equal(held.signal.aborted, false, 'the lock survived the failover');
        assert.equal(await second.acquire(), null, 'still refused after the failover');
        await held.release();
        const again = await second.acquire();
        assert.ok(again, 'taken once released');
        await again.release();
        console.log(`sentinel lock: kept across a failover of ${failover.ms} ms`);
      } finally {
        await first.close();
        await second.close();
        await s.cleanup();
      }
    },
  );
});

describe('s3s3listen over Redis Cluster', () => {
  let ha: RedisHa;
  before(async () => {
    ha = await RedisHa.start('cluster', { password: DATA_PW });
  });
  after(async () => ha?.stop());

  /** The node the intake's subscriber connection is on (CLIENT LIST names it s3s3listen-sub...). */
  async function subscriberNode(): Promise<string> {
    for (const n of ha.nodes) {
      const lines = await ha.cli(n, ['client', 'list']).catch(() => [] as string[]);
      if (lines.some((l) => /name=s3s3listen-sub/.test(l) && /sub=1/.test(l))) return addr(n);
    }
    return '';
  }

  it("intake + worker: the queue's master SIGKILLed mid-burst, every key lands", { timeout: 240_000 }, async () => {
    const s = await setupHa('ha-cluster', { redis_cluster: ha.nodes.map(addr).join(', '), password: DATA_PW });
    try {
      assert.match(s.config.pubsub.redisUrlRedacted, /^redis\+cluster:\/\//);
      let failoverMs = 0;
      let killed = '';
      const r = await burst(
        s,
        async () => {
          // The master holding the queue's keys ({s3s3} hashes them all to one slot), unless the
          // subscriber is on it: PUBLISH counts one node's subscribers on a Cluster, so this test
          // cannot tell an unheard key, and a key announced in that gap would be lost by pub/sub.
          const queueMaster = await ha.master(keySlot('{s3s3}'));
          const sub = await subscriberNode();
          const target =
            sub !== addr(queueMaster)
              ? queueMaster
              : (await ha.clusterMasters()).map((m) => m.address).find((m) => addr(m) !== sub)!;
          killed = `${addr(target)}${addr(target) === addr(queueMaster) ? " (the queue's master)" : ''}`;
          return ha.kill(target);
        },
        async (k) => (failoverMs = (await ha.waitForNewMaster(k)).ms),
        false,
      );
      // Every BullMQ key of the queue carries the {s3s3} tag: one slot, on the promoted master now.
      const master = await ha.master(keySlot('{s3s3}'));
      const bullKeys = await ha.cli(master, ['--scan', '--pattern', `{s3s3}:${s.config.pubsub.queue}:*`]);
      assert.ok(
        bullKeys.every((k) => k === '' || k.startsWith('{s3s3}:')),
        bullKeys.join('\n'),
      );
      console.log(
        `cluster: killed ${killed}; ` +
          `failover ${failoverMs} ms; ${KEYS} keys landed ${r.settleMs} ms after it; ` +
          `${r.warnings.length} warning lines:\n  ${r.warnings.join('\n  ')}`,
      );
      assert.ok(!r.lines.join('\n').includes(DATA_PW), 'no password in the log');
      assert.ok(r.warnings.length <= 2, `a failover is one warning line (two at most):\n${r.warnings.join('\n')}`);
    } finally {
      await s.cleanup();
    }
  });

  it('the sweep lock over Cluster', { timeout: 60_000 }, async () => {
    const s = await setupHa('ha-cluster-lock', { redis_cluster: ha.nodes.map(addr).join(', '), password: DATA_PW });
    const first = new SweepLock(s.config);
    const second = new SweepLock(s.config);
    try {
      const held = await first.acquire();
      assert.ok(held);
      assert.equal(await second.acquire(), null);
      await held.release();
      const again = await second.acquire();
      assert.ok(again);
      await again.release();
    } finally {
      await first.close();
      await second.close();
      await s.cleanup();
    }
  });
});
