/**
 * Benchmark of s3s3listen on the BullMQ queue (run by bench/listen.sh, which starts the servers).
 * For each of four layouts — `--role all` (one process), `--role intake` + 1 `--role worker`,
 * `--role intake` + 2 `--role worker`, and intake + 1 worker with streamed-only destinations
 * (`w1-streamed`: the source's Ceph under another name, so no copy is server-side) — on fresh
 * destination buckets:
 * 1. burst: publish 2000 keys of 4 KiB objects as fast as possible; throughput, p50/p99 of the
 *    time from publish to the object being in every destination; Redis commands and client CPU
 *    per key over the burst;
 * 2. steady: new keys offered at half that throughput, evenly spaced; p50/p99 again; peak RSS
 *    (VmHWM) of every process, summed and the largest.
 * Then s3s3bucket on the same 2000 objects into fresh buckets (the reference of the same run; once
 * more with streamed-only destinations when w1-streamed runs, its reference),
 * and the queue alone: an intake with no worker takes 2000 jobs (Redis memory per waiting job,
 * commands and intake CPU per add), then a worker whose jobs do nothing drains them
 * (bench/queue-noop-worker.ts: the queue's CPU and commands per job on the worker side).
 * A key is "in every destination" when a worker's `copied` line arrives (written after every
 * destination has acknowledged the copy).
 * Writes bench/results-listen.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { connectRedis, loadConfig, S3Store, SyncQueue, type RedisCommands } from '../src/api/index.js';
import {
  redisUrl as testRedisUrl,
  sectionIni,
  testServers,
  underOtherName,
  type TestServer,
} from '../test/helpers/servers.js';

const ROOT = resolve(import.meta.dirname, '..');
const COUNT = Number(process.env.BENCH_KEYS ?? 2000);
const SIZE = 4096;
const STEADY_MAX_SECONDS = Number(process.env.BENCH_STEADY_SECONDS ?? 30);
const CONCURRENCY = process.env.BENCH_CONCURRENCY;
/** A run that makes no progress for this long has failed. */
const STALL_MS = 120_000;
/** The single-process listener before the queue (no --role), from bench/results-listen.md at f1999bb. */
const TODAY = {
  commit: 'f1999bb',
  sweep: 66.9,
  burst: 38.1,
  p50: 31530,
  p99: 52307,
  steadyOffered: 19.1,
  steadyP50: 130,
  steadyP99: 166,
  rss: 96.2,
  cpu: 26.7,
};
/** The issue's target: one worker's burst at least today's listener, measured 51.8 keys/s at 5c0e54c. */
const TARGET_BURST = 51.8;
/** `[pubsub] max_queued` default: what `s3s3bucket --enqueue` lets wait at most. */
const MAX_QUEUED = 10_000;
/** BullMQ's default cap of a queue's events stream (`streams.events.maxLen`). */
const EVENTS_MAXLEN = 10_000;

interface Layout {
  readonly label: string;
  readonly title: string;
  readonly roles: readonly ('all' | 'intake' | 'worker')[];
  /** No destination s3s3 copies to server-side (the source's Ceph under another name): every byte is streamed. */
  readonly streamed?: boolean;
}
const ALL_LAYOUTS: readonly Layout[] = [
  { label: 'all', title: '`--role all` (one process)', roles: ['all'] },
  { label: 'w1', title: '`--role intake` + 1 `--role worker`', roles: ['intake', 'worker'] },
  { label: 'w2', title: '`--role intake` + 2 `--role worker`', roles: ['intake', 'worker', 'worker'] },
  {
    label: 'w1-streamed',
    title: '`--role intake` + 1 `--role worker`, streamed-only destinations',
    roles: ['intake', 'worker'],
    streamed: true,
  },
];
const LAYOUTS = ALL_LAYOUTS.filter(
  (l) => !process.env.BENCH_LAYOUTS || process.env.BENCH_LAYOUTS.split(',').includes(l.label),
);

const servers = testServers();
const redisUrl = testRedisUrl();
const byName = (n: string): TestServer => servers.find((s) => s.name === n) ?? servers[0]!;
const sourceServer = byName(process.env.BENCH_SOURCE ?? 'ceph');
const destServers = (process.env.BENCH_DESTS ?? 'ceph,swift').split(',').map(byName);

const dir = mkdtempSync(join(tmpdir(), 's3s3-bench-listen-'));
const id = randomBytes(3).toString('hex');
const sourceBucket = `bench-src-${id}`;
const queueOf = (label: string) => `bench-${id}-${label}`;

/** The source's server under another name: s3s3 cannot copy to it server-side, so the bytes stream. */
const byOtherName = (s: TestServer): TestServer => (s.name === sourceServer.name ? underOtherName(s) : s);

