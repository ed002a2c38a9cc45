/**
 * checkBucket against real Ceph RGW and Swift: each kind of difference is found, a clean
 * replica (made by a sweep, prefix moves included) checks clean, and nothing is written.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { S3Store } from '../../src/api/store/s3-store.js';
import { checkBucket, type CheckLine, type CheckOptions } from '../../src/api/sweep/check.js';
import { duplicateBucket } from '../../src/api/sweep/duplicate.js';
import { compareKeys } from '../../src/api/sweep/ordered.js';
import { parseConfig } from '../../src/api/config.js';
import { destConfig, endpointConfig, sectionIni, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, listKeys, putAll } from '../helpers/seed.js';
import { CONTROL_KEYS, KEY_SHAPES } from '../helpers/keys.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

const FAST = { attempts: 2, baseMs: 10, maxMs: 50 };
const body = (k: string) => Buffer.from(`body of ${k}`);
const put = (store: S3Store, keys: readonly string[]) =>
  putAll(
    store,
    keys.map((key) => ({ key, body: body(key) })),
  );

/** A one-part multipart upload: its ETag is `md5-of-md5s-1`, so no listing proves its content. */
async function putMultipart(store: S3Store, key: string, data: Buffer): Promise<void> {
  const id = await store.createMultipart(key, {});
  const etag = await store.uploadPart(key, id, 1, data, { contentLength: data.length });
  await store.completeMultipart(key, id, [{ partNumber: 1, etag }]);
}

async function check(src: S3Store, dst: S3Store | S3Store[], options: CheckOptions = {}) {
  const lines: CheckLine[] = [];
  const report = await checkBucket(src, dst, { ...options, onLine: (l) => lines.push(l) });
  const shown = lines.filter((l) => l.mark !== '=').map((l) => `${l.mark} ${l.key} [${l.destination}]`);
  return { report, lines, shown };
}

