/**
 * DEPENDS ON ISSUE 22's METRICS: s3s3_operations_pending, s3s3_bytes_pending,
 * s3s3_operations_failed_total, s3s3_replication_latency_seconds, s3s3_lag_threshold_seconds,
 * s3s3_replicated_after_threshold_total, s3s3_missed_threshold_total (the daemon),
 * s3s3_sweep_last_success_timestamp_seconds (the sweep's textfile) and `[pubsub] lag_threshold`;
 * without them (an older build in dist/) it fails, naming the exprs without data.
 *
 * extras/prometheus/s3s3.rules.yml and extras/grafana/s3s3.json against a real Prometheus
 * (Debian's, test/setup.sh) scraping a real s3s3listen (job `s3s3`, its `[http]` /metrics) and
 * a real sweep's `--metrics-file` (job `s3s3-sweep`, served over HTTP by the test: Prometheus
 * reads no files; node_exporter's textfile collector does that in production), with the rules'
 * windows shrunk to 20 s and every `for:` to 0 s:
 * - every dashboard target and every recording rule returns a non-empty result, once there was
 *   traffic: a burst of keys, one key whose copy fails for good (its writes answered 400 by a
 *   fault proxy, so its job reaches the failed set within seconds), one write throttled
 *   (503 SlowDown), one POST /events refused;
 * - the destination taken down (the TCP proxy in front of it stopped) while keys are published:
 *   S3s3ReplicationLag fires once they are pending past `[pubsub] lag_threshold = 5s`; brought
 *   back, the keys land and the alert resolves (no key misses any more).
 * Source on Ceph RGW, the destination on Swift s3api behind TcpProxy -> FaultProxy.
 */
import { rmSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { publish } from '../../src/api/listen/publish.js';
import { isWrite, FaultProxy, slowDown } from '../helpers/fault-proxy.js';
import { closedPort, Daemon, everywhere, runScript, setup, tempDir, TcpProxy, waitFor } from '../helpers/listen.js';
import {
  PrometheusServer,
  TextTarget,
  parseRules,
  s3s3DashboardTargets,
  shrunkRulesFile,
  substituteVariables,
} from '../helpers/prometheus.js';
import { redisUrl, testServers } from '../helpers/servers.js';

const servers = testServers();
const ceph = servers.find((s) => s.name === 'ceph') ?? servers[0]!;
const swift = servers.find((s) => s.name === 'swift') ?? servers[servers.length - 1]!;
/** The shrunk rules' windows, and `$__rate_interval`: 20 scrapes at 1 s. */
const WINDOW = '20s';

/** The S3s3ReplicationLag alerts active now for dest1, pending or firing. */
async function lagAlerts(p: PrometheusServer): Promise<string[]> {
  return (await p.alerts())
    .filter((a) => a.labels.alertname === 'S3s3ReplicationLag' && a.labels.destination === 'dest1')
    .map((a) => a.state);
}

describe('Prometheus rules and Grafana dashboard against s3s3listen and a sweep (issue 22 metrics)', () => {
  it(
    'every dashboard target and recording rule has data; S3s3ReplicationLag fires while the destination is ' +
      'down and resolves once it is back',
    { timeout: 240_000 },
    async () => {
      const fault = new FaultProxy(swift.endpoint);
      const proxy = new TcpProxy(await fault.start());
      await proxy.start();
      const port = await closedPort();
      const s = await setup({
        source: ceph,
        dests: [{ server: swift, endpoint: proxy.endpoint }],
        redisUrl: redisUrl(),
        label: 'prometheus',
        pubsub: { lag_threshold: '5s' },
        http: { port },
        // One try outlasts the outage: the late keys stay pending (not failed) while the destination is down.
        destExtra: { max_retries: 20, connect_timeout: 1 },
      });
      const textfile = join(tempDir('textfile'), 's3s3.prom');
      const sweepTarget = await TextTarget.start(() => readFileSync(textfile, 'utf8'));
      const rules = shrunkRulesFile(WINDOW, '0s');
      let d: Daemon | undefined;
      let p: PrometheusServer | undefined;
      try {
        // Prometheus first: its discovery takes ~5 s before the first scrape; the targets come up meanwhile.
        p = await PrometheusServer.start({
          jobs: [
            { job: 's3s3', targets: [`127.0.0.1:${port}`] },
            { job: 's3s3-sweep', targets: [sweepTarget.hostPort] },
          ],
          ruleFiles: [rules],
        });
        const prom = p;

        for (const k of ['swept/a', 'swept/b']) await s.source.put(k, Buffer.from(k), { contentLength: k.length });
        const sweep = await runScript('bucket', ['--config', s.file, '--metrics-file', textfile]);
        assert.equal(sweep.code, 0, sweep.stderr);
        assert.match(readFileSync(textfile, 'utf8'), /^s3s3_sweep_last_success_timestamp_seconds\{/m);

        d = Daemon.start(s.file);
        await d.waitForLine(/ listening /);
        await waitFor('both targets scraped', async () => (await prom.query('up == 1')).length === 2, 30_000, 250);
        const threshold = await waitFor('s3s3_lag_threshold_seconds', async () => {
          const r = await prom.query('s3s3_lag_threshold_seconds');
          return r.length ? r : undefined;
        });
        assert.equal(threshold[0]!.value[1], '5');

        // Traffic: a burst, one key that fails for good, one throttled write, one refused event.
        const bucket = s.config.destinations[0]!.bucket;
        fault.inject(isWrite(bucket, 'fail/one'), { kind: 'status', status: 400, code: 'InvalidArgument' }, 1000);
        fault.inject(isWrite(bucket, 'burst/0'), slowDown(), 1);
        const burst = Array.from({ length: 20 }, (_, i) => `burst/${i}`);
        for (const k of [...burst, 'fail/one']) await s.source.put(k, Buffer.from(k), { contentLength: k.length });
        await publish([...burst, 'fail/one'], { config: s.config });
        const refused = await fetch(`http://127.0.0.1:${port}/events`, { method: 'POST', body: 'not json' });
        assert.equal(refused.status, 400);
        for (const k of burst) await waitFor(`${k} at the destination`, () => everywhere(s.dests, k, Buffer.from(k)));
        await waitFor('fail/one in the failed set', async () => (await s.counts()).failed === 1, 60_000, 250);
        await waitFor('S3s3Failures firing', async () =>
          (await prom.alerts()).some((a) => a.labels.alertname === 'S3s3Failures' && a.state === 'firing'),
        );
        // The failing key settled within the threshold; should it not have, its miss leaves the window first.
        await waitFor('no S3s3ReplicationLag before the outage', async () => (await lagAlerts(prom)).length === 0);

        // The destination down: keys wait (each try retries for ~45 s), past the threshold.
        await proxy.stop();
        const late = ['late/0', 'late/1', 'late/2'];
        for (const k of late) await s.source.put(k, Buffer.from(k), { contentLength: k.length });
        await publish(late, { config: s.config });
        await waitFor(
          'S3s3ReplicationLag firing for dest1',
          async () => (await lagAlerts(prom)).includes('firing'),
          45_000,
          250,
        );
        await waitFor(
          'the late keys pending for dest1',
          async () => (await prom.query('s3s3:operations_pending:max{destination="dest1"} > 0')).length === 1,
          10_000,
          250,
        );

        // Back: the keys land, nothing misses any more, the alert resolves.
        await proxy.start();
        for (const k of late)
          await waitFor(`${k} at the destination`, () => everywhere(s.dests, k, Buffer.from(k)), 60_000);
        await waitFor('S3s3ReplicationLag resolved', async () => (await lagAlerts(prom)).length === 0, 60_000, 500);
        const after = await prom.query('sum(s3s3_replicated_after_threshold_total{destination="dest1"})');
        assert.ok(Number(after[0]?.value[1]) >= 1, 'the late keys replicated after the threshold');

        // Every dashboard target and every recording rule has data.
        const exprs = [
          ...s3s3DashboardTargets().map((t) => ({
            what: `panel "${t.panel}" ${t.refId}`,
            expr: substituteVariables(t.expr, { interval: WINDOW, destination: '.*' }),
          })),
          ...parseRules(readFileSync(rules, 'utf8'))
            .filter((r) => r.kind === 'record')
            .map((r) => ({ what: `recording rule ${r.name}`, expr: r.expr })),
        ];
        let empty: string[] = [];
        await waitFor(
          'every expr with data',
          async () => {
            empty = [];
            for (const e of exprs) if ((await prom.query(e.expr)).length === 0) empty.push(`${e.what}: ${e.expr}`);
            return empty.length === 0;
          },
          20_000,
          1000,
        ).catch(() => assert.deepEqual(empty, [], 'exprs without data'));
        const unhealthy = (await prom.rules()).filter((r) => r.health !== 'ok');
        assert.deepEqual(unhealthy, [], 'every rule evaluates');
      } finally {
        await p?.stop();
        await d?.dispose();
        await sweepTarget.stop();
        await proxy.stop();
        await fault.stop();
        await s.cleanup();
        rmSync(dirname(rules), { recursive: true, force: true });
        rmSync(dirname(textfile), { recursive: true, force: true });
      }
    },
  );
});
