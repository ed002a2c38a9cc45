/**
 * `object_lock = copy` per destination (issue 20), on the test Ceph: source objects with a
 * GOVERNANCE retention and a legal hold, one only held, one plain, and one large enough for a
 * multipart upload, copied to two Object Lock buckets (server-side on the source's own
 * endpoint, streamed through another spelling of it): every copy has the source's mode,
 * retain-until date and legal hold. A destination bucket without Object Lock stops the run
 * before anything is copied (exit 2, naming the section).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
} from '@aws-sdk/client-s3';
import { configDir, runBucket } from '../helpers/bucket-cli.js';
import { sectionIni, uniqueBucket, underOtherName } from '../helpers/servers.js';
import { cephServer } from '../helpers/swift.js';
import { sdkClient } from '../helpers/sdk-client.js';

const ceph = cephServer();
const cephByName = underOtherName(ceph);
const MiB = 1024 * 1024;
const PARTS = { multipart_threshold: '6M', multipart_chunksize: '5M' };
/** Whole seconds: S3 keeps the retain-until date to the second. */
const UNTIL = new Date(Math.ceil(Date.now() / 1000) * 1000 + 86_400_000);

const OBJECTS = [
  { key: 'locked', size: 1000, mode: 'GOVERNANCE', hold: true },
  { key: 'held only', size: 2000, mode: undefined, hold: true },
  { key: 'plain', size: 3000, mode: undefined, hold: false },
  { key: 'big locked', size: 11 * MiB, mode: 'GOVERNANCE', hold: false },
] as const;

const client = sdkClient(ceph);

async function lockedBucket(label: string, objectLock = true): Promise<string> {
  const bucket = uniqueBucket(label);
  await client.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: objectLock }));
  return bucket;
}

/** Every version goes (holds lifted, GOVERNANCE bypassed), then the bucket. */
async function dropLocked(bucket: string): Promise<void> {
  const out = await client.send(new ListObjectVersionsCommand({ Bucket: bucket }));
  for (const v of [...(out.Versions ?? []), ...(out.DeleteMarkers ?? [])]) {
    await client
      .send(
        new PutObjectLegalHoldCommand({
          Bucket: bucket,
          Key: v.Key,
          VersionId: v.VersionId,
          LegalHold: { Status: 'OFF' },
        }),
      )
      .catch(() => undefined);
    await client
      .send(
        new DeleteObjectCommand({
          Bucket: bucket,
          Key: v.Key,
          VersionId: v.VersionId,
          BypassGovernanceRetention: true,
        }),
      )
      .catch(() => undefined);
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
}

describe('object_lock = copy', () => {
  const cfg = configDir('object-lock');
  const buckets: string[] = [];
  let source: string;

  before(async () => {
    source = await lockedBucket('ol-src');
    buckets.push(source);
    for (const o of OBJECTS) {
      const body = randomBytes(o.size);
      await client.send(
        new PutObjectCommand({
          Bucket: source,
          Key: o.key,
          Body: body,
          ContentMD5: createHash('md5').update(body).digest('base64'),
          ...(o.mode ? { ObjectLockMode: o.mode, ObjectLockRetainUntilDate: UNTIL } : {}),
          ...(o.hold ? { ObjectLockLegalHoldStatus: 'ON' } : {}),
        }),
      );
    }
  });
  after(async () => {
    for (const b of buckets) await dropLocked(b);
    client.destroy();
  });

  it('server-side and streamed, single-part and multipart: every copy has the retention and legal hold', async () => {
    const dests = [
      { server: ceph, bucket: await lockedBucket('ol-ss') },
      { server: cephByName, bucket: await lockedBucket('ol-st') },
    ];
    buckets.push(...dests.map((d) => d.bucket));
    const ini =
      sectionIni('source', ceph, source) +
      dests.map((d, i) => sectionIni(`dest${i + 1}`, d.server, d.bucket, { object_lock: 'copy', ...PARTS })).join('');
    const run = await runBucket(['--config', cfg.write('ok.ini', ini), '--json'], { cwd: cfg.dir });
    assert.equal(run.code, 0, run.stderr);
    assert.equal((JSON.parse(run.stdout) as { copied: number }).copied, OBJECTS.length * dests.length);
    for (const d of dests) {
      for (const o of OBJECTS) {
        const head = await client.send(new HeadObjectCommand({ Bucket: d.bucket, Key: o.key }));
        const what = `${d.server === ceph ? 'server-side' : 'streamed'} ${o.key}`;
        assert.equal(head.ContentLength, o.size, what);
        assert.equal(head.ObjectLockMode, o.mode, `${what}: mode`);
        assert.equal(head.ObjectLockRetainUntilDate?.getTime(), o.mode ? UNTIL.getTime() : undefined, `${what}: until`);
        assert.equal(head.ObjectLockLegalHoldStatus ?? 'OFF', o.hold ? 'ON' : 'OFF', `${what}: legal hold`);
      }
    }
  });

  it('a bucket without Object Lock stops the run before any copy (exit 2, naming the section)', async () => {
    const plain = await lockedBucket('ol-none', false);
    buckets.push(plain);
    const ini = sectionIni('source', ceph, source) + sectionIni('dest1', cephByName, plain, { object_lock: 'copy' });
    const run = await runBucket(['--config', cfg.write('none.ini', ini)], { cwd: cfg.dir });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, new RegExp(`\\[dest1\\] object_lock = copy: bucket ${plain} at .* has no Object Lock`));
    const listed = await client.send(new ListObjectVersionsCommand({ Bucket: plain }));
    assert.equal(listed.Versions?.length ?? 0, 0, 'nothing was copied');
  });
});
