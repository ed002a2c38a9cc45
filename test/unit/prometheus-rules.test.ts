/**
 * The Prometheus rules and the Grafana dashboard in extras/ hold together, through Debian's
 * promtool (test/setup.sh installs it; without it these tests fail, never skip):
 * - `promtool check rules` accepts extras/prometheus/s3s3.rules.yml, and `promtool test rules`
 *   passes extras/prometheus/s3s3.rules.test.yml (each alert fires on the series that should
 *   fire it and stays silent on healthy ones; recording rules by value);
 * - the rules shrunk for test/integration/prometheus.test.ts still check, with every window and
 *   every `for:` shrunk;
 * - every panel target's expr of extras/grafana/s3s3.json parses as PromQL (Grafana's variables
 *   replaced by stand-ins);
 * - every metric name the rules and the dashboard use is one s3s3 serves (issue 22's list), and
 *   each of those is used somewhere.
 * Why: a typo in a metric name or a PromQL error shows nowhere until the night the alert should
 * have fired.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/listen.js';
import {
  DASHBOARD_FILE,
  RULES_FILE,
  RULES_TEST_FILE,
  S3S3_METRICS,
  knownSeriesNames,
  metricNames,
  parseRules,
  promtool,
  recordingRulesText,
  s3s3DashboardTargets,
  s3s3Rules,
  shrinkRules,
  substituteVariables,
} from '../helpers/prometheus.js';

const ALERTS = ['S3s3ReplicationLag', 'S3s3Failures', 'S3s3QueueNotDraining', 'S3s3SweepStale', 'S3s3DaemonDown'];

/** promtool with `args`, asserting exit 0 and showing its output otherwise. */
function promtoolOk(args: readonly string[]): string {
  const r = promtool(args);
  assert.equal(r.status, 0, `promtool ${args.join(' ')} exited ${r.status}:\n${r.output}`);
  return r.output;
}

