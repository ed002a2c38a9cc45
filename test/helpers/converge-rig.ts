/**
 * The convergence rig (issue 17): everything that runs at once in a user's deployment, on
 * the real servers. A Ceph source; two `delete = true` destinations, Swift s3api and a second
 * Ceph bucket; `s3s3listen --role all` plus a second `--role worker` process; writer loops
 * that put, overwrite and delete keys of every shape on a pool of a few hundred, each
 * followed by a publish as an application would; `s3s3bucket --delete` sweeping back to back,
 * its uploads to the Ceph destination held by a fault proxy so that its copies overlap the
 * workers' newer ones, every other one a `--distribute` sweep whose ranges the daemon's own
 * workers take (with the daemon's config and network); 503s, resets and delays on both sides
 * for part of the run (the daemon and the sweep each reach every endpoint through proxies of
 * their own).
 *
 * `runConvergence` plays the three phases and returns what each found; the test
 * (test/integration/converge.test.ts) asserts on it, the soak (bench/soak.ts) prints it.
 * Nothing here judges: a phase reports every missing, extra, stale or metadata-differing
 * key per destination, so a failure says why.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/api/config.js';
import { Publisher } from '../../src/api/listen/publish.js';
import { SyncQueue, type QueueCounts } from '../../src/api/queue/queue.js';
import type { S3Store } from '../../src/api/store/s3-store.js';
import { runBucket } from './bucket-cli.js';
import { FaultProxy, isOp, slowDown, type Injection, type Matcher } from './fault-proxy.js';
import { KEY_SHAPES, ORDER_KEYS } from './keys.js';
import { Daemon, tempDir } from './listen.js';
import { dropStore, freshStore, md5Hex, readAll } from './seed.js';
import { redisUrl, sectionIni, testServers, uniqueBucket, type TestServer } from './servers.js';
import { RedisHa, addr, type Failover } from './redis-ha.js';

const MiB = 1024 * 1024;
/** The destinations' multipart_threshold (below): larger objects go in 5 MiB parts. */
const MULTIPART_THRESHOLD = 8 * MiB;
const destTuning = { multipart_threshold: `${MULTIPART_THRESHOLD / MiB}MiB`, multipart_chunksize: '5MiB' };

/** How long and how hard the rig runs; the defaults are the test's (~3 min in all). */
export interface ConvergeOptions {
  readonly label: string;
  /** Phase 1 writes, ms (the issue: ~60 s). */
  readonly writeMs: number;
  /** Phase (c) writes, ms; the daemon is SIGKILLed half-way and restarted. */
  readonly roundTwoMs: number;
  /** Writer loops (the issue: four). */
  readonly writers?: number;
  /** Keys written and deleted: every shape the suite knows, padded with plain ones to this many. */
  readonly poolSize?: number;
  /** Each writer's pause between operations, ms (min, max): keeps the load a 2-core box can carry. */
  readonly pauseMs?: readonly [number, number];
  /** Of every 1000 puts, how many are large (8 to 12 MiB). */
  readonly largePerMille?: number;
  /** Faults on for `onMs` out of every `cycleMs` of phase 1, starting `offsetMs` into each cycle. */
  readonly faults?: { readonly cycleMs: number; readonly onMs: number; readonly offsetMs: number };
  /** Phases (a) and (c): how long the destinations may take to equal the source. */
  readonly settleMs?: number;
  /** A sweep running longer than this is killed and reported hung (default 150 s). */
  readonly sweepTimeoutMs?: number;
  /** Progress lines (the soak prints them; the test keeps them for its failure message). */
  readonly log?: (line: string) => void;
  /**
   * Redis through Sentinel (a layout of the rig's own, `redis_wait_replicas = 1`) whose master is
   * SIGKILLed this far into phase 1, ms; unset: the shared single Redis, no failover.
   */
  readonly failoverAtMs?: number;
}

