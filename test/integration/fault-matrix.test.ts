/**
 * The fault matrix of issue 7, part 1: throttling storms, listings that fail, and an
 * endpoint that never answers — for the sweep (s3s3bucket / duplicateBucket) and the
 * one-key copy the listener makes (BucketClient.copy), with Ceph and Swift each on the
 * faulty side, as source and as destination. What is asserted is what a user checks:
 * every object in place and byte-identical after recovery, no wrong object visible while
 * the fault is on, the report and exit code, and one clear error line.
 * Bodies cut, stalled or corrupted in flight: fault-matrix-bodies.test.ts.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sectionIni, testServers, type TestServer } from '../helpers/servers.js';
import { listKeys } from '../helpers/seed.js';
import {
  anyRequest,
  isHead,
  isList,
  isOp,
  isWrite,
  slowDown,
  watchObjects,
  type Expected,
} from '../helpers/fault-proxy.js';
import { Blackhole } from '../helpers/blackhole.js';
import {
  assertCleanReport,
  assertMirrored,
  errorLines,
  expectedOf,
  makeObjects,
  Rigs,
  runBucketCli,
  seed,
  type Role,
} from '../helpers/fault-rig.js';
import { BucketClient } from '../../src/api/bucket-client.js';
import { parseConfig } from '../../src/api/config.js';

const servers = testServers();
const otherThan = (s: TestServer) => servers.find((x) => x !== s) ?? s;
/** Longer than the old per-request retries lasted (~3 s at most), short enough for a test. */
const STORM_MS = 4000;
const ROLES: readonly Role[] = ['source', 'dest1'];
const MP = { multipart_threshold: '5M', multipart_chunksize: '5M' };

