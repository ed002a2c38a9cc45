/**
 * The S3 layer against real Ceph RGW and Swift s3api: signatures v4 and v2, path-style,
 * listing past 1000 keys in both list versions, every key shape, streamed uploads.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { S3Store } from '../../src/api/store/s3-store.js';
import { StoreError } from '../../src/api/errors.js';
import { endpointConfig, testServers, uniqueBucket } from '../helpers/servers.js';
import { KEY_SHAPES } from '../helpers/keys.js';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function md5(buf: Buffer): { hex: string; b64: string } {
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

for (const server of testServers()) {
  for (const sig of ['s3v4', 's3'] as const) {
    describe(`store on ${server.name}, signature ${sig}`, () => {
      const bucket = uniqueBucket(`store-${server.name}-${sig}`);
      let store: S3Store;

      before(async () => {
        store = new S3Store(
          endpointConfig(server, bucket, { signature_version: sig, calling_format: 'OrdinaryCallingFormat' }),
        );
        await store.createBucket();
      });
      after(async () => {
        await store.destroyBucket();
        store.close();
      });

      it('round-trips every key shape through put, head, get, list and delete', async () => {
        for (const [i, key] of KEY_SHAPES.entries()) {
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
          assert.equal(head.size, body.length);
          assert.equal(head.metadata.shape, String(i));
          assert.equal(head.contentType, 'text/plain');
          const got = await store.get(key);
          assert.deepEqual(await readAll(got.body), body, `body of ${JSON.stringify(key)}`);
        }
        const listed: string[] = [];
        for await (const o of store.list()) listed.push(o.key);
        const expected = [...KEY_SHAPES].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        assert.deepEqual(listed, expected, 'listing holds every key, in UTF-8 byte order');
        // Both list versions, over many pages (control characters and astral keys land on page
        // edges): URL-encoded listings decoded back to the exact key bytes.
        for (const version of [1, 2]) {
          for (const pageSize of [7, 31]) {
            const lister = new S3Store(
              endpointConfig(server, bucket, {
                signature_version: sig,
                list_objects_version: version,
                list_page_size: pageSize,
              }),
            );
            const keys: string[] = [];
            let pages = 0;
            let next: string | undefined;
            do {
              const page = await lister.listPage({ next });
              pages++;
              keys.push(...page.objects.map((o) => o.key));
              next = page.next;
            } while (next !== undefined);
            lister.close();
            assert.ok(pages >= 3, `at least three pages (got ${pages})`);
            assert.deepEqual(keys, expected, `v${version} listing in pages of ${pageSize}`);
          }
        }
        // NFC and NFD forms are two keys, never merged.
        assert.ok(listed.includes('unicode/caf\u00e9') && listed.includes('unicode/cafe\u0301'));
        // Half one by one, half in batches (the control-character keys go one by one inside deleteMany).
        const half = Math.floor(KEY_SHAPES.length / 2);
        for (const key of KEY_SHAPES.slice(0, half)) await store.delete(key);
        await store.deleteMany(KEY_SHAPES.slice(half));
        assert.equal(await store.head(KEY_SHAPES[0]!), null);
        const after: string[] = [];
        for await (const o of store.list()) after.push(o.key);
        assert.deepEqual(after, []);
      });

      it('signs multipart uploads, server-side copies and batch deletes of odd keys', async () => {
        const key = 'mp/odd key+%?#&=;:@$,\u{1F600}';
        const part = Buffer.alloc(5 * 1024 * 1024, 1);
        const last = Buffer.from('tail');
        const id = await store.createMultipart(key, { contentType: 'application/x-mp', metadata: { m: '1' } });
        const e1 = await store.uploadPart(key, id, 1, part, { contentLength: part.length, contentMd5: md5(part).b64 });
        const e2 = await store.uploadPart(key, id, 2, last, { contentLength: last.length });
        const done = await store.completeMultipart(key, id, [
          { partNumber: 1, etag: e1 },
          { partNumber: 2, etag: e2 },
        ]);
        assert.match(done.etag, /-2$/, 'multipart ETag, even where Complete answers with an empty one');
        const head = await store.head(key);
        assert.equal(head?.size, part.length + last.length);
        assert.equal(head?.metadata.m, '1');

        const abandoned = await store.createMultipart('mp/abandoned', {});
        await store.uploadPart('mp/abandoned', abandoned, 1, last, { contentLength: last.length });
        await store.abortMultipart('mp/abandoned', abandoned);
        assert.deepEqual(await store.pendingUploads(), []);

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
        await store.deleteMany([key, 'copy/plain', 'copy/src ?#+', 'copy/dst', ...KEY_SHAPES.slice(1, 22)]);
        const left: string[] = [];
        for await (const o of store.list()) left.push(o.key);
        assert.deepEqual(left, []);
      });

      it('rejects a wrong secret with a fatal 403 naming the endpoint, never the secret', async () => {
        const bad = new S3Store(
          endpointConfig({ ...server, secretKey: 'wrong-secret-value' }, bucket, { signature_version: sig }),
        );
        try {
          await assert.rejects(bad.head('anything'), (err: unknown) => {
            assert.ok(err instanceof StoreError);
            assert.equal(err.status, 403);
            assert.equal(err.errorClass, 'fatal');
            assert.match(err.message, new RegExp(server.endpoint.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
            assert.doesNotMatch(err.message, /wrong-secret-value/);
            return true;
          });
          await assert.rejects(
            bad.put('x', Buffer.from('x'), { contentLength: 1 }),
            (err: unknown) => err instanceof StoreError && err.status === 403,
          );
        } finally {
          bad.close();
        }
      });

      it('uploads a streamed body of content made on the fly, with and without Content-MD5', async () => {
        const size = 12 * 1024 * 1024 + 3;
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
      });

      it('has the server reject a body that does not match its Content-MD5', async () => {
        const body = Buffer.from('the real body');
        const wrong = md5(Buffer.from('another body')).b64;
        await assert.rejects(
          store.put('digest/bad', body, { contentLength: body.length, contentMd5: wrong }),
          (err: unknown) => {
            assert.ok(err instanceof StoreError);
            assert.equal(err.status, 400);
            assert.equal(err.code, 'BadDigest');
            assert.equal(err.errorClass, 'object');
            assert.equal(err.key, 'digest/bad');
            return true;
          },
        );
        assert.equal(await store.head('digest/bad'), null, 'no partial object left behind');
      });

      it('keeps working after the server rejects a request before reading its body', async () => {
        // One socket at most, so the next request must reuse the one the rejection left.
        const one = new S3Store(
          endpointConfig(server, bucket, { signature_version: sig, concurrency: 1, read_timeout: 5 }),
        );
        try {
          const tooLong = 'k'.repeat(1100);
          const body = randomBytes(256 * 1024);
          await assert.rejects(
            one.put(tooLong, body, { contentLength: body.length }),
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
    });
  }

  describe(`listing on ${server.name}`, () => {
    const bucket = uniqueBucket(`list-${server.name}`);
    let store: S3Store;
    const count = 2600;
    const keys = Array.from(
      { length: count },
      (_, i) => `many/${String(i).padStart(5, '0')}-${i % 7 === 0 ? '\u{1F600}' : 'k'}`,
    );

    before(async () => {
      store = new S3Store(endpointConfig(server, bucket, { concurrency: 32 }));
      await store.createBucket();
      let next = 0;
      const empty = Buffer.alloc(0);
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next < keys.length) {
            const key = keys[next++]!;
            await store.put(key, empty, { contentLength: 0 });
          }
        }),
      );
    });
    after(async () => {
      await store.destroyBucket();
      store.close();
    });

    for (const version of [1, 2]) {
      for (const sig of ['s3v4', 's3']) {
        it(`lists all ${count} keys with ListObjects v${version} (signature ${sig}), in pages of at most 1000`, async () => {
          const s = new S3Store(
            endpointConfig(server, bucket, { list_objects_version: version, signature_version: sig }),
          );
          try {
            const seen: string[] = [];
            let pages = 0;
            let next: string | undefined;
            do {
              const page = await s.listPage({ next });
              assert.ok(page.objects.length <= 1000);
              seen.push(...page.objects.map((o) => o.key));
              next = page.next;
              pages++;
            } while (next !== undefined);
            assert.ok(pages >= 3, `paged (${pages} pages)`);
            assert.deepEqual(
              seen,
              [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
            );
            const prefixed: string[] = [];
            for await (const o of s.list({ prefix: 'many/001' })) prefixed.push(o.key);
            assert.equal(prefixed.length, 100);
          } finally {
            s.close();
          }
        });
      }
    }
  });
}
