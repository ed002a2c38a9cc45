/**
 * The last write re-checks and the one rule for gone (issue 17, items 1 and 2), attacked on the
 * real servers (Ceph RGW, Swift s3api, Swift native):
 * - GET and HEAD of every object shape agree, so a copy settles in one round (one source GET):
 *   user metadata (Latin-1 and UTF-8 bytes), the standard headers, an empty object, a multipart
 *   (`-N`) object, an SLO, a DLO, and Expires values that are no HTTP date (`never`: servers keep
 *   what a client sent, and NaN never equals itself, so such an object was copied 6 times and failed);
 * - races put in a known order by a gate proxy (test/helpers/gate-proxy.ts): a slow upload of an
 *   older version, two destinations of which one is retried while the source changes, and two
 *   a sweep's upload landing after the key's delete event, and a limit not fixed (marked todo):
 *   a timed-out PUT committed by the server after the retry settled;
 * - a proxy or load balancer answering 404 (an HTML page, to the GETs or to everything, HeadBucket
 *   included, just after a HeadBucket was seen): never a deleted replica, on the GET-first, blind
 *   and HEAD-first paths, for deleteKey, and at a Swift native source.
 * Asserted is what a user checks: the bytes at the destination, the outcome, the replica kept.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyKey } from '../../src/api/copy/copy-key.js';
import { multipartUpload } from '../../src/api/copy/multipart.js';
import { deleteKey, syncKey, type SyncKeyOptions } from '../../src/api/sync/sync-key.js';
import type { ObjectHeaders, ObjectStore } from '../../src/api/store/object-store.js';
import { S3Store } from '../../src/api/store/s3-store.js';
import { SwiftStore } from '../../src/api/store/swift-store.js';
import { duplicateBucket } from '../../src/api/sweep/duplicate.js';
import { FaultProxy, anyRequest, isOp, type RequestInfo } from '../helpers/fault-proxy.js';
import { GateProxy, type CannedAnswer } from '../helpers/gate-proxy.js';
import { dropStore, freshStore, md5Hex, readAll } from '../helpers/seed.js';
import { endpointConfig, uniqueBucket } from '../helpers/servers.js';
import { cephServer, dropSwift, freshSwift, swiftConfig, swiftServer } from '../helpers/swift.js';

const ceph = cephServer();
const swift = swiftServer();
const MiB = 1024 * 1024;

/** Expires values servers keep as sent, though no HTTP date (Date.parse gives NaN). */
const ODD_EXPIRES = ['never', 'Mon, 32 Jan 2000 00:00:00 GMT'];

const RICH: Partial<ObjectHeaders> = {
  contentType: 'text/plain; charset=utf-8',
  cacheControl: 'max-age=60',
  contentDisposition: 'attachment; filename="a b.txt"',
  contentLanguage: 'fr',
  expires: 'Thu, 01 Dec 2033 16:00:00 GMT',
  metadata: { color: 'Blue', 'x-y': 'a  b' },
};

/** A PUT with raw headers, as another client would send them (s3s3's own PUT sends dates only). */
type RawPut = (key: string, body: Buffer, headers: Record<string, string>) => Promise<void>;

/** The lean S3 client inside an S3Store: raw requests, signed as the store signs them. */
interface LeanSender {
  send(req: {
    method: 'PUT';
    key: string;
    body: Buffer;
    contentLength: number;
    headers: Record<string, string>;
  }): Promise<{ body?: Readable }>;
}

function s3RawPut(store: S3Store): RawPut {
  const lean = (store as unknown as { lean?: LeanSender }).lean;
  if (!lean) throw new Error('the store has no lean client (lean_requests off?)');
  return async (key, body, headers) => {
    const res = await lean.send({ method: 'PUT', key, body, contentLength: body.length, headers });
    res.body?.resume();
  };
}

