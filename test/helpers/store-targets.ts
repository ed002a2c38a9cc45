/**
 * Every store the conformance suite (test/integration/conformance.test.ts) runs against, on
 * the real servers: S3Store on Ceph RGW, S3Store on Swift's s3api, SwiftStore on Swift's own
 * API. What differs between them is read from the store's quirks (src/api/store/quirks.ts),
 * not from these names.
 */
import type { MultipartCapable, ObjectStore } from '../../src/api/store/object-store.js';
import type { Quirks } from '../../src/api/store/quirks.js';
import { S3Store } from '../../src/api/store/s3-store.js';
import { SwiftStore } from '../../src/api/store/swift-store.js';
import { endpointConfig, testServers } from './servers.js';
import { swiftConfig, type Ini } from './swift.js';

/** A store as the suite drives it: the ObjectStore calls, multipart, server-side copy, bucket admin. */
export type StoreUnderTest = ObjectStore &
  MultipartCapable & {
    readonly quirks: Quirks;
    copyFrom: NonNullable<ObjectStore['copyFrom']>;
    createBucket(): Promise<void>;
    destroyBucket(): Promise<void>;
  };

/** One store kind on one server. */
export interface StoreTarget {
  /** For test names: the store class and the server. */
  readonly label: string;
  /** The server's name: stores on one server run one after the other, servers side by side. */
  readonly server: string;
  /** A store on `bucket` with `extra` config keys (e.g. `list_page_size`); `secret` replaces the real one. */
  open(bucket: string, extra?: Ini, secret?: string): StoreUnderTest;
  /** Where the store's requests go (scheme, host, port): what a proxy in front of it forwards to. */
  readonly origin: string;
  /** A store on `bucket` whose requests all pass through `proxy` (a FaultProxy's URL, in front of `origin`). */
  openThrough(proxy: string, bucket: string): StoreUnderTest;
  /** The ways of making requests the store has (signature v4 and v2, the SDK path): each is run. */
  readonly modes: readonly Ini[];
  /** The listing APIs the store has (ListObjects v1 and v2): each is run. */
  readonly listModes: readonly Ini[];
}

/** S3Store on each server, and SwiftStore on the one with a native Swift API. */
export function storeTargets(): StoreTarget[] {
  const targets: StoreTarget[] = [];
  for (const server of testServers()) {
    targets.push({
      label: `S3Store on ${server.name}`,
      server: server.name,
      open: (bucket, extra = {}, secret) =>
        new S3Store(
          endpointConfig(secret === undefined ? server : { ...server, secretKey: secret }, bucket, {
            calling_format: 'OrdinaryCallingFormat',
            ...extra,
          }),
        ),
      origin: new URL(server.endpoint).origin,
      openThrough: (proxy, bucket) => new S3Store(endpointConfig({ ...server, endpoint: proxy }, bucket)),
      modes: [{ signature_version: 's3v4' }, { signature_version: 's3' }, { lean_requests: false }],
      listModes: [{ list_objects_version: 1 }, { list_objects_version: 2 }],
    });
  }
  const swift = testServers().find((s) => s.swift !== undefined);
  const native = swift?.swift;
  if (swift && native) {
    targets.push({
      label: `SwiftStore on ${swift.name}`,
      server: swift.name,
      open: (container, extra = {}, secret) =>
        new SwiftStore(swiftConfig(container, secret === undefined ? extra : { ...extra, key: secret })),
      // tempauth hands out a storage URL on the host it was asked on: the proxy, for a proxied auth_url.
      origin: new URL(native.authUrl).origin,
      openThrough: (proxy, container) =>
        new SwiftStore(swiftConfig(container, { auth_url: `${proxy}${new URL(native.authUrl).pathname}` })),
      modes: [{}],
      listModes: [{}],
    });
  }
  return targets;
}

/** A mode's keys as a label: `signature_version=s3`, or `default`. */
export function modeLabel(mode: Ini): string {
  const parts = Object.entries(mode).map(([k, v]) => `${k}=${v}`);
  return parts.length === 0 ? 'default' : parts.join(' ');
}
