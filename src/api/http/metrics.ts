/**
 * Prometheus figures: the only importer of `prom-client`, loaded on first use so a daemon
 * without `[http]` and a sweep without `--metrics-file` never pay its memory.
 * - `DaemonMetrics`: what `/metrics` serves, fed by the telemetry choke points and, at each
 *   scrape, the queue's counts.
 * - `sweepMetricsText`: one sweep's figures in node_exporter's textfile format.
 */
import { accessSync, constants, renameSync, rmSync, writeFileSync } from 'node:fs';
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
        if (s.outcome === 'copied' && s.bytes > 0) bytes.inc({ destination: s.destination }, s.bytes);
      },
      lag: (seconds) => lag.observe(seconds),
      throttled: (section) => throttled.inc({ endpoint: section }),
      redisReconnect: () => reconnects.inc(),
      event: (result) => events.inc({ result }),
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
  new p.Gauge({ name: 's3s3_sweep_last_run_timestamp_seconds', help: 'When the last sweep ended', registers }).set(
    Math.round((o.endedAt ?? Date.now()) / 1000),
  );
  return registry.metrics();
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
  const text = await sweepMetricsText(report, o);
  const tmp = `${resolve(file)}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
