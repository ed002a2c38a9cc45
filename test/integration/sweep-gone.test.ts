/**
 * A sweep that copies a key the source loses meanwhile leaves no copy behind where deletes
 * are on. The window is hooked deterministically: the sweep's destination store (real, its
 * put wrapped) lets "the writer and the worker" run right before the sweep's upload goes out:
 * the key is deleted at the source and the worker handles the delete event (nothing to delete
 * yet, or the older copy); then the sweep's upload of the version it read lands. No event will
 * come after it: the sweep itself must find the source lacking the key and remove it.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { S3Store } from '../../src/api/store/s3-store.js';
import { duplicateBucket } from '../../src/api/sweep/duplicate.js';
import { syncKey } from '../../src/api/sync/sync-key.js';
import { destConfig, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, listKeys, putAll } from '../helpers/seed.js';
import { hookBefore } from '../helpers/hooked-store.js';

const FAST = { attempts: 2, baseMs: 10, maxMs: 50 };

// Source and destination on different servers: the bytes are streamed through the sweep.
const servers = testServers();
for (const server of servers) {
  const other = servers.find((s) => s !== server)!;
  describe(`a sweep's copy of a key deleted meanwhile does not stay, ${server.name} to ${other.name}`, () => {
    const stores: S3Store[] = [];
    after(async () => {
      for (const s of stores) await dropStore(s).catch(() => {});
    });

    for (const [label, destExtra, survives] of [
      ['delete = true', { delete: true }, false],
      ['no deletes', {}, true],
    ] as const) {
      it(
        `${label}: the source deletes the key while the sweep uploads it (the worker ran first) ` +
          `→ ${survives ? 'kept, as deletes are off' : 'removed by the sweep itself'}`,
        async () => {
          const src = await freshStore(server, uniqueBucket('sgone-src'));
          const dst = new S3Store(destConfig(other, uniqueBucket('sgone-dst'), destExtra));
          await dst.createBucket();
          stores.push(src, dst);
          const raced = 'raced \u00e9/+key';
          await putAll(
            src,
            ['a', raced, 'z'].map((key) => ({ key, body: Buffer.from(`v1 of ${key}`) })),
          );
          const { store: hooked, fired } = hookBefore(dst, 'upload', raced, async () => {
            await src.delete(raced);
            // The worker, told of the delete, finds the source lacking it: nothing there to delete yet.
            await syncKey(src, [dst], raced);
          });
          const report = await duplicateBucket(src, hooked, { retry: FAST });
          assert.ok(fired(), 'the sweep uploaded the raced key');
          assert.equal(report.failed, 0, JSON.stringify(report.failures));
          const keys = (await listKeys(dst)).map((o) => o.key).sort();
          assert.deepEqual(keys, survives ? ['a', raced, 'z'].sort() : ['a', 'z'], JSON.stringify(report.destinations));
        },
      );
    }
  });
}
