/**
 * A counting semaphore. Producers acquire *before* starting a task, so they wait while
 * the pool is full: that wait is the backpressure that keeps memory flat.
 */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`limiter size must be a positive integer, got ${size}`);
  }

  async acquire(): Promise<void> {
    if (this.active < this.size) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  /** Resolves when every acquired slot has been released. */
  async idle(): Promise<void> {
    while (this.active > 0 || this.waiting.length > 0) await new Promise((r) => setTimeout(r, 5));
  }

  get inFlight(): number {
    return this.active;
  }
}
