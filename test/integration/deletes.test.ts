/**
 * Deletes in the sweep (like `rclone sync`), their guards, the trash, and prefix moves,
 * against real Ceph RGW and Swift. What is asserted is what a user checks: which keys are
 * left in the destination.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { S3Store } from '../../src/api/store/s3-store.js';
import { duplicateBucket } from '../../src/api/sweep/duplicate.js';
import { destConfig, endpointConfig, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, listKeys, md5Hex, putAll, readAll } from '../helpers/seed.js';
import { CONTROL_KEYS } from '../helpers/keys.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

const FAST = { attempts: 2, baseMs: 10, maxMs: 50 };
const body = (k: string) => Buffer.from(`body of ${k}`);
const put = (store: S3Store, keys: readonly string[]) =>
  putAll(
    store,
    keys.map((key) => ({ key, body: body(key) })),
  );
// The trash registry's markers (one per trash root ever used) are s3s3's bookkeeping, not data.
const keysOf = async (store: S3Store) =>
  (await listKeys(store)).map((o) => o.key).filter((k) => !k.startsWith('.s3s3-trash/.roots/'));
const sorted = (keys: readonly string[]) => [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

for (const server of testServers()) {
  describe(`sweep deletes on ${server.name}`, () => {
    const stores: S3Store[] = [];
    const proxies: FaultProxy[] = [];
    after(async () => {
      for (const p of proxies) await p.stop();
      for (const s of stores) await dropStore(s).catch(() => {});
    });
    const pair = async (label: string, destExtra: Record<string, string | number | boolean> = {}) => {
      const src = await freshStore(server, uniqueBucket(`${label}-src`), { list_page_size: 7 });
      const dst = new S3Store(destConfig(server, uniqueBucket(`${label}-dst`), { list_page_size: 7, ...destExtra }));
      await dst.createBucket();
      stores.push(src, dst);
      return { src, dst };
    };

    it('deletes what the source lacks, control-character keys included, and keeps excluded keys', async () => {
      const { src, dst } = await pair('del');
      const kept = ['a', 'b/c', 'z'];
      const extra = ['b/old', 'y', ...CONTROL_KEYS.slice(0, 12)];
      await put(src, kept);
      await put(dst, [...kept, ...extra, 'logs/keep.txt']);
      const dry = await duplicateBucket(src, dst, {
        delete: true,
        maxDelete: { percent: 100 },
        dryRun: true,
        exclude: ['logs/**'],
        retry: FAST,
      });
      assert.equal(dry.wouldDelete, extra.length);
      assert.equal((await keysOf(dst)).length, kept.length + extra.length + 1, 'a dry run deletes nothing');
      const report = await duplicateBucket(src, dst, {
        delete: true,
        maxDelete: { percent: 100 },
        exclude: ['logs/**'],
        retry: FAST,
      });
      assert.equal(report.deleted, extra.length, JSON.stringify(report.failures));
      assert.deepEqual(await keysOf(dst), sorted([...kept, 'logs/keep.txt']), 'the excluded key is kept');
    });

    it('deletes nothing when a listing fails mid-sweep, and nothing past max_delete', async () => {
      const { src, dst } = await pair('guard');
      const proxy = new FaultProxy(server.endpoint);
      proxies.push(proxy);
      const url = await proxy.start();
      const keys = Array.from({ length: 30 }, (_, i) => `k${String(i).padStart(2, '0')}`);
      await put(src, keys.slice(0, 20));
      await put(dst, keys);
      const viaProxy = new S3Store(
        endpointConfig({ ...server, endpoint: url }, dst.bucket, { list_page_size: 7, max_retries: 1 }),
      );
      // Every listing page of the destination after the first fails for good.
      let pages = 0;
      proxy.inject(
        (r) =>
          r.method === 'GET' &&
          r.url.startsWith(`/${dst.bucket}`) &&
          !/\/[^?]+\?/.test(r.url.replace(`/${dst.bucket}`, '')) &&
          ++pages > 1,
        { kind: 'status', status: 500, code: 'InternalError' },
        1000,
      );
      const failedRun = await duplicateBucket(src, viaProxy, {
        delete: true,
        maxDelete: { percent: 100 },
        retry: FAST,
      });
      assert.ok(failedRun.aborted, 'the sweep stopped');
      assert.match(failedRun.deletesSkipped ?? '', /no delete in this run/);
      assert.equal((await keysOf(dst)).length, 30, 'nothing deleted');
      viaProxy.close();
      // 10 extra of 30 is over the default 10%: refused, nothing deleted.
      const capped = await duplicateBucket(src, dst, { delete: true, retry: FAST });
      assert.equal(capped.deleted, 0);
      assert.match(capped.refused?.[0] ?? '', /would delete 10 of 30 keys, more than max_delete 10% \(3\)/);
      assert.equal((await keysOf(dst)).length, 30);
      const allowed = await duplicateBucket(src, dst, { delete: true, maxDelete: { count: 10 }, retry: FAST });
      assert.equal(allowed.deleted, 10);
      assert.deepEqual(await keysOf(dst), keys.slice(0, 20));
    });

    it('refuses to empty a destination from an empty source, unless told to', async () => {
      const { src, dst } = await pair('empty');
      await put(dst, ['a', 'b']);
      const refused = await duplicateBucket(src, dst, { delete: true, maxDelete: { percent: 100 }, retry: FAST });
      assert.match(refused.refused?.[0] ?? '', /lists no key in scope .*--allow-empty-source/);
      assert.equal((await keysOf(dst)).length, 2);
      const allowed = await duplicateBucket(src, dst, {
        delete: true,
        maxDelete: { percent: 100 },
        allowEmptySource: true,
        retry: FAST,
      });
      assert.equal(allowed.deleted, 2);
    });

    it('keeps a key the source has again when asked right before deleting', async () => {
      const { src, dst } = await pair('recheck');
      await put(src, ['a', 'late']);
      await put(dst, ['a', 'late']);
      const proxy = new FaultProxy(server.endpoint);
      proxies.push(proxy);
      const url = await proxy.start();
      // The source listing does not show "late" (as if it was created after listing).
      proxy.inject(
        (r) => r.method === 'GET' && r.url.startsWith(`/${src.bucket}`) && r.url.includes('list-type=2'),
        { kind: 'rewrite-response', rewrite: (xml) => xml.replace(/<Contents><Key>late<\/Key>.*?<\/Contents>/s, '') },
        10,
      );
      const srcView = new S3Store(endpointConfig({ ...server, endpoint: url }, src.bucket));
      const report = await duplicateBucket(srcView, dst, { delete: true, maxDelete: { percent: 100 }, retry: FAST });
      srcView.close();
      assert.equal(report.kept, 1, JSON.stringify(report));
      assert.deepEqual(await keysOf(dst), ['a', 'late']);
    });

    it('delete_mode = trash moves the object under the trash prefix, which is never swept', async () => {
      const { src, dst } = await pair('trash', { delete_mode: 'trash', trash_prefix: '.trash/' });
      await put(src, ['a']);
      await put(dst, ['a', 'gone/x']);
      const report = await duplicateBucket(src, dst, { delete: true, maxDelete: { percent: 100 }, retry: FAST });
      assert.equal(report.deleted, 1, JSON.stringify(report.failures));
      assert.deepEqual(await keysOf(dst), ['.trash/gone/x', 'a']);
      assert.equal(md5Hex(await readAll((await dst.get('.trash/gone/x')).body)), md5Hex(body('gone/x')));
      const again = await duplicateBucket(src, dst, { delete: true, maxDelete: { percent: 100 }, retry: FAST });
      assert.equal(again.deleted, 0, 'the trash is not swept');
    });

    it('moves a prefix: images/ in the source to avatar/ in a destination, and inside one bucket', async () => {
      const bucket = uniqueBucket('move');
      const real = await freshStore(server, bucket);
      stores.push(real);
      await put(real, ['images/2024/a.jpg', 'images/b c.jpg', 'images/\u0001x', 'other/keep', 'avatar/stale']);
      const src = new S3Store(endpointConfig(server, bucket, { prefix: 'images/' }));
      const dst = new S3Store(endpointConfig(server, bucket, { prefix: 'avatar/' }));
      const report = await duplicateBucket(src, dst, { delete: true, maxDelete: { percent: 100 }, retry: FAST });
      assert.equal(report.copied, 3, JSON.stringify(report.failures));
      assert.equal(report.deleted, 1);
      assert.deepEqual(
        await keysOf(real),
        sorted([
          'avatar/2024/a.jpg',
          'avatar/b c.jpg',
          'avatar/\u0001x',
          'images/2024/a.jpg',
          'images/b c.jpg',
          'images/\u0001x',
          'other/keep',
        ]),
      );
      assert.deepEqual(await readAll((await real.get('avatar/2024/a.jpg')).body), body('images/2024/a.jpg'));
      const second = await duplicateBucket(src, dst, { delete: true, retry: FAST });
      assert.equal(second.copied + second.deleted, 0, 'a second run changes nothing');
      src.close();
      dst.close();
    });
  });
}

describe('prefix moves between servers', () => {
  const servers = testServers();
  const stores: S3Store[] = [];
  after(async () => {
    for (const s of stores) await dropStore(s).catch(() => {});
  });
  for (const [i, from] of servers.entries()) {
    const to = servers[(i + 1) % servers.length]!;
    it(
      `${from.name} images/ -> ${to.name} avatar/, ` + `every key shape under the prefix; a second run changes nothing`,
      async () => {
        const srcReal = await freshStore(from, uniqueBucket('xmove-src'));
        const dstReal = await freshStore(to, uniqueBucket('xmove-dst'));
        stores.push(srcReal, dstReal);
        const shapes = [
          'a.jpg',
          'sp ace/+%?#&=;:@$,',
          'caf\u00e9',
          'cafe\u0301',
          '\u{1F600}',
          'ctl\u0001\u007f',
          'dir/',
        ];
        await put(srcReal, [...shapes.map((k) => `images/${k}`), 'elsewhere/x']);
        await put(dstReal, ['avatar/stale', 'keep/outside']);
        const src = new S3Store(endpointConfig(from, srcReal.bucket, { prefix: 'images/', list_page_size: 3 }));
        const dst = new S3Store(destConfig(to, dstReal.bucket, { prefix: 'avatar/', list_page_size: 3 }));
        const first = await duplicateBucket(src, dst, { delete: true, maxDelete: { percent: 100 }, retry: FAST });
        assert.equal(first.copied, shapes.length, JSON.stringify(first.failures));
        assert.equal(first.deleted, 1);
        assert.deepEqual(await keysOf(dstReal), sorted([...shapes.map((k) => `avatar/${k}`), 'keep/outside']));
        for (const k of shapes)
          assert.deepEqual(await readAll((await dstReal.get(`avatar/${k}`)).body), body(`images/${k}`));
        const second = await duplicateBucket(src, dst, { delete: true, retry: FAST });
        assert.equal(second.copied + second.deleted + second.failed, 0);
        src.close();
        dst.close();
      },
    );
  }
});