/** What one destination differs in from the source; keys JSON-quoted. */
export interface DestinationDiff {
  readonly section: string;
  readonly server: string;
  /** In the source, not in the destination. */
  readonly missing: string[];
  /** In the destination, not in the source. */
  readonly extra: string[];
  /** Other bytes than the source's (size or MD5). */
  readonly stale: string[];
  /** Same bytes, other user metadata (s3s3-* left out: s3s3's own records). */
  readonly metadata: string[];
}

export interface Comparison {
  readonly equal: boolean;
  /** Keys at the source. */
  readonly sourceKeys: number;
  /** Key and destination pairs compared. */
  readonly compared: number;
  readonly destinations: DestinationDiff[];
}

/** One `s3s3bucket --delete` run as the rig saw it: exit status, time, and its JSON summary's counts. */
export interface SweepRun {
  readonly code: number;
  readonly seconds: number;
  /**
   * Still running after `timeoutMs`, so killed (a hang, or one key retried for minutes); its log is
   * kept in the rig's directory.
   */
  readonly hung?: boolean;
  /** Its stderr, kept for a post-mortem. */
  readonly logFile: string;
  readonly copied?: number;
  readonly deleted?: number;
  readonly failed?: number;
  /** The JSON summary as printed, or stderr's tail when there was none. */
  readonly raw: string;
  /** A `--distribute` sweep (its ranges taken by the daemon's workers). */
  readonly distributed?: boolean;
}

/** What the writers did (counted when the source acknowledged it). */
export interface WriteStats {
  puts: number;
  deletes: number;
  publishes: number;
  bytes: number;
  errors: number;
}

/** A phase that waits for the destinations to equal the source. */
export interface PhaseResult {
  readonly equal: boolean;
  /** Seconds from the phase's start until the destinations equalled the source (or the limit). */
  readonly seconds: number;
  readonly comparison: Comparison;
  /** Polls made. */
  readonly polls: number;
}

/** Everything a convergence run found, phase by phase. */
export interface ConvergeReport {
  readonly writes: WriteStats;
  readonly sweeps: SweepRun[];
  readonly faultHits: number;
  /** (a) writers and sweeps stopped, no further sweep: the daemon's workers alone. */
  readonly a: PhaseResult & { readonly queue?: QueueCounts };
  /** (b) one more sweep: it must change nothing. */
  readonly b: { readonly sweep: SweepRun; readonly comparison: Comparison };
  /** (c) writes with the daemon SIGKILLed and restarted, then one sweep. */
  readonly c: PhaseResult & { readonly sweep: SweepRun; readonly writes: WriteStats };
  /** The Redis failover phase 1 made (`failoverAtMs`), or none. */
  readonly failover?: { readonly ms: number; readonly master: string };
  readonly seconds: number;
}

/** One line per destination with a difference: `dest1 (swift): missing ["a"] extra [] ...`. */
export function describeComparison(c: Comparison, limit = 20): string {
  const q = (keys: readonly string[]) =>
    `${keys.length}${keys.length ? ` ${JSON.stringify(keys.slice(0, limit))}${keys.length > limit ? '...' : ''}` : ''}`;
  const lines = c.destinations.map(
    (d) =>
      `${d.section} (${d.server}): missing ${q(d.missing)}; extra ${q(d.extra)}; stale ${q(d.stale)}; ` +
      `metadata ${q(d.metadata)}`,
  );
  return (
    `${c.equal ? 'equal' : 'NOT equal'}: ${c.sourceKeys} source keys, ` +
    `${c.compared} key-destination pairs compared\n  ${lines.join('\n  ')}`
  );
}

