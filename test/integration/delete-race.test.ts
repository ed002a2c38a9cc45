/**
 * A delete decided from an earlier look at the source never undoes a worker's copy made
 * since. The window is hooked deterministically: the destination store used by the sweep
 * (a real store, its delete calls wrapped) runs "the writer and the worker" right before the
 * delete request goes out: the key is uploaded again at the source and copied to the
 * destination, as the daemon would; then the delete runs. What a user checks afterwards: the
 * key is in the destination with the source's bytes.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { S3Store } from '../../src/api/store/s3-store.js';
import { duplicateBucket } from '../../src/api/sweep/duplicate.js';
import { deleteKey, syncKey } from '../../src/api/sync/sync-key.js';
import { destConfig, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, listKeys, md5Hex, putAll, readAll } from '../helpers/seed.js';
import { hookBefore } from '../helpers/hooked-store.js';

const FAST = { attempts: 2, baseMs: 10, maxMs: 50 };

for (const server of testServers()) {
  describe(`a delete never undoes a newer copy, on ${server.name}`, () => {
    const stores: S3Store[] = [];
    after(async () => {
      for (const s of stores) await dropStore(s).catch(() => {});
    });
    const pair = async (label: string, destExtra: Record<string, string | number | boolean> = {}) => {
      const src = await freshStore(server, uniqueBucket(`${label}-src`));
      const dst = new S3Store(destConfig(server, uniqueBucket(`${label}-dst`), destExtra));
      await dst.createBucket();
      stores.push(src, dst);
      return { src, dst };
    };
    const reupload = (src: S3Store, dst: S3Store, key: string, bytes: Buffer) => async () => {
      // The writer uploads the key again; the worker, told of it, copies it to the destination.
      await src.put(key, bytes, { contentLength: bytes.length });
      const synced = await syncKey(src, [dst], key);
      assert.equal(synced.results[0]?.outcome, 'copied', 'the worker copied it');
    };
    const bytesAt = async (store: S3Store, key: string) => md5Hex(await readAll((await store.get(key)).body));

    it(
      'a --delete sweep over 1050 extras (two DeleteObjects batches): ' +
        'the key a worker copied back while the batch was on its way stays, with the source bytes',
      { timeout: 180_000 },
      async () => {
        const { src, dst } = await pair('drace');
        const keep = Array.from({ length: 10 }, (_, i) => `keep/${i}`);
        const extras = Array.from({ length: 1050 }, (_, i) => `x/${String(i).padStart(4, '0')}`);
        const raced = 'x/0600';
        await putAll(
          src,
          keep.map((key) => ({ key, body: Buffer.from(key) })),
        );
        await putAll(
          dst,
          [...keep, ...extras].map((key) => ({ key, body: Buffer.from(`old ${key}`) })),
          32,
        );
        const fresh = Buffer.from('written again at the source during the sweep');
        const hooked = hookBefore(dst, 'delete', raced, reupload(src, dst, raced, fresh)).store;
        const outcomes = new Map<string, string>();
        const report = await duplicateBucket(src, hooked, {
          delete: true,
          maxDelete: { percent: 100 },
          retry: FAST,
          onResult: (r) => outcomes.set(r.key, r.outcome),
        });
        assert.equal(report.failed, 0, JSON.stringify(report.failures));
        const left = (await listKeys(dst)).map((o) => o.key);
        assert.ok(left.includes(raced), 'the key copied back by the worker is still in the destination');
        assert.equal(await bytesAt(dst, raced), md5Hex(fresh), 'with the bytes the source has');
        assert.notEqual(outcomes.get(raced), 'deleted', 'not reported deleted');
        assert.deepEqual(
          left.filter((k) => k.startsWith('x/')),
          [raced],
          'every other extra key is deleted',
        );
        assert.equal(report.deleted, extras.length - 1);
      },
    );

    it(
      'delete_mode = trash: the key a worker copied back between the look and the move stays, with the source bytes',
      { timeout: 120_000 },
      async () => {
        const { src, dst } = await pair('drtrash', { delete_mode: 'trash' });
        await putAll(src, [{ key: 'a', body: Buffer.from('a') }]);
        await putAll(
          dst,
          ['a', 'gone/1', 'gone/2'].map((key) => ({ key, body: Buffer.from(`old ${key}`) })),
        );
        const fresh = Buffer.from('back again');
        const hooked = hookBefore(dst, 'delete', 'gone/1', reupload(src, dst, 'gone/1', fresh)).store;
        const report = await duplicateBucket(src, hooked, { delete: true, maxDelete: { percent: 100 }, retry: FAST });
        assert.equal(report.failed, 0, JSON.stringify(report.failures));
        const left = (await listKeys(dst)).map((o) => o.key);
        assert.ok(left.includes('gone/1'), JSON.stringify(left));
        assert.equal(await bytesAt(dst, 'gone/1'), md5Hex(fresh));
        assert.ok(!left.includes('gone/2'), 'the other extra key left');
      },
    );

    it(
      'a worker delete hint (deleteKey): a copy made between its look and its delete is put back',
      { timeout: 120_000 },
      async () => {
        const { src, dst } = await pair('drkey', { delete: true });
        await putAll(dst, [{ key: 'k \u00e9', body: Buffer.from('old') }]);
        const fresh = Buffer.from('recreated');
        const hooked = hookBefore(dst, 'delete', 'k \u00e9', reupload(src, dst, 'k \u00e9', fresh)).store;
        const result = await deleteKey(src, [hooked], 'k \u00e9');
        assert.ok(result.ok, JSON.stringify(result.results));
        assert.ok(['copied', 'kept'].includes(result.results[0]!.outcome), result.results[0]!.outcome);
        assert.equal(await bytesAt(dst, 'k \u00e9'), md5Hex(fresh), 'the destination has the source bytes');
      },
    );
  });
}
