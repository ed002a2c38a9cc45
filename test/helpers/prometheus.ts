/**
 * A real Prometheus (Debian's `prometheus` and `promtool`, installed by test/setup.sh) for the
 * tests of extras/prometheus/s3s3.rules.yml and extras/grafana/s3s3.json: promtool runs, the
 * rules' and the dashboard's PromQL read out of their files, the rules with their windows
 * shrunk to seconds, and a Prometheus server on a free loopback port scraping given targets.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT, tempDir, waitFor } from './listen.js';

export const RULES_FILE = join(ROOT, 'extras/prometheus/s3s3.rules.yml');
export const RULES_TEST_FILE = join(ROOT, 'extras/prometheus/s3s3.rules.test.yml');
export const DASHBOARD_FILE = join(ROOT, 'extras/grafana/s3s3.json');

/**
 * The metrics s3s3 serves (issue 22): the daemon's `/metrics` and the sweep's textfile. The
 * rules and the dashboard may use these and nothing else (histograms with their `_bucket`,
 * `_count` and `_sum`).
 */
export const S3S3_METRICS: Readonly<Record<string, 'counter' | 'gauge' | 'histogram'>> = {
  s3s3_objects_total: 'counter',
  s3s3_bytes_total: 'counter',
  s3s3_s3_request_duration_seconds: 'histogram',
  s3s3_queue_jobs: 'gauge',
  s3s3_queue_oldest_waiting_seconds: 'gauge',
  s3s3_replication_lag_seconds: 'histogram',
  s3s3_redis_reconnects_total: 'counter',
  s3s3_throttled_total: 'counter',
  s3s3_events_total: 'counter',
  s3s3_operations_pending: 'gauge',
  s3s3_bytes_pending: 'gauge',
  s3s3_operations_failed_total: 'counter',
  s3s3_replication_latency_seconds: 'histogram',
  s3s3_lag_threshold_seconds: 'gauge',
  s3s3_replicated_after_threshold_total: 'counter',
  s3s3_missed_threshold_total: 'counter',
  s3s3_sweep_objects: 'gauge',
  s3s3_sweep_bytes: 'gauge',
  s3s3_sweep_listed_objects: 'gauge',
  s3s3_sweep_duration_seconds: 'gauge',
  s3s3_sweep_exit_code: 'gauge',
  s3s3_sweep_success: 'gauge',
  s3s3_sweep_last_run_timestamp_seconds: 'gauge',
  s3s3_sweep_last_success_timestamp_seconds: 'gauge',
};

/** Every series name S3S3_METRICS allows (histograms as their three series). */
export function knownSeriesNames(): Set<string> {
  const names = new Set<string>();
  for (const [name, type] of Object.entries(S3S3_METRICS)) {
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_count', '_sum']) names.add(name + s);
  }
  return names;
}

/** The `s3s3_...` names an expression uses (recording rules are named `s3s3:...` and never match). */
export function metricNames(expr: string): string[] {
  return [...expr.matchAll(/(?<![a-zA-Z0-9_:])s3s3_[a-z0-9_]+/g)].map((m) => m[0]);
}

const MISSING = (tool: string) =>
  `${tool} is not installed: install Debian's prometheus package (bash test/setup.sh does, as root; ` +
  'CI runs it), which ships prometheus and promtool';

/** Runs promtool; its status and its output (stdout and stderr). Throws, naming test/setup.sh, when it is missing. */
export function promtool(args: readonly string[], cwd = ROOT): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(MISSING('promtool'));
    throw r.error;
  }
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** One rule of a rules file: a recording rule (`record`) or an alert, its expression and `for`. */
export interface Rule {
  readonly kind: 'record' | 'alert';
  readonly name: string;
  readonly expr: string;
  readonly for?: string;
  /** The rule's lines as written (labels and annotations included). */
  readonly text: string;
}

/**
 * The rules of a rules file as extras/prometheus/s3s3.rules.yml writes them (no YAML library in
 * the dependencies): `- record: NAME` or `- alert: NAME`, then `expr:` either on its line or as
 * a block scalar (`|`, `>`), and `for:`.
 */
