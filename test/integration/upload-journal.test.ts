/**
 * Where resumable uploads are recorded (issue 20): the state files under `state_dir` and the
 * Redis hash `s3s3:uploads` (real redis-server) keep the same record for any key (controls,
 * 1024 bytes, astral characters), replace it per destination object, and remove it only while
 * it still names the upload asked about (another process may have begun a newer one).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis } from '../../src/api/redis/redis.js';
import { FileUploadJournal, type UploadJournal, type UploadRecord } from '../../src/api/uploads/journal.js';
import { RedisUploadJournal, UPLOADS_KEY } from '../../src/api/uploads/redis-journal.js';
import { redisUrl, uniqueBucket } from '../helpers/servers.js';

const KEYS = ['plain', 'a\u0001b\nc', `${'é'.repeat(511)}x`, 'emoji \u{1F600}/x'];

function record(bucket: string, key: string, uploadId: string): UploadRecord {
  return {
    destination: 'dest1',
    endpoint: 'http://127.0.0.1:1',
    bucket,
    key,
    uploadId,
    partSize: 8 << 20,
    size: 1 << 30,
    sourceEtag: 'abc',
    headers: 'h',
    startedAt: Date.now(),
  };
}

async function exercise(journal: UploadJournal): Promise<void> {
  const bucket = uniqueBucket('journal');
  for (const key of KEYS) await journal.put(record(bucket, key, `u1-${key.length}`));
  for (const key of KEYS) assert.equal((await journal.get('http://127.0.0.1:1', bucket, key))?.key, key);
  assert.equal(await journal.get('http://127.0.0.1:1', bucket, 'absent'), undefined);
  assert.equal(await journal.get('http://127.0.0.1:1', `${bucket}-other`, 'plain'), undefined, 'per bucket');
  // A newer upload of one object replaces the record; removing the older one leaves the newer.
  await journal.put(record(bucket, 'plain', 'u2'));
  await journal.remove(record(bucket, 'plain', 'u1-5'));
  assert.equal((await journal.get('http://127.0.0.1:1', bucket, 'plain'))?.uploadId, 'u2');
  const mine = (await journal.list()).filter((r) => r.bucket === bucket);
  assert.deepEqual(mine.map((r) => r.key).sort(), [...KEYS].sort());
  for (const r of mine) await journal.remove(r);
  assert.deepEqual(
    (await journal.list()).filter((r) => r.bucket === bucket),
    [],
  );
}

describe('upload records', () => {
  const dir = mkdtempSync(join(tmpdir(), 's3s3-journal-'));
  const redis = connectRedis(redisUrl(), { redactedUrl: 'redis://journal-test', mode: 'client' });
  after(() => redis.close());

  it('as files under state_dir: every key shape, replaced per object, removed only for its own upload', async () => {
    const journal = new FileUploadJournal(dir);
    await exercise(journal);
    assert.equal(statSync(join(dir, 'uploads')).mode & 0o777, 0o700, 'the directory is private');
    assert.deepEqual(readdirSync(join(dir, 'uploads')), [], 'no file left behind (temp files included)');
  });

  it('in the Redis hash s3s3:uploads: the same', async () => {
    const journal = new RedisUploadJournal(redis);
    await exercise(journal);
    assert.match(journal.where, new RegExp(`^redis://journal-test ${UPLOADS_KEY}$`));
  });
});
