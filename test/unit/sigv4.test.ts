/**
 * The v4 signer against signatures computed independently of it: the worked examples of the
 * S3 SigV4 documentation ("Transferring Payload in a Single Chunk"), and @smithy/signature-v4
 * configured as the S3 client configures it, over every key shape, method, query and odd header.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { inspect, format } from 'node:util';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignatureV4 } from '@smithy/signature-v4';
import {
  EMPTY_SHA256,
  SignatureV4Signer,
  encodeKeyPath,
  encodeQueryComponent,
  type V4Request,
} from '../../src/api/store/sigv4.js';
import { KEY_SHAPES } from '../helpers/keys.js';

const credentials = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};
const signer = () => new SignatureV4Signer({ ...credentials, region: 'us-east-1' });
const DOC_DATE = new Date('2013-05-24T00:00:00Z');
const HOST = 'examplebucket.s3.amazonaws.com';

/** smithy's hash interface over node's crypto (what @aws-crypto/sha256-js provides to the SDK). */
class NodeSha256 {
  readonly #secret: Buffer | undefined;
  #hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#secret =
      secret === undefined
        ? undefined
        : typeof secret === 'string'
          ? Buffer.from(secret, 'utf8')
          : ArrayBuffer.isView(secret)
            ? Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength)
            : Buffer.from(secret);
    this.#hash = this.#fresh();
  }
  #fresh(): Hash | Hmac {
    return this.#secret === undefined ? createHash('sha256') : createHmac('sha256', this.#secret);
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(
      typeof data === 'string'
        ? Buffer.from(data, 'utf8')
        : ArrayBuffer.isView(data)
          ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
          : Buffer.from(data),
    );
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
  reset(): void {
    this.#hash = this.#fresh();
  }
}

// As @aws-sdk/client-s3 configures it: the path is already encoded (no double encoding, no
// normalisation), and x-amz-content-sha256 is set by the caller.
const smithy = new SignatureV4({
  credentials,
  region: 'us-east-1',
  service: 's3',
  sha256: NodeSha256,
  uriEscapePath: false,
  applyChecksum: false,
});

async function smithyAuthorization(req: V4Request, payloadHash: string, now: Date): Promise<string> {
  const host = req.headers['host'] ?? '';
  const signed = await smithy.sign(
    {
      method: req.method,
      protocol: 'https:',
      hostname: host,
      path: req.path,
      query: { ...req.query },
      headers: { ...req.headers, 'x-amz-content-sha256': payloadHash },
    },
    { signingDate: now },
  );
  return (signed as { headers: Record<string, string> }).headers['authorization'] ?? '';
}

function ours(req: V4Request, payloadHash?: string, now = DOC_DATE): string {
  signer().sign(req, payloadHash, now);
  return req.headers['authorization'] ?? '';
}