export function parseRules(text: string): Rule[] {
  const lines = text.split('\n');
  const rules: Rule[] = [];
  let current: { kind: 'record' | 'alert'; name: string; expr?: string; for?: string; from: number } | undefined;
  const flush = (end: number) => {
    if (!current) return;
    if (current.expr === undefined) throw new Error(`rule ${current.name} has no expr`);
    rules.push({
      kind: current.kind,
      name: current.name,
      expr: current.expr,
      ...(current.for ? { for: current.for } : {}),
      text: lines.slice(current.from, end).join('\n'),
    });
    current = undefined;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const start = /^\s*-\s+(record|alert):\s*(\S+)\s*$/.exec(line);
    if (start || /^\s*-\s+name:/.test(line)) flush(i);
    if (start) {
      current = { kind: start[1] as 'record' | 'alert', name: start[2]!, from: i };
      continue;
    }
    if (!current) continue;
    const expr = /^(\s*)expr:\s*(.*)$/.exec(line);
    if (expr) {
      const value = expr[2]!.trim();
      if (/^[|>][-+]?$/.test(value)) {
        const indent = expr[1]!.length;
        const block: string[] = [];
        while (i + 1 < lines.length) {
          const next = lines[i + 1]!;
          if (next.trim() !== '' && next.length - next.trimStart().length <= indent) break;
          block.push(next.trim());
          i++;
        }
        current.expr = block.filter((l) => l !== '').join(value.startsWith('|') ? '\n' : ' ');
      } else {
        current.expr = /^["'].*["']$/.test(value) ? value.slice(1, -1) : value;
      }
      continue;
    }
    const forLine = /^\s*for:\s*(\S+)\s*$/.exec(line);
    if (forLine) current.for = forLine[1]!;
  }
  flush(lines.length);
  return rules;
}

/** The rules of extras/prometheus/s3s3.rules.yml. */
export function s3s3Rules(): Rule[] {
  return parseRules(readFileSync(RULES_FILE, 'utf8'));
}

/**
 * The rules text with every range window (`[10m]`, `[1h]`...) made `window` and every `for:`
 * made `forDuration`, so the alerts can fire and resolve within a test.
 */
export function shrinkRules(text: string, window = '30s', forDuration = '0s'): string {
  return text.replace(/\[\d+[smhdwy]\]/g, `[${window}]`).replace(/^([ \t]*for:[ \t]*)\S+[ \t]*$/gm, `$1${forDuration}`);
}

/** extras/prometheus/s3s3.rules.yml shrunk (see shrinkRules) in a temporary file; its path. */
export function shrunkRulesFile(window = '30s', forDuration = '0s'): string {
  const file = join(tempDir('rules'), 's3s3.rules.yml');
  writeFileSync(file, shrinkRules(readFileSync(RULES_FILE, 'utf8'), window, forDuration));
  return file;
}

/** One target of one panel of a Grafana dashboard. */
export interface DashboardTarget {
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
}

interface Panel {
  title?: string;
  targets?: Array<{ refId?: string; expr?: string }>;
  panels?: Panel[];
}

/** Every panel target's `expr` of a dashboard (rows' nested panels too). */
export function dashboardTargets(dashboard: { panels?: Panel[] }): DashboardTarget[] {
  const out: DashboardTarget[] = [];
  const walk = (panels: readonly Panel[] | undefined) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? [])
        if (t.expr !== undefined) out.push({ panel: p.title ?? '(untitled)', refId: t.refId ?? '?', expr: t.expr });
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  return out;
}

/** The targets of extras/grafana/s3s3.json. */
export function s3s3DashboardTargets(): DashboardTarget[] {
  return dashboardTargets(JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { panels?: Panel[] });
}

/** Stand-ins for the dashboard's Grafana variables. */
export interface Variables {
  /** `$__rate_interval` and `$__interval` (default `5m`). */
  readonly interval?: string;
  /** `$destination` (a regex; default `.*`, Grafana's "All"). */
  readonly destination?: string;
}

/** The expression with Grafana's variables replaced; throws on a variable it does not know. */
export function substituteVariables(expr: string, v: Variables = {}): string {
  const interval = v.interval ?? '5m';
  const values: Record<string, string> = {
    __rate_interval: interval,
    __interval: interval,
    __range: interval,
    destination: v.destination ?? '.*',
    datasource: 'prometheus',
  };
  return expr.replace(/\$\{([a-zA-Z_]+)(?::[a-z]+)?\}|\$([a-zA-Z_]+)/g, (whole, braced?: string, bare?: string) => {
    const name = braced ?? bare!;
    const value = values[name];
    if (value === undefined) throw new Error(`unknown Grafana variable ${whole} in ${expr}`);
    return value;
  });
}

/** A rules file holding each expression as a recording rule (`check:N`), for promtool to parse. */
export function recordingRulesText(exprs: readonly string[]): string {
  const rules = exprs.map((e, i) => `      - record: check:${i}\n        expr: ${JSON.stringify(e)}\n`).join('');
  return `groups:\n  - name: check\n    rules:\n${rules}`;
}

/** A loopback port free now (listening on port 0). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r, j) => {
    s.once('error', j);
    s.listen(0, '127.0.0.1', () => r());
  });
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A scrape job: its name and `host:port` targets. */
export interface ScrapeJob {
  readonly job: string;
  readonly targets: readonly string[];
  readonly metricsPath?: string;
}

/** One sample of an instant vector. */
export interface Sample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

/** An active alert, as /api/v1/alerts lists it. */
export interface ActiveAlert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly state: 'pending' | 'firing';
  readonly activeAt: string;
  readonly value: string;
}

