/**
 * What a key costs in requests on each path of the worker, counted at the store's one
 * request function (the telemetry the /metrics histogram reads), against Ceph and Swift:
 * - a put announced with its size (an event, an enqueued sweep decision), small: one GET of
 *   the source and one PUT per destination, no HEAD;
 * - a put announced without a size (a publish): one HEAD per destination (a 404 confirmed by
 *   a HeadBucket at most every 30 s), then the GET and the PUTs (the source HEAD is skipped
 *   when no destination has the key);
 * - the same key announced again, unchanged, without a size: the HEADs only, nothing sent;
 * - a large object announced with its size still HEADs first, so it is never re-sent for
 *   nothing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ListenClient } from '../../src/api/listen/listen-client.js';
import { SyncQueue } from '../../src/api/queue/queue.js';
import { telemetry, type RequestSample } from '../../src/api/telemetry.js';
import { BLIND_MAX_BYTES } from '../../src/api/worker/worker.js';
import type { SettledEvent } from '../../src/api/worker/settle.js';
import { redisUrl, testServers } from '../helpers/servers.js';
import { everywhere, setup, waitFor } from '../helpers/listen.js';

const servers = testServers();

// Source and destination on different servers: a server-side copy (same endpoint and
// credentials) has a path of its own.
for (const server of servers) {
  const other = servers.find((s) => s !== server);
  if (!other) throw new Error('this test needs two test servers (S3S3TEST_SERVERS)');
  describe(`requests per key on the worker's paths: source on ${server.name}, destination on ${other.name}`, () => {
    it('a small put announced with its size: GET + PUT, no HEAD; without a size: HEADs first; unchanged: HEADs only', async () => {
      const s = await setup({ source: server, dests: [other], redisUrl: redisUrl(), label: `cost-${server.name}`, pubsub: { marker: false } });
      const settled: SettledEvent[] = [];
      const client = new ListenClient(s.config, { role: 'all', concurrency: 2, onSettled: (e) => settled.push(e) });
      const queue = new SyncQueue(s.config, { name: 'test-cost' });
      const samples: RequestSample[] = [];
      const stop = telemetry.subscribe({ request: (r) => samples.push(r) });
      const count = () => {
        const c: Record<string, number> = {};
        for (const r of samples) c[`${r.section} ${r.operation}`] = (c[`${r.section} ${r.operation}`] ?? 0) + 1;
        samples.length = 0;
        return c;
      };
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

        assert.deepEqual(await run('cost/announced \u0001', { size: body.length }), { 'source GetObject': 1, 'dest1 PutObject': 1 });
        assert.ok(await everywhere(s.dests, 'cost/announced \u0001', body));
        assert.deepEqual(await run('cost/published'), { 'dest1 HeadObject': 1, 'dest1 HeadBucket': 1, 'source GetObject': 1, 'dest1 PutObject': 1 });
        assert.ok(await everywhere(s.dests, 'cost/published', body));
        // Announced again, unchanged: the HEADs prove it, nothing is sent.
        assert.deepEqual(await run('cost/published'), { 'source HeadObject': 1, 'dest1 HeadObject': 1 });
        assert.equal(settled.at(-1)?.outcome, 'copied');
        assert.deepEqual(settled.at(-1)?.result?.results.map((r) => r.outcome), ['skipped']);
        // Over the limit, a size hint does not skip the HEADs: an unchanged large object is never re-sent.
        const hinted = await run('cost/published', { size: BLIND_MAX_BYTES + 1 });
        assert.equal(hinted['dest1 PutObject'], undefined, JSON.stringify(hinted));
        assert.equal(hinted['dest1 HeadObject'], 1, JSON.stringify(hinted));
      } finally {
        stop();
        await client.stop();
        await queue.close();
        await s.cleanup();
      }
    });
  });
}