function swiftRawPut(store: SwiftStore): RawPut {
  return async (key, body, headers) => {
    const s = await store.auth.session();
    const r = await fetch(`${s.storageUrl}/${store.bucket}/${encodeURIComponent(key)}`, {
      method: 'PUT',
      headers: { 'x-auth-token': s.token, ...headers },
      body,
    });
    assert.ok(r.ok, `PUT ${key}: ${r.status}`);
  };
}

/** Writes every shape the source can hold; returns each key with its bytes. */
async function writeShapes(
  store: ObjectStore & Parameters<typeof multipartUpload>[0],
  raw: RawPut,
  native: boolean,
): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const put = async (key: string, body: Buffer, headers: Partial<ObjectHeaders> = {}) => {
    await store.put(key, body, { contentLength: body.length, ...headers });
    out.set(key, body);
  };
  await put('plain', randomBytes(1000));
  await put('rich headers', randomBytes(1000), RICH);
  await put('latin-1 metadata', randomBytes(1000), { metadata: { note: 'caf\u00e9' } });
  // What an S3 client sends for non-ASCII metadata: its UTF-8 bytes (s3api answers them RFC 2047-encoded).
  await put('utf-8 metadata', randomBytes(1000), {
    metadata: { note: Buffer.from('\u65e5\u672c caf\u00e9', 'utf8').toString('latin1') },
  });
  await put('empty', Buffer.alloc(0));
  for (const [i, v] of ODD_EXPIRES.entries()) {
    const body = randomBytes(1000);
    await raw(`expires ${i}`, body, { expires: v });
    out.set(`expires ${i}`, body);
  }
  const big = randomBytes(12 * MiB);
  await multipartUpload(store, native ? 'slo' : 'multipart', Readable.from([big]), {
    size: big.length,
    partSize: 5 * MiB,
    parallel: 2,
    headers: RICH,
  });
  out.set(native ? 'slo' : 'multipart', big);
  if (native) {
    await raw('segs/1', Buffer.from('hello '), {});
    await raw('segs/2', Buffer.from('world'), {});
    await raw('dlo', Buffer.alloc(0), {
      'x-object-manifest': `${store.bucket}/segs/`,
      'content-type': 'text/x-dlo',
      'x-object-meta-a': 'b',
    });
    out.set('dlo', Buffer.from('hello world'));
  }
  return out;
}

