/**
 * No stale write survives (issue 17, defect 2). A sweep reads v1 of a small object and is slow
 * to upload it (a slow or distant destination: here a fault proxy holds its PUT); meanwhile
 * the source is overwritten with v2 and a worker copies v2 straight to the destination. S3
 * servers keep the write that completes last, so the sweep's v1 lands over v2, and no event
 * will ever come to fix it. Once the sweep has returned (no further sweep, no further event),
 * every destination must hold v2. The same race between two workers: a job whose lock was lost
 * during a slow copy (a Redis blip longer than the lock) runs again elsewhere and copies v2,
 * while the first one's write of v1 is still on its way.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { S3Store } from '../../src/api/store/s3-store.js';
import { syncKey } from '../../src/api/sync/sync-key.js';
import { blindPlan } from '../../src/api/worker/worker.js';
import { FaultProxy, isOp } from '../helpers/fault-proxy.js';
import { runBucketCli } from '../helpers/fault-rig.js';
import { waitFor } from '../helpers/listen.js';
import { dropStore, freshStore, md5Hex, readAll } from '../helpers/seed.js';
import { destConfig, sectionIni, testServers, uniqueBucket, type TestServer } from '../helpers/servers.js';

const servers = testServers();
const ceph: TestServer = servers.find((s) => s.name === 'ceph') ?? servers[0]!;
const swift: TestServer | undefined = servers.find((s) => s.name === 'swift');

/** How long the proxy holds the sweep's PUT: long enough for the worker's copy to land first. */
const HOLD_MS = 4000;

async function bodyOf(store: S3Store, key: string): Promise<Buffer | null> {
  if ((await store.head(key)) === null) return null;
  return readAll((await store.get(key)).body);
}

