/**
 * `acl` per destination (issue 20), on the test Ceph. The source holds a public-read object, an
 * authenticated-read one, a private one and a public-read one large enough for a multipart
 * upload. Destinations take them server-side (the source's endpoint and user) and streamed
 * (another spelling of the endpoint), with `acl = copy` and with `acl = public-read`. Checked
 * as a user would: each copy's ACL read back, and an anonymous GET of each copy (200 for a
 * public one, 403 otherwise).
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
  { key: 'pub', size: 1000, acl: 'public-read' },
  { key: 'auth', size: 1000, acl: 'authenticated-read' },
  { key: 'priv', size: 1000, acl: 'private' },
  { key: 'big pub', size: 11 * MiB, acl: 'public-read' },
] as const;

const PARTS = { multipart_threshold: '6M', multipart_chunksize: '5M' };

/** An anonymous GET's status, as a browser or curl would get it. */
async function anonymousStatus(server: TestServer, bucket: string, key: string): Promise<number> {
  const res = await fetch(`${server.endpoint}/${bucket}/${encodeURIComponent(key)}`);
  await res.arrayBuffer();
  return res.status;
}

describe('acl per destination', () => {
  const stores: S3Store[] = [];
  const cfg = configDir('acl');
  let sourceBucket: string;
  const make = async (label: string, server: TestServer = ceph) => {
    const bucket = uniqueBucket(label);
    const store = await freshStore(server, bucket);
    stores.push(store);
    return { bucket, store };
  };

  before(async () => {
    const s = await make('acl-src');
    sourceBucket = s.bucket;
    for (const o of OBJECTS) await s.store.put(o.key, randomBytes(o.size), { contentLength: o.size, acl: o.acl });
    assert.equal(await anonymousStatus(ceph, s.bucket, 'pub'), 200, 'the source object is public');
    assert.equal(await anonymousStatus(ceph, s.bucket, 'priv'), 403);
  });
  after(async () => {
    for (const s of stores) await dropStore(s).catch(() => undefined);
  });

  it('copy and public-read, server-side and streamed, single-part and multipart: each copy as set', async () => {
    const dests = [
      { label: 'acl-ss-copy', server: ceph, acl: 'copy' },
      { label: 'acl-st-copy', server: cephByName, acl: 'copy' },
      { label: 'acl-st-pub', server: cephByName, acl: 'public-read' },
      { label: 'acl-st-none', server: cephByName, acl: undefined },
    ];
    const made = [];
    for (const d of dests) made.push({ ...d, ...(await make(d.label, d.server)) });
    const ini =
      sectionIni('source', ceph, sourceBucket) +
      made
        .map((d, i) => sectionIni(`dest${i + 1}`, d.server, d.bucket, { ...(d.acl ? { acl: d.acl } : {}), ...PARTS }))
        .join('');
    const run = await runBucket(['--config', cfg.write('acl.ini', ini), '--json'], { cwd: cfg.dir });
    assert.equal(run.code, 0, run.stderr);
    assert.equal((JSON.parse(run.stdout) as { copied: number }).copied, OBJECTS.length * dests.length);
    for (const d of made) {
      for (const o of OBJECTS) {
        const want = d.acl === 'copy' ? o.acl : (d.acl ?? 'private');
        assert.equal((await d.store.readAcl(o.key)).canned, want, `${d.label}: ${o.key}'s ACL`);
        assert.equal(
          await anonymousStatus(ceph, d.bucket, o.key),
          want === 'public-read' ? 200 : 403,
          `${d.label}: an anonymous GET of ${o.key}`,
        );
      }
    }
  });
});
