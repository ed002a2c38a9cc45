/**
 * The conformance suite (rclone's fstests): every store runs the same tests against the real
 * servers — S3Store on Ceph RGW and on Swift's s3api (signatures v4 and v2, the SDK path,
 * ListObjects v1 and v2), SwiftStore on Swift's own API. Covered: list order (UTF-8 byte order)
 * and every key shape (control characters, NFC/NFD twins, astral characters, a 1024-byte key),
 * page edges (small pages split at astral keys, startAfter, prefix), HEAD/GET/PUT/DELETE,
 * headers and user metadata, multipart uploads (SLOs on Swift), server-side copy, deleteMany
 * with a key's own failure, "no such key" (null) against a missing bucket (bucketMissing), and
 * bucketExists. Where the stores truly differ the test reads the store's quirks
 * (src/api/store/quirks.ts), never its name. One bucket per store; the stores run side by side.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError } from '../../src/api/errors.js';
import type { S3Store } from '../../src/api/store/s3-store.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { KEY_SHAPES, ORDER_KEYS } from '../helpers/keys.js';
import { uniqueBucket } from '../helpers/servers.js';
import type { Ini } from '../helpers/swift.js';
import { modeLabel, storeTargets, type StoreTarget, type StoreUnderTest } from '../helpers/store-targets.js';

const MiB = 1024 * 1024;

/** Every key shape, and the keys whose UTF-16 and UTF-8 orders disagree. */
const KEYS: readonly string[] = [...KEY_SHAPES, ...ORDER_KEYS];

/** A key longer than every store takes (1024 bytes). */
const TOO_LONG = 'k'.repeat(1100);

/** The metadata and standard headers one object carries, as a user would set them. */
const DRESSED = {
  contentType: 'text/html; charset=utf-8',
  cacheControl: 'max-age=600, public',
  contentDisposition: 'attachment; filename="report.html"',
  contentEncoding: 'identity',
  contentLanguage: 'de-CH',
  expires: 'Thu, 01 Dec 2033 16:00:00 GMT',
  metadata: { owner: 'alice', 'project-id': '42' },
};

function byteOrder(keys: readonly string[]): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function md5(buf: Buffer | string): { hex: string; b64: string } {
  const h = createHash('md5').update(buf).digest();
  return { hex: h.toString('hex'), b64: h.toString('base64') };
}

/** A body produced on the fly, never held whole in memory. */
function generated(size: number, seed: number): { stream: Readable; md5: Promise<string> } {
  const hash = createHash('md5');
  let sent = 0;
  let resolve!: (v: string) => void;
  const done = new Promise<string>((r) => (resolve = r));
  const stream = new Readable({
    read() {
      if (sent >= size) {
        resolve(hash.digest('hex'));
        this.push(null);
        return;
      }
      const n = Math.min(64 * 1024, size - sent);
      const chunk = Buffer.alloc(n, (sent / 65536 + seed) % 251);
      hash.update(chunk);
      sent += n;
      this.push(chunk);
    },
  });
  return { stream, md5: done };
}

/** Every key, page by page through listPage, with the number of pages. */
async function pagesOf(
  store: StoreUnderTest,
  options: { prefix?: string; startAfter?: string } = {},
): Promise<{ keys: string[]; pages: number; largest: number }> {
  const keys: string[] = [];
  let pages = 0;
  let largest = 0;
  let next: string | undefined;
  do {
    const page = await store.listPage({ ...options, next });
    pages++;
    largest = Math.max(largest, page.objects.length);
    keys.push(...page.objects.map((o) => o.key));
    next = page.next;
  } while (next !== undefined);
  return { keys, pages, largest };
}

async function listed(store: StoreUnderTest, prefix?: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list(prefix === undefined ? {} : { prefix })) out.push(o.key);
  return out;
}

