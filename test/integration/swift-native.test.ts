/**
 * `type = swift`: the project's real Swift through its native API (tempauth v1), both ways
 * with Ceph RGW and to Swift's own s3api. Asserted is what a user checks: the keys, bytes,
 * metadata and headers in the destination, the SLO and its segments as Swift stores them,
 * the report, and s3s3bucket's exit code and error line.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BucketClient } from '../../src/api/bucket-client.js';
import { parseConfig } from '../../src/api/config.js';
import { SwiftStore } from '../../src/api/store/swift-store.js';
import type { ObjectStore } from '../../src/api/store/object-store.js';
import { compareKeys } from '../../src/api/sweep/ordered.js';
import { multipartUpload } from '../../src/api/copy/multipart.js';
import { listUploads } from '../../src/api/uploads/manage.js';
import { KEY_SHAPES, ORDER_KEYS } from '../helpers/keys.js';
import { md5Hex, putAll, readAll } from '../helpers/seed.js';
import { sectionIni } from '../helpers/servers.js';
import type { RequestInfo } from '../helpers/fault-proxy.js';
import { errorLines, runBucketCli } from '../helpers/fault-rig.js';
import { cephServer, swiftIni, swiftNames, swiftRig, swiftServer } from '../helpers/swift.js';

const ceph = cephServer();
const swift = swiftServer();
const MiB = 1024 * 1024;
const SLO = { multipart_threshold: '5M', multipart_chunksize: '5M' };
const LONG_KEY = KEY_SHAPES.find((k) => k.startsWith('exact1024/'))!;

/** The metadata and standard headers one object carries, as a user would set them. */
const DRESSED = {
  key: 'dressed/report.html',
  body: Buffer.from('<html>dressed</html>'),
  options: {
    contentType: 'text/html; charset=utf-8',
    cacheControl: 'max-age=600, public',
    contentDisposition: 'attachment; filename="report.html"',
    contentEncoding: 'identity',
    contentLanguage: 'de-CH',
    expires: 'Thu, 01 Dec 2033 16:00:00 GMT',
    metadata: { owner: 'alice', 'project-id': '42' },
  },
};

/** Dot segments: a URL parser would resolve them; Swift and s3s3 must keep them as bytes. */
const DOT_KEYS = ['.', '..', '../lead', 'dots/..', 'dots/../up', 'dots/./here'];

function shapes(): Array<{ key: string; body: Buffer; options?: typeof DRESSED.options }> {
  return [
    ...[...KEY_SHAPES, ...DOT_KEYS].map((key) => ({
      key,
      body: key.endsWith('/') ? Buffer.alloc(0) : Buffer.from(`shape ${key}`),
    })),
    ...ORDER_KEYS.map((key) => ({ key, body: Buffer.from(key) })),
    DRESSED,
  ];
}

function client(text: string): BucketClient {
  return new BucketClient(parseConfig(text, { file: 'swift-native.ini' }));
}

async function keysOf(store: ObjectStore): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list()) out.push(o.key);
  return out;
}

/** The destination holds exactly these objects, byte for byte, in byte order; DRESSED with its headers. */
async function assertMirror(
  dst: ObjectStore,
  objects: ReadonlyArray<{ key: string; body: Buffer }>,
  what: string,
): Promise<void> {
  const want = objects.map((o) => o.key).sort(compareKeys);
  assert.deepEqual(await keysOf(dst), want, `${what}: every key, in byte order`);
  for (const o of objects) {
    const got = await dst.get(o.key);
    assert.equal(md5Hex(await readAll(got.body)), md5Hex(o.body), `${what}: ${JSON.stringify(o.key)} byte-identical`);
  }
  const h = await dst.head(DRESSED.key);
  assert.ok(h, `${what}: the dressed object is there`);
  const o = DRESSED.options;
  assert.deepEqual(
    {
      contentType: h.contentType,
      cacheControl: h.cacheControl,
      contentDisposition: h.contentDisposition,
      contentEncoding: h.contentEncoding,
      contentLanguage: h.contentLanguage,
      expires: h.expires && new Date(h.expires).toISOString(),
    },
    {
      contentType: o.contentType,
      cacheControl: o.cacheControl,
      contentDisposition: o.contentDisposition,
      contentEncoding: o.contentEncoding,
      contentLanguage: o.contentLanguage,
      expires: new Date(o.expires).toISOString(),
    },
    `${what}: the standard headers arrived`,
  );
  assert.equal(h.metadata.owner, 'alice', `${what}: user metadata arrived`);
  assert.equal(h.metadata['project-id'], '42', `${what}: user metadata arrived`);
}

