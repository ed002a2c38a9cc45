/**
 * What differs between the stores s3s3 speaks to, as data rather than `if`s through the code
 * (rclone's per-provider table). Two kinds of fact:
 *
 * - what a protocol does, the same on every server that speaks it (S3 on AWS, Ceph RGW and
 *   Swift s3api; Swift's own API): measured here on the real servers, or from the docs;
 * - how one S3 endpoint is spoken to, from its config section (the user knows their gateway):
 *   ListObjects v1 or v2, signature v2 or v4, URL-encoded listings, the lean request path.
 *
 * The stores read these facts, and so does the conformance suite
 * (test/integration/conformance.test.ts): where the stores truly differ, it asks the table.
 *
 * What one server does and the code copes with on every server stays code, next to the call
 * it concerns (s3-store.ts): Ceph's empty ETag from CompleteMultipartUpload (HEAD afterwards),
 * Swift s3api's Content-MD5 on DeleteObjects, control characters that XML cannot carry (such
 * keys are deleted one by one), Ceph's raw NextMarker (the next page starts after the last key).
 */
import type { S3EndpointConfig } from '../config.js';

/** What a protocol does, whichever server speaks it. */
export interface Quirks {
  /** The API the store speaks: `s3`, or Swift's own (`type = swift`). */
  readonly protocol: 's3' | 'swift';
  /** What the store calls a bucket, in messages. */
  readonly bucketNoun: 'bucket' | 'container';
  /** What to do about a missing bucket, in its error: `the bucket does not exist (HINT)`. */
  readonly bucketMissingHint: string;
  /**
   * The error code of a GET's own "no such key" (S3's XML error body), without which a 404
   * came from something in front of the store (a proxy, a load balancer) and is retried.
   * Undefined: the store's errors carry no code (Swift answers HTML), a 404 is confirmed by
   * the bucket check alone.
   */
  readonly noSuchKeyCode: string | undefined;
  /** Most parts of one multipart upload; undefined: S3's 10,000. Swift SLO: max_manifest_segments' default. */
  readonly maxParts: number | undefined;
  /**
   * A multipart object's ETag: `md5-of-parts-N` (S3: the MD5 of the parts' MD5s and `-N`; s3api
   * SLOs too) or `md5-of-parts` (a Swift SLO: the MD5 of its segments' ETags, no count).
   */
  readonly multipartEtag: 'md5-of-parts-N' | 'md5-of-parts';
  /** Begun multipart uploads are the server's to list (ListMultipartUploads); an SLO's live in this process. */
  readonly listsPendingUploads: boolean;
  /** The status of a body refused because it does not match its MD5 (S3 400 BadDigest; Swift 422). */
  readonly badDigestStatus: number;
  /** The status a wrong secret gets (S3: 403 SignatureDoesNotMatch; Swift: 401 from its auth service). */
  readonly badCredentialStatus: number;
  /** Most keys one listing page may ask for (S3 1000, Swift 10,000). */
  readonly maxListPage: number;
}

/** How one S3 endpoint is spoken to: its protocol's facts and its section's settings. */
export interface S3Quirks extends Quirks {
  readonly protocol: 's3';
  /** ListObjects v1 (markers) for old gateways, v2 (continuation tokens) otherwise. */
  readonly listObjectsVersion: 1 | 2;
  /** Signature v2 for gateways without v4. */
  readonly signatureVersion: 'v2' | 'v4';
  /**
   * `encoding-type=url` on listings (`list_url_encoding`): keys with control characters cannot
   * travel in XML (Swift s3api answers 500 to such a page). Undefined: keys are sent raw.
   */
  readonly listEncoding: 'url' | undefined;
  /**
   * HEAD, GET, PUT, DELETE of one object and the listings on s3s3's own HTTP path: `lean_requests`,
   * and no checksum beyond Content-MD5 asked for (those are the SDK's to compute and check).
   */
  readonly leanRequests: boolean;
  /** Largest single PUT the gateway takes; past it, multipart. */
  readonly multipartThreshold: number;
  readonly multipartChunksize: number;
}

/** S3 as AWS documents it and Ceph RGW and Swift s3api do it. */
export const S3_PROTOCOL: Quirks = Object.freeze({
  protocol: 's3',
  bucketNoun: 'bucket',
  bucketMissingHint: 'create the bucket, or fix bucket_name',
  noSuchKeyCode: 'NoSuchKey',
  maxParts: undefined,
  multipartEtag: 'md5-of-parts-N',
  listsPendingUploads: true,
  badDigestStatus: 400,
  badCredentialStatus: 403,
  maxListPage: 1000,
});

/** Swift's own API (`type = swift`), as Swift 2.30 does it. */
export const SWIFT_QUIRKS: Quirks & { readonly maxParts: number } = Object.freeze({
  protocol: 'swift',
  bucketNoun: 'container',
  bucketMissingHint: 'create it, or fix container',
  noSuchKeyCode: undefined,
  // Swift's default max_manifest_segments: larger objects get larger segments, not more of them.
  maxParts: 1000,
  multipartEtag: 'md5-of-parts',
  listsPendingUploads: false,
  badDigestStatus: 422,
  badCredentialStatus: 401,
  maxListPage: 10_000,
});

/** The quirks of an S3 endpoint: the protocol's facts, and the settings of its section. */
export function quirksFor(config: S3EndpointConfig): S3Quirks {
  // Checksums beyond Content-MD5 (WHEN_SUPPORTED) are the SDK's business: it keeps those calls.
  const sdkChecksums =
    config.requestChecksumCalculation !== 'WHEN_REQUIRED' || config.responseChecksumValidation !== 'WHEN_REQUIRED';
  return Object.freeze({
    ...S3_PROTOCOL,
    protocol: 's3',
    listObjectsVersion: config.listObjectsVersion,
    signatureVersion: config.signatureVersion,
    listEncoding: config.listUrlEncoding ? 'url' : undefined,
    leanRequests: config.leanRequests && !sdkChecksums,
    multipartThreshold: config.multipartThreshold,
    multipartChunksize: config.multipartChunksize,
  });
}
