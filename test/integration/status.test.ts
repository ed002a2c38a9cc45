/**
 * `s3s3 status` (issue 22) on the test Ceph and Redis: per key and destination, the state a user
 * would check by hand — the same bytes at both ends (in-sync), other bytes (differs, and why),
 * only at the source (missing), only at the destination (extra), a job waiting in the queue
 * (pending, with its attempts), a job in the failed set (failed, with its error) — with the
 * exit status, `--json`, keys from stdin (lines and `-0`), and the usage errors.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { QueueWorker, SyncQueue } from '../../src/api/queue/queue.js';
import { status } from '../../src/api/status/status.js';
import { childEnv, ROOT, setup, waitFor, type Setup } from '../helpers/listen.js';
import { redisUrl, testServers, underOtherName } from '../helpers/servers.js';

const servers = testServers();
const ceph = servers.find((s) => s.name === 'ceph') ?? servers[0]!;

/** `s3s3 status ARGS`, with `input` on stdin. */
function runStatus(
  args: readonly string[],
  input = '',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/scripts/s3s3.js'), 'status', ...args], {
      cwd: ROOT,
      env: childEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.stdin.end(input);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const put = (s: { put: Setup['source']['put'] }, key: string, body: string) =>
  s.put(key, Buffer.from(body), { contentLength: Buffer.byteLength(body) });

describe('s3s3 status', () => {
  let s: Setup;
  const odd = 'odd \u0001 caf\u00e9 \u{1F600}';

  before(async () => {
    s = await setup({ label: 'status', source: ceph, dests: [underOtherName(ceph)], redisUrl: redisUrl() });
    const dest = s.dests[0]!;
    await put(s.source, 'same', 'same bytes');
    await put(dest, 'same', 'same bytes');
    await put(s.source, odd, 'odd key');
    await put(dest, odd, 'odd key');
    await put(s.source, 'changed', 'abc');
    await put(dest, 'changed', 'abd');
    await put(s.source, 'shorter', 'abcdef');
    await put(dest, 'shorter', 'abc');
    await put(s.source, 'missing', 'only at the source');
    await put(dest, 'extra', 'only at the destination');
    await put(s.source, 'queued', 'waiting for a worker');
    await put(s.source, 'broken', 'its copies fail');
    // A job that fails for good: a worker whose every run fails, three attempts with backoff.
    const q = new SyncQueue(s.config);
    const worker = new QueueWorker(s.config, {
      concurrency: 1,
      run: () => Promise.resolve({ kind: 'failed', error: 'destination refused: AccessDenied' }),
    });
    try {
      await q.add('broken');
      worker.start();
      await waitFor('"broken" in the failed set', async () => (await q.counts()).failed === 1, 30_000, 200);
    } finally {
      await worker.close(5000);
    }
    await q.add('queued');
    await q.close();
  });
  after(async () => {
    await s?.cleanup();
  });

  it('names each state, the first that holds winning; exit 1 unless every key is in-sync', async () => {
    const keys = ['same', odd, 'changed', 'shorter', 'missing', 'extra', 'queued', 'broken', 'nowhere'];
    const run = await runStatus(['--config', s.file, ...keys]);
    assert.equal(run.code, 1, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.equal(lines.length, keys.length, run.stdout);
    assert.equal(lines[0], 'in-sync "same" [dest1]');
    assert.equal(lines[1], `in-sync ${JSON.stringify(odd)} [dest1]`, 'keys JSON-quoted, as in --check');
    assert.equal(lines[2], 'differs "changed" [dest1] md5 differs');
    assert.equal(lines[3], 'differs "shorter" [dest1] size differs');
    assert.equal(lines[4], 'missing "missing" [dest1]');
    assert.equal(lines[5], 'extra "extra" [dest1]');
    assert.match(lines[6]!, /^pending "queued" \[dest1\] waiting, 0 attempts so far, queued \d+ s ago$/);
    assert.match(
      lines[7]!,
      /^failed "broken" \[dest1\] destination refused: AccessDenied \(\d{4}-.*Z, after 3 attempts\)$/,
    );
    assert.equal(lines[8], 'in-sync "nowhere" [dest1] in neither');
    const ok = await runStatus(['--config', s.file, 'same', odd]);
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('--json: one document, keys as given, the fields per state', async () => {
    const run = await runStatus(['--config', s.file, '--json', odd, 'queued', 'broken', 'changed']);
    assert.equal(run.code, 1, run.stderr);
    const doc = JSON.parse(run.stdout) as {
      keys: Array<{ key: string; destinations: Record<string, Record<string, unknown>> }>;
    };
    assert.deepEqual(
      doc.keys.map((k) => [k.key, k.destinations.dest1!.state]),
      [
        [odd, 'in-sync'],
        ['queued', 'pending'],
        ['broken', 'failed'],
        ['changed', 'differs'],
      ],
    );
    const pending = doc.keys[1]!.destinations.dest1!;
    assert.equal(pending.job, 'waiting');
    assert.equal(pending.attempts, 0);
    assert.equal(typeof pending.ageSeconds, 'number');
    const failed = doc.keys[2]!.destinations.dest1!;
    assert.equal(failed.error, 'destination refused: AccessDenied');
    assert.equal(failed.attempts, 3);
    assert.match(String(failed.failedAt), /^\d{4}-\d\d-\d\dT/);
    assert.equal(doc.keys[3]!.destinations.dest1!.detail, 'md5 differs');
  });

  it('- reads the keys from stdin, one per line or NUL-terminated with -0', async () => {
    const lines = await runStatus(['--config', s.file, '-'], 'same\nmissing\n');
    assert.equal(lines.code, 1, lines.stderr);
    assert.deepEqual(lines.stdout.trimEnd().split('\n'), ['in-sync "same" [dest1]', 'missing "missing" [dest1]']);
    const withNewline = 'two\nlines';
    const nul = await runStatus(['--config', s.file, '-0', '-'], `same\0${withNewline}\0`);
    assert.equal(nul.code, 0, `both in-sync (one in neither): ${nul.stderr}`);
    assert.deepEqual(nul.stdout.trimEnd().split('\n'), [
      'in-sync "same" [dest1]',
      `in-sync ${JSON.stringify(withNewline)} [dest1] in neither`,
    ]);
  });

  it('the library gives the same, and a usage or config error exits 2', async () => {
    const report = await status(s.config, ['missing', 'same']);
    assert.equal(report.inSync, false);
    assert.deepEqual(
      report.keys.map((k) => [k.key, k.destinations.dest1?.state, k.destinations.dest1?.destinationKey]),
      [
        ['missing', 'missing', 'missing'],
        ['same', 'in-sync', 'same'],
      ],
    );
    const none = await runStatus(['--config', s.file]);
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /missing required argument 'key'/);
    const noFile = await runStatus(['--config', join(s.file, 'nope.ini'), 'same']);
    assert.equal(noFile.code, 2, noFile.stderr);
    const noKeys = await runStatus(['--config', s.file, '-'], '');
    assert.equal(noKeys.code, 2, noKeys.stderr);
    assert.match(noKeys.stderr, /no keys/);
  });

  it('a failure is history once a newer job for the key is under way: pending', async () => {
    const q = new SyncQueue(s.config);
    try {
      await q.add('broken');
    } finally {
      await q.close();
    }
    const run = await runStatus(['--config', s.file, 'broken']);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /^pending "broken" \[dest1\] waiting, 0 attempts so far/);
  });
});
