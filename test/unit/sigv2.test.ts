/** The v2 signer against the worked examples of the S3 REST authentication spec. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignatureV2Signer, stringToSignV2 } from '../../src/api/store/sigv2.js';

const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

describe('signature v2', () => {
  it('builds the canonical string: verb, MD5, type, date, x-amz headers, resource, sub-resources', () => {
    const s = stringToSignV2(
      {
        method: 'put',
        hostname: 'h',
        path: '/b/k%20ey',
        query: { uploadId: 'abc', partNumber: '2', 'x-id': 'UploadPart', prefix: 'ignored' },
        headers: { 'Content-MD5': 'bWQ1', 'Content-Type': 'text/plain', 'X-Amz-Meta-B': ' two  words ', 'x-amz-date': 'D', 'x-amz-meta-a': '1', date: 'ignored' },
      },
      undefined,
    );
    assert.equal(s, 'PUT\nbWQ1\ntext/plain\n\nx-amz-date:D\nx-amz-meta-a:1\nx-amz-meta-b:two words\n/b/k%20ey?partNumber=2&uploadId=abc');
  });

  it('matches the spec examples (GET and PUT of photos/puppy.jpg)', async () => {
    const hmac = async (method: string, type: string, date: string) => {
      const req = { method, hostname: 'johnsmith.s3.amazonaws.com', path: '/photos/puppy.jpg', query: {}, headers: { date, ...(type ? { 'content-type': type } : {}) } };
      return stringToSignV2(req, 'johnsmith');
    };
    assert.equal(await hmac('GET', '', 'Tue, 27 Mar 2007 19:36:42 +0000'), 'GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg');
    const { createHmac } = await import('node:crypto');
    const sign = (s: string) => createHmac('sha1', credentials.secretAccessKey).update(s).digest('base64');
    assert.equal(sign(await hmac('GET', '', 'Tue, 27 Mar 2007 19:36:42 +0000')), 'bWq2s1WEIj+Ydj0vQ697zp+IXMU=');
    assert.equal(sign(await hmac('PUT', 'image/jpeg', 'Tue, 27 Mar 2007 21:15:45 +0000')), 'MyyxeRY7whkBe+bq8fHCL/2kKUg=');
  });

  it('signs virtual-hosted requests with the bucket in the resource, and replaces v4 leftovers', async () => {
    const signer = new SignatureV2Signer({ credentials, endpointHost: 's3.example.com', bucket: 'MyBucket', now: () => new Date(Date.UTC(2007, 2, 27, 19, 36, 42)) });
    const req = { method: 'GET', hostname: 'mybucket.s3.example.com', path: '/photos/puppy.jpg', query: {}, headers: { authorization: 'AWS4-HMAC-SHA256 old', 'x-amz-content-sha256': 'UNSIGNED' } as Record<string, string> };
    await signer.sign(req);
    assert.equal(req.headers['x-amz-date'], 'Tue, 27 Mar 2007 19:36:42 GMT');
    assert.equal(req.headers['x-amz-content-sha256'], undefined);
    assert.match(req.headers['authorization']!, /^AWS AKIAIOSFODNN7EXAMPLE:[A-Za-z0-9+/]{27}=$/);
    const expected = stringToSignV2(req, 'MyBucket');
    assert.ok(expected.endsWith('\n/MyBucket/photos/puppy.jpg'));
  });
});
