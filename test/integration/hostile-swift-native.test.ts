/**
 * `type = swift` under hostile conditions, against the real Swift (native API, tempauth) and
 * Ceph RGW: astral, NFC/NFD and control-character keys at listing page edges both ways, a
 * second sweep with delete = true that must change nothing, non-ASCII metadata, stalled and
 * corrupted bodies and listings through a fault proxy, dead auth and storage URLs, a token
 * refused mid-sweep, the delete guards and trash against Swift native, an SLO replaced
 * by a small object and then deleted, and another application's SLO whose segments s3s3
 * must not delete. Asserted is what a user checks: bytes in the
 * destination, what was (not) deleted, the exit code and the one error line.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BucketClient } from '../../src/api/bucket-client.js';
import { parseConfig } from '../../src/api/config.js';
import type { ObjectStore } from '../../src/api/store/object-store.js';
import { compareKeys } from '../../src/api/sweep/ordered.js';
import { multipartUpload } from '../../src/api/copy/multipart.js';
import { CONTROL_KEYS } from '../helpers/keys.js';
import { md5Hex, putAll, readAll } from '../helpers/seed.js';
import { sectionIni } from '../helpers/servers.js';
import type { RequestInfo } from '../helpers/fault-proxy.js';
import { errorLines, runBucketCli } from '../helpers/fault-rig.js';
import { cephServer, swiftIni, swiftNames, swiftRig, swiftServer } from '../helpers/swift.js';

const ceph = cephServer();
const swift = swiftServer();
const MiB = 1024 * 1024;

/** Keys whose UTF-8 byte order differs from UTF-16 order, NFC/NFD twins, astral characters. */
const EDGE_KEYS = [
  'e/a',
  'e/caf\u00e9',
  'e/cafe\u0301',
  'e/\u00e9',
  'e/e\u0301',
  'e/\uff5e',
  'e/\u{1F600}',
  'e/\u{1F600}\u{1F601}',
  'e/\u{10FFFD}',
  'e/\u{1F600}/',
  'e/z',
  'e/\ud7ff',
  'e/\ue000',
];

/** 1024-byte keys (Swift's limit) built of 4-byte characters with ASCII padding. */
function key1024(prefix: string, fill: string): string {
  let k = prefix;
  while (Buffer.byteLength(k + fill) <= 1024) k += fill;
  while (Buffer.byteLength(k) < 1024) k += 'x';
  return k;
}
const LONG_KEYS = [key1024('long/a', '\u{1F600}'), key1024('long/b', '\u00e9'), key1024('long/c', 'z')];

const NASTY_KEYS = [
  ...EDGE_KEYS,
  ...LONG_KEYS,
  ...CONTROL_KEYS,
  '.',
  '..',
  'd/../x',
  'd/./x',
  'd/..',
  'k/end?',
  'k/end#',
  'k/end%',
  'k/end+',
  'k/end%2F',
  'k/slash/',
  'k/a?b=c&d',
];

function client(text: string): BucketClient {
  return new BucketClient(parseConfig(text, { file: 'hostile-swift.ini' }));
}

async function keysOf(store: ObjectStore): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list()) out.push(o.key);
  return out;
}

function objectsOf(keys: readonly string[]): Array<{ key: string; body: Buffer }> {
  return keys.map((key, i) => ({ key, body: Buffer.from(`${i}:${key}`) }));
}

/** Swift requests of one container as the proxy saw them: `/v1/AUTH_x/<container>[/<object>]`. */
function inContainer(container: string, method?: string, objectsOnly = false): (r: RequestInfo) => boolean {
  return (r) => {
    const path = r.url.split('?')[0]!;
    const m = /^\/v1\/[^/]+\/([^/]+)(?:\/(.*))?$/.exec(path);
    if (!m || decodeURIComponent(m[1]!) !== container) return false;
    if (method !== undefined && r.method !== method) return false;
    return !objectsOnly || m[2] !== undefined;
  };
}
const isListing = (container: string) => (r: RequestInfo) =>
  inContainer(container, 'GET')(r) && /^\/v1\/[^/]+\/[^/]+$/.test(r.url.split('?')[0]!);

