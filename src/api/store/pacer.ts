/**
 * Per-endpoint adaptive concurrency (rclone's pacer, the AWS SDK's adaptive retry mode):
 * every request to an endpoint takes a slot; when the endpoint throttles (503 SlowDown,
 * 429) the number of slots is halved, and it grows by one again after each round of
 * successes (additive increase, multiplicative decrease). A `Retry-After` pauses every
 * request to the endpoint, not only the one that got it. A `tps_limit` bucket, when set, spaces
 * the requests out as well: the lower of the two wins.
 */
import type { TokenBucket } from '../limits/token-bucket.js';
import { MAX_RETRY_AFTER_MS } from '../retry.js';

/** How a Pacer starts and whom it tells when it changes its limit. */
export interface PacerOptions {
  /** The configured concurrency: the pacer never goes above it. */
  readonly max: number;
  /** Told of a change of limit, at most once per `logEveryMs`. */
  readonly onChange?: (limit: number, change: 'lowered' | 'raised', retryAfterMs?: number) => void;
  readonly logEveryMs?: number;
  /** `tps_limit`: every request also waits its turn here, slotted or not. */
  readonly rate?: TokenBucket;
}

/** What a failed call tells the pacer: throttled (optionally with Retry-After), or not. */
export interface PaceSignal {
  readonly throttled: boolean;
  readonly retryAfterMs?: number;
}

let nextId = 0;

/** An endpoint's adaptive concurrency: fewer requests at once while the server throttles, more again after. */
export class Pacer {
  /** Slots of several pacers are always taken in id order, so two copies never wait on each other. */
  readonly id = nextId++;
  private limitNow: number;
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private successes = 0;
  private pauseUntil = 0;
  private lastDecrease = 0;
  private lastLog = -Infinity;
  private pendingLog = false;
  private readonly max: number;

  constructor(private readonly options: PacerOptions) {
    this.max = Math.max(1, options.max);
    this.limitNow = this.max;
  }

  get limit(): number {
    return this.limitNow;
  }

  /**
   * Run one request. `slotted` false: the caller already holds a slot for it (an upload whose
   * slot the copy took before the body started to flow), so only the pause and the
   * throttling signals apply.
   */
  async run<T>(fn: () => Promise<T>, signalOf: (err: unknown) => PaceSignal, slotted = true): Promise<T> {
    if (slotted) await this.acquire();
    else await this.paused();
    try {
      const turn = this.options.rate?.take(1);
      if (turn) await turn;
      const out = await fn();
      this.succeeded();
      return out;
    } catch (err) {
      const s = signalOf(err);
      if (s.throttled) this.throttled(s.retryAfterMs);
      throw err;
    } finally {
      if (slotted) this.release();
    }
  }

  /** Waits out a `Retry-After` pause. */
  async paused(): Promise<void> {
    for (let wait = this.pauseUntil - Date.now(); wait > 0; wait = this.pauseUntil - Date.now())
      await new Promise((r) => setTimeout(r, wait));
  }

  /** Take one slot (release it with release()); see `acquireInOrder` for several. */
  async acquire(): Promise<void> {
    for (;;) {
      const wait = this.pauseUntil - Date.now();
      if (wait > 0) {
        await new Promise((r) => setTimeout(r, wait));
        continue;
      }
      if (this.active < this.limitNow) {
        this.active++;
        return;
      }
      await new Promise<void>((r) => this.waiting.push(r));
    }
  }

  release(): void {
    this.active--;
    this.wake();
  }

  /** Each woken waiter re-checks the limit and the pause in acquire(). */
  private wake(): void {
    let room = this.limitNow - this.active;
    while (room-- > 0 && this.waiting.length > 0) this.waiting.shift()!();
  }

  private succeeded(): void {
    if (this.limitNow >= this.max) return;
    // One more slot after a full round of successes at the current limit.
    if (++this.successes >= this.limitNow) {
      this.successes = 0;
      this.limitNow++;
      this.changed('raised');
      this.wake();
    }
  }

  private throttled(retryAfterMs: number | undefined): void {
    const now = Date.now();
    if (retryAfterMs !== undefined && retryAfterMs > 0)
      this.pauseUntil = Math.max(this.pauseUntil, now + Math.min(MAX_RETRY_AFTER_MS, retryAfterMs));
    this.successes = 0;
    // Requests already in flight when the storm began all fail together: one halving for them.
    if (now - this.lastDecrease < 1000) return;
    this.lastDecrease = now;
    const next = Math.max(1, Math.floor(this.limitNow / 2));
    if (next !== this.limitNow || retryAfterMs !== undefined) {
      this.limitNow = next;
      this.changed('lowered', retryAfterMs);
    }
  }

  private changed(change: 'lowered' | 'raised', retryAfterMs?: number): void {
    const every = this.options.logEveryMs ?? 10_000;
    const now = Date.now();
    if (now - this.lastLog < every) {
      // Coalesced: the next log after the quiet period says where the limit stands then.
      if (!this.pendingLog) {
        this.pendingLog = true;
        setTimeout(
          () => {
            this.pendingLog = false;
            this.lastLog = Date.now();
            this.options.onChange?.(this.limitNow, this.limitNow < this.max ? 'lowered' : 'raised');
          },
          every - (now - this.lastLog),
        ).unref();
      }
      return;
    }
    this.lastLog = now;
    this.options.onChange?.(this.limitNow, change, retryAfterMs);
  }
}

/** Take one slot of each pacer, in id order (no two callers can then wait on each other); returns the releases. */
export async function acquireInOrder(pacers: readonly Pacer[]): Promise<Map<Pacer, () => void>> {
  const releases = new Map<Pacer, () => void>();
  for (const p of [...new Set(pacers)].sort((a, b) => a.id - b.id)) {
    await p.acquire();
    let done = false;
    releases.set(p, () => {
      if (done) return;
      done = true;
      p.release();
    });
  }
  return releases;
}
