/**
 * The HTTP surface as the listener runs it: metrics fed by the telemetry, readiness of
 * Redis and every endpoint, /events where intake runs, the queue board.
 */
import type { Config, HttpConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { SyncQueue } from '../queue/queue.js';
import type { RedisCommands } from '../redis/redis.js';
import type { ObjectStore } from '../store/object-store.js';
import { createBoard } from './board.js';
import { eventsHandler } from './events.js';
import { DaemonMetrics } from './metrics.js';
import { Readiness } from './ready.js';
import { HttpSurface } from './server.js';

/** What the daemon's HTTP surface serves from. */
export interface DaemonHttpOptions {
  readonly config: Config;
  readonly http: HttpConfig;
  readonly logger: Logger;
  readonly redis: RedisCommands;
  /** The queue (counts for /metrics, jobs for /events, the board). */
  readonly queue: SyncQueue;
  /** Serve POST /events (the intake runs here). */
  readonly intake: boolean;
  readonly stores: readonly ObjectStore[];
  /** Labels on every series. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Bytes of the pending jobs, as the lag watch read them last. */
  readonly pendingBytes?: () => number | undefined;
}

/** The daemon's HTTP surface, wired: metrics, readiness, /events, the board. */
export class DaemonHttp {
  private readonly metrics: DaemonMetrics;
  private readonly readiness: Readiness;
  private readonly surface: HttpSurface;

  constructor(o: DaemonHttpOptions) {
    this.metrics = new DaemonMetrics({
      queueCounts: () => o.queue.counts(),
      labels: o.labels,
      destinations: o.config.destinations.map((d) => d.name),
      lagThresholdSeconds: o.config.pubsub.lagThresholdMs / 1000,
      ...(o.pendingBytes ? { pendingBytes: o.pendingBytes } : {}),
    });
    this.readiness = new Readiness({ redis: o.redis, stores: o.stores, queueUnreachable: () => o.queue.unreachable });
    this.surface = new HttpSurface(o.http, {
      logger: o.logger,
      metrics: this.metrics,
      readiness: this.readiness,
      events: o.intake
        ? eventsHandler({ config: o.config, queue: o.queue, logger: o.logger, token: o.http.eventsToken })
        : undefined,
      board: createBoard(o.queue, { basePath: '/queues', adminToken: o.http.adminToken, logger: o.logger }),
    });
  }

  get url(): string {
    return this.surface.url;
  }

  start(): Promise<void> {
    return this.surface.start();
  }

  /** Refuse new events and say "not ready" while the daemon stops. */
  drain(): void {
    this.surface.drain();
  }

  async stop(): Promise<void> {
    await this.surface.stop();
    this.metrics.close();
    this.readiness.close();
  }
}
