/**
 * Hostile review of what landed for issue 17 (deletes, trash, the intake's outage handling).
 * Each case attacks one promise the merged code makes:
 * - the intake never drops a pub/sub key silently: a key it refuses because too many writes
 *   already wait in memory (`maxPendingWrites`) is named at shutdown (`not queued: "KEY"`) and
 *   reported by `stop()`, like a key whose write was still pending. Before: refused keys were
 *   neither queued nor named, and the daemon exited 0.
 * - a sweep's delete that failed may have been applied all the same (the DeleteObjects answer
 *   lost after the server deleted: a reset): a worker's copy made between the sweep's look and
 *   that delete must be put back as after a delete that succeeded. Before: the batch was
 *   reported failed and never re-checked, so the key stayed deleted at the destination while
 *   the source had it, until some later sweep.
 * - a trash root an earlier config used (in the destination's registry) is never written into:
 *   a sweep skips a source key that would land there, but a worker (syncKey) only knows the
 *   current root until it has read the registry for a delete, and overwrites the trashed object.
 * - `s3s3 trash purge --older-than` never deletes a trashed object newer than that: with a
 *   `trash_prefix` (no date in the trash key) a key deleted again reuses its trash key, and an
 *   object listed old may have been trashed again by the time its batch is deleted. Before:
 *   deleted on the listing's word, the only copy of what had just been deleted.
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
import { S3Store } from '../../src/api/store/s3-store.js';
import type { ObjectStore } from '../../src/api/store/object-store.js';
import { duplicateBucket } from '../../src/api/sweep/duplicate.js';
import { purgeTrash } from '../../src/api/sweep/trash.js';
import { removeFromDestination, syncKey } from '../../src/api/sync/sync-key.js';
import { FaultProxy, isOp } from '../helpers/fault-proxy.js';
import { destConfig, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, listKeys, md5Hex, putAll, readAll } from '../helpers/seed.js';
import { hookBefore } from '../helpers/hooked-store.js';

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
    const logger: Logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: (msg) => void logged.push(msg),
    };
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
      await waitFor(
        'the waiting key queued once Redis answers',
        async () => (await queue.bullQueue.getWaiting(0, 100)).some((j) => j.data.key === 'cap/first'),
        30_000,
      );
      await waitFor('the writer to drain', () => !listener.redisDegraded);
      const waiting = (await queue.bullQueue.getWaiting(0, 100)).map((j) => j.data.key);
      const report = await listener.stop();
      stopped = true;
      // Whatever the intake did with them, a refused key is either on the queue or named.
      for (const k of ['cap/second', 'cap/third']) {
        assert.ok(
          waiting.includes(k) || report.unqueued.includes(k),
          `${k} neither queued nor reported (queued: ${JSON.stringify(waiting)}, unqueued: ` +
            `${JSON.stringify(report.unqueued)})`,
        );
        if (!waiting.includes(k))
          assert.ok(
            logged.includes(`not queued: ${JSON.stringify(k)}`),
            `no "not queued" line for ${k}: ${JSON.stringify(logged)}`,
          );
      }
      assert.deepEqual(report.unqueued, ['cap/second', 'cap/third']);
    } finally {
      proxy.pass();
      if (!stopped) await listener.stop();
    }
  });
});

describe(`a sweep delete that fails after the server applied it (${ceph.name}, the answer cut by a proxy)`, () => {
  const stores: S3Store[] = [];
  const proxy = new FaultProxy(ceph.endpoint);
  let proxyUrl: string;
  before(async () => {
    proxyUrl = await proxy.start();
  });
  after(async () => {
    for (const st of stores) await dropStore(st).catch(() => {});
    await proxy.stop();
  });

  // A DeleteObjects answer (XML) can be cut after the server applied it; a single DELETE's 204
  // has no body to cut, so the trash move's delete (the same code path once it throws) is not attacked here.
  for (const mode of ['delete'] as const) {
    it(
      `delete_mode = ${mode}: a worker's copy made between the look and the delete is put back`,
      { timeout: 120_000 },
      async () => {
        const src = await freshStore(ceph, uniqueBucket(`hfd-${mode}-src`));
        const bucket = uniqueBucket(`hfd-${mode}-dst`);
        const extra = { delete_mode: mode, max_retries: 1 };
        const dst = new S3Store(destConfig(ceph, bucket, extra));
        await dst.createBucket();
        stores.push(src, dst);
        // The sweep's view of the destination: through the proxy, which cuts every answer to a delete.
        const viaProxy = new S3Store(destConfig({ ...ceph, endpoint: proxyUrl }, bucket, extra));
        await putAll(src, [{ key: 'a', body: Buffer.from('a') }]);
        await putAll(
          dst,
          ['a', 'gone/1', 'gone/2'].map((key) => ({ key, body: Buffer.from(`old ${key}`) })),
        );
        const fresh = Buffer.from('written again at the source while the sweep was deleting');
        const hooked = hookBefore(viaProxy, 'delete', 'gone/1', async () => {
          // The writer uploads it again; the worker copies it (straight to the destination).
          await src.put('gone/1', fresh, { contentLength: fresh.length });
          const synced = await syncKey(src, [dst], 'gone/1');
          assert.equal(synced.results[0]?.outcome, 'copied');
        }).store;
        const cut = proxy.inject(isOp('DeleteObjects', bucket), { kind: 'cut-response', after: 1 }, 100);
        const outcomes = new Map<string, string>();
        try {
          await duplicateBucket(src, hooked, {
            delete: true,
            maxDelete: { percent: 100 },
            retry: { attempts: 2, baseMs: 10, maxMs: 50 },
            onResult: (r) => outcomes.set(r.key, r.outcome),
          });
        } finally {
          cut.stop();
        }
        assert.ok(cut.hits > 0, 'the proxy cut a delete answer');
        const left = (await listKeys(dst)).map((o) => o.key);
        assert.ok(
          left.includes('gone/1'),
          `the key the worker copied is gone from the destination (outcome ${outcomes.get('gone/1')}): ` +
            `${JSON.stringify(left)}`,
        );
        assert.equal(
          md5Hex(await readAll((await dst.get('gone/1')).body)),
          md5Hex(fresh),
          'with the bytes the source has',
        );
        assert.ok(['copied', 'kept'].includes(outcomes.get('gone/1') ?? ''), `reported ${outcomes.get('gone/1')}`);
        assert.equal(
          outcomes.get('gone/2'),
          'failed',
          'the other key: its delete is reported failed (the answer was lost)',
        );
      },
    );
  }
});

describe(`a trash root an earlier config used is never written into (${ceph.name})`, () => {
  const stores: S3Store[] = [];
  after(async () => {
    for (const st of stores) await dropStore(st).catch(() => {});
  });

  // syncKey reads the registry before its first copy to a store (a worker: at its start), then
  // refreshes it in the background once a minute.
  it('a worker (syncKey) leaves the trashed object alone, as the sweep does', { timeout: 60_000 }, async () => {
    const src = await freshStore(ceph, uniqueBucket('hot-src'));
    const bucket = uniqueBucket('hot-dst');
    // The earlier config: trash mode under old-trash/ (registered when first used).
    const earlier = new S3Store(destConfig(ceph, bucket, { delete_mode: 'trash', trash_prefix: 'old-trash/' }));
    await earlier.createBucket();
    stores.push(src, earlier);
    const deleted = Buffer.from('the only copy of what was deleted then');
    await putAll(earlier, [{ key: 'x', body: deleted }]);
    assert.equal((await removeFromDestination(earlier, 'x', deleted.length)).outcome, 'trashed');
    // The source happens to hold a key of that name (another writer, a chain of replicas).
    const other = Buffer.from('a source key named like the trashed object');
    await src.put('old-trash/x', other, { contentLength: other.length });
    // Today's config: plain deletes, no trash_prefix; a worker's fresh store (nothing read yet).
    const today = new S3Store(destConfig(ceph, bucket, { delete: true }));
    const synced = await syncKey(src, [today], 'old-trash/x');
    assert.equal(
      md5Hex(await readAll((await earlier.get('old-trash/x')).body)),
      md5Hex(deleted),
      `the trashed object was overwritten (worker outcome ${synced.results[0]?.outcome})`,
    );
    assert.equal(synced.results[0]?.outcome, 'skipped');
    // The sweep agrees.
    const outcomes = new Map<string, string>();
    await duplicateBucket(src, new S3Store(destConfig(ceph, bucket, { delete: true })), {
      onResult: (r) => outcomes.set(r.key, r.outcome),
    });
    assert.equal(outcomes.get('old-trash/x'), 'skipped');
  });
});

/** The real store, with `hook` run once when a listing under `prefix` has yielded its last object. */
function afterListingOf(store: S3Store, prefix: string, hook: () => Promise<void>): ObjectStore {
  let fired = false;
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'list') {
        return async function* (options: Parameters<S3Store['list']>[0]) {
          yield* target.list(options);
          if (!fired && options?.prefix === prefix) {
            fired = true;
            await hook();
          }
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as unknown as ObjectStore;
}

describe(`trash purge never deletes what was trashed after --older-than (${ceph.name})`, () => {
  const stores: S3Store[] = [];
  after(async () => {
    for (const st of stores) await dropStore(st).catch(() => {});
  });

  it('a trash key written again between the listing and the delete is kept', { timeout: 60_000 }, async () => {
    const bucket = uniqueBucket('hpurge');
    const dst = new S3Store(destConfig(ceph, bucket, { delete_mode: 'trash', trash_prefix: 'bin/' }));
    await dst.createBucket();
    stores.push(dst);
    const v1 = Buffer.from('deleted long ago');
    await putAll(dst, [
      { key: 'k', body: v1 },
      { key: 'other', body: v1 },
    ]);
    assert.equal((await removeFromDestination(dst, 'k', v1.length)).outcome, 'trashed');
    assert.equal((await removeFromDestination(dst, 'other', v1.length)).outcome, 'trashed');
    const trashedAt = Date.now();
    await new Promise((r) => setTimeout(r, 3000));
    const v2 = Buffer.from('deleted just now: the only copy');
    const hooked = afterListingOf(dst, 'bin/', async () => {
      // The key came back and was deleted again (a sweep, a worker): its trash key is reused.
      await dst.put('k', v2, { contentLength: v2.length });
      assert.equal((await removeFromDestination(dst, 'k', v2.length)).outcome, 'trashed');
    });
    const actions = new Map<string, string>();
    const now = new Date();
    // The cutoff lies between the first trashing and the second.
    const report = await purgeTrash(hooked, {
      olderThanMs: now.getTime() - (trashedAt + 1500),
      now,
      onObject: (o, action) => actions.set(o.key, action),
    });
    const left = (await listKeys(dst)).map((o) => o.key);
    assert.ok(
      left.includes('bin/k'),
      `the object trashed just now was purged (${actions.get('bin/k')}): ${JSON.stringify(left)}`,
    );
    assert.equal(md5Hex(await readAll((await dst.get('bin/k')).body)), md5Hex(v2));
    assert.equal(actions.get('bin/k'), 'kept');
    assert.ok(!left.includes('bin/other'), 'the old one is purged');
    assert.equal(report.purged, 1);
  });
});
