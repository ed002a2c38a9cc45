/**
 * Hostile review of what landed for issue 17 (deletes, trash, the intake's outage handling).
 * Each case attacks one promise the merged code makes:
 * - the intake never drops a pub/sub key silently: a key it refuses because too many writes
 *   already wait in memory (`maxPendingWrites`) is named at shutdown (`not queued: "KEY"`) and
 *   reported by `stop()`, like a key whose write was still pending. Before: refused keys were
 *   neither queued nor named, and the daemon exited 0.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Config } from '../../src/api/config.js';
import type { Logger } from '../../src/api/log.js';
import { ListenClient } from '../../src/api/listen/listen-client.js';
import { publish } from '../../src/api/listen/publish.js';
import { SyncQueue } from '../../src/api/queue/queue.js';
import { redisUrl, testServers } from '../helpers/servers.js';
import { setup, waitFor, type Setup } from '../helpers/listen.js';
import { SwitchProxy } from '../helpers/switch-proxy.js';

const servers = testServers();
const ceph = servers.find((s) => s.name === 'ceph') ?? servers[0]!;
const swift = servers.find((s) => s.name === 'swift') ?? servers[servers.length - 1]!;
/** The daemon's subscriber names itself so: it keeps passing, so pub/sub keys still arrive. */
const SUBSCRIBER = /s3s3listen-sub/;

/** The same config, but straight to Redis (not through the proxy): what the test itself uses. */
function direct(config: Config): Config {
  const url = redisUrl();
  return { ...config, pubsub: { ...config.pubsub, redisUrl: url, redisUrlRedacted: url } } as Config;
}

describe('intake: a key refused past maxPendingWrites', () => {
  const proxy = new SwitchProxy(redisUrl());
  let s: Setup;
  let queue: SyncQueue;

  before(async () => {
    await proxy.start();
    s = await setup({ source: ceph, dests: [swift], redisUrl: proxy.url(), label: 'hostile-refused' });
    queue = new SyncQueue(direct(s.config), { name: 'test-hostile-refused' });
  });
  after(async () => {
    proxy.pass();
    await queue.close();
    await s.cleanup();
    await proxy.stop();
  });

  it('is named by stop() when it never reached the queue, even after Redis came back', async () => {
    const logged: string[] = [];
    const logger: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (msg) => void logged.push(msg) };
    const listener = new ListenClient(s.config, { role: 'intake', maxPendingWrites: 1, logger });
    await listener.start();
    let stopped = false;
    try {
      proxy.blackhole(SUBSCRIBER);
      await publish(['cap/first'], { redisUrl: redisUrl(), channel: s.channel });
      // Its add gets no answer (4 s), so it waits in memory: the writer is full (1).
      await waitFor('the first key to wait in memory', () => listener.redisDegraded, 20_000);
      await publish(['cap/second', 'cap/third'], { redisUrl: redisUrl(), channel: s.channel });
      await waitFor('the intake to receive all three', () => listener.stats.received === 3);
      proxy.pass();
      await waitFor('the waiting key queued once Redis answers', async () => (await queue.bullQueue.getWaiting(0, 100)).some((j) => j.data.key === 'cap/first'), 30_000);
      await waitFor('the writer to drain', () => !listener.redisDegraded);
      const waiting = (await queue.bullQueue.getWaiting(0, 100)).map((j) => j.data.key);
      const report = await listener.stop();
      stopped = true;
      // Whatever the intake did with them, a refused key is either on the queue or named.
      for (const k of ['cap/second', 'cap/third']) {
        assert.ok(waiting.includes(k) || report.unqueued.includes(k), `${k} neither queued nor reported (queued: ${JSON.stringify(waiting)}, unqueued: ${JSON.stringify(report.unqueued)})`);
        if (!waiting.includes(k)) assert.ok(logged.includes(`not queued: ${JSON.stringify(k)}`), `no "not queued" line for ${k}: ${JSON.stringify(logged)}`);
      }
      assert.deepEqual(report.unqueued, ['cap/second', 'cap/third']);
    } finally {
      proxy.pass();
      if (!stopped) await listener.stop();
    }
  });
});
