/**
 * `storage_class` per destination (issue 20), on the test Ceph, whose zone has a second class,
 * COLD (test/servers/ceph.sh). The source holds a STANDARD object, a COLD one and a COLD one
 * large enough for a multipart upload. Four destinations take them by both paths: two on the
 * source's own endpoint and user (server-side CopyObject) and two through another spelling of
 * the endpoint (`localhost`: the bytes stream through s3s3), each with `storage_class = COLD` and
 * with `storage_class = copy`; a HEAD of every copy shows the class asked for. A class the
 * destination refuses fails each of its objects with the server's words and exit 1, while the
 * other destination of the same run gets every object.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { configDir, runBucket } from '../helpers/bucket-cli.js';
import { dropStore, freshStore } from '../helpers/seed.js';
import { sectionIni, testServers, uniqueBucket, type TestServer, underOtherName } from '../helpers/servers.js';
import type { S3Store } from '../../src/api/store/s3-store.js';

const servers = testServers();
const ceph = servers.find((s) => s.name === 'ceph') ?? servers[0]!;
/** The same Ceph under another name: s3s3 cannot copy server-side to it, so the bytes stream. */
const cephByName = underOtherName(ceph);
const MiB = 1024 * 1024;

const OBJECTS = [
  { key: 'std', size: 1000, storageClass: undefined },
  { key: 'cold', size: 2000, storageClass: 'COLD' },
  { key: 'big cold', size: 11 * MiB, storageClass: 'COLD' },
] as const;

/** Parts of 5 MiB from 6 MiB up: the large object goes multipart. */
const PARTS = { multipart_threshold: '6M', multipart_chunksize: '5M' };

describe('storage_class per destination', () => {
  const stores: S3Store[] = [];
  let source: S3Store;
  const cfg = configDir('storage-class');
  const make = async (label: string, server: TestServer = ceph): Promise<{ bucket: string; store: S3Store }> => {
    const bucket = uniqueBucket(label);
    const store = await freshStore(server, bucket);
    stores.push(store);
    return { bucket, store };
  };
  let sourceBucket: string;

  before(async () => {
    const s = await make('sc-src');
    source = s.store;
    sourceBucket = s.bucket;
    for (const o of OBJECTS)
      await source.put(o.key, randomBytes(o.size), { contentLength: o.size, storageClass: o.storageClass });
    assert.equal((await source.head('cold'))?.storageClass, 'COLD', 'the test Ceph has the COLD class');
  });
  after(async () => {
    for (const s of stores) await dropStore(s).catch(() => undefined);
  });

  it('COLD and copy, server-side and streamed, single-part and multipart: each copy in its class', async () => {
    const dests = [
      { label: 'sc-ss-cold', server: ceph, storageClass: 'COLD' },
      { label: 'sc-ss-copy', server: ceph, storageClass: 'copy' },
      { label: 'sc-st-cold', server: cephByName, storageClass: 'COLD' },
      { label: 'sc-st-copy', server: cephByName, storageClass: 'copy' },
    ];
    const made = [];
    for (const d of dests) made.push({ ...d, ...(await make(d.label, d.server)) });
    const ini =
      sectionIni('source', ceph, sourceBucket) +
      made
        .map((d, i) => sectionIni(`dest${i + 1}`, d.server, d.bucket, { storage_class: d.storageClass, ...PARTS }))
        .join('');
    const run = await runBucket(['--config', cfg.write('all.ini', ini), '--json'], { cwd: cfg.dir });
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout) as { copied: number; failed: number };
    assert.deepEqual({ copied: summary.copied, failed: summary.failed }, { copied: 12, failed: 0 });
    for (const d of made) {
      for (const o of OBJECTS) {
        const head = await d.store.head(o.key);
        const want = d.storageClass === 'copy' ? (o.storageClass ?? 'STANDARD') : d.storageClass;
        assert.equal(head?.storageClass ?? 'STANDARD', want, `${d.label}: ${o.key}`);
        assert.equal(head?.size, o.size, `${d.label}: ${o.key}`);
      }
    }
    // A second sweep finds every copy in place: the class is no reason to copy again.
    const again = await runBucket(['--config', cfg.dir + '/all.ini', '--json'], { cwd: cfg.dir });
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { copied: number }).copied, 0);
  });

  it("a class the destination refuses fails that destination's objects with its words, not the run", async () => {
    const refused = await make('sc-refused', cephByName);
    const fine = await make('sc-fine', cephByName);
    const ini =
      sectionIni('source', ceph, sourceBucket) +
      sectionIni('dest1', cephByName, refused.bucket, { storage_class: 'GLACIER_IR', ...PARTS }) +
      sectionIni('dest2', cephByName, fine.bucket, PARTS);
    const run = await runBucket(['--config', cfg.write('refused.ini', ini), '--json'], { cwd: cfg.dir });
    assert.equal(run.code, 1, run.stderr);
    const summary = JSON.parse(run.stdout) as { destinations: Record<string, { copied: number; failed: number }> };
    assert.deepEqual(
      { copied: summary.destinations.dest1!.copied, failed: summary.destinations.dest1!.failed },
      { copied: 0, failed: OBJECTS.length },
    );
    assert.equal(summary.destinations.dest2!.copied, OBJECTS.length);
    // The server's words, per object, with the class sent and the key of the config to look at.
    for (const o of OBJECTS) {
      const line = run.stderr
        .split('\n')
        .find(
          (l) => l.includes(`key=${o.key.includes(' ') ? `"${o.key}"` : `${o.key} `}`) && /destination=dest1/.test(l),
        );
      assert.ok(line, `a line for ${o.key} at dest1:\n${run.stderr}`);
      assert.match(line, /InvalidArgument.*storage class GLACIER_IR \(storage_class\)/);
    }
    for (const o of OBJECTS) {
      assert.equal(await refused.store.head(o.key), null, `no partial ${o.key} at dest1`);
      assert.equal((await fine.store.head(o.key))?.size, o.size);
    }
  });
});
