/** The copy-or-skip decision table, row by row. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decide } from '../../src/api/copy/decide.js';

const MD5_A = '0cc175b9c0f1b6a831c399e269772661';
const MD5_B = '92eb5ffee6ae2fec3ad71c777531578f';
const src = { key: 'k', size: 1, etag: MD5_A };
const multipart = { key: 'k', size: 1, etag: '3858f62230ac3c915f300c664312c11f-2' };

describe('decide', () => {
  it('1: force copies', () =>
    assert.deepEqual(decide(src, { ...src }, { force: true }), { action: 'copy', reason: 'forced' }));
  it('2: missing copies', () => assert.deepEqual(decide(src, null), { action: 'copy', reason: 'missing' }));
  it('3: size differs copies', () =>
    assert.deepEqual(decide(src, { ...src, size: 2 }), { action: 'copy', reason: 'size differs' }));
  it('4: equal MD5s skip', () => assert.deepEqual(decide(src, { ...src }), { action: 'skip' }));
  it('4: a recorded MD5 counts as known', () =>
    assert.deepEqual(decide(src, { ...multipart, metadata: { 's3s3-md5': MD5_A } }), { action: 'skip' }));
  it('5: different MD5s copy', () =>
    assert.deepEqual(decide(src, { ...src, etag: MD5_B }), { action: 'copy', reason: 'md5 differs' }));
  it('6: an unknown MD5 asks for the destination metadata', () =>
    assert.deepEqual(decide(multipart, { ...src }), { action: 'head' }));
  it('7: recorded source ETag equal skips', () =>
    assert.deepEqual(decide(multipart, { ...src, etag: 'x', metadata: { 's3s3-source-etag': multipart.etag } }), {
      action: 'skip',
    }));
  it('8: recorded source ETag different copies', () =>
    assert.deepEqual(decide(multipart, { ...src, etag: 'x', metadata: { 's3s3-source-etag': 'other-2' } }), {
      action: 'copy',
      reason: 'source changed',
    }));
  it('9: the same non-MD5 ETag skips', () =>
    assert.deepEqual(decide(multipart, { ...multipart, metadata: {} }), { action: 'skip' }));
  it('10: with verify_md5, hash both', () =>
    assert.deepEqual(decide(multipart, { ...src, metadata: {} }, { verifyMd5: true }), { action: 'hash' }));
  it('11: otherwise never equal on size alone', () =>
    assert.deepEqual(decide(multipart, { ...src, metadata: {} }), { action: 'copy', reason: 'unverifiable' }));
  it('never compares a -N ETag with an MD5', () => {
    // Same size, the destination's MD5 happens to equal the hex part of the source's -N ETag.
    const d = decide(multipart, { key: 'k', size: 1, etag: '3858f62230ac3c915f300c664312c11f', metadata: {} });
    assert.deepEqual(d, { action: 'copy', reason: 'unverifiable' });
  });
});
