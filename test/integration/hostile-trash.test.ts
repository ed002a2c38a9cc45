/**
 * The trash and the source: s3s3 never writes in the source's scope, and a source key is
 * never skipped because its name looks like a trash path (the source has no trash: s3s3
 * never deletes there).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/api/config.js';
import { ConfigError } from '../../src/api/errors.js';
import { S3Store } from '../../src/api/store/s3-store.js';
import { duplicateBucket } from '../../src/api/sweep/duplicate.js';
import { destConfig, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, listKeys, putAll } from '../helpers/seed.js';

const [server] = testServers();

describe('the trash never hides source keys and never lands in the source', () => {
  const stores: S3Store[] = [];
  after(async () => {
    for (const s of stores) await dropStore(s).catch(() => {});
  });

  it(
    'a source key under ".s3s3-trash/" is copied like any other (the source has no trash)',
    { timeout: 60_000 },
    async () => {
      const src = await freshStore(server!, uniqueBucket('tsrc'));
      const dst = new S3Store(destConfig(server!, uniqueBucket('tdst')));
      await dst.createBucket();
      stores.push(src, dst);
      const keys = ['.s3s3-trash/2020-01-01/report.pdf', 'a'];
      await putAll(
        src,
        keys.map((key) => ({ key, body: Buffer.from(key) })),
      );
      const report = await duplicateBucket(src, dst);
      assert.equal(report.listed, 2, 'both source keys are listed');
      assert.deepEqual(
        (await listKeys(dst)).map((o) => o.key),
        keys,
        'both are in the destination',
      );
    },
  );

  it(
    'a trash_prefix inside the source prefix of the same bucket is a config error (trashing would ' +
      'write into the source)',
    () => {
      const sec = (n: string, extra: string) =>
        `[${n}]\naws_access_key_id = a\naws_secret_access_key = b\nbucket_name = bk\nendpoint = http://127.0.0.1:9000\n${extra}\n`;
      const text =
        sec('source', 'prefix = old/') +
        sec('dest1', 'prefix = new/\ndelete = true\ndelete_mode = trash\ntrash_prefix = old/t/');
      assert.throws(
        () => parseConfig(text, { file: 't' }),
        (e: unknown) => e instanceof ConfigError && /trash_prefix/.test(e.message),
      );
    },
  );

  it(
    'trash mode inside one bucket (old/ -> new/, trash_prefix under old/) never creates a key in the source prefix',
    { timeout: 60_000 },
    async () => {
      const bucket = uniqueBucket('tsame');
      const real = await freshStore(server!, bucket);
      stores.push(real);
      const { endpointConfig } = await import('../helpers/servers.js');
      let src: S3Store;
      let dst: S3Store;
      try {
        src = new S3Store(endpointConfig(server!, bucket, { prefix: 'old/' }));
        dst = new S3Store(
          destConfig(server!, bucket, { prefix: 'new/', delete_mode: 'trash', trash_prefix: 'old/t/' }),
        );
      } catch (e) {
        // Refused by the config: that is a fix too.
        assert.ok(e instanceof ConfigError);
        return;
      }
      await putAll(
        real,
        ['old/a', 'new/a', 'new/stale'].map((key) => ({ key, body: Buffer.from(key) })),
      );
      await duplicateBucket(src, dst, { delete: true, maxDelete: { percent: 100 } });
      const inSource = (await listKeys(real)).map((o) => o.key).filter((k) => k.startsWith('old/'));
      assert.deepEqual(inSource, ['old/a'], 'the source prefix holds only what it held');
      src.close();
      dst.close();
    },
  );
});

describe('a hint naming a trash key never deletes from the trash', () => {
  const stores: S3Store[] = [];
  after(async () => {
    for (const s of stores) await dropStore(s).catch(() => {});
  });

  for (const mode of ['trash', 'delete'] as const) {
    it(
      `syncKey / deleteKey of ".s3s3-trash/..." (the source lacks it) leave the destination's trash alone, ` +
        `delete_mode = ${mode}`,
      { timeout: 60_000 },
      async () => {
        const { syncKey, deleteKey } = await import('../../src/api/sync/sync-key.js');
        const src = await freshStore(server!, uniqueBucket('ht-src'));
        const dst = new S3Store(destConfig(server!, uniqueBucket('ht-dst'), { delete: true, delete_mode: mode }));
        await dst.createBucket();
        stores.push(src, dst);
        const trashed = '.s3s3-trash/2026-01-01/precious';
        await dst.put(trashed, Buffer.from('restore me'), { contentLength: 10 });
        await deleteKey(src, [dst], trashed);
        await syncKey(src, [dst], trashed);
        assert.deepEqual(
          (await listKeys(dst)).map((o) => o.key),
          [trashed],
          'the trash is never deleted from (nor trashed again)',
        );
      },
    );
  }
});
