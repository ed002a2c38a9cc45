/**
 * The daemon's HTTP surface (`[http]`), against a real redis-server and the real S3 servers:
 * /healthz, /readyz (false while Redis is down, true again after), /metrics moving with the
 * work done, POST /events and its bad input (one status and one log line each, the daemon
 * unaffected), a port already taken, /events absent from a worker, and `s3s3bucket
 * --metrics-file` in node_exporter's textfile format.
 */
import { createServer } from 'node:net';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { publish } from '../../src/api/listen/publish.js';
import { markerKey } from '../../src/api/worker/settle.js';
import { redisUrl, testServers } from '../helpers/servers.js';
import {
  closedPort,
  Daemon,
  everywhere,
  OwnRedis,
  runScript,
  setup,
  tempDir,
  waitFor,
  type Setup,
} from '../helpers/listen.js';

const servers = testServers();
const ceph = servers.find((s) => s.name === 'ceph') ?? servers[0]!;
const swift = servers.find((s) => s.name === 'swift') ?? servers[servers.length - 1]!;
const TOKEN = 'events-token-0123456789abcdef';

async function get(url: string, init?: RequestInit): Promise<{ status: number; text: string }> {
  const r = await fetch(url, init);
  return { status: r.status, text: await r.text() };
}

/** The value of the series `name` carrying every label in `labels` (any order; 0 when absent). */
function value(page: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of page.split('\n')) {
    const m = /^([a-zA-Z0-9_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v) && have.size === Object.keys(labels).length)
      return Number(m[3]);
  }
  return 0;
}

/** A Ceph RGW notification body, as SERVERS.md records it (keys raw, not URL-encoded). */
function cephEvent(bucket: string, key: string, name = 'ObjectCreated:Put', size = 1): string {
  return JSON.stringify({
    Records: [
      {
        eventVersion: '2.2',
        eventSource: 'ceph:s3',
        awsRegion: '',
        eventTime: new Date().toISOString(),
        eventName: name,
        s3: {
          s3SchemaVersion: '1.0',
          bucket: { name: bucket },
          object: { key, size, eTag: '', versionId: '', sequencer: '1', metadata: [], tags: [] },
        },
      },
    ],
  });
}

