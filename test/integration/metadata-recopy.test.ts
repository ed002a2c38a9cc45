/** --check-metadata in a sweep recopies an object whose headers or user metadata differ, and only that one. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { S3Store } from '../../src/api/store/s3-store.js';
import type { TargetResult } from '../../src/api/copy/copy-key.js';
import { duplicateBucket } from '../../src/api/sweep/duplicate.js';
import { testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, md5Hex } from '../helpers/seed.js';

for (const server of testServers()) {
  describe(`sweep --check-metadata on ${server.name}`, () => {
    const stores: S3Store[] = [];
    after(async () => {
      for (const s of stores) await dropStore(s).catch(() => {});
    });

    it('recopies a metadata-only difference, and the results carry what a report needs', async () => {
      const src = await freshStore(server, uniqueBucket('meta-src'));
      const dst = await freshStore(server, uniqueBucket('meta-dst'));
      stores.push(src, dst);
      const body = Buffer.from('same bytes');
      await src.put('a', body, { contentLength: body.length, contentType: 'text/plain', metadata: { owner: 'new' } });
      await src.put('b', body, { contentLength: body.length, contentType: 'text/plain', metadata: {} });
      await dst.put('a', body, { contentLength: body.length, contentType: 'text/plain', metadata: { owner: 'old' } });
      await dst.put('b', body, { contentLength: body.length, contentType: 'text/plain', metadata: {} });
      const plain = await duplicateBucket(src, dst);
      assert.equal(plain.copied, 0, 'without the flag, equal bytes are enough');
      const results: TargetResult[] = [];
      const report = await duplicateBucket(src, dst, { checkMetadata: true, onResult: (r) => results.push(r) });
      assert.equal(report.copied, 1);
      assert.equal((await dst.head('a'))?.metadata.owner, 'new');
      const copied = results.find((r) => r.key === 'a')!;
      assert.equal(copied.reason, 'metadata differs');
      const skipped = results.find((r) => r.key === 'b')!;
      assert.equal(skipped.outcome, 'skipped');
      for (const r of [copied, skipped]) {
        assert.equal(r.sourceKey, r.key);
        assert.equal(r.size, body.length);
        assert.equal(r.md5, md5Hex(body));
        assert.equal(r.sourceEtag, md5Hex(body));
      }
    });
  });
}
