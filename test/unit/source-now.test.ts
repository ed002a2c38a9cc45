/**
 * sameVersion decides whether a copy just written is still the source's newest version: a
 * wrong "same" leaves a stale replica for good, a wrong "different" copies for ever.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sameVersion } from '../../src/api/copy/source-now.js';
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
  it('an empty object overwritten with other metadata, or another content type, is another version (every empty object has one ETag)', () => {
    assert.equal(sameVersion(head(), head({ metadata: { a: '2' } })), false);
    assert.equal(sameVersion(head(), head({ metadata: {} })), false);
    assert.equal(sameVersion(head(), head({ contentType: 'text/html' })), false);
  });
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