/** A rule as /api/v1/rules lists it. */
export interface RuleStatus {
  readonly name: string;
  readonly type: 'recording' | 'alerting';
  readonly health: string;
  readonly lastError?: string;
  readonly state?: 'inactive' | 'pending' | 'firing';
}

/** What a Prometheus server scrapes and evaluates. */
export interface PrometheusOptions {
  readonly jobs: readonly ScrapeJob[];
  readonly ruleFiles?: readonly string[];
  /** Scrape and evaluation interval (default `1s`). */
  readonly interval?: string;
}

/** Debian's `prometheus` on a free loopback port, in a temporary directory. */
export class PrometheusServer {
  readonly lines: string[] = [];
  private readonly exited: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly dir: string,
  ) {
    let buf = '';
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      buf += c;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    child.stdout!.resume();
    this.exited = new Promise((r) => child.once('exit', () => r()));
  }

  /** Start it with a generated config and wait for `/-/ready`. */
  static async start(o: PrometheusOptions): Promise<PrometheusServer> {
    const interval = o.interval ?? '1s';
    const dir = tempDir('prometheus');
    const config = [
      'global:',
      `  scrape_interval: ${interval}`,
      `  scrape_timeout: ${interval}`,
      `  evaluation_interval: ${interval}`,
      // JSON's strings and arrays are YAML too.
      `rule_files: ${JSON.stringify(o.ruleFiles ?? [])}`,
      'scrape_configs:',
      ...o.jobs.flatMap((j) => [
        `  - job_name: ${JSON.stringify(j.job)}`,
        ...(j.metricsPath ? [`    metrics_path: ${JSON.stringify(j.metricsPath)}`] : []),
        '    static_configs:',
        `      - targets: ${JSON.stringify(j.targets)}`,
      ]),
    ].join('\n');
    const file = join(dir, 'prometheus.yml');
    writeFileSync(file, config + '\n');
    const port = await freePort();
    const child = spawn(
      'prometheus',
      [
        `--config.file=${file}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--storage.tsdb.retention.time=1d',
        '--log.level=warn',
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const spawned = await new Promise<Error | undefined>((r) => {
      child.once('spawn', () => r(undefined));
      child.once('error', (err) => r(err));
    });
    if (spawned) {
      rmSync(dir, { recursive: true, force: true });
      if ((spawned as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(MISSING('prometheus'));
      throw spawned;
    }
    const p = new PrometheusServer(child, `http://127.0.0.1:${port}`, dir);
    try {
      await waitFor(
        'prometheus /-/ready',
        async () => {
          if (child.exitCode !== null || child.signalCode !== null)
            throw new Error(`prometheus exited (${child.exitCode ?? child.signalCode}): ${p.lines.join('\n')}`);
          return (await fetch(`${p.url}/-/ready`)).ok;
        },
        30_000,
        200,
      );
    } catch (err) {
      await p.stop();
      throw err;
    }
    return p;
  }

  private async api<T>(path: string): Promise<T> {
    const r = await fetch(`${this.url}${path}`);
    const body = (await r.json()) as { status: string; data?: T; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.errorType ?? ''} ${body.error ?? ''}`);
    return body.data as T;
  }

  /** An instant query's result vector (a scalar or a string answer comes back as one sample). */
  async query(expr: string): Promise<Sample[]> {
    const data = await this.api<{ resultType: string; result: Sample[] | [number, string] }>(
      `/api/v1/query?query=${encodeURIComponent(expr)}`,
    );
    if (data.resultType === 'scalar' || data.resultType === 'string')
      return [{ metric: {}, value: data.result as [number, string] }];
    return data.result as Sample[];
  }

  /** The alerts pending or firing now. */
  async alerts(): Promise<ActiveAlert[]> {
    return (await this.api<{ alerts: ActiveAlert[] }>('/api/v1/alerts')).alerts;
  }

  /** Every rule loaded, with its health and (alerts) state. */
  async rules(): Promise<RuleStatus[]> {
    const data = await this.api<{ groups: Array<{ rules: RuleStatus[] }> }>('/api/v1/rules');
    return data.groups.flatMap((g) => g.rules);
  }

  /** SIGTERM (SIGKILL after 10 s), then its directory removed. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(t);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A scrape target serving whatever `read()` returns as Prometheus's text format, e.g. a
 * node_exporter textfile (Prometheus cannot read a file itself). `hostPort` is its target.
 */
export class TextTarget {
  private constructor(
    private readonly server: HttpServer,
    readonly hostPort: string,
  ) {}

  static async start(read: () => string): Promise<TextTarget> {
    const server = createHttpServer((_req, res) => {
      let text: string;
      try {
        text = read();
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return new TextTarget(server, `127.0.0.1:${(server.address() as { port: number }).port}`);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