describe('the last write re-checks: GET and HEAD of every object shape agree on the real servers', () => {
  const s3Stores: S3Store[] = [];
  const swiftStores: SwiftStore[] = [];
  after(async () => {
    for (const s of s3Stores) await dropStore(s).catch(() => {});
    for (const s of swiftStores) await dropSwift(s).catch(() => {});
  });
  const s3 = async (server: typeof ceph, label: string) => {
    const s = await freshStore(server, uniqueBucket(label));
    s3Stores.push(s);
    return s;
  };

  const cases: Array<{
    name: string;
    make: () => Promise<{
      src: ObjectStore & Parameters<typeof multipartUpload>[0];
      raw: RawPut;
      dst: S3Store;
      native: boolean;
    }>;
  }> = [
    {
      name: `${ceph.name} (S3) to ${swift.name} (s3api)`,
      make: async () => {
        const src = await s3(ceph, 'rc-src');
        return { src, raw: s3RawPut(src), dst: await s3(swift, 'rc-dst'), native: false };
      },
    },
    {
      name: `${swift.name} (s3api) to ${ceph.name}`,
      make: async () => {
        const src = await s3(swift, 'rc-src');
        return { src, raw: s3RawPut(src), dst: await s3(ceph, 'rc-dst'), native: false };
      },
    },
    {
      name: `${swift.name} (native: SLO, DLO) to ${ceph.name}`,
      make: async () => {
        const src = await freshSwift(uniqueBucket('rc-src'));
        swiftStores.push(src);
        return { src, raw: swiftRawPut(src), dst: await s3(ceph, 'rc-dst'), native: true };
      },
    },
  ];

  for (const c of cases) {
    it(
      `${c.name}: every shape is copied with one source GET, settled by its HEAD, and not recopied by --check-metadata`,
      { timeout: 240_000 },
      async () => {
        const { src, raw, dst, native } = await c.make();
        const shapes = await writeShapes(src, raw, native);
        const problems: string[] = [];
        for (const [key, body] of shapes) {
          let reads = 0;
          const [r] = await copyKey({ store: src, key }, [{ store: dst, key }], { onSourceRead: () => reads++ });
          if (r!.outcome !== 'copied' || reads !== 1)
            problems.push(
              `${JSON.stringify(key)}: ${r!.outcome} after ${reads} source ` +
                `GETs${r!.error ? ` (${r!.error.message})` : ''}`,
            );
          else if (md5Hex(await readAll((await dst.get(key)).body)) !== md5Hex(body))
            problems.push(`${JSON.stringify(key)}: other bytes at the destination`);
          // Non-ASCII metadata reads back in each server's own form (Ceph and s3api answer it
          // RFC 2047-encoded), so across servers --check-metadata sees those differ: not asked here.
          if (key.endsWith(' metadata')) continue;
          const [again] = await copyKey({ store: src, key }, [{ store: dst, key }], { checkMetadata: true });
          if (again!.outcome !== 'skipped')
            problems.push(
              `${JSON.stringify(key)}: --check-metadata ${again!.outcome} ` +
                `(${again!.reason ?? again!.error?.message ?? ''}) a copy just made`,
            );
        }
        assert.deepEqual(
          problems,
          [],
          'each copy settles in one round (a GET and HEAD that disagree would copy 6 times and fail)',
        );
      },
    );
  }

  it(
    `${ceph.name} server-side copy (same endpoint) of an object whose Expires is no HTTP date settles in one round`,
    { timeout: 60_000 },
    async () => {
      const src = await s3(ceph, 'rc-ss-src');
      const dst = await s3(ceph, 'rc-ss-dst');
      const raw = s3RawPut(src);
      for (const [i, v] of ODD_EXPIRES.entries()) await raw(`expires ${i}`, Buffer.from(`body ${i}`), { expires: v });
      for (const [i] of ODD_EXPIRES.entries()) {
        const [r] = await copyKey({ store: src, key: `expires ${i}` }, [{ store: dst, key: `expires ${i}` }]);
        assert.equal(r!.outcome, 'copied', `Expires ${JSON.stringify(ODD_EXPIRES[i])}: ${r!.error?.message ?? ''}`);
        assert.equal(r!.method, 'server-side');
        assert.equal((await readAll((await dst.get(`expires ${i}`)).body)).toString(), `body ${i}`);
      }
    },
  );
});

describe('the one rule for gone: a proxy in front of the source answering 404 to everything deletes nothing', () => {
  const stores: S3Store[] = [];
  const proxies: FaultProxy[] = [];
  after(async () => {
    for (const p of proxies) await p.stop();
    for (const s of stores) await dropStore(s).catch(() => {});
  });

  it(
    `deleteKey and syncKey with deletes on (${ceph.name}): the replica is kept, the key reported failed, ` +
      `while the bucket was seen a moment ago`,
    { timeout: 60_000 },
    async () => {
      const real = await freshStore(ceph, uniqueBucket('rc-lb-src'));
      const dst = await freshStore(ceph, uniqueBucket('rc-lb-dst'));
      stores.push(real, dst);
      const proxy = new FaultProxy(ceph.endpoint);
      proxies.push(proxy);
      const url = await proxy.start();
      const source = new S3Store(endpointConfig({ ...ceph, endpoint: url }, real.bucket, { max_retries: 1 }));
      const body = randomBytes(100);
      for (const key of ['a', 'b']) {
        await real.put(key, body, { contentLength: body.length });
        await dst.put(key, body, { contentLength: body.length });
      }
      try {
        // A HeadBucket answered 200 (as any sweep or copy asks it) a moment before the proxy lost its backend.
        assert.equal(await source.bucketExists(), true);
        // A load balancer with no backend for this host: 404 to every request, HeadBucket included.
        const storm = proxy.storm(anyRequest(), { kind: 'status', status: 404, code: 'NotFound' }, 60_000);
        const deleted = await deleteKey(source, [dst], 'a', { delete: true });
        const synced = await syncKey(source, [dst], 'b', { delete: true });
        storm.stop();
        assert.ok((await dst.head('a')) !== null, 'deleteKey: the replica of a key the source still has is kept');
        assert.ok((await dst.head('b')) !== null, 'syncKey: the replica of a key the source still has is kept');
        assert.deepEqual(
          deleted.results.map((r) => r.outcome),
          ['failed'],
          'deleteKey reports the key failed, not deleted',
        );
        assert.deepEqual(
          synced.results.map((r) => r.outcome),
          ['failed'],
          'syncKey reports the key failed, not deleted',
        );
      } finally {
        source.close();
      }
    },
  );
});

