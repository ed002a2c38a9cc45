/**
 * The worker's GET-first path (a publish: no size told) under faults, through a real queue
 * (Redis, BullMQ) and a fault proxy in front of the source: 0 bytes, exactly 16 MiB and
 * 16 MiB + 1; a first GET answered 503 or reset; a key deleted between its publish and its
 * copy, with and without deletes on the destination; a key overwritten while its first GET is
 * stalled. Every destination ends equal to the source; nothing is dropped.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ListenClient } from '../../src/api/listen/listen-client.js';
import { SyncQueue } from '../../src/api/queue/queue.js';
import { BLIND_MAX_BYTES } from '../../src/api/worker/worker.js';
import type { SettledEvent } from '../../src/api/worker/settle.js';
import { FaultProxy, isOp } from '../helpers/fault-proxy.js';
import { redisUrl, testServers } from '../helpers/servers.js';
import { everywhere, readBody, setup, waitFor } from '../helpers/listen.js';

const servers = testServers();
const server = servers[0]!;
const other = servers[1] ?? servers[0]!;

for (const deletes of [false, true]) {
  describe(
    `GET-first worker path under faults (source ${server.name} behind a proxy; ` +
      `destinations ${server.name} and ${other.name}; deletes ${deletes ? 'on' : 'off'})`,
    () => {
      it('every publish ends with every destination equal to the source', { timeout: 240_000 }, async () => {
        const proxy = new FaultProxy(server.endpoint);
        const proxyUrl = await proxy.start();
        const s = await setup({
          source: { ...server, endpoint: proxyUrl },
          dests: [server, other],
          redisUrl: redisUrl(),
          label: `gf-${deletes ? 'del' : 'keep'}`,
          pubsub: { marker: false },
          endpointExtra: { read_timeout: 3, max_retries: 3 },
          ...(deletes ? { destExtra: { delete: true } } : {}),
        });
        const settled: SettledEvent[] = [];
        const client = new ListenClient(s.config, { role: 'all', concurrency: 3, onSettled: (e) => settled.push(e) });
        const queue = new SyncQueue(s.config, { name: 'test-gf' });
        const bucket = s.config.source.bucket;
        try {
          await client.start();
          const bodies = new Map<string, Buffer>([
            ['gf/zero', Buffer.alloc(0)],
            ['gf/16MiB \u0001', randomBytes(BLIND_MAX_BYTES)],
            ['gf/16MiB+1 \u{1F600}', randomBytes(BLIND_MAX_BYTES + 1)],
            ['gf/503', randomBytes(1000)],
            ['gf/reset', randomBytes(70_000)],
            ['gf/cut', randomBytes(2_000_000)],
          ]);
          for (const [key, body] of bodies) await s.source.put(key, body, { contentLength: body.length });
          const faults = [
            proxy.inject(isOp('GetObject', bucket, 'gf/503'), { kind: 'status', status: 503, code: 'SlowDown' }, 1),
            proxy.inject(isOp('GetObject', bucket, 'gf/reset'), { kind: 'drop' }, 1),
            proxy.inject(isOp('GetObject', bucket, 'gf/cut'), { kind: 'cut-response' }, 1),
            proxy.inject(isOp('GetObject', bucket, 'gf/16MiB \u0001'), { kind: 'cut-response', after: 10_000_000 }, 1),
            proxy.inject(isOp('GetObject', bucket, 'gf/16MiB+1 \u{1F600}'), { kind: 'drop' }, 1),
          ];
          for (const key of bodies.keys()) await queue.add(key);
          await s.drained();
          assert.deepEqual(
            faults.map((f) => f.hits),
            [1, 1, 1, 1, 1],
            'every first GET met its fault',
          );
          for (const [key, body] of bodies)
            assert.ok(
              await everywhere(s.dests, key, body),
              `${JSON.stringify(key)} is in every destination, byte for byte`,
            );

          // Deleted between publish and copy: the destinations had it (an older copy).
          const gone = 'gf/deleted';
          const old = randomBytes(500);
          for (const d of s.dests) await d.put(gone, old, { contentLength: old.length });
          await queue.add(gone);
          await s.drained();
          for (const d of s.dests) {
            const got = await readBody(d, gone);
            if (deletes) assert.equal(got, null, 'deletes on: the key gone from the source is deleted');
            else assert.deepEqual(got, old, 'deletes off: the destination keeps its copy');
          }

          // Overwritten while its first GET is stalled mid-body: the later version wins everywhere.
          const key = 'gf/overwritten';
          const v1 = randomBytes(3_000_000);
          const v2 = randomBytes(2_500_000);
          await s.source.put(key, v1, { contentLength: v1.length });
          const stall = proxy.inject(isOp('GetObject', bucket, key), { kind: 'stall-response', after: 1_000_000 }, 1);
          const n = proxy.requests.length;
          await queue.add(key);
          await waitFor('the first GET to be stalled', () =>
            proxy.requests.slice(n).some(isOp('GetObject', bucket, key)),
          );
          await s.source.put(key, v2, { contentLength: v2.length });
          await queue.add(key);
          await s.drained();
          assert.equal(stall.hits, 1);
          assert.ok(await everywhere(s.dests, key, v2), 'the overwritten key holds the new version everywhere');
          assert.ok(
            settled.every((e) => e.result?.results.every((r) => r.outcome !== 'failed') ?? true),
            'no copy reported failed',
          );
        } finally {
          await client.stop();
          await queue.close();
          await s.cleanup();
          await proxy.stop();
        }
      });
    },
  );
}
