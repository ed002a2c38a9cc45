/**
 * The trash is never deleted by a sweep, whatever its prefix was: trash_prefix changed
 * between sweeps (default root -> "bin/" -> "bin2/" -> trash mode off), every earlier trash is
 * still there, whole, and `--check` reports none of it as extra.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { S3Store } from '../../src/api/store/s3-store.js';
import { duplicateBucket } from '../../src/api/sweep/duplicate.js';
import { checkBucket, type CheckLine } from '../../src/api/sweep/check.js';
import { listTrash } from '../../src/api/sweep/trash.js';
import { destConfig, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, listKeys, md5Hex, putAll, readAll } from '../helpers/seed.js';

const FAST = { attempts: 2, baseMs: 10, maxMs: 50 };
const REGISTRY = '.s3s3-trash/.roots/';

for (const server of testServers()) {
  describe(`trash roots of earlier configs survive later sweeps, on ${server.name}`, () => {
    const stores: S3Store[] = [];
    after(async () => {
      for (const s of stores) await dropStore(s).catch(() => {});
    });

    it(
      'trash_prefix changed twice, then trash mode off: every earlier trash is kept, and never shown as extra',
      { timeout: 120_000 },
      async () => {
        const src = await freshStore(server, uniqueBucket('troot-src'));
        const bucket = uniqueBucket('troot-dst');
        const view = (extra: Record<string, string | number | boolean>) => {
          const s = new S3Store(destConfig(server, bucket, extra));
          stores.push(s);
          return s;
        };
        const first = view({ delete_mode: 'trash' });
        await first.createBucket();
        const body = (k: string) => Buffer.from(`bytes of ${k}`);
        await putAll(src, [{ key: 'a', body: body('a') }]);
        const run = async (dst: S3Store, extra: string) => {
          await putAll(dst, [{ key: extra, body: body(extra) }]);
          const report = await duplicateBucket(src, dst, { delete: true, maxDelete: { percent: 100 }, retry: FAST });
          assert.equal(report.failed, 0, JSON.stringify(report.failures));
          assert.equal(report.deleted, 1, `only ${extra} is deleted: ${JSON.stringify(report)}`);
        };
        await run(first, 'old1');
        const keys = async () => (await listKeys(first)).map((o) => o.key).filter((k) => !k.startsWith(REGISTRY));
        const inDefault = (await keys()).filter((k) => k.startsWith('.s3s3-trash/'));
        assert.equal(inDefault.length, 1, JSON.stringify(inDefault));
        await run(view({ delete_mode: 'trash', trash_prefix: 'bin/' }), 'old2');
        await run(view({ delete_mode: 'trash', trash_prefix: 'bin2/' }), 'old3');
        const off = view({});
        await run(off, 'old4');
        const left = await keys();
        assert.deepEqual(
          left,
          [...inDefault, 'a', 'bin/old2', 'bin2/old3'],
          'every trash is kept; only the live extras left',
        );
        for (const [k, was] of [
          [inDefault[0]!, 'old1'],
          ['bin/old2', 'old2'],
          ['bin2/old3', 'old3'],
        ] as const) {
          assert.equal(md5Hex(await readAll((await first.get(k)).body)), md5Hex(body(was)), `${k} is whole`);
        }
        // A check of the destination without trash mode reports no trash key as extra.
        const lines: CheckLine[] = [];
        const check = await checkBucket(src, off, { onLine: (l) => lines.push(l) });
        assert.deepEqual(
          lines.filter((l) => l.mark !== '=').map((l) => `${l.mark} ${l.key}`),
          [],
        );
        assert.equal(check.ok, true);
        // And the trash, whatever the config says now, lists all three.
        const trashed: string[] = [];
        for await (const o of listTrash(off)) trashed.push(o.key);
        assert.deepEqual(trashed.sort(), [...inDefault, 'bin/old2', 'bin2/old3'].sort());
      },
    );
  });
}