describe(
  `the last write re-checks, in a known order (${ceph.name}; ` + `the destination behind a proxy that holds one write)`,
  () => {
    const stores: S3Store[] = [];
    const proxies: GateProxy[] = [];
    /** The destination buckets as seen through a proxy: closed, never dropped twice. */
    const viaProxy: S3Store[] = [];
    after(async () => {
      for (const s of viaProxy) s.close();
      for (const p of proxies) await p.stop();
      for (const s of stores) await dropStore(s).catch(() => {});
    });
    /**
     * A source bucket, and a destination bucket reached through a gate proxy (another endpoint: no
     * server-side copy).
     */
    const rig = async (label: string, extra: Record<string, string | number | boolean> = {}) => {
      const src = await freshStore(ceph, uniqueBucket(`${label}-src`));
      const real = await freshStore(ceph, uniqueBucket(`${label}-dst`));
      stores.push(src, real);
      const proxy = new GateProxy(ceph.endpoint);
      proxies.push(proxy);
      const dst = new S3Store(endpointConfig({ ...ceph, endpoint: await proxy.start() }, real.bucket, extra));
      viaProxy.push(dst);
      return { src, real, dst, proxy };
    };
    /** The MD5 of what `store` holds at `key` (null: nothing), to compare versions in a readable message. */
    const bytesAt = async (store: ObjectStore, key: string) => {
      const h = await store.head(key);
      return h === null ? null : md5Hex(await readAll((await store.get(key)).body));
    };

    it(
      'an upload of v1 that completes after the source moved to v2 is copied again: the destination ends with v2',
      { timeout: 60_000 },
      async () => {
        const { src, real, dst, proxy } = await rig('rc-slow');
        const key = 'slow \u{1F600}';
        const v1 = randomBytes(200_000);
        const v2 = randomBytes(150_000);
        await src.put(key, v1, { contentLength: v1.length });
        const gate = proxy.gate(isOp('PutObject', real.bucket, key), 'response');
        const copying = copyKey({ store: src, key }, [{ store: dst, key }]);
        await gate.arrived;
        await src.put(key, v2, { contentLength: v2.length });
        gate.open();
        const [r] = await copying;
        assert.equal(r!.outcome, 'copied', r!.error?.message);
        assert.deepEqual(await bytesAt(real, key), md5Hex(v2), 'the destination holds the source as it is now');
      },
    );

    it(
      'syncKey with deletes on: a copy whose source was deleted while it was written is reported gone and removed',
      { timeout: 60_000 },
      async () => {
        const { src, real, dst, proxy } = await rig('rc-gone-after');
        const key = 'deleted while written';
        const body = randomBytes(40_000);
        await src.put(key, body, { contentLength: body.length });
        const gate = proxy.gate(isOp('PutObject', real.bucket, key), 'response');
        const syncing = syncKey(src, [dst], key, { delete: true, blindUpTo: 16 * MiB });
        await gate.arrived;
        await src.delete(key);
        gate.open();
        const result = await syncing;
        assert.deepEqual(
          result.results.map((r) => r.outcome),
          ['deleted'],
          result.results.map((r) => r.error?.message).join(' '),
        );
        assert.equal(await real.head(key), null, 'no replica of a key the source lacks');
      },
    );

    it(
      'a PUT that timed out on the client (its bytes all sent) and is retried: ' +
        'the first attempt must not land after the settled copy of v2',
      {
        timeout: 60_000,
        todo:
          'not fixed: the re-check covers writes that answered; a write the client gave up on (read_timeout, ' +
          'its body sent) can still be committed later by the server or a buffering proxy, ' +
          'after the retry of a newer version settled. Conditional PUTs cannot stop it portably: ' +
          'the test Ceph refuses If-Match even with the right ETag (412) ' +
          'and Swift s3api answers 501 to any conditional PUT.',
      },
      async () => {
        const { src, real, dst, proxy } = await rig('rc-zombie', { read_timeout: 2 });
        const key = 'zombie';
        const v1 = randomBytes(100_000);
        const v2 = randomBytes(90_000);
        await src.put(key, v1, { contentLength: v1.length });
        // The first PUT's last byte waits at the proxy: the client times out and retries.
        const gate = proxy.gate(isOp('PutObject', real.bucket, key), 'last-byte');
        const copying = copyKey({ store: src, key }, [{ store: dst, key }], {
          retry: { attempts: 3, baseMs: 100, maxMs: 500 },
        });
        await gate.arrived;
        await src.put(key, v2, { contentLength: v2.length });
        const [r] = await copying;
        assert.equal(r!.outcome, 'copied', r!.error?.message);
        assert.deepEqual(await bytesAt(real, key), md5Hex(v2), 'settled with v2');
        // Now the proxy delivers the first attempt's last byte; the server commits v1.
        gate.open();
        assert.equal(await gate.done, 200, 'the server took the first attempt after all');
        assert.deepEqual(
          await bytesAt(real, key),
          md5Hex(v2),
          'the destination still holds the source as it is now (it holds the stale v1, and nothing will copy it again)',
        );
      },
    );

    it(
      'a sweep with deletes on whose upload lands after the key was deleted at the source (and the delete ' +
        'event handled): no key the source lacks is left',
      { timeout: 60_000 },
      async () => {
        const { src, real, dst, proxy } = await rig('rc-sweep-gone');
        const key = 'deleted meanwhile';
        const body = randomBytes(50_000);
        await src.put(key, body, { contentLength: body.length });
        // The upload's last byte waits at the proxy: the write lands only when the gate opens.
        const gate = proxy.gate(isOp('PutObject', real.bucket, key), 'last-byte');
        const sweeping = duplicateBucket(src, dst, { delete: true });
        await gate.arrived;
        // The application deletes the key; the listener's delete runs before the sweep's upload answers.
        await src.delete(key);
        const event = await deleteKey(src, [dst], key, { delete: true });
        gate.open();
        const report = await sweeping;
        assert.deepEqual(report.failures, []);
        assert.deepEqual(
          event.results.map((r) => r.outcome),
          ['gone'],
          'the delete event came before the upload landed: nothing to delete yet',
        );
        assert.equal(await real.head(key), null, 'the destination does not keep a key the source deleted (deletes on)');
      },
    );
  },
);