describe('s3s3listen [http]: health, readiness, metrics, events', () => {
  const own = new OwnRedis('http');
  let s: Setup;
  let d: Daemon;
  let base: string;

  before(async () => {
    own.start();
    const port = await closedPort();
    s = await setup({
      source: ceph,
      dests: [swift],
      redisUrl: own.url,
      label: 'http',
      http: { port, events_token: TOKEN },
    });
    d = Daemon.start(s.file, ['--log-format', 'json']);
    base = `http://127.0.0.1:${port}`;
    await d.waitForLine(/"msg":"listening"/);
  });
  after(async () => {
    await d.dispose();
    await s.cleanup();
    own.stop();
  });

  it('answers /healthz, /readyz (Redis and every endpoint), 404 elsewhere, 405 on a wrong method', async () => {
    assert.deepEqual(await get(`${base}/healthz`), { status: 200, text: 'ok\n' });
    const ready = await get(`${base}/readyz`);
    assert.equal(ready.status, 200, ready.text);
    assert.match(ready.text, /^redis ok$/m);
    assert.match(ready.text, /^\[source\] ok/m);
    assert.match(ready.text, /^\[dest1\] ok/m);
    assert.equal((await get(`${base}/nothing`)).status, 404);
    assert.equal((await get(`${base}/metrics`, { method: 'POST' })).status, 405);
    assert.equal((await get(`${base}/events`)).status, 405);
  });

  it('/metrics moves with the work done: objects, bytes, requests, lag, queue', async () => {
    const keys = ['m/one', 'm/two \u00e9', 'm/three'];
    for (const k of keys)
      await s.source.put(k, Buffer.from(`body ${k}`), { contentLength: Buffer.byteLength(`body ${k}`) });
    const before = (await get(`${base}/metrics`)).text;
    await publish(keys, { config: s.config });
    for (const k of keys) await waitFor(`${k} everywhere`, () => everywhere(s.dests, k, Buffer.from(`body ${k}`)));
    await s.drained();
    const page = await waitFor('the counters', async () => {
      const t = (await get(`${base}/metrics`)).text;
      return value(t, 's3s3_objects_total', { destination: 'dest1', outcome: 'copied', role: 'all' }) -
        value(before, 's3s3_objects_total', { destination: 'dest1', outcome: 'copied', role: 'all' }) ===
        3
        ? t
        : undefined;
    });
    const bytes = keys.reduce((n, k) => n + Buffer.byteLength(`body ${k}`), 0);
    assert.equal(
      value(page, 's3s3_bytes_total', { destination: 'dest1', role: 'all' }) -
        value(before, 's3s3_bytes_total', { destination: 'dest1', role: 'all' }),
      bytes,
    );
    assert.ok(
      value(page, 's3s3_s3_request_duration_seconds_count', {
        endpoint: 'source',
        operation: 'GetObject',
        status_class: '2xx',
        role: 'all',
      }) >= 3,
      page,
    );
    assert.ok(
      value(page, 's3s3_s3_request_duration_seconds_count', {
        endpoint: 'dest1',
        operation: 'PutObject',
        status_class: '2xx',
        role: 'all',
      }) >= 3,
      page,
    );
    assert.ok(value(page, 's3s3_replication_lag_seconds_count', { role: 'all' }) >= 3);
    for (const state of ['waiting', 'active', 'delayed', 'failed'])
      assert.match(page, new RegExp(`^s3s3_queue_jobs\\{.*state="${state}".*\\} 0$`, 'm'));
    assert.match(page, /^s3s3_queue_oldest_waiting_seconds\{role="all"\} 0$/m);
    assert.match(page, /^# TYPE s3s3_redis_reconnects_total counter$/m);
    assert.match(page, /^process_resident_memory_bytes\{role="all"\} \d+/m);
    for (const k of keys) await s.redis.call('DEL', markerKey(k));
  });

  it(
    'POST /events queues what Ceph notifies; every bad input gets its status and one log line, ' +
      'the daemon unaffected',
    async () => {
      const bucket = s.config.source.bucket;
      const post = (
        body: string | Buffer,
        headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` },
        query = '',
      ) =>
        get(`${base}/events${query}`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json', ...headers },
        });
      const lines = () => d.lines.length;
      const since = (n: number, re: RegExp) => d.lines.slice(n).filter((l) => re.test(l));

      let n = lines();
      const bad = await post('{"Records": [');
      assert.equal(bad.status, 400, bad.text);
      await waitFor('one log line', () => since(n, /events refused/).length === 1);

      n = lines();
      const foreign = await post(cephEvent('some-other-bucket', 'x'));
      assert.equal(foreign.status, 400);
      assert.match(foreign.text, /some-other-bucket/);
      await waitFor('one log line', () => since(n, /events refused.*some-other-bucket/).length === 1);

      n = lines();
      assert.equal((await post(cephEvent(bucket, 'k'), {})).status, 401, 'no token');
      assert.equal(
        (await post(cephEvent(bucket, 'k'), { authorization: 'Bearer wrong-token-wrong-token' })).status,
        401,
        'wrong token',
      );
      assert.equal((await post(cephEvent(bucket, 'k'), {}, '?token=nope')).status, 401, 'wrong query token');
      // The same refusal again within a minute is counted, not logged again (Ceph re-sends without end).
      await waitFor('one line per reason', () => since(n, /events refused: (no|wrong) token/).length === 2);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(since(n, /events refused/).length, 2, d.lines.slice(n).join('\n'));

      n = lines();
      const huge = await post(Buffer.alloc(10 * 1024 * 1024, 0x20)).catch((err: unknown) => ({
        status: -1,
        text: String(err),
      }));
      assert.equal(huge.status, 413, huge.text);
      assert.match(huge.text, /over the 1 MiB/);
      await waitFor('one log line', () => since(n, /events refused: body of \d+ bytes is over the 1 MiB/).length === 1);

      const test = await post(
        JSON.stringify({
          Service: 'Amazon S3',
          Event: 's3:TestEvent',
          Time: new Date().toISOString(),
          Bucket: bucket,
          RequestId: 'r',
          HostId: 'h',
        }),
      );
      assert.equal(test.status, 200);

      // A Ceph record, then the same shape inside an SNS envelope with the token in the query.
      const key1 = 'events/raw \u0001 key+plus';
      const key2 = 'events/sns caf\u00e9';
      await s.source.put(key1, Buffer.from('one'), { contentLength: 3 });
      await s.source.put(key2, Buffer.from('two'), { contentLength: 3 });
      const ok = await post(cephEvent(bucket, key1, 'ObjectCreated:Put', 3));
      assert.equal(ok.status, 200, ok.text);
      const sns = JSON.stringify({
        Type: 'Notification',
        MessageId: 'm',
        TopicArn: 'arn:aws:sns:::t',
        Message: cephEvent(bucket, key2, 'ObjectCreated:Put', 3),
      });
      assert.equal((await post(sns, {}, `?token=${TOKEN}`)).status, 200);
      await waitFor(
        'both keys everywhere',
        async () =>
          (await everywhere(s.dests, key1, Buffer.from('one'))) && everywhere(s.dests, key2, Buffer.from('two')),
      );
      assert.equal(d.child.exitCode, null, 'still running');
      const metrics = (await get(`${base}/metrics`)).text;
      assert.ok(value(metrics, 's3s3_events_total', { result: 'refused', role: 'all' }) >= 5, metrics);
      assert.ok(value(metrics, 's3s3_events_total', { result: 'accepted', role: 'all' }) >= 2);
      for (const k of [key1, key2]) await s.redis.call('DEL', markerKey(k));
    },
  );

  it("/queues: bull-board's page and JSON answer; its actions are refused (read-only: no admin_token)", async () => {
    const page = await get(`${base}/queues`);
    assert.equal(page.status, 200);
    assert.match(page.text, /<html/i);
    const name = (await import('../../src/api/queue/queue.js')).queueName(s.config);
    const api = await get(
      `${base}/queues/api/queues?activeQueue=${encodeURIComponent(name)}&status=failed&page=1&jobsPerPage=10`,
    );
    assert.equal(api.status, 200, api.text);
    assert.ok(api.text.includes(name), api.text.slice(0, 300));
    const clean = await get(`${base}/queues/api/queues/${encodeURIComponent(name)}/clean/failed`, { method: 'PUT' });
    assert.equal(clean.status, 401);
    assert.match(clean.text, /read-only/);
  });

  it('/readyz turns false when Redis stops, and true again once it is back', async () => {
    own.stop();
    const down = await waitFor(
      'not ready',
      async () => {
        const r = await get(`${base}/readyz`);
        return r.status === 503 ? r : undefined;
      },
      30_000,
      500,
    );
    assert.match(down.text, /^redis not ready/m);
    assert.equal((await get(`${base}/healthz`)).status, 200, 'alive all the same');
    own.start();
    await waitFor('ready again', async () => (await get(`${base}/readyz`)).status === 200, 60_000, 500);
  });
});

describe('s3s3listen [http] start-up', () => {
  it('a port already taken: exit 2 with one line saying what to do', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as { port: number }).port;
    const s = await setup({ source: ceph, dests: [swift], redisUrl: redisUrl(), label: 'http-taken', http: { port } });
    try {
      const r = await runScript('listen', ['--config', s.file]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          /\[http\] cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE; /.source +
            /another process listens there: choose another \[http\] port \(or S3S3_HTTP_PORT per process\)/.source,
        ),
      );
    } finally {
      await new Promise((r) => taken.close(r));
      await s.cleanup();
    }
  });

  it('S3S3_HTTP_PORT gives a worker its own port; a worker serves no /events', async () => {
    const s = await setup({
      source: ceph,
      dests: [swift],
      redisUrl: redisUrl(),
      label: 'http-worker',
      http: { port: 1 },
    });
    const port = await closedPort();
    const d = new Daemon(['--config', s.file, '--role', 'worker'], { S3S3_HTTP_PORT: String(port) });
    try {
      await d.waitForLine(/ working /);
      const base = `http://127.0.0.1:${port}`;
      assert.equal((await get(`${base}/healthz`)).status, 200);
      const ev = await get(`${base}/events`, { method: 'POST', body: '{}' });
      assert.equal(ev.status, 404);
      assert.match(ev.text, /runs no intake/);
      assert.match((await get(`${base}/metrics`)).text, /^s3s3_queue_jobs\{.*role="worker".*\} \d+$/m);
    } finally {
      await d.dispose();
      await s.cleanup();
    }
  });
});

describe('s3s3bucket --metrics-file', () => {
  it(
    "writes the sweep's figures in node_exporter's textfile format; " +
      'a directory it cannot write is refused before the sweep (exit 2)',
    async () => {
      const s = await setup({ source: ceph, dests: [swift], redisUrl: redisUrl(), label: 'metrics-file' });
      try {
        for (const k of ['a', 'b', 'c']) await s.source.put(k, Buffer.from(k), { contentLength: 1 });
        const file = join(tempDir('textfile'), 's3s3.prom');
        const r = await runScript('bucket', ['--config', s.file, '--metrics-file', file]);
        assert.equal(r.code, 0, r.stderr);
        const text = readFileSync(file, 'utf8');
        assert.match(
          text,
          /^s3s3_sweep_objects\{destination="dest1",outcome="copied",source="[^"]+",destinations="[^"]+"\} 3$/m,
        );
        assert.match(text, /^s3s3_sweep_bytes\{destination="dest1",.*\} 3$/m);
        assert.match(text, /^s3s3_sweep_success\{.*\} 1$/m);
        assert.match(text, /^s3s3_sweep_exit_code\{.*\} 0$/m);
        assert.match(text, /^# TYPE s3s3_sweep_last_run_timestamp_seconds gauge$/m);
        const again = await runScript('bucket', ['--config', s.file, '--metrics-file', file]);
        assert.equal(again.code, 0);
        assert.match(readFileSync(file, 'utf8'), /^s3s3_sweep_objects\{destination="dest1",outcome="skipped",.*\} 3$/m);
        // The last success is carried over a failed run, so "no good sweep in 26 h" can be alerted on.
        const lastSuccess = (text: string) =>
          /^s3s3_sweep_last_success_timestamp_seconds\{.*\} (\d+)$/m.exec(text)?.[1];
        const succeeded = lastSuccess(readFileSync(file, 'utf8'));
        assert.ok(succeeded, 'a run that succeeds records its end as the last success');
        await new Promise((r) => setTimeout(r, 1100));
        const failing = await runScript('bucket', ['--config', s.file, '--metrics-file', file], '', {
          S3S3_DEST1_BUCKET_NAME: 'no-such-bucket-s3s3-metrics',
        });
        assert.equal(failing.code, 1, failing.stderr);
        const afterFailure = readFileSync(file, 'utf8');
        assert.match(afterFailure, /^s3s3_sweep_success\{.*\} 0$/m);
        assert.equal(lastSuccess(afterFailure), succeeded, 'the last success kept from the file it replaced');

        const nowhere = join(tempDir('textfile'), 'missing-dir', 's3s3.prom');
        const bad = await runScript('bucket', ['--config', s.file, '--metrics-file', nowhere]);
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /--metrics-file: cannot write in .*missing-dir \(ENOENT\)/);
        assert.equal(existsSync(nowhere), false);
        const conflict = await runScript('bucket', ['--config', s.file, '--metrics-file', file, '--dry-run']);
        assert.equal(conflict.code, 2);
        assert.match(conflict.stderr, /--metrics-file records what a sweep did; it cannot be combined with --dry-run/);
      } finally {
        await s.cleanup();
      }
    },
  );
});