describe('signature v4: the worked examples of the S3 SigV4 documentation', () => {
  const scope = 'Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request';
  it('GET Object with a range', () => {
    const req: V4Request = { method: 'GET', path: '/test.txt', headers: { host: HOST, range: 'bytes=0-9' } };
    assert.equal(
      ours(req, EMPTY_SHA256),
      `AWS4-HMAC-SHA256 ${scope}, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, ` +
        `Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41`,
    );
    assert.equal(req.headers['x-amz-date'], '20130524T000000Z');
    assert.equal(req.headers['x-amz-content-sha256'], EMPTY_SHA256);
    assert.equal(createHash('sha256').update('').digest('hex'), EMPTY_SHA256);
  });

  const putObject = (): V4Request => ({
    method: 'PUT',
    path: `/${encodeKeyPath('test$file.text')}`,
    headers: { date: 'Fri, 24 May 2013 00:00:00 GMT', host: HOST, 'x-amz-storage-class': 'REDUCED_REDUNDANCY' },
  });
  const putPayload = createHash('sha256').update('Welcome to Amazon S3.').digest('hex');
  const putSignature = '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd';

  it('PUT Object (a signed payload, a $ in the key, a Date header)', () => {
    assert.equal(putPayload, '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072');
    const req = putObject();
    assert.equal(req.path, '/test%24file.text');
    assert.equal(
      ours(req, putPayload),
      `AWS4-HMAC-SHA256 ${scope}, ` +
        `SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, Signature=${putSignature}`,
    );
  });

  it('smithy drops a Date header from what it signs; the spec (and this example) signs every header sent', async () => {
    // smithy's prepareRequest deletes `date` (it treats it as its own generated header), so it
    // cannot reproduce the documented PUT Object signature; ours follows the documentation.
    const theirs = await smithyAuthorization(putObject(), putPayload, DOC_DATE);
    assert.doesNotMatch(theirs, /SignedHeaders=date;/);
    assert.doesNotMatch(theirs, new RegExp(putSignature));
    assert.match(ours(putObject(), putPayload), new RegExp(`SignedHeaders=date;.*Signature=${putSignature}$`));
  });

  it('GET Bucket Lifecycle (a valueless sub-resource)', () => {
    const req: V4Request = { method: 'GET', path: '/', query: { lifecycle: '' }, headers: { host: HOST } };
    assert.equal(
      ours(req, EMPTY_SHA256),
      `AWS4-HMAC-SHA256 ${scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, ` +
        `Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543`,
    );
  });

  it('GET Bucket (List Objects) with max-keys and prefix', () => {
    const req: V4Request = {
      method: 'GET',
      path: '/',
      query: { prefix: 'J', 'max-keys': '2' },
      headers: { host: HOST },
    };
    assert.equal(
      ours(req, EMPTY_SHA256),
      `AWS4-HMAC-SHA256 ${scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, ` +
        `Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7`,
    );
  });
});