describe(
  `the one rule for gone: a load balancer's HTML 404 to a source GET never deletes a replica ` +
    `(${ceph.name}, deletes on)`,
  () => {
    const stores: S3Store[] = [];
    const viaProxy: S3Store[] = [];
    const proxies: GateProxy[] = [];
    after(async () => {
      for (const s of viaProxy) s.close();
      for (const p of proxies) await p.stop();
      for (const s of stores) await dropStore(s).catch(() => {});
    });
    const LB_404: CannedAnswer = {
      status: 404,
      contentType: 'text/html',
      body:
        '<html><head><title>404 Not Found</title></head><body>' +
        '<center><h1>404 Not Found</h1></center><hr><center>nginx</center></body></html>',
    };
    const quick = { attempts: 3, baseMs: 50, maxMs: 200 };

    const cases: Array<{ name: string; lbGets: number; options: SyncKeyOptions; outcome: 'copied' | 'failed' }> = [
      {
        name: 'a publish (GET first, size unknown): its first two GETs answered by the load balancer',
        lbGets: 2,
        options: { blindUpTo: 16 * MiB },
        outcome: 'copied',
      },
      {
        name: 'an event with its size (blind copy): its first GET answered by the load balancer',
        lbGets: 1,
        options: { blind: true },
        outcome: 'copied',
      },
      {
        name: 'a plain sync (HEAD first): its first GET answered by the load balancer',
        lbGets: 1,
        options: {},
        outcome: 'copied',
      },
      {
        name: 'every GET answered by the load balancer: failed, retryable, and the replica kept',
        lbGets: 1000,
        options: { blindUpTo: 16 * MiB },
        outcome: 'failed',
      },
    ];
    for (const c of cases) {
      it(c.name, { timeout: 60_000 }, async () => {
        const real = await freshStore(ceph, uniqueBucket('rc-lb404-src'));
        const dst = await freshStore(ceph, uniqueBucket('rc-lb404-dst'));
        stores.push(real, dst);
        const proxy = new GateProxy(ceph.endpoint);
        proxies.push(proxy);
        const source = new S3Store(endpointConfig({ ...ceph, endpoint: await proxy.start() }, real.bucket));
        viaProxy.push(source);
        const key = 'lb \u00e9/404';
        const old = randomBytes(3000);
        const now = randomBytes(2000);
        await dst.put(key, old, { contentLength: old.length });
        await real.put(key, now, { contentLength: now.length });
        const lb = proxy.answer(isOp('GetObject', real.bucket, key), LB_404, c.lbGets);
        const result = await syncKey(source, [dst], key, { delete: true, retry: quick, ...c.options });
        assert.ok(lb.hits >= Math.min(c.lbGets, 1), 'the load balancer answered');
        const [r] = result.results;
        assert.equal(r!.outcome, c.outcome, r!.error?.message);
        const held = await dst.head(key);
        assert.ok(held !== null, "the replica is never deleted on a 404 that is not the store's own");
        const want = c.outcome === 'copied' ? now : old;
        assert.equal(
          md5Hex(await readAll((await dst.get(key)).body)),
          md5Hex(want),
          c.outcome === 'copied' ? 'the destination holds the source as it is' : 'the destination keeps its replica',
        );
        if (c.outcome === 'failed') assert.match(r!.error?.message ?? '', /NoSuchKey|proxy or load balancer/);
      });
    }
  },
);