for (const faulty of servers) {
  const healthy = otherThan(faulty);
  describe(`fault matrix: ${faulty.name} faulty (other side ${healthy.name})`, () => {
    const rigs = new Rigs();
    after(() => rigs.cleanup());

    for (const role of ROLES) {
      for (const retryAfter of [undefined, 1]) {
        const ra = retryAfter === undefined ? 'without Retry-After' : `with Retry-After: ${retryAfter}`;
        const ops = role === 'source' ? 'GET and HEAD' : 'PUT, multipart and HEAD';

        it(
          `[${role}] a ${STORM_MS / 1000} s 503 SlowDown storm on ${ops} (${ra}): ` +
            `the sweep and the one-key copy copy everything`,
          { timeout: 120_000 },
          async () => {
            const r = await rigs.rig({ faulty, healthy, role, label: `storm-${role}`, ini: MP });
            const swept = [
              ...makeObjects('sweep/', 16, (i) => 1000 + i * 9000),
              { key: 'sweep/zz-multipart', body: randomBytes(6 * 1024 * 1024 + 1) },
            ];
            const fresh = makeObjects('one/new-', 1, () => 70_000);
            const changed = makeObjects('one/changed-', 1, () => 50_000);
            await seed(r.src, [...swept, ...fresh, ...changed]);
            // The destination has an old version: the one-key copy HEADs both sides first.
            const older = changed.map((o) => ({ key: o.key, body: Buffer.from('an older version') }));
            await seed(r.dst, older);

            const fault = slowDown(retryAfter);
            const storms =
              role === 'source'
                ? {
                    GET: r.proxy.storm(isOp('GetObject', r.faultyBucket), fault, STORM_MS),
                    HEAD: r.proxy.storm(isHead(r.faultyBucket), fault, STORM_MS),
                  }
                : {
                    PUT: r.proxy.storm(isWrite(r.faultyBucket), fault, STORM_MS),
                    HEAD: r.proxy.storm(isHead(r.faultyBucket), fault, STORM_MS),
                  };
            const acceptable = new Map<string, Expected | Expected[]>(expectedOf([...swept, ...fresh]));
            for (const [i, o] of changed.entries())
              acceptable.set(o.key, [expectedOf(changed).get(o.key)!, expectedOf(older).get(older[i]!.key)!]);
            const watch = watchObjects(r.dst, acceptable);
            const started = performance.now();
            const [report, one, two] = await Promise.all([
              r.client.duplicate({ prefix: 'sweep/' }),
              r.client.copy(fresh[0]!.key),
              r.client.copy(changed[0]!.key),
            ]);
            const seconds = (performance.now() - started) / 1000;
            const seen = await watch.stop();

            // Each op was refused at least once (the back-off may hold a retry past the storm).
            for (const [op, storm] of Object.entries(storms))
              assert.ok(storm.hits >= 1, `the storm hit ${op} (${storm.hits} times)`);
            assert.ok(Object.values(storms).reduce((n, s) => n + s.hits, 0) >= 4, 'the storm refused several requests');
            assertCleanReport(report, swept.length, 'sweep');
            for (const u of [one, two])
              assert.ok(
                u.ok,
                `one-key copy of ${u.key}: ${JSON.stringify(u.results.map((x) => [x.outcome, x.error?.message]))}`,
              );
            assert.equal(one.results[0]!.outcome, 'copied');
            assert.equal(two.results[0]!.outcome, 'copied');
            await assertMirrored(r.dst, swept, 'sweep/', 'sweep');
            await assertMirrored(r.dst, [...fresh, ...changed], 'one/', 'one-key copy');
            assert.deepEqual(await r.dst.pendingUploads(), [], 'no multipart upload left behind');
            assert.deepEqual(seen, [], 'no partial or wrong object was ever listed in the destination');
            assert.ok(seconds < 60, `finished in ${seconds.toFixed(1)} s`);
          },
        );

        it(
          `[${role}] a listing that fails on page 3 with 503s for ${STORM_MS / 1000} s (${ra}), ` +
            `then recovers: the sweep completes`,
          { timeout: 120_000 },
          async () => {
            const r = await rigs.rig({ faulty, healthy, role, label: `listpage-${role}`, ini: { list_page_size: 5 } });
            const objects = makeObjects('sweep/', 32, (i) => 100 + i);
            await seed(r.src, objects);
            // The destination already has two keys in three (identical): skipped, not recopied.
            const present = objects.filter((_, i) => i % 3 !== 1);
            const lastPage = Math.ceil((role === 'source' ? objects.length : present.length) / 5);
            await seed(r.dst, present);
            const storm = r.proxy.storm(
              isList(r.faultyBucket, (n) => n >= 3),
              slowDown(retryAfter),
              STORM_MS,
            );
            const watch = watchObjects(r.dst, expectedOf(objects));
            const report = await r.client.duplicate();
            const seen = await watch.stop();

            const pages = Math.max(0, ...r.proxy.requests.map((q) => q.listPage ?? 0));
            assert.ok(pages >= 3, `the ${role} listing went in pages of 5 (list_page_size): it reached page ${pages}`);
            assert.ok(storm.hits >= 2, `page 3 was refused and asked again (${storm.hits} refusals)`);
            assert.ok(
              pages >= lastPage,
              `the listing went on past the failed page to the end (page ${pages} of ${lastPage})`,
            );
            assertCleanReport(report, objects.length - present.length, 'sweep');
            assert.equal(report.skipped, present.length, 'what the destination had was recognised, not recopied');
            await assertMirrored(r.dst, objects, 'sweep/', 'sweep');
            assert.deepEqual(seen, [], 'no partial or wrong object was ever listed in the destination');
          },
        );
      }

      it(
        `[${role}] a listing that fails for good on page 3: s3s3bucket stops, exit 1, ` +
          `one clear error, nothing misplanned`,
        { timeout: 120_000 },
        async () => {
          const r = await rigs.rig({
            faulty,
            healthy,
            role,
            label: `listdead-${role}`,
            ini: { list_page_size: 5 },
            faultyIni: { max_retries: 2 },
          });
          const objects = makeObjects('sweep/', 30, (i) => 100 + i);
          await seed(r.src, objects);
          // Page 3 holds keys 10-14 (of the faulty side's listing). The destination lacks key 3
          // (before the failed page) and key 22 (after it): a sweep that went on without the
          // listing would copy key 22, or (a destination listing) recopy what it cannot see.
          const afterFailed = (key: string) => key >= 'sweep/010';
          await seed(
            r.dst,
            objects.filter((o) => o.key !== 'sweep/003' && o.key !== 'sweep/022'),
          );
          const dead = r.proxy.inject(
            isList(r.faultyBucket, 3),
            { kind: 'status', status: 500, code: 'InternalError' },
            Number.POSITIVE_INFINITY,
          );

          const run = await runBucketCli(r.configText, ['--json']);
          assert.ok(dead.hits >= 1, `page 3 of the ${role} listing was asked for (list_page_size = 5 honoured)`);
          assert.equal(run.code, 1, `exit 1\n${run.stderr}`);
          const summary = JSON.parse(run.stdout) as { aborted: string | null; failed: number };
          assert.match(summary.aborted ?? '', /InternalError/, 'the report says why the sweep stopped');
          const errors = errorLines(run.stderr);
          assert.equal(errors.length, 1, `one error line:\n${run.stderr}`);
          const line = errors[0]!;
          assert.ok(line.includes(`[${role}]`), `it names the section [${role}]: ${line}`);
          assert.ok(line.includes(r.faultyBucket), `it names the bucket: ${line}`);
          assert.ok(line.includes(r.proxyUrl), `it names the endpoint: ${line}`);
          assert.match(line, /List/, `it says the listing failed: ${line}`);
          assert.doesNotMatch(run.stderr, /\n\s+at .*:\d+:\d+/, 'no stack trace');

          const writesAfter = r.proxy.count(isWrite(undefined, afterFailed));
          assert.equal(writesAfter, 0, 'no write for a key at or after the failed page went through the proxy');
          const dstKeys = (await listKeys(r.dst)).map((o) => o.key);
          assert.ok(!dstKeys.includes('sweep/022'), 'a key after the failed page was not copied');
          assert.deepEqual(await r.dst.pendingUploads(), []);
        },
      );

      it(
        `[${role}] an endpoint that accepts connections and never answers: s3s3bucket gives up, exit 1, ` +
          `one clear error; the one-key copy fails cleanly`,
        { timeout: 120_000 },
        async () => {
          const hole = new Blackhole();
          const url = await hole.start();
          try {
            const r = await rigs.rig({ faulty, healthy, role, label: `hole-${role}` });
            const objects = makeObjects('k/', 3, () => 1000);
            await seed(r.src, objects);
            // The healthy side is the real server; the faulty section points at the black hole.
            const fast = { read_timeout: 1, connect_timeout: 1, max_retries: 1 };
            const srcServer = role === 'source' ? { ...faulty, endpoint: url } : healthy;
            const dstServer = role === 'dest1' ? { ...faulty, endpoint: url } : healthy;
            const text =
              sectionIni('source', srcServer, r.src.bucket, role === 'source' ? fast : {}) +
              sectionIni('dest1', dstServer, r.dst.bucket, role === 'dest1' ? fast : {});

            const run = await runBucketCli(text, ['--json'], 90_000);
            assert.ok(hole.accepted >= 1, 'the black hole was reached');
            assert.equal(run.code, 1, `exit 1\n${run.stderr}`);
            assert.ok(run.seconds < 20, `gave up in ${run.seconds.toFixed(1)} s (read_timeout 1 s, max_retries 1)`);
            const errors = errorLines(run.stderr);
            assert.equal(errors.length, 1, `one error line:\n${run.stderr}`);
            assert.ok(errors[0]!.includes(`[${role}]`), `it names [${role}]: ${errors[0]}`);
            assert.ok(errors[0]!.includes(url), `it names the endpoint: ${errors[0]}`);
            assert.doesNotMatch(run.stderr, /\n\s+at .*:\d+:\d+/, 'no stack trace');
            if (role === 'source') assert.deepEqual(await listKeys(r.dst), [], 'nothing written');

            // The listener's path: one key, settled as failed (so its job is kept in the failed set), not hung.
            const client = new BucketClient(parseConfig(text, { file: 'hole.ini' }));
            try {
              const started = performance.now();
              const u = await client.copy(objects[0]!.key);
              const seconds = (performance.now() - started) / 1000;
              assert.equal(u.ok, false);
              assert.equal(u.results[0]!.outcome, 'failed');
              const message = u.results[0]!.error?.message ?? '';
              assert.ok(
                message.includes(`[${role}]`) && message.includes(url),
                `the error names [${role}] and the endpoint: ${message}`,
              );
              assert.ok(seconds < 20, `one-key copy gave up in ${seconds.toFixed(1)} s`);
            } finally {
              client.close();
            }
          } finally {
            await hole.stop();
          }
        },
      );
    }

    it(
      '[dest1] a HEAD that answers 503 for good: the one-key copy fails with one clear message saying the ' +
        'server is throttling',
      { timeout: 60_000 },
      async () => {
        const r = await rigs.rig({ faulty, healthy, role: 'dest1', label: 'headdead', faultyIni: { max_retries: 1 } });
        const objects = makeObjects('one/', 1, () => 1000);
        await seed(r.src, objects);
        // A HEAD answer has no body, so no S3 error code: only the status says what happened.
        const dead = r.proxy.inject(isHead(r.faultyBucket), slowDown(), Number.POSITIVE_INFINITY);
        const u = await r.client.copy(objects[0]!.key);
        assert.ok(dead.hits >= 2, 'the HEAD was retried');
        assert.equal(u.results[0]!.outcome, 'failed');
        const message = u.results[0]!.error?.message ?? '';
        assert.ok(
          message.includes('[dest1]') && message.includes(r.proxyUrl) && message.includes(r.faultyBucket),
          `names [dest1], bucket and endpoint: ${message}`,
        );
        assert.match(message, /503|SlowDown|throttl|unavailable/i, 'says the server answered 503');
        assert.doesNotMatch(message, /Unknown/, 'no "Unknown: UnknownError"');
        assert.deepEqual(await listKeys(r.dst), []);
      },
    );

    it(
      `[dest1] throttling: a ${STORM_MS / 1000} s 503 storm on every request to the destination, ` +
        `then healthy: everything copied, the back-off logged`,
      { timeout: 120_000 },
      async () => {
        const r = await rigs.rig({ faulty, healthy, role: 'dest1', label: 'throttle' });
        const objects = makeObjects('t/', 48, (i) => 2000 + i * 100);
        await seed(r.src, objects);
        const storm = r.proxy.storm(anyRequest(r.faultyBucket), slowDown(), STORM_MS);
        const watch = watchObjects(r.dst, expectedOf(objects));
        const started = performance.now();
        const report = await r.client.duplicate();
        const seconds = (performance.now() - started) / 1000;
        const seen = await watch.stop();

        assert.ok(storm.hits >= 2, `the storm hit (${storm.hits} times)`);
        assertCleanReport(report, objects.length, 'sweep');
        await assertMirrored(r.dst, objects, 't/', 'sweep');
        assert.deepEqual(seen, []);
        // Throughput recovers once the storm is over: no long crawl at a lowered limit.
        assert.ok(seconds < STORM_MS / 1000 + 20, `finished ${seconds.toFixed(1)} s after it began`);
        const warns = r.logs.filter((l) => /^s3s3 warn:/.test(l) && /throttl/i.test(l));
        assert.ok(
          warns.length >= 1,
          `a warning says the destination throttled and the concurrency was lowered; ` +
            `logs:\n${r.logs.slice(0, 20).join('\n')}`,
        );
        assert.ok(
          warns.some((l) => l.includes('[dest1]') || l.includes('dest1')),
          `it names [dest1]: ${warns[0]}`,
        );
      },
    );
  });
}
