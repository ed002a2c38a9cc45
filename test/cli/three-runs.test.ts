/**
 * Issue 7's acceptance run: a sweep from Ceph to Swift of a bucket holding every key shape,
 * control characters included, run three times in a row by the built command: each exits
 * 0, and the second and third write nothing. Listings are paged small so that control
 * characters and astral keys sit on page edges.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sectionIni, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, md5Hex, putAll, readAll } from '../helpers/seed.js';
import { KEY_SHAPES, ORDER_KEYS } from '../helpers/keys.js';
import type { S3Store } from '../../src/api/store/s3-store.js';

const BIN = join(import.meta.dirname, '../../dist/scripts/bucket.js');
const dir = mkdtempSync(join(tmpdir(), 's3s3-three-'));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH, HOME: dir }, cwd: dir },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('three sweeps in a row, every key shape, Ceph -> Swift', () => {
  const servers = testServers();
  const ceph = servers.find((s) => s.name === 'ceph')!;
  const swift = servers.find((s) => s.name === 'swift')!;
  const stores: S3Store[] = [];
  after(async () => {
    for (const s of stores) await dropStore(s).catch(() => {});
  });

  it('exits 0 three times; the second and third runs write nothing', { timeout: 300_000 }, async () => {
    const srcBucket = uniqueBucket('three-src');
    const dstBucket = uniqueBucket('three-dst');
    const src = await freshStore(ceph, srcBucket);
    const dst = await freshStore(swift, dstBucket);
    stores.push(src, dst);
    const keys = [...KEY_SHAPES, ...ORDER_KEYS];
    await putAll(
      src,
      keys.map((key) => ({ key, body: key.endsWith('/') ? Buffer.alloc(0) : Buffer.from(`shape ${key}`) })),
    );
    const file = join(dir, 's3s3.ini');
    writeFileSync(
      file,
      sectionIni('source', ceph, srcBucket, { list_page_size: 7 }) +
        sectionIni('dest1', swift, dstBucket, { list_page_size: 7 }),
      { mode: 0o600 },
    );
    const copied: number[] = [];
    for (let i = 1; i <= 3; i++) {
      const r = await run(['--config', file, '--json', '--quiet']);
      assert.equal(r.code, 0, `run ${i}: ${r.stderr}`);
      const report = JSON.parse(r.stdout) as { listed: number; copied: number; skipped: number; failed: number };
      assert.equal(report.listed, keys.length, `run ${i} listed every key`);
      assert.equal(report.failed, 0);
      copied.push(report.copied);
    }
    assert.deepEqual(copied, [keys.length, 0, 0]);
    for (const key of keys) {
      const got = await dst.get(key);
      assert.equal(
        md5Hex(await readAll(got.body)),
        md5Hex(key.endsWith('/') ? Buffer.alloc(0) : Buffer.from(`shape ${key}`)),
        JSON.stringify(key),
      );
    }
  });
});
