/**
 * What a distributed sweep (`s3s3bucket --distribute`) keeps in Redis: per run, one hash (the
 * bucket pair without secrets, the options, the phase, the counters), one hash entry per live
 * key RANGE (never one per key), a capped list of failures, and the run-wide delete budget.
 * Every key lives under the ranges queue's own BullMQ prefix and name, so on a Redis Cluster
 * (prefix `{s3s3}`) a run's keys share one slot and the scripts below may touch several.
 *
 * Workers only write to a run that exists (each write is a script that checks first), so a worker
 * still busy when its run ends or is cancelled never leaves a key behind.
 *
 * Exactness across a range that runs twice (its worker was killed): a range's counters are
 * added to the run by one script that also removes the range, so only its first finish counts;
 * a run that finds its range gone does nothing. Live progress (`live:*`) is approximate.
 */
import type { Config, EndpointConfig } from '../config.js';
import type { RawRedisConnection } from '../redis/redis.js';
import type { DestinationTotals, Failure, RangeReport } from '../sweep/duplicate.js';

/** The phase of a run: its copy step, its delete step, or its end. */
export type RunPhase = 'copy' | 'delete' | 'done' | 'cancelled';

/** One store of the pair as a run record holds it: where, never how to log in. */
export interface PairStore {
  readonly name: string;
  readonly endpoint: string;
  readonly bucket: string;
  readonly prefix: string;
  /**
   * Swift: the user and project (an account's containers share one auth URL with every other
   * account's), never the key; '' for S3, whose endpoint and bucket name the bucket.
   */
  readonly account?: string;
  /** How this destination deletes: `delete`, `delete_mode`, `trash_prefix` (a worker must delete alike). */
  readonly deletes?: string;
}

/** The bucket pair of a run: what a worker compares with its own config before taking a range. */
export interface RunPair {
  readonly source: PairStore;
  readonly destinations: readonly PairStore[];
}

/** The sweep options a run hands its workers (the scope and copy rules of the command line). */
export interface RunOptions {
  readonly prefix?: string;
  readonly force?: boolean;
  readonly verifyMd5?: boolean;
  readonly checkMetadata?: boolean;
  readonly delete?: boolean;
  readonly minSize?: number;
  readonly maxSize?: number;
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
  readonly concurrency?: number;
  /** A range looks for a split after this many source keys. */
  readonly splitEvery: number;
  /** Workers push one row per result for `--report`. */
  readonly rows?: boolean;
}

/** A live range: its keys `(after, upTo]` (relative to the prefixes), step and state. */
export interface RangeRecord {
  readonly after?: string;
  readonly upTo?: string;
  readonly phase: 'copy' | 'delete';
  readonly state: 'waiting' | 'active';
  /** `host:pid` of the worker running it. */
  readonly worker?: string;
}

/** A range job's payload: which run, which range. The bounds live in the range's record. */
export interface RangeJobData {
  readonly run: string;
  readonly range: string;
}

/** A pair store as the record holds it, from a config section. */
export function pairStore(section: EndpointConfig): PairStore {
  const account =
    section.type === 'swift'
      ? [section.swift.user, section.swift.projectName ?? '', section.swift.projectDomainName ?? ''].join('/')
      : '';
  const deletes =
    `delete=${section.delete ?? '-'} delete_mode=${section.deleteMode} ` + `trash_prefix=${section.trashPrefix ?? '-'}`;
  return {
    name: section.name,
    endpoint: section.endpoint,
    bucket: section.bucket,
    prefix: section.prefix,
    account,
    deletes,
  };
}

/** The bucket pair of a config, without secrets. */
export function runPair(config: Config): RunPair {
  return { source: pairStore(config.source), destinations: config.destinations.map(pairStore) };
}

/**
 * Why a worker with `config` must not run a range of a run over `pair`, or undefined: its
 * source and each destination (by section name) must be the same endpoint, bucket and prefix.
 */
