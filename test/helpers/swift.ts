/**
 * The project's Swift through its native API (`type = swift`, tempauth v1): config sections,
 * fresh containers, and a look at what is really stored (segments, SLO manifests).
 */
import { parseConfig, type EndpointConfig } from '../../src/api/config.js';
import type { BucketClient } from '../../src/api/bucket-client.js';
import type { S3Store } from '../../src/api/store/s3-store.js';
import { SwiftStore } from '../../src/api/store/swift-store.js';
import { FaultProxy } from './fault-proxy.js';
import { dropStore, freshStore } from './seed.js';
import { sectionIni, testServers, uniqueBucket, type TestServer } from './servers.js';

export type Ini = Record<string, string | number | boolean>;

/** The Swift server of the suite, with its native auth URL (fails loudly without one). */
export function swiftServer(): TestServer & { swift: NonNullable<TestServer['swift']> } {
  const s = testServers().find((t) => t.swift !== undefined);
  if (!s?.swift)
    throw new Error('no Swift server with SWIFT_AUTH_URL in S3S3TEST_SERVERS: start it with test/servers/swift.sh');
  return s as TestServer & { swift: NonNullable<TestServer['swift']> };
}

/** The S3-only server of the suite (Ceph RGW). */
export function cephServer(): TestServer {
  const s = testServers().find((t) => t.swift === undefined);
  if (!s) throw new Error('no S3 server besides Swift in S3S3TEST_SERVERS');
  return s;
}

/** INI text for a `type = swift` section (auth v1) on the test Swift; `extra` overrides or adds keys. */
export function swiftIni(section: string, container: string, extra: Ini = {}, server = swiftServer()): string {
  const keys: Ini = {
    type: 'swift',
    auth_url: server.swift.authUrl,
    user: server.swift.user,
    key: server.swift.key,
    container,
    ...extra,
  };
  return `[${section}]\n${Object.entries(keys)
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n')}\n`;
}

/** A `type = swift` EndpointConfig through the real parser (as [source], or [dest1] with `asDest`). */
export function swiftConfig(container: string, extra: Ini = {}, asDest = false): EndpointConfig {
  const other = sectionIni(asDest ? 'source' : 'dest1', cephServer(), 'unused-bucket');
  const text = asDest ? other + swiftIni('dest1', container, extra) : swiftIni('source', container, extra) + other;
  const config = parseConfig(text, { file: 'test' });
  return asDest ? config.destinations[0]! : config.source;
}

/** A new, empty container (and a store on it with `extra` keys). */
export async function freshSwift(container: string, extra: Ini = {}): Promise<SwiftStore> {
  const store = new SwiftStore(swiftConfig(container, extra));
  await store.createBucket();
  return store;
}

export async function dropSwift(store: SwiftStore): Promise<void> {
  try {
    await store.destroyBucket();
  } finally {
    store.close();
  }
}

/** The names in a container as Swift lists them natively (e.g. `<container>_segments`). */
export async function swiftNames(container: string): Promise<string[]> {
  const other = new SwiftStore(swiftConfig(container));
  try {
    const out: string[] = [];
    try {
      for await (const o of other.list()) out.push(o.key);
    } catch (err) {
      if ((err as { bucketMissing?: boolean }).bucketMissing) return [];
      throw err;
    }
    return out;
  } finally {
    other.close();
  }
}

/**
 * What a Swift-native test makes (S3 buckets, containers, clients, proxies in front of Swift's
 * auth URL), all dropped by `cleanup` (call it in an `after`).
 */
export function swiftRig(defaultS3: TestServer = cephServer()) {
  const s3Stores: S3Store[] = [];
  const swiftStores: SwiftStore[] = [];
  const clients: BucketClient[] = [];
  const proxies: FaultProxy[] = [];
  const swift = swiftServer();
  return {
    s3: async (label: string, server = defaultS3) => {
      const s = await freshStore(server, uniqueBucket(label));
      s3Stores.push(s);
      return s;
    },
    native: async (label: string) => {
      const s = await freshSwift(uniqueBucket(label));
      swiftStores.push(s);
      return s;
    },
    track: (c: BucketClient) => (clients.push(c), c),
    /** A fault proxy in front of Swift; `url` is the auth v1 URL through it. */
    proxy: async () => {
      const p = new FaultProxy(new URL(swift.swift.authUrl).origin);
      proxies.push(p);
      return { proxy: p, url: `${await p.start()}/auth/v1.0` };
    },
    cleanup: async () => {
      for (const c of clients) c.close();
      for (const p of proxies) await p.stop();
      for (const s of s3Stores) await dropStore(s).catch(() => {});
      for (const s of swiftStores) await dropSwift(s).catch(() => {});
    },
  };
}
