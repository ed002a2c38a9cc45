/**
 * What generic code concludes from the servers' answers, on real Ceph RGW and Swift:
 * a missing bucket is never a deleted key, a source overwritten between listing and
 * server-side copy is copied again, and `[source] verify_md5` reaches every destination.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyKey } from '../../src/api/copy/copy-key.js';
import { StoreError } from '../../src/api/errors.js';
import { S3Store } from '../../src/api/store/s3-store.js';
import { duplicateBucket } from '../../src/api/sweep/duplicate.js';
import { endpointConfig, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, md5Hex, readAll } from '../helpers/seed.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

const FAST_RETRY = { attempts: 2, baseMs: 10, maxMs: 50 };

for (const server of testServers()) {
  describe(`error kinds on ${server.name}`, () => {
    const stores: S3Store[] = [];
    const proxies: FaultProxy[] = [];
    after(async () => {
      for (const p of proxies) await p.stop();
      for (const s of stores) await dropStore(s).catch(() => {});
    });

    it('a HEAD on a missing bucket is a fatal bucketMissing error, never "not found"', async () => {
      const store = new S3Store(endpointConfig(server, uniqueBucket('nobucket')));
      assert.equal(await store.bucketExists(), false);
      await assert.rejects(store.head('some/key'), (err: unknown) => {
        assert.ok(err instanceof StoreError);
        assert.equal(err.kind, 'bucketMissing');
        assert.equal(err.errorClass, 'fatal');
        assert.match(
          err.message,
          /^\[source\] HeadObject .* failed: NoSuchBucket.*create the bucket, or fix bucket_name/,
        );
        return true;
      });
      // A key copy from it fails (kept for a retry), instead of being reported gone.
      const dst = await freshStore(server, uniqueBucket('nobucket-dst'));
      stores.push(dst);
      const [r] = await copyKey({ store, key: 'some/key' }, [{ store: dst, key: 'some/key' }], { retry: FAST_RETRY });
      assert.equal(r!.outcome, 'failed');
      assert.ok(r!.error instanceof StoreError && r!.error.bucketMissing);
      // And a sweep of it stops, naming the section.
      const report = await duplicateBucket(store, dst, { retry: FAST_RETRY });
      assert.match(report.aborted ?? '', /\[source\] .*NoSuchBucket/);
      store.close();
    });

    it('a HEAD 404 in an existing bucket is "not found", after the bucket is seen to exist', async () => {
      const store = await freshStore(server, uniqueBucket('exists'));
      stores.push(store);
      assert.equal(await store.head('missing/key'), null);
    });

    it(
      'a source overwritten between listing and server-side copy (412) ' + 'is read again and its new version copied',
      async () => {
        const src = await freshStore(server, uniqueBucket('ifmatch-src'));
        const dst = await freshStore(server, uniqueBucket('ifmatch-dst'));
        stores.push(src, dst);
        assert.ok(dst.canCopyFrom(src), 'same endpoint and credentials: server-side copy');
        const v1 = Buffer.from('version one');
        await src.put('k', v1, { contentLength: v1.length });
        const listed = (await src.listPage()).objects[0]!;
        const v2 = Buffer.from('version two, longer');
        await src.put('k', v2, { contentLength: v2.length });
        const [r] = await copyKey({ store: src, key: 'k', info: listed }, [{ store: dst, key: 'k', known: null }], {
          retry: FAST_RETRY,
        });
        assert.equal(r!.outcome, 'copied', String(r!.error));
        assert.equal(r!.method, 'server-side');
        assert.deepEqual(await readAll((await dst.get('k')).body), v2);
      },
    );

    it('[source] verify_md5 = true verifies every destination by reading the copy back', async () => {
      const srcBucket = uniqueBucket('verify-src');
      const src = await freshStore(server, srcBucket, { verify_md5: true });
      stores.push(src);
      const proxy = new FaultProxy(server.endpoint);
      proxies.push(proxy);
      const url = await proxy.start();
      const dstBucket = uniqueBucket('verify-dst');
      const dstReal = await freshStore(server, dstBucket);
      stores.push(dstReal);
      // Multipart at the destination: its ETag is no MD5, so only a read-back proves the copy.
      const dst = new S3Store(
        endpointConfig({ ...server, endpoint: url }, dstBucket, {
          multipart_threshold: '5M',
          multipart_chunksize: '5M',
        }),
      );
      const body = Buffer.alloc(6 * 1024 * 1024 + 3, 7);
      await src.put('big', body, { contentLength: body.length });
      const report = await duplicateBucket(src, dst, { retry: FAST_RETRY });
      assert.equal(report.copied, 1, JSON.stringify(report.failures));
      const reads = proxy.count((r) => r.method === 'GET' && r.url.startsWith(`/${dstBucket}/big`));
      assert.equal(reads, 1, 'the destination copy was read back once');
      assert.equal(md5Hex(await readAll((await dstReal.get('big')).body)), md5Hex(body));
      dst.close();
    });
  });
}
