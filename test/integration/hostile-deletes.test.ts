/**
 * Hostile deletes: the sweep's --delete with destination extras that are NFC/NFD twins,
 * whitespace twins ("k/a" and "k/a "), XML-hostile characters (U+FFFF, U+FFFE, "<&>"), control
 * characters and 1024-byte keys, in both delete modes; the keys the source has must all
 * stay, the extras must all go (or go to the trash), and a trash key over 1024 bytes must
 * fail that delete and keep the object.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { S3Store } from '../../src/api/store/s3-store.js';
import { duplicateBucket } from '../../src/api/sweep/duplicate.js';
import { destConfig, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, listKeys, md5Hex, putAll, readAll } from '../helpers/seed.js';

const FAST = { attempts: 2, baseMs: 10, maxMs: 50 };
const body = (k: string) => Buffer.from(`body of ${k}`);
const put = (store: S3Store, keys: readonly string[]) =>
  putAll(
    store,
    keys.map((key) => ({ key, body: body(key) })),
  );
// The trash registry's markers (one per trash root ever used) are s3s3's bookkeeping, not data.
const keysOf = async (store: S3Store) =>
  (await listKeys(store)).map((o) => o.key).filter((k) => !k.startsWith('.s3s3-trash/.roots/'));
const sorted = (keys: readonly string[]) => [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

function keyOfBytes(prefix: string, bytes: number): string {
  let key = prefix;
  while (Buffer.byteLength(key + '\u00e9', 'utf8') <= bytes - 1) key += '\u00e9';
  while (Buffer.byteLength(key, 'utf8') < bytes) key += 'x';
  return key;
}

const SOURCE_KEYS = ['k/a', 'k/e\u0301', 'k/b  b', 'k/\u{1F600}', 'k/x', keyOfBytes('k/long/', 1024)];
const EXTRA_KEYS = [
  'k/a ',
  'k/ a',
  'k/\u00e9',
  'k/b b',
  'k/<&>"\'',
  'k/]]>',
  'k/\u0085',
  'k/\u00a0',
  'k/a\r\nb',
  keyOfBytes('k/long2/', 1024),
];
/** Not XML 1.0 characters: a DeleteObjects batch holding one is refused whole. */
const NON_XML_KEYS = ['k/\uffff', 'k/\ufffe'];

for (const server of testServers()) {
  describe(`hostile deletes on ${server.name}`, () => {
    const stores: S3Store[] = [];
    after(async () => {
      for (const s of stores) await dropStore(s).catch(() => {});
    });
    const pair = async (label: string, page: number, destExtra: Record<string, string | number | boolean> = {}) => {
      const src = await freshStore(server, uniqueBucket(`${label}-src`), { list_page_size: page });
      const dst = new S3Store(destConfig(server, uniqueBucket(`${label}-dst`), { list_page_size: page, ...destExtra }));
      await dst.createBucket();
      stores.push(src, dst);
      return { src, dst };
    };

    it(
      'a key XML 1.0 cannot carry (U+FFFF, U+FFFE) does not block the deletes of every other key',
      { timeout: 90_000 },
      async () => {
        const { src, dst } = await pair('hdx', 3);
        const extras = ['k/b', 'k/c', ...NON_XML_KEYS];
        await put(src, ['k/a']);
        await put(dst, ['k/a', ...extras]);
        const report = await duplicateBucket(src, dst, { delete: true, maxDelete: { percent: 100 }, retry: FAST });
        assert.deepEqual(
          await keysOf(dst),
          ['k/a'],
          `left in the destination; failures: ` +
            `${JSON.stringify(report.failures.map((f) => [f.key, f.error.slice(0, 120)]))}`,
        );
        assert.equal(report.deleted, extras.length);
      },
    );

    for (const page of [1, 3]) {
      it(
        `page ${page}: deletes exactly the extras (twins and XML-hostile keys), keeps every source key`,
        { timeout: 90_000 },
        async () => {
          const { src, dst } = await pair(`hd${page}`, page);
          await put(src, SOURCE_KEYS);
          await put(dst, [...SOURCE_KEYS, ...EXTRA_KEYS]);
          const report = await duplicateBucket(src, dst, { delete: true, maxDelete: { percent: 100 }, retry: FAST });
          assert.deepEqual(
            await keysOf(dst),
            sorted(SOURCE_KEYS),
            `left in the destination; failures: ${JSON.stringify(report.failures)}`,
          );
          assert.equal(report.failed, 0, JSON.stringify(report.failures));
          assert.equal(report.deleted, EXTRA_KEYS.length);
          for (const k of SOURCE_KEYS)
            assert.equal(md5Hex(await readAll((await dst.get(k)).body)), md5Hex(body(k)), JSON.stringify(k));
        },
      );
    }

    it(
      'trash: a trash key over 1024 bytes fails that delete and keeps the object; ' +
        'the rest go to the trash, never swept',
      { timeout: 90_000 },
      async () => {
        const { src, dst } = await pair('htrash', 2, { delete_mode: 'trash' });
        const long = keyOfBytes('k/long2/', 1024);
        const shortExtras = ['k/a ', 'k/\u00e9', 'k/\u0001'];
        await put(src, ['k/a']);
        await put(dst, ['k/a', long, ...shortExtras]);
        const report = await duplicateBucket(src, dst, { delete: true, maxDelete: { percent: 100 }, retry: FAST });
        assert.equal(report.failed, 1, JSON.stringify(report.failures));
        assert.match(report.failures[0]?.error ?? '', /1024/);
        const left = await keysOf(dst);
        assert.ok(left.includes(long), 'the long key is kept, never hard-deleted');
        assert.ok(left.includes('k/a'));
        for (const k of shortExtras) assert.ok(!left.includes(k), `${JSON.stringify(k)} left the live keys`);
        const trashed = left.filter((k) => k.startsWith('.s3s3-trash/'));
        assert.equal(trashed.length, shortExtras.length, JSON.stringify(left));
        for (const k of shortExtras)
          assert.ok(
            trashed.some((t) => t.endsWith('/' + k)),
            `${JSON.stringify(k)} is in the trash`,
          );
        const again = await duplicateBucket(src, dst, { delete: true, maxDelete: { percent: 100 }, retry: FAST });
        assert.equal(again.deleted, 0);
        assert.equal(again.copied, 0);
        assert.equal(again.failed, 1, 'the long key fails again, it is still not hard-deleted');
        assert.equal(
          (await keysOf(dst)).filter((k) => k.startsWith('.s3s3-trash/')).length,
          shortExtras.length,
          'the trash is untouched',
        );
      },
    );
  });
}
