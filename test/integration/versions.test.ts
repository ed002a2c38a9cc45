/**
 * `[source] versions = true` (issue 20), on the test Ceph: every version of every key copied
 * oldest first, delete markers as delete markers, each copy recording its source version id;
 * a rerun copies nothing; versions added between runs (several per key) are copied in order;
 * `--check` shows `v` lines; a destination whose history cannot follow is reported per key, not
 * changed; a destination without versioning stops the command (exit 2); `--delete` writes a
 * delete marker, `delete_mode = versions` removes every version; a worker's one-key sync copies
 * a key's new versions.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  DeleteObjectCommand,
  GetObjectTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type PutObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { configDir, runBucket } from '../helpers/bucket-cli.js';
import { dropStore, freshStore } from '../helpers/seed.js';
import { sectionIni, uniqueBucket, underOtherName } from '../helpers/servers.js';
import { cephServer } from '../helpers/swift.js';
import { sdkClient } from '../helpers/sdk-client.js';
import { BucketClient } from '../../src/api/bucket-client.js';
import { listUploads } from '../../src/api/uploads/manage.js';
import { FaultProxy, s3Request, type RequestInfo } from '../helpers/fault-proxy.js';
import { join } from 'node:path';
import { parseConfig } from '../../src/api/config.js';
import type { S3Store } from '../../src/api/store/s3-store.js';
import type { VersionEntry } from '../../src/api/store/object-store.js';

const ceph = cephServer();
const cephByName = underOtherName(ceph);
const MiB = 1024 * 1024;
const PARTS = { multipart_threshold: '6M', multipart_chunksize: '5M' };
const NASTY = 'd ü/+%?#\u0001 \u{1F600}';

const client = sdkClient(ceph);

async function versioned(label: string, on = true): Promise<{ bucket: string; store: S3Store }> {
  const bucket = uniqueBucket(label);
  const store = await freshStore(ceph, bucket);
  if (on)
    await client.send(
      new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }),
    );
  return { bucket, store };
}

async function put(bucket: string, key: string, size: number, tagging?: string): Promise<PutObjectCommandOutput> {
  const body = randomBytes(size);
  return client.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: body,
      ContentMD5: createHash('md5').update(body).digest('base64'),
      ...(tagging ? { Tagging: tagging } : {}),
    }),
  );
}

const del = (bucket: string, key: string) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));

/** A key's history, oldest first, as (delete marker | size:etag-or-source-version) entries. */
async function history(store: S3Store, key: string): Promise<VersionEntry[]> {
  const out: VersionEntry[] = [];
  let next: string | undefined;
  do {
    const page = await store.listVersionsPage({ prefix: key, next });
    out.push(...page.entries.filter((e) => e.key === key));
    next = page.next;
  } while (next !== undefined);
  return out.reverse();
}

/** Every key's history at `dest` follows the source's: same entries in order, each copy naming its source version. */
async function assertFollows(src: S3Store, dest: S3Store, keys: readonly string[]): Promise<void> {
  for (const key of keys) {
    const s = await history(src, key);
    const d = await history(dest, key);
    assert.equal(
      d.length,
      s.length,
      `${JSON.stringify(key)}: ${d.length} entries at the destination, ${s.length} at the source`,
    );
    for (const [i, e] of s.entries()) {
      const c = d[i]!;
      assert.equal(c.deleteMarker, e.deleteMarker, `${JSON.stringify(key)} entry ${i + 1}: delete marker`);
      if (e.deleteMarker) continue;
      assert.equal(c.size, e.size, `${JSON.stringify(key)} entry ${i + 1}: size`);
      const head = await dest.headVersion(key, c.versionId);
      assert.equal(
        head?.metadata['s3s3-source-version-id'],
        e.versionId,
        `${JSON.stringify(key)} entry ${i + 1}: source version`,
      );
      if (/^[0-9a-f]{32}$/.test(c.etag)) assert.equal(c.etag, e.etag, `${JSON.stringify(key)} entry ${i + 1}: ETag`);
    }
  }
}