/** Swift requests of one container as the proxy saw them: `/v1/AUTH_x/<container>[/<object>]`. */
function inContainer(
  container: string,
  method?: string,
  object?: (name: string) => boolean,
): (r: RequestInfo) => boolean {
  return (r) => {
    const path = r.url.split('?')[0]!;
    const m = /^\/v1\/[^/]+\/([^/]+)(?:\/(.*))?$/.exec(path);
    if (!m || decodeURIComponent(m[1]!) !== container) return false;
    if (method !== undefined && r.method !== method) return false;
    if (object === undefined) return true;
    return m[2] !== undefined && object(decodeURIComponent(m[2]));
  };
}

const isListing = (container: string) => (r: RequestInfo) =>
  inContainer(container, 'GET')(r) && /^\/v1\/[^/]+\/[^/]+$/.test(r.url.split('?')[0]!);

describe('type = swift: the native Swift API against real servers', () => {
  const { s3, native, track, proxy, cleanup } = swiftRig(ceph);
  after(cleanup);

  /** Every key shape through one sweep from `src` to `dst`, checked as a user would; a second sweep copies nothing. */
  const roundTrip = async (src: ObjectStore, dst: ObjectStore, text: string, what: string) => {
    const objects = shapes();
    await putAll(src, objects);
    const c = track(client(text));
    assert.equal(c.destinations[0]!.constructor, dst.constructor, `${what}: the section type picks the store`);
    const first = await c.duplicate();
    assert.deepEqual(first.failures, []);
    assert.equal(first.copied, objects.length);
    await assertMirror(dst, objects, what);
    const second = await c.duplicate();
    assert.equal(second.copied, 0, `${what}: nothing recopied`);
    assert.equal(second.skipped, objects.length);
  };

  it(
    'S3 (Ceph) -> Swift native: every key shape, metadata and standard headers; a second sweep copies nothing',
    { timeout: 120_000 },
    async () => {
      const [src, dst] = [await s3('ceph-to-native'), await native('ceph-to-native-dst')];
      await roundTrip(
        src,
        dst,
        sectionIni('source', ceph, src.bucket) + swiftIni('dest1', dst.bucket),
        'Ceph -> Swift native',
      );
    },
  );

  it(
    'Swift native -> S3 (Ceph): every key shape, metadata and standard headers; a second sweep copies nothing',
    { timeout: 120_000 },
    async () => {
      const [src, dst] = [await native('native-to-ceph'), await s3('native-to-ceph-dst')];
      await roundTrip(
        src,
        dst,
        swiftIni('source', src.bucket) + sectionIni('dest1', ceph, dst.bucket),
        'Swift native -> Ceph',
      );
    },
  );

  it(
    'Swift native -> Swift s3api: every key shape, metadata and standard headers; a second sweep copies nothing',
    { timeout: 120_000 },
    async () => {
      const [src, dst] = [await native('native-to-s3api'), await s3('native-to-s3api-dst', swift)];
      await roundTrip(
        src,
        dst,
        swiftIni('source', src.bucket) + sectionIni('dest1', swift, dst.bucket),
        'Swift native -> Swift s3api',
      );
    },
  );

  it(
    'Swift native -> Swift native in one account: copied server-side, metadata kept',
    { timeout: 60_000 },
    async () => {
      const src = await native('native-ss-src');
      const dst = await native('native-ss-dst');
      const slo = { key: 'slo/source', body: randomBytes(11 * MiB) };
      const objects = [
        DRESSED,
        { key: 'a/b c?d#e%f', body: randomBytes(1000) },
        { key: LONG_KEY, body: randomBytes(10) },
        slo,
      ];
      await putAll(src, objects.slice(0, -1));
      // An SLO in the source, its ETag no MD5: Swift copies its content into one object.
      await multipartUpload(src, slo.key, Readable.from([slo.body]), {
        size: slo.body.length,
        partSize: 5 * MiB,
        parallel: 2,
        headers: {},
      });
      assert.equal((await src.head(slo.key))?.etagIsMd5, false);
      const c = track(client(swiftIni('source', src.bucket) + swiftIni('dest1', dst.bucket)));
      const report = await c.duplicate();
      assert.deepEqual(report.failures, []);
      assert.equal(report.copied, objects.length);
      const again = await c.copy(DRESSED.key, { force: true });
      assert.equal(again.results[0]?.method, 'server-side', 'Swift copied it itself (X-Copy-From)');
      for (const o of objects)
        assert.equal(md5Hex(await readAll((await dst.get(o.key)).body)), md5Hex(o.body), JSON.stringify(o.key));
      assert.equal((await dst.head(DRESSED.key))?.metadata.owner, 'alice');
      const second = await c.duplicate();
      assert.equal(
        second.copied,
        0,
        'nothing recopied, the SLO copied server-side included (its source ETag is recorded)',
      );
    },
  );

  it(
    'a large object becomes an SLO: segments in <container>_segments named from a hash of the key, ' +
      'skipped next time, old segments gone on overwrite and delete',
    { timeout: 180_000 },
    async () => {
      const src = await s3('slo-src');
      const dst = await native('slo-dst');
      const big = { key: 'big/one', body: randomBytes(12 * MiB + 3) };
      const long = { key: LONG_KEY, body: randomBytes(11 * MiB) };
      await putAll(src, [big, long]);
      const c = track(
        client(
          sectionIni('source', ceph, src.bucket) +
            swiftIni('dest1', dst.bucket, { ...SLO, delete: true, max_delete: '100%' }),
        ),
      );
      const segments = () => swiftNames(`${dst.bucket}_segments`);

      const first = await c.duplicate();
      assert.deepEqual(first.failures, []);
      assert.equal(first.copied, 2);
      const head = await dst.head(big.key);
      assert.equal(head?.size, big.body.length);
      assert.equal(head?.etagIsMd5, false, 'Swift says X-Static-Large-Object: its ETag is no MD5');
      assert.notEqual(head?.etag, md5Hex(big.body));
      assert.equal(head?.metadata['s3s3-md5'], md5Hex(big.body), 'the MD5 is recorded for later sweeps');
      for (const o of [big, long])
        assert.equal(
          md5Hex(await readAll((await dst.get(o.key)).body)),
          md5Hex(o.body),
          `${o.key.slice(0, 20)} reads back whole`,
        );
      let segs = await segments();
      assert.equal(segs.length, 6, `3 segments of 5 MiB for each object: ${segs.join(', ')}`);
      for (const s of segs) assert.ok(Buffer.byteLength(s) < 100, `segment names are short whatever the key: ${s}`);
      assert.deepEqual(
        await keysOf(dst),
        [big.key, LONG_KEY].sort(compareKeys),
        'the segments are not in the container itself',
      );

      const second = await c.duplicate();
      assert.equal(second.copied, 0, 'the recorded MD5 lets the next sweep skip the SLOs');
      assert.equal(second.skipped, 2);

      // Overwritten by a new large version: only the new segments remain.
      const newer = { key: big.key, body: randomBytes(7 * MiB) };
      await putAll(src, [newer]);
      assert.equal((await c.duplicate()).copied, 1);
      assert.equal(md5Hex(await readAll((await dst.get(big.key)).body)), md5Hex(newer.body));
      segs = await segments();
      assert.equal(segs.length, 5, `2 new segments and the long key's 3: ${segs.join(', ')}`);

      // Overwritten by a small object: the SLO's segments go.
      const small = { key: big.key, body: Buffer.from('small now') };
      await putAll(src, [small]);
      assert.equal((await c.duplicate()).copied, 1);
      assert.equal((await dst.head(big.key))?.etagIsMd5, undefined, 'a plain object again');
      assert.equal((await segments()).length, 3, 'only the long key segments are left');

      // Deleted at the source: the sweep with delete = true removes the manifest and its segments.
      await src.delete(LONG_KEY);
      const deleting = await c.duplicate();
      assert.equal(deleting.deleted, 1);
      assert.deepEqual(await keysOf(dst), [big.key]);
      assert.deepEqual(await segments(), [], 'no segment left behind');
    },
  );

  it(
    'the one-key paths (the listener): sync copies a new SLO, deleteKey removes it with its segments, ' +
      'delete_mode = trash moves a key server-side',
    { timeout: 120_000 },
    async () => {
      const src = await s3('one-key-src');
      const dst = await native('one-key-dst');
      const big = { key: 'one/big', body: randomBytes(11 * MiB) };
      const small = { key: 'one/small', body: randomBytes(100) };
      await putAll(src, [big, small]);
      const c = track(
        client(
          sectionIni('source', ceph, src.bucket) +
            swiftIni('dest1', dst.bucket, { ...SLO, delete: true, delete_mode: 'trash', trash_prefix: 'trash/' }),
        ),
      );
      for (const o of [big, small]) {
        const r = await c.sync(o.key);
        assert.ok(r.ok, JSON.stringify(r.results.map((x) => [x.outcome, x.error?.message])));
        assert.equal(r.results[0]!.outcome, 'copied');
        assert.equal(md5Hex(await readAll((await dst.get(o.key)).body)), md5Hex(o.body));
      }
      assert.equal((await swiftNames(`${dst.bucket}_segments`)).length, 3);
      assert.equal((await c.sync(big.key)).results[0]!.outcome, 'skipped', 'in place: skipped');
      await src.delete(small.key);
      const trashed = await c.deleteKey(small.key);
      assert.equal(trashed.results[0]!.outcome, 'trashed');
      assert.equal(
        md5Hex(await readAll((await dst.get(`trash/${small.key}`)).body)),
        md5Hex(small.body),
        'moved under trash_prefix',
      );
      await src.delete(big.key);
      const gone = await c.deleteKey(big.key, { delete: true });
      assert.ok(['deleted', 'trashed'].includes(gone.results[0]!.outcome), gone.results[0]!.outcome);
      assert.equal(await dst.head(big.key), null);
      assert.deepEqual(await swiftNames(`${dst.bucket}_segments`), [], 'its segments went with it');
      assert.equal(
        md5Hex(await readAll((await dst.get(`trash/${big.key}`)).body)),
        md5Hex(big.body),
        'the trashed copy is whole',
      );
    },
  );

  it(
    'an SLO upload that fails part-way is kept, resumed by the next run, and leaves no segment behind',
    { timeout: 120_000 },
    async () => {
      const src = await s3('slo-fail-src');
      const dst = await native('slo-fail-dst');
      await putAll(src, [{ key: 'big/fails', body: randomBytes(16 * MiB) }]);
      const { proxy: p, url } = await proxy();
      const c = track(
        client(
          sectionIni('source', ceph, src.bucket, { max_retries: 0 }) +
            swiftIni('dest1', dst.bucket, { ...SLO, auth_url: url, max_retries: 0 }),
        ),
      );
      const refused = p.inject(
        inContainer(`${dst.bucket}_segments`, 'PUT', (n) => n.endsWith('/00003')),
        { kind: 'status', status: 500, code: 'InternalError' },
        Number.POSITIVE_INFINITY,
      );
      const report = await c.duplicate();
      assert.ok(refused.hits >= 1, 'the third segment was refused');
      assert.equal(report.failed, 1);
      assert.deepEqual(await keysOf(dst), [], 'no object');
      const kept = await listUploads(c.uploads.journal, c.destinations);
      assert.deepEqual(
        kept.map((u) => [u.key, u.destination]),
        [['big/fails', 'dest1']],
        'the upload is kept, to be resumed',
      );
      const before = await swiftNames(`${dst.bucket}_segments`);
      assert.ok(before.length >= 2, `the segments put before the failure are kept: ${before.join(' ')}`);

      p.clear();
      const again = await c.duplicate();
      assert.equal(again.copied, 1, JSON.stringify(again.failures));
      assert.deepEqual(await keysOf(dst), ['big/fails']);
      const after = await swiftNames(`${dst.bucket}_segments`);
      assert.equal(after.length, Math.ceil(16 / 5), `only the object's own segments (5 MiB each): ${after.join(' ')}`);
      for (const name of before) assert.ok(after.includes(name), `segment ${name} was kept and used`);
      assert.deepEqual(await listUploads(c.uploads.journal, c.destinations), [], 'nothing left to resume');
    },
  );

  it(
    'a wrong key: s3s3bucket exits 1 with one clear error line naming the section, and never prints the key',
    { timeout: 60_000 },
    async () => {
      const src = await s3('wrong-key-src');
      await putAll(src, [{ key: 'a', body: Buffer.from('a') }]);
      const wrong = `wrong-${randomBytes(6).toString('hex')}`;
      const run = await runBucketCli(
        sectionIni('source', ceph, src.bucket) + swiftIni('dest1', 'never-made', { key: wrong }),
        ['--json'],
      );
      assert.equal(run.code, 1, run.stderr);
      const errors = errorLines(run.stderr);
      assert.equal(errors.length, 1, `one error line:\n${run.stderr}`);
      assert.match(errors[0]!, /\[dest1\]/, errors[0]);
      assert.match(errors[0]!, /refused user "test:tester".*check user and key/, errors[0]);
      assert.ok(!run.stderr.includes(wrong) && !run.stdout.includes(wrong), 'the key is never printed');
      assert.doesNotMatch(run.stderr, /\n\s+at .*:\d+:\d+/, 'no stack trace');
    },
  );

  it(
    'lists over three pages (list_page_size = 4) with marker, in byte order, and copies every key',
    { timeout: 60_000 },
    async () => {
      const src = await native('pages-src');
      const dst = await s3('pages-dst');
      const objects = [
        ...Array.from({ length: 9 }, (_, i) => ({ key: `p/${i}`, body: randomBytes(100 + i) })),
        ...ORDER_KEYS.map((key) => ({ key, body: Buffer.from(key) })),
      ];
      await putAll(src, objects);
      const { proxy: p, url } = await proxy();
      const c = track(
        client(
          swiftIni('source', src.bucket, { auth_url: url, list_page_size: 4 }) + sectionIni('dest1', ceph, dst.bucket),
        ),
      );
      const report = await c.duplicate();
      assert.deepEqual(report.failures, []);
      assert.equal(report.copied, objects.length);
      const pages = p.requests.filter(isListing(src.bucket));
      assert.ok(pages.length >= 4, `13 keys in pages of 4: ${pages.length} listing requests`);
      assert.ok(
        pages.every((r) => /[?&]limit=4(&|$)/.test(r.url) && /format=json/.test(r.url)),
        'limit and format=json on every page',
      );
      assert.ok(
        pages.slice(1).every((r) => /[?&]marker=/.test(r.url)),
        'each later page starts at a marker',
      );
      assert.deepEqual(await keysOf(dst), objects.map((o) => o.key).sort(compareKeys));
    },
  );

  it('a 401 mid-run: one new token, the request sent again, the copies done', { timeout: 60_000 }, async () => {
    const src = await s3('token-src');
    const dst = await native('token-dst');
    const objects = Array.from({ length: 6 }, (_, i) => ({ key: `t/${i}`, body: randomBytes(2000) }));
    await putAll(src, objects);
    const { proxy: p, url } = await proxy();
    const c = track(
      client(sectionIni('source', ceph, src.bucket) + swiftIni('dest1', dst.bucket, { auth_url: url, concurrency: 4 })),
    );
    // The listing and a streamed PUT are each refused once, as with a token revoked or expired early.
    const listing = p.inject(isListing(dst.bucket), { kind: 'status', status: 401, code: 'Unauthorized' }, 1);
    const put = p.inject(
      inContainer(dst.bucket, 'PUT', () => true),
      { kind: 'status', status: 401, code: 'Unauthorized' },
      1,
    );
    const report = await c.duplicate();
    assert.equal(listing.hits, 1);
    assert.equal(put.hits, 1);
    assert.deepEqual(report.failures, []);
    assert.equal(report.copied, objects.length);
    const store = c.destinations[0] as SwiftStore;
    assert.ok(
      store.auth.tokensIssued >= 2 && store.auth.tokensIssued <= 3,
      `a new token per refusal, not per request: ${store.auth.tokensIssued}`,
    );
    for (const o of objects) assert.equal(md5Hex(await readAll((await dst.get(o.key)).body)), md5Hex(o.body));
  });

  describe('fault matrix rows through a proxy in front of Swift native', () => {
    const slowDown = {
      kind: 'status',
      status: 503,
      code: 'ServiceUnavailable',
      headers: { 'retry-after': '1' },
    } as const;

    /** Twelve objects and one SLO-sized one, Swift native on `role`'s side behind a fault proxy, Ceph on the other. */
    const row = async (label: string, role: 'source' | 'dest1') => {
      const all = [
        ...Array.from({ length: 12 }, (_, i) => ({
          key: `f/${String(i).padStart(2, '0')}`,
          body: randomBytes(1000 + i * 5000),
        })),
        { key: 'f/zz-slo', body: randomBytes(6 * MiB + 1) },
      ];
      const src = role === 'source' ? await native(`${label}-src`) : await s3(`${label}-src`);
      const dst = role === 'dest1' ? await native(`${label}-dst`) : await s3(`${label}-dst`);
      await putAll(src, all);
      const { proxy: p, url } = await proxy();
      const text =
        role === 'source'
          ? swiftIni('source', src.bucket, { auth_url: url }) + sectionIni('dest1', ceph, dst.bucket, SLO)
          : sectionIni('source', ceph, src.bucket) + swiftIni('dest1', dst.bucket, { ...SLO, auth_url: url });
      const swiftSide = role === 'source' ? src.bucket : dst.bucket;
      return { all, dst, p, c: track(client(text)), swiftSide };
    };
    const assertCopied = async (
      r: Awaited<ReturnType<typeof row>>,
      report: Awaited<ReturnType<BucketClient['duplicate']>>,
    ) => {
      assert.deepEqual(report.failures, []);
      assert.equal(report.copied, r.all.length);
      for (const o of r.all) assert.equal(md5Hex(await readAll((await r.dst.get(o.key)).body)), md5Hex(o.body), o.key);
      if (r.dst instanceof SwiftStore)
        assert.equal((await swiftNames(`${r.dst.bucket}_segments`)).length, 2, 'the SLO two segments and nothing else');
    };

    it(
      '[dest1] a 3 s 503 storm on PUT and HEAD: everything copied (SLO included), no stray segment',
      { timeout: 120_000 },
      async () => {
        const r = await row('storm-dst', 'dest1');
        const storm = r.p.storm(
          (q) =>
            (q.method === 'PUT' || q.method === 'HEAD') &&
            (inContainer(r.swiftSide)(q) || inContainer(`${r.swiftSide}_segments`)(q)),
          slowDown,
          3000,
        );
        const report = await r.c.duplicate();
        assert.ok(storm.hits >= 2, `the storm refused requests (${storm.hits})`);
        await assertCopied(r, report);
      },
    );

    it('[source] a 3 s 503 storm on GET and HEAD: everything copied', { timeout: 120_000 }, async () => {
      const r = await row('storm-src', 'source');
      const storm = r.p.storm(
        (q) => (q.method === 'GET' || q.method === 'HEAD') && inContainer(r.swiftSide, undefined, () => true)(q),
        slowDown,
        3000,
      );
      const report = await r.c.duplicate();
      assert.ok(storm.hits >= 2, `the storm refused requests (${storm.hits})`);
      await assertCopied(r, report);
    });

    it(
      '[source] connections reset mid-body on GET: retried, everything byte-identical',
      { timeout: 120_000 },
      async () => {
        const r = await row('reset-src', 'source');
        const cut = r.p.inject(
          inContainer(r.swiftSide, 'GET', () => true),
          { kind: 'cut-response' },
          4,
        );
        const report = await r.c.duplicate();
        assert.equal(cut.hits, 4);
        await assertCopied(r, report);
      },
    );

    it(
      '[dest1] connections reset mid-upload (objects and segments): retried, ' +
        'everything byte-identical, no stray segment',
      { timeout: 120_000 },
      async () => {
        const r = await row('reset-dst', 'dest1');
        const cutObjects = r.p.inject(
          inContainer(r.swiftSide, 'PUT', () => true),
          { kind: 'cut-request' },
          3,
        );
        const cutSegments = r.p.inject(
          inContainer(`${r.swiftSide}_segments`, 'PUT', () => true),
          { kind: 'cut-request' },
          1,
        );
        const report = await r.c.duplicate();
        assert.ok(
          cutObjects.hits >= 1 && cutSegments.hits === 1,
          `resets injected (${cutObjects.hits} objects, ${cutSegments.hits} segments)`,
        );
        await assertCopied(r, report);
      },
    );
  });
});
