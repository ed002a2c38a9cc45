/**
 * The single-destination byte path (the PUT reads the MD5 tap itself) and the GET-first path
 * of a publish (`blindUpTo`, as the worker passes it) under faults, on real Ceph behind fault
 * proxies: a GET cut, stalled or corrupted mid-body, a PUT refused mid-body, single-part and
 * multipart; objects of 0 bytes, exactly 16 MiB and 16 MiB + 1; a first GET answered 503 or
 * reset; a key deleted before its copy. The destination holds nothing or the exact bytes, and
 * a failure names the side that failed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { copyKey } from '../../src/api/copy/copy-key.js';
import { BLIND_MAX_BYTES } from '../../src/api/worker/worker.js';
import { S3Store } from '../../src/api/store/s3-store.js';
import { FaultProxy, isOp, type Fault } from '../helpers/fault-proxy.js';
import { destConfig, endpointConfig, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, readAll } from '../helpers/seed.js';

const server = testServers()[0]!;
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const ONE = { attempts: 1, baseMs: 10, maxMs: 10 };
const THREE = { attempts: 3, baseMs: 50, maxMs: 200 };

describe(`single-destination byte path and GET-first on ${server.name}`, () => {
  const srcBucket = uniqueBucket('lb-src');
  const dstBucket = uniqueBucket('lb-dst');
  let seedSrc: S3Store;
  let seedDst: S3Store;
  const srcProxy = new FaultProxy(server.endpoint);
  const dstProxy = new FaultProxy(server.endpoint);
  let srcUrl = '';
  let dstUrl = '';
  const small = randomBytes(3 * 1024 * 1024 + 7);
  const big = randomBytes(12 * 1024 * 1024 + 3); // 3 parts of 5 MiB at multipart_threshold 6 MiB

  before(async () => {
    seedSrc = await freshStore(server, srcBucket);
    seedDst = await freshStore(server, dstBucket);
    srcUrl = await srcProxy.start();
    dstUrl = await dstProxy.start();
  });
  after(async () => {
    await srcProxy.stop();
    await dstProxy.stop();
    await dropStore(seedSrc).catch(() => {});
    await dropStore(seedDst).catch(() => {});
  });

  const stores = (extra: Record<string, string | number | boolean> = {}) => ({
    src: new S3Store(endpointConfig({ ...server, endpoint: srcUrl }, srcBucket, { read_timeout: 3, ...extra })),
    dst: new S3Store(
      destConfig({ ...server, endpoint: dstUrl }, dstBucket, {
        read_timeout: 3,
        multipart_threshold: '6MiB',
        multipart_chunksize: '5MiB',
        ...extra,
      }),
    ),
  });

  /** The destination holds nothing or exactly `body`. */
  async function nothingOrExact(key: string, body: Buffer): Promise<boolean> {
    const head = await seedDst.head(key);
    if (head === null) return false;
    const got = await readAll((await seedDst.get(key)).body);
    assert.equal(
      got.length,
      body.length,
      `${key}: the destination holds ${got.length} bytes, the source ${body.length}`,
    );
    assert.equal(md5(got), md5(body), `${key}: the destination holds other bytes than the source`);
    return true;
  }

  async function noUploadsLeft(): Promise<void> {
    assert.deepEqual(await seedDst.pendingUploads(), [], 'no multipart upload left behind');
  }

  const sourceFaults: Array<[string, Fault]> = [
    ['cut mid-body', { kind: 'cut-response' }],
    ['stalled mid-body', { kind: 'stall-response' }],
    ['corrupted', { kind: 'corrupt-response', at: 1000 }],
  ];
  for (const [label, body] of [
    ['single-part', small],
    ['multipart', big],
  ] as const) {
    for (const [what, fault] of sourceFaults) {
      it(
        `${label}: a source GET ${what}, one attempt: the copy fails naming the source; the destination holds nothing`,
        { timeout: 60_000 },
        async () => {
          const key = `src-${label}-${what}`.replace(/ /g, '-');
          await seedSrc.put(key, body, { contentLength: body.length });
          const { src, dst } = stores();
          try {
            srcProxy.inject(isOp('GetObject', srcBucket, key), fault, 1);
            const [r] = await copyKey({ store: src, key }, [{ store: dst, key }], { retry: ONE });
            assert.equal(r!.outcome, 'failed', `one attempt, the GET failed: ${r!.error?.message}`);
            // A body corrupted on the way to a single-part PUT is refused by the destination against
            // the source's MD5 (Content-MD5): BadDigest, which cannot tell which hop flipped the byte.
            if (!(what === 'corrupted' && label === 'single-part' && /BadDigest/.test(r!.error?.message ?? ''))) {
              assert.ok(r!.error?.message.includes(srcBucket), `the error names the source side: ${r!.error?.message}`);
              assert.ok(
                !r!.error?.message.includes(dstBucket),
                `the error does not blame the destination: ${r!.error?.message}`,
              );
            }
            assert.equal(await nothingOrExact(key, body), false, 'nothing was left in the destination');
            await noUploadsLeft();
          } finally {
            srcProxy.clear();
            src.close();
            dst.close();
          }
        },
      );

      it(
        `${label}: a source GET ${what}, with retries: the destination ends with the exact bytes`,
        { timeout: 90_000 },
        async () => {
          const key = `src-retry-${label}-${what}`.replace(/ /g, '-');
          await seedSrc.put(key, body, { contentLength: body.length });
          const { src, dst } = stores();
          try {
            srcProxy.inject(isOp('GetObject', srcBucket, key), fault, 1);
            const [r] = await copyKey({ store: src, key }, [{ store: dst, key }], { retry: THREE });
            assert.equal(r!.outcome, 'copied', r!.error?.message);
            assert.equal(await nothingOrExact(key, body), true);
            await noUploadsLeft();
          } finally {
            srcProxy.clear();
            src.close();
            dst.close();
          }
        },
      );
    }

    const destFaults: Array<[string, Fault]> = [
      ['refused mid-body (cut)', { kind: 'cut-request' }],
      ['stalled mid-body', { kind: 'stall-request' }],
      ['answered 500', { kind: 'status', status: 500, code: 'InternalError' }],
    ];
    for (const [what, fault] of destFaults) {
      it(
        `${label}: the destination write ${what}, one attempt: the copy fails naming the destination; it holds nothing`,
        { timeout: 60_000 },
        async () => {
          const key = `dst-${label}-${what}`.replace(/[ ()]/g, '-');
          await seedSrc.put(key, body, { contentLength: body.length });
          const { src, dst } = stores();
          try {
            dstProxy.inject(isOp(['PutObject', 'UploadPart'], dstBucket, key), fault, 1);
            const [r] = await copyKey({ store: src, key }, [{ store: dst, key }], { retry: ONE });
            assert.equal(r!.outcome, 'failed', `one attempt, the write failed: ${r!.error?.message}`);
            assert.doesNotMatch(
              r!.error?.message ?? '',
              /GetObject/,
              `the error does not blame the source read: ${r!.error?.message}`,
            );
            assert.equal(await nothingOrExact(key, body), false, 'nothing was left in the destination');
          } finally {
            dstProxy.clear();
            src.close();
            dst.close();
          }
          // An aborted multipart upload may be finished off a moment later.
          await noUploadsLeft();
        },
      );
    }
  }

  describe('GET-first (a publish: no size told)', () => {
    for (const [label, size, blindExpected] of [
      ['0 bytes', 0, true],
      ['exactly 16 MiB', BLIND_MAX_BYTES, true],
      ['16 MiB + 1', BLIND_MAX_BYTES + 1, false],
    ] as const) {
      it(
        `${label}: copied exactly; ` +
          (blindExpected
            ? 'one source GET, no HEAD before it (one after the write, to settle it)'
            : 'the first GET is dropped, HEAD path'),
        { timeout: 120_000 },
        async () => {
          const key = `gf-${size}`;
          const body = size === 0 ? Buffer.alloc(0) : randomBytes(size);
          await seedSrc.put(key, body, { contentLength: body.length });
          const { src, dst } = stores({ multipart_threshold: '64MiB' });
          const before = srcProxy.requests.length;
          try {
            const [r] = await copyKey({ store: src, key }, [{ store: dst, key }], {
              retry: THREE,
              blindUpTo: BLIND_MAX_BYTES,
            });
            assert.equal(r!.outcome, 'copied', r!.error?.message);
            assert.equal(await nothingOrExact(key, body), true);
            const reqs = srcProxy.requests.slice(before);
            const heads = reqs.filter(isOp('HeadObject', srcBucket, key)).length;
            const gets = reqs.filter(isOp('GetObject', srcBucket, key)).length;
            if (blindExpected) {
              // No HEAD before the GET; the one after the write settles the copy (the last write re-checks).
              assert.equal(heads, 1, 'one source HEAD, after the write');
              assert.equal(gets, 1, 'one source GET');
              const order = reqs
                .filter((r) => isOp('HeadObject', srcBucket, key)(r) || isOp('GetObject', srcBucket, key)(r))
                .map((r) => (isOp('GetObject', srcBucket, key)(r) ? 'GET' : 'HEAD'));
              assert.deepEqual(order, ['GET', 'HEAD']);
            } else {
              // The first GET is dropped at its headers; the HEAD path (the destination HEADed) reads again.
              assert.equal(gets, 2, 'the first GET dropped, one more to copy');
              assert.ok(
                dstProxy.requests.filter(isOp('HeadObject', dstBucket, key)).length >= 1,
                'the destination was HEADed',
              );
            }
            // Copied again: already there, so a large one is not re-sent.
            if (!blindExpected) {
              const w = dstProxy.requests.length;
              const [again] = await copyKey({ store: src, key }, [{ store: dst, key }], {
                retry: THREE,
                blindUpTo: BLIND_MAX_BYTES,
              });
              assert.equal(again!.outcome, 'skipped');
              assert.equal(
                dstProxy.requests.slice(w).filter(isOp(['PutObject', 'UploadPart'])).length,
                0,
                'nothing re-sent',
              );
            }
          } finally {
            src.close();
            dst.close();
          }
        },
      );
    }

    for (const [what, fault] of [
      ['answered 503', { kind: 'status', status: 503, code: 'SlowDown' }],
      ['reset', { kind: 'drop' }],
      ['cut mid-body', { kind: 'cut-response' }],
      ['stalled mid-body', { kind: 'stall-response' }],
    ] as Array<[string, Fault]>) {
      it(`the first GET ${what}: the destination ends with the exact bytes`, { timeout: 60_000 }, async () => {
        const key = `gf-fault-${what}`.replace(/ /g, '-');
        await seedSrc.put(key, small, { contentLength: small.length });
        const { src, dst } = stores();
        try {
          srcProxy.inject(isOp('GetObject', srcBucket, key), fault, 1);
          const [r] = await copyKey({ store: src, key }, [{ store: dst, key }], {
            retry: THREE,
            blindUpTo: BLIND_MAX_BYTES,
          });
          assert.equal(r!.outcome, 'copied', r!.error?.message);
          assert.equal(await nothingOrExact(key, small), true);
        } finally {
          srcProxy.clear();
          src.close();
          dst.close();
        }
      });
    }

    it('a key deleted before its copy: gone, nothing written', { timeout: 60_000 }, async () => {
      const key = 'gf-deleted';
      const { src, dst } = stores();
      try {
        const [r] = await copyKey({ store: src, key }, [{ store: dst, key }], {
          retry: THREE,
          blindUpTo: BLIND_MAX_BYTES,
        });
        assert.equal(r!.outcome, 'gone');
        assert.equal(await seedDst.head(key), null);
      } finally {
        src.close();
        dst.close();
      }
    });

    it(
      'a GET kept while the destination has no upload slot, idle past read_timeout: read again, ' +
        'copied on the first attempt',
      { timeout: 90_000 },
      async () => {
        // Every upload slot of the destination (concurrency 1: 5 slots) held by writes that stall;
        // meanwhile a publish GETs its source and waits for a slot longer than the source's
        // read_timeout, which closes that GET. The copy must not pipe the dead body into its PUT.
        const src = new S3Store(endpointConfig({ ...server, endpoint: srcUrl }, srcBucket, { read_timeout: 2 }));
        const dst = new S3Store(
          destConfig({ ...server, endpoint: dstUrl }, dstBucket, { read_timeout: 4, concurrency: 1 }),
        );
        const holders = Array.from({ length: 5 }, (_, i) => `slot-holder-${i}`);
        const key = 'gf-waits-for-slot';
        const body = randomBytes(8 * 1024 * 1024);
        try {
          for (const k of holders) await seedSrc.put(k, small, { contentLength: small.length });
          await seedSrc.put(key, body, { contentLength: body.length });
          dstProxy.inject(
            isOp('PutObject', dstBucket, (k) => k.startsWith('slot-holder-')),
            { kind: 'stall-request' },
            5,
          );
          const held = holders.map((k) =>
            copyKey({ store: src, key: k }, [{ store: dst, key: k }], { retry: ONE, blind: true }),
          );
          await new Promise((r) => setTimeout(r, 300));
          const [r] = await copyKey({ store: src, key }, [{ store: dst, key }], {
            retry: ONE,
            blindUpTo: BLIND_MAX_BYTES,
          });
          await Promise.all(held);
          assert.equal(r!.outcome, 'copied', r!.error?.message);
          assert.equal(await nothingOrExact(key, body), true);
        } finally {
          dstProxy.clear();
          src.close();
          dst.close();
        }
      },
    );

    it(
      'two destinations, one refusing its write: the other gets the bytes, the failure names the refusing one',
      { timeout: 60_000 },
      async () => {
        const key = 'gf-two';
        const other = uniqueBucket('lb-dst2');
        const seed2 = await freshStore(server, other);
        await seedSrc.put(key, small, { contentLength: small.length });
        const { src, dst } = stores();
        const dst2 = new S3Store(destConfig(server, other, {}));
        try {
          dstProxy.inject(isOp('PutObject', dstBucket, key), { kind: 'cut-request' }, 1);
          const rs = await copyKey(
            { store: src, key },
            [
              { store: dst, key },
              { store: dst2, key },
            ],
            { retry: ONE, blindUpTo: BLIND_MAX_BYTES },
          );
          assert.equal(rs[1]!.outcome, 'copied', rs[1]!.error?.message);
          assert.equal(rs[0]!.outcome, 'failed');
          assert.doesNotMatch(rs[0]!.error?.message ?? '', /GetObject/);
          assert.equal(await nothingOrExact(key, small), false);
          assert.equal(md5(await readAll((await seed2.get(key)).body)), md5(small));
        } finally {
          dstProxy.clear();
          src.close();
          dst.close();
          dst2.close();
          await dropStore(seed2).catch(() => {});
        }
      },
    );
  });
});
