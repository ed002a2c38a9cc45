/**
 * `[notify] lag_events`: the listener's lag-threshold events (AWS's `OperationMissedThreshold`
 * and `OperationReplicatedAfterThreshold`) POSTed to `webhook_url` as
 * `{"host": ..., "events": [{eventName, key, destination, seconds, time}]}`, batched: the first
 * event of a batch waits `batchMs` for others, and posts are at least `everyMs` apart. A post
 * that fails keeps its events for the next (up to MAX_KEPT, oldest dropped first, with a count).
 */
import { hostname } from 'node:os';
import type { NotifyConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { ThresholdSample } from '../telemetry.js';
import { postWebhook } from './webhook.js';

/** The most events kept while the webhook fails. */
const MAX_KEPT = 10_000;

/** One event as posted. */
export interface LagEvent {
  readonly eventName: 'OperationMissedThreshold' | 'OperationReplicatedAfterThreshold';
  readonly key: string;
  readonly destination: string;
  readonly seconds: number;
  /** When it was seen (ISO 8601). */
  readonly time: string;
}

/** How often LagEvents posts. */
export interface LagEventsOptions {
  /** Posts at least this far apart (default 60 s). */
  readonly everyMs?: number;
  /** How long the first event of a batch waits for others (default 10 s). */
  readonly batchMs?: number;
}

/** The batcher of lag events to the webhook. */
export class LagEvents {
  private pending: LagEvent[] = [];
  private firstAt = 0;
  private lastPost = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private posting: Promise<void> | undefined;
  private dropped = 0;
  private failing = false;
  private closed = false;
  private readonly everyMs: number;
  private readonly batchMs: number;
  private readonly host = hostname();

  constructor(
    private readonly notify: NotifyConfig,
    private readonly log: Logger,
    o: LagEventsOptions = {},
  ) {
    this.everyMs = o.everyMs ?? 60_000;
    this.batchMs = o.batchMs ?? 10_000;
  }

  /** One threshold crossing. */
  add(s: ThresholdSample): void {
    if (this.pending.length === 0) this.firstAt = Date.now();
    this.pending.push({
      eventName: s.kind === 'missed' ? 'OperationMissedThreshold' : 'OperationReplicatedAfterThreshold',
      key: s.key,
      destination: s.destination,
      seconds: Math.round(s.seconds),
      time: new Date().toISOString(),
    });
    if (this.pending.length > MAX_KEPT) {
      this.dropped += this.pending.length - MAX_KEPT;
      this.pending.splice(0, this.pending.length - MAX_KEPT);
    }
    this.arm();
  }

  private arm(): void {
    if (this.closed || this.timer || this.posting || this.pending.length === 0) return;
    const at = Math.max(this.lastPost + this.everyMs, this.firstAt + this.batchMs);
    this.timer = setTimeout(() => void this.flush(), Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  /** Posts what is pending now (also what close() does). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.posting || this.pending.length === 0) return this.posting ?? Promise.resolve();
    const events = this.pending;
    this.pending = [];
    this.lastPost = Date.now();
    const dropped = this.dropped;
    this.dropped = 0;
    this.posting = postWebhook(this.notify, { host: this.host, events, ...(dropped > 0 ? { dropped } : {}) })
      .then(() => {
        if (this.failing) this.log.info('lag events posted again', { webhook: this.notify.webhookUrlRedacted });
        this.failing = false;
      })
      .catch((err: unknown) => {
        if (!this.failing)
          this.log.warn('cannot post lag events; kept for the next post (a minute from now)', {
            webhook: this.notify.webhookUrlRedacted,
            error: err instanceof Error ? err.message : String(err),
          });
        this.failing = true;
        this.pending = [...events, ...this.pending];
        this.dropped += dropped;
        this.firstAt = Date.now();
      })
      .finally(() => {
        this.posting = undefined;
        this.arm();
      });
    return this.posting;
  }

  /** Posts what is left, waiting at most `timeoutMs`. */
  async close(timeoutMs = 5000): Promise<void> {
    let t: NodeJS.Timeout | undefined;
    const last = this.flush();
    // Nothing is posted after close, not even what a failing last post kept.
    this.closed = true;
    await Promise.race([last, new Promise((r) => (t = setTimeout(r, timeoutMs)))]);
    clearTimeout(t);
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
