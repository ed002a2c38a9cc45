/**
 * s3s3listen on the durable queue (BullMQ on the test's real redis-server), against the real
 * S3 servers: one intake and three worker processes share 1000 keys while one worker is
 * SIGKILLed mid-copy; a key announced again while it runs runs exactly once more; the keys
 * left by the single-process listener (journal, failed list) are taken over; the failed set
 * is listed, counted, re-queued and cleared with the CLIs.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { publish } from '../../src/api/listen/publish.js';
import { markerKey } from '../../src/api/worker/settle.js';
import { SyncQueue } from '../../src/api/queue/queue.js';
import { redisUrl, testServers } from '../helpers/servers.js';
import { putAll } from '../helpers/seed.js';
import { Daemon, everywhere, OwnRedis, runScript, setup, TcpProxy, waitFor, type Setup } from '../helpers/listen.js';

const servers = testServers();
const ceph = servers.find((s) => s.name === 'ceph') ?? servers[0]!;
const swift = servers.find((s) => s.name === 'swift') ?? servers[servers.length - 1]!;

/**
 * An HTTP proxy that counts, per object path, the writes (PUT/POST) in flight: two at once
 * on one path means two workers wrote the same key at the same time.
 */
class WriteWatch {
  readonly overlaps: string[] = [];
  writes = 0;
  private readonly inFlight = new Map<string, number>();
  private server: http.Server | undefined;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
  constructor(private readonly upstream: string) {}

  async start(): Promise<string> {
    const up = new URL(this.upstream);
    this.server = http.createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0]!;
      const write = (req.method === 'PUT' || req.method === 'POST') && path.split('/').length > 2;
      if (write) {
        this.writes++;
        const n = (this.inFlight.get(path) ?? 0) + 1;
        this.inFlight.set(path, n);
        if (n > 1) this.overlaps.push(path);
        res.once('close', () => {
          const left = (this.inFlight.get(path) ?? 1) - 1;
          if (left <= 0) this.inFlight.delete(path);
          else this.inFlight.set(path, left);
        });
      }
      const out = http.request(
        {
          host: up.hostname,
          port: up.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent: this.agent,
        },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      out.on('error', () => res.destroy());
      req.on('aborted', () => out.destroy());
      res.on('close', () => out.destroy());
      req.pipe(out);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
    this.agent.destroy();
  }
}

interface LogLine {
  readonly time: string;
  readonly msg: string;
  readonly key?: string;
}

function parse(lines: readonly string[]): LogLine[] {
  const out: LogLine[] = [];
  for (const l of lines) {
    try {
      out.push(JSON.parse(l) as LogLine);
    } catch {
      // not a log line
    }
  }
  return out;
}

const ENDED = new Set(['copied', 'already in place']);