/** A tiny auth v1 service handing out a real token but the storage URL given (e.g. a dead one). */
async function fakeAuthV1(storageUrl: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    void (async () => {
      const real = await fetch(swift.swift.authUrl, {
        headers: { 'x-auth-user': String(req.headers['x-auth-user']), 'x-auth-key': String(req.headers['x-auth-key']) },
      });
      res.writeHead(real.status, {
        'x-auth-token': real.headers.get('x-auth-token') ?? '',
        'x-storage-url': storageUrl,
        'content-length': '0',
      });
      res.end();
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth/v1.0`, server };
}

describe('type = swift under hostile keys, faults and bad input', () => {
  const servers: Server[] = [];
  const { s3, native, track, proxy, cleanup } = swiftRig(ceph);
  after(async () => {
    for (const s of servers) s.close();
    await cleanup();
  });

  for (const pageSize of [1, 2, 3]) {
    for (const way of ['ceph->native', 'native->ceph'] as const) {
      it(
        `${way}, list_page_size = ${pageSize} on both sides: astral, NFC/NFD, ` +
          `1024-byte and control-character keys at page edges; a second sweep with delete = true copies ` +
          `and deletes nothing`,
        { timeout: 180_000 },
        async () => {
          const keys = pageSize === 1 ? NASTY_KEYS : [...EDGE_KEYS, ...LONG_KEYS];
          const objects = objectsOf(keys);
          const src = way === 'ceph->native' ? await s3(`edge${pageSize}-src`) : await native(`edge${pageSize}-src`);
          const dst = way === 'ceph->native' ? await native(`edge${pageSize}-dst`) : await s3(`edge${pageSize}-dst`);
          await putAll(src, objects);
          const opts = { list_page_size: pageSize };
          const text =
            way === 'ceph->native'
              ? sectionIni('source', ceph, src.bucket, opts) +
                swiftIni('dest1', dst.bucket, { ...opts, delete: true, max_delete: '100%' })
              : swiftIni('source', src.bucket, opts) +
                sectionIni('dest1', ceph, dst.bucket, { ...opts, delete: true, max_delete: '100%' });
          const c = track(client(text));
          const first = await c.duplicate();
          assert.deepEqual(
            first.failures.map((f) => f.key),
            [],
          );
          assert.equal(first.copied, objects.length);
          assert.deepEqual(await keysOf(dst), [...keys].sort(compareKeys), 'every key, once, in byte order');
          for (const o of objects)
            assert.equal(md5Hex(await readAll((await dst.get(o.key)).body)), md5Hex(o.body), JSON.stringify(o.key));
          const second = await c.duplicate();
          assert.equal(second.copied, 0, 'nothing recopied');
          assert.equal(second.deleted, 0, 'nothing deleted: both listings merge in the same order');
          assert.equal(second.skipped, objects.length);
        },
      );
    }
  }

  it(
    'a Dynamic Large Object at a Swift native source: copied whole, listed with its real size, ' +
      'skipped by the next sweep (not recopied forever); a real empty object too',
    { timeout: 60_000 },
    async () => {
      const src = await native('dlo-src');
      const dst = await s3('dlo-dst');
      const s = await src.auth.session();
      const put = async (name: string, body: string, headers: Record<string, string> = {}) => {
        const r = await fetch(`${s.storageUrl}/${src.bucket}/${encodeURIComponent(name)}`, {
          method: 'PUT',
          headers: { 'x-auth-token': s.token, ...headers },
          body,
        });
        assert.ok(r.ok, `PUT ${name}: ${r.status}`);
      };
      await put('segs/1', 'hello ');
      await put('segs/2', 'world');
      await put('dlo', '', { 'x-object-manifest': `${src.bucket}/segs/` });
      await put('empty', '');
      const listed = new Map<string, number>();
      for await (const o of src.list()) listed.set(o.key, o.size);
      assert.equal(listed.get('dlo'), 11, 'the DLO is listed with the size a GET gives');
      assert.equal(listed.get('empty'), 0);
      const c = track(
        client(
          swiftIni('source', src.bucket) + sectionIni('dest1', ceph, dst.bucket, { delete: true, max_delete: '100%' }),
        ),
      );
      const first = await c.duplicate();
      assert.deepEqual(first.failures, []);
      assert.equal(first.copied, 4);
      assert.equal((await readAll((await dst.get('dlo')).body)).toString(), 'hello world');
      const second = await c.duplicate();
      assert.equal(second.copied, 0, 'nothing recopied: the DLO is not taken for a changed empty object');
      assert.equal(second.skipped, 4);
      assert.equal(second.deleted, 0);
    },
  );

  it(
    "a key over Swift's 1024-byte limit: one clear failure, not retried, and the keys beside it written",
    { timeout: 60_000 },
    async () => {
      const dst = await native('over-limit');
      const over = 'over/' + 'o'.repeat(1020);
      const started = performance.now();
      await assert.rejects(
        dst.put(over, Buffer.from('x'), { contentLength: 1 }),
        (err: Error & { errorClass?: string }) => {
          assert.match(err.message, /\[source\] PutObject .* failed: .*1024/, err.message);
          assert.equal(err.errorClass, 'object', 'a refusal of this key, not a retryable fault');
          return true;
        },
      );
      assert.ok(performance.now() - started < 5000, 'not retried');
      await putAll(dst, objectsOf(['over/ok', LONG_KEYS[1]!]));
      assert.deepEqual(await keysOf(dst), [LONG_KEYS[1]!, 'over/ok'].sort(compareKeys));
    },
  );

  it(
    'metadata with non-ASCII bytes and control-free punctuation survives Ceph -> Swift native -> Ceph byte for byte',
    { timeout: 60_000 },
    async () => {
      const src = await s3('meta-src');
      const mid = await native('meta-mid');
      const back = await s3('meta-back');
      // Node carries header bytes as latin1 strings: this is how UTF-8 metadata reads back.
      const raw = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
      const metadata = { who: raw('Zoë Ünïcødé 日本 \u{1F600}'), 'x-thing': raw('a=b; c="d", e'), plain: 'ascii' };
      await putAll(src, [
        { key: 'meta/one', body: Buffer.from('meta'), options: { metadata, contentType: 'text/plain; charset=utf-8' } },
      ]);
      const r1 = await track(
        client(sectionIni('source', ceph, src.bucket) + swiftIni('dest1', mid.bucket)),
      ).duplicate();
      assert.deepEqual(r1.failures, []);
      const r2 = await track(
        client(swiftIni('source', mid.bucket) + sectionIni('dest1', ceph, back.bucket)),
      ).duplicate();
      assert.deepEqual(r2.failures, []);
      for (const store of [mid, back] as ObjectStore[]) {
        const h = await store.head('meta/one');
        for (const [k, v] of Object.entries(metadata))
          assert.equal(
            Buffer.from(h?.metadata[k] ?? '', 'latin1').toString('utf8'),
            Buffer.from(v, 'latin1').toString('utf8'),
            `${k} on ${store.bucket}`,
          );
        assert.equal(h?.contentType, 'text/plain; charset=utf-8');
      }
    },
  );

  it(
    '[source] a corrupted and a stalled object body from Swift native: retried, the destination byte-identical',
    { timeout: 120_000 },
    async () => {
      const src = await native('bodies-src');
      const dst = await s3('bodies-dst');
      const objects = Array.from({ length: 6 }, (_, i) => ({ key: `b/${i}`, body: randomBytes(200_000 + i) }));
      await putAll(src, objects);
      const { proxy: p, url } = await proxy();
      const c = track(
        client(
          swiftIni('source', src.bucket, { auth_url: url, read_timeout: 2 }) + sectionIni('dest1', ceph, dst.bucket),
        ),
      );
      const objectGet = (name: string) => (r: RequestInfo) =>
        inContainer(src.bucket, 'GET', true)(r) && r.url.split('?')[0]!.endsWith(`/b/${name}`);
      const corrupt = p.inject(objectGet('1'), { kind: 'corrupt-response', at: 1000 }, 1);
      const stall = p.inject(objectGet('2'), { kind: 'stall-response', after: 5000 }, 1);
      const report = await c.duplicate();
      assert.equal(corrupt.hits, 1);
      assert.equal(stall.hits, 1);
      assert.deepEqual(report.failures, []);
      assert.equal(report.copied, objects.length);
      for (const o of objects) assert.equal(md5Hex(await readAll((await dst.get(o.key)).body)), md5Hex(o.body), o.key);
    },
  );

  it(
    '[dest1] bodies corrupted on the way to Swift native (a plain PUT whose source ETag is no MD5, ' +
      'an SLO segment): never stored wrong',
    { timeout: 120_000 },
    async () => {
      const src = await s3('corrupt-dst-src');
      const dst = await native('corrupt-dst-dst');
      const multi = { key: 'c/multipart-source', body: randomBytes(11 * MiB) };
      const plain = { key: 'c/plain', body: randomBytes(300_000) };
      await putAll(src, [plain]);
      // A multipart upload at the source: its ETag is no MD5, so no ETag can go with the PUT.
      await multipartUpload(src, multi.key, Readable.from([multi.body]), {
        size: multi.body.length,
        partSize: 5 * MiB,
        parallel: 2,
        headers: {},
      });
      const { proxy: p, url } = await proxy();
      const c = track(
        client(sectionIni('source', ceph, src.bucket) + swiftIni('dest1', dst.bucket, { auth_url: url })),
      );
      const corrupt = p.inject(inContainer(dst.bucket, 'PUT', true), { kind: 'corrupt-request', at: 4096 }, 2);
      const report = await c.duplicate();
      assert.equal(corrupt.hits, 2);
      for (const o of [multi, plain]) {
        const h = await dst.head(o.key);
        if (h)
          assert.equal(
            md5Hex(await readAll((await dst.get(o.key)).body)),
            md5Hex(o.body),
            `${o.key}: whatever is stored is right`,
          );
      }
      assert.deepEqual(report.failures, [], 'retried until right');
      assert.equal(report.copied, 2);
      // The same as an SLO: a corrupted segment is refused by Swift (ETag sent) and sent again.
      const slo = await native('corrupt-dst-slo');
      const c2 = track(
        client(
          sectionIni('source', ceph, src.bucket) +
            swiftIni('dest1', slo.bucket, { auth_url: url, multipart_threshold: '5M', multipart_chunksize: '5M' }),
        ),
      );
      const seg = p.inject(inContainer(`${slo.bucket}_segments`, 'PUT', true), { kind: 'corrupt-request', at: 100 }, 1);
      const r2 = await c2.duplicate();
      assert.equal(seg.hits, 1);
      assert.deepEqual(r2.failures, []);
      assert.equal(md5Hex(await readAll((await slo.get(multi.key)).body)), md5Hex(multi.body));
    },
  );

  it(
    '[dest1] an upload Swift stops reading, a segment too, and a manifest PUT answered 503: ' +
      'bounded by read_timeout, retried, everything whole, no stray segment',
    { timeout: 120_000 },
    async () => {
      const src = await s3('stall-dst-src');
      const dst = await native('stall-dst-dst');
      const objects = [
        { key: 's/plain', body: randomBytes(3 * MiB) },
        { key: 's/slo', body: randomBytes(11 * MiB) },
      ];
      await putAll(src, objects);
      const { proxy: p, url } = await proxy();
      const c = track(
        client(
          sectionIni('source', ceph, src.bucket) +
            swiftIni('dest1', dst.bucket, {
              auth_url: url,
              read_timeout: 2,
              multipart_threshold: '5M',
              multipart_chunksize: '5M',
            }),
        ),
      );
      const stallPut = p.inject(
        (r) => inContainer(dst.bucket, 'PUT', true)(r) && r.url.includes('/s/plain'),
        { kind: 'stall-request', after: 100_000 },
        1,
      );
      const stallSeg = p.inject(
        inContainer(`${dst.bucket}_segments`, 'PUT', true),
        { kind: 'stall-request', after: 100_000 },
        1,
      );
      const manifest = p.inject(
        (r) => inContainer(dst.bucket, 'PUT', true)(r) && r.url.includes('multipart-manifest=put'),
        { kind: 'status', status: 503, code: 'ServiceUnavailable' },
        1,
      );
      const started = performance.now();
      const report = await c.duplicate();
      assert.equal(stallPut.hits + stallSeg.hits + manifest.hits, 3);
      assert.ok(performance.now() - started < 60_000, 'bounded');
      assert.deepEqual(report.failures, []);
      for (const o of objects) assert.equal(md5Hex(await readAll((await dst.get(o.key)).body)), md5Hex(o.body), o.key);
      assert.equal((await swiftNames(`${dst.bucket}_segments`)).length, 3, 'the SLO three segments and nothing else');
    },
  );

  it(
    '[source] an SLO body corrupted on its way from Swift native: never stored wrong at the destination',
    { timeout: 120_000 },
    async () => {
      const src = await native('corrupt-slo-src');
      const dst = await s3('corrupt-slo-dst');
      const big = { key: 's/slo', body: randomBytes(11 * MiB) };
      await multipartUpload(src, big.key, Readable.from([big.body]), {
        size: big.body.length,
        partSize: 5 * MiB,
        parallel: 2,
        headers: {},
      });
      assert.equal((await src.head(big.key))?.etagIsMd5, false);
      const { proxy: p, url } = await proxy();
      const c = track(
        client(swiftIni('source', src.bucket, { auth_url: url }) + sectionIni('dest1', ceph, dst.bucket)),
      );
      const corrupt = p.inject(inContainer(src.bucket, 'GET', true), { kind: 'corrupt-response', at: 6 * MiB }, 1);
      const report = await c.duplicate();
      assert.equal(corrupt.hits, 1);
      const h = await dst.head(big.key);
      if (h)
        assert.equal(
          md5Hex(await readAll((await dst.get(big.key)).body)),
          md5Hex(big.body),
          'whatever is stored is right',
        );
      assert.deepEqual(report.failures, [], 'retried until right');
    },
  );

  it(
    '[source] a corrupted, a stalled and a refused (503) listing page: retried, every key copied, ' +
      'nothing deleted by mistake',
    { timeout: 120_000 },
    async () => {
      const src = await native('badlist-src');
      const dst = await s3('badlist-dst');
      const objects = objectsOf(Array.from({ length: 10 }, (_, i) => `l/${i}`));
      await putAll(src, objects);
      const { proxy: p, url } = await proxy();
      const c = track(
        client(
          swiftIni('source', src.bucket, { auth_url: url, list_page_size: 3, read_timeout: 2 }) +
            sectionIni('dest1', ceph, dst.bucket, { delete: true, max_delete: '100%' }),
        ),
      );
      await putAll(dst, [{ key: 'l/extra', body: Buffer.from('only in the destination') }]);
      const corrupt = p.inject(isListing(src.bucket), { kind: 'corrupt-response', at: 0 }, 1);
      const stall = p.inject(isListing(src.bucket), { kind: 'stall-response', after: 10 }, 1);
      const refused = p.inject(isListing(src.bucket), { kind: 'status', status: 503, code: 'ServiceUnavailable' }, 1);
      const report = await c.duplicate();
      assert.equal(corrupt.hits + stall.hits + refused.hits, 3);
      assert.deepEqual(report.failures, []);
      assert.equal(report.copied, objects.length);
      assert.equal(report.deleted, 1, 'only the key the source lacks');
      assert.deepEqual(
        await keysOf(dst),
        objects.map((o) => o.key),
      );
    },
  );

  it(
    '[source] a listing that keeps failing: the sweep stops with one error, exit 1, and deletes nothing',
    { timeout: 120_000 },
    async () => {
      const src = await native('deadlist-src');
      const dst = await s3('deadlist-dst');
      await putAll(src, objectsOf(['a', 'b']));
      await putAll(dst, objectsOf(['a', 'b', 'c']));
      const { proxy: p, url } = await proxy();
      p.inject(isListing(src.bucket), { kind: 'status', status: 500, code: 'InternalError' }, Number.POSITIVE_INFINITY);
      const run = await runBucketCli(
        swiftIni('source', src.bucket, { auth_url: url, max_retries: 1 }) +
          sectionIni('dest1', ceph, dst.bucket, { delete: true, max_delete: '100%' }),
        ['--json'],
      );
      assert.equal(run.code, 1, run.stderr);
      const errors = errorLines(run.stderr);
      assert.equal(errors.length, 1, run.stderr);
      assert.match(errors[0]!, /\[source\].*ListObjects/);
      assert.deepEqual(await keysOf(dst), ['a', 'b', 'c'], 'nothing deleted');
    },
  );

  it('a dead auth_url: exit 1, one error line naming [dest1] and auth_url, quickly', { timeout: 60_000 }, async () => {
    const src = await s3('deadauth-src');
    await putAll(src, objectsOf(['a']));
    const run = await runBucketCli(
      sectionIni('source', ceph, src.bucket) +
        swiftIni('dest1', 'never-made', { auth_url: 'http://127.0.0.1:9/auth/v1.0', max_retries: 1 }),
    );
    assert.equal(run.code, 1, run.stderr);
    const errors = errorLines(run.stderr);
    assert.equal(errors.length, 1, run.stderr);
    assert.match(errors[0]!, /\[dest1\]/);
    assert.match(errors[0]!, /auth_url/, `names the key to fix: ${errors[0]}`);
    assert.doesNotMatch(errors[0]!, /is_secure|check endpoint/, 'no S3-only key names for a Swift section');
    assert.ok(!run.stderr.includes(swift.swift.key), 'no key printed');
  });

  it(
    'a dead storage URL handed out by the auth service: exit 1, one error line naming that URL and storage_url',
    { timeout: 60_000 },
    async () => {
      const src = await s3('deadstore-src');
      await putAll(src, objectsOf(['a']));
      const auth = await fakeAuthV1('http://127.0.0.1:9/v1/AUTH_test');
      servers.push(auth.server);
      const run = await runBucketCli(
        sectionIni('source', ceph, src.bucket) +
          swiftIni('dest1', 'never-made', { auth_url: auth.url, max_retries: 1 }),
      );
      assert.equal(run.code, 1, run.stderr);
      const errors = errorLines(run.stderr);
      assert.equal(errors.length, 1, run.stderr);
      assert.match(errors[0]!, /\[dest1\]/);
      assert.match(
        errors[0]!,
        /127\.0\.0\.1:9\/v1\/AUTH_test/,
        `names the storage URL that does not answer: ${errors[0]}`,
      );
      assert.match(errors[0]!, /storage_url/, `says how to fix it: ${errors[0]}`);
    },
  );

  it(
    'a token refused mid-sweep on source GETs and destination deletes: one new token each time, ' +
      'everything copied and deleted',
    { timeout: 60_000 },
    async () => {
      const src = await native('expiry-src');
      const dst = await native('expiry-dst');
      const objects = objectsOf(Array.from({ length: 8 }, (_, i) => `t/${i}`));
      await putAll(src, objects);
      await putAll(dst, objectsOf(['t/gone1', 't/gone2']));
      // One proxy per side: different auth_url, so separate stores and tokens (no server-side copy).
      const a = await proxy();
      const b = await proxy();
      const c = track(
        client(
          swiftIni('source', src.bucket, { auth_url: a.url }) +
            swiftIni('dest1', dst.bucket, { auth_url: b.url, delete: true, max_delete: '100%' }),
        ),
      );
      const gets = a.proxy.inject(
        inContainer(src.bucket, 'GET', true),
        { kind: 'status', status: 401, code: 'Unauthorized' },
        2,
      );
      const dels = b.proxy.inject(
        inContainer(dst.bucket, 'DELETE', true),
        { kind: 'status', status: 401, code: 'Unauthorized' },
        1,
      );
      const report = await c.duplicate();
      assert.equal(gets.hits, 2);
      assert.equal(dels.hits, 1);
      assert.deepEqual(report.failures, []);
      assert.equal(report.copied, objects.length);
      assert.equal(report.deleted, 2);
      assert.deepEqual(
        await keysOf(dst),
        objects.map((o) => o.key),
      );
    },
  );

  it(
    'delete guards against Swift native: max_delete refuses, an empty source is refused, nothing deleted; ' +
      'trash moves nasty keys whole',
    { timeout: 120_000 },
    async () => {
      const src = await s3('guard-src');
      const dst = await native('guard-dst');
      const extra = objectsOf([
        ...CONTROL_KEYS.slice(0, 6),
        'k/end?',
        'k/end#',
        'k/end%',
        'k/end+',
        'd/../x',
        'e/\u{1F600}',
        'e/cafe\u0301',
        LONG_KEYS[0]!,
      ]);
      await putAll(src, objectsOf(['keep']));
      await putAll(dst, [...objectsOf(['keep']), ...extra]);
      const limited = await runBucketCli(
        sectionIni('source', ceph, src.bucket) + swiftIni('dest1', dst.bucket, { delete: true, max_delete: 3 }),
      );
      assert.equal(limited.code, 1, limited.stderr);
      assert.match(limited.stderr, /max_delete/);
      assert.equal((await keysOf(dst)).length, extra.length + 1, 'max_delete: nothing deleted');
      const empty = await s3('guard-empty');
      const refused = await runBucketCli(
        sectionIni('source', ceph, empty.bucket) + swiftIni('dest1', dst.bucket, { delete: true, max_delete: '100%' }),
      );
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, /lists no key/);
      assert.equal((await keysOf(dst)).length, extra.length + 1, 'empty source: nothing deleted');
      // Trash: every extra key moved server-side under trash/, whole.
      const c = track(
        client(
          sectionIni('source', ceph, src.bucket) +
            swiftIni('dest1', dst.bucket, {
              delete: true,
              max_delete: '100%',
              delete_mode: 'trash',
              trash_prefix: 'trash/',
            }),
        ),
      );
      const report = await c.duplicate();
      // trash/ + a 1024-byte key is over Swift's limit: that one move fails, clearly, and the key stays.
      assert.deepEqual(
        report.failures.map((f) => f.key),
        [LONG_KEYS[0]],
      );
      assert.match(report.failures[0]!.error, /would exceed 1024 bytes; not deleted/, report.failures[0]!.error);
      const left = await keysOf(dst);
      assert.ok(left.includes(LONG_KEYS[0]!), 'the key whose move failed is still there');
      const wanted = [
        'keep',
        ...extra.filter((o) => Buffer.byteLength(`trash/${o.key}`) <= 1024).map((o) => `trash/${o.key}`),
      ];
      for (const k of wanted) assert.ok(left.includes(k), `${JSON.stringify(k)} is there`);
      for (const o of extra) {
        if (Buffer.byteLength(`trash/${o.key}`) > 1024) continue;
        assert.equal(
          md5Hex(await readAll((await dst.get(`trash/${o.key}`)).body)),
          md5Hex(o.body),
          `trash/${JSON.stringify(o.key)} whole`,
        );
        assert.ok(!left.includes(o.key), `${JSON.stringify(o.key)} moved away`);
      }
    },
  );

  it(
    'an SLO replaced by a small object, then deleted at the source: small bytes, then gone, ' +
      'no segment left (one-key and sweep paths)',
    { timeout: 120_000 },
    async () => {
      const src = await s3('slo-small-src');
      const dst = await native('slo-small-dst');
      const key = 'slo/\u{1F600} ?#%+ end';
      const big = randomBytes(11 * MiB);
      // Another key stays, so the empty-source guard does not hold the delete back.
      await putAll(src, [
        { key, body: big },
        { key: 'stays', body: Buffer.from('stays') },
      ]);
      const c = track(
        client(
          sectionIni('source', ceph, src.bucket) +
            swiftIni('dest1', dst.bucket, {
              multipart_threshold: '5M',
              multipart_chunksize: '5M',
              delete: true,
              max_delete: '100%',
            }),
        ),
      );
      const first = await c.duplicate();
      assert.deepEqual(
        first.failures.map((f) => f.error),
        [],
      );
      assert.equal(first.copied, 2, 'the SLO copied');
      assert.equal((await dst.head(key))?.etagIsMd5, false);
      assert.equal((await swiftNames(`${dst.bucket}_segments`)).length, 3);
      // A fresh client: the store has never listed the destination (the listener's one-key path).
      await putAll(src, [{ key, body: Buffer.from('tiny') }]);
      const fresh = track(
        client(
          sectionIni('source', ceph, src.bucket) +
            swiftIni('dest1', dst.bucket, { multipart_threshold: '5M', multipart_chunksize: '5M', delete: true }),
        ),
      );
      const r = await fresh.sync(key);
      assert.equal(r.results[0]?.outcome, 'copied', JSON.stringify(r.results.map((x) => x.error?.message)));
      assert.equal((await readAll((await dst.get(key)).body)).toString(), 'tiny');
      assert.deepEqual(
        await swiftNames(`${dst.bucket}_segments`),
        [],
        'the old SLO segments went when it was replaced',
      );
      await src.delete(key);
      const gone = await c.duplicate();
      assert.deepEqual(
        gone.failures.map((f) => f.error),
        [],
      );
      assert.equal(gone.deleted, 1, 'deleted by the sweep');
      assert.deepEqual(await keysOf(dst), ['stays']);
      assert.deepEqual(await swiftNames(`${dst.bucket}_segments`), []);
    },
  );
  it(
    "someone else's SLO (segments in another container, and in <container>_segments outside s3s3's path, " +
      'shared by two manifests): deleting one manifest (one-key path, then the sweep) ' +
      "leaves the segments and the other manifest readable; s3s3's own SLO segments still go",
    { timeout: 120_000 },
    async () => {
      const src = await s3('foreign-slo-src');
      const dst = await native('foreign-slo-dst');
      const big = randomBytes(11 * MiB);
      await putAll(src, [
        { key: 'mine/big', body: big },
        { key: 'stays', body: Buffer.from('stays') },
      ]);
      const ini =
        sectionIni('source', ceph, src.bucket) +
        swiftIni('dest1', dst.bucket, {
          multipart_threshold: '5M',
          multipart_chunksize: '5M',
          delete: true,
          max_delete: '100%',
        });
      const c = track(client(ini));
      assert.deepEqual(
        (await c.duplicate()).failures.map((f) => f.error),
        [],
      );
      const ownSegments = await swiftNames(`${dst.bucket}_segments`);
      assert.equal(ownSegments.length, 3, "s3s3's own SLO: three segments");

      // Another application writes an SLO twice over the same segments, with Swift's own API.
      const auth = await fetch(swift.swift.authUrl, {
        headers: { 'x-auth-user': swift.swift.user, 'x-auth-key': swift.swift.key },
      });
      const storage = auth.headers.get('x-storage-url')!;
      const token = auth.headers.get('x-auth-token')!;
      const raw = (method: string, path: string, body?: Buffer, query = '') =>
        fetch(`${storage}/${path}${query}`, { method, headers: { 'x-auth-token': token }, ...(body ? { body } : {}) });
      const foreign = `${dst.bucket}-theirs`;
      const segA = randomBytes(MiB + 17);
      const segB = Buffer.from('the last segment, in the segments container but not under a key hash');
      const md5 = (b: Buffer) => md5Hex(b);
      try {
        assert.ok((await raw('PUT', foreign)).ok);
        assert.equal((await raw('PUT', `${foreign}/seg-a`, segA)).status, 201);
        assert.equal((await raw('PUT', `${dst.bucket}_segments/theirs/seg-b`, segB)).status, 201);
        const manifest = Buffer.from(
          JSON.stringify([
            { path: `/${foreign}/seg-a`, etag: md5(segA), size_bytes: segA.length },
            { path: `/${dst.bucket}_segments/theirs/seg-b`, etag: md5(segB), size_bytes: segB.length },
          ]),
        );
        for (const k of ['theirs/one', 'theirs/two'])
          assert.equal((await raw('PUT', `${dst.bucket}/${k}`, manifest, '?multipart-manifest=put')).status, 201, k);
        const whole = Buffer.concat([segA, segB]);
        const readable = async (k: string) => {
          const r = await raw('GET', `${dst.bucket}/${k}`);
          return r.ok && md5(Buffer.from(await r.arrayBuffer())) === md5(whole);
        };
        assert.ok(await readable('theirs/one'));
        assert.ok(await readable('theirs/two'));

        // The one-key path (the listener's), a fresh client: the source lacks the key, delete = true.
        const one = await track(client(ini)).sync('theirs/one');
        assert.deepEqual(
          one.results.map((r) => [r.outcome, r.error?.message]),
          [['deleted', undefined]],
        );
        assert.equal((await raw('GET', `${dst.bucket}/theirs/one`)).status, 404, 'the manifest went');
        assert.ok(await readable('theirs/two'), 'the other manifest still reads whole: its segments stayed');
        assert.equal((await raw('HEAD', `${foreign}/seg-a`)).status, 200, 'the segment in the other container stayed');

        // The sweep deletes the other manifest and s3s3's own SLO, deleted at the source.
        await src.delete('mine/big');
        const sweep = await c.duplicate();
        assert.deepEqual(
          sweep.failures.map((f) => f.error),
          [],
        );
        assert.equal(sweep.deleted, 2);
        assert.deepEqual(await keysOf(dst), ['stays']);
        assert.deepEqual(
          await swiftNames(`${dst.bucket}_segments`),
          ['theirs/seg-b'],
          "s3s3's own segments went; the other application's stayed",
        );
        assert.equal((await raw('HEAD', `${foreign}/seg-a`)).status, 200);
        assert.equal(
          md5(Buffer.from(await (await raw('GET', `${dst.bucket}_segments/theirs/seg-b`)).arrayBuffer())),
          md5(segB),
        );
      } finally {
        await raw('DELETE', `${foreign}/seg-a`);
        await raw('DELETE', foreign);
      }
    },
  );
});
