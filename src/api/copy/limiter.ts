/**
 * A counting semaphore. Producers acquire *before* starting a task, so they wait while
 * the pool is full: that wait is the backpressure that keeps memory flat. `spawn` is the
 * shape every pool of ours takes (a sweep's copies, checks and deletes): wait for a slot,
 * start the task, free the slot when it ends; `drain` waits for every task spawned.
 */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly spawned = new Set<Promise<void>>();

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`limiter size must be a positive integer, got ${size}`);
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

  /**
   * Wait for a slot, then start `task` without waiting for it; the slot is freed when it
   * ends. The task must handle its own errors (a rejection is a bug: it is rethrown by drain()).
   */
  async spawn(task: () => Promise<void>): Promise<void> {
    await this.acquire();
    const p: Promise<void> = task().finally(() => {
      this.release();
      this.spawned.delete(p);
    });
    this.spawned.add(p);
  }

  /** Resolves when every spawned task has ended. */
  async drain(): Promise<void> {
    await Promise.all(this.spawned);
  }

  /** Resolves when every acquired slot has been released. */
  async idle(): Promise<void> {
    while (this.active > 0 || this.waiting.length > 0) await new Promise((r) => setTimeout(r, 5));
  }

  get inFlight(): number {
    return this.active;
  }
}
