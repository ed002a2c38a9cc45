/**
 * One record per endpoint backend: its `type`, the keys its sections take (from the table) and
 * its section reader. The store registry (store/registry.ts) pairs each record with the store
 * it makes; a new backend is a record here, a row set in keys.ts and a store there.
 */
import { keysOfOtherType } from './endpoint.js';
import { keyNames } from './keys.js';
import { Reader, type Entries, type ReadContext } from './reader.js';
import { readS3 } from './s3.js';
import { readSwift } from './swift.js';
import type { EndpointConfig, EndpointType, S3EndpointConfig, SwiftEndpointConfig } from './types.js';

/** An endpoint backend's config half: what a section of `type = <type>` may hold and how it is read. */
export interface EndpointBackend<C extends EndpointConfig = EndpointConfig> {
  readonly type: C['type'];
  /** The keys its sections take, `<key>_file` variants included. */
  readonly keys: readonly string[];
  /** Read a section already known to be of this type; undefined after a problem (recorded in the reader). */
  read(r: Reader): C | undefined;
}

/** The backends by `type`. */
export const ENDPOINT_BACKENDS: {
  readonly [T in EndpointType]: EndpointBackend<Extract<EndpointConfig, { type: T }>>;
} = Object.freeze({
  s3: Object.freeze({ type: 's3', keys: keyNames('s3'), read: readS3 }),
  swift: Object.freeze({ type: 'swift', keys: keyNames('swift'), read: readSwift }),
});

/** An endpoint section (`[source]`, `[dest*]`): its `type` picks the backend that reads the rest. */
export function readEndpoint(name: string, entries: Entries, ctx: ReadContext): EndpointConfig | undefined {
  const r = new Reader(entries, ctx, name, 's3');
  const type = r.oneOf<EndpointType>('type');
  keysOfOtherType(r, type);
  return ENDPOINT_BACKENDS[type].read(r.as(type));
}

/** The section as an S3 section; a TypeError when it is of another type (a caller's bug). */
export function s3Section(section: EndpointConfig): S3EndpointConfig {
  // A section built by hand without `type` is S3, as it always was.
  if ((section.type ?? 's3') !== 's3')
    throw new TypeError(`[${section.name}] is not an S3 section (it has type = ${section.type})`);
  return section as S3EndpointConfig;
}

/** The section as a Swift section; a TypeError when it is of another type (a caller's bug). */
export function swiftSection(section: EndpointConfig): SwiftEndpointConfig {
  if (section.type !== 'swift') throw new TypeError(`[${section.name}] is not a type = swift section`);
  return section;
}