describe(
  `the one rule for gone at a Swift native source: a 404 to the GET is proven by a HEAD and a HeadBucket ` +
    `asked now (${swift.name} native to ${ceph.name}, deletes on)`,
  () => {
    const stores: S3Store[] = [];
    const swiftStores: SwiftStore[] = [];
    const proxies: GateProxy[] = [];
    after(async () => {
      for (const p of proxies) await p.stop();
      for (const s of stores) await dropStore(s).catch(() => {});
      for (const s of swiftStores) await dropSwift(s).catch(() => {});
    });
    const LB_404: CannedAnswer = { status: 404, contentType: 'text/html', body: '<html><h1>Not Found</h1></html>' };

    for (const everything of [false, true]) {
      it(
        everything
          ? 'a proxy answering 404 to every request (container HEAD included): failed, the replica kept'
          : 'a proxy answering 404 to the object GETs only: copied once Swift answers, the replica never deleted',
        { timeout: 60_000 },
        async () => {
          const src = await freshSwift(uniqueBucket('rc-sw404-src'));
          swiftStores.push(src);
          const dst = await freshStore(ceph, uniqueBucket('rc-sw404-dst'));
          stores.push(dst);
          const proxy = new GateProxy(new URL(swift.swift.authUrl).origin);
          proxies.push(proxy);
          const url = `${await proxy.start()}/auth/v1.0`;
          const source = new SwiftStore(swiftConfig(src.bucket, { auth_url: url }));
          const key = 'lb404';
          const old = randomBytes(3000);
          const now = randomBytes(2000);
          await dst.put(key, old, { contentLength: old.length });
          await src.put(key, now, { contentLength: now.length });
          try {
            // Authenticated, and the container seen, a moment before the proxy lost its backend.
            assert.equal(await source.bucketExists(), true);
            const inContainer = (r: RequestInfo) => r.url.split('?')[0]!.includes(`/${src.bucket}`);
            const match = everything
              ? inContainer
              : (r: RequestInfo) => r.method === 'GET' && r.url.split('?')[0]!.endsWith(`/${src.bucket}/${key}`);
            proxy.answer(match, LB_404, everything ? 1000 : 2);
            const result = await syncKey(source, [dst], key, {
              delete: true,
              blindUpTo: 16 * MiB,
              retry: { attempts: 3, baseMs: 50, maxMs: 200 },
            });
            const [r] = result.results;
            assert.equal(r!.outcome, everything ? 'failed' : 'copied', r!.error?.message);
            assert.ok((await dst.head(key)) !== null, 'the replica is kept');
            assert.equal(md5Hex(await readAll((await dst.get(key)).body)), md5Hex(everything ? old : now));
          } finally {
            source.close();
          }
        },
      );
    }
  },
);

