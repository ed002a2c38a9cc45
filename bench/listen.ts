/**
 * Benchmark of s3s3listen (run by bench/listen.sh, which starts the servers):
 * 1. burst: publish 2000 keys of 4 KiB objects as fast as possible; throughput, and p50/p99
 *    of the time from publish to the object being in every destination; the daemon's peak RSS;
 * 2. steady: new keys offered at half that throughput, evenly spaced; p50/p99 again;
 * 3. s3s3bucket on the same 2000 objects into fresh destination buckets, for comparison.
 * The daemon is the real process (`node dist/scripts/listen.js --log-format json`); a key is
 * "in every destination" when its `copied` line arrives (written after every destination has
 * acknowledged the copy and the key is settled in Redis).
 * Writes bench/results-listen.md.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { connectRedis, loadConfig, S3Store } from '../src/api/index.js';
import { redisUrl as testRedisUrl, sectionIni, testServers, type TestServer } from '../test/helpers/servers.js';

const ROOT = resolve(import.meta.dirname, '..');
const COUNT = Number(process.env.BENCH_KEYS ?? 2000);
const SIZE = 4096;
const STEADY_MAX_SECONDS = Number(process.env.BENCH_STEADY_SECONDS ?? 30);

const servers = testServers();
const redisUrl = testRedisUrl();
const byName = (n: string): TestServer => servers.find((s) => s.name === n) ?? servers[0]!;
const sourceServer = byName(process.env.BENCH_SOURCE ?? 'ceph');
const destServers = (process.env.BENCH_DESTS ?? 'ceph,swift').split(',').map(byName);

const section = (name: string, s: TestServer, bucket: string) => sectionIni(name, s, bucket);

const dir = mkdtempSync(join(tmpdir(), 's3s3-bench-listen-'));
const id = randomBytes(3).toString('hex');
const sourceBucket = `bench-src-${id}`;

function writeConfig(label: string): string {
  let ini = section('source', sourceServer, sourceBucket);
  destServers.forEach((s, i) => (ini += section(`dest${i + 1}`, s, `bench-${label}-${i + 1}-${id}`)));
  ini += `[pubsub]\nredis = true\nredis_url = ${redisUrl}\nchannel = bench-${id}\npending_set = bench-${id}:pending\nfailed_list = bench-${id}:failed\nmarker = true\n${CONCURRENCY ? `concurrency = ${CONCURRENCY}\n` : ''}`;
  if (CONCURRENCY) ini = ini.replace(/^(\[source\]\n)/, `$1concurrency = ${CONCURRENCY}\n`);
  const file = join(dir, `${label}.ini`);
  writeFileSync(file, ini, { mode: 0o600 });
  return file;
}

function stores(file: string): { source: S3Store; dests: S3Store[] } {
  const c = loadConfig({ file, env: {} });
  return { source: new S3Store(c.source), dests: c.destinations.map((d) => new S3Store(d)) };
}

async function pool<T>(items: readonly T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function vmHwmMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** The environment without S3S3_* (the config would read S3S3TEST_REDIS as [test] redis). */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('S3S3_')) env[k] = v;
  return env;
}