describe(`a sweep's slow PUT of an older version never stays (source ${ceph.name})`, () => {
  const stores: S3Store[] = [];
  const proxies: FaultProxy[] = [];
  after(async () => {
    for (const p of proxies) await p.stop();
    for (const s of stores) await dropStore(s).catch(() => {});
  });

  const layouts: Array<{ label: string; dests: TestServer[] }> = [{ label: 'one destination (ceph)', dests: [ceph] }];
  if (swift) layouts.push({ label: `two destinations (${ceph.name}, ${swift.name})`, dests: [ceph, swift] });

  for (const layout of layouts) {
    it(
      `${layout.label}: the sweep read v1, a worker copied v2 meanwhile, the sweep's v1 PUT completes last; ` +
        `the destination ends with v2`,
      { timeout: 120_000 },
      async () => {
        const src = await freshStore(ceph, uniqueBucket('stale-src'));
        stores.push(src);
        const dsts: S3Store[] = [];
        const slow: FaultProxy[] = [];
        let ini = sectionIni('source', ceph, src.bucket, { read_timeout: 30 });
        for (const [i, server] of layout.dests.entries()) {
          const dst = await freshStore(server, uniqueBucket(`stale-d${i + 1}`));
          stores.push(dst);
          dsts.push(dst);
          const proxy = new FaultProxy(server.endpoint);
          proxies.push(proxy);
          slow.push(proxy);
          const url = await proxy.start();
          ini += sectionIni(`dest${i + 1}`, { ...server, endpoint: url }, dst.bucket, { read_timeout: 30 });
        }
        const key = 'stale/obj \u00e9 \u0001';
        const v1 = randomBytes(3000);
        const v2 = randomBytes(3100);
        await src.put(key, v1, { contentLength: v1.length, metadata: { version: 'v1' } });
        // The sweep's PUT of this key is held at each slow destination (the body waits in the proxy).
        const holds = slow.map((p, i) =>
          p.inject(isOp('PutObject', dsts[i]!.bucket, key), { kind: 'delay', ms: HOLD_MS }, 1),
        );

        const sweep = runBucketCli(ini, ['--json'], 90_000);
        await waitFor(
          'the sweep to send its PUT of v1 to every destination',
          () => holds.every((h) => h.hits === 1),
          30_000,
          20,
        );

        // The application overwrites the key; a worker copies v2 straight to each destination.
        await src.put(key, v2, { contentLength: v2.length, metadata: { version: 'v2' } });
        const worker = await syncKey(src, dsts, key);
        const workerOutcomes = worker.results.map((r, i) => `dest${i + 1} ${r.outcome}`);
        const afterWorker = await Promise.all(dsts.map(async (d) => md5Hex((await bodyOf(d, key)) ?? Buffer.alloc(0))));

        const run = await sweep;
        assert.equal(run.code, 0, `the sweep succeeded: ${run.stderr}`);

        // No further sweep, no further event: what a user reads now is what stays.
        const found: string[] = [];
        for (const [i, d] of dsts.entries()) {
          const got = await bodyOf(d, key);
          const head = await d.head(key);
          const which =
            got === null
              ? 'nothing'
              : got.equals(v2)
                ? 'v2'
                : got.equals(v1)
                  ? 'v1 (stale)'
                  : `other bytes (${got.length})`;
          if (which !== 'v2' || head?.metadata.version !== 'v2')
            found.push(
              `[dest${i + 1} on ${layout.dests[i]!.name}] ${JSON.stringify(key)} holds ${which}, ` +
                `metadata version ${JSON.stringify(head?.metadata.version)}`,
            );
        }
        assert.deepEqual(
          found,
          [],
          `after the sweep returned, every destination holds the source's v2: ${JSON.stringify(found)} (worker: ` +
            `${JSON.stringify(workerOutcomes)}; right after the worker: ${JSON.stringify(
              afterWorker.map((m) => (m === md5Hex(v2) ? 'v2' : m === md5Hex(v1) ? 'v1' : m)),
            )}; sweep summary: ${run.stdout.trim().slice(0, 400)})`,
        );
      },
    );
  }
  it(
    "two workers on one key (a job's lock lost mid-copy): the first one's slow write of v1 lands after the " +
      "second's v2; the destination ends with v2",
    { timeout: 120_000 },
    async () => {
      const src = await freshStore(ceph, uniqueBucket('stale-lock-src'));
      const dst = await freshStore(ceph, uniqueBucket('stale-lock-dst'));
      stores.push(src, dst);
      const proxy = new FaultProxy(ceph.endpoint);
      proxies.push(proxy);
      const url = await proxy.start();
      // The first worker reaches the destination through the slow link, the second directly.
      const slowDst = new S3Store(destConfig({ ...ceph, endpoint: url }, dst.bucket, { read_timeout: 30 }));
      try {
        const key = 'stale/lock lost \u{1F600}';
        const v1 = randomBytes(5000);
        const v2 = randomBytes(5100);
        await src.put(key, v1, { contentLength: v1.length, metadata: { version: 'v1' } });
        const hold = proxy.inject(isOp('PutObject', dst.bucket, key), { kind: 'delay', ms: HOLD_MS }, 1);
        // An event with its size: the worker's first attempt, GET then PUT (blind).
        const first = syncKey(src, [slowDst], key, blindPlan({ op: 'put', attempt: 1, hints: { size: v1.length } }));
        await waitFor('the first worker to send its PUT of v1', () => hold.hits === 1, 30_000, 20);
        await src.put(key, v2, { contentLength: v2.length, metadata: { version: 'v2' } });
        const second = await syncKey(src, [dst], key, blindPlan({ op: 'put', attempt: 1, hints: { size: v2.length } }));
        const firstResult = await first;
        const got = await bodyOf(dst, key);
        const which =
          got === null
            ? 'nothing'
            : got.equals(v2)
              ? 'v2'
              : got.equals(v1)
                ? 'v1 (stale)'
                : `other bytes (${got.length})`;
        assert.equal(
          which,
          'v2',
          `after both workers returned, the destination holds the source's v2, not ${which} (first: ` +
            `${JSON.stringify(firstResult.results.map((r) => r.outcome))}, second: ` +
            `${JSON.stringify(second.results.map((r) => r.outcome))})`,
        );
        assert.equal((await dst.head(key))?.metadata.version, 'v2', "and v2's metadata");
      } finally {
        slowDst.close();
      }
    },
  );
});
