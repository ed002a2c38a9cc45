/** /readyz: whether Redis and every endpoint answer. */
import type { RedisCommands } from '../redis/redis.js';
import type { ObjectStore } from '../store/object-store.js';
import { telemetry } from '../telemetry.js';

/** What /readyz answers. */
export interface ReadyReport {
  readonly ready: boolean;
  /** One line per part: `redis ok`, `[dest1] ok (answered 3 s ago)`, `[source] no answer: ...`. */
  readonly lines: readonly string[];
}

/** What /readyz checks and how long it waits for each part. */
export interface ReadinessOptions {
  readonly redis: RedisCommands;
  readonly stores: readonly ObjectStore[];
  /** How recent an answer must be; default 60 s. */
  readonly freshMs?: number;
  /** How long a PING or a HeadBucket may take; default 5 s. */
  readonly timeoutMs?: number;
  /**
   * Why the queue takes Redis for unreachable now (its calls time out), or undefined: not ready
   * at once, without a PING.
   */
  readonly queueUnreachable?: () => string | undefined;
}

/**
 * /readyz's checks: Redis (PING, or the queue's own view of it) and every endpoint. Ready
 * when Redis answers PING and every endpoint answered within the last minute. Answers are
 * noted from the store's requests as they happen (any HTTP status counts: the endpoint is
 * there); an idle daemon asks with a HeadBucket instead.
 */
export class Readiness {
  private readonly answered = new Map<string, number>();
  private readonly unsubscribe: () => void;
  private readonly freshMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly o: ReadinessOptions) {
    this.freshMs = o.freshMs ?? 60_000;
    this.timeoutMs = o.timeoutMs ?? 5000;
    this.unsubscribe = telemetry.subscribe({
      request: (s) => {
        if (s.status !== undefined) this.answered.set(s.section, Date.now());
      },
    });
  }

  async check(): Promise<ReadyReport> {
    const [redis, ...stores] = await Promise.all([this.redis(), ...this.o.stores.map((s) => this.store(s))]);
    const all = [redis, ...stores];
    return { ready: all.every((p) => p.ok), lines: all.map((p) => p.line) };
  }

  close(): void {
    this.unsubscribe();
  }

  private async redis(): Promise<{ ok: boolean; line: string }> {
    const down = this.o.queueUnreachable?.();
    if (down !== undefined) return { ok: false, line: `redis not ready: ${down}` };
    try {
      await within(this.o.redis.call('PING'), this.timeoutMs, 'no answer');
      return { ok: true, line: 'redis ok' };
    } catch (err) {
      return { ok: false, line: `redis not ready: ${err instanceof Error ? err.message : String(err)}` };
    }
  }

  private async store(s: ObjectStore): Promise<{ ok: boolean; line: string }> {
    const last = this.answered.get(s.name);
    if (last !== undefined && Date.now() - last <= this.freshMs)
      return { ok: true, line: `[${s.name}] ok (answered ${Math.round((Date.now() - last) / 1000)} s ago)` };
    try {
      const exists = await within(s.bucketExists(), this.timeoutMs, 'no answer');
      if (!exists)
        return { ok: false, line: `[${s.name}] not ready: bucket ${s.bucket} at ${s.endpoint} does not exist` };
      return { ok: true, line: `[${s.name}] ok (answered a HeadBucket now)` };
    } catch (err) {
      return {
        ok: false,
        line: `[${s.name}] not ready: ${s.endpoint}: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
  }
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>(
      (_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms)),
    ),
  ]).finally(() => clearTimeout(timer));
}
