/**
 * AWS signature version 2 (HMAC-SHA1 over the S3 REST canonical string), which the v3 SDK
 * lacks (aws/aws-sdk-js-v3#4032) and old Ceph and Swift gateways still want.
 * Plugged into the SDK as its `signer`; works on the SDK's HttpRequest shape.
 */
import { createHmac } from 'node:crypto';

/** The fields of the SDK's HttpRequest the signer reads and writes. */
export interface SignableRequest {
  method: string;
  hostname: string;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
}

/** The keys a SigV2 signature is made with. */
export interface V2Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** Query parameters that are part of the signed resource (S3 REST auth spec). */
const SUB_RESOURCES = new Set([
  'acl',
  'cors',
  'delete',
  'lifecycle',
  'location',
  'logging',
  'notification',
  'partNumber',
  'policy',
  'requestPayment',
  'restore',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versionId',
  'versioning',
  'versions',
  'website',
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'response-content-language',
  'response-content-type',
  'response-expires',
]);

/** What a SignatureV2Signer needs: the keys, and how the endpoint addresses the bucket. */
export interface V2SignerOptions {
  readonly credentials: V2Credentials;
  /** Endpoint host, to find a virtual-hosted bucket in the request's host name. */
  readonly endpointHost: string;
  /** Bucket to sign for when the request uses virtual-hosted addressing. */
  readonly bucket: string;
  readonly now?: () => Date;
}

/** SigV2's string to sign for a request (the S3 REST authentication spec). */
export function stringToSignV2(request: SignableRequest, resourceBucket: string | undefined): string {
  const headers = lowerCaseHeaders(request.headers);
  const amz = Object.keys(headers)
    .filter((h) => h.startsWith('x-amz-'))
    .sort()
    // Only the ends are trimmed, as the server's HTTP parser does (spaces and tabs): inner
    // whitespace is signed as sent, or Ceph and Swift answer SignatureDoesNotMatch.
    .map((h) => `${h}:${headers[h]!.replace(/^[ \t]+|[ \t]+$/g, '')}\n`)
    .join('');
  // With x-amz-date present, the Date line is empty: the date is signed among the x-amz headers.
  const date = headers['x-amz-date'] !== undefined ? '' : (headers['date'] ?? '');
  const resource = (resourceBucket ? `/${resourceBucket}` : '') + (request.path || '/') + subResources(request.query);
  const md5 = headers['content-md5'] ?? '';
  const type = headers['content-type'] ?? '';
  return `${request.method.toUpperCase()}\n${md5}\n${type}\n${date}\n${amz}${resource}`;
}

function subResources(query: SignableRequest['query'] = {}): string {
  const parts: string[] = [];
  for (const name of Object.keys(query)
    .filter((q) => SUB_RESOURCES.has(q))
    .sort()) {
    const value = query[name];
    const first = Array.isArray(value) ? value[0] : value;
    parts.push(first === null || first === undefined || first === '' ? name : `${name}=${first}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

function lowerCaseHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}

/** A signer with the SDK's RequestSigner shape: `sign(request) => request`. */
export class SignatureV2Signer {
  // A true private field: the credentials are invisible to inspect (even with showHidden) and JSON.
  readonly #options: V2SignerOptions;
  constructor(options: V2SignerOptions) {
    this.#options = options;
  }

  async sign<T extends SignableRequest>(request: T): Promise<T> {
    for (const h of Object.keys(request.headers)) {
      const l = h.toLowerCase();
      // Drop what a v4 signer (or an earlier attempt) left, so the v2 string is complete.
      if (l === 'authorization' || l === 'x-amz-date' || l === 'x-amz-content-sha256' || l === 'x-amz-security-token')
        delete request.headers[h];
    }
    request.headers['x-amz-date'] = (this.#options.now?.() ?? new Date()).toUTCString();
    const host = request.hostname.toLowerCase();
    const endpointHost = this.#options.endpointHost.toLowerCase();
    // Virtual-hosted: the bucket is in the host name, yet it belongs in the signed resource.
    const bucket =
      host !== endpointHost && host.endsWith('.' + endpointHost) ? host.slice(0, -endpointHost.length - 1) : undefined;
    const signature = createHmac('sha1', this.#options.credentials.secretAccessKey)
      .update(
        stringToSignV2(
          request,
          bucket === undefined
            ? undefined
            : bucket === this.#options.bucket.toLowerCase()
              ? this.#options.bucket
              : bucket,
        ),
        'latin1',
      )
      .digest('base64');
    request.headers['authorization'] = `AWS ${this.#options.credentials.accessKeyId}:${signature}`;
    return request;
  }
}
