/**
 * s3s3listen as a process (`node dist/scripts/listen.js`) against a real redis-server and
 * the real S3 servers: the source on each server in turn, destinations on every server.
 * Publish keys and find them everywhere; JSON messages; bad messages skipped; keys gone
 * from the source; a key announced again mid-copy; JSON logs without secrets.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { publish } from '../../src/api/listen/publish.js';
import { ListenClient } from '../../src/api/listen/listen-client.js';
import { markerKey, type SettledEvent } from '../../src/api/worker/settle.js';
import { redisUrl, sectionIni, testServers } from '../helpers/servers.js';
import { KEY_SHAPES } from '../helpers/keys.js';
import { Daemon, everywhere, runScript, setup, tempDir, waitFor, type Setup } from '../helpers/listen.js';

const servers = testServers();

for (const server of servers) {
  describe(`s3s3listen: source on ${server.name}, destinations on ${servers.map((s) => s.name).join(' and ')}`, () => {
    let s: Setup;
    let d: Daemon;
    const markers: string[] = [];

    before(async () => {
      s = await setup({ source: server, dests: servers, redisUrl: redisUrl(), label: `listen-${server.name}` });
      d = Daemon.start(s.file);
      await d.waitForLine(/ listening /);
    });
    after(async () => {
      await d.dispose();
      if (markers.length) await s.redis.call('DEL', ...markers);
      await s.cleanup();
    });

    it(
      'copies every key shape announced by s3s3publish (NUL-terminated keys on stdin, newlines in keys too) ' +
        'to every destination, sets the marker, leaves the queue empty',
      async () => {
        const bodies = new Map<string, Buffer>();
        for (const [i, key] of KEY_SHAPES.entries()) {
          const body = key.endsWith('/') ? Buffer.alloc(0) : Buffer.from(`shape ${i}: ${key}`);
          bodies.set(key, body);
          await s.source.put(key, body, { contentLength: body.length });
        }
        const r = await runScript('publish', ['--config', s.file, '-0'], KEY_SHAPES.join('\0') + '\0');
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, new RegExp(`published keys=${KEY_SHAPES.length} `));
        for (const [key, body] of bodies) {
          await waitFor(`${JSON.stringify(key)} in every destination`, () => everywhere(s.dests, key, body), 60_000);
        }
        await s.drained();
        for (const key of KEY_SHAPES) {
          markers.push(markerKey(key));
          assert.equal(await s.redis.call('GET', markerKey(key)), 'True', `marker of ${JSON.stringify(key)}`);
        }
        // One info line per key, naming the destinations, the bytes and the time.
        const line = d.matching(/ copied key="?plain\.txt"? /)[0];
        assert.ok(line, d.lines.join('\n'));
        assert.match(line, /destinations=\["dest1","dest2"\] bytes=\d+ ms=\d+/);
      },
    );

    it('copies keys given as arguments, as JSON messages, and announced by the library', async () => {
      const keys = ['args/one two', 'json/caf\u00e9', 'lib/plain', 'lib/json \u{1F600}'];
      for (const key of keys)
        await s.source.put(key, Buffer.from(`body of ${key}`), { contentLength: Buffer.byteLength(`body of ${key}`) });
      const a = await runScript('publish', ['--config', s.file, keys[0]!]);
      assert.equal(a.code, 0, a.stderr);
      const j = await runScript('publish', ['--config', s.file, '--json', keys[1]!]);
      assert.equal(j.code, 0, j.stderr);
      assert.deepEqual(await publish([keys[2]!], { config: s.config }), { published: 1, unheard: 0, invalid: 0 });
      assert.deepEqual(await publish(keys[3]!, { config: s.config, format: 'json' }), {
        published: 1,
        unheard: 0,
        invalid: 0,
      });
      for (const key of keys) {
        markers.push(markerKey(key));
        await waitFor(`${key} everywhere`, () => everywhere(s.dests, key, Buffer.from(`body of ${key}`)));
      }
    });

    it('skips each bad message with one warning and carries on', async () => {
      const before = d.matching(/message skipped/).length;
      const bad: (string | Buffer)[] = [
        '',
        Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe]),
        'k'.repeat(1025),
        '{"op":"put"}',
        '{"key": 42}',
        '{"key": "x", "op": "move"}',
      ];
      for (const m of bad) await s.redis.call('PUBLISH', s.channel, m);
      const good = 'after-bad/ok';
      await s.source.put(good, Buffer.from('ok'), { contentLength: 2 });
      await s.redis.call('PUBLISH', s.channel, JSON.stringify({ key: good, op: 'put' }));
      markers.push(markerKey(good));
      await waitFor('the good key everywhere', () => everywhere(s.dests, good, Buffer.from('ok')));
      const skipped = d.matching(/message skipped/).slice(before);
      assert.equal(skipped.length, bad.length, skipped.join('\n'));
      assert.ok(skipped.some((l) => /not valid UTF-8/.test(l)));
      assert.ok(skipped.some((l) => /over the 1024-byte/.test(l)));
      assert.ok(
        skipped.some((l) => /has no \\?"key\\?"/.test(l)),
        skipped.join('\n'),
      );
      assert.equal(d.child.exitCode, null, 'still running');
    });

    it('logs and skips a key that is not in the source, without failing it', async () => {
      await runScript('publish', ['--config', s.file, 'missing/never-written']);
      await d.waitForLine(/not in the source bucket.*missing\/never-written/);
      await s.drained(0);
      for (const dest of s.dests) assert.equal(await dest.head('missing/never-written'), null);
    });

    it(
      'copies a key announced again while it is being copied once more, ' +
        'so the destinations end with its last version',
      async () => {
        const key = 'again/big';
        const size = 8 * 1024 * 1024;
        const v1 = Buffer.alloc(size, 1);
        const v2 = Buffer.alloc(size, 2);
        await s.source.put(key, v1, { contentLength: size });
        await publish(key, { config: s.config });
        await s.source.put(key, v2, { contentLength: size });
        await publish(key, { config: s.config });
        markers.push(markerKey(key));
        const want = createHash('md5').update(v2).digest('hex');
        await waitFor('the last version everywhere', async () => {
          for (const dest of s.dests) if ((await dest.head(key))?.etag !== want) return false;
          return true;
        });
        await s.drained();
      },
    );
  });
}

describe('s3s3listen start-up and logs', () => {
  const [a, b] = [servers[0]!, servers[1] ?? servers[0]!];

  it('refuses [pubsub] sns = true at start-up with a clear error (exit 2)', async () => {
    const dir = tempDir('sns');
    const file = join(dir, 's3s3.ini');
    writeFileSync(
      file,
      sectionIni('source', a, 'src-bucket') +
        sectionIni('dest1', b, 'dst-bucket') +
        `[pubsub]\nredis = true\nsns = true\nredis_url = ${redisUrl()}\n`,
      { mode: 0o600 },
    );
    const r = await runScript('listen', ['--config', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /\[pubsub\] sns: SNS is not supported by s3s3/);
  });

  it('refuses a config without Redis (exit 2)', async () => {
    const dir = tempDir('noredis');
    const file = join(dir, 's3s3.ini');
    writeFileSync(file, sectionIni('source', a, 'src-bucket') + sectionIni('dest1', b, 'dst-bucket'), { mode: 0o600 });
    const r = await runScript('listen', ['--config', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /the listener needs Redis/);
  });

  it('runs in-process as a library: ListenClient start/stop, publish(), marker off', async () => {
    const s = await setup({
      source: a,
      dests: [a, b],
      redisUrl: redisUrl(),
      label: 'library',
      pubsub: { marker: false },
    });
    const settled: SettledEvent[] = [];
    const client = new ListenClient(s.config, { concurrency: 4, onSettled: (e) => settled.push(e) });
    try {
      await client.start();
      const keys = ['lib/1', 'lib/2 \u00e9', 'lib/gone'];
      for (const k of keys.slice(0, 2)) await s.source.put(k, Buffer.from(k), { contentLength: Buffer.byteLength(k) });
      await publish(keys, { config: s.config });
      await waitFor('three keys settled', () => settled.length === 3);
      await client.idle();
      assert.deepEqual(settled.map((e) => [e.key, e.outcome]).sort(), [
        ['lib/1', 'copied'],
        ['lib/2 \u00e9', 'copied'],
        ['lib/gone', 'gone'],
      ]);
      for (const k of keys.slice(0, 2)) assert.ok(await everywhere(s.dests, k, Buffer.from(k)));
      assert.equal(client.stats.copied, 2);
      assert.equal(client.stats.gone, 1);
      assert.equal(await s.redis.call('EXISTS', markerKey('lib/1')), 0, 'marker = false sets no marker');
      assert.deepEqual(
        { ...(await s.counts()), oldestWaitingSeconds: 0 },
        { waiting: 0, active: 0, delayed: 0, failed: 0, oldestWaitingSeconds: 0 },
      );
      // Printing the client shows no secret.
      const shown = inspect(client);
      assert.match(shown, /ListenClient/);
      assert.ok(!shown.includes(a.secretKey) && !shown.includes(b.secretKey), shown);
    } finally {
      await client.stop();
      await client.stop();
      await s.cleanup();
    }
  });

  it('logs JSON lines with --log-format json, and never a secret', async () => {
    const password = `pw-${randomBytes(6).toString('hex')}`;
    const s = await setup({ source: a, dests: [b], redisUrl: redisUrl(), label: 'jsonlog' });
    try {
      const d = Daemon.start(s.file, ['--log-format', 'json']);
      await d.waitForLine(/"msg":"listening"/);
      await s.source.put('json-log/k', Buffer.from('v'), { contentLength: 1 });
      await publish('json-log/k', { config: s.config });
      const line = await d.waitForLine(/"msg":"copied"/);
      const rec = JSON.parse(line) as Record<string, unknown>;
      assert.equal(rec.level, 'info');
      assert.equal(rec.key, 'json-log/k');
      assert.deepEqual(rec.destinations, ['dest1']);
      assert.equal(rec.bytes, 1);
      assert.equal(typeof rec.ms, 'number');
      d.kill('SIGTERM');
      assert.equal((await d.exited).code, 0);
      for (const l of d.lines) JSON.parse(l);
      const all = d.lines.join('\n');
      assert.ok(!all.includes(a.secretKey) && !all.includes(b.secretKey), 'no S3 secret in the log');
      await s.redis.call('DEL', markerKey('json-log/k'));

      // A password in redis_url is masked in every line (checked with --check-config, which logs the URL).
      const masked = s.file.replace(/s3s3\.ini$/, 'masked.ini');
      writeFileSync(
        masked,
        sectionIni('source', a, 'src-bucket') +
          sectionIni('dest1', b, 'dst-bucket') +
          `[pubsub]\nredis = true\nredis_url = redis://:${password}@127.0.0.1:6379/0\n`,
        { mode: 0o600 },
      );
      const r = await runScript('listen', ['--config', masked, '--check-config']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /redis=redis:\/\/:\*\*\*@127\.0\.0\.1:6379\/0/);
      assert.ok(!r.stderr.includes(password));
    } finally {
      await s.cleanup();
    }
  });
});
