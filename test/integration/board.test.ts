/**
 * bull-board at /queues (src/api/http/board.ts) on a real queue in the test's redis-server,
 * mounted on a node:http server as the daemon mounts it: the page and its JSON answer (to
 * anyone without an admin token; with one, only with it); a retry is refused (401, the job still failed) on a
 * read-only board and without the right
 * admin token; with the token as a Bearer header, or as the cookie a browser gets from
 * `?token=`, the failed job goes back to the queue (deduplicated per key); the token is in
 * no response and no log line.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/api/config.js';
import { createLogger } from '../../src/api/log.js';
import { QueueWorker, SyncQueue } from '../../src/api/queue/queue.js';
import { createBoard, type BoardOptions } from '../../src/api/http/board.js';
import { redisUrl, sectionIni, testServers } from '../helpers/servers.js';
import { waitFor } from '../helpers/listen.js';

const [server] = testServers();
const BASE = '/queues';
const TOKEN = `tok-${randomBytes(12).toString('hex')}`;
const KEYS = ['board/one', 'board/two (cookie)', 'board/three'];

interface Mounted {
  readonly url: string;
  readonly lines: string[];
  close(): Promise<void>;
}

/** The board mounted under /queues of a plain node:http server, as the daemon's server does. */
async function mount(queue: SyncQueue, o: Omit<BoardOptions, 'basePath' | 'logger'>): Promise<Mounted> {
  const lines: string[] = [];
  const board = createBoard(queue, {
    basePath: BASE,
    ...o,
    logger: createLogger({ level: 'debug', write: (l) => lines.push(l) }),
  });
  const srv = http.createServer((req, res) => {
    if ((req.url ?? '').startsWith(BASE)) return board(req, res);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    lines,
    async close() {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    },
  };
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

async function call(url: string, method = 'GET', headers: Record<string, string> = {}): Promise<Answer> {
  const r = await fetch(url, { method, headers, redirect: 'manual' });
  return { status: r.status, headers: r.headers, body: await r.text() };
}

describe('bull-board at /queues', () => {
  const config = parseConfig(
    sectionIni('source', server!, 'board-src') +
      sectionIni('dest1', server!, 'board-dst') +
      `[pubsub]\nredis_url = ${redisUrl()}\nqueue = t-board-${randomBytes(4).toString('hex')}\n`,
    { file: 'board.ini' },
  );
  const queue = new SyncQueue(config, { name: 'test-board' });
  const mounted: Mounted[] = [];
  const failedIds = new Map<string, string>();

  const failedKeys = async (): Promise<string[]> => (await queue.failed()).map((f) => f.key).sort();
  const retryUrl = (m: Mounted, key: string): string =>
    `${m.url}${BASE}/api/queues/${encodeURIComponent(queue.name)}/${failedIds.get(key)!}/retry`;

  before(async () => {
    // Jobs that fail for good through the real worker (3 attempts, 1 s then 2 s of backoff).
    for (const k of KEYS) await queue.add(k);
    const worker = new QueueWorker(config, {
      concurrency: 3,
      name: 'test-board-worker',
      run: async () => ({ kind: 'failed', error: 'boom' }),
    });
    worker.start();
    try {
      await waitFor('three failed jobs', async () => (await queue.counts()).failed === 3, 30_000, 200);
    } finally {
      await worker.close(5000);
    }
    for (const f of await queue.failed()) failedIds.set(f.key, f.id);
    assert.deepEqual([...failedIds.keys()].sort(), [...KEYS].sort());
  });

  after(async () => {
    for (const m of mounted) await m.close();
    await queue.obliterate().catch(() => undefined);
    await queue.close();
  });

  it(
    'without an admin token: the page and its JSON answer, ' + 'and a retry is refused with 401, the job still failed',
    async () => {
      const m = await mount(queue, {});
      mounted.push(m);
      const page = await call(`${m.url}${BASE}`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /text\/html/);
      assert.match(page.body, /<html/i);

      const api = await call(
        `${m.url}${BASE}/api/queues?activeQueue=${encodeURIComponent(queue.name)}&status=failed&page=1&jobsPerPage=10`,
      );
      assert.equal(api.status, 200);
      const listed = JSON.parse(api.body) as {
        queues: {
          name: string;
          readOnlyMode: boolean;
          counts: Record<string, number>;
          jobs: { data: { key: string } }[];
        }[];
      };
      const q = listed.queues.find((x) => x.name === queue.name);
      assert.ok(q, `the queue is listed: ${api.body.slice(0, 500)}`);
      assert.equal(q.counts.failed, 3);
      assert.equal(q.readOnlyMode, true, 'the UI shows no buttons');
      assert.deepEqual(q.jobs.map((j) => j.data.key).sort(), [...KEYS].sort());

      for (const headers of [{}, { authorization: `Bearer ${TOKEN}` }] as Record<string, string>[]) {
        const r = await call(retryUrl(m, KEYS[0]!), 'PUT', headers);
        assert.equal(r.status, 401);
        assert.match(JSON.parse(r.body).error, /read-only: set \[http\] admin_token/);
      }
      // bull-board's other changes too, e.g. cleaning the failed set.
      const clean = await call(`${m.url}${BASE}/api/queues/${encodeURIComponent(queue.name)}/clean/failed`, 'PUT');
      assert.equal(clean.status, 401);
      assert.deepEqual(await failedKeys(), [...KEYS].sort());
      assert.ok(
        m.lines.some((l) => /refused a change \(the board is read-only\)/.test(l)),
        m.lines.join('\n'),
      );
    },
  );

  it(
    'with an admin token: no or a wrong Bearer → 401 and nothing changes; the right Bearer re-queues the job, ' +
      'deduplicated per key',
    async () => {
      const m = await mount(queue, { adminToken: TOKEN });
      mounted.push(m);
      for (const headers of [
        {},
        { authorization: `Bearer ${TOKEN}x` },
        { authorization: 'Bearer ' },
        { authorization: `Basic ${TOKEN}` },
        { cookie: `s3s3_board=${TOKEN}` },
      ] as Record<string, string>[]) {
        const r = await call(retryUrl(m, KEYS[0]!), 'PUT', headers);
        assert.equal(r.status, 401, JSON.stringify(headers));
        assert.match(JSON.parse(r.body).error, /needs the admin token/);
        assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="s3s3"');
      }
      assert.deepEqual(await failedKeys(), [...KEYS].sort());

      const ok = await call(retryUrl(m, KEYS[0]!), 'PUT', { authorization: `Bearer ${TOKEN}` });
      assert.equal(ok.status, 204, ok.body);
      assert.deepEqual(await failedKeys(), [KEYS[1]!, KEYS[2]!].sort());
      assert.equal((await queue.counts()).waiting, 1, 'the key waits again');
      // Re-queued with the key's deduplication id (BullMQ's Job.retry would drop it): announcing the key again
      // adds nothing.
      await queue.add(KEYS[0]!);
      assert.equal((await queue.counts()).waiting, 1, 'one job per key');
      assert.ok(m.lines.some((l) => /admin action/.test(l)));
    },
  );

  it(
    'with an admin token: every read (page, static asset, JSON of the jobs, HEAD) needs it too; ' +
      'Bearer or the cookie pass',
    async () => {
      const m = await mount(queue, { adminToken: TOKEN });
      mounted.push(m);
      const page = await call(`${m.url}${BASE}`, 'GET', { authorization: `Bearer ${TOKEN}` });
      assert.equal(page.status, 200);
      const asset = /href="(static\/css\/[^"]+)"/.exec(page.body)?.[1];
      assert.ok(asset, `the page names a static asset: ${page.body.slice(0, 800)}`);
      const reads: Array<[string, string]> = [
        ['GET', `${m.url}${BASE}`],
        ['HEAD', `${m.url}${BASE}`],
        ['GET', `${m.url}${BASE}/${asset}`],
        [
          'GET',
          `${m.url}${BASE}/api/queues?activeQueue=${encodeURIComponent(queue.name)}` +
            `&status=failed&page=1&jobsPerPage=10`,
        ],
        ['GET', `${m.url}${BASE}/api/queues/${encodeURIComponent(queue.name)}/${failedIds.get(KEYS[2]!)!}`],
        ['GET', `${m.url}${BASE}/api/queues/${encodeURIComponent(queue.name)}/${failedIds.get(KEYS[2]!)!}/logs`],
      ];
      const session = (await call(`${m.url}${BASE}?token=${TOKEN}`)).headers.get('set-cookie')!.split(';')[0]!;
      for (const [method, url] of reads) {
        for (const headers of [
          {},
          { authorization: `Bearer ${TOKEN}x` },
          { authorization: `Basic ${TOKEN}` },
          { cookie: `s3s3_board=${TOKEN}` },
          { cookie: 's3s3_board=' },
        ] as Record<string, string>[]) {
          const r = await call(url, method, headers);
          assert.equal(r.status, 401, `${method} ${url} ${JSON.stringify(headers)}`);
          assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="s3s3"');
          for (const k of KEYS) assert.ok(!r.body.includes(k), `no key in a refusal: ${r.body}`);
          if (method === 'GET') assert.match(JSON.parse(r.body).error, /needs the admin token/);
        }
        for (const headers of [{ authorization: `Bearer ${TOKEN}` }, { cookie: session }] as Record<string, string>[]) {
          const r = await call(url, method, headers);
          assert.equal(r.status, 200, `${method} ${url} ${JSON.stringify(headers)}: ${r.body.slice(0, 200)}`);
        }
      }
      const api = await call(reads[4]![1], 'GET', { cookie: session });
      assert.ok(api.body.includes(KEYS[2]!), 'with the token the jobs and their keys are listed');
      assert.ok(
        m.lines.some((l) => /refused a read without the admin token/.test(l)),
        m.lines.join('\n'),
      );
    },
  );

  it(
    '?token= sets an HttpOnly SameSite=Strict cookie (not the token) ' + 'for the buttons; a wrong one is refused',
    async () => {
      const m = await mount(queue, { adminToken: TOKEN });
      mounted.push(m);
      const wrong = await call(`${m.url}${BASE}?token=nope`);
      assert.equal(wrong.status, 401);
      assert.equal(wrong.headers.get('set-cookie'), null);

      const open = await call(`${m.url}${BASE}?token=${TOKEN}&x=1`);
      assert.equal(open.status, 303);
      assert.equal(open.headers.get('location'), `${BASE}?x=1`, 'the token leaves the address bar');
      const cookie = open.headers.get('set-cookie') ?? '';
      assert.match(cookie, /^s3s3_board=[^;]+; Path=\/queues; HttpOnly; SameSite=Strict$/);
      assert.ok(!cookie.includes(TOKEN), 'the cookie is not the token');

      const pair = cookie.split(';')[0]!;
      const page = await call(`${m.url}${BASE}`, 'GET', { cookie: pair });
      assert.equal(page.status, 200);
      const r = await call(retryUrl(m, KEYS[1]!), 'PUT', { cookie: `other=1; ${pair}` });
      assert.equal(r.status, 204, r.body);
      assert.deepEqual(await failedKeys(), [KEYS[2]!]);

      // Other changes pass through to bull-board with the cookie: remove a failed job.
      const clean = await call(retryUrl(m, KEYS[2]!).replace(/\/retry$/, '/clean'), 'PUT', { cookie: pair });
      assert.ok(clean.status >= 200 && clean.status < 300, `${clean.status} ${clean.body}`);
      assert.deepEqual(await failedKeys(), []);
    },
  );

  it('the token is in no log line', () => {
    const lines = mounted.flatMap((m) => m.lines);
    assert.ok(lines.length > 0);
    for (const l of lines) assert.ok(!l.includes(TOKEN), l);
  });
});