/** Runs `fn` on a store opened with `extra` keys, closing it after. */
async function using<T>(
  target: StoreTarget,
  bucket: string,
  extra: Ini,
  fn: (s: StoreUnderTest) => Promise<T>,
): Promise<T> {
  const s = target.open(bucket, extra);
  try {
    return await fn(s);
  } finally {
    s.close();
  }
}

function isKind(kind: 'notFound' | 'bucketMissing') {
  return (err: unknown) => {
    assert.ok(err instanceof StoreError, `a StoreError, got ${String(err)}`);
    assert.equal(err.kind, kind, `kind ${kind}: ${err.message}`);
    return true;
  };
}

/** The requests of one mode (signature, SDK path) against the target's bucket. */
function requestTests(target: StoreTarget, bucket: () => string, mode: Ini): void {
  const open = (extra: Ini = {}) => target.open(bucket(), { ...mode, ...extra });

  it('round-trips every key shape through put, head, get, list and delete', { timeout: 300_000 }, async () => {
    const store = open();
    try {
      for (const [i, key] of KEYS.entries()) {
        const body = key.endsWith('/') ? Buffer.alloc(0) : Buffer.from(`body of ${i}: ${key}`);
        const sum = md5(body);
        const put = await store.put(key, body, {
          contentLength: body.length,
          contentMd5: sum.b64,
          contentType: 'text/plain',
          metadata: { shape: String(i) },
        });
        assert.equal(put.etag, sum.hex, `etag of ${JSON.stringify(key)}`);
        const head = await store.head(key);
        assert.ok(head, `head of ${JSON.stringify(key)}`);
        assert.equal(head.key, key);
        assert.equal(head.size, body.length);
        assert.equal(head.etag, sum.hex);
        assert.equal(head.metadata.shape, String(i));
        assert.equal(head.contentType, 'text/plain');
        const got = await store.get(key);
        assert.deepEqual(await readAll(got.body), body, `body of ${JSON.stringify(key)}`);
        assert.equal(got.info.size, body.length);
        assert.equal(got.info.metadata.shape, String(i));
      }
      const all = await listed(store);
      const expected = byteOrder(KEYS);
      assert.deepEqual(all, expected, 'listing holds every key, in UTF-8 byte order');
      // NFC and NFD forms are two keys, never merged.
      assert.ok(all.includes('unicode/caf\u00e9') && all.includes('unicode/cafe\u0301'));
      // Every listing API, over many pages (control characters and astral keys land on page
      // edges): URL-encoded listings decoded back to the exact key bytes.
      for (const listMode of target.listModes) {
        for (const pageSize of [7, 31]) {
          await using(target, bucket(), { ...mode, ...listMode, list_page_size: pageSize }, async (lister) => {
            const { keys, pages } = await pagesOf(lister);
            assert.ok(pages >= 3, `at least three pages (got ${pages})`);
            assert.deepEqual(keys, expected, `${modeLabel(listMode)} listing in pages of ${pageSize}`);
          });
        }
        await using(target, bucket(), { ...mode, ...listMode, list_page_size: 1 }, async (lister) => {
          // One key a page: every page edge falls on an astral or a 3-byte key.
          const order = await pagesOf(lister, { prefix: 'order/' });
          assert.deepEqual(order.keys, byteOrder(ORDER_KEYS), `${modeLabel(listMode)}: order/ in byte order`);
          // S3 says which page is the last; Swift does not, so a full last page is followed by an empty one.
          assert.ok(order.pages - ORDER_KEYS.length <= 1 && order.largest === 1, `one key a page (${order.pages})`);
        });
        await using(target, bucket(), { ...mode, ...listMode, list_page_size: 7 }, async (lister) => {
          // startAfter: the page begins right after the key, whatever its bytes.
          for (const after of [...ORDER_KEYS, KEY_SHAPES[19]!, '\u0001', 'ctl/x\u001fy1f', 'dir/marker/', 'zzz']) {
            const rest = expected.filter((k) => Buffer.compare(Buffer.from(k), Buffer.from(after)) > 0);
            const page = await lister.listPage({ startAfter: after });
            assert.deepEqual(
              page.objects.map((o) => o.key),
              rest.slice(0, 7),
              `${modeLabel(listMode)}: the page after ${JSON.stringify(after)}`,
            );
            assert.deepEqual(
              (await pagesOf(lister, { startAfter: after })).keys,
              rest,
              `every key after ${JSON.stringify(after)}`,
            );
          }
          // A prefix: only its keys, in byte order, across pages.
          const punct = await pagesOf(lister, { prefix: 'punct/' });
          assert.deepEqual(
            punct.keys,
            expected.filter((k) => k.startsWith('punct/')),
            'prefix punct/',
          );
          assert.deepEqual((await pagesOf(lister, { prefix: 'no such prefix/' })).keys, []);
        });
      }
      // Half one by one, half in batches (control-character keys go one by one inside an S3 deleteMany).
      const half = Math.floor(KEYS.length / 2);
      for (const key of KEYS.slice(0, half)) await store.delete(key);
      assert.deepEqual(await store.deleteMany(KEYS.slice(half)), []);
      assert.equal(await store.head(KEY_SHAPES[0]!), null);
      assert.deepEqual(await listed(store), []);
    } finally {
      store.close();
    }
  });

  it(
    'multipart uploads (an SLO on Swift), server-side copies and batch deletes of odd keys',
    { timeout: 300_000 },
    async () => {
      const store = open({ multipart_chunksize: '5M', multipart_threshold: '5M' });
      try {
        const key = 'mp/odd key+%?#&=;:@$,\u{1F600}';
        const part = Buffer.alloc(5 * MiB, 1);
        const last = Buffer.from('tail');
        const id = await store.createMultipart(key, { contentType: 'application/x-mp', metadata: { m: '1' } });
        const e1 = await store.uploadPart(key, id, 1, part, { contentLength: part.length, contentMd5: md5(part).b64 });
        const e2 = await store.uploadPart(key, id, 2, last, { contentLength: last.length });
        assert.equal(e1, md5(part).hex, "a part's ETag is its MD5");
        const done = await store.completeMultipart(key, id, [
          { partNumber: 1, etag: e1 },
          { partNumber: 2, etag: e2 },
        ]);
        if (store.quirks.multipartEtag === 'md5-of-parts-N')
          assert.match(done.etag, /-2$/, 'multipart ETag, even where Complete answers with an empty one');
        else assert.equal(done.etag, md5(e1 + e2).hex, "an SLO's ETag: the MD5 of its segments' ETags");
        const head = await store.head(key);
        assert.equal(head?.size, part.length + last.length);
        assert.equal(head?.metadata.m, '1');
        assert.equal(head?.contentType, 'application/x-mp');
        assert.equal(head?.etag, done.etag);
        const got = await store.get(key);
        assert.equal(md5(await readAll(got.body)).hex, md5(Buffer.concat([part, last])).hex, 'the bytes read back');

        const abandoned = await store.createMultipart('mp/abandoned', {});
        await store.uploadPart('mp/abandoned', abandoned, 1, last, { contentLength: last.length });
        await store.abortMultipart('mp/abandoned', abandoned);
        if (store.quirks.listsPendingUploads)
          assert.deepEqual(await (store as unknown as S3Store).pendingUploads(), []);
        assert.equal(await store.head('mp/abandoned'), null);

        for (const shape of ['copy/plain', ...KEY_SHAPES.slice(1, 22)]) {
          await store.copyFrom(store, key, shape);
          assert.equal((await store.head(shape))?.size, part.length + last.length, `copy to ${JSON.stringify(shape)}`);
        }
        await store.put('copy/src ?#+', Buffer.from('x'), { contentLength: 1 });
        await store.copyFrom(store, 'copy/src ?#+', 'copy/dst');
        assert.equal(
          (await store.head('copy/dst'))?.etag,
          md5(Buffer.from('x')).hex,
          'copy source with special characters encoded',
        );
        assert.deepEqual(
          await store.deleteMany([key, 'copy/plain', 'copy/src ?#+', 'copy/dst', ...KEY_SHAPES.slice(1, 22)]),
          [],
        );
        assert.deepEqual(await listed(store), []);
      } finally {
        store.close();
      }
    },
  );

  it('rejects a wrong secret with a fatal error naming the endpoint, never the secret', async () => {
    const bad = target.open(bucket(), mode, 'wrong-secret-value');
    try {
      const status = bad.quirks.badCredentialStatus;
      await assert.rejects(bad.head('anything'), (err: unknown) => {
        assert.ok(err instanceof StoreError);
        assert.equal(err.status, status);
        assert.equal(err.errorClass, 'fatal');
        assert.match(err.message, new RegExp(bad.endpoint.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
        assert.doesNotMatch(err.message, /wrong-secret-value/);
        return true;
      });
      await assert.rejects(
        bad.put('x', Buffer.from('x'), { contentLength: 1 }),
        (err: unknown) => err instanceof StoreError && err.status === status,
      );
    } finally {
      bad.close();
    }
  });

  it('uploads a streamed body of content made on the fly, with and without Content-MD5', async () => {
    const store = open();
    try {
      const size = 12 * MiB + 3;
      const a = generated(size, 1);
      const putA = await store.put('stream/a', a.stream, { contentLength: size });
      assert.equal(putA.etag, await a.md5);
      const gotA = await store.get('stream/a');
      assert.equal(md5(await readAll(gotA.body)).hex, await a.md5);

      const b = generated(size, 2);
      const expected = md5(
        Buffer.concat(
          Array.from({ length: Math.ceil(size / 65536) }, (_, i) =>
            Buffer.alloc(Math.min(65536, size - i * 65536), (i + 2) % 251),
          ),
        ),
      );
      const putB = await store.put('stream/b', b.stream, { contentLength: size, contentMd5: expected.b64 });
      assert.equal(putB.etag, expected.hex);
      assert.equal((await store.head('stream/b'))?.size, size);
      await store.deleteMany(['stream/a', 'stream/b']);
      assert.equal(await store.head('stream/a'), null);
    } finally {
      store.close();
    }
  });

  it('has the server reject a body that does not match its Content-MD5', async () => {
    const store = open();
    try {
      const body = Buffer.from('the real body');
      const wrong = md5(Buffer.from('another body')).b64;
      await assert.rejects(
        store.put('digest/bad', body, { contentLength: body.length, contentMd5: wrong }),
        (err: unknown) => {
          assert.ok(err instanceof StoreError);
          assert.equal(err.status, store.quirks.badDigestStatus);
          assert.equal(err.code, 'BadDigest');
          assert.equal(err.kind, 'badDigest');
          assert.equal(err.errorClass, 'object');
          assert.equal(err.key, 'digest/bad');
          return true;
        },
      );
      assert.equal(await store.head('digest/bad'), null, 'no partial object left behind');
    } finally {
      store.close();
    }
  });

  it('keeps working after the server rejects a request before reading its body', async () => {
    // One socket at most, so the next request must reuse the one the rejection left.
    const one = open({ concurrency: 1, read_timeout: 5 });
    try {
      const body = randomBytes(256 * 1024);
      await assert.rejects(
        one.put(TOO_LONG, body, { contentLength: body.length }),
        (err: unknown) => err instanceof StoreError && err.errorClass !== 'retry',
      );
      // PutObject is not retried: a poisoned pooled socket would fail this with a timeout.
      const ok = Buffer.from('after the rejection');
      const put = await one.put('after-reject', ok, { contentLength: ok.length });
      assert.equal(put.etag, md5(ok).hex);
      await one.delete('after-reject');
    } finally {
      one.close();
    }
  });
}

/** The stores of each server: one after the other (a loaded Swift answers 503); the servers side by side. */
const byServer = new Map<string, StoreTarget[]>();
for (const t of storeTargets()) byServer.set(t.server, [...(byServer.get(t.server) ?? []), t]);

describe('conformance: every store against the real servers', { concurrency: byServer.size }, () => {
  for (const [server, targets] of byServer) {
    describe(`on ${server}`, { concurrency: 1 }, () => {
      for (const target of targets) conformance(target);
    });
  }
});

/** The whole suite for one store, in one bucket. */
function conformance(target: StoreTarget): void {
  describe(target.label, { concurrency: 1 }, () => {
    const bucket = uniqueBucket(`conf-${target.label.replace(/ on /, '-')}`);
    let store: StoreUnderTest;

    before(async () => {
      store = target.open(bucket);
      await store.createBucket();
    });
    after(async () => {
      await store.destroyBucket();
      store.close();
    });

    it('bucketExists: true for the bucket, false for one that does not exist', async () => {
      assert.equal(await store.bucketExists(), true);
      const absent = target.open(uniqueBucket('conf-absent'));
      try {
        assert.equal(await absent.bucketExists(), false);
      } finally {
        absent.close();
      }
    });

    it('a key that is not there is null (head), notFound (get), already deleted (delete)', async () => {
      // Each through a fresh store, so the bucket is checked right then, not vouched for by an earlier call.
      for (const op of ['head', 'get', 'delete', 'list'] as const) {
        await using(target, bucket, {}, async (s) => {
          if (op === 'head') assert.equal(await s.head('absent/key \u{1F600}'), null);
          if (op === 'get') await assert.rejects(s.get('absent/key \u{1F600}'), isKind('notFound'));
          if (op === 'delete') await s.delete('absent/key \u{1F600}');
          if (op === 'list') assert.deepEqual((await s.listPage({ prefix: 'absent/' })).objects, []);
        });
      }
      assert.deepEqual(await store.deleteMany(['absent/a', 'absent/b \u0001']), []);
    });

    it('a missing bucket is bucketMissing (fatal) for head, get, delete, list: never "not found"', async () => {
      await using(target, uniqueBucket('conf-absent'), {}, async (absent) => {
        await assert.rejects(absent.head('k'), isKind('bucketMissing'));
        await assert.rejects(absent.get('k'), isKind('bucketMissing'));
        await assert.rejects(absent.delete('k'), isKind('bucketMissing'));
        await assert.rejects(absent.deleteMany(['k', 'l']), isKind('bucketMissing'));
        await assert.rejects(absent.listPage(), isKind('bucketMissing'));
        await assert.rejects(
          absent.listPage(),
          (err: unknown) => err instanceof StoreError && err.errorClass === 'fatal',
        );
      });
    });

    it('carries the standard headers and user metadata through put, head and get', async () => {
      const key = 'dressed/report \u00e9.html';
      const body = Buffer.from('<html>dressed</html>');
      await store.put(key, body, { contentLength: body.length, contentMd5: md5(body).b64, ...DRESSED });
      const head = await store.head(key);
      const got = await store.get(key);
      await readAll(got.body);
      for (const info of [head, got.info]) {
        assert.ok(info);
        assert.equal(info.contentType, DRESSED.contentType);
        assert.equal(info.cacheControl, DRESSED.cacheControl);
        assert.equal(info.contentDisposition, DRESSED.contentDisposition);
        assert.equal(info.contentEncoding, DRESSED.contentEncoding);
        assert.equal(info.contentLanguage, DRESSED.contentLanguage);
        assert.equal(new Date(info.expires ?? '').toUTCString(), DRESSED.expires);
        assert.equal(info.metadata.owner, 'alice');
        assert.equal(info.metadata['project-id'], '42');
        assert.ok(info.lastModified instanceof Date && !Number.isNaN(info.lastModified.getTime()));
      }
      // A metadata name in capitals is stored and read back in lower case.
      await store.put(key, body, { contentLength: body.length, metadata: { Mixed: 'Case Value' } });
      assert.deepEqual(
        (await store.head(key))?.metadata,
        { mixed: 'Case Value' },
        'overwritten: the old metadata gone',
      );
      await store.delete(key);
      assert.equal(await store.head(key), null);
    });

    it("deleteMany returns a key's own failure and deletes the others", async () => {
      // Servers delete whatever they are asked to (a key that is not there, or too long to be, counts as
      // deleted): the refusal of one key comes from a proxy in front of the store, as a 409.
      const refused = 'dm/b \u0001 \u{1F600}';
      const keys = ['dm/a', refused, 'dm/c'];
      for (const k of keys) await store.put(k, Buffer.from(k), { contentLength: Buffer.byteLength(k) });
      const proxy = new FaultProxy(target.origin);
      const through = target.openThrough(await proxy.start(), bucket);
      try {
        const fault = proxy.inject(
          (r) => r.method === 'DELETE' && decodeURIComponent(r.url.split('?')[0]!).endsWith(`/${refused}`),
          { kind: 'status', status: 409, code: 'Conflict' },
          10,
        );
        const failures = await through.deleteMany(keys);
        assert.equal(fault.hits, 1, 'the refused key was sent once, on its own');
        assert.deepEqual(
          failures.map((f) => f.key),
          [refused],
          'only the key the store refused',
        );
        const error = failures[0]!.error;
        assert.ok(error instanceof StoreError && error.errorClass === 'object' && error.key === refused);
      } finally {
        through.close();
        await proxy.stop();
      }
      assert.deepEqual(await listed(store, 'dm/'), [refused], 'the others deleted, the refused one kept');
      await store.delete(refused);
    });

    for (const mode of target.modes) {
      describe(`requests with ${modeLabel(mode)}`, { concurrency: 1 }, () => {
        requestTests(target, () => bucket, mode);
      });
    }

    describe('listing many keys', { concurrency: 1 }, () => {
      const count = 2600;
      const keys = Array.from(
        { length: count },
        (_, i) => `many/${String(i).padStart(5, '0')}-${i % 7 === 0 ? '\u{1F600}' : 'k'}`,
      );
      before(async () => {
        await using(target, bucket, { concurrency: 16 }, async (s) => {
          let next = 0;
          // One byte each: an empty object on Swift is asked about (it may be a DLO manifest) by every listing.
          const byte = Buffer.from('x');
          await Promise.all(
            Array.from({ length: 16 }, async () => {
              while (next < keys.length) await s.put(keys[next++]!, byte, { contentLength: 1 });
            }),
          );
        });
      });
      for (const mode of target.modes) {
        for (const listMode of target.listModes) {
          const label = modeLabel({ ...mode, ...listMode });
          it(`lists all ${count} keys (${label}), in pages of at most 1000`, async () => {
            await using(target, bucket, { ...mode, ...listMode, list_page_size: 1000 }, async (s) => {
              const { keys: seen, pages, largest } = await pagesOf(s);
              assert.ok(pages >= 3, `paged (${pages} pages)`);
              assert.ok(largest <= 1000, `pages of at most 1000 keys (${largest})`);
              assert.deepEqual(seen, byteOrder(keys));
              const prefixed = await listed(s, 'many/001');
              assert.equal(prefixed.length, 100);
              const page = await s.listPage({ prefix: 'many/' });
              assert.ok(page.objects.length <= 1000 && page.objects.length > 0);
            });
          });
        }
      }
      it(`lists all ${count} keys in the largest pages the store takes`, async () => {
        const most = store.quirks.maxListPage;
        await using(target, bucket, { list_page_size: most }, async (s) => {
          const { keys: seen, pages, largest } = await pagesOf(s);
          assert.deepEqual(seen, byteOrder(keys));
          assert.equal(largest, Math.min(most, count), `pages of ${most} keys at most`);
          assert.ok(pages >= Math.ceil(count / most) && pages <= Math.ceil(count / most) + 1, `${pages} pages`);
        });
      });
    });
  });
}
