/** Multipart part size grows to stay within S3's 10,000 parts; over 5 TiB nothing is uploaded. */
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  choosePartSize,
  multipartUpload,
  ObjectTooLargeError,
  MAX_PARTS,
  MAX_PART_SIZE,
} from '../../src/api/copy/multipart.js';
import type { MultipartCapable } from '../../src/api/store/object-store.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

function assertFits(size: number, part: number): void {
  assert.ok(
    Math.ceil(size / part) <= MAX_PARTS,
    `${size} bytes in parts of ${part} need ${Math.ceil(size / part)} parts`,
  );
  assert.ok(part <= MAX_PART_SIZE);
}

describe('choosePartSize', () => {
  it('keeps the configured size while 10,000 parts are enough', () => {
    assert.equal(choosePartSize(1, 8 * MiB), 8 * MiB);
    assert.equal(choosePartSize(10_000 * 8 * MiB, 8 * MiB), 8 * MiB, 'exactly 10,000 parts');
    assert.equal(choosePartSize(625 * GiB, 64 * MiB), 64 * MiB, '625 GiB at 64 MiB is exactly 10,000 parts');
    // A configured size that is not a whole MiB is kept as it is when it fits.
    assert.equal(choosePartSize(1000, 5 * MiB + 1), 5 * MiB + 1);
  });

  it('grows to the smallest whole MiB that fits when 10,000 parts are not enough', () => {
    // 10,001 parts at 8 MiB: the next whole MiB, 9 MiB, fits.
    const size = 10_000 * 8 * MiB + 1;
    assert.equal(choosePartSize(size, 8 * MiB), 9 * MiB);
    // One byte over 625 GiB at 64 MiB needs 10,001 parts: 65 MiB.
    assert.equal(choosePartSize(625 * GiB + 1, 64 * MiB), 65 * MiB);
    assertFits(625 * GiB + 1, 65 * MiB);
    assert.ok(Math.ceil((625 * GiB + 1) / (64 * MiB)) > MAX_PARTS);
    // 1 TiB at 5 MiB: ceil(1 TiB / 10,000) is 104.86 MiB, so 105 MiB.
    assert.equal(choosePartSize(TiB, 5 * MiB), 105 * MiB);
    assertFits(TiB, 105 * MiB);
    assert.ok(Math.ceil(TiB / (104 * MiB)) > MAX_PARTS, '104 MiB would not do: the smallest is chosen');
  });

  it('handles 5 TiB, the largest object S3 takes, and refuses one byte more', () => {
    const part = choosePartSize(5 * TiB, 64 * MiB);
    assert.equal(part, 525 * MiB);
    assertFits(5 * TiB, part);
    assert.ok(Math.ceil((5 * TiB) / (524 * MiB)) > MAX_PARTS);
    assert.throws(
      () => choosePartSize(5 * TiB + 1, 64 * MiB, 'big/key'),
      (err: unknown) => {
        assert.ok(err instanceof ObjectTooLargeError);
        assert.equal(err.key, 'big/key');
        assert.equal(err.size, 5 * TiB + 1);
        assert.match(err.message, /"big\/key" has 5497558138881 bytes, over .*5 TiB/);
        return true;
      },
    );
  });

  it('a configured size larger than needed is never shrunk', () => {
    assert.equal(choosePartSize(5 * TiB, GiB), GiB);
  });
});

describe('multipartUpload and the part size', () => {
  it('refuses an object over 5 TiB before creating any upload', async () => {
    let created = 0;
    // Only what is needed to see that nothing reaches the store; never called when right.
    const store: MultipartCapable = {
      createMultipart: async () => {
        created++;
        return 'id';
      },
      uploadPart: async () => 'etag',
      completeMultipart: async () => ({ etag: 'x' }),
      abortMultipart: async () => {},
    };
    const body = Readable.from([Buffer.alloc(10)]);
    await assert.rejects(
      multipartUpload(store, 'huge', body, { size: 6 * TiB, partSize: 64 * MiB, parallel: 1, headers: {} }),
      ObjectTooLargeError,
    );
    assert.equal(created, 0);
    assert.equal(body.destroyed, true, 'the source stream is released');
  });

  it('tells onPartSize when the part size grows, before uploading', async () => {
    const calls: [number, number][] = [];
    const parts: number[] = [];
    const store: MultipartCapable = {
      createMultipart: async () => 'id',
      uploadPart: async (_k, _id, _n, _b, o) => {
        parts.push(o.contentLength);
        return 'etag';
      },
      completeMultipart: async () => ({ etag: 'x' }),
      abortMultipart: async () => {},
    };
    // A tiny chunk size (as a test store may have) over 10,000 parts: 1 MiB parts.
    const size = 3 * MiB;
    await multipartUpload(store, 'k', Readable.from([Buffer.alloc(size)]), {
      size,
      partSize: 100,
      parallel: 2,
      headers: {},
      onPartSize: (c, was) => calls.push([c, was]),
    });
    assert.deepEqual(calls, [[MiB, 100]]);
    assert.deepEqual(parts, [MiB, MiB, MiB]);
  });
});