describe('versions = true', () => {
  const cfg = configDir('versions');
  const stores: S3Store[] = [];
  let src: { bucket: string; store: S3Store };
  let dst: { bucket: string; store: S3Store };
  let ini: string;
  const KEYS = ['a', 'b', 'big', NASTY, 'e'];

  before(async () => {
    src = await versioned('v-src');
    dst = await versioned('v-dst');
    stores.push(src.store, dst.store);
    await put(src.bucket, 'a', 100, 'first=yes');
    await put(src.bucket, 'a', 200);
    await put(src.bucket, 'big', 7 * MiB - 1, 'size=large');
    await del(src.bucket, 'a');
    await put(src.bucket, 'a', 300);
    await put(src.bucket, 'b', 10);
    await del(src.bucket, 'b');
    await put(src.bucket, 'big', 7 * MiB);
    await put(src.bucket, 'big', 7 * MiB + 1);
    await put(src.bucket, NASTY, 1);
    await put(src.bucket, NASTY, 2);
    await put(src.bucket, 'e', 5);
    ini = cfg.write(
      'v.ini',
      // Pages of 2 entries, 4 ranges at once: key histories span pages and ranges split between keys.
      sectionIni('source', ceph, src.bucket, { versions: true, list_page_size: 2, list_parallel: 4 }) +
        sectionIni('dest1', cephByName, dst.bucket, {
          ...PARTS,
          delete: true,
          max_delete: '100%',
          list_page_size: 3,
          list_parallel: 4,
        }),
    );
  });
  after(async () => {
    for (const s of stores) {
      for (const k of [...KEYS, 'c', 'f'])
        for (const e of await history(s, k).catch(() => []))
          await s.deleteVersion(k, e.versionId).catch(() => undefined);
      await dropStore(s).catch(() => undefined);
    }
    client.destroy();
  });

  it('copies every version oldest first, delete markers too; a rerun copies nothing', async () => {
    const run = await runBucket(['--config', ini, '--json'], { cwd: cfg.dir });
    assert.equal(run.code, 0, run.stderr);
    assert.equal((JSON.parse(run.stdout) as { copied: number }).copied, KEYS.length);
    await assertFollows(src.store, dst.store, KEYS);
    // Each version's own tags went with it (a multipart copy's too).
    const tagsOf = async (key: string, i: number) => {
      const v = (await history(dst.store, key))[i]!;
      const out = await client.send(
        new GetObjectTaggingCommand({ Bucket: dst.bucket, Key: key, VersionId: v.versionId }),
      );
      return Object.fromEntries((out.TagSet ?? []).map((t) => [t.Key, t.Value]));
    };
    assert.deepEqual(await tagsOf('a', 0), { first: 'yes' });
    assert.deepEqual(await tagsOf('a', 1), {});
    assert.deepEqual(await tagsOf('big', 0), { size: 'large' });
    const again = await runBucket(['--config', ini, '--json'], { cwd: cfg.dir });
    assert.equal(again.code, 0, again.stderr);
    const summary = JSON.parse(again.stdout) as { copied: number; skipped: number };
    assert.deepEqual([summary.copied, summary.skipped], [0, KEYS.length]);
  });

  it('versions added between runs are all copied, in order; --check shows them first as v lines', async () => {
    await put(src.bucket, 'a', 400);
    await put(src.bucket, 'a', 500);
    await put(src.bucket, 'b', 20);
    const check = await runBucket(['--config', ini, '--check'], { cwd: cfg.dir });
    assert.equal(check.code, 1, check.stderr);
    assert.deepEqual(check.stdout.trim().split('\n').sort(), ['v "a" [dest1]', 'v "b" [dest1]']);
    const json = await runBucket(['--config', ini, '--check', '--json'], { cwd: cfg.dir });
    const items = (JSON.parse(json.stdout) as { differences: Array<{ mark: string; key: string }> }).differences;
    assert.deepEqual(items.map((i) => [i.mark, i.key]).sort(), [
      ['v', 'a'],
      ['v', 'b'],
    ]);

    const run = await runBucket(['--config', ini, '--json'], { cwd: cfg.dir });
    assert.equal(run.code, 0, run.stderr);
    assert.equal((JSON.parse(run.stdout) as { copied: number }).copied, 2);
    await assertFollows(src.store, dst.store, KEYS);
    const clean = await runBucket(['--config', ini, '--check'], { cwd: cfg.dir });
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  });

  it('a worker-style one-key sync copies the new versions of that key', async () => {
    await put(src.bucket, NASTY, 3);
    const c = new BucketClient(
      parseConfig(await import('node:fs').then((fs) => fs.readFileSync(ini, 'utf8')), { file: ini }),
    );
    try {
      const r = await c.sync(NASTY);
      assert.ok(r.ok, JSON.stringify(r.results));
      assert.equal(r.results[0]!.outcome, 'copied');
      assert.equal((await c.sync(NASTY)).results[0]!.outcome, 'skipped');
    } finally {
      c.close();
    }
    await assertFollows(src.store, dst.store, [NASTY]);
  });

  it('a history that cannot follow is reported; its current object is set right and follows from then on', async () => {
    await put(src.bucket, 'c', 10);
    await put(dst.bucket, 'c', 11); // written at the destination by someone else
    const run = await runBucket(['--config', ini, '--json'], { cwd: cfg.dir });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /\[dest1\] \\"c\\": history differs at entry 1 \(oldest first\).*written on top/);
    const c = await history(dst.store, 'c');
    assert.deepEqual(
      c.map((e) => e.size),
      [11, 10],
      "the foreign version stays; the source's newest goes on top",
    );
    // From now on the foreign version counts as an older entry only the destination has.
    const check = await runBucket(['--config', ini, '--check'], { cwd: cfg.dir });
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const rerun = await runBucket(['--config', ini, '--json'], { cwd: cfg.dir });
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.equal((await history(dst.store, 'c')).length, 2, 'a rerun adds nothing more');
    await put(src.bucket, 'c', 12);
    const next = await runBucket(['--config', ini, '--json'], { cwd: cfg.dir });
    assert.equal(next.code, 0, next.stderr);
    assert.deepEqual(
      (await history(dst.store, 'c')).map((e) => e.size),
      [11, 10, 12],
      'and the next source version follows',
    );
  });

  it('--delete writes a delete marker; delete_mode = versions removes every version', async () => {
    // 'e' leaves the source in every version.
    for (const e of await history(src.store, 'e')) await src.store.deleteVersion('e', e.versionId);
    for (const e of await history(src.store, 'c')) await src.store.deleteVersion('c', e.versionId);
    for (const e of await history(dst.store, 'c')) await dst.store.deleteVersion('c', e.versionId);
    const run = await runBucket(['--config', ini, '--delete', '--max-delete', '100%', '--json'], { cwd: cfg.dir });
    assert.equal(run.code, 0, run.stderr);
    const e = await history(dst.store, 'e');
    assert.deepEqual(
      e.map((x) => x.deleteMarker),
      [false, true],
      'the version kept, a delete marker on top',
    );
    const purge = cfg.write(
      'purge.ini',
      sectionIni('source', ceph, src.bucket, { versions: true }) +
        sectionIni('dest1', cephByName, dst.bucket, { ...PARTS, delete_mode: 'versions' }),
    );
    const run2 = await runBucket(['--config', purge, '--delete', '--max-delete', '100%'], { cwd: cfg.dir });
    assert.equal(run2.code, 0, run2.stderr);
    assert.deepEqual(await history(dst.store, 'e'), [], 'every version removed for good');
    assert.ok((await history(dst.store, 'a')).length > 0, 'the other keys are untouched');
  });

  it('without deletes: delete markers are not copied, nor does one on top hide the object', async () => {
    const a = await versioned('v-nd-src');
    const b = await versioned('v-nd-dst');
    stores.push(a.store, b.store);
    await put(a.bucket, 'k', 10);
    await del(a.bucket, 'k');
    await put(a.bucket, 'k', 20);
    await del(a.bucket, 'k');
    const nd = cfg.write(
      'nd.ini',
      sectionIni('source', ceph, a.bucket, { versions: true }) + sectionIni('dest1', cephByName, b.bucket),
    );
    const run = await runBucket(['--config', nd], { cwd: cfg.dir });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      (await history(b.store, 'k')).map((e) => (e.deleteMarker ? 'DM' : e.size)),
      [10, 20],
      'the versions, not the delete markers',
    );
    // The source has the key again; a delete marker was put on the destination by someone.
    await put(a.bucket, 'k', 30);
    const first = await runBucket(['--config', nd], { cwd: cfg.dir });
    assert.equal(first.code, 0, first.stderr);
    await del(b.bucket, 'k');
    const again = await runBucket(['--config', nd, '--json'], { cwd: cfg.dir });
    assert.equal(again.code, 0, again.stderr);
    const h = (await history(b.store, 'k')).map((e) => (e.deleteMarker ? 'DM' : e.size));
    assert.deepEqual(h.slice(-2), ['DM', 30], `the newest version goes on top of the marker: ${h.join(' ')}`);
  });

  it('a version copy that fails part-way is kept and resumed by the next run', async () => {
    const a = await versioned('v-res-src');
    const b = await versioned('v-res-dst');
    stores.push(a.store, b.store);
    await put(a.bucket, 'huge', 21 * MiB);
    await put(a.bucket, 'huge', 22 * MiB);
    const proxy = new FaultProxy(ceph.endpoint);
    const url = await proxy.start();
    try {
      const config = parseConfig(
        sectionIni('source', ceph, a.bucket, { versions: true, state_dir: join(cfg.dir, 'state-res') }) +
          sectionIni('dest1', { ...ceph, endpoint: url }, b.bucket, { ...PARTS, max_retries: 0 }),
        { file: 'res.ini' },
      );
      const part3 = (r: RequestInfo) => {
        const q = s3Request(r);
        return q.op === 'UploadPart' && q.query.get('partNumber') === '3';
      };
      proxy.inject(part3, { kind: 'status', status: 500, code: 'InternalError' }, Number.POSITIVE_INFINITY);
      const c = new BucketClient(config);
      try {
        const first = await c.duplicate();
        assert.equal(first.failed, 1, JSON.stringify(first.failures));
        const kept = await listUploads(c.uploads.journal, c.destinations);
        assert.deepEqual(
          kept.map((u) => u.key),
          ['huge'],
          'the upload of the first version is kept',
        );
        proxy.clear();
        const sent = () => proxy.count((r) => s3Request(r).op === 'UploadPart');
        const before = sent();
        const second = await c.duplicate();
        assert.equal(second.failed, 0, JSON.stringify(second.failures));
        // The first version's 5 parts: those put before the failure are kept (at least 1 of them sent
        // again: the one refused); the second version's 5 all sent.
        const n = sent() - before;
        assert.ok(n >= 1 + 5 && n < 5 + 5, `only the missing parts of the first version were sent (${n} parts in all)`);
        assert.deepEqual(await listUploads(c.uploads.journal, c.destinations), []);
      } finally {
        c.close();
      }
      await assertFollows(a.store, b.store, ['huge']);
    } finally {
      await proxy.stop();
    }
  });

  it('refuses what cannot keep versions: an unversioned destination, record_metadata = false (exit 2)', async () => {
    const plain = await versioned('v-plain', false);
    stores.push(plain.store);
    const bad = cfg.write(
      'plain.ini',
      sectionIni('source', ceph, src.bucket, { versions: true }) + sectionIni('dest1', cephByName, plain.bucket),
    );
    const run = await runBucket(['--config', bad], { cwd: cfg.dir });
    assert.equal(run.code, 2, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(`\\[dest1\\] versions = true: bucket ${plain.bucket} at .* does not have versioning enabled`),
    );
    const noMeta = cfg.write(
      'nometa.ini',
      sectionIni('source', ceph, src.bucket, { versions: true }) +
        sectionIni('dest1', cephByName, dst.bucket, { record_metadata: false }),
    );
    const meta = await runBucket(['--config', noMeta], { cwd: cfg.dir });
    assert.equal(meta.code, 2);
    assert.match(meta.stderr, /\[dest1\] record_metadata: = false with \[source\] versions = true/);
  });
});