function writeConfig(label: string, streamed = false): string {
  let ini = sectionIni('source', sourceServer, sourceBucket);
  destServers.forEach(
    (s, i) => (ini += sectionIni(`dest${i + 1}`, streamed ? byOtherName(s) : s, `bench-${label}-${i + 1}-${id}`)),
  );
  ini +=
    `[pubsub]\nredis = true\nredis_url = ${redisUrl}\nchannel = bench-${id}-${label}\nqueue = ` +
    `${queueOf(label)}\npending_set = bench-${id}:pending\nfailed_list = bench-${id}:failed\nmarker = ` +
    `true\n${CONCURRENCY ? `concurrency = ${CONCURRENCY}\n` : ''}`;
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
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function vmHwmMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** User + system CPU seconds of a live process, from /proc (process.cpuUsage cannot see a child). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The environment without S3S3_* (the config would read S3S3TEST_REDIS as [test] redis). */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('S3S3_')) env[k] = v;
  return env;
}

const say = (m: string) => process.stderr.write(`bench: ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- Redis: our own commands are counted, so they can be taken out of the server's figures ---------
const own = new Map<string, number>();
let redis: RedisCommands;
function rcall(command: string, ...args: (string | number)[]): Promise<unknown> {
  const name = command.toLowerCase();
  own.set(name, (own.get(name) ?? 0) + 1);
  return redis.call(command, ...args);
}

/** Calls per command name since the server started (commands run inside Lua scripts included). */
async function commandStats(): Promise<Map<string, number>> {
  const info = String(await rcall('INFO', 'commandstats'));
  const m = new Map<string, number>();
  for (const line of info.split('\n')) {
    const r = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (r) m.set(r[1]!, Number(r[2]));
  }
  return m;
}

interface CommandWindow {
  /** Calls by anyone but this bench between start and end. */
  readonly total: number;
  readonly byCommand: [string, number][];
}

/** Start counting; the returned function ends the window. */
async function commandWindow(): Promise<() => Promise<CommandWindow>> {
  const before = await commandStats();
  const ownBefore = new Map(own);
  return async () => {
    const ownDuring = new Map([...own].map(([k, v]) => [k, v - (ownBefore.get(k) ?? 0)]));
    const after = await commandStats();
    // The opening INFO is in `after` (a command's stats are counted once it has run), not in `before`.
    ownDuring.set('info', (ownDuring.get('info') ?? 0) + 1);
    const by: [string, number][] = [];
    for (const [k, v] of after) {
      const d = v - (before.get(k) ?? 0) - (ownDuring.get(k) ?? 0);
      if (d > 0) by.push([k, d]);
    }
    by.sort((a, b) => b[1] - a[1]);
    return { total: by.reduce((s, [, v]) => s + v, 0), byCommand: by };
  };
}

async function usedMemory(): Promise<number> {
  const info = String(await rcall('INFO', 'memory'));
  return Number(/used_memory:(\d+)/.exec(info)?.[1]);
}

// --- the daemons --------------------------------------------------------------------------------
const done = new Map<string, number>();
let failures = 0;
let progressAt = performance.now();
const waiters = new Set<() => void>();
const wake = () => {
  for (const w of [...waiters]) w();
};

function until(what: string, cond: () => boolean): Promise<void> {
  return new Promise<void>((res, rej) => {
    const check = () => {
      if (cond()) {
        waiters.delete(check);
        clearInterval(timer);
        res();
      }
    };
    const timer = setInterval(() => {
      check();
      if (performance.now() - progressAt > STALL_MS) {
        waiters.delete(check);
        clearInterval(timer);
        rej(new Error(`no progress for ${STALL_MS / 1000} s while waiting for ${what}`));
      }
    }, 500);
    waiters.add(check);
    check();
  });
}

// Run as its bin runs: with the node flags of its shebang line.
const script = join(ROOT, 'dist/scripts/listen.js');
/** The node flags of a bin's first line (V8 heap sizes, --expose-gc). */
const shebangFlags = (file: string): string[] =>
  (/^#!.*\bnode\b(.*)$/m.exec(readFileSync(file, 'utf8').split('\n')[0]!)?.[1] ?? '')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
const nodeFlags = shebangFlags(script);
/** s3s3bucket's, for the sweep of the same run. */
const bucketFlags = shebangFlags(join(ROOT, 'dist/scripts/bucket.js'));

class Daemon {
  readonly child: ChildProcess;
  readonly pid: number;
  ready = false;
  readonly exited: Promise<number | null>;

  constructor(
    readonly role: string,
    ini: string,
  ) {
    this.child = spawn(
      process.execPath,
      [...nodeFlags, script, '--config', ini, '--role', role, '--log-format', 'json'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: childEnv(),
      },
    );
    this.pid = this.child.pid!;
    this.exited = new Promise((r) => this.child.once('exit', (c) => r(c)));
    let buf = '';
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      const now = performance.now();
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const rec = JSON.parse(line) as { msg: string; key?: string; level: string };
          if ((rec.msg === 'copied' || rec.msg === 'already in place') && rec.key) {
            done.set(rec.key, now);
            progressAt = now;
          } else if (rec.level === 'error' || rec.level === 'warn') {
            failures++;
            say(`${role}: ${line}`);
          } else if (rec.msg === 'listening' || rec.msg === 'working') this.ready = true;
        } catch {
          say(`${role}: ${line}`);
        }
      }
      wake();
    });
  }

  async stop(): Promise<number | null> {
    this.child.kill('SIGTERM');
    return this.exited;
  }
}

interface LayoutResult {
  readonly layout: Layout;
  readonly burstRate: number;
  readonly publishMs: number;
  /** The machine's 1-minute load average when the burst began (the box is shared). */
  readonly load: number;
  readonly burstP50: number;
  readonly burstP99: number;
  readonly burstCpu: number;
  readonly commands: CommandWindow;
  readonly steadyN: number;
  readonly steadyOffered: number;
  readonly steadyP50: number;
  readonly steadyP99: number;
  readonly rss: { role: string; mib: number }[];
  readonly exitCodes: (number | null)[];
}

async function runLayout(layout: Layout, burstKeys: string[], steadyKeys: string[]): Promise<LayoutResult> {
  const ini = writeConfig(layout.label, layout.streamed);
  const S = stores(ini);
  for (const d of S.dests) await d.createBucket();
  const channel = `bench-${id}-${layout.label}`;
  say(`${layout.label}: starting ${layout.roles.map((r) => `--role ${r}`).join(', ')}`);
  done.clear();
  const daemons = layout.roles.map((r) => new Daemon(r, ini));
  progressAt = performance.now();
  await until(`${layout.label} to start`, () => daemons.every((d) => d.ready));

  // --- burst --------------------------------------------------------------------------------------
  say(`${layout.label} burst: publishing ${COUNT} keys at once`);
  const sent = new Map<string, number>();
  const load = loadavg()[0]!;
  const cpu0 = daemons.map((d) => cpuSeconds(d.pid));
  const endWindow = await commandWindow();
  const t0 = performance.now();
  await Promise.all(
    burstKeys.map((k) => {
      sent.set(k, performance.now());
      return rcall('PUBLISH', channel, k);
    }),
  );
  const publishMs = performance.now() - t0;
  progressAt = performance.now();
  await until(`${layout.label} burst`, () => burstKeys.every((k) => done.has(k)));
  const burstCpu = daemons.reduce((s, d, i) => s + cpuSeconds(d.pid) - cpu0[i]!, 0);
  // Let the marker writes that follow the last `copied` lines land before counting.
  await sleep(300);
  const commands = await endWindow();
  const t1 = Math.max(...burstKeys.map((k) => done.get(k)!));
  const burstRate = COUNT / ((t1 - t0) / 1000);
  const burstLat = burstKeys.map((k) => done.get(k)! - sent.get(k)!).sort((a, b) => a - b);
  say(
    `${layout.label} burst: ${burstRate.toFixed(1)} keys/s, p50 ${pct(burstLat, 50).toFixed(0)} ms, ` +
      `p99 ${pct(burstLat, 99).toFixed(0)} ms, client CPU ${burstCpu.toFixed(1)} s, ` +
      `redis ${(commands.total / COUNT).toFixed(1)} commands/key`,
  );

  // --- steady at half the rate --------------------------------------------------------------------
  const rate = burstRate / 2;
  const n = Math.min(COUNT, Math.max(50, Math.round(rate * STEADY_MAX_SECONDS)));
  const keys = steadyKeys.slice(0, n);
  say(`${layout.label} steady: ${n} keys at ${rate.toFixed(1)} keys/s`);
  const s0 = performance.now();
  for (const [i, k] of keys.entries()) {
    const due = s0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    sent.set(k, performance.now());
    void rcall('PUBLISH', channel, k);
  }
  progressAt = performance.now();
  await until(`${layout.label} steady`, () => keys.every((k) => done.has(k)));
  const steadyLat = keys.map((k) => done.get(k)! - sent.get(k)!).sort((a, b) => a - b);
  const steadyOffered = n / ((sent.get(keys[keys.length - 1]!)! - s0) / 1000);
  const rss = daemons.map((d) => ({ role: d.role, mib: vmHwmMiB(d.pid) }));
  say(
    `${layout.label} steady: p50 ${pct(steadyLat, 50).toFixed(0)} ms, ` +
      `p99 ${pct(steadyLat, 99).toFixed(0)} ms, ` +
      `peak RSS ${rss.map((r) => `${r.role} ${r.mib.toFixed(1)}`).join(', ')} MiB`,
  );
  const exitCodes = await Promise.all(daemons.map((d) => d.stop()));

  const q = new SyncQueue(loadConfig({ file: ini, env: {} }), { name: 'bench' });
  await q.obliterate();
  await q.close();
  for (const batch of chunks(
    [...burstKeys, ...keys].map((k) => `backup=>${k}`),
    500,
  ))
    await rcall('DEL', ...batch);
  for (const d of S.dests) await d.destroyBucket();
  for (const s of [S.source, ...S.dests]) s.close();
  return {
    layout,
    burstRate,
    publishMs,
    load,
    burstP50: pct(burstLat, 50),
    burstP99: pct(burstLat, 99),
    burstCpu,
    commands,
    steadyN: n,
    steadyOffered,
    steadyP50: pct(steadyLat, 50),
    steadyP99: pct(steadyLat, 99),
    rss,
    exitCodes,
  };
}

function chunks<T>(items: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
  return out;
}

// --- the queue alone: memory per waiting job, commands and CPU of add and take --------------------
interface QueueResult {
  readonly jobs: number;
  readonly memDelta: number;
  readonly breakdown: { kind: string; keys: number; bytes: number }[];
  readonly eventsLen: number;
  readonly addCommands: CommandWindow;
  readonly addCpu: number;
  readonly takeCommands: CommandWindow;
  readonly takeCpu: number;
  readonly takeSeconds: number;
  readonly noopJobs: number;
}

async function runQueueAlone(keys: string[]): Promise<QueueResult> {
  const label = 'queue';
  const ini = writeConfig(label);
  const name = queueOf(label);
  const channel = `bench-${id}-${label}`;
  say(`queue alone: an intake with no worker takes ${keys.length} jobs`);
  const intake = new Daemon('intake', ini);
  progressAt = performance.now();
  await until('the intake to start', () => intake.ready);
  await sleep(1000);
  const mem0 = await usedMemory();
  const cpu0 = cpuSeconds(intake.pid);
  const endAdd = await commandWindow();
  await Promise.all(keys.map((k) => rcall('PUBLISH', channel, k)));
  const deadline = performance.now() + STALL_MS;
  while (Number(await rcall('LLEN', `bull:${name}:wait`)) < keys.length) {
    if (performance.now() > deadline)
      throw new Error(
        `the intake queued only ${String(await rcall('LLEN', `bull:${name}:wait`))} of ${keys.length} jobs`,
      );
    await sleep(100);
  }
  const addCpu = cpuSeconds(intake.pid) - cpu0;
  const addCommands = await endAdd();
  await sleep(500);
  const memDelta = (await usedMemory()) - mem0;

  // What the bytes are: MEMORY USAGE of every key of the queue, by kind.
  const kinds = new Map<string, { keys: number; bytes: number }>();
  let cursor = '0';
  do {
    const [next, found] = (await redis.call('SCAN', cursor, 'MATCH', `bull:${name}:*`, 'COUNT', 1000)) as [
      string,
      string[],
    ];
    cursor = next;
    const sizes = await redis.pipeline(found.map((k) => ['MEMORY', 'USAGE', k, 'SAMPLES', '0'] as const));
    found.forEach((k, i) => {
      const rest = k.slice(`bull:${name}:`.length);
      const kind = /^\d+$/.test(rest) ? 'job hash' : rest.startsWith('de:') ? 'deduplication key' : rest;
      const e = kinds.get(kind) ?? { keys: 0, bytes: 0 };
      e.keys++;
      e.bytes += Number(sizes[i]);
      kinds.set(kind, e);
    });
  } while (cursor !== '0');
  const eventsLen = Number(await redis.call('XLEN', `bull:${name}:events`));
  const breakdown = [...kinds].map(([kind, v]) => ({ kind, ...v })).sort((a, b) => b.bytes - a.bytes);

  say('queue alone: a worker whose jobs do nothing drains them');
  const noop = spawn(
    process.execPath,
    [...nodeFlags, '--import', 'tsx', join(ROOT, 'bench/queue-noop-worker.ts'), ini],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: childEnv(),
    },
  );
  let out = '';
  noop.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const noopExit = new Promise<number | null>((r) => noop.once('exit', (c) => r(c)));
  while (!out.includes('ready\n')) {
    if (noop.exitCode !== null) throw new Error('queue-noop-worker.ts exited before it was ready');
    await sleep(50);
  }
  const ncpu0 = cpuSeconds(noop.pid!);
  const endTake = await commandWindow();
  const w0 = performance.now();
  noop.stdin!.write('go\n');
  const drainDeadline = performance.now() + STALL_MS;
  for (;;) {
    const [wait, active] = await Promise.all([
      rcall('LLEN', `bull:${name}:wait`),
      rcall('LLEN', `bull:${name}:active`),
    ]);
    if (Number(wait) === 0 && Number(active) === 0) break;
    if (performance.now() > drainDeadline)
      throw new Error(`the no-op worker left ${String(wait)} waiting and ${String(active)} active jobs`);
    await sleep(50);
  }
  const takeSeconds = (performance.now() - w0) / 1000;
  const takeCpu = cpuSeconds(noop.pid!) - ncpu0;
  const takeCommands = await endTake();
  noop.kill('SIGTERM');
  await noopExit;
  const noopJobs = Number(/jobs (\d+)/.exec(out)?.[1] ?? NaN);
  await intake.stop();
  const q = new SyncQueue(loadConfig({ file: ini, env: {} }), { name: 'bench' });
  await q.obliterate();
  await q.close();
  say(
    `queue alone: ${(memDelta / keys.length).toFixed(0)} bytes per waiting job; ` +
      `add ${(addCommands.total / keys.length).toFixed(1)} commands, ` +
      `${((addCpu / keys.length) * 1000).toFixed(2)} ms CPU; take ` +
      `${(takeCommands.total / keys.length).toFixed(1)} commands, ` +
      `${((takeCpu / keys.length) * 1000).toFixed(2)} ms CPU per job`,
  );
  return {
    jobs: keys.length,
    memDelta,
    breakdown,
    eventsLen,
    addCommands,
    addCpu,
    takeCommands,
    takeCpu,
    takeSeconds,
    noopJobs,
  };
}

// --- s3s3bucket on the same objects ------------------------------------------------------------------
async function runSweep(streamed = false): Promise<{
  copied: number;
  wall: number;
  seconds: number;
  cpu: number;
  rss: number;
  load: number;
}> {
  const ini = writeConfig(streamed ? 'sweep-streamed' : 'sweep', streamed);
  const S = stores(ini);
  for (const d of S.dests) await d.createBucket();
  say(`s3s3bucket on the same ${COUNT} objects (fresh destination buckets${streamed ? ', streamed-only' : ''})`);
  const load = loadavg()[0]!;
  const w0 = performance.now();
  // Under /usr/bin/time for its CPU seconds and peak RSS.
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((res) => {
    const c = spawn(
      '/usr/bin/time',
      [
        '-f',
        'TIME %e %U %S %M',
        process.execPath,
        ...bucketFlags,
        join(ROOT, 'dist/scripts/bucket.js'),
        '--config',
        ini,
        '--prefix',
        'burst/',
        '--json',
        '--quiet',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: childEnv(),
      },
    );
    let out = '';
    let err = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    c.once('exit', (code) => res({ code, stdout: out, stderr: err }));
  });
  const wall = (performance.now() - w0) / 1000;
  const timed = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr);
  if (!timed) throw new Error(`s3s3bucket failed (${r.code}): ${r.stderr}`);
  const sweep = JSON.parse(r.stdout) as { copied: number; seconds: number };
  for (const d of S.dests) await d.destroyBucket();
  for (const s of [S.source, ...S.dests]) s.close();
  say(`s3s3bucket: ${sweep.copied} copies in ${wall.toFixed(2)} s wall: ${(COUNT / wall).toFixed(1)} keys/s`);
  return {
    copied: sweep.copied,
    wall,
    seconds: sweep.seconds,
    cpu: Number(timed[2]) + Number(timed[3]),
    rss: Number(timed[4]) / 1024,
    load,
  };
}

// --- the report ---------------------------------------------------------------------------------------
const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '-');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');
const ok = (b: boolean) => (b ? 'PASS' : 'MISS');
const top = (w: CommandWindow, n = 6) =>
  w.byCommand
    .slice(0, n)
    .map(([k, v]) => `${k} ${f1(v / COUNT)}`)
    .join(', ');
const human = (bytes: number) =>
  bytes >= 1024 ** 3
    ? `${(bytes / 1024 ** 3).toFixed(2)} GiB`
    : bytes >= 1024 ** 2
      ? `${(bytes / 1024 ** 2).toFixed(1)} MiB`
      : `${(bytes / 1024).toFixed(1)} KiB`;

function report(
  started: Date,
  load: number[],
  layouts: LayoutResult[],
  sweep: Awaited<ReturnType<typeof runSweep>>,
  q: QueueResult,
  sweepStreamed?: Awaited<ReturnType<typeof runSweep>>,
): string {
  const dests = destServers.map((s) => s.name).join(' + ');
  const sweepRate = COUNT / sweep.wall;
  const sweepCpuKey = (sweep.cpu / COUNT) * 1000;
  const streamedRate = sweepStreamed ? COUNT / sweepStreamed.wall : NaN;
  /** The sweep a layout is compared with: the one with the same kind of destinations. */
  const refRate = (l: Layout) => (l.streamed ? streamedRate : sweepRate);
  const rows: string[] = [
    `| today's single-process listener (no \`--role\`), burst — recorded at ${TODAY.commit}, ` +
      `not re-run | 2000 | ${TODAY.burst} | ${TODAY.p50} | ${TODAY.p99} | ${TODAY.rss} | ${TODAY.cpu} | ` +
      `${f2((TODAY.cpu / 2000) * 1000)} | | ${f2(TODAY.burst / TODAY.sweep)}x of ${TODAY.sweep} |`,
    `| today's single-process listener, steady at half that rate (offered ${TODAY.steadyOffered}/s) ` +
      `— recorded at ${TODAY.commit} | 571 | ${TODAY.steadyOffered} | ${TODAY.steadyP50} | ` +
      `${TODAY.steadyP99} | | | | | |`,
  ];
  for (const r of layouts) {
    const sum = r.rss.reduce((s, x) => s + x.mib, 0);
    const max = Math.max(...r.rss.map((x) => x.mib));
    rows.push(
      `| ${r.layout.title} burst: all published at once (in ${f0(r.publishMs)} ms; load ${f1(r.load)}) ` +
        `| ${COUNT} | ${f1(r.burstRate)} | ${f0(r.burstP50)} | ${f0(r.burstP99)} | ${f1(sum)} / ${f1(max)} | ` +
        `${f1(r.burstCpu)} | ${f2((r.burstCpu / COUNT) * 1000)} | ${f1(r.commands.total / COUNT)} | ` +
        `${f2(r.burstRate / refRate(r.layout))}x |`,
    );
    rows.push(
      `| ${r.layout.title} steady at half that rate (offered ${f1(r.steadyOffered)}/s) ` +
        `| ${r.steadyN} | ${f1(r.steadyOffered)} | ${f0(r.steadyP50)} | ${f0(r.steadyP99)} | | | | | |`,
    );
  }
  rows.push(
    `| s3s3bucket --prefix burst/ on the same objects, fresh buckets (reference, same run; ` +
      `load ${f1(sweep.load)}) | ${sweep.copied / destServers.length} | ${f1(sweepRate)} | | | ` +
      `${f1(sweep.rss)} | ${f1(sweep.cpu)} | ${f2(sweepCpuKey)} | 0 | 1x |`,
  );
  if (sweepStreamed)
    rows.push(
      `| s3s3bucket --prefix burst/, streamed-only destinations (reference of the streamed layout; ` +
        `load ${f1(sweepStreamed.load)}) | ${sweepStreamed.copied / destServers.length} | ${f1(streamedRate)} | | | ` +
        `${f1(sweepStreamed.rss)} | ${f1(sweepStreamed.cpu)} | ${f2((sweepStreamed.cpu / COUNT) * 1000)} | 0 | 1x |`,
    );
  const rssDetail = layouts
    .map((r) => `${r.layout.label}: ${r.rss.map((x) => `${x.role} ${f1(x.mib)}`).join(', ')}`)
    .join('; ');

  const perJob = q.memDelta / q.jobs;
  const kind = (k: string) => q.breakdown.find((b) => b.kind === k);
  const events = kind('events');
  const perJobKeys = ['job hash', 'deduplication key', 'wait'].reduce((s, k) => s + (kind(k)?.bytes ?? 0), 0) / q.jobs;
  const perEvent = events && q.eventsLen > 0 ? events.bytes / q.eventsLen : 0;
  const projection = perJob * MAX_QUEUED;
  const projectionEvents = perEvent * EVENTS_MAXLEN;
  const w1 = layouts.find((r) => r.layout.label === 'w1');
  const ref = w1 ?? layouts[0];
  const fullCmds = ref ? ref.commands.total / COUNT : NaN;
  const queueCmds = (q.addCommands.total + q.takeCommands.total) / q.jobs;
  const addCpuKey = (q.addCpu / q.jobs) * 1000;
  const takeCpuKey = (q.takeCpu / q.jobs) * 1000;
  const w1CpuKey = ref ? (ref.burstCpu / COUNT) * 1000 : NaN;
  const overhead = (addCpuKey + takeCpuKey) / w1CpuKey;
  const oneWorker = layouts.find((r) => r.layout.label === 'w1');
  const w2 = layouts.find((r) => r.layout.label === 'w2');

  const targets: string[] = [];
  if (oneWorker)
    targets.push(
      `| the same, against the sweep of the same run (the machine's load moves both) ` +
        `| ${f2(oneWorker.burstRate / sweepRate)}x of ${f1(sweepRate)} keys/s; ` +
        `today's listener ${f2(TODAY.burst / TODAY.sweep)}x of ${TODAY.sweep} at ${TODAY.commit} | ` +
        `${ok(oneWorker.burstRate / sweepRate >= TODAY.burst / TODAY.sweep)} (ratio) |`,
    );
  if (oneWorker)
    targets.unshift(
      `| one worker's burst throughput (intake + 1 worker) >= ${TARGET_BURST} keys/s (the single-process ` +
        `listener at 5c0e54c) | ${f1(oneWorker.burstRate)} keys/s (today's listener in its last run, ` +
        `${TODAY.commit}: ${TODAY.burst}) | ${ok(oneWorker.burstRate >= TARGET_BURST)} |`,
    );
  const allStreamed = layouts.find((r) => r.layout.streamed);
  if (allStreamed)
    targets.push(
      `| the all-streamed burst (${allStreamed.layout.title}) >= 1.0x the streamed sweep of the same run ` +
        `| ${f2(allStreamed.burstRate / streamedRate)}x ` +
        `(${f1(allStreamed.burstRate)} against ${f1(streamedRate)} keys/s) ` +
        `| ${ok(allStreamed.burstRate / streamedRate >= 1)} |`,
    );
  targets.push(
    `| queue overhead <= 10% of a key's client CPU | ${f2(addCpuKey + takeCpuKey)} of ${f2(w1CpuKey)} ms ` +
      `per key = ${(overhead * 100).toFixed(1)}% | ${ok(overhead <= 0.1)} |`,
  );
  for (const r of layouts)
    targets.push(
      `| p99 < 1 s at the steady half rate, ${r.layout.title} | ${f0(r.steadyP99)} ms | ${ok(r.steadyP99 < 1000)} |`,
    );
  const rssMax = Math.max(...layouts.flatMap((r) => r.rss.map((x) => x.mib)));
  targets.push(`| peak RSS of each process < 150 MiB | ${f1(rssMax)} MiB at most | ${ok(rssMax < 150)} |`);

  const sameUser = destServers.some((d) => d.name === sourceServer.name)
    ? `; the ${sourceServer.name} destination is the same RGW user, so it is a server-side CopyObject, ` +
      'the other is streamed'
    : '';
  const secondWorkerCpu =
    w1 && w2
      ? `: ${f2(((w2.burstCpu - w1.burstCpu) / COUNT) * 1000)} ms per key more than one worker) ` +
        `for ${f1(w2.burstRate)} against ${f1(w1.burstRate)} keys/s`
      : ')';
  return [
    `# s3s3listen on the queue: throughput, latency, Redis per job`,
    '',
    `\`${process.env.BENCH_LAYOUTS ? `BENCH_LAYOUTS=${process.env.BENCH_LAYOUTS} ` : ''}bash bench/listen.sh\` ` +
      `(${started.toISOString().slice(0, 16).replace('T', ' ')} UTC; ` +
      `the whole bench took ${f0((Date.now() - started.getTime()) / 60000)} min)`,
    '',
    `- Machine: ${cpus().length} CPUs, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM; ` +
      `Node ${process.version}; everything on loopback on the same machine`,
    `  (Ceph RGW single-node, Swift all-in-one with s3api, redis-server, the daemons and this script share the CPUs;`,
    `  load average ${load.map((x) => x.toFixed(2)).join(' ')} when the bench started, ` +
      `and the 1-minute load when each burst began in the table:`,
    `  the machine is shared with other work, which moves every throughput figure by tens of per cent from ` +
      `one run to the next)`,
    `- Source: ${sourceServer.name}; destinations: ${dests} (${destServers.length} per key${sameUser})`,
    `- ${COUNT} keys of ${SIZE} bytes; every process: \`node ${nodeFlags.join(' ')} dist/scripts/listen.js ` +
      `--role ROLE --log-format json\` (the flags of its shebang line),`,
    `  \`concurrency\` ${CONCURRENCY ?? '16 (the default, from [source])'} per worker; marker on; ` +
      `each layout on its own queue and fresh destination buckets`,
    `- Latency: from the PUBLISH call to a worker's \`copied\` line (written once every destination has the object)`,
    `- Peak RSS: VmHWM of each process from /proc at the end of the layout's runs, summed / the largest (${rssDetail})`,
    `- Client CPU: user + system of every process of the layout over the burst, from /proc/PID/stat (utime + stime)`,
    `- Redis commands: \`INFO commandstats\` calls over the burst, the bench's own PUBLISH/INFO taken out; ` +
      `commands run inside`,
    `  BullMQ's Lua scripts are counted one by one, as the server runs them (EVALSHA itself is one more)`,
    '',
    `Commands: \`bash bench/listen.sh\` (builds, starts its own Ceph RGW, Swift and Redis on loopback, stops them);`,
    `\`BENCH_KEYS=500 BENCH_STEADY_SECONDS=10 bash bench/listen.sh\` for a quick run; ` +
      `\`BENCH_LAYOUTS=w1 bash bench/listen.sh\` for one layout;`,
    `\`S3S3TEST_SERVERS=…/ceph/env:…/swift/env S3S3TEST_REDIS=…/redis/env bash bench/listen.sh\` on ` +
      `servers already running.`,
    '',
    `## Throughput and latency`,
    '',
    `| run | keys | keys/s | p50 ms | p99 ms | peak RSS sum / max (MiB) ` +
      `| client CPU s | CPU ms/key | Redis cmds/key | burst / sweep |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
    `${rows.join('\n')}`,
    '',
    `s3s3bucket: ${f2(sweep.wall)} s wall clock for the process (start-up and listing included), ` +
      `${sweep.seconds} s from its own start of the sweep.`,
    `Exit codes after SIGTERM: ` +
      `${layouts.map((r) => `${r.layout.label} ${r.exitCodes.join('/')}`).join(', ')}; ` +
      `warnings or errors in the daemons' logs: ${failures}.`,
    '',
    `Reading: the box is CPU-bound (Ceph RGW, Swift and the clients share 2 cores), ` +
      `so a second worker process adds CPU`,
    `(its own AWS SDK stack, its own BullMQ polling${secondWorkerCpu};`,
    `a second worker only helps where there are cores to give it: ` +
      `the layouts are for spreading workers over machines. The burst p50/p99 are mostly time spent waiting ` +
      `behind ${COUNT} keys; the steady figures are the per-key latency.`,
    '',
    `Today's figures, the single-process listener (no \`--role\`, journal-based) ` +
      `in its last run of this bench (${TODAY.commit}, same machine):`,
    `burst ${TODAY.burst} keys/s (p50 ${TODAY.p50} ms, p99 ${TODAY.p99} ms), ` +
      `steady at ${TODAY.steadyOffered}/s p50 ${TODAY.steadyP50} ms / p99 ${TODAY.steadyP99} ms,`,
    `peak RSS ${TODAY.rss} MiB, client CPU ${TODAY.cpu} s for the burst; ` +
      `the issue's reference for it is ${TARGET_BURST} keys/s at 5c0e54c.`,
    `It is not run here: plain \`s3s3listen\` now means \`--role all\`.`,
    '',
    `Redis commands per key over the burst, the most frequent (per key): ` +
      `${layouts.map((r) => `${r.layout.label}: ${top(r.commands)}`).join('; ')}.`,
    '',
    `## The queue alone: Redis memory and the queue's own cost per job`,
    '',
    `Method: one \`--role intake\` and no worker; ${q.jobs} keys published; once all ${q.jobs} jobs wait, Redis's`,
    `\`used_memory\` minus its value before the publish is the memory of ${q.jobs} waiting jobs. Then`,
    `\`bench/queue-noop-worker.ts\` — BullMQ's worker built by s3s3's own \`QueueWorker\` (same concurrency,`,
    `lock, stalled checks, completed jobs removed at once) whose job returns "done" without any S3 request —`,
    `drains them (${q.noopJobs} jobs run, ${f2(q.takeSeconds)} s). What the intake spends per add and the no-op`,
    `worker per job is the queue's own cost; a key's client CPU is the intake + 1 worker layout's burst CPU per key`,
    `(intake and worker), so the share is an upper bound (the intake's CPU also holds the subscription and ` +
      `parsing the message, which any listener pays).`,
    '',
    `| figure | per job |`,
    `| --- | ---: |`,
    `| Redis memory per waiting job (\`used_memory\` delta / ${q.jobs}) | ${f0(perJob)} bytes |`,
    `| of which, by \`MEMORY USAGE\`: job hash + deduplication key + its share of the wait list | ` +
      `${f0(perJobKeys)} bytes |`,
    `| the queue's events stream (${q.eventsLen} entries; BullMQ caps it near ${EVENTS_MAXLEN}, ` +
      `whatever the jobs) | ${f0(perEvent)} bytes per entry |`,
    `| Redis commands to add a job (intake) | ${f1(q.addCommands.total / q.jobs)} (${top(q.addCommands, 5)}) |`,
    `| Redis commands to take and complete a job (no-op worker) ` +
      `| ${f1(q.takeCommands.total / q.jobs)} (${top(q.takeCommands, 5)}) |`,
    `| Redis commands per key, the whole path (intake + 1 worker burst: add, take, complete, marker SET) ` +
      `| ${f1(fullCmds)} |`,
    `| client CPU to add a job (intake process) | ${f2(addCpuKey)} ms |`,
    `| client CPU to take and complete a job (no-op worker process) | ${f2(takeCpuKey)} ms |`,
    `| a key's client CPU, intake + 1 worker burst (both processes) | ${f2(w1CpuKey)} ms |`,
    `| the sweep's client CPU per copied key (same objects, same run) | ${f2(sweepCpuKey)} ms |`,
    `| the queue's share of a key's client CPU | ${(overhead * 100).toFixed(1)}% |`,
    '',
    `Keys by kind after the ${q.jobs} adds (MEMORY USAGE, bytes): ` +
      `${q.breakdown.map((b) => `${b.kind} ${b.keys} keys ${b.bytes}`).join('; ')}.`,
    '',
    `**100M-object projection.** A backfill through \`s3s3bucket --enqueue\` holds at most \`max_queued\` ` +
      `(default ${MAX_QUEUED})`,
    `waiting jobs, whatever the bucket's size: ${f0(perJob)} bytes × ${MAX_QUEUED} = ${human(projection)}, ` +
      `plus the events stream`,
    `capped near ${EVENTS_MAXLEN} entries (${human(projectionEvents)}), ` +
      `plus one hash per running job (workers × concurrency) and the`,
    `failed set — for 100M objects as for 10 000. Redis commands: ` +
      `${f1(fullCmds)} per key × 100M = ${f1(fullCmds / 10)} billion`,
    `(${f0((fullCmds * 1e8) / 86400 / 1000)}k commands/s sustained if the backfill took one day); ` +
      `the queue alone (add + take + complete,`,
    `no marker) ${f1(queueCmds)} per key × 100M = ${f1(queueCmds / 10)} billion.`,
    '',
    `## Targets (bench, not asserted)`,
    '',
    `| target | measured | |`,
    `| --- | --- | --- |`,
    `${targets.join('\n')}`,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const started = new Date();
  const load = loadavg();
  const seedIni = writeConfig('seed');
  const L = stores(seedIni);
  await L.source.createBucket();
  const burstKeys = Array.from({ length: COUNT }, (_, i) => `burst/${String(i).padStart(5, '0')}`);
  const steadyKeys = Array.from({ length: COUNT }, (_, i) => `steady/${String(i).padStart(5, '0')}`);
  say(`seeding ${burstKeys.length + steadyKeys.length} objects of ${SIZE} bytes in ${sourceServer.name}`);
  await pool([...burstKeys, ...steadyKeys], 32, async (k) => {
    const body = Buffer.alloc(SIZE, k);
    await L.source.put(k, body, { contentLength: SIZE });
  });
  redis = connectRedis(redisUrl, { redactedUrl: redisUrl, mode: 'client' });
  const layouts: LayoutResult[] = [];
  for (const layout of LAYOUTS) layouts.push(await runLayout(layout, burstKeys, steadyKeys));
  const sweep = await runSweep();
  const sweepStreamed = LAYOUTS.some((l) => l.streamed) ? await runSweep(true) : undefined;
  const q = await runQueueAlone(burstKeys);
  await rcall('DEL', `bench-${id}:pending`, `bench-${id}:failed`);
  await redis.close();
  await L.source.destroyBucket();
  L.source.close();
  for (const d of L.dests) d.close();
  const md = report(started, load, layouts, sweep, q, sweepStreamed);
  writeFileSync(join(ROOT, 'bench/results-listen.md'), md);
  process.stdout.write(md);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: FAILED: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
