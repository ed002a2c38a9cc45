/**
 * `bwlimit` and `tps_limit` (issue 21) on the test Ceph, streamed copies (the destination is the
 * same Ceph under another name, so no byte goes server-side): 64 MiB at `bwlimit = 8M` take 8 s
 * ± 15 %; a timetable whose period ends mid-copy lets the rest through at once; 500 HEADs at
 * `tps_limit = 50` take at least 9.5 s; `--bwlimit` and `--tps-limit` on s3s3bucket, and the same
 * keys in a running worker, hold too. The bytes always arrive whole.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { publish } from '../../src/api/listen/publish.js';
import { duplicateBucket } from '../../src/api/sweep/duplicate.js';
import { S3Store } from '../../src/api/store/s3-store.js';
import { configDir, runBucket } from '../helpers/bucket-cli.js';
import { Daemon, everywhere, setup, waitFor } from '../helpers/listen.js';
import { dropStore, freshStore, md5Hex, readAll } from '../helpers/seed.js';
import { endpointConfig, redisUrl, sectionIni, testServers, uniqueBucket, underOtherName } from '../helpers/servers.js';

const servers = testServers();
const ceph = servers.find((s) => s.name === 'ceph') ?? servers[0]!;
/** The same Ceph under another name: s3s3 cannot copy server-side to it, so the bytes stream. */
const cephByName = underOtherName(ceph);
const MiB = 1024 * 1024;

