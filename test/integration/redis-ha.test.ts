/**
 * The failover harness (test/servers/redis-ha.sh + test/helpers/redis-ha.ts) against ioredis:
 * a Sentinel layout and a Cluster layout each lose their master to SIGKILL, a replica is
 * promoted, and the same client object keeps writing without being rebuilt. Each test prints
 * how long the failover took. Needs only `redis-server` and `redis-cli` (no servers from run.sh).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, Redis } from 'ioredis';
import { RedisHa, addr, keySlot, type RedisAddress } from '../helpers/redis-ha.js';

/** Retries `fn` until it succeeds or `timeoutMs` passes; returns how many attempts failed, and the errors' messages. */
async function untilOk(
  what: string,
  fn: () => Promise<unknown>,
  timeoutMs: number,
  errors: Set<string>,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (let failed = 0; ; failed++) {
    try {
      await fn();
      return failed;
    } catch (err) {
      errors.add(err instanceof Error ? err.message : String(err));
      if (Date.now() > deadline) throw new Error(`${what} still failing after ${timeoutMs} ms: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function tcpPort(info: string): number {
  return Number(/^tcp_port:(\d+)/m.exec(info)?.[1]);
}

describe('Redis Sentinel: SIGKILL the master, ioredis follows the promoted replica', () => {
  let ha: RedisHa;
  let client: Redis;
  before(async () => {
    ha = await RedisHa.start('sentinel', { password: 'data-secret', sentinelPassword: 'sentinel-secret' });
  });
  after(async () => {
    client?.disconnect();
    await ha?.stop();
  });

  it(
    'writes, loses the master, reconnects by itself to the new master and writes again',
    { timeout: 60_000 },
    async () => {
      // maxRetriesPerRequest: null as BullMQ requires of its connections: a command waits through
      // the failover instead of failing after 20 reconnect attempts.
      client = new Redis({ ...ha.sentinelFacts(), maxRetriesPerRequest: null });
      let reconnects = 0;
      client.on('reconnecting', () => reconnects++);
      client.on('error', () => {}); // connection errors during the failover are expected

      const first = await ha.master();
      assert.equal(addr(first), addr(ha.nodes[0]!), 'the first node starts as master');
      await client.set('before', 'v1');
      assert.equal(tcpPort(await client.info('server')), first.port, 'connected to the master');
      // Replication is asynchronous: WAIT makes sure both replicas have the key before the kill.
      assert.equal(await client.wait(2, 2000), 2);

      const killed = await ha.killMaster();
      assert.equal(addr(killed.address), addr(first));
      // The write is issued at once and waits in ioredis' offline queue until it reaches a master.
      const write = client.set('after', 'v2').then(() => Date.now() - killed.at);
      const failover = await ha.waitForNewMaster(killed);
      const clientMs = await write;
      assert.notEqual(addr(failover.master), addr(first));
      assert.equal(tcpPort(await client.info('server')), failover.master.port, 'now on the promoted replica');
      assert.deepEqual(await client.mget('before', 'after'), ['v1', 'v2']);
      assert.ok(reconnects >= 1, 'ioredis reconnected');
      console.log(
        `sentinel failover: sentinels agreed on ${addr(failover.master)} ${failover.ms} ms after SIGKILL; ` +
          `the client's write completed after ${clientMs} ms (${reconnects} reconnects)`,
      );

      // The old master restarted comes back as a replica of the new one and gets the new write.
      await ha.restart(killed.address);
      const back = await ha.info(killed.address, 'replication');
      assert.equal(back.role, 'slave');
      assert.equal(Number(back.master_port), failover.master.port);
      assert.equal(await client.wait(2, 2000), 2, 'both replicas acknowledge again');
    },
  );
});

describe('Redis Cluster: SIGKILL a master, its replica takes its slots, ioredis writes again', () => {
  let ha: RedisHa;
  let cluster: Cluster;
  before(async () => {
    ha = await RedisHa.start('cluster', { password: 'cluster-secret' });
  });
  after(async () => {
    cluster?.disconnect();
    await ha?.stop();
  });

  it(
    'keys on all three masters survive a master being killed, and writes succeed again',
    { timeout: 60_000 },
    async () => {
      const masters = await ha.clusterMasters();
      assert.equal(masters.length, 3);
      const serving = (key: string): RedisAddress =>
        masters.find((m) => m.slots.some(([a, b]) => keySlot(key) >= a && keySlot(key) <= b))!.address;
      // Five keys per master, so every slot range is written.
      const keys: string[] = [];
      const perMaster = new Map<string, number>();
      for (let i = 0; keys.length < 15; i++) {
        const key = `ha:${i}`;
        const owner = addr(serving(key));
        if ((perMaster.get(owner) ?? 0) < 5) {
          keys.push(key);
          perMaster.set(owner, (perMaster.get(owner) ?? 0) + 1);
        }
      }

      const facts = ha.clusterFacts();
      cluster = new Cluster(facts.startupNodes, {
        redisOptions: { ...facts.redisOptions, maxRetriesPerRequest: null },
      });
      cluster.on('error', () => {});
      // WAIT counts the writes of its own connection: in a pipeline with the key's command it goes to
      // that key's master over the same connection (a bare cluster.wait() goes to a random master and
      // answers for nothing). So each key is on its replica before the kill.
      for (const key of keys) {
        const replies = await cluster.pipeline().set(key, 'v1').wait(1, 2000).exec();
        assert.deepEqual(replies, [
          [null, 'OK'],
          [null, 1],
        ]);
      }

      const victim = keys[0]!;
      const killed = await ha.killMaster(victim);
      assert.equal(addr(killed.address), addr(serving(victim)));
      // ioredis gives up on a slot after maxRedirections x retryDelayOnFailover (16 x 100 ms), less
      // than a failover takes: the application retries, as the daemons will have to.
      let failedWrites = 0;
      const errors = new Set<string>();
      const writes = Promise.all(
        keys.map(async (key) => {
          const failed = await untilOk(`SET ${key}`, () => cluster.set(key, 'v2'), 20_000, errors);
          failedWrites += failed; // after the await: `x += await y` would read x before waiting
        }),
      ).then(() => Date.now() - killed.at);
      const failover = await ha.waitForNewMaster(killed);
      const clientMs = await writes;
      assert.notEqual(addr(failover.master), addr(killed.address));
      assert.equal(addr(await ha.master(keySlot(victim))), addr(failover.master), 'the replica serves the slots');
      for (const key of keys) assert.equal(await cluster.get(key), 'v2', key);
      const why = errors.size ? `: ${[...errors].join(' | ')}` : '';
      console.log(
        `cluster failover: ${addr(failover.master)} took the slots of ${addr(killed.address)} ${failover.ms} ms ` +
          `after SIGKILL; all 15 writes done after ${clientMs} ms (failed attempts retried: ${failedWrites}${why})`,
      );

      // The killed master comes back as a replica of the node that took its slots.
      await ha.restart(killed.address);
      const back = await ha.info(killed.address, 'replication');
      assert.equal(back.role, 'slave');
      assert.equal(Number(back.master_port), failover.master.port);
    },
  );
});