export function pairMismatch(config: Config, pair: RunPair): string | undefined {
  const mine = runPair(config);
  const show = (s: PairStore) =>
    `[${s.name}] ${s.bucket} at ${s.endpoint}${s.prefix ? ` prefix ${s.prefix}` : ''}` +
    `${s.account ? ` as ${s.account}` : ''}`;
  const same = (a: PairStore, b: PairStore) =>
    a.endpoint === b.endpoint && a.bucket === b.bucket && a.prefix === b.prefix && a.account === b.account;
  if (!same(mine.source, pair.source))
    return `the run's source is ${show(pair.source)}, this worker's config has ${show(mine.source)}`;
  for (const d of pair.destinations) {
    const m = mine.destinations.find((x) => x.name === d.name);
    if (!m) return `the run's destination ${show(d)} is not in this worker's config`;
    if (!same(m, d)) return `the run's destination is ${show(d)}, this worker's config has ${show(m)}`;
    if (m.deletes !== d.deletes)
      return `the run's [${d.name}] deletes with ${d.deletes}, this worker's config with ${m.deletes}`;
  }
  if (mine.destinations.length !== pair.destinations.length)
    return "this worker's config has destinations the run does not sweep";
  return undefined;
}

/** Failures a run keeps (`failed` counts all). */
const KEPT_FAILURES = 1000;

/** How long a run's keys outlive its coordinator's last heartbeat. */
export const RUN_TTL_SECONDS = 3600;

/**
 * Removes a finished range and adds its counters to the run: once, however often it runs; -1
 * (nothing done) when the range's end in Redis is not the one the worker swept to (ARGV[2]:
 * '=' .. upTo, or '' for the end of the key space).
 */
const FINISH = `
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if not cur then return 0 end
local rec = cjson.decode(cur)
local have = ''
if type(rec.upTo) == 'string' then have = '=' .. rec.upTo end
if have ~= ARGV[2] then return -1 end
redis.call('HDEL', KEYS[2], ARGV[1])
local n = tonumber(ARGV[3])
for i = 0, n - 1 do
  local f = ARGV[4 + 2 * i]
  local v = ARGV[5 + 2 * i]
  if string.sub(f, 1, 1) == '=' then
    redis.call('HSETNX', KEYS[1], string.sub(f, 2), v)
  else
    redis.call('HINCRBY', KEYS[1], f, v)
  end
end
for i = 4 + 2 * n, #ARGV do redis.call('RPUSH', KEYS[3], ARGV[i]) end
redis.call('LTRIM', KEYS[3], 0, ${KEPT_FAILURES - 1})
redis.call('HINCRBY', KEYS[1], 'ranges_done', 1)
return 1`;

/** Hands the upper part of a live range over: shrinks it, records the new range; its id, or '' when gone. */
const SPLIT = `
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return '' end
local id = ARGV[3] .. redis.call('HINCRBY', KEYS[1], 'next', 1)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2], id, ARGV[4])
redis.call('HINCRBY', KEYS[1], 'ranges_total', 1)
return id`;

/** Takes at most ARGV[2] from the budget field ARGV[1]; what it took. */
const TAKE = `
local left = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local n = math.min(left, tonumber(ARGV[2]))
if n > 0 then redis.call('HINCRBY', KEYS[1], ARGV[1], -n) end
return n`;

