/**
 * Huge copies resume (issue 20). A 1 GiB object is copied by s3s3bucket from the test Ceph,
 * read through a proxy that counts the bytes, to another Ceph bucket (S3 multipart) and to the
 * native Swift (an SLO); s3s3bucket is SIGKILLed once ~60 % of the object has been read. The
 * next run reads at most half of the object from the source, the destination is exactly the
 * source, and `s3s3 uploads list` is empty. A source changed between the kill and the resume is
 * copied whole and right, the abandoned upload aborted. `s3s3 uploads list|abort` and
 * `upload_ttl` act on s3s3's own uploads only.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { configDir, runBucket, runS3s3, startBucket } from '../helpers/bucket-cli.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { dropStore, freshStore } from '../helpers/seed.js';
import { sectionIni, uniqueBucket, type TestServer } from '../helpers/servers.js';
import { cephServer, dropSwift, freshSwift, swiftIni } from '../helpers/swift.js';
import { hashObject } from '../../src/api/copy/copy-key.js';
import type { ObjectStore } from '../../src/api/store/object-store.js';
import type { S3Store } from '../../src/api/store/s3-store.js';
import type { SwiftStore } from '../../src/api/store/swift-store.js';
import { FileUploadJournal } from '../../src/api/uploads/journal.js';
import { join } from 'node:path';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const ceph = cephServer();
/** Parts of 8 MiB, two at a time: little is in flight when the process is killed. */
const PARTS = { multipart_threshold: '64M', multipart_chunksize: '8M', concurrency: 2 };
const KEY = 'huge/a "big" one ü.bin';

