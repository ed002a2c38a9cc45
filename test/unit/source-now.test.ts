/**
 * sameVersion decides whether a copy just written is still the source's newest version: a
 * wrong "same" leaves a stale replica for good, a wrong "different" copies for ever.
 * metadataDiff is the one rule for "metadata differs" (the sweep's --check-metadata, the check's
 * `*` lines, sameVersion): what it names is what a check prints.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { metadataDiff, metadataDiffers, sameVersion } from '../../src/api/copy/source-now.js';
import { metadataDiff as checkMetadataDiff } from '../../src/api/sweep/check.js';
import type { HeadInfo, ObjectInfo } from '../../src/api/store/object-store.js';

const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
const head = (over: Partial<HeadInfo> = {}): HeadInfo => ({
  key: 'k',
  size: 0,
  etag: EMPTY_MD5,
  lastModified: new Date('2026-12-07T01:02:03Z'),
  metadata: { a: '1' },
  contentType: 'text/plain',
  ...over,
});

describe('sameVersion', () => {
  it('the same headers are the same version', () => {
    assert.equal(sameVersion(head(), head()), true);
  });
  it('another size or ETag is another version', () => {
    assert.equal(sameVersion(head(), head({ size: 1 })), false);
    assert.equal(sameVersion(head(), head({ etag: '0'.repeat(32) })), false);
  });
  it(
    'an empty object overwritten with other metadata, or another content type, is another version ' +
      '(every empty object has one ETag)',
    () => {
      assert.equal(sameVersion(head(), head({ metadata: { a: '2' } })), false);
      assert.equal(sameVersion(head(), head({ metadata: {} })), false);
      assert.equal(sameVersion(head(), head({ contentType: 'text/html' })), false);
    },
  );
  it('s3s3 bookkeeping metadata is not part of the version', () => {
    assert.equal(sameVersion(head(), head({ metadata: { a: '1', 's3s3-md5': EMPTY_MD5 } })), true);
  });
  it('the same bytes rewritten a second later are another version; within the second, HTTP dates cannot tell', () => {
    assert.equal(sameVersion(head(), head({ lastModified: new Date('2026-12-07T01:02:04Z') })), false);
    assert.equal(sameVersion(head({ lastModified: new Date('2026-12-07T01:02:03.900Z') }), head()), true);
  });
  it("a listing's entry (milliseconds, no headers) is compared by size and ETag only", () => {
    const listed: ObjectInfo = {
      key: 'k',
      size: 0,
      etag: EMPTY_MD5,
      lastModified: new Date('2026-12-07T01:02:03.456Z'),
    };
    assert.equal(sameVersion(listed, head()), true);
    assert.equal(sameVersion(listed, head({ etag: '1'.repeat(32) })), false);
  });
  it('an ETag missing on either side falls back to the size (and headers)', () => {
    assert.equal(sameVersion(head({ etag: '' }), head()), true);
    assert.equal(sameVersion(head({ etag: '' }), head({ metadata: { b: '1' } })), false);
  });
});

describe('metadataDiff', () => {
  it('names the standard headers, Expires and the user metadata that differ, in that order', () => {
    const a = head({ cacheControl: 'max-age=60', metadata: { b: '1', a: '1' } });
    const b = head({
      contentType: 'text/html',
      expires: 'Thu, 01 Dec 2033 16:00:00 GMT',
      metadata: { a: '2', c: '1' },
    });
    assert.deepEqual(metadataDiff(a, b), [
      'content-type',
      'cache-control',
      'expires',
      'x-amz-meta-a',
      'x-amz-meta-b',
      'x-amz-meta-c',
    ]);
    assert.equal(metadataDiffers(a, b), true);
    assert.deepEqual(metadataDiff(a, a), []);
    assert.equal(metadataDiffers(a, a), false);
  });
  it("leaves s3s3's own metadata out", () => {
    assert.deepEqual(metadataDiff(head(), head({ metadata: { a: '1', 's3s3-source-etag': 'x' } })), []);
  });
  it('compares Expires as an instant, and one that is no HTTP date as none', () => {
    const gmt = head({ expires: 'Thu, 01 Dec 2033 16:00:00 GMT' });
    assert.deepEqual(metadataDiff(gmt, head({ expires: 'Thu, 01 Dec 2033 17:00:00 +0100' })), []);
    assert.deepEqual(metadataDiff(gmt, head()), ['expires']);
    // Servers keep `never` as sent; s3s3's PUT cannot carry it: the sweep and the check both call it none.
    assert.deepEqual(metadataDiff(head({ expires: 'never' }), head()), []);
    assert.deepEqual(metadataDiff(head({ expires: 'never' }), head({ expires: 'Mon, 32 Jan 2000 00:00:00 GMT' })), []);
  });
  it('is the one the check uses', () => {
    assert.equal(checkMetadataDiff, metadataDiff);
  });
});
