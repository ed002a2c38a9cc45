/**
 * The SLO read check: each segment's MD5 at its end, whatever the chunking; what cannot be vouched for
 * is left alone.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { segmentChecks, SegmentVerifier, sloEtagOf } from '../../src/api/store/swift-verify.js';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

async function drain(checks: ReturnType<typeof segmentChecks>, chunks: Buffer[]): Promise<Buffer> {
  const v = new SegmentVerifier(checks!, (i, got, want) => new Error(`segment ${i + 1}: ${got} != ${want}`));
  const out: Buffer[] = [];
  for await (const c of Readable.from(chunks).pipe(v)) out.push(c as Buffer);
  return Buffer.concat(out);
}

describe('SegmentVerifier', () => {
  const segs = [randomBytes(1000), Buffer.alloc(0), randomBytes(777), randomBytes(1)];
  const whole = Buffer.concat(segs);
  const manifest = segs.map((s) => ({ hash: md5(s), bytes: s.length, name: '/c_segments/x' }));
  const checks = segmentChecks(manifest, whole.length);

  it('passes the bytes through whole, in any chunking (one byte, across segment edges)', async () => {
    assert.deepEqual(await drain(checks, [whole]), whole);
    assert.deepEqual(
      await drain(
        checks,
        [...whole].map((b) => Buffer.from([b])),
      ),
      whole,
    );
    assert.deepEqual(
      await drain(checks, [whole.subarray(0, 999), whole.subarray(999, 1500), whole.subarray(1500)]),
      whole,
    );
  });

  it('fails on a flipped byte, a short body and extra bytes', async () => {
    const bad = Buffer.from(whole);
    bad[1200] = bad[1200]! ^ 1;
    await assert.rejects(drain(checks, [bad]), /segment 3/);
    await assert.rejects(drain(checks, [whole.subarray(0, whole.length - 1)]), /segment 4/);
    await assert.rejects(drain(checks, [whole, Buffer.from('x')]), /extra bytes/);
  });

  it('vouches for nothing it cannot check: nested or ranged segments, sizes that do not add up', () => {
    assert.equal(segmentChecks([{ ...manifest[0], sub_slo: true }], 1000), undefined);
    assert.equal(segmentChecks([{ ...manifest[0], range: '0-9' }], 1000), undefined);
    assert.equal(segmentChecks(manifest, whole.length + 1), undefined);
    assert.equal(segmentChecks({}, 0), undefined);
    assert.equal(sloEtagOf(checks!), createHash('md5').update(segs.map(md5).join('')).digest('hex'));
  });
});
