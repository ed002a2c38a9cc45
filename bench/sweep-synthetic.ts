/**
 * Driver of bench/sweep-synthetic.sh: for each size, starts bench/synthetic-s3.ts with N keys,
 * sweeps [source] to [dest1] (both listing the same N keys: every key skipped, so the run is
 * listing + merge-join) with `node dist/scripts/bucket.js --config CFG --json` under
 * `/usr/bin/time -v`, and prints a table; writes it to bench/results-synthetic.md.
 *
 * Environment:
 *   BENCH_SIZES=10k,100k,1M,10M    key counts (k and M suffixes); default all four
 *   BENCH_COPY=10k                 also a copy run of this many keys into an empty bucket (streamed:
 *                                  other credentials, so no server-side copy); default none
 *   BENCH_OBJECT_SIZE=4096         bytes per object
 *   BENCH_NODE_FLAGS="--heap-prof" extra node flags for the sweep (profiles land in the state dir)
 *   BENCH_COMPARE_FLAGS="--max-old-space-size=128" then every size again with these node flags added
 *   BENCH_STATE=DIR                keep configs, logs and profiles in DIR (default: a temp dir, deleted)
 *   BENCH_RESULTS=FILE             where the markdown goes (default bench/results-synthetic.md; "-" for none)
 *   BENCH_WORKERS=1,2,3            the distributed case: after each local sweep, the same keys swept with
 *                                  `--distribute` by this many worker processes (s3s3listen --role worker)
 *                                  each, on a redis-server of its own; "" for none. Default 1,2,3
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const root = new URL('..', import.meta.url).pathname;

function parseCount(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(s.trim());
  if (!m) throw new Error(`not a key count: ${s}`);
  const mult = m[2] === '' ? 1 : m[2]!.toLowerCase() === 'k' ? 1e3 : 1e6;
  return Math.round(Number(m[1]) * mult);
}

const label = (n: number) =>
  n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}k` : String(n);

interface Server {
  endpoint: string;
  stop(): Promise<{ requests: Record<string, number>; cpuSeconds: number }>;
}

async function startServer(keys: number, size: number, logFile: string): Promise<Server> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(root, 'bench/synthetic-s3.ts'), '--keys', String(keys), '--size', String(size)],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`synthetic-s3 exited (${code}): ${stderr}`)));
  });
  const { endpoint } = JSON.parse(first) as { endpoint: string };
  return {
    endpoint,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => {
          writeFileSync(logFile, stderr);
          const last = stderr.trim().split('\n').pop() ?? '{}';
          try {
            resolve(JSON.parse(last) as { requests: Record<string, number>; cpuSeconds: number });
          } catch {
            resolve({ requests: {}, cpuSeconds: NaN });
          }
        });
        child.kill('SIGTERM');
      }),
  };
}

interface Run {
  name: string;
  keys: number;
  exit: number;
  wall: number;
  sweepSeconds: number;
  rssMiB: number;
  cpu: number;
  serverCpu: number;
  listed: number;
  skipped: number;
  copied: number;
  failed: number;
  listRequests: number;
  load: number;
  flags: string;
  gc: { fullGcs: number; liveMax: number; liveLast: number; committedMax: number };
}

/** A `--trace-gc` line: the kind of GC, then the heap before and after it (MB). */
const GC_LINE = new RegExp(
  /: (Mark-Compact|Mark-sweep|Scavenge|Minor Mark-Sweep)[^\d]*/.source +
    /([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB/.source,
);

async function sweepOnce(
  state: string,
  name: string,
  keys: number,
  size: number,
  destBucket: string,
  destKey: string,
): Promise<Run> {
  const dir = join(state, name);
  mkdirSync(dir, { recursive: true });
  const server = await startServer(keys, size, join(dir, 'server.log'));
  const section = (bucket: string, key: string) =>
    `aws_access_key_id = ${key}\naws_secret_access_key = synthetic-secret\n` +
    `bucket_name = ${bucket}\nendpoint = ${server.endpoint}\n`;
  const config = join(dir, 's3s3.ini');
  writeFileSync(config, `[source]\n${section('source', 'synthetic')}\n[dest1]\n${section(destBucket, destKey)}`, {
    mode: 0o600,
  });
  const load = loadavg()[0]!;
  const flags = [...shebangFlags(), ...(process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean)];
  // --trace-gc (on stdout) gives the live heap after each full GC: whether the sweep retains
  // anything per key, apart from how far V8 lets the heap grow before collecting.
  const args = [
    '-v',
    process.execPath,
    '--trace-gc',
    ...flags,
    join(root, 'dist/scripts/bucket.js'),
    '--config',
    config,
    '--json',
    '--lock-file',
    join(dir, 'lock'),
  ];
  const gc = { fullGcs: 0, liveMax: 0, liveLast: 0, committedMax: 0 };
  const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn('/usr/bin/time', args, {
      cwd: dir,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = GC_LINE.exec(line);
      if (!m) {
        if (!/^\[\d+:0x[0-9a-f]+\]/.test(line)) stdout += `${line}\n`;
        return;
      }
      gc.committedMax = Math.max(gc.committedMax, Number(m[3]), Number(m[5]));
      if (m[1]!.startsWith('Mark')) {
        gc.fullGcs++;
        gc.liveLast = Number(m[4]);
        gc.liveMax = Math.max(gc.liveMax, gc.liveLast);
      }
    });
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('exit', (code) => setImmediate(() => resolve({ code: code ?? -1, stdout, stderr })));
  });
  const stats = await server.stop();
  writeFileSync(join(dir, 'sweep.stdout'), out.stdout);
  writeFileSync(join(dir, 'sweep.stderr'), out.stderr);
  const field = (re: RegExp) => re.exec(out.stderr)?.[1];
  const wallText = field(/Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/) ?? '0';
  const wall = wallText.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
  const summary = (() => {
    try {
      return JSON.parse(out.stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>;
    } catch {
      return {} as Record<string, number>;
    }
  })();
  return {
    name,
    keys,
    exit: out.code,
    wall,
    sweepSeconds: Number(summary.seconds ?? NaN),
    rssMiB: Number(field(/Maximum resident set size \(kbytes\): (\d+)/) ?? NaN) / 1024,
    cpu:
      Number(field(/User time \(seconds\): ([\d.]+)/) ?? NaN) +
      Number(field(/System time \(seconds\): ([\d.]+)/) ?? NaN),
    serverCpu: stats.cpuSeconds,
    listed: Number(summary.listed ?? NaN),
    skipped: Number(summary.skipped ?? NaN),
    copied: Number(summary.copied ?? NaN),
    failed: Number(summary.failed ?? NaN),
    listRequests: (stats.requests.ListObjectsV2 ?? 0) + (stats.requests.ListObjects ?? 0),
    load,
    flags: flags.join(' '),
    gc,
  };
}

/** The node flags of the bin's shebang (`#!/usr/bin/env -S node FLAGS`): what `s3s3bucket` runs with. */
function shebangFlags(): string[] {
  const first = readFileSync(join(root, 'dist/scripts/bucket.js'), 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\S*env -S node(.*)$/.exec(first) ?? /^#!\S*node(.*)$/.exec(first);
  return (m?.[1] ?? '').split(/\s+/).filter(Boolean);
}

/** One `--distribute` run: the figures of the local one, and the workers' and Redis's. */
interface DistRun {
  keys: number;
  workers: number;
  exit: number;
  wall: number;
  listed: number;
  skipped: number;
  failed: number;
  /** CPU seconds: the coordinator (s3s3bucket), every worker, Redis. */
  coordinatorCpu: number;
  workersCpu: number;
  redisCpu: number;
  /** Peak RSS of the biggest worker, MiB. */
  workerRssMiB: number;
  /** Redis used_memory: its peak above its level before the run, MiB. */
  redisGrowthMiB: number;
  /** Redis commands processed during the run. */
  redisCommands: number;
  load: number;
}

/** CPU seconds (user + system) of a live process, from /proc (clock ticks of 1/100 s on Linux). */
function cpuOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Peak RSS of a live process (VmHWM), MiB. */
function peakRss(pid: number): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

/**
 * The same N unchanged keys swept with `--distribute` by `workers` s3s3listen processes (run with
 * their bin's node flags), on a redis-server of the run's own: wall clock, CPU of everyone,
 * Redis peak memory above idle and commands processed.
 */
async function distributedOnce(state: string, keys: number, size: number, workers: number): Promise<DistRun> {
  const dir = join(state, `distributed-${label(keys)}-${workers}w`);
  mkdirSync(dir, { recursive: true });
  const redisDir = join(dir, 'redis');
  const env = execFileSync('bash', [join(root, 'test/servers/redis.sh'), 'start', redisDir], { encoding: 'utf8' });
  const port = /REDIS_PORT=(\d+)/.exec(env)![1]!;
  const cli = (...args: string[]) => execFileSync('redis-cli', ['-p', port, ...args], { encoding: 'utf8' });
  const info = (field: string) => Number(new RegExp(`${field}:([\\d.]+)`).exec(cli('INFO', 'all'))![1]);
  const redisPid = Number(readFileSync(join(redisDir, 'redis.pid'), 'utf8').trim());
  const server = await startServer(keys, size, join(dir, 'server.log'));
  const section = (bucket: string) =>
    `aws_access_key_id = synthetic\naws_secret_access_key = synthetic-secret\n` +
    `bucket_name = ${bucket}\nendpoint = ${server.endpoint}\n`;
  const config = join(dir, 's3s3.ini');
  writeFileSync(
    config,
    `[source]\n${section('source')}\n[dest1]\n${section('same')}\n` +
      `[pubsub]\nredis = true\nredis_url = redis://127.0.0.1:${port}/0\nqueue = bench\nchannel = bench\n`,
    { mode: 0o600 },
  );
  const listenFlags = (() => {
    const first = readFileSync(join(root, 'dist/scripts/listen.js'), 'utf8').split('\n', 1)[0] ?? '';
    return (/^#!\S*env -S node(.*)$/.exec(first)?.[1] ?? '').split(/\s+/).filter(Boolean);
  })();
  const procs = Array.from({ length: workers }, (_, i) => {
    const child = spawn(
      process.execPath,
      [...listenFlags, join(root, 'dist/scripts/listen.js'), '--config', config, '--role', 'worker'],
      {
        cwd: dir,
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let log = '';
    child.stderr.on('data', (b: Buffer) => (log += b.toString()));
    const ready = new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (/ working /.test(log)) {
          clearInterval(t);
          resolve();
        }
      }, 50);
    });
    return { child, ready, log: () => log, file: join(dir, `worker-${i + 1}.log`) };
  });
  await Promise.all(procs.map((p) => p.ready));
  const idle = info('used_memory');
  const commandsBefore = info('total_commands_processed');
  const redisCpuBefore = cpuOf(redisPid);
  const workersCpuBefore = procs.reduce((a, p) => a + cpuOf(p.child.pid!), 0);
  let peak = idle;
  const poll = setInterval(() => {
    try {
      peak = Math.max(peak, info('used_memory'));
    } catch {
      // a poll that fails is skipped
    }
  }, 200);
  const load = loadavg()[0]!;
  const args = [
    '-v',
    process.execPath,
    ...shebangFlags(),
    join(root, 'dist/scripts/bucket.js'),
    '--config',
    config,
    '--distribute',
    '--json',
  ];
  const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn('/usr/bin/time', args, {
      cwd: dir,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('exit', (code) => setImmediate(() => resolve({ code: code ?? -1, stdout, stderr })));
  });
  clearInterval(poll);
  const run: DistRun = {
    keys,
    workers,
    exit: out.code,
    wall: 0,
    listed: NaN,
    skipped: NaN,
    failed: NaN,
    coordinatorCpu: 0,
    workersCpu: procs.reduce((a, p) => a + cpuOf(p.child.pid!), 0) - workersCpuBefore,
    redisCpu: cpuOf(redisPid) - redisCpuBefore,
    workerRssMiB: Math.max(...procs.map((p) => peakRss(p.child.pid!))),
    redisGrowthMiB: (peak - idle) / 1048576,
    redisCommands: info('total_commands_processed') - commandsBefore,
    load,
  };
  for (const p of procs) {
    p.child.kill('SIGTERM');
    await new Promise((r) => p.child.once('exit', r));
    writeFileSync(p.file, p.log());
  }
  await server.stop();
  execFileSync('bash', [join(root, 'test/servers/redis.sh'), 'stop', redisDir]);
  writeFileSync(join(dir, 'sweep.stdout'), out.stdout);
  writeFileSync(join(dir, 'sweep.stderr'), out.stderr);
  const field = (re: RegExp) => re.exec(out.stderr)?.[1];
  const wallText = field(/Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/) ?? '0';
  run.wall = wallText.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
  run.coordinatorCpu =
    Number(field(/User time \(seconds\): ([\d.]+)/) ?? NaN) + Number(field(/System time \(seconds\): ([\d.]+)/) ?? NaN);
  try {
    const summary = JSON.parse(out.stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>;
    run.listed = Number(summary.listed ?? NaN);
    run.skipped = Number(summary.skipped ?? NaN);
    run.failed = Number(summary.failed ?? NaN);
  } catch {
    // the figures stay NaN: the run shows as not clean
  }
  return run;
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '?');
const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '?');

async function main(): Promise<void> {
  const sizes = (process.env.BENCH_SIZES ?? '10k,100k,1M,10M').split(',').filter(Boolean).map(parseCount);
  const copyKeys = process.env.BENCH_COPY ? parseCount(process.env.BENCH_COPY) : 0;
  const objectSize = Number(process.env.BENCH_OBJECT_SIZE ?? 4096);
  const compare = process.env.BENCH_COMPARE_FLAGS?.trim();
  const keep = process.env.BENCH_STATE;
  const state = keep ?? mkdtempSync(join(tmpdir(), 's3s3-bench-synthetic.'));
  mkdirSync(state, { recursive: true });
  const startedAt = new Date();
  const uptime = execFileSync('uptime', { encoding: 'utf8' }).trim();
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  const dirty =
    execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim() !== '';
  const baseFlags = process.env.BENCH_NODE_FLAGS ?? '';
  const command = [
    process.env.BENCH_SIZES ? `BENCH_SIZES=${sizes.map(label).join(',')}` : '',
    copyKeys ? `BENCH_COPY=${label(copyKeys)}` : '',
    baseFlags ? `BENCH_NODE_FLAGS="${baseFlags}"` : '',
    compare ? `BENCH_COMPARE_FLAGS="${compare}"` : '',
    process.env.BENCH_WORKERS !== undefined ? `BENCH_WORKERS=${process.env.BENCH_WORKERS}` : '',
    'bash bench/sweep-synthetic.sh',
  ]
    .filter(Boolean)
    .join(' ');
  const runs: Run[] = [];
  const dists: DistRun[] = [];
  const workerCounts = (process.env.BENCH_WORKERS ?? '1,2,3')
    .split(',')
    .filter(Boolean)
    .map((w) => Number(w));
  const out = process.env.BENCH_RESULTS ?? join(root, 'bench/results-synthetic.md');
  // The markdown is rewritten after every run, so a long run stopped half-way still leaves its figures.
  const report = (final: boolean) => {
    const md = markdown({ runs, dists, command, startedAt, uptime, commit, dirty, objectSize, final });
    if (out !== '-') writeFileSync(out, md.file);
    return md;
  };
  const plan: Array<{ flags: string; copy: boolean; n: number }> = [
    ...sizes.map((n) => ({ flags: baseFlags, copy: false, n })),
    ...(copyKeys > 0 ? [{ flags: baseFlags, copy: true, n: copyKeys }] : []),
    ...(compare ? sizes.map((n) => ({ flags: `${baseFlags} ${compare}`.trim(), copy: false, n })) : []),
  ];
  try {
    for (const [i, p] of plan.entries()) {
      process.env.BENCH_NODE_FLAGS = p.flags;
      const what = p.copy ? `copy of ${label(p.n)} keys into an empty bucket` : `sweep of ${label(p.n)} unchanged keys`;
      process.stderr.write(`bench: ${what}${p.flags ? ` (node ${p.flags})` : ''}...\n`);
      const name = `${p.copy ? 'copy' : 'unchanged'}-${label(p.n)}${p.flags ? `-v${i}` : ''}`;
      const r = await sweepOnce(
        state,
        name,
        p.n,
        objectSize,
        p.copy ? 'empty' : 'same',
        p.copy ? 'synthetic-other' : 'synthetic',
      );
      process.stderr.write(
        `bench:   ${r.wall.toFixed(2)} s, ${f1(r.rssMiB)} MiB peak RSS, ` +
          `live heap after full GCs <= ${f1(r.gc.liveMax)} MB, exit ${r.exit}\n`,
      );
      runs.push(r);
      report(false);
      if (p.copy || p.flags !== baseFlags) continue;
      for (const w of workerCounts) {
        process.stderr.write(`bench: the same ${label(p.n)} keys with --distribute, ${w} worker(s)...\n`);
        const d = await distributedOnce(state, p.n, objectSize, w);
        process.stderr.write(
          `bench:   ${d.wall.toFixed(2)} s, ${f0(d.keys / d.wall)} keys/s, redis +${f1(d.redisGrowthMiB)} MiB, ` +
            `worker peak RSS ${f1(d.workerRssMiB)} MiB, exit ${d.exit}\n`,
        );
        dists.push(d);
        report(false);
      }
    }
  } finally {
    if (!keep) rmSync(state, { recursive: true, force: true });
  }
  const md = report(true);
  process.stdout.write(`${md.table}\n\n${md.targets}\n`);
  if (md.bad) process.exitCode = 1;
}

function markdown(o: {
  runs: Run[];
  dists: DistRun[];
  command: string;
  startedAt: Date;
  uptime: string;
  commit: string;
  dirty: boolean;
  objectSize: number;
  final: boolean;
}) {
  const { runs } = o;
  const header = [
    '| run | node flags | keys | exit | seconds | keys/s swept | listing entries/s (both sides) ' +
      '| peak RSS (MiB) | live heap after full GC, max (MB) | client CPU s | client CPU µs/key | server CPU s ' +
      '| list requests | load at start |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const rows = runs.map((r) => {
    const copy = r.name.startsWith('copy');
    const what = copy
      ? `copy into an empty bucket (copied ${f0(r.copied)}, failed ${f0(r.failed)})`
      : `unchanged (skipped ${f0(r.skipped)}, failed ${f0(r.failed)})`;
    const entries = copy ? r.keys : 2 * r.keys;
    return (
      `| ${what} | ${r.flags ? `\`${r.flags}\`` : 'none'} | ${f0(r.keys)} | ${r.exit} | ${r.wall.toFixed(2)} ` +
      `| ${f0(r.keys / r.wall)} | ${f0(entries / r.wall)} | ${f1(r.rssMiB)} | ` +
      `${r.gc.fullGcs ? f1(r.gc.liveMax) : '-'} | ${r.cpu.toFixed(2)} | ${f1((r.cpu / r.keys) * 1e6)} | ` +
      `${r.serverCpu.toFixed(2)} | ${f0(r.listRequests)} | ${r.load.toFixed(1)} |`
    );
  });
  const table = [...header, ...rows].join('\n');
  const unchanged = runs.filter((r) => r.name.startsWith('unchanged') && r.flags === (runs[0]?.flags ?? ''));
  const maxRss = Math.max(...unchanged.map((r) => r.rssMiB));
  const minRate = Math.min(...unchanged.map((r) => r.keys / r.wall));
  const bad = runs.filter(
    (r) => r.exit !== 0 || r.failed !== 0 || (r.name.startsWith('unchanged') && r.skipped !== r.keys),
  );
  const targets = [
    `| target (issue 11), ` +
      `runs with ${unchanged[0]?.flags ? `\`${unchanged[0].flags}\`` : 'no node flags'} | measured | |`,
    `| --- | --- | --- |`,
    `| peak RSS <= 100 MiB at every size | ${f1(maxRss)} MiB at most ` +
      `(${unchanged.map((r) => `${label(r.keys)}: ${f1(r.rssMiB)}`).join(', ')}) ` +
      `| ${maxRss <= 100 ? 'PASS' : 'MISS'} |`,
    `| >= 20k keys/s listed | ${f0(minRate)} keys/s swept at the slowest size (${f0(2 * minRate)} listing ` +
      `entries/s, both sides) ` +
      `| ${minRate >= 20000 ? 'PASS' : 2 * minRate >= 20000 ? 'PASS only counting both listings' : 'MISS'} |`,
  ].join('\n');
  const distHeader = [
    '| keys | workers | exit | seconds | keys/s | keys per CPU-second (coordinator + workers) ' +
      '| CPU s: coordinator / workers / redis | worker peak RSS, max (MiB) | redis peak used_memory above idle (MiB) ' +
      '| redis commands | redis commands per 1000 keys | load at start |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  const distRows = o.dists.map(
    (d) =>
      `| ${f0(d.keys)} | ${d.workers} | ${d.exit} | ${d.wall.toFixed(2)} | ${f0(d.keys / d.wall)} ` +
      `| ${f0(d.keys / (d.coordinatorCpu + d.workersCpu))} ` +
      `| ${d.coordinatorCpu.toFixed(1)} / ${d.workersCpu.toFixed(1)} / ${d.redisCpu.toFixed(1)} ` +
      `| ${f1(d.workerRssMiB)} | ${f1(d.redisGrowthMiB)} | ${f0(d.redisCommands)} ` +
      `| ${((d.redisCommands / d.keys) * 1000).toFixed(2)} | ${d.load.toFixed(1)} |`,
  );
  const distBad = o.dists.filter((d) => d.exit !== 0 || d.failed !== 0 || d.skipped !== d.keys || d.listed !== d.keys);
  const distTable = o.dists.length
    ? [
        '',
        '## The same keys with `--distribute`',
        '',
        'After each local sweep, the same N unchanged keys swept by `s3s3bucket --distribute` with 1, 2, 3... worker',
        "processes (`s3s3listen --role worker`, with their bin's node flags) on a redis-server of the run's own;",
        'seconds = wall clock of the coordinator; CPU from `/usr/bin/time` (coordinator) and `/proc` (workers,',
        'redis); redis memory = peak `used_memory` (polled every 200 ms) minus its level before the run; commands =',
        "`total_commands_processed` during the run (BullMQ's own polling included).",
        '',
        ...distHeader,
        ...distRows,
        ...(distBad.length
          ? [
              '',
              'Distributed runs that did not end clean: ' +
                distBad.map((d) => `${label(d.keys)}/${d.workers}w`).join(', '),
            ]
          : []),
      ].join('\n')
    : '';
  const badRun = (r: Run) => `${r.name} (exit ${r.exit}, failed ${r.failed}, skipped ${r.skipped} of ${r.keys})`;
  const badRuns = bad.length ? `\nRuns that did not end clean: ${bad.map(badRun).join('; ')}\n` : '';
  const file = [
    `# s3s3bucket at scale, against a synthetic S3 endpoint`,
    '',
    `\`${o.command}\` (${o.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC; ` +
      `commit ${o.commit}${o.dirty ? ' with uncommitted changes in src/' : ''})` +
      `${o.final ? '' : ' — **incomplete: the bench was still running or was stopped**'}`,
    '',
    `- Machine: ${cpus().length} CPUs, ${Math.round(totalmem() / 2 ** 30)} GiB RAM; ` +
      `Node ${process.version}; \`uptime\` at the start: \`${o.uptime}\``,
    `  (the endpoint, the sweep and whatever else runs on the machine share the CPUs)`,
    `- Endpoint: \`bench/synthetic-s3.ts\` on loopback, storing nothing: ` +
      `[source] and [dest1] are two buckets that list the same`,
    `  N generated keys (\`k/%08d\` plus ten odd ones: space, \`+\`, \`%\`, a control character, \`..\`, ` +
      `non-ASCII, an astral`,
    `  character) of ${o.objectSize} bytes with real MD5 ETags; s3s3's defaults: ListObjectsV2, ` +
      `\`encoding-type=url\`, 1000 keys a page.`,
    `  Every key is unchanged, so the sweep is its two listings and the merge-join: no object request.`,
    `- Each run: \`/usr/bin/time -v node --trace-gc [node flags] dist/scripts/bucket.js --config CFG ` +
      `--json\`, the node flags being`,
    `  those of the bin's shebang line (what \`s3s3bucket\` runs with; "none": it sets no V8 flag) ` +
      `plus any asked for; seconds = wall clock of the whole process (start-up included); ` +
      `peak RSS = "Maximum resident`,
    `  set size"; live heap = the largest heap size right after a full (mark-compact) GC, ` +
      `from \`--trace-gc\`: what the sweep`,
    `  really holds, apart from how far V8 lets the heap grow before collecting; ` +
      `client CPU = user + system of the sweep;`,
    `  server CPU = the endpoint's own, from \`process.cpuUsage()\`.`,
    `- keys/s swept = N / seconds (each key listed once on each side); ` +
      `listing entries/s counts both listings (2N / seconds).`,
    '',
    `${table}`,
    '',
    `${targets}`,
    badRuns,
    distTable,
    '',
  ].join('\n');
  return {
    file,
    table: table + (distTable ? `\n${distTable}` : ''),
    targets,
    bad: bad.length > 0 || distBad.length > 0,
  };
}

await main();
