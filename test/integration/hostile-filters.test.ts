/**
 * `--prefix`, `--include` and `--exclude` with prefixes on both sides and --delete: globs
 * match the key relative to the source prefix (with --prefix part of it), excluded keys
 * are never deleted, keys outside --prefix are never touched; globs see control
 * characters, spaces and astral characters like any other character.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { S3Store } from '../../src/api/store/s3-store.js';
import { duplicateBucket } from '../../src/api/sweep/duplicate.js';
import { destConfig, endpointConfig, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, listKeys, putAll } from '../helpers/seed.js';

const servers = testServers();
const [a, b] = [servers[0]!, servers[1] ?? servers[0]!];
const sorted = (keys: readonly string[]) => [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));

describe(`--prefix and globs with prefixes on both sides and --delete, ${a.name} -> ${b.name}`, () => {
  const stores: S3Store[] = [];
  after(async () => {
    for (const s of stores) await dropStore(s).catch(() => {});
  });

  it('copies and deletes exactly the keys the relative --prefix and globs select', { timeout: 90_000 }, async () => {
    const src = new S3Store(endpointConfig(a, uniqueBucket('hf-src'), { prefix: 'src \u00e9/', list_page_size: 2 }));
    const dst = new S3Store(destConfig(b, uniqueBucket('hf-dst'), { prefix: 'dst/\u{1F600}/', list_page_size: 2 }));
    await src.createBucket();
    await dst.createBucket();
    stores.push(src, dst);
    const S = 'src \u00e9/';
    const D = 'dst/\u{1F600}/';
    await putAll(
      src,
      ['x/a', 'x/\u0001b', 'x/keep/c', 'x/sub/d e', 'y/f', 'x/\u{1F600}.log'].map((k) => ({
        key: S + k,
        body: Buffer.from(k),
      })),
    );
    await putAll(
      dst,
      ['x/old', 'x/keep/old', 'x/\u0002old', 'y/old', 'x/z.log', 'x/sub/old'].map((k) => ({
        key: D + k,
        body: Buffer.from(k),
      })),
    );
    const report = await duplicateBucket(src, dst, {
      prefix: 'x/',
      exclude: ['x/keep/**', '*.log', 'x/*.log'],
      include: ['x/**'],
      delete: true,
      maxDelete: { percent: 100 },
    });
    assert.equal(report.aborted, undefined);
    assert.equal(report.failed, 0, JSON.stringify(report.failures));
    assert.deepEqual(
      (await listKeys(dst)).map((o) => o.key),
      sorted([D + 'x/a', D + 'x/\u0001b', D + 'x/sub/d e', D + 'x/keep/old', D + 'y/old', D + 'x/z.log']),
      'copied: x/ minus excluded; deleted: x/old, x/\\u0002old, x/sub/old; kept: excluded and outside --prefix',
    );
  });

  it(
    "max_delete's percentage is of the keys in scope: keys the filters exclude do not raise it",
    { timeout: 90_000 },
    async () => {
      const src = new S3Store(endpointConfig(a, uniqueBucket('hf-max-src')));
      const dst = new S3Store(destConfig(b, uniqueBucket('hf-max-dst')));
      await src.createBucket();
      await dst.createBucket();
      stores.push(src, dst);
      // In scope at the destination: 10 keys under in/, 2 of them extra. Out of scope: 90 *.log files.
      const kept = Array.from({ length: 8 }, (_, i) => `in/${i}`);
      await putAll(
        src,
        kept.map((k) => ({ key: k, body: Buffer.from(k) })),
      );
      await putAll(
        dst,
        [...kept, 'in/extra1', 'in/extra2', ...Array.from({ length: 90 }, (_, i) => `in/${i}.log`)].map((k) => ({
          key: k,
          body: Buffer.from(k),
        })),
        16,
      );
      // 10 % of 10 keys in scope is 1: two deletes are refused (of 100 listed keys, 10 % would allow them).
      const report = await duplicateBucket(src, dst, { exclude: ['**.log'], delete: true, maxDelete: { percent: 10 } });
      assert.equal(report.deleted, 0, JSON.stringify(report));
      assert.match((report.refused ?? []).join('\n'), /would delete 2 of 10 keys/);
      assert.equal((await listKeys(dst)).length, 100);
    },
  );
});