/** The whole report, for a failure message or the soak's output. */
export function describeReport(r: ConvergeReport): string {
  const sweeps = r.sweeps
    .map((s) =>
      s.hung
        ? `HUNG(${s.logFile})`
        : `${s.distributed ? 'D' : ''}${s.code}:${s.copied ?? '?'}c/${s.deleted ?? '?'}d/${s.failed ?? '?'}f`,
    )
    .join(' ');
  return [
    `writes: ${r.writes.puts} puts, ${r.writes.deletes} deletes, ${r.writes.publishes} publishes, ` +
      `${(r.writes.bytes / MiB).toFixed(1)} MiB, ${r.writes.errors} writer errors; ` +
      `faults hit ${r.faultHits} requests`,
    `sweeps during the run ([D: --distribute] exit:copied/deleted/failed): ${sweeps || 'none'}`,
    `redis failover: ${r.failover ? `${r.failover.master} promoted after ${r.failover.ms} ms` : 'none'}`,
    `(a) after ${r.a.seconds.toFixed(1)} s, ${r.a.polls} polls, queue ${JSON.stringify(r.a.queue ?? {})}: ` +
      `${describeComparison(r.a.comparison)}`,
    `(b) one more sweep: exit ${r.b.sweep.code}, copied ${r.b.sweep.copied ?? '?'}, ` +
      `deleted ${r.b.sweep.deleted ?? '?'}; ${describeComparison(r.b.comparison)}\n  summary: ` +
      `${r.b.sweep.raw.slice(0, 600)}`,
    `(c) ${r.c.writes.puts} puts, ${r.c.writes.deletes} deletes with the daemon SIGKILLed mid-way; ` +
      `sweep exit ${r.c.sweep.code} copied ${r.c.sweep.copied ?? '?'} deleted ${r.c.sweep.deleted ?? '?'}; ` +
      `after ${r.c.seconds.toFixed(1)} s: ${describeComparison(r.c.comparison)}`,
    `total ${r.seconds.toFixed(0)} s`,
  ].join('\n');
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const between = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));

/** Runs `fn` over `items` with at most `n` at once. */
async function eachAtMost<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** The pool: every key shape the suite knows (control characters, 1024 bytes, NFD...) and plain ones. */
export function keyPool(size: number): string[] {
  const keys = [...new Set([...KEY_SHAPES, ...ORDER_KEYS])];
  for (let i = 0; keys.length < size; i++) keys.push(`pool/${String(i).padStart(4, '0')}`);
  return keys;
}

/** Mostly small (0 B included), some medium, a few large: cheap on 2 cores, yet every path taken. */
function bodySize(largePerMille: number): number {
  const r = Math.random() * 1000;
  if (r < largePerMille) return between(MULTIPART_THRESHOLD, 12 * MiB);
  if (r < largePerMille + 40) return between(256 * 1024, 2 * MiB);
  if (r < 300) return between(4096, 256 * 1024);
  if (r < 330) return 0;
  return between(1, 4096);
}

interface Endpoint {
  readonly server: TestServer;
  readonly bucket: string;
  /** The direct store: writers, checks, cleanup. */
  readonly store: S3Store;
}

/** The servers, buckets, proxies, configs and processes of one convergence run. */
export class ConvergeRig {
  readonly writes: WriteStats = { puts: 0, deletes: 0, publishes: 0, bytes: 0, errors: 0 };
  readonly sweeps: SweepRun[] = [];
  private daemon: Daemon | undefined;
  private worker: Daemon | undefined;
  private readonly storms: Injection[] = [];
  private readonly md5Cache = new Map<string, string>();
  private trimTimer: NodeJS.Timeout | undefined;
  /** The rig's own Sentinel layout (`failoverAtMs`), and the failover phase 1 made. */
  ha: RedisHa | undefined;
  failover: Failover | undefined;
  private sweepSeq = 0;
  /** When the sweep running now started (undefined between sweeps). */
  private sweepStartedAt: number | undefined;

  private constructor(
    readonly o: ConvergeOptions,
    readonly dir: string,
    readonly source: Endpoint,
    readonly dests: readonly Endpoint[],
    /** The daemon's proxies (source, dest1, dest2), then the sweep's. */
    readonly daemonProxies: readonly FaultProxy[],
    readonly sweepProxies: readonly FaultProxy[],
    readonly daemonFile: string,
    readonly sweepFile: string,
    readonly config: Config,
    readonly pool: readonly string[],
  ) {}