for (const server of testServers()) {
  describe(`check on ${server.name}`, () => {
    const stores: S3Store[] = [];
    const proxies: FaultProxy[] = [];
    after(async () => {
      for (const p of proxies) await p.stop();
      for (const s of stores) await dropStore(s).catch(() => {});
    });
    const pair = async (
      label: string,
      srcExtra: Record<string, string> = {},
      destExtra: Record<string, string> = {},
    ) => {
      const src = await freshStore(server, uniqueBucket(`${label}-src`), { list_page_size: 7, ...srcExtra });
      const dst = new S3Store(destConfig(server, uniqueBucket(`${label}-dst`), { list_page_size: 7, ...destExtra }));
      await dst.createBucket();
      stores.push(src, dst);
      return { src, dst };
    };

    it('a replica made by a sweep checks clean: every key =, in key order, exit-worthy ok', async () => {
      const { src, dst } = await pair('clean');
      const keys = [
        ...new Set([
          ...KEY_SHAPES.filter((k) => k !== '' && Buffer.byteLength(k) < 900).slice(0, 30),
          ...CONTROL_KEYS.slice(0, 8),
        ]),
      ];
      await put(src, keys);
      const swept = await duplicateBucket(src, dst, { retry: FAST });
      assert.equal(swept.failed, 0, JSON.stringify(swept.failures));
      const { report, lines, shown } = await check(src, dst);
      assert.deepEqual(shown, []);
      assert.equal(report.ok, true, JSON.stringify(report));
      assert.equal(report.destinations[dst.name]!['='], keys.length);
      const printed = lines.map((l) => l.key);
      assert.deepEqual(printed, [...printed].sort(compareKeys), 'lines in key order');
      // With a HEAD per key on both sides (concurrent, finishing in any order): same lines, same order.
      const meta = await check(src, dst, { checkMetadata: true, concurrency: 8 });
      assert.deepEqual(meta.shown, []);
      assert.deepEqual(
        meta.lines.map((l) => l.key),
        printed,
        'key order kept while HEADs run concurrently',
      );
    });

    it(
      'a multipart object streamed to another server is ' + 'proved = by the MD5 and ETag s3s3 records on the copy',
      async () => {
        const other = testServers().find((s) => s.name !== server.name)!;
        const src = await freshStore(server, uniqueBucket('mpsrc'));
        const dst = new S3Store(destConfig(other, uniqueBucket('mpdst')));
        await dst.createBucket();
        stores.push(src, dst);
        await putMultipart(src, 'mp/one', body('mp/one'));
        const swept = await duplicateBucket(src, dst, { retry: FAST });
        assert.equal(swept.copied, 1, JSON.stringify(swept.failures));
        const { report, lines } = await check(src, dst);
        assert.deepEqual(
          lines.map((l) => l.mark),
          ['='],
        );
        assert.equal(report.ok, true);
      },
    );

    it(
      'finds each kind: + missing, - extra, ' + '* same size other bytes, ? unproven then * or = with download',
      async () => {
        const { src, dst } = await pair('kinds');
        await put(src, ['same', 'missing']);
        await put(dst, ['same', 'extra']);
        // Same size, other bytes, both plain-MD5 ETags: proven different from the listings.
        await src.put('md5diff', Buffer.from('aaaa'), { contentLength: 4 });
        await dst.put('md5diff', Buffer.from('bbbb'), { contentLength: 4 });
        await src.put('sizediff', Buffer.from('aaaa'), { contentLength: 4 });
        await dst.put('sizediff', Buffer.from('aaaaa'), { contentLength: 5 });
        // A multipart source against a copy not made by s3s3: only the bytes can tell.
        await putMultipart(src, 'mp/differs', Buffer.from('cccc'));
        await dst.put('mp/differs', Buffer.from('dddd'), { contentLength: 4 });
        await putMultipart(src, 'mp/equal', Buffer.from('eeee'));
        await dst.put('mp/equal', Buffer.from('eeee'), { contentLength: 4 });
        const before = await listKeys(dst);

        const plain = await check(src, dst);
        assert.deepEqual(plain.shown, [
          '- extra [dest1]',
          '* md5diff [dest1]',
          '+ missing [dest1]',
          '? mp/differs [dest1]',
          '? mp/equal [dest1]',
          '* sizediff [dest1]',
        ]);
        assert.equal(plain.report.ok, false);
        assert.deepEqual(plain.report.destinations[dst.name], { '+': 1, '-': 1, '*': 2, '?': 2, '=': 1 });

        const download = await check(src, dst, { download: true });
        assert.deepEqual(download.shown, [
          '- extra [dest1]',
          '* md5diff [dest1]',
          '+ missing [dest1]',
          '* mp/differs [dest1]',
          '* sizediff [dest1]',
        ]);
        assert.equal(download.lines.find((l) => l.key === 'mp/differs')?.reason, 'hash differs');
        assert.equal(download.lines.find((l) => l.key === 'mp/equal')?.mark, '=');
        assert.deepEqual(await listKeys(dst), before, 'a check writes nothing');
      },
    );

    it('? alone is no difference: ok stays true', async () => {
      const { src, dst } = await pair('unproven');
      await putMultipart(src, 'mp', Buffer.from('zz'));
      await dst.put('mp', Buffer.from('zz'), { contentLength: 2 });
      const { report, shown } = await check(src, dst);
      assert.deepEqual(shown, ['? mp [dest1]']);
      assert.equal(report.ok, true);
    });

    it('--check-metadata finds a header or user metadata that differs, ignoring s3s3-* metadata', async () => {
      const { src, dst } = await pair('meta');
      const data = Buffer.from('same bytes');
      const opts = { contentLength: data.length };
      await src.put('ctype', data, { ...opts, contentType: 'text/plain' });
      await dst.put('ctype', data, { ...opts, contentType: 'image/png' });
      await src.put('user', data, { ...opts, contentType: 'text/plain', metadata: { color: 'red' } });
      await dst.put('user', data, { ...opts, contentType: 'text/plain', metadata: { color: 'blue' } });
      await src.put('ours', data, { ...opts, contentType: 'text/plain', cacheControl: 'max-age=60' });
      await dst.put('ours', data, {
        ...opts,
        contentType: 'text/plain',
        cacheControl: 'max-age=60',
        metadata: { 's3s3-md5': 'x', 's3s3-source-etag': 'y' },
      });
      const content = await check(src, dst);
      assert.deepEqual(content.shown, [], 'content only by default');
      assert.equal(content.report.ok, true);
      const meta = await check(src, dst, { checkMetadata: true });
      assert.deepEqual(meta.shown, ['* ctype [dest1]', '* user [dest1]']);
      assert.equal(meta.lines.find((l) => l.key === 'ctype')?.reason, 'metadata differs: content-type');
      assert.equal(meta.lines.find((l) => l.key === 'user')?.reason, 'metadata differs: x-amz-meta-color');
      assert.equal(meta.report.ok, false);
      // A copy made by s3s3 carries every header over: clean with --check-metadata too.
      const { dst: copy } = await pair('meta-copy');
      await duplicateBucket(src, copy, { retry: FAST });
      const again = await check(src, copy, { checkMetadata: true });
      assert.deepEqual(again.shown, []);
      assert.equal(again.report.ok, true);
    });

    it('a prefix move checks clean; keys outside the prefixes and in the trash are not compared', async () => {
      const { src, dst } = await pair(
        'move',
        { prefix: 'images/' },
        { prefix: 'avatar/', trash_prefix: 'avatar/.trash/' },
      );
      await put(src, ['images/2024/a.jpg', 'images/b c.jpg', 'images/\u0001x', 'other/not-in-scope']);
      await put(dst, ['unrelated/keep', 'avatar/.trash/old']);
      const swept = await duplicateBucket(src, dst, { retry: FAST });
      assert.equal(swept.copied, 3, JSON.stringify(swept.failures));
      const clean = await check(src, dst, {});
      assert.deepEqual(clean.shown, []);
      assert.equal(clean.report.ok, true);
      assert.deepEqual(
        clean.lines.map((l) => [l.key, l.destinationKey]),
        [
          ['images/\u0001x', 'avatar/\u0001x'],
          ['images/2024/a.jpg', 'avatar/2024/a.jpg'],
          ['images/b c.jpg', 'avatar/b c.jpg'],
        ],
      );
      await put(dst, ['avatar/stale']);
      await src.put('images/new', body('new'), { contentLength: body('new').length });
      const dirty = await check(src, dst);
      assert.deepEqual(
        dirty.shown,
        ['+ images/new [dest1]', '- avatar/stale [dest1]'],
        'full keys: the source key for +, the destination key for -',
      );
      // Filters see the relative key on both sides.
      const filtered = await check(src, dst, { exclude: ['stale', 'new'] });
      assert.deepEqual(filtered.shown, []);
    });

    it('several destinations: lines per destination', async () => {
      const { src, dst } = await pair('multi');
      const dst2 = new S3Store(
        parseConfig(
          sectionIni('source', server, 'unused') +
            sectionIni('dest1', server, 'unused-1') +
            sectionIni('dest2', server, uniqueBucket('multi2'), { list_page_size: 7 }),
          { file: 'test' },
        ).destinations[1]!,
      );
      await dst2.createBucket();
      stores.push(dst2);
      await put(src, ['a', 'b']);
      await put(dst, ['a', 'b']);
      await put(dst2, ['a']);
      const { report, shown } = await check(src, [dst, dst2]);
      assert.deepEqual(shown, [`+ b [${dst2.name}]`]);
      assert.equal(report.destinations[dst.name]!['='], 2);
      assert.equal(report.ok, false);
    });

    it('a listing that fails mid-check stops it: aborted, not ok', async () => {
      const { src, dst } = await pair('fault');
      const keys = Array.from({ length: 30 }, (_, i) => `k${String(i).padStart(2, '0')}`);
      await put(src, keys);
      await put(dst, keys);
      const proxy = new FaultProxy(server.endpoint);
      proxies.push(proxy);
      const url = await proxy.start();
      const viaProxy = new S3Store(
        endpointConfig({ ...server, endpoint: url }, dst.bucket, { list_page_size: 7, max_retries: 1 }),
      );
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
      const { report } = await check(src, viaProxy);
      viaProxy.close();
      assert.ok(report.aborted, 'the check stopped');
      assert.match(report.aborted!, /500|InternalError/);
      assert.equal(report.ok, false);
    });
  });
}