/** A small deterministic PRNG (mulberry32), so a failure names a reproducible case. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('signature v4: the same Authorization as @smithy/signature-v4 for every key shape', () => {
  // KEY_SHAPES plus the dot segments a normalising signer would fold (S3 keeps them).
  const keys = [...KEY_SHAPES, 'a/../b', '../up', './here', 'a/./b', '..', '.', 'a/b/..', 'x//../y/./'];
  const rand = prng(0x5134);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const blanks = () => pick(['', ' ', '  ', '\t', ' \t ', '   \t\t  ']);
  const odd = () =>
    Array.from({ length: 1 + Math.floor(rand() * 12) }, () =>
      pick([...'aZ09-_.~/+=%?#&;:@$, ', '\u00e9', '\u{1F600}', '\u0001']),
    ).join('');

  function headerSet(): Record<string, string> {
    const h: Record<string, string> = { host: pick([HOST, '127.0.0.1:7480', 'localhost:8080']) };
    if (rand() < 0.5) h['x-amz-meta-note'] = `${blanks()}two${blanks()}words${blanks()}and  more${blanks()}`;
    if (rand() < 0.5) h['x-amz-meta-empty'] = pick(['', ' ', '\t']);
    if (rand() < 0.3) h['content-type'] = 'application/octet-stream';
    if (rand() < 0.3) h['content-md5'] = '1B2M2Y8AsgTpgAmY7PhCfg==';
    if (rand() < 0.3) h['range'] = 'bytes=0-9';
    if (rand() < 0.3) h['x-amz-copy-source'] = `/src/${encodeKeyPath(pick(KEY_SHAPES))}`;
    if (rand() < 0.3) h['x-amz-storage-class'] = 'STANDARD';
    return h;
  }

  function querySet(key: string): Record<string, string> | undefined {
    switch (Math.floor(rand() * 5)) {
      case 0:
        return undefined;
      case 1:
        return { uploads: '' };
      case 2:
        return { uploadId: odd(), partNumber: String(1 + Math.floor(rand() * 10000)) };
      case 3:
        return { uploadId: odd() };
      default:
        // A listing whose prefix and marker are keys: encodeQueryComponent over every shape.
        return {
          'list-type': '2',
          prefix: key,
          'start-after': pick(KEY_SHAPES),
          'encoding-type': 'url',
          [odd()]: odd(),
        };
    }
  }

  it('GET/HEAD/PUT/DELETE, with and without queries, random headers', async () => {
    let n = 0;
    for (const key of keys) {
      for (const method of ['GET', 'HEAD', 'PUT', 'DELETE']) {
        const path = rand() < 0.5 ? `/${encodeKeyPath(key)}` : `/bucket/${encodeKeyPath(key)}`;
        const payload =
          method === 'PUT' ? pick(['UNSIGNED-PAYLOAD', createHash('sha256').update(key).digest('hex')]) : EMPTY_SHA256;
        const now = new Date(Date.UTC(2026, 0, 1) + Math.floor(rand() * 400 * 86400_000));
        const query = querySet(key);
        const req: V4Request =
          query === undefined ? { method, path, headers: headerSet() } : { method, path, query, headers: headerSet() };
        const expected = await smithyAuthorization(req, payload, now);
        assert.equal(
          ours(req, payload, now),
          expected,
          `${method} ${JSON.stringify(path)} ${JSON.stringify(req.query)} ${JSON.stringify(req.headers)}`,
        );
        n++;
      }
    }
    assert.ok(n >= 300, `${n} cases`);
  });

  it('the path is signed as sent: no normalisation of // . .. and no double encoding', async () => {
    const base = ours({ method: 'GET', path: '/b', headers: { host: HOST } }, EMPTY_SHA256);
    for (const path of ['/a/../b', '//b', '/./b', '/b/', '/%62']) {
      const req: V4Request = { method: 'GET', path, headers: { host: HOST } };
      const sig = ours(req, EMPTY_SHA256);
      assert.notEqual(sig, base, path);
      assert.equal(sig, await smithyAuthorization(req, EMPTY_SHA256, DOC_DATE), path);
    }
  });

  it('re-signing the same headers (a retry) replaces authorization instead of signing it', () => {
    const req: V4Request = { method: 'GET', path: '/test.txt', headers: { host: HOST, range: 'bytes=0-9' } };
    const s = signer();
    s.sign(req, EMPTY_SHA256, DOC_DATE);
    const first = req.headers['authorization'];
    s.sign(req, EMPTY_SHA256, DOC_DATE);
    assert.equal(req.headers['authorization'], first);
    assert.match(first ?? '', /Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41$/);
  });
});

describe('signature v4: URI encoding', () => {
  /** The spec's encoding computed another way: per UTF-8 byte from a table written out here. */
  const expectedByte = (b: number, slash: boolean): string =>
    (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) && b < 0x80) || (slash && b === 0x2f)
      ? String.fromCharCode(b)
      : '%' + b.toString(16).toUpperCase().padStart(2, '0');

  it('every code point below 0x100 and every byte value of its UTF-8', () => {
    for (let c = 0; c < 0x100; c++) {
      const s = String.fromCharCode(c);
      const bytes = [...Buffer.from(s, 'utf8')];
      assert.equal(encodeKeyPath(s), bytes.map((b) => expectedByte(b, true)).join(''), `U+${c.toString(16)}`);
      assert.equal(encodeQueryComponent(s), bytes.map((b) => expectedByte(b, false)).join(''), `U+${c.toString(16)}`);
      // The same as the SDK's escapeUri (encodeURIComponent plus !'()*).
      assert.equal(
        encodeQueryComponent(s),
        encodeURIComponent(s).replace(/[!'()*]/g, (x) => `%${x.charCodeAt(0).toString(16).toUpperCase()}`),
      );
    }
    assert.equal(encodeKeyPath('a/b c+d'), 'a/b%20c%2Bd');
    assert.equal(encodeQueryComponent('a/b c+d'), 'a%2Fb%20c%2Bd');
    assert.equal(encodeKeyPath('~-._AZaz09'), '~-._AZaz09');
  });

  it('astral characters are their four UTF-8 bytes, not surrogate halves', () => {
    assert.equal(encodeKeyPath('\u{1F600}/\u{2070E}'), '%F0%9F%98%80/%F0%A0%9C%8E');
    assert.equal(encodeQueryComponent('\u{1F680}'), '%F0%9F%9A%80');
    assert.equal(encodeKeyPath('caf\u00e9'), 'caf%C3%A9');
    assert.equal(encodeKeyPath('cafe\u0301'), 'cafe%CC%81');
  });

  it('decodes back to every key shape, byte for byte (NFC and NFD stay distinct)', () => {
    for (const k of KEY_SHAPES) {
      assert.equal(decodeURIComponent(encodeKeyPath(k)), k, JSON.stringify(k));
      assert.equal(decodeURIComponent(encodeQueryComponent(k)), k, JSON.stringify(k));
      assert.match(encodeKeyPath(k), /^[A-Za-z0-9\-._~/%]*$/);
      assert.match(encodeQueryComponent(k), /^[A-Za-z0-9\-._~%]*$/);
    }
  });
});

