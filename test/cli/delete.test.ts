/** s3s3bucket --delete as a user runs it: dry-run lines, guards that fail the run, the JSON summary. */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sectionIni, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, listKeys, putAll } from '../helpers/seed.js';
import type { S3Store } from '../../src/api/store/s3-store.js';

const BIN = join(import.meta.dirname, '../../dist/scripts/bucket.js');
const dir = mkdtempSync(join(tmpdir(), 's3s3-del-'));

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

describe('s3s3bucket --delete', () => {
  const [a, b] = testServers();
  const stores: S3Store[] = [];
  after(async () => {
    for (const s of stores) await dropStore(s).catch(() => {});
  });

  it(
    'prints what it would delete, refuses past --max-delete (exit 1), deletes within it, ' +
      'and never where delete = false',
    async () => {
      const src = await freshStore(a!, uniqueBucket('cdel-src'));
      const dst = await freshStore(b!, uniqueBucket('cdel-dst'));
      const keep = await freshStore(b!, uniqueBucket('cdel-keep'));
      stores.push(src, dst, keep);
      const put = (s: S3Store, keys: string[]) =>
        putAll(
          s,
          keys.map((key) => ({ key, body: Buffer.from(key) })),
        );
      await put(src, ['a', 'b']);
      await put(dst, ['a', 'b', 'old "1"', 'old\n2']);
      await put(keep, ['a', 'b', 'old "1"']);
      const file = join(dir, 's3s3.ini');
      writeFileSync(
        file,
        sectionIni('source', a!, src.bucket) +
          sectionIni('dest1', b!, dst.bucket) +
          sectionIni('dest2', b!, keep.bucket, { delete: false }),
        { mode: 0o600 },
      );

      const dry = await run(['--config', file, '--delete', '--dry-run', '--max-delete', '100%']);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /^would delete "old \\"1\\"" -> \[dest1\]$/m);
      assert.match(dry.stdout, /^would delete "old\\n2" -> \[dest1\]$/m);
      assert.doesNotMatch(dry.stdout, /\[dest2\]/);

      const refused = await run(['--config', file, '--delete', '--json']);
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        /delete refused: \[dest1\] would delete 2 of 4 keys, more than max_delete 10% \(0\)/,
      );
      assert.equal((await listKeys(dst)).length, 4);

      const done = await run(['--config', file, '--delete', '--max-delete', '2', '--json']);
      assert.equal(done.code, 0, done.stderr);
      const summary = JSON.parse(done.stdout) as { deleted: number; destinations: Record<string, { deleted: number }> };
      assert.equal(summary.deleted, 2);
      assert.equal(summary.destinations.dest1!.deleted, 2);
      assert.deepEqual(
        (await listKeys(dst)).map((o) => o.key),
        ['a', 'b'],
      );
      assert.equal((await listKeys(keep)).length, 3, 'delete = false wins over --delete');
    },
  );

  it('refuses to delete from an empty source (exit 1) unless --allow-empty-source', async () => {
    const src = await freshStore(a!, uniqueBucket('cempty-src'));
    const dst = await freshStore(b!, uniqueBucket('cempty-dst'));
    stores.push(src, dst);
    await putAll(dst, [{ key: 'x', body: Buffer.from('x') }]);
    const file = join(dir, 'empty.ini');
    writeFileSync(
      file,
      sectionIni('source', a!, src.bucket) + sectionIni('dest1', b!, dst.bucket, { delete: true, max_delete: '100%' }),
      { mode: 0o600 },
    );
    const refused = await run(['--config', file]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /lists no key in scope while \[dest1\] holds 1: refusing to delete everything/);
    assert.equal((await listKeys(dst)).length, 1);
    const allowed = await run(['--config', file, '--allow-empty-source']);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal((await listKeys(dst)).length, 0);
  });
});
