/**
 * A source that dies mid-body and a server that never answers: each copy settles (retried,
 * or reported failed), nothing partial is left, and the process does not crash or hang.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyKey } from '../../src/api/copy/copy-key.js';
import { StoreError } from '../../src/api/errors.js';
import { S3Store } from '../../src/api/store/s3-store.js';
import { endpointConfig, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, listKeys, md5Hex, readAll } from '../helpers/seed.js';
import { FaultProxy, isOp } from '../helpers/fault-proxy.js';

const FAST_RETRY = { attempts: 3, baseMs: 10, maxMs: 50 };
const servers = testServers();

for (const [i, from] of servers.entries()) {
  const to = servers[(i + 1) % servers.length]!;
  describe(`faults ${from.name} -> ${to.name}`, () => {
    const stores: S3Store[] = [];
    const proxies: FaultProxy[] = [];
    after(async () => {
      for (const p of proxies) await p.stop();
      for (const s of stores) await dropStore(s).catch(() => {});
    });

    it(
      'retries a source connection reset mid-body, and fails cleanly when it always resets',
      { timeout: 120_000 },
      async () => {
        const proxy = new FaultProxy(from.endpoint);
        proxies.push(proxy);
        const url = await proxy.start();
        const bucket = uniqueBucket('cut-src');
        const real = await freshStore(from, bucket);
        const dst = await freshStore(to, uniqueBucket('cut-dst'));
        stores.push(real, dst);
        const src = new S3Store(endpointConfig({ ...from, endpoint: url }, bucket));
        const body = Buffer.alloc(8 * 1024 * 1024 + 5, 0x5a);
        await real.put('cut/obj', body, { contentLength: body.length });

        proxy.inject(isOp('GetObject', bucket), { kind: 'cut-response' }, 1);
        const ok = await copyKey({ store: src, key: 'cut/obj' }, [{ store: dst, key: 'cut/obj' }], {
          retry: FAST_RETRY,
        });
        assert.equal(ok[0]!.outcome, 'copied', String(ok[0]!.error));
        assert.equal(md5Hex(await readAll((await dst.get('cut/obj')).body)), md5Hex(body));

        await dst.delete('cut/obj');
        proxy.inject(isOp('GetObject', bucket), { kind: 'cut-response' }, 100);
        const bad = await copyKey({ store: src, key: 'cut/obj' }, [{ store: dst, key: 'cut/obj' }], {
          retry: FAST_RETRY,
        });
        assert.equal(bad[0]!.outcome, 'failed');
        assert.match(bad[0]!.error!.message, /GetObject .*cut\/obj/);
        assert.deepEqual(await listKeys(dst), [], 'no partial object');
        src.close();
      },
    );

    it('gives up on a server that never answers after read_timeout', { timeout: 120_000 }, async () => {
      const proxy = new FaultProxy(to.endpoint);
      proxies.push(proxy);
      const url = await proxy.start();
      const bucket = uniqueBucket('stall');
      stores.push(await freshStore(to, bucket));
      const stalled = new S3Store(endpointConfig({ ...to, endpoint: url }, bucket, { read_timeout: 1 }));
      proxy.inject(() => true, { kind: 'stall' }, 1);
      const put = stalled.put('stall/x', Buffer.from('x'), { contentLength: 1 });
      await assert.rejects(put, (err: unknown) => err instanceof StoreError && err.retryable);
      // The next request (a fresh connection) goes through.
      await stalled.put('stall/y', Buffer.from('y'), { contentLength: 1 });
      assert.equal((await stalled.head('stall/y'))?.size, 1);
      stalled.close();
    });
  });
}
