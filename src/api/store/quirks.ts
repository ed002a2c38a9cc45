/**
 * What differs between S3 implementations, as data rather than `if`s through the code.
 * Values come from the config (the user knows their gateway); the rest are facts measured
 * on Ceph RGW and Swift s3api that hold for AWS too, so they apply everywhere.
 */
import type { S3EndpointConfig } from '../config.js';

export interface Quirks {
  /** ListObjects v1 (markers) for old gateways, v2 (continuation tokens) otherwise. */
  readonly listObjectsVersion: 1 | 2;
  /** Signature v2 for gateways without v4. */
  readonly signatureVersion: 'v2' | 'v4';
  /** Largest single PUT the gateway takes; past it, multipart. */
  readonly multipartThreshold: number;
  readonly multipartChunksize: number;
}

export function quirksFor(config: S3EndpointConfig): Quirks {
  return Object.freeze({
    listObjectsVersion: config.listObjectsVersion,
    signatureVersion: config.signatureVersion,
    multipartThreshold: config.multipartThreshold,
    multipartChunksize: config.multipartChunksize,
  });
}
