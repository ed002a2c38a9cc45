/**
 * The test Ceph RGW pushes bucket notifications (test/helpers/ceph-notify.ts) and every body it
 * sends parses (parseEvents) into exactly the jobs the writes call for: every key shape byte for
 * byte, puts, overwrites, a server-side copy, a multipart upload and deletes, with their sizes;
 * a foreign bucket's bodies are refused.
 *
 * What Ceph RGW 16.2.15 sends (persistent topic, HTTP push endpoint), as seen here:
 * - one POST per event, `Content-Type: application/json`, no Authorization header; the push
 *   endpoint's query string arrives as given (so a `?token=` can authenticate Ceph);
 * - `{"Records":[<one record>]}`, `eventSource` `ceph:s3`, `eventName` without `s3:`
 *   (`ObjectCreated:Put`, `ObjectCreated:Copy`, `ObjectCreated:CompleteMultipartUpload`,
 *   `ObjectRemoved:Delete`), the key raw (control characters JSON-escaped), `eTag` unquoted;
 * - a delete's record carries the deleted object's size and eTag; deleting a key that never
 *   existed still notifies, with size 0 and eTag "";
 * - a new persistent topic's first event arrives only after ~15 s (RGW finds new queues on a
 *   timer), later ones within ~100 ms; the topic ARN is `arn:aws:sns:default::<name>`;
 * - events of one key do not arrive in the order of the writes: RGW posts a queue's events
 *   concurrently, and a key's delete came before its two puts in 5 of 94 keys in one run (the
 *   `sequencer` is no help: not monotonic). Ops are hints; the worker must read the source;
 * - an answer other than 2xx is retried at once, with no backoff (500-1000 POSTs a second), and
 *   the events queued behind it are re-sent with it, even those already answered 200, until the
 *   first is accepted: a 400 Ceph can never cure (a foreign bucket) is a retry storm, each
 *   re-sent event a duplicate job. Ceph 16 topics have no retry limit or time to live.
 * - an empty NotificationConfiguration is refused (MalformedXML, "at least one
 *   'TopicConfiguration' must exist"): notifications go with Ceph's `DELETE /<bucket>?notification`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseEvents, type EventJob } from '../../src/api/intake/events.js';
import { S3Store } from '../../src/api/store/s3-store.js';
import { notifyTo, type CephNotification } from '../helpers/ceph-notify.js';
import { KEY_SHAPES } from '../helpers/keys.js';
import { endpointConfig, testServers, uniqueBucket } from '../helpers/servers.js';

interface Received {
  readonly url: string;
  readonly contentType: string | undefined;
  readonly authorization: string | undefined;
  readonly body: Buffer;
}

const ceph = testServers().find((s) => s.name === 'ceph');
if (ceph === undefined)
  throw new Error('no test server named ceph in S3S3TEST_SERVERS: this test proves Ceph RGW notifications');

/** Sizes differ between the first write and the overwrite, so the size hint tells them apart. */
const firstSize = (i: number) => 3 + (i % 5);
const secondSize = (i: number) => firstSize(i) + 10;

