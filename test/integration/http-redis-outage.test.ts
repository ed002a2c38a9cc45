/**
 * The intake while Redis is unreachable without refusing (a blackholed port: connections and
 * bytes that go nowhere), through a TCP proxy switched while the daemon runs:
 * - POST /events answers 503 within 5 s (the sender sends it again; nothing is acknowledged
 *   that is not queued), /metrics answers 200 within 10 s without the queue series, /readyz
 *   says not ready; keys received by pub/sub meanwhile wait in memory;
 * - once Redis answers again, events are queued (2xx), the pub/sub keys too, and the queue
 *   series come back;
 * - a stop while Redis does not answer names every key it could not queue, one line each,
 *   `not queued: "KEY"` (JSON-quoted), and exits 1; a stop with everything queued exits 0.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Config } from '../../src/api/config.js';
import { ListenClient } from '../../src/api/listen/listen-client.js';
import { publish } from '../../src/api/listen/publish.js';
import { SyncQueue } from '../../src/api/queue/queue.js';
import { redisUrl, testServers } from '../helpers/servers.js';
import { closedPort, Daemon, setup, waitFor, type Setup } from '../helpers/listen.js';
import { SwitchProxy } from '../helpers/switch-proxy.js';

const servers = testServers();
const ceph = servers.find((s) => s.name === 'ceph') ?? servers[0]!;
const swift = servers.find((s) => s.name === 'swift') ?? servers[servers.length - 1]!;
/** The daemon's subscriber names itself so: it keeps passing, so pub/sub keys still arrive. */
const SUBSCRIBER = /s3s3listen-sub/;

function cephEvent(bucket: string, key: string): string {
  return JSON.stringify({
    Records: [
      {
        eventVersion: '2.2',
        eventSource: 'ceph:s3',
        eventTime: new Date().toISOString(),
        eventName: 'ObjectCreated:Put',
        s3: {
          s3SchemaVersion: '1.0',
          bucket: { name: bucket },
          object: { key, size: 1, eTag: '', versionId: '', sequencer: '1' },
        },
      },
    ],
  });
}

/** A request with a stop watch; a request that hangs fails at `limitMs` (the old code hung). */
async function timed(
  url: string,
  init: RequestInit = {},
  limitMs = 15_000,
): Promise<{ status: number; text: string; ms: number }> {
  const t0 = Date.now();
  try {
    const r = await fetch(url, { ...init, signal: AbortSignal.timeout(limitMs) });
    const text = await r.text();
    return { status: r.status, text, ms: Date.now() - t0 };
  } catch (err) {
    throw new Error(
      `${init.method ?? 'GET'} ${url}: no answer within ${limitMs} ms ` +
        `(${err instanceof Error ? err.message : String(err)})`,
    );
  }
}

/** The same config, but straight to Redis (not through the proxy): what the test itself uses. */
function direct(config: Config): Config {
  const url = redisUrl();
  return { ...config, pubsub: { ...config.pubsub, redisUrl: url, redisUrlRedacted: url } } as Config;
}

/** The keys of the jobs waiting in the queue, read straight from Redis. */
async function waitingKeys(queue: SyncQueue): Promise<string[]> {
  return (await queue.bullQueue.getWaiting(0, 1000)).map((j) => j.data.key);
}

