/**
 * Turns whatever a store call threw (an SDK service error, a socket error, a timeout)
 * into a StoreError with a class that says what to do about it.
 */
import { StoreError, type ErrorClass, type ErrorKind } from '../errors.js';

const RETRY_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'InternalError',
  'ServiceUnavailable',
  'TooManyRequests',
  'TimeoutError',
  'RequestTimeoutException',
]);
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);
/** Nothing will work until the config changes: stop everything. */
const FATAL_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'NoSuchBucket',
  'AuthorizationHeaderMalformed',
  'InvalidBucketName',
  'PermanentRedirect',
  'AccountProblem',
  'Unauthorized',
]);

/** The server's certificate is not trusted: nothing will work until the config changes. */
const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);

interface ErrorLike {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number; headers?: Record<string, string | undefined> };
}

/** Where a failed call went: section, operation, endpoint, bucket and key, named in its error. */
export interface ErrorContext {
  readonly section?: string;
  readonly op: string;
  readonly endpoint: string;
  readonly bucket: string;
  readonly key?: string;
}

/** What to do about an error with this status and code: retry, fail the object, or stop everything (fatal). */
export function classifyStatus(status: number | undefined, code: string | undefined): ErrorClass {
  // A header value Node refuses to send (a library caller's metadata above U+00FF): no retry cures it.
  if (code === 'ERR_INVALID_CHAR' || code === 'ERR_INVALID_HTTP_TOKEN') return 'object';
  if (code && TLS_CODES.has(code)) return 'fatal';
  if (code && (RETRY_CODES.has(code) || NETWORK_CODES.has(code))) return 'retry';
  if (code && FATAL_CODES.has(code)) return 'fatal';
  if (status === undefined) return 'retry';
  if (status === 429 || status >= 500) return 'retry';
  if (status === 401 || status === 403) return 'fatal';
  return 'object';
}

const UNTRUSTED_CA =
  'the server certificate is not signed by a CA this section trusts: ' +
  'set ca_bundle = FILE (PEM of the CA that signed it), or, unsafe, verify_ssl = false';

/** What to do about the errors users hit first, appended to the message. */
const HINTS: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: UNTRUSTED_CA,
  SELF_SIGNED_CERT_IN_CHAIN: UNTRUSTED_CA,
  DEPTH_ZERO_SELF_SIGNED_CERT: UNTRUSTED_CA,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: UNTRUSTED_CA,
  UNABLE_TO_GET_ISSUER_CERT: UNTRUSTED_CA,
  CERT_UNTRUSTED: UNTRUSTED_CA,
  ERR_TLS_CERT_ALTNAME_INVALID:
    'the server certificate does not name this host: ' +
    'put a name the certificate holds in endpoint (or, unsafe, verify_ssl = false)',
  CERT_HAS_EXPIRED: 'the server certificate has expired: renew it on the server (or, unsafe, verify_ssl = false)',
  CERT_NOT_YET_VALID: 'the server certificate is not valid yet: check the clocks of this machine and the server',
  NoSuchBucket: 'create the bucket, or fix bucket_name',
  // Swift (type = swift): a 401 that a fresh token did not cure.
  Unauthorized:
    'Swift refused the credentials or a fresh token: check user and key (auth v1) ' +
    'or username, password and project_name (Keystone v3), and auth_url',
  InvalidAccessKeyId: 'check aws_access_key_id',
  SignatureDoesNotMatch: 'check aws_secret_access_key (and signature_version: s3v4 or s3)',
  AccessDenied: 'the credentials lack permission for this bucket',
  AuthorizationHeaderMalformed: 'check region',
  PermanentRedirect: 'the bucket is in another region or needs another endpoint; check region and endpoint',
  ERR_INVALID_CHAR:
    'a header or metadata value holds characters HTTP cannot carry (above U+00FF, or control characters)',
  ERR_INVALID_HTTP_TOKEN: 'a metadata name holds characters HTTP cannot carry',
  ECONNREFUSED: 'nothing listens there; check endpoint (or host/port/is_secure) and that the server is up',
  ENOTFOUND: 'the host name does not resolve; check endpoint or host',
  EAI_AGAIN: 'the host name does not resolve; check endpoint or host',
};

/** Any error a store call threw (SDK, lean path, socket, timeout) as a typed, classified StoreError. */
export function toStoreError(err: unknown, ctx: ErrorContext): StoreError {
  if (err instanceof StoreError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as ErrorLike;
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  // SDK service errors name their S3 code; socket errors carry a Node code.
  let code =
    e.Code ??
    (e.code && /^[A-Z_]+$/.test(e.code) ? e.code : undefined) ??
    (e.name && e.name !== 'Error' ? e.name : undefined);
  if (code === 'UnknownError' || code === 'Unknown' || code === 'S3ServiceException') code = undefined;
  if (status === 404 && (code === undefined || code === 'NotFound')) code = 'NotFound';
  const errorClass = classifyStatus(status, code);
  const kind = kindOf(status, code);
  // The server's own words when it gave any: a status with no code may still carry a reason.
  const detail =
    e.message === 'UnknownError' || e.message === code || /^HTTP \d+$/.test(e.message ?? '')
      ? undefined
      : shortMessage(e.message);
  const hint = code ? HINTS[code] : undefined;
  const text = [detail === code ? undefined : detail, hint ? `(${hint})` : undefined].filter(Boolean).join(' ');
  const retryAfterSeconds = parseRetryAfter(e.$response?.headers?.['retry-after']);
  return new StoreError({
    ...ctx,
    status,
    code,
    errorClass,
    kind,
    cause: err,
    detail: text || undefined,
    retryAfterSeconds,
  });
}

const THROTTLE_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequests',
  'RequestLimitExceeded',
]);

/**
 * The backend-neutral kind. A bare 404 (a HEAD has no body to name the cause) is taken as
 * `notFound` here; the store turns it into `bucketMissing` unless it knows the bucket exists.
 */
export function kindOf(status: number | undefined, code: string | undefined): ErrorKind | undefined {
  if (code === 'NoSuchBucket') return 'bucketMissing';
  if (code === 'NoSuchKey' || code === 'NotFound' || (status === 404 && code === undefined)) return 'notFound';
  if (code === 'PreconditionFailed' || status === 412) return 'preconditionFailed';
  if (code === 'BadDigest' || code === 'InvalidDigest' || code === 'XAmzContentSHA256Mismatch') return 'badDigest';
  if (
    (code && THROTTLE_CODES.has(code)) ||
    status === 429 ||
    (status === 503 && (code === undefined || code === 'ServiceUnavailable'))
  )
    return 'throttled';
  return undefined;
}

/** `Retry-After` in seconds or as an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - Date.now()) / 1000);
}

function shortMessage(message: string | undefined): string | undefined {
  if (!message) return undefined;
  const first = message.split('\n')[0]!.trim();
  return first.length > 200 ? first.slice(0, 200) + '...' : first;
}
