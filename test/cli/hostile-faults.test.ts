/**
 * The built s3s3bucket with a listing that fails for good on page 2, on the source and on
 * the destination, with --delete and with --check: exit 1, nothing deleted, one error line
 * naming the section, bucket and endpoint, no stack trace.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { S3Store } from '../../src/api/store/s3-store.js';
import { destConfig, sectionIni, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, listKeys, putAll } from '../helpers/seed.js';
import { FaultProxy, isList } from '../helpers/fault-proxy.js';
import { runBucketCli } from '../helpers/fault-rig.js';

for (const server of testServers()) {
  describe(`s3s3bucket with a listing that fails for good, ${server.name}`, () => {
    const stores: S3Store[] = [];
    const proxies: FaultProxy[] = [];
    after(async () => {
      for (const p of proxies) await p.stop();
      for (const s of stores) await dropStore(s).catch(() => {});
    });

    for (const side of ['source', 'dest1'] as const) {
      it(
        `${side} listing fails on page 2: --delete deletes nothing, --check exits 1; the error names [${side}]`,
        { timeout: 120_000 },
        async () => {
          const src = await freshStore(server, uniqueBucket(`hf-${side}-src`));
          const dst = new S3Store(destConfig(server, uniqueBucket(`hf-${side}-dst`)));
          await dst.createBucket();
          stores.push(src, dst);
          const keys = Array.from({ length: 9 }, (_, i) => `k${i}\u00e9 ${'\u0001'}`);
          await putAll(
            src,
            keys.slice(0, 6).map((key) => ({ key, body: Buffer.from(key) })),
          );
          await putAll(
            dst,
            keys.map((key) => ({ key, body: Buffer.from(key) })),
          );
          const proxy = new FaultProxy(server.endpoint);
          proxies.push(proxy);
          const url = await proxy.start();
          const faulty = side === 'source' ? src.bucket : dst.bucket;
          proxy.inject(
            isList(faulty, (n) => n >= 2),
            { kind: 'status', status: 500, code: 'InternalError' },
            10_000,
          );
          const fast = { list_page_size: 2, max_retries: 1 };
          const ini =
            sectionIni('source', side === 'source' ? { ...server, endpoint: url } : server, src.bucket, fast) +
            sectionIni('dest1', side === 'dest1' ? { ...server, endpoint: url } : server, dst.bucket, fast);
          const r = await runBucketCli(ini, ['--delete', '--max-delete', '100%'], 110_000);
          assert.equal(r.code, 1, r.stderr);
          assert.equal((await listKeys(dst)).length, keys.length, 'nothing deleted');
          assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
          const errs = r.stderr.split('\n').filter((l) => /error/i.test(l));
          assert.ok(
            errs.some((l) => l.includes(`[${side}]`) && l.includes(faulty) && l.includes(url)),
            `an error line names [${side}], ${faulty} and ${url}:\n${r.stderr}`,
          );
          const c = await runBucketCli(ini, ['--check'], 110_000);
          assert.equal(c.code, 1, c.stderr);
          assert.doesNotMatch(c.stdout, /^- /m, 'no destination key is called extra when the listing did not finish');
        },
      );
    }
  });
}
