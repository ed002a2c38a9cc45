/**
 * A token bucket whose rate may change while it runs (a `bwlimit` timetable): takers are served
 * in turn; each waits until the bucket holds what it takes (at most its capacity, so a take
 * larger than the bucket goes into debt that the next takers wait out). Waits are cut into
 * slices of at most 200 ms and the rate read again after each, so a new rate applies within a
 * second. Leaf module.
 */

/** Longest single sleep: a change of rate is seen at most this late. */
const SLICE_MS = 200;

/** A rate limiter for requests (`tps_limit`) or bytes (`bwlimit`). */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();
  private tail: Promise<void> | undefined;

  /**
   * @param rateNow units per second now (Infinity: no limit), read at every take.
   * @param capacityOf the most the bucket holds at a rate: the burst allowed after a quiet spell.
   */
  constructor(
    private readonly rateNow: () => number,
    private readonly capacityOf: (rate: number) => number,
  ) {
    this.tokens = capacityOf(rateNow());
  }

  /** Waits until `n` units may go; undefined (nothing to wait for) when unlimited and nobody waits. */
  take(n: number): Promise<void> | undefined {
    if (this.tail === undefined && this.rateNow() === Infinity) return undefined;
    const turn = (this.tail ?? Promise.resolve()).then(() => this.wait(n));
    this.tail = turn;
    void turn.then(() => {
      if (this.tail === turn) this.tail = undefined;
    });
    return turn;
  }

  private refill(rate: number): number {
    const now = performance.now();
    const capacity = this.capacityOf(rate);
    this.tokens = Math.min(capacity, this.tokens + ((now - this.last) / 1000) * rate);
    this.last = now;
    return capacity;
  }

  private async wait(n: number): Promise<void> {
    for (;;) {
      const rate = this.rateNow();
      if (rate === Infinity) {
        this.tokens = 0;
        this.last = performance.now();
        return;
      }
      const need = Math.min(n, this.refill(rate));
      if (this.tokens >= need) {
        this.tokens -= n;
        return;
      }
      const ms = ((need - this.tokens) / rate) * 1000;
      await new Promise((r) => setTimeout(r, Math.max(1, Math.min(SLICE_MS, Math.ceil(ms)))));
    }
  }
}
