/**
 * Sweeps list in parallel key ranges (`list_parallel`): under faults on one range's pages the
 * sweep, run as s3s3bucket with deletes on, either completes exactly or stops with exit 1
 * before any delete, and never deletes a key the source has. Keys are the nasty ones (every
 * control character, NFC/NFD twins, astral characters, long shared prefixes, 1024-byte keys
 * differing only in their last byte), pages are tiny so splits land among them, on Ceph and
 * Swift's s3api, list_objects_version 1 and 2, signature v2 and v4; `--check` says the same
 * with one range or four, and a source prefix bounds the ranges.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isList, type Matcher, s3Request, slowDown } from '../helpers/fault-proxy.js';
import { Rigs, runBucketCli, type Ini, type Obj } from '../helpers/fault-rig.js';
import { testServers } from '../helpers/servers.js';
import { CONTROL_KEYS, KEY_SHAPES } from '../helpers/keys.js';
import { listKeys, putAll } from '../helpers/seed.js';
import { dropSwift, freshSwift, swiftIni } from '../helpers/swift.js';
import { uniqueBucket } from '../helpers/servers.js';
import type { ObjectStore } from '../../src/api/store/object-store.js';
import type { S3Store } from '../../src/api/store/s3-store.js';

/** NFC/NFD twins and percent look-alikes: distinct keys that must stay distinct. */
const TWINS = [
  'nf/\u00e9',
  'nf/e\u0301',
  'nf/\u00e9x',
  'nf/e\u0301x',
  'tw/a b',
  'tw/a+b',
  'tw/a%20b',
  'tw/a%2Bb',
  'tw/a%',
  'tw/a%%',
];
const LONG = '\u{10FFFE}'.repeat(250); // 1000 bytes: every split under it goes one code point deeper
const K1023 = 'm/' + 'q'.repeat(1021);
const SOURCE_KEYS = [
  ...new Set([
    ...KEY_SHAPES,
    ...CONTROL_KEYS,
    ...TWINS,
    ...Array.from({ length: 12 }, (_, i) => LONG + String(i).padStart(3, '0')),
    ...[
      '\u{1F600}',
      '\u{1F600}\u{1F600}',
      '\u{10FFFD}',
      '\u{10FFFD}\u{10FFFD}',
      '\u{10FFFF}',
      '\u{10FFFF}\u{10FFFF}\u{1F600}',
    ],
    K1023 + 'a',
    K1023 + 'b',
    K1023 + 'c',
    'p/' + 'z'.repeat(40) + '1',
    'p/' + 'z'.repeat(40) + '2',
    'p/' + 'z'.repeat(40) + '3',
  ]),
];
/** Only in the destination: the sweep deletes these, and only these. */
const EXTRA_KEYS = ['\u{10FFFE}' + 'extra', K1023 + 'd', 'p/' + 'z'.repeat(40) + '4', 'ctl/x\u0001extra'];
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

const objects: Obj[] = SOURCE_KEYS.map((key) => ({ key, body: randomBytes(8 + (key.length % 5)) }));
const sourceSet = new Set(SOURCE_KEYS);

/** A listing page of the source bucket whose start is a split key (no real key): an upper range's first page. */
const splitPage =
  (bucket: string, keys: ReadonlySet<string>): Matcher =>
  (r) => {
    if (!isList(bucket)(r)) return false;
    const q = s3Request(r).query;
    const after = q.get('start-after') ?? q.get('marker');
    return after !== null && after !== '' && !keys.has(after);
  };

interface Variant {
  readonly name: string;
  readonly ini: Ini;
}

const servers = testServers();
const variants: Array<{ server: (typeof servers)[number]; v: Variant }> = [];
for (const server of servers) {
  for (const v of [
    { name: 'v2 listing, sigv4', ini: { list_objects_version: 2, signature_version: 's3v4' } },
    { name: 'v1 listing, sigv2', ini: { list_objects_version: 1, signature_version: 's3' } },
  ]) {
    variants.push({ server, v });
  }
}

const rigs = new Rigs();
after(() => rigs.cleanup());