describe(
  `two destinations, one retried: every copy settled by one call is of the version its last ` +
    `look saw (${ceph.name})`,
  () => {
    const stores: S3Store[] = [];
    const viaProxy: S3Store[] = [];
    const proxies: GateProxy[] = [];
    after(async () => {
      for (const s of viaProxy) s.close();
      for (const p of proxies) await p.stop();
      for (const s of stores) await dropStore(s).catch(() => {});
    });

    it(
      'the source overwritten while the second destination waits to retry: both end with the new version',
      { timeout: 60_000 },
      async () => {
        const real = await freshStore(ceph, uniqueBucket('rc-two-src'));
        const a = await freshStore(ceph, uniqueBucket('rc-two-a'));
        const bReal = await freshStore(ceph, uniqueBucket('rc-two-b'));
        stores.push(real, a, bReal);
        const sourceProxy = new GateProxy(ceph.endpoint);
        const bProxy = new GateProxy(ceph.endpoint);
        proxies.push(sourceProxy, bProxy);
        const source = new S3Store(endpointConfig({ ...ceph, endpoint: await sourceProxy.start() }, real.bucket));
        const b = new S3Store(endpointConfig({ ...ceph, endpoint: await bProxy.start() }, bReal.bucket));
        viaProxy.push(source, b);
        const key = 'two';
        const v1 = randomBytes(4000);
        const v2 = randomBytes(5000);
        await real.put(key, v1, { contentLength: v1.length });
        // The second destination's first PUT is refused (503, retried); the look after the first
        // round is held until the source has been overwritten, so it still describes v1.
        bProxy.answer(
          isOp('PutObject', bReal.bucket, key),
          { status: 503, contentType: 'application/xml', body: '<Error><Code>ServiceUnavailable</Code></Error>' },
          1,
        );
        const look = sourceProxy.gate(isOp('HeadObject', real.bucket, key), 'response');
        const copying = copyKey(
          { store: source, key },
          [
            { store: a, key },
            { store: b, key },
          ],
          { blind: true, retry: { attempts: 3, baseMs: 50, maxMs: 200 } },
        );
        await look.arrived;
        await real.put(key, v2, { contentLength: v2.length });
        look.open();
        const results = await copying;
        assert.deepEqual(
          results.map((r) => r.outcome),
          ['copied', 'copied'],
          results.map((r) => r.error?.message).join(' '),
        );
        assert.equal(
          md5Hex(await readAll((await bReal.get(key)).body)),
          md5Hex(v2),
          'the retried destination holds v2',
        );
        assert.equal(
          md5Hex(await readAll((await a.get(key)).body)),
          md5Hex(v2),
          'the first destination, settled with v1 before the call saw v2, holds v2 too',
        );
      },
    );
  },
);
