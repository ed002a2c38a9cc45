/**
 * The sweep's listing read as parallel key ranges (`list_parallel`) gives back exactly the keys
 * of a plain listing, each once, in UTF-8 byte order: every key shape, NFC/NFD twins, astral
 * characters and 1024-byte keys, with pages so small that every key sits at a page edge, on
 * Ceph, Swift's s3api and Swift's native API, under a prefix too. A listing that stops with an
 * error fails the sweep's listing instead of ending early.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ObjectStore } from '../../src/api/store/object-store.js';
import { S3Store } from '../../src/api/store/s3-store.js';
import { SwiftStore } from '../../src/api/store/swift-store.js';
import { orderedListing } from '../../src/api/sweep/ordered.js';
import { FaultProxy, isList } from '../helpers/fault-proxy.js';
import { endpointConfig, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, putAll } from '../helpers/seed.js';
import { KEY_SHAPES, ORDER_KEYS } from '../helpers/keys.js';
import { TWINS } from './hostile-listing.test.js';
import { dropSwift, freshSwift, swiftConfig } from '../helpers/swift.js';

const EXTRA = [
  'r/\u{1F600}',
  'r/\u{1F600}\u{1F600}',
  'r/\u{10FFFD}',
  'r/\uffff',
  'r/\ue000',
  'r/\ud7ff',
  'r/' + 'k'.repeat(1022),
  'r/' + '\u00e9'.repeat(511),
  'z',
  'zz\u0001',
];
const ALL = [...new Set([...KEY_SHAPES, ...ORDER_KEYS, ...TWINS, ...EXTRA])];
const sorted = [...ALL].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

async function keys(it: AsyncIterable<{ key: string }>): Promise<string[]> {
  const out: string[] = [];
  for await (const o of it) out.push(o.key);
  return out;
}

interface Backend {
  readonly name: string;
  seed(): Promise<void>;
  store(page: number, parallel: number, endpoint?: string): ObjectStore;
  drop(): Promise<void>;
  /** S3 backends: the endpoint a fault proxy goes in front of. */
  readonly proxied?: boolean;
  readonly upstream?: string;
}

const backends: Backend[] = testServers().map((server) => {
  const bucket = uniqueBucket(`rl-${server.name}`);
  let seeded: S3Store;
  return {
    name: `${server.name} (S3)`,
    async seed() {
      seeded = await freshStore(server, bucket);
      await putAll(
        seeded,
        ALL.map((key) => ({ key, body: Buffer.from(`k ${key}`) })),
      );
    },
    store: (page, parallel, endpoint) =>
      new S3Store(
        endpointConfig(endpoint ? { ...server, endpoint } : server, bucket, {
          list_page_size: page,
          list_parallel: parallel,
        }),
      ),
    drop: () => dropStore(seeded),
    proxied: true,
    upstream: server.endpoint,
  };
});
{
  const container = uniqueBucket('rl-native');
  let seeded: SwiftStore;
  backends.push({
    name: 'swift (native)',
    async seed() {
      seeded = await freshSwift(container);
      await putAll(
        seeded as unknown as S3Store,
        ALL.map((key) => ({ key, body: Buffer.from(`k ${key}`) })),
      );
    },
    store: (page, parallel) =>
      new SwiftStore(swiftConfig(container, { list_page_size: page, list_parallel: parallel })),
    drop: () => dropSwift(seeded),
  });
}

for (const b of backends) {
  describe(`ranged listing on ${b.name}`, () => {
    before(() => b.seed());
    after(() => b.drop().catch(() => {}));
    for (const [page, parallel] of [
      [1, 8],
      [2, 4],
      [3, 2],
      [7, 64],
      [1000, 4],
    ] as const) {
      it(
        `pages of ${page}, ${parallel} ranges: every key once, in byte order, as a plain listing`,
        { timeout: 180_000 },
        async () => {
          const store = b.store(page, parallel);
          try {
            assert.equal(store.settings.listParallel, parallel);
            assert.deepEqual(await keys(orderedListing(store)), sorted);
            for (const prefix of ['r/', 'tw/a', 'unicode/', 'ctl/x\u0001', 'z']) {
              assert.deepEqual(
                await keys(orderedListing(store, prefix)),
                sorted.filter((k) => k.startsWith(prefix)),
                `prefix ${JSON.stringify(prefix)}`,
              );
            }
          } finally {
            store.close();
          }
        },
      );
    }

    if (b.proxied) {
      it('a page that keeps failing fails the listing; it never ends early', { timeout: 120_000 }, async () => {
        const proxy = new FaultProxy(b.upstream!);
        const endpoint = await proxy.start();
        const store = b.store(2, 4, endpoint);
        try {
          // AccessDenied is not retried: the fifth page of the first range fails for good.
          proxy.inject(isList(undefined, 5), { kind: 'status', status: 403, code: 'AccessDenied' }, 1000);
          await assert.rejects(keys(orderedListing(store)), /AccessDenied|403/);
        } finally {
          store.close();
          await proxy.stop();
        }
      });
    }
  });
}