/** User + system CPU seconds of a live process, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const CONCURRENCY = process.env.BENCH_CONCURRENCY;

const say = (m: string) => process.stderr.write(`bench: ${m}\n`);

async function main(): Promise<void> {
  const listenIni = writeConfig('listen');
  const sweepIni = writeConfig('sweep');
  const L = stores(listenIni);
  const S = stores(sweepIni);
  await L.source.createBucket();
  for (const d of [...L.dests, ...S.dests]) await d.createBucket();
  const burstKeys = Array.from({ length: COUNT }, (_, i) => `burst/${String(i).padStart(5, '0')}`);
  const steadyKeys = Array.from({ length: COUNT }, (_, i) => `steady/${String(i).padStart(5, '0')}`);
  say(`seeding ${burstKeys.length + steadyKeys.length} objects of ${SIZE} bytes in ${sourceServer.name}`);
  await pool([...burstKeys, ...steadyKeys], 32, async (k) => {
    const body = Buffer.alloc(SIZE, k);
    await L.source.put(k, body, { contentLength: SIZE });
  });

  // --- the daemon -----------------------------------------------------------------------------
  const done = new Map<string, number>();
  let notify: (() => void) | undefined;
  // Run as its bin runs: with the node flags of its shebang line.
  const script = join(ROOT, 'dist/scripts/listen.js');
  const nodeFlags = (/^#!.*\bnode\b(.*)$/m.exec(readFileSync(script, 'utf8').split('\n')[0]!)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...nodeFlags, script, '--config', listenIni, '--log-format', 'json'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: childEnv(),
  });
  let buf = '';
  let failures = 0;
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    const now = performance.now();
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const rec = JSON.parse(line) as { msg: string; key?: string; level: string };
        if ((rec.msg === 'copied' || rec.msg === 'already in place') && rec.key) done.set(rec.key, now);
        else if (rec.level === 'error' || rec.level === 'warn') {
          failures++;
          say(`daemon: ${line}`);
        } else if (rec.msg === 'listening') done.set('', now);
      } catch {
        say(`daemon: ${line}`);
      }
    }
    notify?.();
  });
  const until = (cond: () => boolean) =>
    new Promise<void>((r) => {
      if (cond()) return r();
      notify = () => {
        if (cond()) {
          notify = undefined;
          r();
        }
      };
    });
  await until(() => done.has(''));
  const redis = connectRedis(redisUrl, { redactedUrl: redisUrl, mode: 'client' });
  const channel = `bench-${id}`;

  // --- burst ----------------------------------------------------------------------------------
  say(`burst: publishing ${COUNT} keys at once`);
  const sent = new Map<string, number>();
  const cpu0 = cpuSeconds(child.pid!);
  const t0 = performance.now();
  await Promise.all(
    burstKeys.map((k) => {
      sent.set(k, performance.now());
      return redis.call('PUBLISH', channel, k);
    }),
  );
  const publishSeconds = (performance.now() - t0) / 1000;
  await until(() => burstKeys.every((k) => done.has(k)));
  const t1 = Math.max(...burstKeys.map((k) => done.get(k)!));
  const burstSeconds = (t1 - t0) / 1000;
  const burstRate = COUNT / burstSeconds;
  const burstLat = burstKeys.map((k) => done.get(k)! - sent.get(k)!).sort((a, b) => a - b);
  const rssAfterBurst = vmHwmMiB(child.pid!);
  const burstCpu = cpuSeconds(child.pid!) - cpu0;
  say(`burst: ${burstRate.toFixed(1)} keys/s, p50 ${pct(burstLat, 50).toFixed(0)} ms, p99 ${pct(burstLat, 99).toFixed(0)} ms, peak RSS ${rssAfterBurst.toFixed(1)} MiB, daemon CPU ${burstCpu.toFixed(1)} s`);

  // --- steady at half the rate -----------------------------------------------------------------
  const rate = burstRate / 2;
  const n = Math.min(COUNT, Math.max(50, Math.round(rate * STEADY_MAX_SECONDS)));
  const keys = steadyKeys.slice(0, n);
  say(`steady: ${n} keys at ${rate.toFixed(1)} keys/s`);
  const s0 = performance.now();
  for (const [i, k] of keys.entries()) {
    const due = s0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sent.set(k, performance.now());
    void redis.call('PUBLISH', channel, k);
  }
  await until(() => keys.every((k) => done.has(k)));
  const steadyLat = keys.map((k) => done.get(k)! - sent.get(k)!).sort((a, b) => a - b);
  const steadyOffered = n / ((sent.get(keys[keys.length - 1]!)! - s0) / 1000);
  const rssPeak = vmHwmMiB(child.pid!);
  say(`steady: p50 ${pct(steadyLat, 50).toFixed(0)} ms, p99 ${pct(steadyLat, 99).toFixed(0)} ms, peak RSS ${rssPeak.toFixed(1)} MiB`);
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  await redis.call('DEL', `bench-${id}:pending`, `bench-${id}:failed`, ...[...burstKeys, ...keys].map((k) => `backup=>${k}`));
  await redis.close();

  // --- s3s3bucket on the same objects --------------------------------------------------------------
  say('s3s3bucket on the same 2000 objects (fresh destination buckets)');
  const w0 = performance.now();
  // Under /usr/bin/time for its CPU seconds and peak RSS.
  const sweepOut = await new Promise<{ code: number | null; stdout: string; stderr: string }>((r) => {
    const c = spawn('/usr/bin/time', ['-f', 'TIME %e %U %S %M', process.execPath, join(ROOT, 'dist/scripts/bucket.js'), '--config', sweepIni, '--prefix', 'burst/', '--json', '--quiet'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: childEnv(),
    });
    let out = '';
    let err = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    c.once('exit', (code) => r({ code, stdout: out, stderr: err }));
  });
  const timed = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(sweepOut.stderr);
  if (!timed) throw new Error(`s3s3bucket failed (${sweepOut.code}): ${sweepOut.stderr}`);
  const sweepCpu = Number(timed[2]) + Number(timed[3]);
  const sweepRss = Number(timed[4]) / 1024;
  const sweepWall = (performance.now() - w0) / 1000;
  const sweep = JSON.parse(sweepOut.stdout) as { copied: number; seconds: number; listed: number };
  const sweepRate = COUNT / sweepWall;
  say(`s3s3bucket: ${sweep.copied} copies in ${sweepWall.toFixed(2)} s wall (${sweep.seconds} s after start-up): ${sweepRate.toFixed(1)} keys/s`);

  // --- report ---------------------------------------------------------------------------------
  for (const s of [...L.dests, ...S.dests, L.source]) await s.destroyBucket();
  const dests = destServers.map((s) => s.name).join(' + ');
  const ok = (b: boolean) => (b ? 'PASS' : 'MISS');
  const md = `# s3s3listen: throughput and latency

\`bash bench/listen.sh\` (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC)

- Machine: ${cpus().length} CPUs, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM; Node ${process.version}; everything on loopback on the same machine
  (Ceph RGW single-node, Swift all-in-one with s3api, redis-server, the daemon and this script share the CPUs)
- Source: ${sourceServer.name}; destinations: ${dests} (${destServers.length} per key${destServers.some((d) => d.name === sourceServer.name) ? `; the ${sourceServer.name} destination is the same RGW user, so it is a server-side CopyObject, the other is streamed` : ''})
- ${COUNT} keys of ${SIZE} bytes; daemon: \`node ${nodeFlags.join(' ')} dist/scripts/listen.js --log-format json\` (the flags of its shebang line), \`concurrency\` 16 (the default, from [source]); marker on
- Latency: from the PUBLISH call to the daemon's \`copied\` line (written once every destination has the object and the key is settled in Redis)
- Peak RSS: VmHWM of the daemon process from /proc

| run | keys | keys/s | p50 ms | p99 ms | peak RSS (MiB) | client CPU s |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
| s3s3listen burst: all published at once (in ${(publishSeconds * 1000).toFixed(0)} ms) | ${COUNT} | ${burstRate.toFixed(1)} | ${pct(burstLat, 50).toFixed(0)} | ${pct(burstLat, 99).toFixed(0)} | ${rssAfterBurst.toFixed(1)} | ${burstCpu.toFixed(1)} |
| s3s3listen steady at half that rate (offered ${steadyOffered.toFixed(1)}/s) | ${n} | ${steadyOffered.toFixed(1)} | ${pct(steadyLat, 50).toFixed(0)} | ${pct(steadyLat, 99).toFixed(0)} | ${rssPeak.toFixed(1)} | |
| s3s3bucket --prefix burst/ on the same objects, fresh buckets | ${sweep.copied / destServers.length} | ${sweepRate.toFixed(1)} | | | ${sweepRss.toFixed(1)} | ${sweepCpu.toFixed(1)} |

s3s3bucket: ${sweepWall.toFixed(2)} s wall clock for the process (start-up and listing included), ${sweep.seconds} s from its own start of the sweep.
Daemon exit code after SIGTERM: ${code}; warnings or errors in its log: ${failures}.

| target | measured | |
| --- | --- | --- |
| burst throughput >= s3s3bucket's on the same objects | ${burstRate.toFixed(1)} vs ${sweepRate.toFixed(1)} keys/s (${(burstRate / sweepRate).toFixed(2)}x) | ${ok(burstRate >= sweepRate)} |
| p99 < 1 s at the steady half rate | ${pct(steadyLat, 99).toFixed(0)} ms | ${ok(pct(steadyLat, 99) < 1000)} |
| daemon peak RSS < 150 MiB | ${rssPeak.toFixed(1)} MiB | ${ok(rssPeak < 150)} |
`;
  writeFileSync(join(ROOT, 'bench/results-listen.md'), md);
  process.stdout.write(md);
  for (const s of [...L.dests, ...S.dests, L.source, S.source]) s.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: FAILED: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
