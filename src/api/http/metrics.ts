/**
 * Prometheus figures: the only importer of `prom-client`, loaded on first use so a daemon
 * without `[http]` and a sweep without `--metrics-file` never pay its memory.
 * - `DaemonMetrics`: what `/metrics` serves, fed by the telemetry choke points and, at each
 *   scrape, the queue's counts.
 * - `sweepMetricsText`: one sweep's figures in node_exporter's textfile format.
 */
import { accessSync, constants, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { QueueCounts } from '../queue/queue.js';
import type { DestinationTotals, DuplicateReport } from '../sweep/duplicate.js';
import { telemetry } from '../telemetry.js';

let promClient: typeof import('prom-client') | undefined;
function lib(): typeof import('prom-client') {
  promClient ??= createRequire(import.meta.url)('prom-client') as typeof import('prom-client');
  return promClient;
}

/** The names served, for docs/operations.md and the tests. */
export const METRIC_NAMES = [
  's3s3_objects_total',
  's3s3_bytes_total',
  's3s3_s3_request_duration_seconds',
  's3s3_queue_jobs',
  's3s3_queue_oldest_waiting_seconds',
  's3s3_replication_lag_seconds',
  's3s3_redis_reconnects_total',
  's3s3_throttled_total',
  's3s3_events_total',
  's3s3_operations_pending',
  's3s3_bytes_pending',
  's3s3_operations_failed_total',
  's3s3_replication_latency_seconds',
  's3s3_lag_threshold_seconds',
  's3s3_replicated_after_threshold_total',
  's3s3_missed_threshold_total',
] as const;

function statusClass(status: number | undefined): string {
  return status === undefined ? 'none' : `${Math.floor(status / 100)}xx`;
}

/** What the daemon's /metrics reads besides the telemetry. */
export interface DaemonMetricsOptions {
  /** The queue's counts, read at each scrape; undefined for none. */
  readonly queueCounts?: () => Promise<QueueCounts>;
  /** Labels on every series, e.g. `{ role: 'worker' }`. */
  readonly labels?: Readonly<Record<string, string>>;
  /** How long a scrape waits for the queue's counts before leaving the queue series out; default 5 s. */
  readonly queueTimeoutMs?: number;
  /** The destination sections: their per-destination series start at 0 rather than appear at the first event. */
  readonly destinations?: readonly string[];
  /** `[pubsub] lag_threshold`, served as `s3s3_lag_threshold_seconds`. */
  readonly lagThresholdSeconds?: number;
  /** Bytes of the pending jobs (the lag watch's last read); undefined: not known yet. */
  readonly pendingBytes?: () => number | undefined;
}

/**
 * The series `/metrics` serves: counters and histograms fed by the telemetry, the queue's gauges
 * read at each scrape.
 */
export class DaemonMetrics {
  /** Every series but the queue's (those are read from Redis at each scrape, see `text()`). */
  readonly registry: Registry;
  private readonly unsubscribe: () => void;
  private readonly queueSeries: (() => Promise<string>) | undefined;

  constructor(o: DaemonMetricsOptions = {}) {
    const p = lib();
    this.registry = new p.Registry();
    if (o.labels) this.registry.setDefaultLabels({ ...o.labels });
    p.collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    const objects: Counter = new p.Counter({
      name: 's3s3_objects_total',
      help: 'Keys settled per destination, by outcome (copied, skipped, deleted, trashed, gone, kept, failed)',
      labelNames: ['destination', 'outcome'],
      registers,
    });
    const bytes: Counter = new p.Counter({
      name: 's3s3_bytes_total',
      help: 'Bytes copied per destination',
      labelNames: ['destination'],
      registers,
    });
    const requests: Histogram = new p.Histogram({
      name: 's3s3_s3_request_duration_seconds',
      help: 'S3 requests by endpoint section, operation and status class (to the response headers)',
      labelNames: ['endpoint', 'operation', 'status_class'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    const lag: Histogram = new p.Histogram({
      name: 's3s3_replication_lag_seconds',
      help: 'From a key being queued to its settlement',
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    });
    const reconnects: Counter = new p.Counter({
      name: 's3s3_redis_reconnects_total',
      help: 'Redis connections lost (each is reconnected)',
      registers,
    });
    const throttled: Counter = new p.Counter({
      name: 's3s3_throttled_total',
      help: 'Requests an endpoint throttled (503 SlowDown, 429...): the pacer backs off',
      labelNames: ['endpoint'],
      registers,
    });
    const events: Counter = new p.Counter({
      name: 's3s3_events_total',
      help: 'POST /events answered, by result (accepted, test, subscribe, refused, unavailable)',
      labelNames: ['result'],
      registers,
    });
    // AWS replication's metrics and threshold events, per destination (docs/operations.md names each).
    const failedForGood: Counter = new p.Counter({
      name: 's3s3_operations_failed_total',
      help:
        "Keys whose copy to a destination failed for good (into the queue's failed set): " +
        'AWS OperationsFailedReplication',
      labelNames: ['destination'],
      registers,
    });
    const latency: Histogram = new p.Histogram({
      name: 's3s3_replication_latency_seconds',
      help:
        "From the source write (the event's time, else its Last-Modified, else when queued) until the destination " +
        'has it: AWS ReplicationLatency',
      labelNames: ['destination'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400],
      registers,
    });
    const after: Counter = new p.Counter({
      name: 's3s3_replicated_after_threshold_total',
      help:
        'Keys copied later than [pubsub] lag_threshold after their source write: ' +
        'AWS OperationReplicatedAfterThreshold',
      labelNames: ['destination'],
      registers,
    });
    const missed: Counter = new p.Counter({
      name: 's3s3_missed_threshold_total',
      help: 'Keys still pending past [pubsub] lag_threshold, each counted once: AWS OperationMissedThreshold',
      labelNames: ['destination'],
      registers,
    });
    for (const destination of o.destinations ?? []) {
      failedForGood.inc({ destination }, 0);
      after.inc({ destination }, 0);
      missed.inc({ destination }, 0);
    }
    if (o.lagThresholdSeconds !== undefined)
      new p.Gauge({
        name: 's3s3_lag_threshold_seconds',
        help: '[pubsub] lag_threshold: later replication counts in s3s3_replicated_after_threshold_total',
        registers,
      }).set(o.lagThresholdSeconds);
    if (o.queueCounts) {
      // The queue series live in a registry of their own, added to the page only when the
      // counts were read: while Redis is unreachable /metrics still answers, without them
      // (a gauge with no labels would otherwise print a stale or a made-up 0).
      const queueRegistry = new p.Registry();
      if (o.labels) queueRegistry.setDefaultLabels({ ...o.labels });
      const jobs: Gauge = new p.Gauge({
        name: 's3s3_queue_jobs',
        help: 'Jobs in the queue by state (absent while Redis does not answer)',
        labelNames: ['state'],
        registers: [queueRegistry],
      });
      const oldest: Gauge = new p.Gauge({
        name: 's3s3_queue_oldest_waiting_seconds',
        help: 'Age of the oldest waiting job (absent while Redis does not answer)',
        registers: [queueRegistry],
      });
      const opsPending: Gauge = new p.Gauge({
        name: 's3s3_operations_pending',
        help: 'Jobs waiting, delayed or running, for each destination they write: AWS OperationsPendingReplication',
        labelNames: ['destination'],
        registers: [queueRegistry],
      });
      const bytesPending: Gauge = new p.Gauge({
        name: 's3s3_bytes_pending',
        help: 'Bytes of those jobs where the size is known (the oldest 1,000 read): AWS BytesPendingReplication',
        labelNames: ['destination'],
        registers: [queueRegistry],
      });
      const read = o.queueCounts;
      const timeoutMs = o.queueTimeoutMs ?? 5000;
      this.queueSeries = async () => {
        let timer: NodeJS.Timeout | undefined;
        const c = await Promise.race([
          read().catch(() => undefined),
          new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), timeoutMs))),
        ]);
        clearTimeout(timer);
        if (!c) return '';
        for (const state of ['waiting', 'active', 'delayed', 'failed'] as const) jobs.set({ state }, c[state]);
        oldest.set(c.oldestWaitingSeconds);
        const bytesNow = o.pendingBytes?.();
        for (const destination of o.destinations ?? []) {
          opsPending.set({ destination }, c.waiting + c.active + c.delayed);
          if (bytesNow !== undefined) bytesPending.set({ destination }, bytesNow);
        }
        return queueRegistry.metrics();
      };
    }
    this.unsubscribe = telemetry.subscribe({
      request: (s) =>
        requests.observe(
          { endpoint: s.section, operation: s.operation, status_class: statusClass(s.status) },
          s.seconds,
        ),
      object: (s) => {
        objects.inc({ destination: s.destination, outcome: s.outcome });
        if (s.outcome === 'failed') failedForGood.inc({ destination: s.destination });
        if (s.outcome === 'copied' && s.bytes > 0) bytes.inc({ destination: s.destination }, s.bytes);
      },
      lag: (seconds) => lag.observe(seconds),
      throttled: (section) => throttled.inc({ endpoint: section }),
      redisReconnect: () => reconnects.inc(),
      event: (result) => events.inc({ result }),
      replicated: (s) => latency.observe({ destination: s.destination }, s.seconds),
      threshold: (s) => (s.kind === 'missed' ? missed : after).inc({ destination: s.destination }),
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The page: every series, the queue's only when its counts could be read (within `queueTimeoutMs`). */
  async text(): Promise<string> {
    const [main, queue] = await Promise.all([this.registry.metrics(), this.queueSeries?.() ?? '']);
    return queue ? `${main}${main.endsWith('\n') ? '' : '\n'}${queue}` : main;
  }

  close(): void {
    this.unsubscribe();
  }
}

/** What a sweep's textfile adds to its report: labels, exit status, end time. */
export interface SweepMetricsOptions {
  /** Labels on every series (source and destination buckets are added as `source`). */
  readonly labels?: Readonly<Record<string, string>>;
  /** The run's exit status. */
  readonly exitCode: number;
  /** When the run ended (ms since the epoch). */
  readonly endedAt?: number;
  /**
   * When a sweep last succeeded (ms since the epoch); default: this run's end when it
   * succeeded, else none (writeSweepMetrics carries it over from the previous file).
   */
  readonly lastSuccessAt?: number;
}

/**
 * One sweep's figures in node_exporter's textfile format (gauges: the last run's values),
 * so a cron sweep shows in the same dashboards as the daemon.
 */
export async function sweepMetricsText(report: DuplicateReport, o: SweepMetricsOptions): Promise<string> {
  const p = lib();
  const registry = new p.Registry();
  if (o.labels) registry.setDefaultLabels({ ...o.labels });
  const registers = [registry];
  const objects = new p.Gauge({
    name: 's3s3_sweep_objects',
    help: 'Keys of the last sweep per destination, by outcome',
    labelNames: ['destination', 'outcome'],
    registers,
  });
  const bytes = new p.Gauge({
    name: 's3s3_sweep_bytes',
    help: 'Bytes the last sweep copied per destination',
    labelNames: ['destination'],
    registers,
  });
  const outcomes: ReadonlyArray<[keyof DestinationTotals, string]> = [
    ['copied', 'copied'],
    ['skipped', 'skipped'],
    ['deleted', 'deleted'],
    ['kept', 'kept'],
    ['gone', 'gone'],
    ['failed', 'failed'],
  ];
  for (const [destination, t] of Object.entries(report.destinations)) {
    for (const [field, outcome] of outcomes) objects.set({ destination, outcome }, t[field]);
    bytes.set({ destination }, t.bytes);
  }
  new p.Gauge({ name: 's3s3_sweep_listed_objects', help: 'Source keys the last sweep considered', registers }).set(
    report.listed,
  );
  new p.Gauge({ name: 's3s3_sweep_duration_seconds', help: 'How long the last sweep took', registers }).set(
    Number(report.seconds.toFixed(3)),
  );
  new p.Gauge({
    name: 's3s3_sweep_exit_code',
    help: "The last sweep's exit status (0 ok, 1 failures or a refused guard, 2 usage)",
    registers,
  }).set(o.exitCode);
  new p.Gauge({ name: 's3s3_sweep_success', help: '1 when the last sweep finished without a failure', registers }).set(
    o.exitCode === 0 ? 1 : 0,
  );
  const endedAt = o.endedAt ?? Date.now();
  new p.Gauge({ name: 's3s3_sweep_last_run_timestamp_seconds', help: 'When the last sweep ended', registers }).set(
    Math.round(endedAt / 1000),
  );
  const lastSuccess = o.lastSuccessAt ?? (o.exitCode === 0 ? endedAt : undefined);
  if (lastSuccess !== undefined)
    new p.Gauge({
      name: 's3s3_sweep_last_success_timestamp_seconds',
      help: 'When a sweep last ended with exit status 0 (kept from the previous file while runs fail)',
      registers,
    }).set(Math.round(lastSuccess / 1000));
  return registry.metrics();
}

/** `s3s3_sweep_last_success_timestamp_seconds` of the file there now (ms), if it holds one. */
function previousSuccess(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^s3s3_sweep_last_success_timestamp_seconds(?:\{[^}]*\})? (\d+(?:\.\d+)?)$/m.exec(text);
  return m ? Number(m[1]) * 1000 : undefined;
}

/** Throws with what to do when `file`'s directory cannot take it (checked before a sweep starts). */
export function checkMetricsFile(file: string): void {
  const dir = dirname(resolve(file));
  try {
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new Error(
      `cannot write in ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)}): ` +
        "give a file in node_exporter's --collector.textfile.directory that this user may write",
    );
  }
}

/**
 * Write the sweep's figures to `file` atomically (a temporary file renamed over it), so
 * node_exporter never reads half a file. The name should end in `.prom`.
 */
export async function writeSweepMetrics(file: string, report: DuplicateReport, o: SweepMetricsOptions): Promise<void> {
  // A failed run keeps the last success from the file it replaces: "no good sweep in 26 h" stays visible.
  const lastSuccessAt = o.exitCode === 0 || o.lastSuccessAt !== undefined ? o.lastSuccessAt : previousSuccess(file);
  const text = await sweepMetricsText(report, lastSuccessAt !== undefined ? { ...o, lastSuccessAt } : o);
  const tmp = `${resolve(file)}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