async function queueCounts(s: Setup): Promise<string> {
  const r = await runScript('s3s3', ['queue', '--config', s.file]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

describe('s3s3listen --role: many workers on one durable queue', () => {
  it(
    'one intake and three workers, 1000 keys, one worker SIGKILLed mid-copy: every key lands everywhere, ' +
      'never two writes of a key at once',
    async () => {
      const watch = new WriteWatch(ceph.endpoint);
      const endpoint = await watch.start();
      const s = await setup({
        source: ceph,
        dests: [{ server: ceph, endpoint }, swift],
        redisUrl: redisUrl(),
        label: 'q-kill',
      });
      const keys = Array.from(
        { length: 1000 },
        (_, i) => `k/${String(i).padStart(4, '0')} ${i % 7 === 0 ? 'sp ace' : 'x'}`,
      );
      const body = (k: string) => Buffer.from(`body of ${k}\n`.repeat(20));
      await putAll(
        s.source,
        keys.map((key) => ({ key, body: body(key) })),
      );
      const args = ['--config', s.file, '--log-format', 'json', '--verbose', '--job-lock', '5', '--concurrency', '4'];
      const intake = new Daemon([...args, '--role', 'intake']);
      const workers = [0, 1, 2].map(() => new Daemon([...args, '--role', 'worker']));
      try {
        await intake.waitForLine(/"msg":"listening"/);
        for (const w of workers) await w.waitForLine(/"msg":"working"/);
        const pub = await runScript('publish', ['--config', s.file, '-0'], keys.join('\0') + '\0');
        assert.equal(pub.code, 0, pub.stderr);
        const victim = workers[0]!;
        await victim.waitForLine(/"msg":"copied"/, 120_000, 20);
        victim.kill('SIGKILL');
        await victim.exited;
        const vlog = parse(victim.lines);
        const ended = new Set(vlog.filter((l) => ENDED.has(l.msg)).map((l) => l.key));
        const cut = vlog.filter((l) => l.msg === 'copy started' && !ended.has(l.key)).map((l) => l.key!);
        assert.ok(cut.length > 0, 'the victim had keys in flight when it was killed');
        for (const key of keys)
          await waitFor(`${key} everywhere`, () => everywhere(s.dests, key, body(key)), 120_000, 20);
        // The killed worker's keys were finished by the others.
        const others = parse([...workers[1]!.lines, ...workers[2]!.lines]);
        for (const key of cut)
          assert.ok(
            others.some((l) => l.key === key && ENDED.has(l.msg)),
            `${key} finished by another worker`,
          );
        assert.deepEqual(watch.overlaps, [], 'no key written twice at once');
        await waitFor(
          'the queue to drain',
          async () => /^waiting=0 active=0 delayed=0 failed=0 /.test(await queueCounts(s)),
          60_000,
          500,
        );
        for (const key of keys.slice(0, 5)) assert.equal(await s.redis.call('GET', markerKey(key)), 'True');
        for (const d of [intake, workers[1]!, workers[2]!]) d.kill('SIGTERM');
        for (const d of [intake, workers[1]!, workers[2]!]) assert.equal((await d.exited).code, 0);
      } finally {
        for (const d of [intake, ...workers]) await d.dispose();
        await s.redis.call('DEL', ...keys.map(markerKey));
        await s.cleanup();
        await watch.stop();
      }
    },
  );

  it('a key announced again while its job runs runs exactly once more, and never twice at once', async () => {
    const slow = new TcpProxy(swift.endpoint, 4 * 1024 * 1024);
    await slow.start();
    const s = await setup({
      source: ceph,
      dests: [{ server: swift, endpoint: slow.endpoint }],
      redisUrl: redisUrl(),
      label: 'q-again',
    });
    const d = new Daemon(['--config', s.file, '--verbose', '--role', 'all']);
    const key = 'again/slow';
    const size = 6 * 1024 * 1024;
    try {
      await d.waitForLine(/ listening /);
      await s.source.put(key, Buffer.alloc(size, 1), { contentLength: size });
      await publish(key, { config: s.config });
      await d.waitForLine(/copy started key=again\/slow/);
      const v2 = Buffer.alloc(size, 2);
      await s.source.put(key, v2, { contentLength: size });
      await publish([key, key, key, key, key], { config: s.config });
      const want = createHash('md5').update(v2).digest('hex');
      await waitFor('the last version', async () => (await s.dests[0]!.head(key))?.etag === want, 120_000);
      await d.waitForLine(/ (copied|already in place) key=again\/slow/, 60_000, 2);
      // Let any further (wrong) run show up before counting.
      await new Promise((r) => setTimeout(r, 3000));
      // The copy under way may see v2 at its check after the write and copy again in the same run.
      const events = d.lines
        .filter((l) => /key=again\/slow/.test(l) && !/the source changed while it was copied/.test(l))
        .map((l) => (/copy started/.test(l) ? 'start' : / copied | already in place /.test(l) ? 'end' : l));
      assert.deepEqual(events, ['start', 'end', 'start', 'end'], d.lines.join('\n'));
      d.kill('SIGTERM');
      assert.equal((await d.exited).code, 0);
      await s.redis.call('DEL', markerKey(key));
    } finally {
      await d.dispose();
      await s.cleanup();
      await slow.stop();
    }
  });

  it(
    "takes over the single-process listener's journal and " + 'failed list, completes them, and removes those keys',
    async () => {
      const s = await setup({ source: ceph, dests: [swift], redisUrl: redisUrl(), label: 'q-upgrade' });
      const journalled = ['old/journal 1', 'old/journal 2', 'old/caf\u00e9'];
      const failed = ['old/failed 1', 'old/failed:2'];
      const all = [...journalled, ...failed];
      await putAll(
        s.source,
        all.map((key) => ({ key, body: Buffer.from(`v ${key}`) })),
      );
      const p = s.config.pubsub;
      for (const [i, key] of journalled.entries()) await s.redis.call('ZADD', p.pendingSet, Date.now() + i, key);
      await s.redis.call(
        'RPUSH',
        p.failedList,
        JSON.stringify({ key: failed[0], reason: 'old', at: new Date().toISOString() }),
        failed[1]!,
      );
      const d = new Daemon(['--config', s.file, '--role', 'all']);
      try {
        await d.waitForLine(/took over the keys the single-process listener left.* journal=3 failed=2 /);
        for (const key of all)
          await waitFor(`${key} everywhere`, () => everywhere(s.dests, key, Buffer.from(`v ${key}`)));
        assert.equal(
          Number(await s.redis.call('EXISTS', p.pendingSet, p.failedList)),
          0,
          'the old journal and failed list are gone',
        );
        d.kill('SIGTERM');
        assert.equal((await d.exited).code, 0);
      } finally {
        await d.dispose();
        await s.redis.call('DEL', ...all.map(markerKey));
        await s.cleanup();
      }
    },
  );
});

describe('s3s3listen --role all: what the single-process listener guaranteed', () => {
  it(
    'a missing destination bucket fails no job: paused, jobs delayed, copied once it is created; ' +
      'bad messages skipped with one warning each',
    async () => {
      const s = await setup({ source: ceph, dests: [ceph, swift], redisUrl: redisUrl(), label: 'q-nodest' });
      const d = new Daemon(['--config', s.file, '--role', 'all', '--concurrency', '2', '--bucket-probe-interval', '1']);
      const keys = ['dest/a', 'dest/b', 'dest/c', 'dest/d'];
      const body = (k: string) => Buffer.from(`body of ${k}`);
      try {
        await d.waitForLine(/ listening /);
        await putAll(
          s.source,
          keys.map((key) => ({ key, body: body(key) })),
        );
        await s.dests[1]!.destroyBucket();
        await s.redis.call('PUBLISH', s.channel, Buffer.from([0xff, 0xfe]));
        await s.redis.call('PUBLISH', s.channel, '{"op":"put"}');
        await publish(keys, { config: s.config });
        const error = await d.waitForLine(
          /\[dest2\] bucket \S+ at \S+ does not exist: copying paused, keys stay queued/,
        );
        assert.match(error, new RegExp(`bucket ${s.config.destinations[1]!.bucket} `));
        await new Promise((r) => setTimeout(r, 3000));
        const counts = await queueCounts(s);
        const m = /^waiting=(\d+) active=(\d+) delayed=(\d+) failed=0 /.exec(counts);
        assert.ok(m, counts);
        assert.equal(Number(m[1]) + Number(m[2]) + Number(m[3]), keys.length, `every key still queued: ${counts}`);
        assert.equal(d.matching(/copy failed/).length, 0, d.lines.join('\n'));
        assert.equal(d.matching(/message skipped/).length, 2, d.lines.join('\n'));

        await s.dests[1]!.createBucket();
        await d.waitForLine(/\[dest2\] bucket \S+ at \S+ is back: copying resumes/);
        for (const key of keys) await waitFor(`${key} everywhere`, () => everywhere(s.dests, key, body(key)), 60_000);
        await waitFor(
          'the queue to drain',
          async () => /^waiting=0 active=0 delayed=0 failed=0 /.test(await queueCounts(s)),
          30_000,
          500,
        );
        assert.equal(d.matching(/does not exist: copying paused/).length, 1, d.lines.join('\n'));
        d.kill('SIGTERM');
        assert.equal((await d.exited).code, 0, d.lines.join('\n'));
      } finally {
        await d.dispose();
        await s.redis.call('DEL', ...keys.map(markerKey));
        await s.cleanup();
      }
    },
  );
});

describe('s3s3listen --role all and redis refusing writes (maxmemory, noeviction: OOM)', () => {
  const own = new OwnRedis('q-oom');
  after(() => own.stop());

  it(
    'keeps what it received while redis refuses the jobs, says so once, ' +
      'and queues and copies all of it once redis takes writes',
    async () => {
      own.start();
      const s = await setup({ source: ceph, dests: [swift], redisUrl: own.url, label: 'q-oom' });
      const d = new Daemon(['--config', s.file, '--role', 'all']);
      const keys = Array.from({ length: 20 }, (_, n) => `oom/${n} \u00e9`);
      const body = (k: string) => Buffer.from(`v ${k}`);
      try {
        await d.waitForLine(/ listening /);
        await putAll(
          s.source,
          keys.map((key) => ({ key, body: body(key) })),
        );
        own.cliInput('x'.repeat(2 * 1024 * 1024), '-x', 'SET', 'filler');
        own.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
        own.cli('CONFIG', 'SET', 'maxmemory', String(1024 * 1024));
        await publish(keys, { config: s.config });
        await d.waitForLine(/redis rejects writes \(OOM\): redis is at maxmemory/);
        assert.equal(d.child.exitCode, null, 'never exits for this');
        own.cli('CONFIG', 'SET', 'maxmemory', '0');
        own.cli('DEL', 'filler');
        await d.waitForLine(/redis takes writes again/);
        for (const key of keys) await waitFor(`${key} everywhere`, () => everywhere(s.dests, key, body(key)), 60_000);
        assert.equal(d.matching(/redis rejects writes/).length, 1, d.lines.join('\n'));
        d.kill('SIGTERM');
        assert.equal((await d.exited).code, 0, d.lines.join('\n'));
      } finally {
        await d.dispose();
        await s.cleanup();
      }
    },
  );
});

describe('deletes on the queue', () => {
  it('a delete racing a put ends in the source state, either way round', async () => {
    const s = await setup({
      source: ceph,
      dests: [swift],
      redisUrl: redisUrl(),
      label: 'q-race',
      destExtra: { delete: true },
    });
    const d = new Daemon(['--config', s.file, '--role', 'all']);
    const [dest] = s.dests;
    try {
      await d.waitForLine(/ listening /);
      // Deleted then put again: the last state is "present, v2".
      await s.source.put('race/back', Buffer.from('v1'), { contentLength: 2 });
      await publish('race/back', { config: s.config });
      await waitFor('v1 copied', () => everywhere([dest!], 'race/back', Buffer.from('v1')));
      await s.source.delete('race/back');
      await publish('race/back', { config: s.config, format: 'json', op: 'delete' });
      await s.source.put('race/back', Buffer.from('v2!'), { contentLength: 3 });
      await publish('race/back', { config: s.config });
      // Put then deleted: the last state is "absent".
      await s.source.put('race/gone', Buffer.from('v1'), { contentLength: 2 });
      await publish('race/gone', { config: s.config });
      await s.source.delete('race/gone');
      await publish('race/gone', { config: s.config, format: 'json', op: 'delete' });
      await waitFor('race/back is v2', () => everywhere([dest!], 'race/back', Buffer.from('v2!')));
      await waitFor(
        'the queue to drain',
        async () => /^waiting=0 active=0 delayed=0 failed=0 /.test(await queueCounts(s)),
        30_000,
        300,
      );
      assert.ok(await everywhere([dest!], 'race/back', Buffer.from('v2!')));
      assert.equal(await dest!.head('race/gone'), null, 'race/gone deleted, as in the source');
      d.kill('SIGTERM');
      assert.equal((await d.exited).code, 0);
    } finally {
      await d.dispose();
      await s.redis.call('DEL', markerKey('race/back'), markerKey('race/gone'));
      await s.cleanup();
    }
  });
});

describe('the failed set: s3s3 queue, s3s3 queue failed, s3s3bucket --retry-failed, s3s3 queue clear-failed', () => {
  it(
    'keeps a key failing after its attempts, lists it with its error, re-queues it (filters apply) ' +
      'and it lands once the destination is back',
    async () => {
      const proxy = new TcpProxy(swift.endpoint);
      await proxy.start();
      const s = await setup({
        source: ceph,
        dests: [ceph, { server: swift, endpoint: proxy.endpoint }],
        redisUrl: redisUrl(),
        label: 'q-failed',
        endpointExtra: { max_retries: 1 },
      });
      await proxy.stop();
      const keys = ['down/k \u00e9', 'other/k'];
      const body = Buffer.from('kept safe');
      await putAll(
        s.source,
        keys.map((key) => ({ key, body })),
      );
      const d = new Daemon(['--config', s.file, '--role', 'all']);
      try {
        await d.waitForLine(/ listening /);
        await publish(keys, { config: s.config });
        await waitFor('both keys in the failed set', async () => / failed=2 /.test(await queueCounts(s)), 180_000, 500);
        assert.match(await queueCounts(s), /^waiting=0 active=0 delayed=0 failed=2 oldest_waiting_seconds=0$/);
        await d.waitForLine(/copy failed after retries; kept in the queue's failed set/);
        assert.ok(
          d.matching(/copy failed; the queue retries it with backoff/).length >= 2,
          'retried before failing for good',
        );
        assert.ok(await everywhere([s.dests[0]!], keys[0]!, body), 'the destination that is up has it');
        const listed = await runScript('s3s3', ['queue', 'failed', '--config', s.file, '--limit', '1']);
        assert.equal(listed.code, 0, listed.stderr);
        const lines = listed.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { key: string; error: string; attempts: number });
        assert.equal(lines.length, 1, '--limit 1');
        assert.ok(keys.includes(lines[0]!.key));
        assert.match(lines[0]!.error, /\[dest2\]/);
        assert.equal(lines[0]!.attempts, 3);

        await proxy.start();
        const retry = await runScript('bucket', ['--config', s.file, '--retry-failed', '--prefix', 'down/']);
        assert.equal(retry.code, 0, retry.stderr);
        assert.match(retry.stderr, /failed jobs queued again for the workers .*requeued=1 kept=1/);
        await waitFor(`${keys[0]} everywhere`, () => everywhere(s.dests, keys[0]!, body), 60_000);
        // The worker writes the marker just after the last destination has the key.
        await waitFor('its marker', async () => (await s.redis.call('GET', markerKey(keys[0]!))) === 'True', 10_000);
        assert.match(await queueCounts(s), / failed=1 /);

        const cleared = await runScript('s3s3', ['queue', 'clear-failed', '--config', s.file]);
        assert.equal(cleared.code, 0, cleared.stderr);
        assert.match(cleared.stderr, /cleared 1 failed job/);
        assert.match(await queueCounts(s), / failed=0 /);
        d.kill('SIGTERM');
        assert.equal((await d.exited).code, 0);
      } finally {
        await d.dispose();
        await proxy.stop();
        await s.redis.call('DEL', ...keys.map(markerKey));
        await s.cleanup();
      }
    },
  );
});

describe('s3s3bucket --enqueue', () => {
  it(
    'queues a 5000-key backfill for two workers without ever holding much more than max_queued waiting jobs; ' +
      '--wait-drained exits 0 once all landed',
    async () => {
      const s = await setup({
        source: ceph,
        dests: [swift],
        redisUrl: redisUrl(),
        label: 'q-enqueue',
        pubsub: { max_queued: 500 },
      });
      const keys = Array.from({ length: 5000 }, (_, i) => `b/${String(i).padStart(5, '0')}`);
      const body = (k: string) => Buffer.from(`v ${k}`);
      await putAll(
        s.source,
        keys.map((key) => ({ key, body: body(key) })),
        48,
      );
      const workers = [0, 1].map(() => new Daemon(['--config', s.file, '--role', 'worker', '--concurrency', '16']));
      const q = new SyncQueue(s.config);
      let most = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          most = Math.max(most, await q.waitingCount());
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      try {
        for (const w of workers) await w.waitForLine(/ working /);
        const run = await runScript('bucket', [
          '--config',
          s.file,
          '--enqueue',
          '--wait-drained',
          '--concurrency',
          '8',
          '--json',
        ]);
        assert.equal(run.code, 0, run.stderr);
        const summary = JSON.parse(run.stdout) as { listed: number; queued: number; jobsFailed: number };
        assert.equal(summary.listed, 5000);
        assert.equal(summary.queued, 5000);
        assert.equal(summary.jobsFailed, 0);
        sampling = false;
        await sampler;
        assert.ok(
          most > 0 && most <= 500 + 25 + 8,
          `at most ~500 jobs waiting (max_queued + the recheck slack + the concurrency), saw ${most}`,
        );
        const [dest] = s.dests;
        for (const key of [keys[0]!, keys[2500]!, keys[4999]!]) assert.ok(await everywhere([dest!], key, body(key)));
        const listed = await runScript('bucket', ['--config', s.file, '--check']);
        assert.equal(
          listed.code,
          0,
          `a check finds nothing missing: ${listed.stdout.slice(0, 2000)} ${listed.stderr.slice(-2000)}`,
        );
        for (const w of workers) w.kill('SIGTERM');
        for (const w of workers) assert.equal((await w.exited).code, 0);
      } finally {
        sampling = false;
        await sampler;
        await q.close();
        for (const w of workers) await w.dispose();
        await s.redis.call('DEL', ...keys.map(markerKey));
        await s.cleanup();
      }
    },
  );

  it('refuses --enqueue --delete without --wait-drained, and --wait-drained without --enqueue (exit 2)', async () => {
    const s = await setup({ source: ceph, dests: [swift], redisUrl: redisUrl(), label: 'q-usage' });
    try {
      const a = await runScript('bucket', ['--config', s.file, '--enqueue', '--delete']);
      assert.equal(a.code, 2);
      assert.match(
        a.stderr,
        /--enqueue --delete deletes only once every copy job of the run succeeded: add --wait-drained/,
      );
      const b = await runScript('bucket', ['--config', s.file, '--wait-drained']);
      assert.equal(b.code, 2);
      assert.match(b.stderr, /--wait-drained only goes with --enqueue/);
    } finally {
      await s.cleanup();
    }
  });
});
