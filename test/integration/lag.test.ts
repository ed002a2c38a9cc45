/**
 * `[pubsub] lag_threshold` and `[notify] lag_events` (issue 22), on the test Ceph and Redis: a
 * destination held down (a TCP proxy stopped) past a 2 s threshold; the key published then is
 * counted once as missing the threshold, and once as replicated after it when the destination
 * is back; /metrics shows both and the latency histogram, the pending gauges while it waits;
 * the webhook gets one batched post holding both events, in AWS's names.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { publish } from '../../src/api/listen/publish.js';
import { closedPort, Daemon, everywhere, setup, TcpProxy, waitFor, type Setup } from '../helpers/listen.js';
import { redisUrl, testServers, underOtherName } from '../helpers/servers.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

const servers = testServers();
const ceph = servers.find((s) => s.name === 'ceph') ?? servers[0]!;

/** A series' value on a /metrics page, by name and a label matcher; undefined when absent. */
function value(page: string, name: string, labels = ''): number | undefined {
  const re = new RegExp(`^${name}\\{[^}]*${labels}[^}]*\\} (\\S+)$`, 'm');
  const m = re.exec(page);
  return m ? Number(m[1]) : undefined;
}

describe('lag_threshold: missed, replicated after, lag events', () => {
  let s: Setup;
  let d: Daemon;
  let proxy: TcpProxy;
  let hook: WebhookReceiver;
  let base: string;

  before(async () => {
    const other = underOtherName(ceph);
    proxy = new TcpProxy(other.endpoint);
    await proxy.start();
    hook = await WebhookReceiver.start();
    const port = await closedPort();
    s = await setup({
      label: 'lag',
      source: ceph,
      dests: [{ server: other, endpoint: proxy.endpoint }],
      redisUrl: redisUrl(),
      pubsub: { lag_threshold: '2s' },
      http: { port },
      // One attempt outlasts the outage: the key stays pending (not failed) while the destination is down.
      destExtra: { max_retries: 20, connect_timeout: 1 },
    });
    appendFileSync(s.file, `[notify]\nwebhook_url = ${hook.url}\nlag_events = true\n`);
    base = `http://127.0.0.1:${port}`;
    d = Daemon.start(s.file, ['--log-format', 'json']);
    await d.waitForLine(/"msg":"listening"/);
  });
  after(async () => {
    await d?.dispose();
    await s?.cleanup();
    await proxy?.stop();
    await hook?.close();
  });

  it('a key held past the threshold: counted missed once and after once, posted once in one batch', async () => {
    const metrics = async () => (await fetch(`${base}/metrics`)).text();
    const start = await metrics();
    assert.equal(value(start, 's3s3_lag_threshold_seconds'), 2);
    assert.equal(value(start, 's3s3_missed_threshold_total', 'destination="dest1"'), 0, 'series start at 0');
    assert.equal(value(start, 's3s3_operations_failed_total', 'destination="dest1"'), 0);

    await proxy.stop();
    const body = Buffer.from('late bytes');
    await s.source.put('late', body, { contentLength: body.length });
    await publish('late', { config: s.config });
    // Pending while the destination is down, then past the threshold: missed, once.
    await waitFor(
      'the key counted as missing the threshold',
      async () => value(await metrics(), 's3s3_missed_threshold_total', 'destination="dest1"') === 1,
      15_000,
      250,
    );
    const waiting = await metrics();
    assert.equal(value(waiting, 's3s3_operations_pending', 'destination="dest1"'), 1, waiting);
    assert.ok((value(waiting, 's3s3_bytes_pending', 'destination="dest1"') ?? -1) >= 0, 'bytes pending served');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(
      value(await metrics(), 's3s3_missed_threshold_total', 'destination="dest1"'),
      1,
      'counted once, however many scans see it',
    );

    await proxy.start();
    await waitFor('the key at the destination', () => everywhere(s.dests, 'late', body), 30_000, 200);
    await waitFor(
      'the key counted as replicated after the threshold',
      async () => value(await metrics(), 's3s3_replicated_after_threshold_total', 'destination="dest1"') === 1,
      10_000,
      200,
    );
    const done = await metrics();
    assert.equal(value(done, 's3s3_replication_latency_seconds_count', 'destination="dest1"'), 1, done);
    assert.ok((value(done, 's3s3_replication_latency_seconds_sum', 'destination="dest1"') ?? 0) > 2);
    assert.equal(value(done, 's3s3_replication_latency_seconds_bucket', 'le="1"'), 0, 'later than a second');

    // One post: the batch waits 10 s after its first event, and posts are a minute apart.
    await waitFor('the lag events posted', () => hook.posts.length >= 1, 20_000, 200);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(hook.posts.length, 1, 'one batched post');
    const posted = JSON.parse(hook.posts[0]!.body) as {
      host: string;
      events: Array<{ eventName: string; key: string; destination: string; seconds: number; time: string }>;
    };
    assert.equal(typeof posted.host, 'string');
    assert.deepEqual(
      posted.events.map((e) => [e.eventName, e.key, e.destination]),
      [
        ['OperationMissedThreshold', 'late', 'dest1'],
        ['OperationReplicatedAfterThreshold', 'late', 'dest1'],
      ],
    );
    for (const e of posted.events) {
      assert.ok(e.seconds >= 2, JSON.stringify(e));
      assert.match(e.time, /^\d{4}-\d\d-\d\dT.*Z$/);
    }
    assert.doesNotMatch(d.lines.join('\n'), /s3s3-secret-token/, 'the webhook URL never logged');
  });
});