describe('extras/prometheus/s3s3.rules.yml', () => {
  it('passes promtool check rules', () => {
    assert.match(promtoolOk(['check', 'rules', RULES_FILE]), /SUCCESS: \d+ rules found/);
  });

  it('passes its unit tests: promtool test rules s3s3.rules.test.yml', () => {
    assert.match(promtoolOk(['test', 'rules', RULES_TEST_FILE]), /SUCCESS/);
  });

  it('has the five alerts, each with a severity, a summary and a runbook; the tests cover each', () => {
    const rules = s3s3Rules();
    assert.deepEqual(
      rules.filter((r) => r.kind === 'alert').map((r) => r.name),
      ALERTS,
    );
    const tests = readFileSync(RULES_TEST_FILE, 'utf8');
    for (const r of rules.filter((x) => x.kind === 'alert')) {
      assert.match(r.text, /^\s+severity: (critical|warning)$/m, r.name);
      assert.match(r.text, /^\s+summary: /m, r.name);
      assert.match(r.text, /^\s+description: /m, r.name);
      assert.match(r.text, /s3s3 status|s3s3 queue failed|s3s3bucket/, `${r.name}: says what to do`);
      assert.ok(r.for !== undefined && /^\d+[smh]$/.test(r.for), `${r.name}: for is a plain literal`);
      assert.ok(
        (tests.match(new RegExp(`alertname: ${r.name}$`, 'gm')) ?? []).length >= 2,
        `${r.name}: tested firing and silent`,
      );
    }
    for (const r of rules.filter((x) => x.kind === 'record'))
      assert.match(r.name, /^s3s3:[a-z0-9_]+:[a-z0-9_]+$/, `${r.name}: level:metric:operations under s3s3:`);
    assert.ok(rules.filter((r) => r.kind === 'record').length >= 10);
  });

  it('shrinks for the integration test: every window and every for, and still checks', () => {
    const text = readFileSync(RULES_FILE, 'utf8');
    const shrunk = shrinkRules(text, '30s', '0s');
    assert.ok((text.match(/\[\d+[mh]\]/g) ?? []).length >= 10, 'windows to shrink');
    assert.doesNotMatch(shrunk, /\[(?!30s\])\d+[smhdwy]\]/);
    for (const r of parseRules(shrunk)) {
      if (r.kind === 'alert') assert.equal(r.for, '0s', r.name);
    }
    const dir = tempDir('rules-shrunk');
    try {
      writeFileSync(join(dir, 's3s3.rules.yml'), shrunk);
      promtoolOk(['check', 'rules', join(dir, 's3s3.rules.yml')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('extras/grafana/s3s3.json', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as {
    schemaVersion: number;
    templating: { list: Array<{ name: string; type: string; query: unknown; definition?: string }> };
  };

  it('has a Prometheus ${datasource} variable and a destination variable from s3s3_objects_total', () => {
    assert.ok(dashboard.schemaVersion >= 36, `schemaVersion ${dashboard.schemaVersion}`);
    const vars = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    assert.equal(vars.get('datasource')?.type, 'datasource');
    assert.equal(vars.get('datasource')?.query, 'prometheus');
    assert.equal(vars.get('destination')?.definition, 'label_values(s3s3_objects_total, destination)');
    // Every panel, target and variable query goes through the chosen data source.
    const uids: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v !== null && typeof v === 'object')
        for (const [k, x] of Object.entries(v)) {
          if (k === 'datasource' && x !== null && typeof x === 'object' && 'uid' in x) uids.push(String(x.uid));
          walk(x);
        }
    };
    walk(dashboard);
    assert.ok(uids.length >= 20, `${uids.length} datasource references`);
    for (const uid of uids) assert.ok(uid === '${datasource}' || uid === '-- Grafana --', `bound to datasource ${uid}`);
  });

  it('every panel target parses as PromQL (promtool check rules on them as recording rules)', () => {
    const targets = s3s3DashboardTargets();
    assert.ok(targets.length >= 20, `${targets.length} targets`);
    const exprs = targets.map((t) => substituteVariables(t.expr, { interval: '5m', destination: 'dest1|dest2' }));
    for (const e of exprs) assert.doesNotMatch(e, /\$/, e);
    const dir = tempDir('dashboard-exprs');
    let r: ReturnType<typeof promtool>;
    try {
      writeFileSync(join(dir, 'dashboard.rules.yml'), recordingRulesText(exprs));
      r = promtool(['check', 'rules', join(dir, 'dashboard.rules.yml')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const named = r.output.replace(/check:(\d+)/g, (w, i: string) => `${w} (${targets[Number(i)]!.panel})`);
    assert.equal(r.status, 0, `promtool check rules on the dashboard's exprs exited ${r.status}:\n${named}`);
    assert.match(r.output, new RegExp(`SUCCESS: ${targets.length} rules found`));
  });

  it('covers throughput, latency, backlog, failures, threshold misses, the sweep and requests', () => {
    const all = s3s3DashboardTargets()
      .map((t) => t.expr)
      .join('\n');
    for (const name of [
      's3s3_objects_total',
      's3s3_bytes_total',
      's3s3_replication_latency_seconds_bucket',
      's3s3_operations_pending',
      's3s3_bytes_pending',
      's3s3_queue_oldest_waiting_seconds',
      's3s3_operations_failed_total',
      's3s3_missed_threshold_total',
      's3s3_sweep_last_success_timestamp_seconds',
      's3s3_sweep_success',
      's3s3_s3_request_duration_seconds_count',
      's3s3_throttled_total',
    ])
      assert.ok(metricNames(all).includes(name), name);
    assert.match(all, /\$destination/);
    assert.match(all, /\$__rate_interval/);
  });
});

describe('metric names', () => {
  it('the rules and the dashboard use only the metrics s3s3 serves, and each of them somewhere', () => {
    const rules = s3s3Rules();
    const recorded = new Set(rules.filter((r) => r.kind === 'record').map((r) => r.name));
    const used = new Map<string, string>();
    for (const r of rules) for (const n of metricNames(r.expr)) used.set(n, `rule ${r.name}`);
    for (const t of s3s3DashboardTargets())
      for (const n of metricNames(t.expr)) used.set(n, `panel "${t.panel}" ${t.refId}`);
    for (const n of recorded) used.delete(n);
    // The extraction itself: a broken regex must not pass as "nothing unknown".
    assert.deepEqual(metricNames('sum(rate(s3s3_s3_request_duration_seconds_count[5m])) / s3s3:bytes:rate5m'), [
      's3s3_s3_request_duration_seconds_count',
    ]);
    assert.ok(used.size >= 20, `${used.size} names found`);
    const known = knownSeriesNames();
    const unknown = [...used].filter(([n]) => !known.has(n)).map(([n, where]) => `${n} (${where})`);
    assert.deepEqual(unknown, [], 'metric names s3s3 does not serve');
    const base = (n: string) => n.replace(/_(bucket|count|sum)$/, '');
    const unused = Object.keys(S3S3_METRICS).filter((m) => ![...used.keys()].some((n) => n === m || base(n) === m));
    assert.deepEqual(unused, [], 'metrics neither the rules nor the dashboard use');
  });
});
