/**
 * `[pubsub] lag_threshold` (AWS replication's 15-minute threshold) as the listener watches it:
 * a copy that reached a destination later than the threshold after its source write counts as
 * replicated after the threshold (in the process that copied it); a key still queued or running
 * past the threshold counts as missed, once across every process (a claim in Redis), found by a
 * periodic read of the pending jobs, which also gives the bytes pending. Each crossing goes to
 * the telemetry (the metrics count it) and, with `[notify] lag_events`, to the webhook.
 */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { LagEvents } from '../notify/lag-events.js';
import { QUEUE_ANSWER_MS, SyncQueue } from '../queue/queue.js';
import { telemetry } from '../telemetry.js';

/** Pending jobs read per scan, oldest first (ids, then jobs 100 at a time); past it bytes pending are a lower bound. */
export const LAG_SCAN_JOBS = 1000;
/** Job ids remembered as claimed, so a scan does not ask Redis again for each. */
const CLAIMED_KEPT = 100_000;

/** How a LagWatch runs. */
export interface LagWatchOptions {
  readonly logger: Logger;
  /** The queue to read; one of its own otherwise (closed with it). */
  readonly queue?: SyncQueue;
}

/** The lag watch of one listener process. */
export class LagWatch {
  /** Bytes of the pending jobs whose size is known, as of the last scan; undefined before the first. */
  pendingBytes: number | undefined;
  private readonly thresholdMs: number;
  private readonly queue: SyncQueue;
  private readonly ownQueue: boolean;
  private readonly events: LagEvents | undefined;
  private readonly claimed = new Set<string>();
  private readonly unsubscribe: () => void;
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(
    private readonly config: Config,
    o: LagWatchOptions,
  ) {
    this.log = o.logger;
    this.thresholdMs = config.pubsub.lagThresholdMs;
    this.ownQueue = o.queue === undefined;
    // Bounded calls: a scan never holds a shutdown while Redis does not answer.
    this.queue =
      o.queue ?? new SyncQueue(config, { logger: o.logger, name: 's3s3listen-lag', answerWithinMs: QUEUE_ANSWER_MS });
    const notify = config.notify;
    this.events = notify?.lagEvents && notify.webhookUrl !== undefined ? new LagEvents(notify, o.logger) : undefined;
    this.unsubscribe = telemetry.subscribe({
      replicated: (s) => {
        if (s.seconds * 1000 > this.thresholdMs) telemetry.threshold({ kind: 'after', ...s });
      },
      threshold: (s) => this.events?.add(s),
    });
  }

  /** How often the pending jobs are read: a quarter of the threshold, between 1 s and 30 s. */
  get scanEveryMs(): number {
    return Math.min(30_000, Math.max(1000, Math.round(this.thresholdMs / 4)));
  }

  start(): void {
    const tick = () => {
      this.scanning = this.scan()
        .catch((err: unknown) =>
          this.log.debug('cannot read the pending jobs for the lag threshold now', {
            error: err instanceof Error ? err.message : String(err),
          }),
        )
        .finally(() => {
          this.scanning = undefined;
          if (this.timer !== undefined) this.timer = setTimeout(tick, this.scanEveryMs).unref();
        });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  /** One read of the pending jobs: the bytes pending, and the keys past the threshold claimed and counted. */
  async scan(): Promise<void> {
    const jobs = await this.queue.pendingJobs(LAG_SCAN_JOBS);
    this.pendingBytes = jobs.reduce((sum, j) => sum + (j.size ?? 0), 0);
    const now = Date.now();
    // Claimed long enough for the key to leave the queue; a key pending longer counts again then.
    const ttlSeconds = Math.max(86_400, Math.ceil((4 * this.thresholdMs) / 1000));
    for (const j of jobs) {
      const ageMs = now - j.since;
      if (ageMs <= this.thresholdMs || this.claimed.has(j.id)) continue;
      if (!(await this.queue.claimMissed(j, ttlSeconds))) {
        this.remember(j.id);
        continue;
      }
      this.remember(j.id);
      for (const d of this.config.destinations)
        telemetry.threshold({ kind: 'missed', destination: d.name, key: j.key, seconds: ageMs / 1000 });
    }
  }

  private remember(id: string): void {
    if (this.claimed.size >= CLAIMED_KEPT) this.claimed.clear();
    this.claimed.add(id);
  }

  /** Stops scanning, posts the events left (at most 5 s), closes its own queue. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    // A scan waiting on Redis is left behind (its calls are bounded): one SIGTERM is enough.
    let t: NodeJS.Timeout | undefined;
    await Promise.race([this.scanning, new Promise((r) => (t = setTimeout(r, 2000)))]);
    clearTimeout(t);
    this.unsubscribe();
    await this.events?.close();
    if (this.ownQueue) await this.queue.close();
  }
}
