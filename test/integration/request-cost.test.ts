/**
 * What a key costs in requests on each path of the worker, counted at the store's one
 * request function (the telemetry the /metrics histogram reads), against Ceph and Swift:
 * - a put announced with its size (an event, an enqueued sweep decision), small: one GET of
 *   the source and one PUT per destination, no HEAD;
 * - a put announced without a size (a publish), small: the GET's Content-Length tells, so the
 *   same GET + PUT, no HEAD (an unchanged small object is sent again: cheaper than HEADs);
 * - a large object, announced with its size or not, HEADs first, so it is never re-sent for
 *   nothing (a publish pays one GET that is dropped after its headers);
 * - a retry HEADs first;
 * - every copy written is settled by one HEAD of the source afterwards (the last write
 *   re-checks: a slower write of an older version is copied again), whatever the path.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ListenClient } from '../../src/api/listen/listen-client.js';
import { duplicateBucket } from '../../src/api/sweep/duplicate.js';
import { SyncQueue } from '../../src/api/queue/queue.js';
import { telemetry, type RequestSample } from '../../src/api/telemetry.js';
import { BLIND_MAX_BYTES } from '../../src/api/worker/worker.js';
import type { SettledEvent } from '../../src/api/worker/settle.js';
import { redisUrl, testServers } from '../helpers/servers.js';
import { everywhere, setup, waitFor } from '../helpers/listen.js';

const servers = testServers();

/** Every store request from now on, counted by `section operation` (count() starts over). */
function countRequests() {
  const samples: RequestSample[] = [];
  const stop = telemetry.subscribe({ request: (r) => samples.push(r) });
  const count = () => {
    const c: Record<string, number> = {};
    for (const r of samples) c[`${r.section} ${r.operation}`] = (c[`${r.section} ${r.operation}`] ?? 0) + 1;
    samples.length = 0;
    return c;
  };
  return { samples, stop, count };
}

// Source and destination on different servers: a server-side copy (same endpoint and
// credentials) has a path of its own.
for (const server of servers) {
  const other = servers.find((s) => s !== server);
  if (!other) throw new Error('this test needs two test servers (S3S3TEST_SERVERS)');
  describe(`requests per key on the worker's paths: source on ${server.name}, destination on ${other.name}`, () => {
    it(
      'a small put, announced with its size or not: GET + PUT + one HEAD of the source after; ' +
        'a large one HEADs first and is not re-sent',
      async () => {
        const s = await setup({
          source: server,
          dests: [other],
          redisUrl: redisUrl(),
          label: `cost-${server.name}`,
          pubsub: { marker: false },
        });
        const settled: SettledEvent[] = [];
        const client = new ListenClient(s.config, { role: 'all', concurrency: 2, onSettled: (e) => settled.push(e) });
        const queue = new SyncQueue(s.config, { name: 'test-cost' });
        const { samples, stop, count } = countRequests();
        const run = async (key: string, hints?: { size: number }) => {
          const n = settled.length;
          samples.length = 0;
          await queue.add(key, 'put', hints);
          await waitFor(`${key} settled`, () => settled.length > n);
          return count();
        };
        try {
          await client.start();
          const body = Buffer.from('small body \u00e9 '.repeat(50));
          await s.source.put('cost/announced \u0001', body, { contentLength: body.length });
          await s.source.put('cost/published', body, { contentLength: body.length });
          const large = Buffer.alloc(BLIND_MAX_BYTES + 1, 7);
          await s.source.put('cost/large', large, { contentLength: large.length });

          assert.deepEqual(await run('cost/announced \u0001', { size: body.length }), {
            'source GetObject': 1,
            'dest1 PutObject': 1,
            'source HeadObject': 1,
          });
          assert.ok(await everywhere(s.dests, 'cost/announced \u0001', body));
          assert.deepEqual(await run('cost/published'), {
            'source GetObject': 1,
            'dest1 PutObject': 1,
            'source HeadObject': 1,
          });
          assert.ok(await everywhere(s.dests, 'cost/published', body));
          assert.deepEqual(
            settled.at(-1)?.result?.results.map((r) => r.outcome),
            ['copied'],
          );

          // Large, published without a size: the GET is dropped after its headers, the HEADs decide.
          const first = await run('cost/large');
          // The destination's 404 is "not found" only once its bucket is seen (HeadBucket).
          assert.deepEqual(first, {
            'source GetObject': 2,
            'dest1 HeadObject': 1,
            'dest1 HeadBucket': 1,
            'dest1 PutObject': 1,
            'source HeadObject': 1,
          });
          assert.ok(await everywhere(s.dests, 'cost/large', large));
          // Announced again, unchanged, with or without its size: HEADs prove it, nothing is sent.
          for (const hints of [undefined, { size: large.length }]) {
            const again = await run('cost/large', hints);
            assert.deepEqual(again, {
              ...(hints ? {} : { 'source GetObject': 1 }),
              'dest1 HeadObject': 1,
              'source HeadObject': 1,
            });
            assert.deepEqual(
              settled.at(-1)?.result?.results.map((r) => r.outcome),
              ['skipped'],
            );
          }
        } finally {
          stop();
          await client.stop();
          await queue.close();
          await s.cleanup();
        }
      },
    );

    it(
      'a sweep: one listing page each side, then per new object GET + PUT + one HEAD of the source; ' +
        'an unchanged one costs nothing more',
      async () => {
        const s = await setup({
          source: server,
          dests: [other],
          redisUrl: redisUrl(),
          label: `cost-sweep-${server.name}`,
          pubsub: { marker: false },
        });
        const { samples, stop, count } = countRequests();
        try {
          const body = Buffer.from('sweep body');
          for (const key of ['sweep/a', 'sweep/b \u00e9'])
            await s.source.put(key, body, { contentLength: body.length });
          samples.length = 0;
          const first = await duplicateBucket(s.source, s.dests, { concurrency: 1 });
          assert.equal(first.copied, 2);
          const c = count();
          const lists = Object.entries(c).filter(([k]) => /ListObjects/.test(k));
          assert.ok(lists.length > 0, JSON.stringify(c));
          for (const [k] of lists) delete c[k];
          assert.deepEqual(c, { 'source GetObject': 2, 'dest1 PutObject': 2, 'source HeadObject': 2 });
          await duplicateBucket(s.source, s.dests, { concurrency: 1 });
          assert.ok(Object.keys(count()).every((k) => /ListObjects/.test(k)));
        } finally {
          stop();
          await s.cleanup();
        }
      },
    );
  });
}
