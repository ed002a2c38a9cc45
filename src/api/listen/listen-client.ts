/**
 * ListenClient: the listener daemon, in-process. Subscribes to the channel on a connection
 * of its own, journals every key the moment it arrives, copies it to every destination with
 * bounded concurrency, and settles it in Redis (marker + out of the journal, or into the
 * failed list). At start it first finishes whatever the journal holds.
 *
 * Redis writes never hold a copy slot: a write Redis refuses (READONLY, OOM...) waits in
 * the RedisWriter and the copies go on. A bucket that does not exist pauses all copying:
 * the keys stay journalled, the bucket is probed until it is back, then copying resumes.
 *
 * Per-key coalescing: a key that arrives again while it is being copied is not copied twice
 * at once; it runs once more after the running copy ends (the object may have changed).
 * The journal entry stays from the first arrival until the last run settles.
 */
import { BucketClient } from '../bucket-client.js';
import type { SyncResult } from '../sync/sync-key.js';
import type { Config } from '../config.js';
import { Limiter } from '../copy/limiter.js';
import { StoreError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { RetryPolicy } from '../retry.js';
import type { ObjectStore } from '../store/object-store.js';
import { Journal } from './journal.js';
import { KeyQueue } from './key-queue.js';
import { parseMessage } from './message.js';
import { connectRedis, reconnectDelay, subscribe, type RedisCommands, type Subscription } from '../redis/redis.js';
import { printAs } from '../redact.js';
import { logSettled, SettledRows } from '../worker/settle.js';
import { RedisWriter, type RedisWrite, type WriteState } from '../redis/redis-writer.js';

export type SettledOutcome = 'copied' | 'gone' | 'failed';

export interface SettledEvent {
  readonly key: string;
  readonly outcome: SettledOutcome;
  /** The object's size when some destination copied it, else 0. */
  readonly bytes: number;
  /** From the start of this run to the key being settled in Redis. */
  readonly ms: number;
  readonly result?: SyncResult;
}

export interface ListenClientOptions {
  readonly logger?: Logger;
  /** Keys copied at once; default `[pubsub] concurrency`. */
  readonly concurrency?: number;
  /** How long stop() waits for copies in flight; default `[pubsub] shutdown_timeout`. */
  readonly shutdownTimeoutMs?: number;
  readonly verifyMd5?: boolean;
  readonly retry?: RetryPolicy;
  /** Keys held in memory per queue before the rest wait in the journal only; default 10000. */
  readonly maxQueued?: number;
  /** Called once per key run as it is settled. */
  readonly onSettled?: (event: SettledEvent) => void;
  /** A `status` line (counters, queue, memory) this often; default 10 min, 0 for none. */
  readonly statusIntervalMs?: number;
  /** While a bucket is missing, ask whether it is back this often; default 30 s. */
  readonly bucketProbeMs?: number;
  /** Redis writes kept in memory while Redis refuses them; default 100000. */
  readonly maxPendingWrites?: number;
}

export interface ListenStats {
  /** Valid messages received. */
  received: number;
  /** Messages rejected as malformed. */
  rejected: number;
  /** Keys found in the journal at start (or on a rescan). */
  recovered: number;
  copied: number;
  gone: number;
  /** Keys deleted from (or moved to the trash at) the destinations because the source lacks them. */
  deleted: number;
  failed: number;
  /** Bytes of the keys copied (each counted once, however many destinations). */
  bytes: number;
}

interface KeyState {
  /** queued: waiting for a slot; running: copying or settling; held: waiting for a missing bucket. */
  phase: 'journaling' | 'queued' | 'running' | 'held';
  /** Arrived again while running: run once more afterwards. */
  again: boolean;
}

const DEFAULT_MAX_QUEUED = 10_000;
const DEFAULT_BUCKET_PROBE_MS = 30_000;

/** A bucket found missing: copying is paused until it is back. */
interface MissingBucket {
  readonly store: ObjectStore;
  readonly since: number;
}

export class ListenClient {
  readonly stats: ListenStats = { received: 0, rejected: 0, recovered: 0, copied: 0, gone: 0, deleted: 0, failed: 0, bytes: 0 };
  private readonly log: Logger;
  private readonly limiter: Limiter;
  /** Multipart part buffers, shared by every copy, as in a sweep: memory stays bounded. */
  private readonly partSlots: Limiter;
  private readonly maxQueued: number;
  private readonly shutdownTimeoutMs: number;
  private readonly states = new Map<string, KeyState>();
  /** Keys found in the journal: taken before live ones, so the journal is finished first. */
  private readonly recoveryQueue = new KeyQueue();
  private readonly liveQueue = new KeyQueue();
  private readonly running = new Set<Promise<void>>();
  private bucket: BucketClient | undefined;
  /** `[pubsub] report`: one CSV row per settled key and destination. */
  private rows: SettledRows | undefined;
  private redis: RedisCommands | undefined;
  private journal: Journal | undefined;
  private writer: RedisWriter | undefined;
  /** Missing buckets by config section; copying is paused while any is. */
  private readonly missing = new Map<string, MissingBucket>();
  /** Keys whose copy met a missing bucket: run again once it is back. */
  private held: string[] = [];
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly bucketProbeMs: number;
  /** A journal rescan is due once Redis takes writes again (keys overflowed meanwhile). */
  private rescanOnRecovery = false;
  private subscription: Subscription | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private pumping = false;
  private overflowed = false;
  private scanning: Promise<void> | undefined;
  private roomWaiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];
  private started = false;
  private stopping = false;
  private stopPromise: Promise<void> | undefined;
  private resolveStopRequested!: () => void;
  private readonly stopRequested = new Promise<void>((r) => (this.resolveStopRequested = r));
  private resolveStopped!: () => void;
  /** Resolves once stop() has finished: every connection closed. */
  readonly stopped = new Promise<void>((r) => (this.resolveStopped = r));

  constructor(
    readonly config: Config,
    private readonly options: ListenClientOptions = {},
  ) {
    this.log = options.logger ?? silentLogger;
    this.limiter = new Limiter(options.concurrency ?? config.pubsub.concurrency);
    this.partSlots = new Limiter(options.concurrency ?? config.pubsub.concurrency);
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? config.pubsub.shutdownTimeoutMs;
    this.bucketProbeMs = options.bucketProbeMs ?? DEFAULT_BUCKET_PROBE_MS;
  }

  /** True while Redis refuses writes (journal updates wait in memory). */
  get redisDegraded(): boolean {
    return this.writer?.degraded ?? false;
  }

  /** True while copying is paused for a missing bucket. */
  get paused(): boolean {
    return this.missing.size > 0;
  }

  /** Keys waiting for a slot or being copied. */
  get inFlight(): number {
    return this.limiter.inFlight;
  }

  get queued(): number {
    return this.recoveryQueue.length + this.liveQueue.length;
  }

  /** Connect, subscribe, and start on the journal. Resolves once the subscription is confirmed. */
  async start(): Promise<void> {
    if (this.started) throw new Error('ListenClient.start() called twice');
    this.started = true;
    const p = this.config.pubsub;
    this.bucket = new BucketClient(this.config, { logger: this.log });
    this.rows = SettledRows.open(this.config, this.log);
    this.redis = connectRedis(p.redisUrl, { redactedUrl: p.redisUrlRedacted, mode: 'daemon', logger: this.log, name: 's3s3listen', tls: p.redisTls });
    this.journal = new Journal(this.redis, p);
    this.writer = new RedisWriter({
      redis: p.redisUrlRedacted,
      logger: this.log,
      maxPending: this.options.maxPendingWrites,
      onRecovered: () => this.onRedisRecovered(),
      onFlushed: () => this.checkIdle(),
    });
    this.subscription = subscribe(p.redisUrl, {
      redactedUrl: p.redisUrlRedacted,
      tls: p.redisTls,
      mode: 'daemon',
      logger: this.log,
      name: 's3s3listen-sub',
      channel: p.channel,
      onMessage: (payload) => this.onMessage(payload),
    });
    const every = this.options.statusIntervalMs ?? 600_000;
    if (every > 0) {
      this.statusTimer = setInterval(() => this.logStatus(), every);
      this.statusTimer.unref();
    }
    await Promise.race([this.subscription.ready, this.stopRequested]);
    if (this.stopping) return;
    this.scanning = this.scanJournal(true);
  }

  /**
   * Stop taking messages, finish the copies in flight (up to the timeout), close everything.
   * Keys queued but not started stay in the journal for the next start. Safe to call twice.
   */
  stop(timeoutMs: number = this.shutdownTimeoutMs): Promise<void> {
    this.stopPromise ??= this.shutdown(timeoutMs).finally(() => this.resolveStopped());
    this.resolveStopRequested();
    return this.stopPromise;
  }

  /** Resolves when nothing is queued, running, or waiting in an overflowed journal. For tests and benchmarks. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private isIdle(): boolean {
    return this.states.size === 0 && this.queued === 0 && this.limiter.inFlight === 0 && !this.overflowed && this.scanning === undefined && (this.writer?.flushed ?? true);
  }

  private checkIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private logStatus(): void {
    const mem = process.memoryUsage();
    this.log.info('status', {
      ...this.stats,
      inFlight: this.limiter.inFlight,
      queued: this.queued,
      subscribed: this.subscription?.connected ?? false,
      redis: this.redisDegraded ? 'degraded' : 'ok',
      redisPendingWrites: this.writer?.pending ?? 0,
      paused: this.missing.size > 0 ? [...this.missing.keys()] : undefined,
      rssMiB: Math.round(mem.rss / 1048576),
      heapMiB: Math.round(mem.heapUsed / 1048576),
    });
  }

  private onMessage(payload: Buffer): void {
    const parsed = parseMessage(payload);
    if (!parsed.ok) {
      this.stats.rejected++;
      this.log.warn('message skipped', { reason: parsed.reason, bytes: payload.length, preview: preview(payload) });
      return;
    }
    this.stats.received++;
    const key = parsed.key;
    const state = this.states.get(key);
    if (state) {
      if (state.phase === 'running') state.again = true;
      // Refresh the arrival time; the entry itself is already there.
      void this.write({ key, what: 'journal', run: () => this.journal!.received(key) });
      return;
    }
    if (this.stopping) {
      // Too late to copy, not too late to remember: the next start copies it.
      void this.write({ key, what: 'journal', run: () => this.journal!.received(key) });
      return;
    }
    this.states.set(key, { phase: 'journaling', again: false });
    // Copied once journalled, or at once when Redis refuses the entry: it is kept and
    // written later, and the copy must not wait for Redis.
    void this.write({ key, what: 'journal', run: () => this.journal!.received(key) }).then((w) => {
      const s = this.states.get(key);
      if (w === 'refused' || this.stopping) {
        if (s && s.phase === 'journaling') this.states.delete(key);
        this.checkIdle();
        return;
      }
      if (s && s.phase === 'journaling') this.enqueue(key, this.liveQueue);
    });
  }

  private enqueue(key: string, queue: KeyQueue): void {
    const s = this.states.get(key);
    if (queue.length >= this.maxQueued) {
      // The key is journaled: it waits there, and a rescan picks it up once the queues drain.
      if (s && s.phase !== 'running') this.states.delete(key);
      // Its journal entry may still be waiting for Redis: scan again once it is written.
      if (this.redisDegraded) this.rescanOnRecovery = true;
      if (!this.overflowed) this.log.warn('more keys waiting than held in memory; the rest wait in the journal', { held: this.maxQueued, journal: this.config.pubsub.pendingSet });
      this.overflowed = true;
      return;
    }
    if (s) s.phase = 'queued';
    else this.states.set(key, { phase: 'queued', again: false });
    queue.push(key);
    this.pump();
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    void (async () => {
      try {
        while (!this.stopping && !this.paused && this.queued > 0) {
          await this.limiter.acquire();
          if (this.paused) {
            this.limiter.release();
            break;
          }
          const key = this.recoveryQueue.shift() ?? this.liveQueue.shift();
          if (key === undefined || this.stopping) {
            this.limiter.release();
            if (key !== undefined) this.states.delete(key);
            break;
          }
          this.wakeRoom();
          const run = this.run(key)
            .catch((err: unknown) => {
              // A bug: whatever was not settled stays in the journal for the next start.
              this.states.delete(key);
              this.log.error('internal error while handling a key; it stays in the journal', { key, error: err instanceof Error ? err.message : String(err) });
            })
            .finally(() => {
              this.limiter.release();
              this.running.delete(run);
              this.afterRun();
            });
          this.running.add(run);
        }
      } finally {
        this.pumping = false;
      }
      if (!this.stopping && !this.paused && this.queued > 0) this.pump();
      this.afterRun();
    })();
  }

  private afterRun(): void {
    if (!this.stopping && !this.paused && this.overflowed && this.queued === 0 && this.scanning === undefined) {
      this.overflowed = false;
      this.scanning = this.scanJournal(false);
    }
    this.checkIdle();
  }

  private async run(key: string): Promise<void> {
    const state = this.states.get(key) ?? { phase: 'running', again: false };
    state.phase = 'running';
    state.again = false;
    this.states.set(key, state);
    const started = performance.now();
    this.log.debug('copy started', { key });
    let result: SyncResult | undefined;
    let error: string | undefined;
    try {
      // A message is a hint: the source's state decides (copy, or delete where deletes are on).
      result = await this.bucket!.sync(key, { verifyMd5: this.options.verifyMd5, retry: this.options.retry, partSlots: this.partSlots });
    } catch (err) {
      // copyKey reports per destination; anything thrown here is unexpected, and still never drops the key.
      error = err instanceof Error ? err.message : String(err);
    }
    if (state.again) {
      // The object may have changed while we copied it: once more, and settle after that.
      // When stopping, the key stays in the journal and the next start copies it again.
      this.log.debug('copy ended; the key was announced again meanwhile: copying it once more', { key, ms: Math.round(performance.now() - started) });
      if (this.stopping) this.states.delete(key);
      else this.requeue(key);
      return;
    }
    const failed = result ? result.results.filter((r) => r.outcome === 'failed') : [];
    const missing = failed.map((r) => r.error).filter((e): e is StoreError => e instanceof StoreError && e.bucketMissing);
    if (missing.length > 0) {
      // Nothing about the key can be concluded: it stays journalled and runs again once the bucket is back.
      this.holdForBucket(key, state, missing);
      return;
    }
    if (result?.outsidePrefix) this.log.warn('key outside the [source] prefix; skipped', { key, prefix: this.config.source.prefix });
    const goneOutcomes = new Set(['gone', 'deleted', 'trashed']);
    const outcome: SettledOutcome =
      !result || failed.length > 0 ? 'failed' : result.outsidePrefix || result.results.some((r) => goneOutcomes.has(r.outcome)) ? 'gone' : 'copied';
    // The object's size (what each destination that copied it received).
    const bytes = result ? Math.max(0, ...result.results.map((r) => r.bytes)) : 0;
    // Settled in Redis now, or later by the writer while this slot goes to the next key.
    let settled: WriteState;
    if (outcome === 'copied') {
      settled = await this.write({ key, what: 'settle', run: () => this.journal!.copied(key) });
    } else if (outcome === 'gone') {
      settled = await this.write({ key, what: 'settle', run: () => this.journal!.gone(key) });
    } else {
      const reason = error ?? failed.map((r) => `[${r.destination}] ${r.error?.message ?? 'failed'}`).join('; ');
      const entry = { key, reason, at: new Date().toISOString(), destinations: failed.map((r) => r.destination), attempts: 1 };
      settled = await this.write({ key, what: 'settle', run: () => this.journal!.failed(entry) });
    }
    const ms = Math.round(performance.now() - started);
    if (settled !== 'refused') this.report(key, outcome, result, bytes, ms, error);
    if (state.again && !this.stopping) {
      this.requeue(key);
      return;
    }
    this.states.delete(key);
  }

  private report(key: string, outcome: SettledOutcome, result: SyncResult | undefined, bytes: number, ms: number, error: string | undefined): void {
    this.rows?.write(result);
    if (!logSettled(this.log, this.stats, key, outcome, result, bytes, ms)) {
      this.stats.failed++;
      const failed = result ? result.results.filter((r) => r.outcome === 'failed') : [];
      this.log.error('copy failed after retries; key moved to the failed list (run s3s3bucket --retry-failed)', {
        key,
        destinations: failed.map((r) => r.destination),
        error: error ?? failed.map((r) => r.error?.message ?? 'failed').join('; '),
        failedList: this.config.pubsub.failedList,
        ms,
      });
    }
    try {
      this.options.onSettled?.({ key, outcome, bytes, ms, result });
    } catch (err) {
      this.log.error('onSettled threw', { key, error: err instanceof Error ? err.message : String(err) });
    }
  }

  private requeue(key: string): void {
    const s = this.states.get(key);
    if (s) {
      s.phase = 'queued';
      s.again = false;
    }
    this.liveQueue.push(key);
    this.pump();
  }

  /** Walk the journal and queue every key in it, a bounded number in memory at a time. */
  private async scanJournal(atStart: boolean): Promise<void> {
    try {
      let total: number | undefined;
      try {
        total = await this.journal!.pendingCount();
      } catch {
        total = undefined;
      }
      if (atStart && total) this.log.info('finishing the keys left in the journal', { keys: total, journal: this.config.pubsub.pendingSet });
      let cursor = '0';
      do {
        if (this.stopping) return;
        let page: { cursor: string; keys: string[] };
        try {
          page = await this.journal!.scan(cursor);
        } catch (err) {
          if (this.stopping) return;
          this.log.warn('cannot read the journal; retrying', { journal: this.config.pubsub.pendingSet, error: err instanceof Error ? err.message : String(err) });
          await sleep(reconnectDelay(5));
          continue;
        }
        cursor = page.cursor;
        for (const key of page.keys) {
          if (this.stopping) return;
          if (this.states.has(key)) continue;
          this.stats.recovered++;
          await this.room();
          if (this.states.has(key)) continue;
          this.enqueue(key, this.recoveryQueue);
        }
      } while (cursor !== '0');
    } finally {
      this.scanning = undefined;
      this.afterRun();
    }
  }

  /** Wait while the recovery queue is full (backpressure on the journal scan). */
  private async room(): Promise<void> {
    while (!this.stopping && this.recoveryQueue.length >= Math.max(1, Math.floor(this.maxQueued / 2))) {
      await new Promise<void>((r) => this.roomWaiters.push(r));
    }
  }

  private wakeRoom(): void {
    const w = this.roomWaiters;
    this.roomWaiters = [];
    for (const r of w) r();
  }

  /** A Redis write through the writer: applied now, or kept and retried without holding the caller. */
  private write(w: RedisWrite): Promise<WriteState> {
    return this.writer ? this.writer.submit(w) : Promise.resolve('refused');
  }

  private onRedisRecovered(): void {
    if (!this.rescanOnRecovery || this.stopping) return;
    this.rescanOnRecovery = false;
    this.overflowed = true;
    this.afterRun();
  }

  /** A copy met a missing bucket: keep the key, pause copying, probe the bucket until it is back. */
  private holdForBucket(key: string, state: KeyState, errors: readonly StoreError[]): void {
    state.phase = 'held';
    this.held.push(key);
    for (const err of errors) {
      const section = err.section ?? `${err.bucket} at ${err.endpoint}`;
      if (this.missing.has(section)) continue;
      const store = this.storeOf(err);
      if (!store) {
        this.log.error('internal error: a missing bucket of no configured section', { bucket: err.bucket, endpoint: err.endpoint });
        continue;
      }
      this.missing.set(section, { store, since: Date.now() });
      this.log.error(`[${section}] bucket ${store.bucket} at ${store.endpoint} does not exist: copying paused, keys stay in the journal; create the bucket or fix bucket_name in [${section}]`, {
        probeSeconds: Number((this.bucketProbeMs / 1000).toFixed(1)),
        journal: this.config.pubsub.pendingSet,
        error: err.message,
      });
    }
    this.scheduleProbe();
  }

  private storeOf(err: StoreError): ObjectStore | undefined {
    const stores: ObjectStore[] = this.bucket ? [this.bucket.source, ...this.bucket.destinations] : [];
    return stores.find((s) => s.name === err.section) ?? stores.find((s) => s.bucket === err.bucket && s.endpoint === err.endpoint);
  }

  private scheduleProbe(): void {
    if (this.probeTimer || this.stopping || this.missing.size === 0) return;
    this.probeTimer = setTimeout(() => void this.probe(), this.bucketProbeMs);
  }

  private async probe(): Promise<void> {
    for (const [section, m] of this.missing) {
      if (this.stopping) break;
      let back = false;
      try {
        back = await m.store.bucketExists();
      } catch (err) {
        this.log.debug('cannot tell whether the bucket is back; probing again', { section, bucket: m.store.bucket, error: err instanceof Error ? err.message : String(err) });
      }
      if (!back) {
        this.log.debug('bucket still missing; probing again', { section, bucket: m.store.bucket, inSeconds: Number((this.bucketProbeMs / 1000).toFixed(1)) });
        continue;
      }
      this.missing.delete(section);
      this.log.info(`[${section}] bucket ${m.store.bucket} at ${m.store.endpoint} is back: copying resumes`, {
        pausedSeconds: Math.round((Date.now() - m.since) / 1000),
        keys: this.missing.size === 0 ? this.held.length + this.queued : undefined,
      });
    }
    this.probeTimer = undefined;
    if (this.stopping) return;
    if (this.missing.size > 0) {
      this.scheduleProbe();
      return;
    }
    // The held keys first (they were announced first), then whatever queued meanwhile.
    const held = this.held;
    this.held = [];
    for (const key of held) {
      const s = this.states.get(key);
      if (s && s.phase === 'held') this.enqueue(key, this.recoveryQueue);
    }
    this.pump();
    this.afterRun();
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    this.stopping = true;
    if (this.statusTimer) clearInterval(this.statusTimer);
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    this.held = [];
    this.wakeRoom();
    const left = this.recoveryQueue.drain().length + this.liveQueue.drain().length;
    for (const [key, s] of this.states) if (s.phase !== 'running') this.states.delete(key);
    const inFlight = this.running.size;
    this.log.info('stopping: no new messages; finishing the copies in flight', {
      inFlight,
      leftInJournal: left,
      timeoutSeconds: Math.round(timeoutMs / 1000),
    });
    await this.subscription?.close();
    // allSettled: one failed Redis write must not skip the closing below (the journal keeps the key).
    const work = Promise.allSettled([...this.running, this.scanning]).then(() => this.writer?.flush()).then(() => true);
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([work, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)))]);
    clearTimeout(timer);
    if (!finished) {
      this.log.warn('shutdown timeout reached; copies still running are abandoned and stay in the journal for the next start', {
        abandoned: this.running.size,
        journal: this.config.pubsub.pendingSet,
      });
    }
    const lost = this.writer?.close() ?? [];
    if (lost.length > 0) {
      const keys = [...new Set(lost.map((w) => w.key))];
      this.log.error('redis still rejects writes: journal updates of these keys are lost; the copies made are in place, run s3s3bucket once redis takes writes', {
        keys: keys.length,
        first: keys.slice(0, 20),
        redis: this.config.pubsub.redisUrlRedacted,
      });
    }
    await this.redis?.close();
    this.bucket?.close();
    this.rows?.close();
    this.states.clear();
    this.checkIdle();
    this.log.info('stopped', { copied: this.stats.copied, failed: this.stats.failed, gone: this.stats.gone, rejected: this.stats.rejected });
  }
}

function preview(payload: Buffer): string {
  const head = payload.subarray(0, 60).toString('utf8').replace(/[\u0000-\u001f\u007f]/g, '?');
  return payload.length > 60 ? head + '...' : head;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// Printing a listener shows its channel and buckets, never the Redis URL or the store credentials.
printAs(ListenClient, 'ListenClient', (l) => ({ redis: l.config.pubsub.redisUrlRedacted, channel: l.config.pubsub.channel, source: `${l.config.source.endpoint}/${l.config.source.bucket}`, destinations: l.config.destinations.map((d) => `[${d.name}] ${d.endpoint}/${d.bucket}`) }));
