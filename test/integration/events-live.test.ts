/**
 * The providers' own events, end to end with no publish at all: the test Ceph RGW gets a
 * persistent topic whose push endpoint is s3s3listen's POST /events (with the events token in
 * the query, as a push endpoint cannot send headers) and a notification on the source bucket;
 * objects of every key shape are put, overwritten and deleted in Ceph, and the replica on
 * Swift (delete = true) ends exactly as the source: the second version of each surviving key,
 * none of the deleted ones. Ceph posts a key's events out of order (SERVERS.md): the worker
 * reads the source, so the order does not matter.
 */
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { markerKey } from '../../src/api/worker/settle.js';
import { notifyTo, type CephNotification } from '../helpers/ceph-notify.js';
import { KEY_SHAPES } from '../helpers/keys.js';
import { redisUrl, testServers } from '../helpers/servers.js';
import { closedPort, Daemon, setup, waitFor, type Setup } from '../helpers/listen.js';

const servers = testServers();
const ceph = servers.find((s) => s.name === 'ceph');
const swift = servers.find((s) => s.name === 'swift');
if (!ceph || !swift) throw new Error('this test needs the ceph and swift test servers (S3S3TEST_SERVERS)');
const TOKEN = 'live-events-token-0123456789';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const v1 = (i: number, key: string) => Buffer.from(`v1 ${i} ${key}`);
const v2 = (i: number, key: string) => Buffer.from(`second version ${i} of ${key}`);

describe('Ceph bucket notifications -> s3s3listen POST /events -> Swift, no publish', { timeout: 300_000 }, () => {
  let s: Setup;
  let d: Daemon;
  let notification: CephNotification | undefined;

  before(async () => {
    const port = await closedPort();
    s = await setup({
      source: ceph,
      dests: [swift],
      redisUrl: redisUrl(),
      label: 'live',
      http: { port, events_token: TOKEN },
      destExtra: { delete: true },
    });
    d = Daemon.start(s.file, ['--log-format', 'json', '--concurrency', '8']);
    await d.waitForLine(/"msg":"listening"/);
    notification = await notifyTo(ceph, s.config.source.bucket, `http://127.0.0.1:${port}/events?token=${TOKEN}`);
  });
  after(async () => {
    await notification?.remove().catch(() => undefined);
    await d.dispose();
    await s.redis.call('DEL', ...KEY_SHAPES.map(markerKey)).catch(() => undefined);
    await s.cleanup();
  });

  it('puts, overwrites and deletes of every key shape reach the replica', async () => {
    // Directory markers ("a/") stay empty; the rest get two versions, and every third is deleted.
    const isMarker = (k: string) => k.endsWith('/');
    const deleted = new Set(KEY_SHAPES.filter((_k, i) => i % 3 === 1));
    for (const [i, key] of KEY_SHAPES.entries()) {
      const body = isMarker(key) ? Buffer.alloc(0) : v1(i, key);
      await s.source.put(key, body, { contentLength: body.length });
    }
    for (const [i, key] of KEY_SHAPES.entries()) {
      if (isMarker(key)) continue;
      await s.source.put(key, v2(i, key), { contentLength: v2(i, key).length });
    }
    for (const key of deleted) await s.source.delete(key);

    const dest = s.dests[0]!;
    const settled = async (): Promise<string[]> => {
      const wrong: string[] = [];
      for (const [i, key] of KEY_SHAPES.entries()) {
        const head = await dest.head(key);
        if (deleted.has(key)) {
          if (head !== null) wrong.push(`${JSON.stringify(key)} still in the replica`);
        } else if (head === null) wrong.push(`${JSON.stringify(key)} missing`);
        else if (!isMarker(key) && head.etag !== md5(v2(i, key)))
          wrong.push(`${JSON.stringify(key)} not the second version`);
      }
      return wrong;
    };
    let last: string[] = [];
    // A new persistent topic's first event takes ~15 s (RGW finds new queues on a timer).
    await waitFor(
      'the replica to match the source',
      async () => {
        last = await settled();
        return last.length === 0;
      },
      240_000,
      1000,
    ).catch((err: unknown) =>
      assert.fail(
        `${String(err)}\n${last.slice(0, 20).join('\n')}\n${d.lines
          .filter((l) => /refused|error/.test(l))
          .slice(0, 10)
          .join('\n')}`,
      ),
    );
    assert.equal(d.matching(/events refused/).length, 0, d.matching(/events refused/).join('\n'));
    assert.equal(d.child.exitCode, null);
    // Every key went through the daemon (there was no publish and no sweep): each was settled.
    const settledKeys = new Set<string>();
    for (const l of d.lines) {
      try {
        const rec = JSON.parse(l) as { msg?: string; key?: string };
        if (rec.key !== undefined && /^(copied|already in place|deleted|not in the source bucket)/.test(rec.msg ?? ''))
          settledKeys.add(rec.key);
      } catch {
        // not a log line
      }
    }
    assert.deepEqual(
      KEY_SHAPES.filter((k) => !settledKeys.has(k)),
      [],
      'every key settled by the daemon',
    );
  });
});
