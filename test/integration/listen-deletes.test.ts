/**
 * The listener reconciles each announced key from the source's state: a key deleted at the
 * source is deleted at the destinations that delete (with `op: delete` or a plain put hint),
 * its marker goes too, repeated and out-of-order hints converge, and prefix moves hold.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ListenClient } from '../../src/api/listen/listen-client.js';
import type { SettledEvent } from '../../src/api/worker/settle.js';
import { publish } from '../../src/api/listen/publish.js';
import { markerKey } from '../../src/api/worker/settle.js';
import { redisUrl, testServers } from '../helpers/servers.js';
import { readBody, setup, waitFor } from '../helpers/listen.js';

const servers = testServers();

for (const [i, a] of servers.entries()) {
  const b = servers[(i + 1) % servers.length]!;
  describe(`s3s3listen deletes: source on ${a.name}, destination on ${b.name}`, () => {
    it(
      'deletes a key gone from the source (op delete, and a put hint), drops its marker; ' +
        'a destination without delete keeps it',
      async () => {
        const s = await setup({ source: a, dests: [b, b], redisUrl: redisUrl(), label: 'ldel' });
        // dest1 deletes, dest2 (no delete key) keeps what the source lost.
        const { loadConfig } = await import('../../src/api/config.js');
        const { readFileSync, writeFileSync } = await import('node:fs');
        writeFileSync(
          s.file,
          readFileSync(s.file, 'utf8')
            .replace('[dest2]', '[dest2]\ndelete = false')
            .replace('[dest1]', '[dest1]\ndelete = true'),
        );
        const config = loadConfig({ file: s.file, env: {} });
        const settled: SettledEvent[] = [];
        const client = new ListenClient(config, { concurrency: 4, onSettled: (e) => settled.push(e) });
        try {
          await client.start();
          const keys = ['d/one', 'd/two \u0001', 'd/three'];
          for (const k of keys) await s.source.put(k, Buffer.from(k), { contentLength: Buffer.byteLength(k) });
          await publish(keys, { config });
          await waitFor('copied', () => settled.length === 3);
          for (const k of keys) assert.equal(await s.redis.call('GET', markerKey(k)), 'True');
          await s.source.delete('d/one');
          await s.source.delete('d/two \u0001');
          await publish(['d/one'], { config, op: 'delete' });
          await publish(['d/two \u0001'], { config });
          // A delete hint for a key the source still has changes nothing.
          await publish(['d/three'], { config, op: 'delete' });
          await waitFor('settled', () => settled.length === 6);
          await client.idle();
          assert.equal(await readBody(s.dests[0]!, 'd/one'), null, 'deleted at dest1');
          assert.equal(await readBody(s.dests[0]!, 'd/two \u0001'), null);
          assert.deepEqual(
            await readBody(s.dests[0]!, 'd/three'),
            Buffer.from('d/three'),
            'a delete hint never deletes what the source has',
          );
          assert.deepEqual(await readBody(s.dests[1]!, 'd/one'), Buffer.from('d/one'), 'dest2 says delete = false');
          assert.equal(await s.redis.call('EXISTS', markerKey('d/one')), 0, 'the marker goes with the key');
          assert.equal(client.stats.deleted, 2);
        } finally {
          await client.stop();
          await s.cleanup();
        }
      },
    );

    it(
      'out-of-order and repeated hints converge on the source: ' + 'deleted, re-created, announced in any order',
      async () => {
        const s = await setup({
          source: a,
          dests: [b],
          redisUrl: redisUrl(),
          label: 'lrace',
          destExtra: { delete: true },
        });
        const client = new ListenClient(s.config, { concurrency: 4 });
        try {
          await client.start();
          await s.source.put('r/k', Buffer.from('v1'), { contentLength: 2 });
          await s.source.delete('r/k');
          await s.source.put('r/k', Buffer.from('v2!'), { contentLength: 3 });
          // The delete hint arrives after the re-creation: the source has the key, so it is copied.
          await publish(['r/k'], { config: s.config });
          await publish(['r/k'], { config: s.config, op: 'delete' });
          await publish(['r/k'], { config: s.config });
          await waitFor('v2 in place', async () => (await readBody(s.dests[0]!, 'r/k'))?.toString() === 'v2!');
          await client.idle();
          assert.equal((await readBody(s.dests[0]!, 'r/k'))?.toString(), 'v2!');
          await s.source.delete('r/k');
          await publish(['r/k'], { config: s.config, op: 'delete' });
          await publish(['r/k'], { config: s.config, op: 'delete' });
          await waitFor('deleted', async () => (await readBody(s.dests[0]!, 'r/k')) === null);
          await client.idle();
        } finally {
          await client.stop();
          await s.cleanup();
        }
      },
    );

    it(
      'moves a prefix: a source key under images/ lands under avatar/; ' + 'a key outside the prefix is skipped',
      async () => {
        const s = await setup({
          source: a,
          dests: [b],
          redisUrl: redisUrl(),
          label: 'lmove',
          sourceExtra: { prefix: 'images/' },
          destExtra: { prefix: 'avatar/' },
        });
        const settled: SettledEvent[] = [];
        const client = new ListenClient(s.config, { concurrency: 2, onSettled: (e) => settled.push(e) });
        try {
          await client.start();
          await s.source.put('images/2024/a.jpg', Buffer.from('A'), { contentLength: 1 });
          await s.source.put('other/x', Buffer.from('X'), { contentLength: 1 });
          await publish(['images/2024/a.jpg', 'other/x'], { config: s.config });
          await waitFor('both settled', () => settled.length === 2);
          await client.idle();
          assert.deepEqual(await readBody(s.dests[0]!, 'avatar/2024/a.jpg'), Buffer.from('A'));
          assert.equal(await readBody(s.dests[0]!, 'other/x'), null);
          assert.equal(await readBody(s.dests[0]!, 'avatar/x'), null);
        } finally {
          await client.stop();
          await s.cleanup();
        }
      },
    );
  });
}

describe('s3s3listen [pubsub] report', () => {
  const [a, b] = testServers();
  it(
    'writes one CSV row per settled key and destination, ' + 'and rotates at report_max_size keeping report_keep files',
    async () => {
      const { mkdtempSync, readFileSync, existsSync } = await import('node:fs');
      const { join } = await import('node:path');
      const { tmpdir } = await import('node:os');
      const dir = mkdtempSync(join(tmpdir(), 's3s3-lreport-'));
      const file = join(dir, 'listen.csv');
      const s = await setup({
        source: a!,
        dests: [b!],
        redisUrl: redisUrl(),
        label: 'lreport',
        pubsub: { report: file, report_max_size: 4096, report_keep: 2 },
      });
      const settled: SettledEvent[] = [];
      const client = new ListenClient(s.config, { concurrency: 4, onSettled: (e) => settled.push(e) });
      try {
        await client.start();
        const keys = Array.from({ length: 40 }, (_, i) => `rep/${i} "q",x\n${'y'.repeat(60)}`);
        for (const k of keys) await s.source.put(k, Buffer.from(k), { contentLength: Buffer.byteLength(k) });
        await publish(keys, { config: s.config, format: 'json' });
        await waitFor('all settled', () => settled.length === keys.length);
        await client.idle();
      } finally {
        await client.stop();
        await s.cleanup();
      }
      assert.ok(existsSync(`${file}.1`) && existsSync(`${file}.2`), 'rotated, two old files kept');
      assert.ok(!existsSync(`${file}.3`));
      const text = readFileSync(file, 'utf8');
      assert.ok(
        text.startsWith(
          'time,source_bucket,source_key,destination,destination_bucket,destination_key,' +
            'action,size,source_etag,md5,error\n',
        ),
        'each file starts with the header',
      );
      assert.match(text, /,dest1,[^,]+,"rep\/\d+ ""q"",x\ny+",copied,/);
    },
  );
});