describe('Ceph RGW bucket notifications reach an HTTP endpoint and parse into jobs', { timeout: 120_000 }, () => {
  const received: Received[] = [];
  let server: Server;
  let base: string;
  const cleanups: Array<() => Promise<unknown>> = [];

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({
          url: req.url ?? '',
          contentType: req.headers['content-type'],
          authorization: req.headers.authorization,
          body: Buffer.concat(chunks),
        });
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it(
    'every key shape put, overwritten and deleted, a copy and a multipart upload: exactly the expected jobs; ' +
      'a foreign bucket refused',
    async () => {
      const source = new S3Store(endpointConfig(ceph, uniqueBucket('notify-src')));
      const foreign = new S3Store(endpointConfig(ceph, uniqueBucket('notify-foreign')));
      for (const store of [source, foreign]) {
        await store.createBucket();
        cleanups.push(() => store.destroyBucket());
      }
      const notifications: CephNotification[] = [];
      for (const [store, path] of [
        [source, '/events/source?token=t0k3n'],
        [foreign, '/events/foreign?token=t0k3n'],
      ] as const) {
        const n = await notifyTo(ceph, store.bucket, base + path);
        assert.match(n.topicArn, /^arn:aws:sns:/);
        notifications.push(n);
        cleanups.push(() => n.remove());
      }

      // The writes, and the events each must produce (op and size hint, per key).
      const expected = new Map<string, string[]>();
      const expect = (key: string, event: string) => expected.set(key, [...(expected.get(key) ?? []), event]);
      const shapes = [...KEY_SHAPES.entries()];
      const workers = Array.from({ length: 6 }, async () => {
        for (let next = shapes.shift(); next !== undefined; next = shapes.shift()) {
          const [i, key] = next;
          await source.put(key, Buffer.alloc(firstSize(i), 'a'), { contentLength: firstSize(i) });
          await source.put(key, Buffer.alloc(secondSize(i), 'b'), { contentLength: secondSize(i) });
          await source.delete(key);
          expect(key, `put ${firstSize(i)}`);
          expect(key, `put ${secondSize(i)}`);
          expect(key, 'delete');
        }
      });
      await Promise.all(workers);

      const copied = 'copy/\u0001 \u00e9+%20';
      await source.put('copy-from', Buffer.from('copy me'), { contentLength: 7 });
      await source.copyFrom(source, 'copy-from', copied);
      expect('copy-from', 'put 7');
      expect(copied, 'put 7');
      const multipart = 'mp/ a+b%20\u{1F600}';
      const part1 = Buffer.alloc(5 * 1024 * 1024, 1);
      const uploadId = await source.createMultipart(multipart, {});
      const e1 = await source.uploadPart(multipart, uploadId, 1, part1, { contentLength: part1.length });
      const e2 = await source.uploadPart(multipart, uploadId, 2, Buffer.from('tail'), { contentLength: 4 });
      await source.completeMultipart(multipart, uploadId, [
        { partNumber: 1, etag: e1 },
        { partNumber: 2, etag: e2 },
      ]);
      expect(multipart, `put ${part1.length + 4}`);
      for (const k of ['copy-from', copied, multipart]) {
        await source.delete(k);
        expect(k, 'delete');
      }
      await foreign.put('foreign \u0001', Buffer.from('x'), { contentLength: 1 });
      await foreign.delete('foreign \u0001');

      const total = [...expected.values()].reduce((n, events) => n + events.length, 0);
      const fromSource = () => received.filter((r) => r.url.startsWith('/events/source'));
      const fromForeign = () => received.filter((r) => r.url.startsWith('/events/foreign'));
      // A new persistent topic is picked up on RGW's timer (~15 s here); the rest follow at once.
      const deadline = Date.now() + 60_000;
      while ((fromSource().length < total || fromForeign().length < 2) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 200));

      // Every body from the source bucket parses; the jobs are exactly the writes' events.
      const got = new Map<string, string[]>();
      const jobs: EventJob[] = [];
      for (const r of fromSource()) {
        assert.equal(r.contentType, 'application/json');
        assert.equal(r.authorization, undefined);
        assert.ok(r.url.endsWith('?token=t0k3n'), `the push endpoint's query string arrives: ${r.url}`);
        const parsed = parseEvents(r.body, source.bucket);
        assert.equal(
          parsed.kind,
          'jobs',
          parsed.kind === 'refused' ? `${parsed.reason} in ${r.body.toString('utf8')}` : parsed.kind,
        );
        if (parsed.kind !== 'jobs') continue;
        assert.equal(parsed.ignored, 0);
        jobs.push(...parsed.jobs);
      }
      for (const j of jobs) {
        if (j.op === 'put')
          assert.equal(
            j.hints?.etag?.length,
            j.key === multipart ? 34 : 32,
            `an MD5 (or multipart) eTag hint for ${JSON.stringify(j.key)}`,
          );
        else assert.equal(j.hints, undefined, 'a delete carries no hints');
        got.set(j.key, [...(got.get(j.key) ?? []), j.op === 'put' ? `put ${j.hints?.size}` : 'delete']);
      }
      const sortedEvents = (m: Map<string, string[]>) => new Map([...m].map(([k, v]) => [k, [...v].sort()]));
      assert.deepEqual(sortedEvents(got), sortedEvents(expected), `${jobs.length} jobs for ${total} writes`);
      for (const key of expected.keys()) {
        const arrived = jobs.find((j) => Buffer.from(j.key, 'utf8').equals(Buffer.from(key, 'utf8')));
        assert.ok(arrived, `key ${JSON.stringify(key)} arrives byte for byte`);
      }

      // The foreign bucket's bodies are refused, naming both buckets.
      assert.equal(fromForeign().length, 2);
      for (const r of fromForeign()) {
        const parsed = parseEvents(r.body, source.bucket);
        assert.equal(parsed.kind, 'refused');
        if (parsed.kind === 'refused') {
          assert.ok(
            parsed.reason.includes(`"${foreign.bucket}"`) &&
              parsed.reason.includes(`this s3s3 replicates bucket "${source.bucket}"`),
            parsed.reason,
          );
        }
      }
    },
  );
});