/** `size` bytes, every MiB different (a part put in the wrong place would show), from one random block. */
function body(size: number, seed: Buffer): Readable {
  let i = 0;
  return Readable.from(
    (function* () {
      for (let at = 0; at < size; at += MiB, i++) {
        const chunk = Buffer.from(seed.subarray(0, Math.min(MiB, size - at)));
        chunk.writeUInt32BE(i, 0);
        yield chunk;
      }
    })(),
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('huge copies resume after a SIGKILL', () => {
  const cfg = configDir('resume');
  const proxy = new FaultProxy(ceph.endpoint);
  let viaProxy: TestServer;
  let source: S3Store;
  let sourceBucket: string;
  const drops: Array<() => Promise<void>> = [];

  before(async () => {
    viaProxy = { ...ceph, endpoint: await proxy.start() };
    sourceBucket = uniqueBucket('resume-src');
    source = await freshStore(ceph, sourceBucket);
    drops.push(() => dropStore(source));
    await source.put(KEY, body(GiB, randomBytes(MiB)), { contentLength: GiB });
  });
  after(async () => {
    for (const d of drops) await d().catch(() => undefined);
    await proxy.stop();
  });

  /** Runs s3s3bucket with `ini` and SIGKILLs it once `fraction` of `size` has been read from the source. */
  async function killAt(ini: string, size: number, fraction: number, args: string[] = []): Promise<void> {
    proxy.responseBytes = 0;
    const child = startBucket(['--config', ini, ...args], { cwd: cfg.dir });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let done = false;
    void exited.then(() => (done = true));
    while (!done && proxy.responseBytes < size * fraction) await sleep(20);
    assert.equal(done, false, `s3s3bucket ended before it was killed: ${stderr}`);
    child.kill('SIGKILL');
    await exited;
  }

  /** The object at `store` is the source's, byte for byte. */
  async function assertCopied(store: ObjectStore, key: string): Promise<void> {
    const want = (await source.head(key))!;
    const head = await store.head(key);
    assert.equal(head?.size, want.size, 'size');
    assert.equal(await hashObject(store, key), want.etag, 'the copy has the MD5 of the source');
  }

  async function uploadsList(ini: string): Promise<string[]> {
    const run = await runS3s3(['uploads', 'list', '--config', ini], { cwd: cfg.dir });
    assert.equal(run.code, 0, run.stderr);
    return run.stdout.split('\n').filter(Boolean);
  }

  for (const kind of ['Ceph (S3 multipart)', 'Swift native (SLO)'] as const) {
    it(`Ceph -> ${kind}: the second run reads at most half of 1 GiB and the copy is exact`, async () => {
      let dest: ObjectStore;
      let destIni: string;
      let pending: () => Promise<number>;
      if (kind.startsWith('Ceph')) {
        const bucket = uniqueBucket('resume-dst');
        const s = await freshStore(ceph, bucket);
        drops.push(() => dropStore(s));
        dest = s;
        destIni = sectionIni('dest1', ceph, bucket, PARTS);
        pending = async () => (await s.pendingUploads()).length;
      } else {
        const container = uniqueBucket('resume-swift');
        const s: SwiftStore = await freshSwift(container);
        drops.push(() => dropSwift(s));
        dest = s;
        destIni = swiftIni('dest1', container, PARTS);
        pending = async () => 0;
      }
      // The Swift case keeps its state in a state_dir of its own; the Ceph case in the default (under HOME).
      const stateDir: Record<string, string> = kind.startsWith('Swift')
        ? { state_dir: join(cfg.dir, 'state-swift') }
        : {};
      const ini = cfg.write(`${dest.bucket}.ini`, sectionIni('source', viaProxy, sourceBucket, stateDir) + destIni);

      await killAt(ini, GiB, 0.6);
      const listed = await uploadsList(ini);
      assert.equal(listed.length, 1, `one upload of ours under way: ${listed.join('\n')}`);
      assert.match(listed[0]!, new RegExp(`^\\S+ ${GiB} "huge/a \\\\"big\\\\" one ü\\.bin" \\[dest1\\] \\S+$`));

      proxy.responseBytes = 0;
      const run = await runBucket(['--config', ini, '--json'], { cwd: cfg.dir, timeoutMs: 300_000 });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /an interrupted upload resumed/);
      assert.ok(
        proxy.responseBytes <= GiB / 2,
        `the resume read ${(proxy.responseBytes / MiB).toFixed(0)} MiB of the 1024 MiB object from the source`,
      );
      await assertCopied(dest, KEY);
      assert.deepEqual(await uploadsList(ini), [], 'no upload of ours left');
      assert.equal(await pending(), 0, 'no multipart upload left at the destination');

      // Nothing to do now: a third run copies nothing.
      const again = await runBucket(['--config', ini, '--json'], { cwd: cfg.dir, timeoutMs: 300_000 });
      assert.equal(again.code, 0, again.stderr);
      assert.equal((JSON.parse(again.stdout) as { copied: number }).copied, 0);
    });
  }

  it('a source changed between the kill and the resume is copied whole and right', async () => {
    const key = 'changed.bin';
    const size = 256 * MiB;
    await source.put(key, body(size, randomBytes(MiB)), { contentLength: size });
    const bucket = uniqueBucket('resume-chg');
    const dest = await freshStore(ceph, bucket);
    drops.push(() => dropStore(dest));
    const ini = cfg.write(
      'changed.ini',
      sectionIni('source', viaProxy, sourceBucket) + sectionIni('dest1', ceph, bucket, PARTS),
    );
    const only = ['--include', 'changed.bin'];
    await killAt(ini, size, 0.6, only);
    assert.equal((await uploadsList(ini)).length, 1);
    await source.put(key, body(size, randomBytes(MiB)), { contentLength: size });

    const run = await runBucket(['--config', ini, '--json', ...only], { cwd: cfg.dir, timeoutMs: 300_000 });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /cannot be resumed: copying the object whole.*source changed/);
    await assertCopied(dest, key);
    assert.deepEqual(await uploadsList(ini), []);
    assert.deepEqual(await dest.pendingUploads(), [], 'the abandoned upload was aborted');
  });

  it('s3s3 uploads list/abort and upload_ttl act on our own uploads only', async () => {
    const bucket = uniqueBucket('resume-ttl');
    const dest = await freshStore(ceph, bucket);
    drops.push(() => dropStore(dest));
    const stateDir = join(cfg.dir, 'state-ttl');
    const journal = new FileUploadJournal(stateDir);
    const record = (key: string, uploadId: string, ageMs: number) =>
      journal.put({
        destination: 'dest1',
        endpoint: dest.endpoint,
        bucket,
        key,
        uploadId,
        partSize: 8 * MiB,
        size: 100 * MiB,
        sourceEtag: 'x',
        headers: 'x',
        startedAt: Date.now() - ageMs,
      });
    const old = await dest.createMultipart('old\u0001key', {});
    const fresh = await dest.createMultipart('fresh', {});
    const foreign = await dest.createMultipart('not ours', {});
    await record('old\u0001key', old, 3 * 86_400_000);
    await record('fresh', fresh, 1000);
    const ini = cfg.write(
      'ttl.ini',
      sectionIni('source', ceph, sourceBucket, { state_dir: stateDir }) + sectionIni('dest1', ceph, bucket),
    );

    const json = await runS3s3(['uploads', 'list', '--config', ini, '--json', '--older-than', '1d'], { cwd: cfg.dir });
    assert.equal(json.code, 0, json.stderr);
    const rows = json.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      rows.map((r) => [r['key'], r['destination'], r['upload_id'], r['size']]),
      [['old\u0001key', 'dest1', old, 100 * MiB]],
    );
    assert.ok((rows[0]!['age_seconds'] as number) >= 3 * 86_400 - 5);

    const bad = await runS3s3(['uploads', 'list', '--config', ini, '--dest', 'dest9'], { cwd: cfg.dir });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /no destination section \[dest9\].*\[dest1\]/);
    const badAge = await runS3s3(['uploads', 'abort', '--config', ini, '--older-than', 'soon'], { cwd: cfg.dir });
    assert.equal(badAge.code, 2);
    assert.match(badAge.stderr, /--older-than "soon" is not/);

    // A sweep aborts ours older than upload_ttl (7 days by default: none; 1 day here: the old one).
    const sweep = await runBucket(['--config', ini, '--include', 'nothing'], { cwd: cfg.dir });
    assert.equal(sweep.code, 0, sweep.stderr);
    assert.equal((await dest.pendingUploads()).length, 3, 'upload_ttl = 7d: nothing aborted');
    const ttlIni = cfg.write(
      'ttl2.ini',
      sectionIni('source', ceph, sourceBucket, { state_dir: stateDir, upload_ttl: '1d' }) +
        sectionIni('dest1', ceph, bucket),
    );
    const swept = await runBucket(['--config', ttlIni, '--include', 'nothing'], { cwd: cfg.dir });
    assert.equal(swept.code, 0, swept.stderr);
    assert.match(swept.stderr, /aborted an upload older than upload_ttl/);
    assert.deepEqual((await dest.pendingUploads()).map((u) => u.uploadId).sort(), [fresh, foreign].sort());

    // `uploads abort` without --older-than: all of ours, never the foreign one.
    const abort = await runS3s3(['uploads', 'abort', '--config', ini], { cwd: cfg.dir });
    assert.equal(abort.code, 0, abort.stderr);
    assert.match(abort.stdout, /^aborted \S+ \d+ "fresh" \[dest1\] /);
    assert.deepEqual(
      (await dest.pendingUploads()).map((u) => u.uploadId),
      [foreign],
    );
    assert.deepEqual(await uploadsList(ini), []);
    await dest.abortMultipart('not ours', foreign);
  });
});
