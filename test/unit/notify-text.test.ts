/** The report's text and JSON: the first 100 failures, keys and reasons on one line each, totals over every pair. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { reportSubject, reportText, REPORT_FAILURES } from '../../src/api/notify/text.js';
import { runsJson, type RunReport } from '../../src/api/notify/run-report.js';
import type { DuplicateReport } from '../../src/api/sweep/duplicate.js';

function sweep(failed: number, copied = 3): DuplicateReport {
  const zero = {
    copied: 0,
    skipped: 0,
    gone: 0,
    failed: 0,
    wouldCopy: 0,
    deleted: 0,
    wouldDelete: 0,
    kept: 0,
    bytes: 0,
  };
  return {
    ...zero,
    source: 'src',
    listed: copied + failed,
    copied,
    failed,
    bytes: copied * 10,
    seconds: 1.5,
    failures: Array.from({ length: Math.min(failed, 1000) }, (_, i) => ({
      key: `k${i}\u2028\u0007`,
      destination: 'dest1',
      error: `boom\r\nline ${i}`,
    })),
    destinations: { dest1: { ...zero, copied, failed, bytes: copied * 10 } },
  };
}

const run = (source: string, failed: number, exitCode = failed > 0 ? 1 : 0): RunReport => ({
  config: `/etc/s3s3/${source}.ini`,
  source: `${source} at https://s3.example.com`,
  destinations: { dest1: `${source}-copy at https://swift.example.net` },
  exitCode,
  sweep: sweep(failed),
  json: [{ copied: 3 }],
});

describe('run report text', () => {
  it('lists the first 100 failures over all pairs, each on one line, and counts the rest', () => {
    const text = reportText([run('a', 60), run('b', 90)], 'backup1');
    const lines = text.split('\n');
    const failureLines = lines.filter((l) => l.startsWith('    "k'));
    assert.equal(failureLines.length, REPORT_FAILURES);
    assert.ok(text.includes('failures (60):'));
    assert.ok(text.includes('failures (first 40 of 90):'));
    assert.ok(text.includes('... and 50 more'));
    assert.ok(
      failureLines.every((l) => /^ {4}"k\d+\\u2028\\u0007" -> \[dest1\]: boom\\u000d\\u000aline \d+$/.test(l)),
      failureLines[0],
    );
    assert.ok(!/[\u2028\u0007\r]/.test(text), 'no raw control or line-breaking character');
    assert.match(
      text,
      new RegExp(
        /^s3s3bucket on backup1: FAILED \(exit status 1\)\n/.source +
          /2 pairs; listed 156, copied 6 \(60 bytes\), skipped 0, failed 150, deleted 0; 3 s\n/.source,
      ),
    );
    assert.match(
      text,
      /\n {2}\[dest1\] b-copy at https:\/\/swift\.example\.net: copied 3 \(30 bytes\), skipped 0, failed 90\n/,
    );
  });

  it('the subject names the outcome and the sources; a template fills {outcome} {source} {host}', () => {
    assert.equal(reportSubject([run('a', 0)], 'h'), 's3s3bucket OK: a at https://s3.example.com');
    assert.equal(
      reportSubject([run('a', 2), run('b', 0), run('c', 0), run('d', 0)], 'h'),
      's3s3bucket FAILED (2 failed): a at https://s3.example.com, b at https://s3.example.com, c at https://s3.example.com and 1 more',
    );
    assert.equal(reportSubject([run('a', 0)], 'h1', '{host}: {outcome}'), 'h1: OK');
  });

  it('{runs, total}: the worst exit status and the sums', () => {
    const { runs, total } = runsJson([
      run('a', 0),
      run('b', 1),
      { ...run('c', 0), sweep: undefined, notRun: 'another sweep of these buckets holds the lock', json: [] },
    ]);
    assert.deepEqual(
      runs.map((r) => [r.config, r.exitCode, r.notRun]),
      [
        ['/etc/s3s3/a.ini', 0, undefined],
        ['/etc/s3s3/b.ini', 1, undefined],
        ['/etc/s3s3/c.ini', 0, 'another sweep of these buckets holds the lock'],
      ],
    );
    assert.equal(total.runs, 3);
    assert.equal(total.exitCode, 1);
    assert.equal(total.ok, false);
    assert.equal(total.copied, 6);
    assert.equal(total.failed, 1);
    assert.equal(total.seconds, 3);
  });
});