describe('signature v4: the signing key and the secret', () => {
  it('derives the signing key once per UTC day', async () => {
    const s = signer();
    const sign = (now: Date): string => {
      const req: V4Request = { method: 'GET', path: '/k', headers: { host: HOST } };
      s.sign(req, EMPTY_SHA256, now);
      return req.headers['authorization'] ?? '';
    };
    const day1 = new Date('2026-12-01T00:00:00Z');
    const day1Late = new Date('2026-12-01T23:59:59.999Z');
    const day2 = new Date('2026-12-02T00:00:00Z');
    sign(day1);
    sign(day1Late);
    assert.equal(s.keyDerivations, 1);
    const a = sign(day2);
    assert.equal(s.keyDerivations, 2);
    sign(day2);
    assert.equal(s.keyDerivations, 2);
    // The second day's key is really that day's: smithy agrees.
    assert.match(a, /\/20261202\/us-east-1\/s3\/aws4_request, /);
    assert.equal(
      a,
      await smithyAuthorization({ method: 'GET', path: '/k', headers: { host: HOST } }, EMPTY_SHA256, day2),
    );
  });

  it('never prints the secret or the signing key', () => {
    const s = signer();
    s.sign({ method: 'GET', path: '/k', headers: { host: HOST } }, EMPTY_SHA256, DOC_DATE);
    const k = (key: Buffer | string, d: string): Buffer => createHmac('sha256', key).update(d).digest();
    const signingKey = k(k(k(k(`AWS4${credentials.secretAccessKey}`, '20130524'), 'us-east-1'), 's3'), 'aws4_request');
    const printed = [
      inspect(s),
      inspect(s, { showHidden: true, depth: Infinity, getters: true }),
      JSON.stringify(s),
      String(s),
      `${s}`,
      format('%o %O %j %s', s, s, s, s),
      JSON.stringify({ ...s }),
      inspect({ ...s }, { showHidden: true }),
    ];
    for (const p of printed) {
      assert.ok(!p.includes(credentials.secretAccessKey), p);
      assert.ok(!p.includes('bPxRfiCY'), p);
      assert.ok(!p.includes(signingKey.toString('hex')), p);
      assert.ok(!p.includes(signingKey.toString('base64')), p);
    }
    assert.equal(inspect(s), "SignatureV4Signer { region: 'us-east-1', service: 's3' }");
    assert.equal(JSON.stringify(s), '{"region":"us-east-1","service":"s3"}');
    assert.equal(String(s), 'SignatureV4Signer(region=us-east-1 service=s3)');
  });
});
