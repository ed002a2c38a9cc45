/**
 * AWS Signature Version 4 for S3 requests (header-based, payload in a single chunk), our own:
 * the lean request path signs without the SDK's middleware stack. Follows the S3 SigV4
 * documentation: the path is signed exactly as sent (S3 neither double-encodes nor normalises
 * it), the query is re-encoded and sorted, every header given is signed.
 *
 * The signing key (the HMAC chain date → region → service → aws4_request) depends only on the
 * credentials and the UTC day, so it is derived once per day and kept. Neither the secret nor
 * the key is ever printed: the signer prints as `SignatureV4Signer { region, service }`.
 */
import { createHash, createHmac } from 'node:crypto';
import { printAs } from '../redact.js';

/** A request as SigV4 signs it. */
export interface V4Request {
  readonly method: string;
  /**
   * The request path exactly as sent on the wire, already percent-encoded (see encodeKeyPath).
   * Never normalised: `//`, `/./`, `/../` are kept.
   */
  readonly path: string;
  /** Query parameters, raw (not encoded); '' for a valueless one (e.g. `uploads`). */
  readonly query?: Readonly<Record<string, string>>;
  /** Header names in lower case; must include `host` (with `:port` when not default). Values as sent. */
  readonly headers: Record<string, string>;
}

/** What a SignatureV4Signer needs: the keys and the region. */
export interface V4Options {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
  /** Default 's3'. */
  readonly service?: string;
}

/** SHA-256 hex of an empty body, for GET/HEAD/DELETE. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const ALGORITHM = 'AWS4-HMAC-SHA256';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

/** '%XX' for every byte value, upper-case hex, and the unreserved bytes left as themselves. */
const BYTE_ESCAPES: readonly string[] = Array.from({ length: 256 }, (_, b) => {
  const unreserved =
    (b >= 0x41 && b <= 0x5a) ||
    (b >= 0x61 && b <= 0x7a) ||
    (b >= 0x30 && b <= 0x39) ||
    b === 0x2d ||
    b === 0x2e ||
    b === 0x5f ||
    b === 0x7e;
  return unreserved ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
});

function uriEncode(s: string, keepSlash: boolean): string {
  // Fast path: nothing to escape (most query names and values).
  if (/^[A-Za-z0-9\-._~]*$/.test(s)) return s;
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) out += keepSlash && b === 0x2f ? '/' : BYTE_ESCAPES[b];
  return out;
}

/**
 * S3 URI encoding of a key for the path: every byte of its UTF-8 except A-Z a-z 0-9 - . _ ~
 * and '/' as %XX (upper-case hex).
 */
export function encodeKeyPath(key: string): string {
  return uriEncode(key, true);
}

/** The same for a query parameter name or value ('/' encoded too). */
export function encodeQueryComponent(s: string): string {
  return uriEncode(s, false);
}

/** `a=b&c=` sorted by encoded name then encoded value (byte order: the encoded form is ASCII). */
function canonicalQuery(query: Readonly<Record<string, string>> | undefined): string {
  if (query === undefined) return '';
  const pairs = Object.entries(query).map(([k, v]) => [encodeQueryComponent(k), encodeQueryComponent(v)] as const);
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/**
 * The spec's Trimall: no leading or trailing blanks, inner runs collapsed to one space. Tabs
 * count as blanks like spaces, as in the SDKs (smithy, botocore, the Java SDK) that AWS and
 * RGW accept; a header value cannot carry CR or LF on the wire.
 */
function trimAll(value: string): string {
  return value.replace(/[ \t]+/g, ' ').replace(/^ | $/g, '');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** A SigV4 signer that caches its signing key per day. */
export class SignatureV4Signer {
  readonly region: string;
  readonly service: string;
  readonly #accessKeyId: string;
  readonly #secretAccessKey: string;
  /** The signing key of `#keyDay` (YYYYMMDD); private fields are invisible to inspect and JSON. */
  #keyDay: string | undefined;
  #key: Buffer | undefined;
  #derivations = 0;

  constructor(o: V4Options) {
    this.region = o.region;
    this.service = o.service ?? 's3';
    this.#accessKeyId = o.accessKeyId;
    this.#secretAccessKey = o.secretAccessKey;
  }

  /** How many signing keys this signer has derived: one per UTC day signed on (tests, metrics). */
  get keyDerivations(): number {
    return this.#derivations;
  }

  /**
   * Sets x-amz-date, x-amz-content-sha256 (payloadHash, default 'UNSIGNED-PAYLOAD') and
   * authorization on req.headers.
   */
  sign(req: V4Request, payloadHash: string = UNSIGNED_PAYLOAD, now: Date = new Date()): void {
    const amzDate = now
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    const day = amzDate.slice(0, 8);
    const headers = req.headers;
    headers['x-amz-date'] = amzDate;
    headers['x-amz-content-sha256'] = payloadHash;

    // Every header but a previous authorization (a retry re-signs the same headers object).
    const names = Object.keys(headers)
      .filter((n) => n !== 'authorization')
      .sort();
    const signedHeaders = names.join(';');
    const canonicalHeaders = names.map((n) => `${n}:${trimAll(headers[n] as string)}\n`).join('');
    const canonicalRequest = [
      req.method,
      req.path,
      canonicalQuery(req.query),
      canonicalHeaders,
      signedHeaders,
      payloadHash,
    ].join('\n');

    const scope = `${day}/${this.region}/${this.service}/aws4_request`;
    const requestHash = createHash('sha256').update(canonicalRequest, 'latin1').digest('hex');
    const stringToSign = `${ALGORITHM}\n${amzDate}\n${scope}\n${requestHash}`;
    const signature = createHmac('sha256', this.#signingKey(day)).update(stringToSign, 'utf8').digest('hex');
    headers['authorization'] =
      `${ALGORITHM} Credential=${this.#accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  }

  #signingKey(day: string): Buffer {
    if (this.#key === undefined || this.#keyDay !== day) {
      this.#key = hmac(
        hmac(hmac(hmac(`AWS4${this.#secretAccessKey}`, day), this.region), this.service),
        'aws4_request',
      );
      this.#keyDay = day;
      this.#derivations++;
    }
    return this.#key;
  }
}

printAs(SignatureV4Signer, 'SignatureV4Signer', (s) => ({ region: s.region, service: s.service }));