describe('s3s3listen --role intake [http] while redis is blackholed', () => {
  const proxy = new SwitchProxy(redisUrl());
  let s: Setup;
  let d: Daemon;
  let base: string;
  let queue: SyncQueue;

  before(async () => {
    await proxy.start();
    const port = await closedPort();
    s = await setup({ source: ceph, dests: [swift], redisUrl: proxy.url(), label: 'redis-outage', http: { port } });
    queue = new SyncQueue(direct(s.config), { name: 'test-outage' });
    d = Daemon.start(s.file, ['--role', 'intake', '--log-format', 'json']);
    base = `http://127.0.0.1:${port}`;
    await d.waitForLine(/"msg":"listening"/);
  });
  after(async () => {
    proxy.pass();
    await d.dispose();
    await queue.close();
    await s.cleanup();
    await proxy.stop();
  });

  it(
    'answers 503 (events) and 200 without the queue series (metrics) in time, ' +
      'then recovers and queues what came meanwhile',
    async () => {
      const bucket = s.config.source.bucket;
      const post = (key: string) => timed(`${base}/events`, { method: 'POST', body: cephEvent(bucket, key) });
      const first = await post('outage/before');
      assert.equal(first.status, 200, first.text);
      assert.match((await timed(`${base}/metrics`)).text, /^s3s3_queue_jobs\{.*state="waiting".*\} 1$/m);

      proxy.blackhole(SUBSCRIBER);
      // Keys published meanwhile reach the intake (its subscriber still passes) and wait in memory.
      await publish(['outage/pubsub 1', 'outage/pubsub 2'], { redisUrl: redisUrl(), channel: s.channel });

      const during = await post('outage/during');
      assert.equal(during.status, 503, during.text);
      assert.ok(during.ms < 5000, `POST /events answered 503 in ${during.ms} ms, over 5 s`);
      assert.match(during.text, /send it again/);
      // Once Redis is known not to answer, the next sender is told at once.
      const again = await post('outage/during 2');
      assert.equal(again.status, 503, again.text);
      assert.ok(
        again.ms < 1000,
        `the second POST /events took ${again.ms} ms: it should not wait for a Redis known not to answer`,
      );

      const metrics = await timed(`${base}/metrics`);
      assert.equal(metrics.status, 200);
      assert.ok(metrics.ms < 10_000, `/metrics took ${metrics.ms} ms`);
      assert.doesNotMatch(metrics.text, /^s3s3_queue_/m, 'no queue series while Redis does not answer');
      assert.match(metrics.text, /^s3s3_events_total\{.*result="unavailable".*\} [1-9]/m);
      assert.match(metrics.text, /^process_resident_memory_bytes\{/m);
      assert.match(metrics.text, /^# TYPE s3s3_objects_total counter$/m);

      const ready = await timed(`${base}/readyz`);
      assert.equal(ready.status, 503, ready.text);
      assert.match(ready.text, /^redis not ready: /m);
      assert.ok(ready.ms < 10_000, `/readyz took ${ready.ms} ms`);
      assert.equal((await timed(`${base}/healthz`)).status, 200);

      proxy.pass();
      // Ready again with nothing else asked of it: the daemon finds Redis back by itself.
      await waitFor('ready again', async () => (await timed(`${base}/readyz`)).status === 200, 30_000, 500);
      const back = await waitFor(
        'POST /events to be queued again',
        async () => {
          const r = await post('outage/after');
          return r.status === 200 ? r : undefined;
        },
        60_000,
        500,
      );
      assert.match(back.text, /queued 1/);
      const keys = await waitFor(
        'the keys received meanwhile and after to be on the queue',
        async () => {
          const k = await waitingKeys(queue);
          return ['outage/before', 'outage/after', 'outage/pubsub 1', 'outage/pubsub 2'].every((x) => k.includes(x))
            ? k
            : undefined;
        },
        60_000,
        500,
      );
      assert.ok(keys.includes('outage/after'));
      const page = await waitFor('the queue series back', async () => {
        const t = (await timed(`${base}/metrics`)).text;
        return /^s3s3_queue_jobs\{.*state="waiting".*\} [1-9]/m.test(t) ? t : undefined;
      });
      assert.match(page, /^s3s3_queue_oldest_waiting_seconds\{/m);
      assert.equal(d.child.exitCode, null, 'the daemon runs on');
    },
  );

  it('turns ready again by itself once Redis answers, with no event or scrape to find out', async () => {
    proxy.blackhole(SUBSCRIBER);
    const r = await timed(`${base}/events`, {
      method: 'POST',
      body: cephEvent(s.config.source.bucket, 'outage/alone'),
    });
    assert.equal(r.status, 503, r.text);
    // Longer than one probe (a ping given up after 4 s), so the outage ends on a later one.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    proxy.pass();
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const ready = await timed(`${base}/readyz`);
    assert.equal(ready.status, 200, ready.text);
  });
});

describe('s3s3listen --role intake stopping', () => {
  const proxy = new SwitchProxy(redisUrl());
  let s: Setup;
  let queue: SyncQueue;

  before(async () => {
    await proxy.start();
    s = await setup({ source: ceph, dests: [swift], redisUrl: proxy.url(), label: 'intake-stop' });
    queue = new SyncQueue(direct(s.config), { name: 'test-intake-stop' });
  });
  after(async () => {
    proxy.pass();
    await queue.close();
    await s.cleanup();
    await proxy.stop();
  });

  it('names every key it could not queue while Redis does not answer, one escaped line each, and exits 1', async () => {
    const d = Daemon.start(s.file, ['--role', 'intake']);
    try {
      await d.waitForLine(/ listening/);
      proxy.blackhole(SUBSCRIBER);
      const keys = ['stop/plain key', 'stop/line\nbreak', 'stop/esc \u001b[31mred', 'stop/quote " and \\ back'];
      await publish(keys, { redisUrl: redisUrl(), channel: s.channel });
      // Long enough for the adds to time out (the intake keeps the keys in memory).
      await new Promise((r) => setTimeout(r, 6000));
      d.kill('SIGTERM');
      const exit = await d.exited;
      const unqueued = d.matching(/not queued: /);
      for (const k of keys) {
        assert.ok(
          d.lines.some((l) => l.includes(`not queued: ${JSON.stringify(k)}`)),
          `no line names ${JSON.stringify(k)}:\n${d.lines.join('\n')}`,
        );
      }
      assert.equal(unqueued.length, keys.length, unqueued.join('\n'));
      for (const l of unqueued) assert.match(l, /^s3s3 error: not queued: "/);
      assert.ok(!d.lines.some((l) => l.includes('\u001b')), 'no raw ESC on stderr');
      assert.equal(exit.code, 1, d.lines.join('\n'));
    } finally {
      proxy.pass();
      await d.dispose();
    }
  });

  it('ListenClient.stop() reports the keys it could not queue, in the order received', async () => {
    const listener = new ListenClient(s.config, { role: 'intake' });
    await listener.start();
    try {
      proxy.blackhole(SUBSCRIBER);
      const keys = ['lib/b', 'lib/a', 'lib/b', 'lib/tab\there'];
      await publish(keys, { redisUrl: redisUrl(), channel: s.channel });
      await waitFor('the intake to receive them', () => listener.stats.received === keys.length);
    } finally {
      const report = await listener.stop();
      proxy.pass();
      assert.deepEqual(report.unqueued, ['lib/b', 'lib/a', 'lib/tab\there']);
      assert.deepEqual(listener.unqueued, report.unqueued);
      assert.deepEqual((await listener.stop()).unqueued, report.unqueued, 'a second stop() gives the same report');
    }
  });

  it('exits 0 when everything received was queued', async () => {
    const d = Daemon.start(s.file, ['--role', 'intake']);
    try {
      await d.waitForLine(/ listening/);
      await publish(['stop/ok 1', 'stop/ok 2'], { redisUrl: redisUrl(), channel: s.channel });
      await waitFor('both keys queued', async () => {
        const k = await waitingKeys(queue);
        return k.includes('stop/ok 1') && k.includes('stop/ok 2');
      });
      d.kill('SIGTERM');
      const exit = await d.exited;
      assert.equal(exit.code, 0, d.lines.join('\n'));
      assert.deepEqual(d.matching(/not queued/), []);
    } finally {
      await d.dispose();
    }
  });
});
