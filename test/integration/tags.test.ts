/**
 * `tags` (issue 20): object tags travel with the objects, on the test Ceph and Swift. The source
 * (Ceph) holds tagged objects (one multipart, tags with spaces, `&`, `=` and non-ASCII) and an
 * untagged one. Destinations: Ceph server-side (the source's endpoint and user) and streamed
 * (another spelling of the endpoint), each with `tags = true` (the default) and `tags = false`;
 * Swift's S3 API, which answers tags "not implemented", and Swift's own API, which has none:
 * both get every object and one warning line each. A tag-only change at the source is no reason
 * to copy for a plain sweep; `--check --check-metadata` names it, a sweep with `--check-metadata`
 * copies it to the destinations that take tags, and a second such sweep copies nothing (Swift's
 * included).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { configDir, runBucket } from '../helpers/bucket-cli.js';
import { dropStore, freshStore } from '../helpers/seed.js';
import { sectionIni, testServers, uniqueBucket, type TestServer, underOtherName } from '../helpers/servers.js';
import { freshSwift, swiftIni } from '../helpers/swift.js';
import type { S3Store } from '../../src/api/store/s3-store.js';
import type { SwiftStore } from '../../src/api/store/swift-store.js';

const servers = testServers();
const ceph = servers.find((s) => s.name === 'ceph') ?? servers[0]!;
const swiftS3 = servers.find((s) => s.name === 'swift');
/** The same Ceph under another name: s3s3 cannot copy server-side to it, so the bytes stream. */
const cephByName = underOtherName(ceph);
const MiB = 1024 * 1024;
const PARTS = { multipart_threshold: '6M', multipart_chunksize: '5M' };

const TAGS = { project: 'blue sky', 'a&b': 'x=y', ключ: 'значение' };
const OBJECTS = [
  { key: 'tagged', size: 1000, tags: TAGS },
  { key: 'big tagged', size: 11 * MiB, tags: { size: 'large' } },
  { key: 'plain', size: 500, tags: undefined },
] as const;

describe('tags', { skip: swiftS3 === undefined ? 'needs the Swift test server' : false }, () => {
  const stores: S3Store[] = [];
  let swiftNative: SwiftStore;
  const cfg = configDir('tags');
  let source: S3Store;
  let file: string;
  const dests: Array<{ label: string; tags: boolean; store: S3Store }> = [];
  const make = async (label: string, server: TestServer = ceph) => {
    const bucket = uniqueBucket(label);
    const store = await freshStore(server, bucket);
    stores.push(store);
    return { bucket, store };
  };

  before(async () => {
    const src = await make('tags-src');
    source = src.store;
    for (const o of OBJECTS) await source.put(o.key, randomBytes(o.size), { contentLength: o.size, tags: o.tags });
    assert.deepEqual(await source.readTags('tagged'), TAGS, 'the source holds the tags as written');
    let ini = sectionIni('source', ceph, src.bucket);
    const layout = [
      { label: 'tags-ss-on', server: ceph, tags: true },
      { label: 'tags-ss-off', server: ceph, tags: false },
      { label: 'tags-st-on', server: cephByName, tags: true },
      { label: 'tags-st-off', server: cephByName, tags: false },
    ];
    for (const [i, d] of layout.entries()) {
      const m = await make(d.label, d.server);
      dests.push({ label: d.label, tags: d.tags, store: m.store });
      ini += sectionIni(`dest${i + 1}`, d.server, m.bucket, { tags: d.tags, ...PARTS });
    }
    const viaS3 = await make('tags-swift-s3', swiftS3);
    dests.push({ label: 'swift-s3', tags: false, store: viaS3.store });
    ini += sectionIni('dest5', swiftS3!, viaS3.bucket, PARTS);
    const container = uniqueBucket('tags-swift');
    swiftNative = await freshSwift(container);
    ini += swiftIni('dest6', container, { multipart_threshold: '6M', multipart_chunksize: '5M' });
    file = cfg.write('tags.ini', ini);
  });
  after(async () => {
    for (const s of stores) await dropStore(s).catch(() => undefined);
    await swiftNative?.destroyBucket().catch(() => undefined);
    swiftNative?.close();
  });

  it('copied server-side and streamed, single-part and multipart; off with tags = false; Swift said once', async () => {
    const run = await runBucket(['--config', file, '--json'], { cwd: cfg.dir });
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout) as { copied: number; failed: number };
    assert.deepEqual({ copied: summary.copied, failed: summary.failed }, { copied: 18, failed: 0 });
    for (const d of dests) {
      for (const o of OBJECTS) {
        assert.equal((await d.store.head(o.key))?.size, o.size, `${d.label}: ${o.key}`);
        if (d.label === 'swift-s3') continue;
        const want = d.tags && o.tags ? o.tags : {};
        assert.deepEqual(await d.store.readTags(o.key), want, `${d.label}: ${o.key}'s tags`);
      }
    }
    for (const o of OBJECTS) assert.equal((await swiftNative.head(o.key))?.size, o.size, `swift native: ${o.key}`);
    const said = run.stderr.split('\n').filter((l) => /tags not copied to/.test(l));
    assert.equal(said.filter((l) => /\[dest5\]/.test(l)).length, 1, `one line for Swift's S3 API:\n${run.stderr}`);
    assert.equal(said.filter((l) => /\[dest6\]/.test(l)).length, 1, `one line for Swift:\n${run.stderr}`);
    assert.match(
      said.find((l) => /\[dest6\]/.test(l))!,
      /Swift has no object tags/,
    );
  });

  it('a tag-only change: a plain sweep leaves it, --check-metadata copies it where tags go, then nothing', async () => {
    const changed = { project: 'green field' };
    // The same bytes written again with other tags: same size and ETag.
    const bytes = Buffer.alloc(1000, 7);
    await source.put('tagged', bytes, { contentLength: 1000, tags: TAGS });
    const first = await runBucket(['--config', file, '--json'], { cwd: cfg.dir });
    assert.equal(first.code, 0, first.stderr);
    await source.put('tagged', bytes, { contentLength: 1000, tags: changed });
    const plain = await runBucket(['--config', file, '--json'], { cwd: cfg.dir });
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal((JSON.parse(plain.stdout) as { copied: number }).copied, 0, 'a plain sweep compares no tags');
    // --check --check-metadata names the difference, at the two destinations that take tags.
    const look = await runBucket(['--config', file, '--check', '--check-metadata'], { cwd: cfg.dir });
    assert.equal(look.code, 1, look.stderr);
    assert.deepEqual(look.stdout.trim().split('\n').sort(), ['* "tagged" [dest1]', '* "tagged" [dest3]']);
    const why = await runBucket(['--config', file, '--check', '--check-metadata', '--json'], { cwd: cfg.dir });
    const reasons = (JSON.parse(why.stdout) as { differences: Array<{ reason?: string }> }).differences.map(
      (l) => l.reason,
    );
    assert.deepEqual(reasons, ['tags differ', 'tags differ'], why.stdout);
    const check = await runBucket(['--config', file, '--json', '--check-metadata'], { cwd: cfg.dir });
    assert.equal(check.code, 0, check.stderr);
    assert.equal(
      (JSON.parse(check.stdout) as { copied: number }).copied,
      2,
      `to the two destinations taking tags: ${check.stdout}`,
    );
    for (const d of dests.filter((x) => x.tags)) assert.deepEqual(await d.store.readTags('tagged'), changed, d.label);
    const again = await runBucket(['--config', file, '--json', '--check-metadata'], { cwd: cfg.dir });
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { copied: number }).copied, 0, 'nothing left to copy');
  });
});