/** `HH:MM:SS` local time `offsetMs` from now, for a timetable entry. */
function clock(offsetMs: number): string {
  const d = new Date(Date.now() + offsetMs);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

async function sameBody(dest: S3Store, key: string, body: Buffer): Promise<void> {
  const got = await dest.get(key);
  assert.equal(md5Hex(await readAll(got.body)), md5Hex(body), `${key}: the bytes at the destination`);
}

describe('bwlimit and tps_limit', () => {
  const made: S3Store[] = [];
  const cfg = configDir('limits');
  let source: S3Store;
  let sourceBucket: string;
  const big = randomBytes(64 * MiB);
  const mid = randomBytes(16 * MiB);

  /** A fresh streamed destination, and its store. */
  const destination = async (label: string): Promise<{ bucket: string; store: S3Store }> => {
    const bucket = uniqueBucket(label);
    const store = await freshStore(cephByName, bucket);
    made.push(store);
    return { bucket, store };
  };

  before(async () => {
    sourceBucket = uniqueBucket('limits-src');
    source = await freshStore(ceph, sourceBucket);
    made.push(source);
    await source.put('big', big, { contentLength: big.length });
    await source.put('mid', mid, { contentLength: mid.length });
  });
  after(async () => {
    for (const s of made) await dropStore(s).catch(() => undefined);
  });

  it('64 MiB at bwlimit = 8M take 8 s ± 15 % (the library sweep)', { timeout: 60_000 }, async () => {
    const { bucket } = await destination('limits-bw');
    const limited = new S3Store(endpointConfig(ceph, sourceBucket, { bwlimit: '8M' }));
    const dest = new S3Store(endpointConfig(cephByName, bucket));
    try {
      const started = performance.now();
      const report = await duplicateBucket(limited, dest, { include: ['big'] });
      const seconds = (performance.now() - started) / 1000;
      assert.equal(report.copied, 1, JSON.stringify(report));
      assert.ok(seconds >= 6.8 && seconds <= 9.2, `64 MiB at 8 MiB/s took ${seconds.toFixed(2)} s, not 8 s ± 15 %`);
      await sameBody(dest, 'big', big);
    } finally {
      limited.close();
      dest.close();
    }
  });

  it('a timetable period ending mid-copy: 1 MiB/s, then off, lets the rest through at once', async () => {
    const { bucket } = await destination('limits-tt');
    // Begun 5 s ago, over at a whole second 2-3 s from now; at 1 MiB/s throughout, 16 MiB would take 16 s.
    const endsAt = Math.floor((Date.now() + 3000) / 1000) * 1000;
    const timetable = `${clock(-5000)},1M ${clock(endsAt - Date.now())},off`;
    const limited = new S3Store(endpointConfig(ceph, sourceBucket, { bwlimit: timetable }));
    const dest = new S3Store(endpointConfig(cephByName, bucket));
    try {
      const report = await duplicateBucket(limited, dest, { include: ['mid'] });
      const late = (Date.now() - endsAt) / 1000;
      assert.equal(report.copied, 1, JSON.stringify(report));
      assert.ok(late >= -0.2, `the 1 MiB/s period held the copy back until it ended: ${late.toFixed(2)} s after`);
      assert.ok(late <= 2.5, `"off" from the second period on: done ${late.toFixed(2)} s after (${timetable})`);
      await sameBody(dest, 'mid', mid);
    } finally {
      limited.close();
      dest.close();
    }
  });

  it('500 HEADs at tps_limit = 50 take at least 9.5 s, all answered', { timeout: 60_000 }, async () => {
    const limited = new S3Store(endpointConfig(ceph, sourceBucket, { tps_limit: 50 }));
    try {
      const started = performance.now();
      const heads = await Promise.all(Array.from({ length: 500 }, () => limited.head('mid')));
      const seconds = (performance.now() - started) / 1000;
      assert.ok(
        heads.every((h) => h?.size === mid.length),
        'every HEAD answered',
      );
      assert.ok(seconds >= 9.5, `500 HEADs at 50/s took ${seconds.toFixed(2)} s`);
    } finally {
      limited.close();
    }
  });

  it('s3s3bucket --bwlimit and --tps-limit: the flags limit a sweep; a bad value exits 2 naming it', async () => {
    const { bucket, store } = await destination('limits-cli');
    const small = Array.from({ length: 40 }, (_, i) => ({ key: `small/${i}`, body: randomBytes(100 + i) }));
    const cliSource = await freshStore(ceph, uniqueBucket('limits-cli-src'));
    made.push(cliSource);
    for (const o of small) await cliSource.put(o.key, o.body, { contentLength: o.body.length });
    await cliSource.put('mid', mid, { contentLength: mid.length });
    const file = cfg.write(
      'cli.ini',
      sectionIni('source', ceph, cliSource.bucket) + sectionIni('dest1', cephByName, bucket),
    );
    // 40 PUTs to the destination at 20 a second: at least 1.95 s; unlimited, well under one.
    let started = performance.now();
    let run = await runBucket(['--config', file, '--json', '--prefix', 'small/', '--tps-limit', '20'], {
      cwd: cfg.dir,
    });
    let seconds = (performance.now() - started) / 1000;
    assert.equal(run.code, 0, run.stderr);
    assert.equal((JSON.parse(run.stdout) as { copied: number }).copied, 40, run.stdout);
    assert.ok(seconds >= 1.95, `40 objects at --tps-limit 20 took ${seconds.toFixed(2)} s`);
    for (const o of small) await sameBody(store, o.key, o.body);
    // 16 MiB at 8 MiB/s: at least 1.8 s (the start-up of the command comes on top).
    started = performance.now();
    run = await runBucket(['--config', file, '--json', '--include', 'mid', '--bwlimit', '8M'], { cwd: cfg.dir });
    seconds = (performance.now() - started) / 1000;
    assert.equal(run.code, 0, run.stderr);
    assert.ok(seconds >= 1.8, `16 MiB at --bwlimit 8M took ${seconds.toFixed(2)} s`);
    await sameBody(store, 'mid', mid);

    const bad = await runBucket(['--config', file, '--bwlimit', '08:00,10M 25:00,off'], { cwd: cfg.dir });
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--bwlimit/);
    assert.match(bad.stderr, /HH:MM,RATE/);
    const badTps = await runBucket(['--config', file, '--tps-limit', '0'], { cwd: cfg.dir });
    assert.equal(badTps.code, 2, badTps.stderr);
    assert.match(badTps.stderr, /--tps-limit/);
    const inDest = cfg.write(
      'bad.ini',
      sectionIni('source', ceph, cliSource.bucket) + sectionIni('dest1', cephByName, bucket, { bwlimit: '1M' }),
    );
    const misplaced = await runBucket(['--config', inDest], { cwd: cfg.dir });
    assert.equal(misplaced.code, 2, misplaced.stderr);
    assert.match(misplaced.stderr, /\[dest1\].*bwlimit.*belongs in \[source\]/);
  });

  it('a worker keeps to the same limits: bwlimit in [source], tps_limit in [dest1]', { timeout: 90_000 }, async () => {
    const s = await setup({
      label: 'limits-worker',
      source: ceph,
      dests: [cephByName],
      redisUrl: redisUrl(),
      sourceExtra: { bwlimit: '4M' },
      destExtra: { tps_limit: 10 },
    });
    const d = Daemon.start(s.file);
    // The test's own look at the destination, not held to the daemon's tps_limit.
    const look = [new S3Store(endpointConfig(cephByName, s.config.destinations[0]!.bucket))];
    try {
      await d.waitForLine(/ listening /);
      const body = randomBytes(12 * MiB);
      await s.source.put('w/big', body, { contentLength: body.length });
      let started = performance.now();
      await publish('w/big', { config: s.config });
      await waitFor('"w/big" at the destination', () => everywhere(look, 'w/big', body), 30_000, 100);
      let seconds = (performance.now() - started) / 1000;
      // 12 MiB at 4 MiB/s: 3 s ± 15 %, plus the queue's pick-up.
      assert.ok(seconds >= 2.55 && seconds <= 4.5, `12 MiB at 4 MiB/s took ${seconds.toFixed(2)} s in the worker`);

      const keys = Array.from({ length: 30 }, (_, i) => `w/small/${i}`);
      for (const k of keys) await s.source.put(k, Buffer.from(k), { contentLength: Buffer.byteLength(k) });
      started = performance.now();
      await publish(keys, { config: s.config });
      await waitFor(
        'the 30 keys at the destination',
        async () => (await Promise.all(keys.map((k) => everywhere(look, k, Buffer.from(k))))).every(Boolean),
        60_000,
        200,
      );
      seconds = (performance.now() - started) / 1000;
      // At least one PUT per key to [dest1] at 10 a second.
      assert.ok(seconds >= 2.9, `30 keys at tps_limit = 10 took ${seconds.toFixed(2)} s in the worker`);
    } finally {
      look[0]!.close();
      await d.dispose();
      await s.cleanup();
    }
  });
});
