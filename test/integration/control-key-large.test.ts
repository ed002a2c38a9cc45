/**
 * A key with a control character, larger than multipart_threshold, reaches every destination:
 * Swift's s3api answers 500 to a CreateMultipartUpload of such a key, every time, so s3s3 sends
 * it in one PUT (up to 5 GiB, which every S3 server takes). Other keys still go multipart.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { S3Store } from '../../src/api/store/s3-store.js';
import { duplicateBucket } from '../../src/api/sweep/duplicate.js';
import { destConfig, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, md5Hex, readAll } from '../helpers/seed.js';

const MiB = 1024 * 1024;
const FAST = { attempts: 2, baseMs: 10, maxMs: 50 };

describe('a large object whose key holds a control character', () => {
  const servers = testServers();
  const stores: S3Store[] = [];
  after(async () => {
    for (const s of stores) await dropStore(s).catch(() => {});
  });

  it(
    'is copied to Ceph and to Swift s3api past multipart_threshold; a plain key beside it still goes multipart',
    { timeout: 120_000 },
    async () => {
      const ceph = servers.find((s) => s.name === 'ceph')!;
      const src = await freshStore(ceph, uniqueBucket('ctl-src'));
      stores.push(src);
      const dests = servers.map(
        (server, i) =>
          new S3Store(
            destConfig(server, uniqueBucket(`ctl-d${i}`), { multipart_threshold: '5M', multipart_chunksize: '5M' }),
          ),
      );
      for (const d of dests) {
        await d.createBucket();
        stores.push(d);
      }
      const body = randomBytes(6 * MiB + 17);
      const keys = [
        'ctl/x\u0012y',
        'ctl/tab\there',
        'ctl/nl\nx',
        'ctl/cr\rx',
        'ctl/esc\u001b[0m',
        'ctl/del\u007f',
        'ctl/plain',
      ];
      for (const key of keys) await src.put(key, body, { contentLength: body.length });
      const report = await duplicateBucket(src, dests, { retry: FAST, concurrency: 2 });
      assert.equal(report.failed, 0, JSON.stringify(report.failures));
      const methods = new Map<string, string>();
      for (const d of dests) {
        for (const key of keys) {
          const got = await d.get(key);
          assert.equal(md5Hex(await readAll(got.body)), md5Hex(body), `[${d.name} ${d.bucket}] ${JSON.stringify(key)}`);
          methods.set(`${d.endpoint} ${key}`, /-\d+$/.test(got.info.etag) ? 'multipart' : 'single');
        }
      }
      // Ceph to Ceph is a server-side copy; to Swift the bytes are streamed through s3s3.
      const streamed = dests.filter((d) => d.endpoint !== src.endpoint);
      assert.ok(streamed.length > 0);
      for (const d of streamed) {
        assert.equal(methods.get(`${d.endpoint} ctl/plain`), 'multipart', 'a plain key still goes multipart');
        assert.equal(methods.get(`${d.endpoint} ctl/x\u0012y`), 'single');
      }
    },
  );
});
