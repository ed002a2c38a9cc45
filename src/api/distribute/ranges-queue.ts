/**
 * The ranges queue of distributed sweeps, `<queue>-ranges`: BullMQ (through queue.ts, built as
 * the key queue is) beside the key queue, so the key queue's counts and metrics stay its own.
 */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { queueName, siblingQueue } from '../queue/queue.js';
import type { RawRedisConnection } from '../redis/redis.js';
import { RunStore, type RangeJobData } from './run-store.js';

/** BullMQ, as queue.ts lends it (this file never imports it: queue.ts is its one importer). */
type Bull = ReturnType<typeof siblingQueue>['bullmq'];
/** A BullMQ queue. */
type BullQueue = InstanceType<Bull['Queue']>;

/** The ranges queue's name for a config: its key queue's name and `-ranges`. */
export function rangesQueueName(config: Config): string {
  return `${queueName(config)}-ranges`;
}

/** Attempts per range job: a job whose worker dies is not an attempt (BullMQ's stalled recovery). */
export const RANGE_ATTEMPTS = 5;

/** The ranges queue, its connection, and the run store on it. */
export class RangesQueue {
  readonly name: string;
  readonly queue: BullQueue;
  readonly runs: RunStore;
  readonly connection: RawRedisConnection;
  readonly bullmq: typeof import('bullmq');
  readonly prefix: string | undefined;
  private readonly close0: () => Promise<void>;

  constructor(config: Config, name: string, logger?: Logger) {
    this.name = rangesQueueName(config);
    const parts = siblingQueue(config, name, logger);
    this.bullmq = parts.bullmq;
    this.connection = parts.connection;
    this.prefix = parts.prefix;
    this.queue = new parts.bullmq.Queue(this.name, {
      connection: parts.connection,
      ...(parts.prefix !== undefined ? { prefix: parts.prefix } : {}),
    });
    this.queue.on('error', () => undefined);
    this.runs = new RunStore(parts.connection, this.queue.qualifiedName);
    this.close0 = () => parts.keyQueue.close();
    for (const key of ['queue', 'connection', 'runs'] as const) Object.defineProperty(this, key, { enumerable: false });
  }

  /** Queues the job of a range (a job of the same run and range already queued or running: nothing). */
  async add(run: string, range: string): Promise<void> {
    await this.queue.add('range', { run, range } satisfies RangeJobData, {
      jobId: `${run}-${range}`,
      attempts: RANGE_ATTEMPTS,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: true,
      removeOnFail: { count: 1000 },
    });
  }

  /** Worker processes taking range jobs now (BullMQ's client list). */
  async workers(): Promise<number> {
    return (await this.queue.getWorkers()).length;
  }

  /** Safe to call twice. */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.queue.close().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    await this.close0();
  }
}
