/** Error kinds, Retry-After, and the form decoding of URL-encoded listings. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kindOf, parseRetryAfter, toStoreError } from '../../src/api/store/classify.js';
import { formDecode } from '../../src/api/store/s3-store.js';
import { backoff, patientPolicy } from '../../src/api/retry.js';
import { CONTROL_KEYS, KEY_SHAPES } from '../helpers/keys.js';

describe('error kinds', () => {
  it('tells a missing key from a missing bucket, and names throttling and failed preconditions', () => {
    assert.equal(kindOf(404, 'NoSuchKey'), 'notFound');
    assert.equal(kindOf(404, undefined), 'notFound');
    assert.equal(kindOf(404, 'NoSuchBucket'), 'bucketMissing');
    assert.equal(kindOf(412, 'PreconditionFailed'), 'preconditionFailed');
    assert.equal(kindOf(400, 'BadDigest'), 'badDigest');
    assert.equal(kindOf(503, 'SlowDown'), 'throttled');
    assert.equal(kindOf(429, undefined), 'throttled');
    assert.equal(kindOf(500, 'InternalError'), undefined);
  });

  it('carries the section, the Retry-After and never the cause as text only', () => {
    const err = toStoreError(
      {
        name: 'SlowDown',
        message: 'Please reduce your request rate.',
        $metadata: { httpStatusCode: 503 },
        $response: { statusCode: 503, headers: { 'retry-after': '7' } },
      },
      { section: 'dest1', op: 'PutObject', endpoint: 'http://127.0.0.1:1', bucket: 'b', key: 'k' },
    );
    assert.equal(err.kind, 'throttled');
    assert.equal(err.errorClass, 'retry');
    assert.equal(err.retryAfterSeconds, 7);
    assert.match(err.message, /^\[dest1\] PutObject b\/"k" at http:\/\/127\.0\.0\.1:1 failed: SlowDown/);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    assert.equal(parseRetryAfter('3'), 3);
    assert.equal(parseRetryAfter(undefined), undefined);
    assert.equal(parseRetryAfter('soon'), undefined);
    const inTen = new Date(Date.now() + 10_000).toUTCString();
    const s = parseRetryAfter(inTen)!;
    assert.ok(s > 8 && s <= 10, String(s));
  });

  it('waits at least a Retry-After, at most a minute', () => {
    const p = patientPolicy(10);
    assert.equal(p.attempts, 11);
    assert.ok(backoff(1, p, 5000) >= 5000);
    assert.equal(backoff(1, p, 3_600_000), 60_000);
    for (let a = 1; a <= 10; a++) assert.ok(backoff(a, p) <= p.maxMs);
  });
});

describe('URL-encoded listings', () => {
  it('decode back to the exact key bytes, a + meaning a space as AWS writes it', () => {
    // What botocore's unquote_plus undoes: quote_plus-style encoding.
    const encode = (k: string) => encodeURIComponent(k).replace(/%20/g, '+');
    for (const key of [...KEY_SHAPES, ...CONTROL_KEYS]) assert.equal(formDecode(encode(key)), key, JSON.stringify(key));
    assert.equal(formDecode('a+b%2Bc'), 'a b+c');
    assert.throws(() => formDecode('%E0%A4%A'));
  });
});
