/**
 * The convergence test (issue 17), the one that matters: s3s3's promise is that each
 * destination ends up equal to the source and that nothing is lost, while everything runs at
 * once as users run it. A Ceph source, two `delete = true` destinations (Swift s3api and a
 * second Ceph bucket); `s3s3listen --role all` and a second `--role worker`; four writers
 * for ~60 s putting (0 B to 12 MiB), overwriting and deleting keys of every shape the suite
 * knows, each followed by a publish; `s3s3bucket --delete` sweeping back to back, its uploads
 * to the Ceph destination slowed by a fault proxy so that they overlap the workers' newer
 * copies, every other one a `--distribute` sweep whose ranges the daemon's workers take; 503s,
 * resets and delays on both sides for part of the run; Redis is a Sentinel layout
 * (`redis_wait_replicas = 1`) whose master is SIGKILLed a third of the way into the writes. Then:
 *   (a) writers and sweeps stop: within 90 s, with no further sweep, every destination
 *       equals the source (key set, bytes' MD5, user metadata, no extra key);
 *   (b) one more sweep changes nothing (copied 0, deleted 0);
 *   (c) a second round of writes with the daemon SIGKILLed and restarted mid-way, then one
 *       sweep: equal again.
 * The rig is test/helpers/converge-rig.ts; bench/soak.sh runs the same mix for longer.
 * A failure prints what each phase found: missing, extra, stale and metadata-differing keys
 * per destination, JSON-quoted.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeComparison, describeReport, runConvergence } from '../helpers/converge-rig.js';

describe('convergence: writers, the daemon and its workers, and --delete sweeps at once, under faults', () => {
  it(
    '(a) equal within 90 s of the writers and sweeps stopping, with no further sweep; (b) ' +
      'one more sweep changes nothing; (c) equal again after a SIGKILLed daemon and one sweep',
    { timeout: 900_000 },
    async (t) => {
      const progress: string[] = [];
      const writeMs = Number(process.env.S3S3TEST_CONVERGE_SECONDS ?? 60) * 1000;
      const report = await runConvergence({
        label: 'conv',
        writeMs,
        roundTwoMs: 20_000,
        writers: 4,
        poolSize: 200,
        settleMs: 90_000,
        // Redis through Sentinel, its master SIGKILLed a third of the way into the writes.
        failoverAtMs: Math.round(writeMs / 3),
        log: (l) => progress.push(l),
      });
      const all = `${describeReport(report)}\nprogress:\n${progress.join('\n')}`;
      // What the run did, in the test's output even when it passes (node --test prints diagnostics).
      for (const line of describeReport(report).split('\n')) t.diagnostic(line);
      assert.ok(report.writes.puts > 100 && report.writes.deletes > 30, `the writers did work: ${all}`);
      assert.ok(report.sweeps.length >= 2, `sweeps ran back to back during the writes: ${all}`);
      assert.ok(
        report.sweeps.some((s) => s.distributed),
        `a --distribute sweep ran during the writes: ${all}`,
      );
      assert.ok(report.faultHits > 0, `the faults hit: ${all}`);
      assert.ok(report.failover, `Redis failed over during the writes: ${all}`);
      const hung = [...report.sweeps, report.b.sweep, report.c.sweep].filter((s) => s.hung);
      assert.deepEqual(
        hung.map((s) => s.logFile),
        [],
        `no sweep runs past 150 s (such a sweep is killed; its log is kept): ${all}`,
      );
      assert.ok(
        report.a.equal,
        `(a) with no further sweep, every destination equals the source within 90 s:\n` +
          `${describeComparison(report.a.comparison)}\n\n${all}`,
      );
      assert.equal(
        report.b.sweep.code,
        0,
        `(b) the sweep after convergence succeeded: ${report.b.sweep.raw}\n\n${all}`,
      );
      assert.deepEqual(
        { copied: report.b.sweep.copied, deleted: report.b.sweep.deleted },
        { copied: 0, deleted: 0 },
        `(b) one more sweep changes nothing:\n${describeComparison(report.b.comparison)}\n\n${all}`,
      );
      assert.ok(
        report.c.equal,
        `(c) after the SIGKILLed daemon and one sweep, every destination equals the source:\n` +
          `${describeComparison(report.c.comparison)}\n\n${all}`,
      );
    },
  );
});
