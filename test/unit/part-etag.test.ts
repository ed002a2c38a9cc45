/** Recomputing a multipart ETag from the bytes, for the likely part sizes. */
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { candidatePartSizes, multipartParts, PartEtagHasher } from '../../src/api/copy/part-etag.js';

const MiB = 1024 * 1024;

function multipartEtag(body: Buffer, partSize: number): string {
  const digests: Buffer[] = [];
  for (let o = 0; o < body.length; o += partSize)
    digests.push(
      createHash('md5')
        .update(body.subarray(o, o + partSize))
        .digest(),
    );
  return `${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${digests.length}`;
}

describe('multipart ETags', () => {
  it('reads N from a -N ETag only', () => {
    assert.equal(multipartParts('0123456789abcdef0123456789abcdef-3'), 3);
    assert.equal(multipartParts('0123456789abcdef0123456789abcdef'), undefined);
    assert.equal(multipartParts('x-3'), undefined);
  });

  it('offers only part sizes that give exactly N parts, common ones first, at most 8', () => {
    const size = 12 * MiB + 5;
    for (const p of candidatePartSizes(size, 3)) assert.equal(Math.ceil(size / p), 3);
    assert.ok(candidatePartSizes(size, 3).includes(5 * MiB));
    assert.deepEqual(candidatePartSizes(20 * MiB, 3, [8 * MiB]).slice(0, 1), [8 * MiB]);
    assert.ok(candidatePartSizes(1000 * MiB, 2).length <= 8);
    assert.deepEqual(candidatePartSizes(10, 1), [10]);
  });

  it('recomputes the ETag for the right part size, and not for a flipped byte', () => {
    const body = randomBytes(12 * MiB + 3);
    const etag = multipartEtag(body, 5 * MiB);
    const hasher = new PartEtagHasher(candidatePartSizes(body.length, 3));
    for (let o = 0; o < body.length; o += 65_536) hasher.update(body.subarray(o, o + 65_536));
    assert.ok(hasher.etags().includes(etag));
    const bad = Buffer.from(body);
    bad.writeUInt8(bad.readUInt8(7 * MiB) ^ 1, 7 * MiB);
    const other = new PartEtagHasher(candidatePartSizes(body.length, 3));
    other.update(bad);
    assert.ok(!other.etags().includes(etag));
  });
});