/** Adds live counters (field, n pairs) to a run that still exists: a late worker never re-creates a run's key. */
const LIVE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1`;

/** A run's state as the coordinator reads it: its fields, parsed where they are numbers. */
export interface RunState {
  readonly phase: RunPhase | undefined;
  readonly fields: Readonly<Record<string, string>>;
  readonly rangesTotal: number;
  readonly rangesDone: number;
  /** Source keys listed so far (live: a range run twice counts twice here, not in the report). */
  readonly liveListed: number;
  readonly liveCopied: number;
  readonly liveFailed: number;
  /**
   * Time since the coordinator's last heartbeat, by Redis's clock (the run key's remaining
   * life), so a worker's clock that differs from the coordinator's does not matter.
   */
  readonly sinceBeatMs: number;
}

/** The Redis side of distributed runs on one ranges queue: names its keys, runs its scripts. */
export class RunStore {
  constructor(
    private readonly conn: RawRedisConnection,
    /** The ranges queue's key prefix, `<prefix>:<queue>-ranges` (BullMQ's qualified name). */
    private readonly base: string,
  ) {}

  /** The run's hash. */
  runKey(run: string): string {
    return `${this.base}:run:${run}`;
  }

  /** The run's live ranges: range id -> RangeRecord as JSON. */
  rangesKey(run: string): string {
    return `${this.base}:run:${run}:ranges`;
  }

  /** The run's failures (JSON Failure each), capped. */
  failuresKey(run: string): string {
    return `${this.base}:run:${run}:failures`;
  }

  /** The run's result rows for `--report` (JSON each), read and removed by the coordinator. */
  rowsKey(run: string): string {
    return `${this.base}:run:${run}:rows`;
  }

  /** The index of runs in progress on this queue (run id -> started at), for `s3s3 queue`. */
  get indexKey(): string {
    return `${this.base}:runs`;
  }

  private keys(run: string): string[] {
    return [this.runKey(run), this.rangesKey(run), this.failuresKey(run), this.rowsKey(run)];
  }

  /** Records a new run in its copy phase with its first range, the whole key space. */
  async create(run: string, pair: RunPair, options: RunOptions): Promise<string> {
    const first = 'c1';
    const record: RangeRecord = { phase: 'copy', state: 'waiting' };
    await this.conn
      .multi()
      .hset(this.runKey(run), {
        pair: JSON.stringify(pair),
        options: JSON.stringify(options),
        phase: 'copy',
        started: Date.now(),
        beat: Date.now(),
        next: 1,
        ranges_total: 1,
        ranges_done: 0,
      })
      .hset(this.rangesKey(run), first, JSON.stringify(record))
      .hset(this.indexKey, run, Date.now())
      .exec();
    await this.heartbeat(run);
    return first;
  }

  /** The coordinator is alive: the run's keys live on for RUN_TTL_SECONDS more. */
  async heartbeat(run: string): Promise<void> {
    const m = this.conn.multi().hset(this.runKey(run), 'beat', Date.now());
    for (const k of this.keys(run)) m.expire(k, RUN_TTL_SECONDS);
    await m.exec();
  }

  /** Starts the delete phase: the budgets per destination, and its first range. */
  async startDeletes(run: string, budgets: Readonly<Record<string, number>>): Promise<string> {
    const id = `d${await this.conn.hincrby(this.runKey(run), 'next', 1)}`;
    const record: RangeRecord = { phase: 'delete', state: 'waiting' };
    const fields: Record<string, string | number> = {
      phase: 'delete',
      deleteAt: JSON.stringify(Object.keys(budgets)),
    };
    for (const [d, n] of Object.entries(budgets)) fields[`budget:${d}`] = n;
    await this.conn
      .multi()
      .hset(this.runKey(run), fields)
      .hincrby(this.runKey(run), 'ranges_total', 1)
      .hset(this.rangesKey(run), id, JSON.stringify(record))
      .exec();
    return id;
  }

  /** Sets the run's phase (done, cancelled: workers drop its jobs). */
  async setPhase(run: string, phase: RunPhase): Promise<void> {
    await this.conn.hset(this.runKey(run), 'phase', phase);
  }

  /** Removes every key of the run (its end). */
  async remove(run: string): Promise<void> {
    await this.conn
      .multi()
      .del(...this.keys(run))
      .hdel(this.indexKey, run)
      .exec();
  }

  /** The run's fields (empty when it is gone) and its counts. */
  async state(run: string): Promise<RunState> {
    return (await this.snapshot(run)).state;
  }

  private parse(fields: Record<string, string>, pttl: number): RunState {
    const num = (f: string) => Number(fields[f] ?? 0);
    return {
      phase: fields.phase as RunPhase | undefined,
      fields,
      rangesTotal: num('ranges_total'),
      rangesDone: num('ranges_done'),
      liveListed: num('live:listed'),
      liveCopied: num('live:copied'),
      liveFailed: num('live:failed'),
      // -2: no such key (gone); -1: no expiry yet (being created).
      sinceBeatMs: pttl === -2 ? Number.POSITIVE_INFINITY : pttl === -1 ? 0 : RUN_TTL_SECONDS * 1000 - pttl,
    };
  }

  /** The run's live ranges. */
  async ranges(run: string): Promise<Map<string, RangeRecord>> {
    const all = await this.conn.hgetall(this.rangesKey(run));
    return new Map(Object.entries(all).map(([id, json]) => [id, JSON.parse(json) as RangeRecord]));
  }

  /** The run's state and its live ranges read at one instant (a split or a finish is never half seen). */
  async snapshot(run: string): Promise<{ state: RunState; left: number }> {
    const replies = await this.conn
      .multi()
      .hgetall(this.runKey(run))
      .hlen(this.rangesKey(run))
      .pttl(this.runKey(run))
      .exec();
    const failed = replies?.find(([e]) => e !== null);
    if (!replies || failed) throw failed?.[0] ?? new Error('run snapshot: transaction aborted');
    return {
      state: this.parse(replies[0]![1] as Record<string, string>, Number(replies[2]![1])),
      left: Number(replies[1]![1]),
    };
  }

  /** Live ranges left (0: the phase is done). */
  async rangesLeft(run: string): Promise<number> {
    return this.conn.hlen(this.rangesKey(run));
  }

  /** One range's record, or undefined once finished (or never made). */
  async range(run: string, id: string): Promise<RangeRecord | undefined> {
    const json = await this.conn.hget(this.rangesKey(run), id);
    return json === null ? undefined : (JSON.parse(json) as RangeRecord);
  }

  /** Marks a range taken by `worker`, if it is still live. */
  async markActive(run: string, id: string, record: RangeRecord, worker: string): Promise<void> {
    const json = JSON.stringify({ ...record, state: 'active', worker } satisfies RangeRecord);
    await this.conn.eval(
      "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end",
      1,
      this.rangesKey(run),
      id,
      json,
    );
  }

  /**
   * Splits live range `id` at `split`: it becomes `(after, split]`, and a new range
   * `(split, upTo]` is recorded; the new range's id, or undefined when `id` is gone.
   */
  async split(run: string, id: string, self: RangeRecord, split: string): Promise<string | undefined> {
    const lower: RangeRecord = { ...self, upTo: split };
    const upper: RangeRecord = { after: split, upTo: self.upTo, phase: self.phase, state: 'waiting' };
    const got = (await this.conn.eval(
      SPLIT,
      2,
      this.runKey(run),
      this.rangesKey(run),
      id,
      JSON.stringify(lower),
      self.phase === 'copy' ? 'c' : 'd',
      JSON.stringify(upper),
    )) as string;
    return got === '' ? undefined : got;
  }

  /**
   * Adds a finished range's counters to the run and removes the range, if Redis still has it
   * ending at `upTo` (what the worker swept to): 'done'; 'gone' when it was finished already;
   * 'moved' when Redis has another end (nothing done: the range must run again).
   */
  async finish(
    run: string,
    id: string,
    upTo: string | undefined,
    report: RangeReport,
    keepFailures: number,
  ): Promise<'done' | 'gone' | 'moved'> {
    const pairs: string[] = [];
    const add = (field: string, n: number) => {
      if (n !== 0) pairs.push(field, String(Math.round(n)));
    };
    add('n:listed', report.listed);
    for (const [dest, totals] of Object.entries(report.destinations))
      for (const [counter, n] of Object.entries(totals as DestinationTotals)) add(`d:${dest}:${counter}`, n as number);
    for (const [dest, n] of Object.entries(report.inScope)) add(`inScope:${dest}`, n);
    for (const [dest, n] of Object.entries(report.candidates)) add(`cand:${dest}`, n);
    for (const [dest, n] of Object.entries(report.overBudget)) add(`over:${dest}`, n);
    if (report.aborted !== undefined) pairs.push('=aborted', report.aborted);
    const failures = report.failures.slice(0, keepFailures).map((f) => JSON.stringify(f));
    const done = (await this.conn.eval(
      FINISH,
      3,
      this.runKey(run),
      this.rangesKey(run),
      this.failuresKey(run),
      id,
      upTo === undefined ? '' : `=${upTo}`,
      String(pairs.length / 2),
      ...pairs,
      ...failures,
    )) as number;
    return done === 1 ? 'done' : done === -1 ? 'moved' : 'gone';
  }

  /** Takes at most `n` deletes at `destination` from the run's budget; how many it may make. */
  async take(run: string, destination: string, n: number): Promise<number> {
    return (await this.conn.eval(TAKE, 1, this.runKey(run), `budget:${destination}`, String(n))) as number;
  }

  /** Live progress: counters added as they happen (approximate; the report comes from `finish`). */
  async addLive(run: string, counts: Readonly<Record<string, number>>): Promise<void> {
    const args = Object.entries(counts).flatMap(([k, n]) => (n !== 0 ? [`live:${k}`, String(n)] : []));
    if (args.length > 0) await this.conn.eval(LIVE, 1, this.runKey(run), ...args);
  }

  /** The run's kept failures. */
  async failures(run: string): Promise<Failure[]> {
    return (await this.conn.lrange(this.failuresKey(run), 0, -1)).map((j) => JSON.parse(j) as Failure);
  }

  /** Records the first refusal of a worker (its config does not match the run's pair). */
  async refuse(run: string, message: string): Promise<void> {
    await this.conn.eval(
      "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSETNX', KEYS[1], 'refusal', ARGV[1]) end",
      1,
      this.runKey(run),
      message,
    );
  }

  /** Appends result rows for `--report` (at most 1000 a call: Lua's unpack limit); the rows now waiting. */
  async pushRows(run: string, rows: readonly string[]): Promise<number> {
    if (rows.length === 0) return 0;
    if (rows.length > 1000) throw new RangeError(`pushRows: ${rows.length} rows in one call (at most 1000)`);
    return (await this.conn.eval(
      "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end " +
        "local n = redis.call('RPUSH', KEYS[2], unpack(ARGV)) " +
        `redis.call('EXPIRE', KEYS[2], ${RUN_TTL_SECONDS}) return n`,
      2,
      this.runKey(run),
      this.rowsKey(run),
      ...rows,
    )) as number;
  }

  /** Result rows waiting for the coordinator (for the workers' back-pressure). */
  async rowsWaiting(run: string): Promise<number> {
    return await this.conn.llen(this.rowsKey(run));
  }

  /** Takes up to `n` result rows, oldest first. */
  async popRows(run: string, n: number): Promise<string[]> {
    return (await this.conn.lpop(this.rowsKey(run), n)) ?? [];
  }

  /** Runs in progress on this queue (the index), oldest first. */
  async runs(): Promise<string[]> {
    const all = await this.conn.hgetall(this.indexKey);
    return Object.entries(all)
      .sort((a, b) => Number(a[1]) - Number(b[1]))
      .map(([id]) => id);
  }

  /** Drops a run from the index (its keys expired: its coordinator is gone). */
  async forget(run: string): Promise<void> {
    await this.conn.hdel(this.indexKey, run);
  }
}
