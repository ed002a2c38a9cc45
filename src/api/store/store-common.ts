/**
 * Small things both stores (S3 and Swift) need in the same shape: their constructor options,
 * the context their errors carry, and reading an answer's headers.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { EndpointConfig } from '../config.js';
import { bandwidthBucket, limitedBody } from '../limits/bandwidth.js';
import type { Logger } from '../log.js';
import type { RetryPolicy } from '../retry.js';
import type { ErrorContext } from './classify.js';

/** What a store is given besides its config section (S3Store and SwiftStore alike). */
export interface StoreOptions {
  /** Retry policy for calls without a body (list, head, delete); default from `max_retries`. */
  readonly retry?: RetryPolicy;
  /** Where throttling (the pacer lowering or raising concurrency) is reported. */
  readonly logger?: Logger;
}

/** Where a store points: its section, endpoint and bucket (or container), as its errors name them. */
export interface StoreIdentity {
  readonly name: string;
  readonly endpoint: string;
  readonly bucket: string;
}

/** The context an error of `op` (on `key`, if any) carries: section, endpoint, bucket, key. */
export function errorContext(
  store: StoreIdentity,
  op: string,
  key?: string,
): ErrorContext & { section: string; op: string } {
  return { section: store.name, op, endpoint: store.endpoint, bucket: store.bucket, key };
}

/** An ETag without its quotes and weak prefix (`W/"abc"` -> `abc`); '' when there is none. */
export function stripQuotes(etag: string | undefined): string {
  return (etag ?? '').replace(/^W\//, '').replace(/^"|"$/g, '');
}

/** One header of an answer as a single string (repeated headers joined with `, `). */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** User metadata from the headers that start with `prefix` (`x-amz-meta-`, `x-object-meta-`), names without it. */
export function userMetadata(headers: IncomingHttpHeaders, prefix: string): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(prefix) && value !== undefined)
      metadata[name.slice(prefix.length)] = Array.isArray(value) ? value.join(', ') : value;
  }
  return metadata;
}

/** What a store does to the bodies it reads: kept to `bwlimit` in the source's section, as they are elsewhere. */
export function bodyLimit(config: EndpointConfig): (body: Readable) => Readable {
  if (config.bwlimit === undefined) return (body) => body;
  const bucket = bandwidthBucket(config.bwlimit);
  return (body) => limitedBody(body, bucket);
}
