/**
 * Server-side copies (source and destination on the same endpoint) of every key shape and
 * twin: CopyObject's x-amz-copy-source must name exactly the key, so each copy lands with
 * the right bytes under the right key; a second sweep copies nothing.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { S3Store } from '../../src/api/store/s3-store.js';
import { duplicateBucket } from '../../src/api/sweep/duplicate.js';
import { destConfig, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, listKeys, md5Hex, putAll, readAll } from '../helpers/seed.js';
import { KEY_SHAPES, ORDER_KEYS } from '../helpers/keys.js';

const TWINS = [
  'tw/a b',
  'tw/a+b',
  'tw/a%20b',
  'tw/a%2Bb',
  'tw/a%2Fb',
  'tw/a/b',
  'tw/%',
  'tw/?x=1',
  'tw/#',
  'tw/trailing ',
  'tw/\u00e9',
  'tw/e\u0301',
  'tw/..',
  'tw/./x',
  'tw/../x',
  'tw/~',
];
const KEYS = [...new Set([...KEY_SHAPES, ...ORDER_KEYS, ...TWINS])];
const body = (k: string) => Buffer.from(`server-side ${k}`);
const sorted = (keys: readonly string[]) => [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

for (const server of testServers()) {
  describe(`server-side copies of every key shape on ${server.name}`, () => {
    const stores: S3Store[] = [];
    after(async () => {
      for (const s of stores) await dropStore(s).catch(() => {});
    });
    for (const sig of ['s3v4', 's3'] as const) {
      it(
        `signature ${sig}: every key lands with its bytes; a second sweep copies nothing`,
        { timeout: 120_000 },
        async () => {
          const src = await freshStore(server, uniqueBucket(`ssc-${sig}-src`), {
            signature_version: sig,
            list_page_size: 3,
          });
          const dst = new S3Store(
            destConfig(server, uniqueBucket(`ssc-${sig}-dst`), { signature_version: sig, list_page_size: 3 }),
          );
          await dst.createBucket();
          stores.push(src, dst);
          await putAll(
            src,
            KEYS.map((key) => ({ key, body: body(key) })),
          );
          const first = await duplicateBucket(src, dst);
          assert.equal(first.failed, 0, JSON.stringify(first.failures.slice(0, 5)));
          assert.deepEqual(
            (await listKeys(dst)).map((o) => o.key),
            sorted(KEYS),
          );
          for (const k of KEYS)
            assert.equal(md5Hex(await readAll((await dst.get(k)).body)), md5Hex(body(k)), JSON.stringify(k));
          const second = await duplicateBucket(src, dst);
          assert.equal(second.copied, 0);
          assert.equal(second.failed, 0);
        },
      );
    }
  });
}
