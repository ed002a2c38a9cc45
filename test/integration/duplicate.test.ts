/**
 * The copy engine and the sweep on real servers, both directions (Ceph -> Swift and
 * Swift -> Ceph): what a user would check is what is asserted — the keys, bytes and
 * metadata in the destination, and the report.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { duplicateBucket, type DuplicateOptions } from '../../src/api/sweep/duplicate.js';
import { copyKey } from '../../src/api/copy/copy-key.js';
import { S3Store } from '../../src/api/store/s3-store.js';
import { endpointConfig, testServers, uniqueBucket, type TestServer } from '../helpers/servers.js';
import { KEY_SHAPES, ORDER_KEYS } from '../helpers/keys.js';
import { dropStore, freshStore, listKeys, md5Hex, putAll, readAll } from '../helpers/seed.js';
import { FaultProxy, isOp } from '../helpers/fault-proxy.js';

const servers = testServers();
const byName = (n: string) => servers.find((s) => s.name === n)!;
const pairs: Array<[TestServer, TestServer]> = [
  [byName('ceph'), byName('swift')],
  [byName('swift'), byName('ceph')],
];
const FAST_RETRY = { attempts: 3, baseMs: 10, maxMs: 50 };
const opts = (o: DuplicateOptions = {}): DuplicateOptions => ({ retry: FAST_RETRY, ...o });

for (const [from, to] of pairs) {
  describe(`sweep ${from.name} -> ${to.name}`, () => {
    const stores: S3Store[] = [];
    const proxied: S3Store[] = [];
    const proxies: FaultProxy[] = [];
    const track = <T extends S3Store>(s: T) => (stores.push(s), s);
    // A store reaching its bucket through a proxy is only closed: the bucket is dropped
    // through its direct store (dropping it through a stopped proxy would sit out every retry).
    const throughProxy = <T extends S3Store>(s: T) => (proxied.push(s), s);
    after(async () => {
      for (const s of proxied) s.close();
      for (const p of proxies) await p.stop();
      for (const s of stores) await dropStore(s).catch(() => {});
    });

    it('copies 2500+ keys, every key shape and zero-byte objects; a second run copies nothing', async () => {
      const src = track(await freshStore(from, uniqueBucket('many-src')));
      const dst = track(await freshStore(to, uniqueBucket('many-dst')));
      const objects = [
        ...Array.from({ length: 2500 }, (_, i) => ({
          key: `bulk/${String(i).padStart(5, '0')}`,
          body: i % 10 === 0 ? Buffer.alloc(0) : Buffer.from(`object ${i}`),
        })),
        ...KEY_SHAPES.map((key) => ({ key, body: key.endsWith('/') ? Buffer.alloc(0) : Buffer.from(`shape ${key}`) })),
        ...ORDER_KEYS.map((key) => ({ key, body: Buffer.from(key) })),
      ];
      await putAll(src, objects);
      const first = await duplicateBucket(src, dst, opts());
      assert.deepEqual(first.failures, []);
      assert.equal(first.listed, objects.length);
      assert.equal(first.copied, objects.length);
      const want = await listKeys(src);
      const got = await listKeys(dst);
      assert.deepEqual(
        got.map((o) => [o.key, o.size]),
        want.map((o) => [o.key, o.size]),
      );
      for (const key of [...KEY_SHAPES, ...ORDER_KEYS]) {
        const { body } = await dst.get(key);
        assert.deepEqual(await readAll(body), objects.find((o) => o.key === key)!.body, JSON.stringify(key));
      }
      const second = await duplicateBucket(src, dst, opts());
      assert.equal(second.copied, 0, 'nothing recopied (the merge-join pairs keys in UTF-8 byte order)');
      assert.equal(second.skipped, objects.length);
      assert.equal(second.failed, 0);
    });

    it('carries headers and user metadata unchanged, single-part and multipart', async () => {
      const src = track(
        await freshStore(from, uniqueBucket('meta-src'), { multipart_threshold: '5M', multipart_chunksize: '5M' }),
      );
      const dst = track(
        await freshStore(to, uniqueBucket('meta-dst'), { multipart_threshold: '5M', multipart_chunksize: '5M' }),
      );
      const headers = {
        contentType: 'application/x-s3s3-test',
        cacheControl: 'max-age=600, private',
        contentDisposition: 'attachment; filename="report.pdf"',
        contentEncoding: 'identity',
        contentLanguage: 'fr-CA',
        expires: 'Wed, 21 Oct 2037 07:28:00 GMT',
        metadata: { owner: 'ops team', 'trace-id': 'abc-123' },
      };
      const small = Buffer.from('small body');
      const big = Buffer.alloc(12 * 1024 * 1024 + 17);
      for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
      await src.put('meta/small', small, { contentLength: small.length, ...headers });
      await src.put('meta/big', big, { contentLength: big.length, ...headers });
      const report = await duplicateBucket(src, dst, opts());
      assert.deepEqual(report.failures, []);
      assert.equal(report.copied, 2);
      for (const [key, body] of [
        ['meta/small', small],
        ['meta/big', big],
      ] as const) {
        const head = await dst.head(key);
        assert.ok(head);
        assert.equal(head.contentType, headers.contentType, key);
        assert.equal(head.cacheControl, headers.cacheControl, key);
        assert.equal(head.contentDisposition, headers.contentDisposition, key);
        assert.equal(head.contentEncoding, headers.contentEncoding, key);
        assert.equal(head.contentLanguage, headers.contentLanguage, key);
        assert.equal(new Date(head.expires!).getTime(), new Date(headers.expires).getTime(), key);
        assert.equal(head.metadata.owner, 'ops team', key);
        assert.equal(head.metadata['trace-id'], 'abc-123', key);
        assert.equal(head.metadata['s3s3-source-etag'], (await src.head(key))!.etag, key);
        assert.equal(md5Hex(await readAll((await dst.get(key)).body)), md5Hex(body), key);
      }
      assert.match((await dst.head('meta/big'))!.etag, /-3$/, 'went multipart in 5 MiB parts');
      const again = await duplicateBucket(src, dst, opts());
      assert.equal(again.copied, 0, 'a multipart copy is recognised by its recorded source ETag');
    });

    it('reads the source once for two destinations', async () => {
      const proxy = new FaultProxy(from.endpoint);
      proxies.push(proxy);
      const url = await proxy.start();
      const srcBucket = uniqueBucket('fan-src');
      track(await freshStore(from, srcBucket));
      const src = throughProxy(new S3Store(endpointConfig({ ...from, endpoint: url }, srcBucket)));
      const d1 = track(await freshStore(to, uniqueBucket('fan-d1')));
      const d2 = track(await freshStore(from, uniqueBucket('fan-d2')));
      const objects = Array.from({ length: 30 }, (_, i) => ({ key: `fan/${i}`, body: Buffer.alloc(100_000 + i, i) }));
      await putAll(src, objects);
      const report = await duplicateBucket(src, [d1, d2], opts());
      assert.deepEqual(report.failures, []);
      assert.equal(report.copied, 60);
      assert.equal(
        proxy.count(isOp('GetObject', srcBucket)),
        30,
        'one GET per object, whatever the number of destinations',
      );
      for (const d of [d1, d2]) assert.equal((await listKeys(d)).length, 30);
    });

    it('recopies a changed object, writes nothing on a dry run, and applies filters', async () => {
      const src = track(await freshStore(from, uniqueBucket('chg-src')));
      const dst = track(await freshStore(to, uniqueBucket('chg-dst')));
      await putAll(src, [
        { key: 'keep/a.txt', body: Buffer.from('aaaa') },
        { key: 'keep/b.log', body: Buffer.from('bbbb') },
        { key: 'big/c.bin', body: Buffer.alloc(5000, 1) },
        { key: 'other/d.txt', body: Buffer.from('dddd') },
      ]);
      const dry = await duplicateBucket(src, dst, opts({ dryRun: true }));
      assert.equal(dry.wouldCopy, 4);
      assert.equal(dry.copied, 0);
      assert.deepEqual(await listKeys(dst), [], 'a dry run writes nothing');

      const filtered = await duplicateBucket(src, dst, opts({ prefix: 'keep/', include: ['**.txt'] }));
      assert.equal(filtered.copied, 1);
      assert.deepEqual(
        (await listKeys(dst)).map((o) => o.key),
        ['keep/a.txt'],
      );
      const sized = await duplicateBucket(src, dst, opts({ minSize: 1000, exclude: ['keep/**'] }));
      assert.deepEqual(
        (await listKeys(dst)).map((o) => o.key),
        ['big/c.bin', 'keep/a.txt'],
      );
      assert.equal(sized.copied, 1);
      await duplicateBucket(src, dst, opts({ maxSize: 10 }));
      assert.equal((await listKeys(dst)).length, 4);

      // Same size, new content: the MD5s differ, so it is copied again.
      await src.put('keep/a.txt', Buffer.from('AAAA'), { contentLength: 4 });
      const dryChanged: string[] = [];
      await duplicateBucket(
        src,
        dst,
        opts({ dryRun: true, onResult: (r) => r.outcome === 'would copy' && dryChanged.push(`${r.key} ${r.reason}`) }),
      );
      assert.deepEqual(dryChanged, ['keep/a.txt md5 differs']);
      const changed = await duplicateBucket(src, dst, opts());
      assert.equal(changed.copied, 1);
      assert.deepEqual(await readAll((await dst.get('keep/a.txt')).body), Buffer.from('AAAA'));
      const forced = await duplicateBucket(src, dst, opts({ force: true }));
      assert.equal(forced.copied, 4);
    });

    it('catches a body corrupted in flight and never leaves it in the destination', async () => {
      const proxy = new FaultProxy(to.endpoint);
      proxies.push(proxy);
      const url = await proxy.start();
      const src = track(
        await freshStore(from, uniqueBucket('bad-src'), { multipart_threshold: '5M', multipart_chunksize: '5M' }),
      );
      const dstBucket = uniqueBucket('bad-dst');
      track(await freshStore(to, dstBucket));
      const dst = throughProxy(new S3Store(endpointConfig({ ...to, endpoint: url }, dstBucket)));
      const plain = Buffer.alloc(300_000, 7);
      const multi = Buffer.alloc(11 * 1024 * 1024, 9);
      await src.put('bad/plain', plain, { contentLength: plain.length });
      // A multipart source has a -N ETag: no Content-MD5 can go out, so the ETag check must catch it.
      await putMultipart(src, 'bad/multi', multi);
      assert.match((await src.head('bad/multi'))!.etag, /-\d+$/);

      proxy.inject(isOp('PutObject', dstBucket), { kind: 'corrupt-request' }, 2);
      const report = await duplicateBucket(src, dst, opts());
      assert.deepEqual(report.failures, []);
      assert.equal(report.copied, 2, 'both recopied after the corruption was caught');
      assert.equal(md5Hex(await readAll((await dst.get('bad/plain')).body)), md5Hex(plain));
      assert.equal(md5Hex(await readAll((await dst.get('bad/multi')).body)), md5Hex(multi));

      // Corrupted on every attempt: reported failed, and nothing left behind.
      await dst.deleteMany(['bad/plain', 'bad/multi']);
      proxy.inject(isOp('PutObject', dstBucket), { kind: 'corrupt-request' }, 100);
      const failing = await duplicateBucket(src, dst, opts());
      assert.equal(failing.failed, 2);
      assert.equal(failing.copied, 0);
      assert.ok(
        failing.failures.every((f) => /BadDigest|verify|MD5/i.test(f.error)),
        JSON.stringify(failing.failures),
      );
      assert.deepEqual(await listKeys(dst), [], 'no corrupted copy is left in the destination');
    });

    it('aborts a multipart upload whose part fails, leaving no orphaned parts', async () => {
      const proxy = new FaultProxy(to.endpoint);
      proxies.push(proxy);
      const url = await proxy.start();
      const src = track(await freshStore(from, uniqueBucket('mpfail-src')));
      const dstBucket = uniqueBucket('mpfail-dst');
      const realDst = track(await freshStore(to, dstBucket));
      const dst = throughProxy(
        new S3Store(
          endpointConfig({ ...to, endpoint: url }, dstBucket, { multipart_threshold: '5M', multipart_chunksize: '5M' }),
        ),
      );
      const body = Buffer.alloc(16 * 1024 * 1024, 3);
      await src.put('mp/big', body, { contentLength: body.length });
      proxy.inject(isOp('UploadPart', dstBucket), { kind: 'status', status: 500, code: 'InternalError' }, 100);
      const report = await duplicateBucket(src, dst, opts());
      assert.equal(report.failed, 1);
      assert.match(report.failures[0]!.error, /UploadPart .*InternalError/);
      assert.deepEqual(await realDst.pendingUploads(), [], 'every begun upload was aborted');
      assert.deepEqual(await listKeys(realDst), []);
      assert.ok(proxy.count(isOp('AbortMultipartUpload', dstBucket)) >= 1);
    });

    it('retries 503 SlowDown and dropped connections, and reports a vanished source key as gone', async () => {
      const proxy = new FaultProxy(from.endpoint);
      proxies.push(proxy);
      const url = await proxy.start();
      const srcBucket = uniqueBucket('flaky-src');
      const real = track(await freshStore(from, srcBucket));
      const src = throughProxy(new S3Store(endpointConfig({ ...from, endpoint: url }, srcBucket)));
      const dst = track(await freshStore(to, uniqueBucket('flaky-dst')));
      await putAll(
        real,
        Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, body: Buffer.from(`v${i}`) })),
      );
      proxy.inject(isOp('GetObject', srcBucket), { kind: 'status', status: 503, code: 'SlowDown' }, 2);
      proxy.inject(isOp('GetObject', srcBucket), { kind: 'drop' }, 1);
      proxy.inject(isOp('GetObject', srcBucket), { kind: 'corrupt-response' }, 1);
      let deleted = false;
      const report = await duplicateBucket(
        src,
        dst,
        opts({
          concurrency: 1,
          onResult: () => {
            // The listing already named k5; it disappears before its turn comes.
            if (!deleted) {
              deleted = true;
              void real.delete('k5');
            }
          },
        }),
      );
      assert.deepEqual(report.failures, []);
      assert.equal(report.copied, 5);
      assert.equal(report.gone, 1);
      assert.deepEqual(
        (await listKeys(dst)).map((o) => o.key),
        ['k0', 'k1', 'k2', 'k3', 'k4'],
      );
      assert.deepEqual(await readAll((await dst.get('k0')).body), Buffer.from('v0'));
    });

    it('stops on a listing out of UTF-8 byte order instead of mis-planning', async () => {
      const proxy = new FaultProxy(to.endpoint);
      proxies.push(proxy);
      const url = await proxy.start();
      const src = track(await freshStore(from, uniqueBucket('ord-src')));
      const dstBucket = uniqueBucket('ord-dst');
      const realDst = track(await freshStore(to, dstBucket));
      const dst = throughProxy(new S3Store(endpointConfig({ ...to, endpoint: url }, dstBucket)));
      const objects = [
        { key: 'a/b', body: Buffer.from('1') },
        { key: 'a-c', body: Buffer.from('2') },
      ];
      await putAll(src, objects);
      await putAll(realDst, objects);
      // Serve the destination listing in directory-walk order (a/b before a-c), as s3rver does.
      // (Not the listing of the trash registry, read first: it is served as it is.)
      proxy.inject((r) => r.method === 'GET' && r.url.includes('list-type=2') && !r.url.includes('s3s3-trash'), {
        kind: 'rewrite-response',
        rewrite: (xml) => {
          const items = xml.match(/<Contents>[\s\S]*?<\/Contents>/g) ?? [];
          return items.length === 2
            ? xml.replace(items[0]!, '\u0000').replace(items[1]!, items[0]!).replace('\u0000', items[1]!)
            : xml;
        },
      });
      const report = await duplicateBucket(src, dst, opts());
      assert.match(report.aborted ?? '', /out of order: "a-c" came after "a\/b"/);
    });
  });
}

describe('server-side copy on one endpoint', () => {
  for (const server of servers) {
    it(`copies with CopyObject on ${server.name}, keeping ETag and metadata`, async () => {
      const src = await freshStore(server, uniqueBucket('ss-src'));
      const dst = await freshStore(server, uniqueBucket('ss-dst'));
      try {
        const body = Buffer.from('server side');
        await src.put('ss/one two', body, {
          contentLength: body.length,
          contentType: 'text/x-ss',
          metadata: { k: 'v' },
        });
        const results = await copyKey({ store: src, key: 'ss/one two' }, [{ store: dst, key: 'ss/one two' }], {
          retry: FAST_RETRY,
        });
        assert.equal(results[0]!.outcome, 'copied');
        assert.equal(results[0]!.method, 'server-side');
        const head = await dst.head('ss/one two');
        assert.equal(head?.etag, md5Hex(body));
        assert.equal(head?.contentType, 'text/x-ss');
        assert.equal(head?.metadata.k, 'v');
        const again = await copyKey({ store: src, key: 'ss/one two' }, [{ store: dst, key: 'ss/one two' }], {
          retry: FAST_RETRY,
        });
        assert.equal(again[0]!.outcome, 'skipped');
      } finally {
        await dropStore(src);
        await dropStore(dst);
      }
    });
  }
});

async function putMultipart(store: S3Store, key: string, body: Buffer): Promise<void> {
  const part = 5 * 1024 * 1024;
  const id = await store.createMultipart(key, {});
  const parts = [];
  for (let i = 0, n = 1; i < body.length; i += part, n++) {
    const slice = body.subarray(i, i + part);
    parts.push({ partNumber: n, etag: await store.uploadPart(key, id, n, slice, { contentLength: slice.length }) });
  }
  await store.completeMultipart(key, id, parts);
}