  private log(line: string): void {
    this.o.log?.(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
  }

  static async create(o: ConvergeOptions): Promise<ConvergeRig> {
    const servers = testServers();
    const ceph = servers.find((s) => s.name === 'ceph') ?? servers[0]!;
    const swift = servers.find((s) => s.name === 'swift') ?? servers[1] ?? ceph;
    const dir = tempDir(`converge-${o.label}`);
    const made: Endpoint[] = [];
    try {
      for (const [server, role] of [
        [ceph, 'src'],
        [swift, 'd1'],
        [ceph, 'd2'],
      ] as const) {
        const bucket = uniqueBucket(`${o.label}-${role}`);
        made.push({ server, bucket, store: await freshStore(server, bucket) });
      }
    } catch (err) {
      for (const e of made) await dropStore(e.store).catch(() => {});
      throw err;
    }
    const [source, d1, d2] = made as [Endpoint, Endpoint, Endpoint];
    const ha = o.failoverAtMs !== undefined ? await RedisHa.start('sentinel') : undefined;
    const proxies = [source, d1, d2, source, d1, d2].map((e) => new FaultProxy(e.server.endpoint));
    const urls = await Promise.all(proxies.map((p) => p.start()));
    const endpointIni = { read_timeout: 20, connect_timeout: 2 };
    // Large objects go in parts (8 MiB and up), so multipart uploads race too.
    const destIni = { ...endpointIni, delete: true, max_delete: '100%', ...destTuning };
    const through = (e: Endpoint, url: string): TestServer => ({ ...e.server, endpoint: url });
    const channel = `t-converge-${o.label}-${randomBytes(4).toString('hex')}`;
    const pubsub = {
      redis: true,
      ...(ha
        ? {
            redis_sentinels: ha.sentinels.map(addr).join(', '),
            redis_sentinel_name: ha.sentinelName,
            redis_wait_replicas: 1,
          }
        : { redis_url: redisUrl() }),
      channel,
      pending_set: `${channel}:pending`,
      failed_list: `${channel}:failed`,
      marker: false,
    };
    const daemonIni =
      sectionIni('source', through(source, urls[0]!), source.bucket, endpointIni) +
      sectionIni('dest1', through(d1, urls[1]!), d1.bucket, destIni) +
      sectionIni('dest2', through(d2, urls[2]!), d2.bucket, destIni) +
      '[pubsub]\n' +
      Object.entries(pubsub)
        .map(([k, v]) => `${k} = ${v}`)
        .join('\n') +
      '\n';
    // The sweep is a separate deployment (cron) with its own view of the network: its Ceph
    // destination through the slow proxy, no Redis (its lock is a file).
    const sweepIni =
      sectionIni('source', through(source, urls[3]!), source.bucket, endpointIni) +
      sectionIni('dest1', through(d1, urls[4]!), d1.bucket, destIni) +
      sectionIni('dest2', through(d2, urls[5]!), d2.bucket, destIni);
    const daemonFile = join(dir, 'daemon.ini');
    const sweepFile = join(dir, 'sweep.ini');
    writeFileSync(daemonFile, daemonIni, { mode: 0o600 });
    writeFileSync(sweepFile, sweepIni, { mode: 0o600 });
    const config = loadConfig({ file: daemonFile, env: {} });
    const rig = new ConvergeRig(
      o,
      dir,
      source,
      [d1, d2],
      proxies.slice(0, 3),
      proxies.slice(3),
      daemonFile,
      sweepFile,
      config,
      keyPool(o.poolSize ?? 300),
    );
    rig.ha = ha;
    rig.slowSweepUploads();
    // The proxies record every request; a long soak must not keep them all.
    rig.trimTimer = setInterval(() => {
      for (const p of proxies) p.requests.splice(0);
    }, 10_000);
    rig.trimTimer.unref();
    return rig;
  }

  /**
   * The sweep's uploads to the Ceph destination take 1.5 to 8 s to reach it (a slow, distant
   * link), for the whole run: longer than a worker takes from a publish to its copy, so a
   * sweep's copy of an older version can land after the worker's copy of the newer one.
   */
  private slowSweepUploads(): void {
    const proxy = this.sweepProxies[2]!;
    const uploads = isOp(['PutObject', 'UploadPart'], this.dests[1]!.bucket);
    const forever = Number.POSITIVE_INFINITY;
    proxy.inject((r) => uploads(r) && Math.random() < 0.4, { kind: 'delay', ms: 8000 }, forever);
    proxy.inject((r) => uploads(r) && Math.random() < 0.5, { kind: 'delay', ms: 4000 }, forever);
    proxy.inject(uploads, { kind: 'delay', ms: 1500 }, forever);
  }

  /** 503s, resets (before an answer, and mid-upload) and delays on every endpoint, daemon's and sweep's, for `ms`. */
  private stormFor(ms: number): void {
    for (const p of [...this.daemonProxies, ...this.sweepProxies]) {
      const chance =
        (p1: number): Matcher =>
        () =>
          Math.random() < p1;
      const uploads = isOp(['PutObject', 'UploadPart']);
      this.storms.push(
        p.storm(chance(0.03), slowDown(), ms),
        p.storm(chance(0.01), { kind: 'drop' }, ms),
        p.storm((r) => uploads(r) && Math.random() < 0.01, { kind: 'cut-request' }, ms),
        p.storm(chance(0.04), { kind: 'delay', ms: 1200 }, ms),
      );
    }
  }

  /** Lift the storms (the sweep's slow uploads stay: they are its network). */
  liftFaults(): void {
    for (const s of this.storms) s.stop();
  }

  get faultHits(): number {
    return this.storms.reduce((n, s) => n + s.hits, 0);
  }

  /** The daemon (`--role all`) and, unless it runs already, the second worker; resolves once both are up. */
  async startDaemons(): Promise<void> {
    const args = ['--config', this.daemonFile, '--log-format', 'json', '--concurrency', '6', '--job-lock', '10'];
    this.daemon = new Daemon([...args, '--role', 'all']);
    await this.daemon.waitForLine(/"msg":"listening"/, 60_000);
    if (!this.worker) {
      this.worker = new Daemon([...args, '--role', 'worker']);
      await this.worker.waitForLine(/"msg":"working"/, 60_000);
    }
  }

  /** SIGKILL the daemon (`--role all`), as a crash would: its running jobs wait for their lock to expire. */
  async killDaemon(): Promise<void> {
    const d = this.daemon;
    if (!d) return;
    d.kill('SIGKILL');
    await d.exited;
  }

  /** A few source keys before anything runs, so a sweep never sees an empty source. */
  async seed(n = 40): Promise<void> {
    await eachAtMost(this.pool.slice(0, n), 8, async (key) => {
      const body = randomBytes(between(0, 2048));
      await this.source.store.put(key, body, { contentLength: body.length, metadata: { seeded: '1' } });
    });
  }

  /**
   * `writers` loops for `ms` (or until `ms()` says stop): puts (new and overwrites), deletes, each
   * followed by its publish.
   */
  async write(ms: number | (() => boolean), stats: WriteStats = this.writes): Promise<WriteStats> {
    const end = Date.now() + (typeof ms === 'number' ? ms : 0);
    const done = typeof ms === 'number' ? () => Date.now() >= end : ms;
    const [lo, hi] = this.o.pauseMs ?? [40, 160];
    const large = this.o.largePerMille ?? 8;
    await Promise.all(
      Array.from({ length: this.o.writers ?? 4 }, async (_, w) => {
        const publisher = new Publisher({ config: this.config });
        // An application that announces its deletes says so (op delete); both are only hints.
        const deletes = new Publisher({ config: this.config, op: 'delete' });
        let seq = 0;
        try {
          while (!done()) {
            const key = this.pool[Math.floor(Math.random() * this.pool.length)]!;
            try {
              if (Math.random() < 0.7) {
                const size = bodySize(large);
                const body = randomBytes(size);
                await this.source.store.put(key, body, {
                  contentLength: body.length,
                  metadata: { writer: String(w), seq: String(++seq) },
                });
                stats.puts++;
                stats.bytes += body.length;
                await publisher.publish(key);
              } else {
                await this.source.store.delete(key);
                stats.deletes++;
                await deletes.publish(key);
              }
              stats.publishes++;
            } catch (err) {
              stats.errors++;
              this.log(`writer ${w}: ${JSON.stringify(key)}: ${err instanceof Error ? err.message : String(err)}`);
            }
            await sleep(between(lo, hi));
          }
        } finally {
          await publisher.close();
          await deletes.close();
        }
      }),
    );
    return stats;
  }

  /**
   * One `s3s3bucket --delete --json` with the sweep's config, or, `distribute`, with the daemon's
   * (`--distribute`: its workers take the ranges); killed (and marked hung) past `timeoutMs`.
   */
  async sweep(timeoutMs = this.o.sweepTimeoutMs ?? 150_000, distribute = false): Promise<SweepRun> {
    const started = performance.now();
    const n = ++this.sweepSeq;
    const how = distribute
      ? ['--config', this.daemonFile, '--distribute', '--max-wait', '60s']
      : ['--config', this.sweepFile, '--lock-file', join(this.dir, 'sweep.lock')];
    const run = await runBucket([...how, '--delete', '--json', '--max-delete', '100%'], {
      cwd: this.dir,
      env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      timeoutMs,
    });
    const seconds = (performance.now() - started) / 1000;
    const hung = seconds * 1000 >= timeoutMs - 100;
    const logFile = join(this.dir, `sweep-${n}.log`);
    writeFileSync(logFile, run.stderr);
    let summary: { copied?: number; deleted?: number; failed?: number } = {};
    try {
      summary = JSON.parse(run.stdout) as typeof summary;
    } catch {
      // No summary: an aborted sweep (a listing that failed under the faults); stderr says why.
    }
    const raw = run.stdout.trim() || run.stderr.trim().split('\n').slice(-3).join(' | ');
    const result: SweepRun = {
      code: run.code,
      seconds,
      ...(hung ? { hung } : {}),
      logFile,
      copied: summary.copied,
      deleted: summary.deleted,
      failed: summary.failed,
      raw,
      ...(distribute ? { distributed: true } : {}),
    };
    this.log(
      `sweep ${n}${distribute ? ' (--distribute)' : ''}: ` +
        (hung
          ? `HUNG, killed after ${seconds.toFixed(0)} s (log ${logFile})`
          : `exit ${run.code} in ${seconds.toFixed(1)} s`) +
        `, copied ${summary.copied ?? '?'}, deleted ${summary.deleted ?? '?'}, failed ${summary.failed ?? '?'}`,
    );
    return result;
  }

  /** Sweeps back to back until `stop()`, which waits for the one running to finish. */
  sweepLoop(): { stop(): Promise<void> } {
    let running = true;
    const loop = (async () => {
      while (running) {
        this.sweepStartedAt = Date.now();
        this.sweeps.push(await this.sweep(undefined, this.sweeps.length % 2 === 1));
        this.sweepStartedAt = undefined;
      }
    })();
    return {
      async stop() {
        running = false;
        await loop;
      },
    };
  }

  /** Phase 1 writes with the storms scheduled over them, and sweeps back to back. */
  async churn(): Promise<void> {
    const f = this.o.faults ?? {
      cycleMs: this.o.writeMs,
      onMs: Math.round(this.o.writeMs * 0.55),
      offsetMs: Math.round(this.o.writeMs * 0.15),
    };
    const t0 = Date.now();
    const timers: NodeJS.Timeout[] = [];
    for (let start = f.offsetMs; start < this.o.writeMs; start += f.cycleMs) {
      timers.push(
        setTimeout(() => {
          this.log(`faults on for ${(f.onMs / 1000).toFixed(0)} s`);
          this.stormFor(f.onMs);
        }, start),
      );
    }
    let failing: Promise<void> | undefined;
    if (this.ha && this.o.failoverAtMs !== undefined) {
      const ha = this.ha;
      timers.push(
        setTimeout(() => {
          this.log('redis: SIGKILL of the Sentinel master');
          failing = ha.failover().then(
            async (f) => {
              this.failover = f;
              this.log(`redis: ${addr(f.master)} promoted after ${f.ms} ms; the old master comes back as a replica`);
              await ha.restart(f.killed.address);
            },
            (err: unknown) => this.log(`redis: the failover failed: ${String(err)}`),
          );
        }, this.o.failoverAtMs),
      );
    }
    const sweeps = this.sweepLoop();
    const progress = setInterval(
      () =>
        this.log(
          `${Math.round((Date.now() - t0) / 1000)} s: ${this.writes.puts} puts, ` +
            `${this.writes.deletes} deletes, ${this.sweeps.length} sweeps`,
        ),
      30_000,
    );
    try {
      // The last sweep decides what stays: the writers go on until one has run 8 to 12 s (its
      // held uploads of the versions it read still in flight while keys change under it), so
      // every run ends on the race the issue names, never on a quiet sweep (at most 60 s more).
      const end = t0 + this.o.writeMs;
      await this.write(() => {
        const now = Date.now();
        if (now < end) return false;
        const age = this.sweepStartedAt === undefined ? -1 : now - this.sweepStartedAt;
        return (age >= 8000 && age <= 12_000) || now > end + 60_000;
      });
    } finally {
      for (const t of timers) clearTimeout(t);
      clearInterval(progress);
      this.log('writers stopped; waiting for the running sweep to finish');
      await sweeps.stop();
      await failing;
      this.liftFaults();
    }
  }

  /** MD5 of an object's bytes, read directly (cached by ETag: the same ETag, the same bytes). */
  private async md5Of(e: Endpoint, key: string, etag: string): Promise<string | null> {
    if (/^[0-9a-f]{32}$/.test(etag)) return etag;
    const id = `${e.bucket}\n${key}\n${etag}`;
    const cached = this.md5Cache.get(id);
    if (cached) return cached;
    try {
      const got = await e.store.get(key);
      const md5 = md5Hex(await readAll(got.body));
      this.md5Cache.set(id, md5);
      return md5;
    } catch {
      return null;
    }
  }

  /** Every destination against the source: key set, bytes (size, MD5), user metadata. */
  async compare(withMetadata = true): Promise<Comparison> {
    const listing = async (e: Endpoint) => {
      const m = new Map<string, { size: number; etag: string }>();
      for await (const o of e.store.list()) m.set(o.key, { size: o.size, etag: o.etag.toLowerCase() });
      return m;
    };
    const [src, ...dsts] = await Promise.all([this.source, ...this.dests].map(listing));
    let compared = 0;
    const destinations: DestinationDiff[] = [];
    for (const [i, dst] of dsts.entries()) {
      const e = this.dests[i]!;
      const diff: DestinationDiff = {
        section: `dest${i + 1}`,
        server: e.server.name,
        missing: [],
        extra: [],
        stale: [],
        metadata: [],
      };
      for (const key of dst!.keys()) if (!src!.has(key)) diff.extra.push(key);
      const both: string[] = [];
      for (const key of src!.keys()) (dst!.has(key) ? both : diff.missing).push(key);
      await eachAtMost(both, 8, async (key) => {
        compared++;
        const s = src!.get(key)!;
        const d = dst!.get(key)!;
        if (s.size !== d.size) {
          diff.stale.push(key);
          return;
        }
        const [sm, dm] = await Promise.all([this.md5Of(this.source, key, s.etag), this.md5Of(e, key, d.etag)]);
        if (sm === null || dm === null) return; // changed under the check: the next poll looks again
        if (sm !== dm) {
          diff.stale.push(key);
          return;
        }
        if (!withMetadata) return;
        const [sh, dh] = await Promise.all([this.source.store.head(key), e.store.head(key)]);
        if (!sh || !dh) return;
        const user = (m: Readonly<Record<string, string>>) =>
          JSON.stringify(
            Object.entries(m)
              .filter(([k]) => !k.startsWith('s3s3-'))
              .sort(([a], [b]) => (a < b ? -1 : 1)),
          );
        if (user(sh.metadata) !== user(dh.metadata)) diff.metadata.push(key);
      });
      for (const list of [diff.missing, diff.extra, diff.stale, diff.metadata]) list.sort();
      destinations.push(diff);
    }
    const equal = destinations.every(
      (d) => d.missing.length + d.extra.length + d.stale.length + d.metadata.length === 0,
    );
    return { equal, sourceKeys: src!.size, compared, destinations };
  }

  /**
   * Poll until every destination equals the source, or `limitMs`; the cheap check first, metadata once
   * the bytes agree.
   */
  async settle(limitMs: number): Promise<PhaseResult> {
    const t0 = performance.now();
    let polls = 0;
    let last: Comparison | undefined;
    for (;;) {
      polls++;
      last = await this.compare(false);
      if (last.equal) {
        last = await this.compare(true);
        if (last.equal) break;
      }
      if (performance.now() - t0 > limitMs) break;
      await sleep(2000);
    }
    const seconds = (performance.now() - t0) / 1000;
    this.log(`settled ${last.equal ? 'equal' : 'NOT equal'} after ${seconds.toFixed(1)} s (${polls} polls)`);
    return { equal: last.equal, seconds, comparison: last, polls };
  }

  async queueCounts(): Promise<QueueCounts | undefined> {
    const q = new SyncQueue(this.config, { name: 'converge-counts' });
    try {
      return await q.counts();
    } catch {
      return undefined;
    } finally {
      await q.close();
    }
  }

  async cleanup(): Promise<void> {
    if (this.trimTimer) clearInterval(this.trimTimer);
    for (const d of [this.daemon, this.worker]) await d?.dispose();
    const q = new SyncQueue(this.config, { name: 'converge-cleanup' });
    await Promise.race([q.obliterate().catch(() => undefined), sleep(10_000)]);
    await q.close().catch(() => undefined);
    for (const p of [...this.daemonProxies, ...this.sweepProxies]) await p.stop();
    for (const e of [this.source, ...this.dests]) await dropStore(e.store).catch(() => {});
    await this.ha?.stop();
  }
}

/** The three phases of issue 17's convergence test, on a fresh rig; always cleans up. */
export async function runConvergence(o: ConvergeOptions): Promise<ConvergeReport> {
  const t0 = performance.now();
  const rig = await ConvergeRig.create(o);
  const log = (l: string) => o.log?.(`[${new Date().toISOString().slice(11, 19)}] ${l}`);
  try {
    await rig.seed();
    await rig.startDaemons();
    log(
      `phase 1: ${o.writers ?? 4} writers for ${(o.writeMs / 1000).toFixed(0)} s on ${rig.pool.length} ` +
        `keys, sweeps back to back`,
    );
    await rig.churn();
    const settleMs = o.settleMs ?? 90_000;
    log(
      `(a) no further sweep: waiting up to ${(settleMs / 1000).toFixed(0)} s for every destination to equal the source`,
    );
    const a = await rig.settle(settleMs);
    const queue = await rig.queueCounts();
    log('(b) one more sweep');
    const bSweep = await rig.sweep();
    const bComparison = await rig.compare(true);
    log(`(c) ${(o.roundTwoMs / 1000).toFixed(0)} s of writes, the daemon SIGKILLed half-way and restarted`);
    const cWrites: WriteStats = { puts: 0, deletes: 0, publishes: 0, bytes: 0, errors: 0 };
    const writing = rig.write(o.roundTwoMs, cWrites);
    await sleep(o.roundTwoMs / 2);
    await rig.killDaemon();
    log('daemon SIGKILLed');
    await sleep(Math.min(3000, o.roundTwoMs / 4));
    await rig.startDaemons();
    log('daemon restarted');
    await writing;
    const cSweep = await rig.sweep();
    const c = await rig.settle(settleMs);
    return {
      writes: rig.writes,
      sweeps: rig.sweeps,
      faultHits: rig.faultHits,
      a: { ...a, ...(queue ? { queue } : {}) },
      b: { sweep: bSweep, comparison: bComparison },
      c: { ...c, sweep: cSweep, writes: cWrites },
      ...(rig.failover ? { failover: { ms: rig.failover.ms, master: addr(rig.failover.master) } } : {}),
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await rig.cleanup();
  }
}