for (const { server, v } of variants) {
  describe(`ranged sweep under faults on ${server.name} (${v.name})`, () => {
    const base: Ini = { list_page_size: 2, list_parallel: 4, max_retries: 2, read_timeout: 3, ...v.ini };

    async function setup(label: string, extra: Ini = {}) {
      const r = await rigs.rig({ faulty: server, healthy: server, role: 'source', label, ini: { ...base, ...extra } });
      await putAll(r.src, objects);
      await putAll(r.dst, [...objects.slice(0, 10), ...EXTRA_KEYS.map((key) => ({ key, body: Buffer.from('extra') }))]);
      const config = r.configText.replace(/(\[dest1\][^[]*)/, `$1delete = true\nmax_delete = 50\n`);
      return { r, config };
    }

    async function destKeys(r: Awaited<ReturnType<typeof setup>>['r']): Promise<string[]> {
      return (await listKeys(r.dst)).map((o) => o.key).sort(byteOrder);
    }

    function assertNothingDeleted(keys: readonly string[]): void {
      for (const k of EXTRA_KEYS)
        assert.ok(keys.includes(k), `an extra key was deleted although the sweep stopped: ${JSON.stringify(k)}`);
      for (const o of objects.slice(0, 10))
        assert.ok(keys.includes(o.key), `a source key was deleted: ${JSON.stringify(o.key)}`);
    }

    it('a 503 storm on later pages, then recovery: the sweep completes exactly', { timeout: 180_000 }, async () => {
      // The default max_retries: a storm of 1.5 s is outlasted, as by a plain listing.
      const { r, config } = await setup('rl-storm', { max_retries: 10 });
      const storm = r.proxy.storm(
        isList(r.faultyBucket, (n) => n >= 2),
        slowDown(),
        1500,
      );
      const run = await runBucketCli(config, ['--json'], 150_000);
      assert.ok(storm.hits >= 1, 'the storm hit the listing');
      assert.equal(run.code, 0, `exit 0\n${run.stderr.slice(-3000)}`);
      assert.deepEqual(
        await destKeys(r),
        [...SOURCE_KEYS].sort(byteOrder),
        'the destination holds exactly the source keys',
      );
    });

    it('an upper range whose pages fail for good: exit 1, nothing deleted', { timeout: 180_000 }, async () => {
      const { r, config } = await setup('rl-dead');
      const dead = r.proxy.inject(
        splitPage(r.faultyBucket, sourceSet),
        { kind: 'status', status: 403, code: 'AccessDenied' },
        Number.POSITIVE_INFINITY,
      );
      const run = await runBucketCli(config, ['--json'], 150_000);
      assert.ok(dead.hits >= 1, 'a range started at a split key and failed');
      assert.equal(run.code, 1, `exit 1\n${run.stderr.slice(-3000)}`);
      assertNothingDeleted(await destKeys(r));
    });

    it(
      'an upper range given a garbled page (keys repeated): exit 1, nothing deleted',
      { timeout: 180_000 },
      async () => {
        const { r, config } = await setup('rl-garbled');
        const rewrite = (body: string) => body.replace(/(<Contents>[\s\S]*?<\/Contents>)/g, '$1$1');
        const bad = r.proxy.inject(
          splitPage(r.faultyBucket, sourceSet),
          { kind: 'rewrite-response', rewrite },
          Number.POSITIVE_INFINITY,
        );
        const run = await runBucketCli(config, ['--json'], 150_000);
        assert.ok(bad.hits >= 1);
        assert.equal(run.code, 1, `exit 1\n${run.stderr.slice(-3000)}`);
        assertNothingDeleted(await destKeys(r));
      },
    );

    it(
      'an upper range whose page is cut short mid-answer, then answers: the sweep completes exactly',
      { timeout: 180_000 },
      async () => {
        const { r, config } = await setup('rl-cut');
        r.proxy.inject(splitPage(r.faultyBucket, sourceSet), { kind: 'cut-response', after: 40 }, 2);
        r.proxy.inject(splitPage(r.faultyBucket, sourceSet), { kind: 'stall-response', after: 40 }, 1);
        const run = await runBucketCli(config, ['--json'], 150_000);
        assert.equal(run.code, 0, `exit 0\n${run.stderr.slice(-3000)}`);
        assert.deepEqual(await destKeys(r), [...SOURCE_KEYS].sort(byteOrder));
      },
    );

    it(
      '--check says the same with one range and with four, with and without a source prefix',
      { timeout: 180_000 },
      async () => {
        const { r, config } = await setup('rl-check');
        for (const prefix of ['', 'p/', 'ctl/', '\u{10FFFE}']) {
          const withPrefix = (text: string) =>
            prefix
              ? text
                  .replace(/(\[source\][^[]*)/, `$1prefix = ${prefix}\n`)
                  .replace(/(\[dest1\][^[]*)/, `$1prefix = ${prefix}\n`)
              : text;
          const one = await runBucketCli(
            withPrefix(config).replace(/list_parallel = 4/g, 'list_parallel = 1'),
            ['--check'],
            150_000,
          );
          const four = await runBucketCli(withPrefix(config), ['--check'], 150_000);
          assert.equal(one.code, 1, `a difference: exit 1\n${one.stderr.slice(-2000)}`);
          assert.equal(four.code, one.code, four.stderr.slice(-2000));
          assert.equal(four.stdout, one.stdout, `prefix ${JSON.stringify(prefix)}: same report`);
        }
        assertNothingDeleted(await destKeys(r));
      },
    );
  });
}

describe('ranged sweep on Swift native (type = swift), deletes on', () => {
  it(
    'completes exactly with four ranges; --check says the same with one range and with four, under prefixes',
    { timeout: 240_000 },
    async () => {
      const srcName = uniqueBucket('rl-native-src');
      const dstName = uniqueBucket('rl-native-dst');
      const src = await freshSwift(srcName);
      const dst = await freshSwift(dstName);
      try {
        await putAll(src as unknown as S3Store, objects);
        await putAll(dst as unknown as S3Store, [
          ...objects.slice(0, 10),
          ...EXTRA_KEYS.map((key) => ({ key, body: Buffer.from('extra') })),
        ]);
        const ini = (parallel: number, prefix = '', deletes = true) =>
          swiftIni('source', srcName, { list_page_size: 2, list_parallel: parallel, ...(prefix ? { prefix } : {}) }) +
          swiftIni('dest1', dstName, {
            list_page_size: 2,
            list_parallel: parallel,
            ...(prefix ? { prefix } : {}),
            ...(deletes ? { delete: true, max_delete: 50 } : {}),
          });
        for (const prefix of ['', 'p/', '\u{10FFFE}']) {
          const one = await runBucketCli(ini(1, prefix, false), ['--check'], 150_000);
          const four = await runBucketCli(ini(4, prefix, false), ['--check'], 150_000);
          assert.equal(one.code, 1, one.stderr.slice(-2000));
          assert.equal(four.code, 1, four.stderr.slice(-2000));
          assert.equal(four.stdout, one.stdout, `prefix ${JSON.stringify(prefix)}: same report`);
        }
        const run = await runBucketCli(ini(4), ['--json'], 150_000);
        assert.equal(run.code, 0, run.stderr.slice(-3000));
        const keys = async (store: ObjectStore) => {
          const out: string[] = [];
          for await (const o of store.list()) out.push(o.key);
          return out.sort(byteOrder);
        };
        assert.deepEqual(
          await keys(dst),
          [...SOURCE_KEYS].sort(byteOrder),
          'the destination holds exactly the source keys',
        );
      } finally {
        await dropSwift(src).catch(() => {});
        await dropSwift(dst).catch(() => {});
      }
    },
  );
});

describe(`a destination with far more keys than the source, listed in ranges (${servers[0]!.name})`, () => {
  it(
    'over max_delete nothing is deleted (exit 1); allowed, exactly the extras go and every source key stays',
    { timeout: 240_000 },
    async () => {
      const server = servers[0]!;
      const r = await rigs.rig({
        faulty: server,
        healthy: server,
        role: 'dest1',
        label: 'rl-wide-dst',
        ini: { list_page_size: 7, list_parallel: 8 },
      });
      const few = objects.slice(0, 20);
      const extras = Array.from({ length: 300 }, (_, i) => ({
        key: `${few[i % few.length]!.key}\u{10FFFD}${i}`,
        body: Buffer.from('x'),
      }));
      await putAll(r.src, few);
      await putAll(r.dst, [...few, ...extras]);
      const config = r.configText.replace(/(\[dest1\][^[]*)/, `$1delete = true\n`);
      const guarded = await runBucketCli(config, ['--json'], 150_000);
      assert.equal(guarded.code, 1, guarded.stderr.slice(-2000));
      assert.match(guarded.stderr, /max_delete|max-delete/);
      assert.equal((await listKeys(r.dst)).length, few.length + extras.length, 'nothing deleted over the guard');
      const allowed = await runBucketCli(config, ['--json', '--max-delete', '100%'], 150_000);
      assert.equal(allowed.code, 0, allowed.stderr.slice(-2000));
      assert.deepEqual(
        (await listKeys(r.dst)).map((o) => o.key).sort(byteOrder),
        few.map((o) => o.key).sort(byteOrder),
      );
    },
  );
});
