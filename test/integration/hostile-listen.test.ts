/**
 * s3s3listen with hostile keys, as an operator drives it: keys announced by
 * `s3s3publish -0` (NUL-terminated, so newlines travel) and deletions by
 * `s3s3publish --delete -0`, with `delete = true` in [dest1] and prefixes on both sides;
 * then the source bucket deleted under it and delete hints for every key: the destinations
 * must keep everything.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { redisUrl, testServers } from '../helpers/servers.js';
import { Daemon, readBody, runScript, setup, waitFor } from '../helpers/listen.js';
import { CONTROL_KEYS } from '../helpers/keys.js';

function keyOfBytes(prefix: string, bytes: number): string {
  let key = prefix;
  while (Buffer.byteLength(key + '\u00e9', 'utf8') <= bytes - 1) key += '\u00e9';
  while (Buffer.byteLength(key, 'utf8') < bytes) key += 'x';
  return key;
}

const SRC_PREFIX = 'in/';
const DST_PREFIX = 'out \u00e9/';
const REL = [
  'a b',
  'a+b',
  'trailing ',
  ' leading',
  '\u00e9',
  'e\u0301',
  '\u{1F600}/\u{2070E}',
  'new\nline',
  'cr\r',
  '{"key":"x"}',
  '{not json',
  'quote"d\\',
  keyOfBytes('', 1024 - SRC_PREFIX.length - 8),
  ...CONTROL_KEYS.filter((k) => k.length === 1 && k !== '\u0000').map((c) => `c${c}`),
];
const body = (k: string) => Buffer.from(`v of ${k}`);

const servers = testServers();
for (const [i, a] of servers.entries()) {
  const b = servers[(i + 1) % servers.length]!;
  describe(`s3s3listen with hostile keys: ${a.name} -> ${b.name}, delete = true, prefixes`, () => {
    it(
      'copies what -0 announces, deletes what --delete announces, and deletes nothing once the source bucket is gone',
      { timeout: 180_000 },
      async () => {
        const s = await setup({
          source: a,
          dests: [b],
          redisUrl: redisUrl(),
          label: `hlisten-${a.name}`,
          sourceExtra: { prefix: SRC_PREFIX },
          destExtra: { prefix: DST_PREFIX, delete: true },
        });
        const d = Daemon.start(s.file, ['--concurrency', '4', '--bucket-probe-interval', '2', '--verbose']);
        const dest = s.dests[0]!;
        try {
          await d.waitForLine(/ listening /);
          for (const k of REL) await s.source.put(SRC_PREFIX + k, body(k), { contentLength: body(k).length });
          const pub = await runScript(
            'publish',
            ['--config', s.file, '-0'],
            REL.map((k) => SRC_PREFIX + k + '\0').join(''),
          );
          assert.equal(pub.code, 0, pub.stderr);
          for (const k of REL)
            await waitFor(
              `${JSON.stringify(k)} copied`,
              async () => (await readBody(dest, DST_PREFIX + k))?.equals(body(k)),
              60_000,
            );

          // Half deleted at the source, announced as deletions.
          const gone = REL.filter((_, n) => n % 2 === 0);
          const kept = REL.filter((_, n) => n % 2 === 1);
          for (const k of gone) await s.source.delete(SRC_PREFIX + k);
          const del = await runScript(
            'publish',
            ['--config', s.file, '--delete', '-0'],
            gone.map((k) => SRC_PREFIX + k + '\0').join(''),
          );
          assert.equal(del.code, 0, del.stderr);
          for (const k of gone)
            await waitFor(
              `${JSON.stringify(k)} deleted`,
              async () => (await readBody(dest, DST_PREFIX + k)) === null,
              60_000,
            );
          for (const k of kept)
            assert.deepEqual(await readBody(dest, DST_PREFIX + k), body(k), `${JSON.stringify(k)} kept`);

          // The source bucket goes; hints of every kind for every key must delete nothing.
          await s.source.destroyBucket();
          const all = REL.map((k) => SRC_PREFIX + k + '\0').join('');
          assert.equal((await runScript('publish', ['--config', s.file, '--delete', '-0'], all)).code, 0);
          assert.equal((await runScript('publish', ['--config', s.file, '-0'], all)).code, 0);
          await d.waitForLine(/\[source\] bucket \S+ at \S+ does not exist/);
          const probes = d.matching(/bucket still missing/).length;
          await d.waitForLine(/bucket still missing/, 30_000, probes + 2);
          for (const k of kept)
            assert.deepEqual(
              await readBody(dest, DST_PREFIX + k),
              body(k),
              `${JSON.stringify(k)} still in the destination`,
            );
          assert.equal(d.child.exitCode, null, 'still running');
          assert.equal(d.matching(/\n\s+at /).length, 0);
          await s.source.createBucket();
        } finally {
          await d.dispose();
          await s.cleanup();
        }
      },
    );
  });
}
