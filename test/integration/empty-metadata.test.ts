/**
 * Every empty object has the same ETag, so a sweep cannot tell two empty objects apart by it: an
 * empty object written again with other metadata (its announcement lost, say to a killed
 * daemon) would stay stale for ever. A plain sweep and `--check` compare the metadata of empty
 * objects; a second sweep copies nothing. (Found by the convergence test.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configDir, runBucket } from '../helpers/bucket-cli.js';
import { dropStore, freshStore } from '../helpers/seed.js';
import { sectionIni, testServers, underOtherName, uniqueBucket } from '../helpers/servers.js';
import type { S3Store } from '../../src/api/store/s3-store.js';

const servers = testServers();
const ceph = servers.find((s) => s.name === 'ceph') ?? servers[0]!;

describe('empty objects: metadata decides', () => {
  const cfg = configDir('empty-meta');
  let source: S3Store;
  let dest: S3Store;
  let file: string;

  before(async () => {
    const sb = uniqueBucket('empty-src');
    const db = uniqueBucket('empty-dst');
    source = await freshStore(ceph, sb);
    dest = await freshStore(underOtherName(ceph), db);
    file = cfg.write('s3s3.ini', sectionIni('source', ceph, sb) + sectionIni('dest1', underOtherName(ceph), db));
    await source.put('marker/', Buffer.alloc(0), { contentLength: 0, metadata: { seq: '2' } });
    await dest.put('marker/', Buffer.alloc(0), { contentLength: 0, metadata: { seq: '1' } });
    await source.put('same-empty', Buffer.alloc(0), { contentLength: 0, metadata: { seq: '1' } });
    await dest.put('same-empty', Buffer.alloc(0), { contentLength: 0, metadata: { seq: '1' } });
  });
  after(async () => {
    await dropStore(source);
    await dropStore(dest);
  });

  it('--check names the stale empty object; a plain sweep copies it; the next copies nothing', async () => {
    const check = await runBucket(['--config', file, '--check'], { cwd: cfg.dir });
    assert.equal(check.code, 1, check.stderr);
    assert.deepEqual(check.stdout.trim().split('\n'), ['* "marker/" [dest1]']);
    const sweep = await runBucket(['--config', file, '--json'], { cwd: cfg.dir });
    assert.equal(sweep.code, 0, sweep.stderr);
    assert.equal((JSON.parse(sweep.stdout) as { copied: number }).copied, 1, sweep.stdout);
    assert.equal((await dest.head('marker/'))?.metadata.seq, '2', 'the metadata copied');
    const again = await runBucket(['--config', file, '--json'], { cwd: cfg.dir });
    assert.equal((JSON.parse(again.stdout) as { copied: number }).copied, 0, again.stdout);
    const clean = await runBucket(['--config', file, '--check'], { cwd: cfg.dir });
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  });
});
