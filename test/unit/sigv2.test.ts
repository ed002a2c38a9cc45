/**
 * The v2 signer against signatures computed independently of it: the worked examples of the
 * S3 REST authentication guide, Debian's python3-boto (boto 2.49's HmacAuthV1Handler) for the
 * requests the SDK really hands the signer with every key shape, and real Ceph and Swift.
 */
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { SignatureV2Signer, stringToSignV2, type SignableRequest } from '../../src/api/store/sigv2.js';
import { KEY_SHAPES } from '../helpers/keys.js';
import { testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore } from '../helpers/seed.js';
import type { S3Store } from '../../src/api/store/s3-store.js';

const credentials = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};
const hmac = (s: string) => createHmac('sha1', credentials.secretAccessKey).update(s, 'utf8').digest('base64');

describe('signature v2: the worked examples of the S3 REST authentication guide', () => {
  const req = (
    method: string,
    path: string,
    headers: Record<string, string>,
    query: SignableRequest['query'] = {},
  ): SignableRequest => ({ method, hostname: 'unused', path, query, headers });
  // [what, request, bucket of the signed resource, Authorization signature in the guide]
  const examples: [string, SignableRequest, string | undefined, string][] = [
    [
      'object GET',
      req('GET', '/photos/puppy.jpg', { Date: 'Tue, 27 Mar 2007 19:36:42 +0000' }),
      'johnsmith',
      'bWq2s1WEIj+Ydj0vQ697zp+IXMU=',
    ],
    [
      'object PUT',
      req('PUT', '/photos/puppy.jpg', {
        'Content-Type': 'image/jpeg',
        'Content-Length': '94328',
        Date: 'Tue, 27 Mar 2007 21:15:45 +0000',
      }),
      'johnsmith',
      'MyyxeRY7whkBe+bq8fHCL/2kKUg=',
    ],
    [
      'list with prefix, max-keys and marker (not sub-resources)',
      req(
        'GET',
        '/',
        { 'User-Agent': 'Mozilla/5.0', Date: 'Tue, 27 Mar 2007 19:42:41 +0000' },
        { prefix: 'photos', 'max-keys': '50', marker: 'puppy' },
      ),
      'johnsmith',
      'htDYFYduRNen8P9ZfE/s9SuKy0U=',
    ],
    [
      'fetch ACL (a sub-resource without value)',
      req('GET', '/', { Date: 'Tue, 27 Mar 2007 19:44:46 +0000' }, { acl: '' }),
      'johnsmith',
      'c2WLPFtWHVgbEmeEG93a4cG37dM=',
    ],
    [
      'upload with x-amz-meta headers, Content-MD5 and a CNAME bucket',
      req('PUT', '/db-backup.dat.gz', {
        'User-Agent': 'curl/7.15.5',
        Date: 'Tue, 27 Mar 2007 21:06:08 +0000',
        'x-amz-acl': 'public-read',
        'content-type': 'application/x-download',
        'Content-MD5': '4gJE4saaMU4BqNR0kLY+lw==',
        // Two X-Amz-Meta-ReviewedBy headers, combined as the guide says.
        'X-Amz-Meta-ReviewedBy': 'joe@johnsmith.net,jane@johnsmith.net',
        'X-Amz-Meta-FileChecksum': '0x02661779',
        'X-Amz-Meta-ChecksumAlgorithm': 'crc32',
        'Content-Disposition': 'attachment; filename=database.dat',
        'Content-Encoding': 'gzip',
        'Content-Length': '5913339',
      }),
      'static.johnsmith.net',
      'ilyl83RwaSoYIEdixDQcA4OnAnc=',
    ],
    [
      'list all buckets',
      req('GET', '/', { Date: 'Wed, 28 Mar 2007 01:29:59 +0000' }),
      undefined,
      'qGdzdERIC03wnaRNKh6OqZehG9s=',
    ],
    [
      'unicode keys, signed as encoded',
      req('GET', '/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re', { Date: 'Wed, 28 Mar 2007 01:49:49 +0000' }),
      undefined,
      'DNEZGsoieTZ92F3bUfSPQcbGmlM=',
    ],
  ];
  for (const [what, request, bucket, signature] of examples) {
    it(what, () => assert.equal(hmac(stringToSignV2(request, bucket)), signature));
  }
});

// ---- boto as an oracle -------------------------------------------------------------------

/** What the SDK handed the signer, as signed. */
interface Captured {
  readonly request: SignableRequest;
  /** The bucket when the request was virtual-hosted (then it belongs in the signed resource). */
  readonly virtualBucket: string | undefined;
}

class Stop extends Error {}

/** Signs with ours, keeps the request, and stops it there: nothing goes on the network. */
class CapturingSigner {
  last: SignableRequest | undefined;
  /** The request signed since the last call, once. */
  take(): SignableRequest | undefined {
    const r = this.last;
    this.last = undefined;
    return r;
  }
  constructor(private readonly inner: SignatureV2Signer) {}
  async sign<T extends SignableRequest>(request: T): Promise<T> {
    await this.inner.sign(request);
    this.last = {
      method: request.method,
      hostname: request.hostname,
      path: request.path,
      query: { ...request.query },
      headers: { ...request.headers },
    };
    throw new Stop();
  }
}

const ENDPOINT_HOST = 's3.example.test';
const BUCKET = 'my-bucket';

function client(virtual: boolean): { s3: S3Client; capture: CapturingSigner } {
  const capture = new CapturingSigner(
    new SignatureV2Signer({
      credentials,
      endpointHost: ENDPOINT_HOST,
      bucket: BUCKET,
      now: () => new Date(Date.UTC(2026, 11, 2, 1, 2, 3)),
    }),
  );
  const s3 = new S3Client({
    endpoint: `http://${ENDPOINT_HOST}:7480`,
    region: 'us-east-1',
    forcePathStyle: !virtual,
    credentials,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    signer: capture,
  });
  return { s3, capture };
}

const CONTROL_KEYS = [
  'ctl/\x01',
  'ctl/tab\there',
  'ctl/new\nline',
  'ctl/cr\rlf',
  'ctl/del\x7f',
  `ctl/all${Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join('')}\x7f`,
];
const KEYS = [...KEY_SHAPES, ...CONTROL_KEYS, 'sub?uploads&delete=1&acl', "a+b%2B%25 ~!*'()"];
const UPLOAD_ID = '2~odd/upload+id==&x=y';

/** Every request shape the store sends, for one key. */
function commands(key: string) {
  const Bucket = BUCKET;
  const Key = key;
  return [
    new PutObjectCommand({
      Bucket,
      Key,
      Body: 'body',
      ContentType: 'text/plain; charset=utf-8',
      ContentMD5: 'hBotaJrYa9FhFEdFPCLG/A==',
      CacheControl: 'max-age=60',
      Metadata: {
        a: '1',
        'two-words': 'two  words',
        tabbed: 'a\tb',
        'Mixed-Case': 'V',
        's3s3-md5': '0123456789abcdef0123456789abcdef',
      },
    }),
    new GetObjectCommand({
      Bucket,
      Key,
      ResponseContentType: 'application/x-thing; a=b',
      ResponseContentDisposition: 'attachment; filename="a b+c.txt"',
      ResponseCacheControl: 'no-cache',
    }),
    new GetObjectCommand({ Bucket, Key, Range: 'bytes=0-9', IfMatch: '"etag"' }),
    new HeadObjectCommand({ Bucket, Key, VersionId: 'v1+/=' }),
    new GetObjectAclCommand({ Bucket, Key }),
    new DeleteObjectCommand({ Bucket, Key }),
    new CreateMultipartUploadCommand({ Bucket, Key, ContentType: 'application/octet-stream', Metadata: { m: 'x' } }),
    new UploadPartCommand({
      Bucket,
      Key,
      UploadId: UPLOAD_ID,
      PartNumber: 7,
      Body: 'part',
      ContentMD5: 'Gm3Q7ZbPFkFm3MhLVWuV9g==',
    }),
    new ListPartsCommand({ Bucket, Key, UploadId: UPLOAD_ID, MaxParts: 5 }),
    new CompleteMultipartUploadCommand({
      Bucket,
      Key,
      UploadId: UPLOAD_ID,
      MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"e"' }] },
    }),
    new AbortMultipartUploadCommand({ Bucket, Key, UploadId: UPLOAD_ID }),
    new CopyObjectCommand({
      Bucket,
      Key,
      CopySource: `src-bucket/${encodeURIComponent(key)}`,
      CopySourceIfMatch: '"etag"',
      MetadataDirective: 'COPY',
    }),
    new ListObjectsV2Command({ Bucket, Prefix: key, StartAfter: key, Delimiter: '/', MaxKeys: 3, EncodingType: 'url' }),
  ];
}

async function captureAll(): Promise<Captured[]> {
  const out: Captured[] = [];
  for (const virtual of [false, true]) {
    const { s3, capture } = client(virtual);
    const all = [
      ...KEYS.flatMap(commands),
      new HeadBucketCommand({ Bucket: BUCKET }),
      new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: KEYS.map((Key) => ({ Key })) } }),
    ];
    for (const command of all) {
      capture.take();
      // The SDK's types differ per command; each is sent as the store sends it.
      await assert.rejects(
        (s3.send as (c: unknown) => Promise<unknown>)(command),
        (err: unknown) => err instanceof Stop || (err as { cause?: unknown }).cause instanceof Stop,
      );
      const r = capture.take();
      assert.ok(r, `the SDK called the signer for ${command.constructor.name}`);
      out.push({
        request: r,
        virtualBucket: r.hostname === ENDPOINT_HOST ? undefined : r.hostname.slice(0, -ENDPOINT_HOST.length - 1),
      });
    }
    s3.destroy();
  }
  return out;
}

/**
 * The path and query as they go on the wire, which is what boto signs from. One exception:
 * the SDK sends a valueless sub-resource as `?acl=`, which boto would sign as `acl=`; Ceph
 * and Swift (like the guide's `GET /?acl`) sign an empty value as the bare name, as boto
 * sends it itself, so it is given to boto that way.
 */
function authPath(c: Captured): string {
  const query = Object.entries(c.request.query ?? {}).flatMap(([k, v]) =>
    (Array.isArray(v) ? v : [v]).map((x) =>
      x === null || x === '' ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(x)}`,
    ),
  );
  return (c.virtualBucket ? `/${c.virtualBucket}` : '') + c.request.path + (query.length ? `?${query.join('&')}` : '');
}

const BOTO = `
import json, sys
import boto
from boto.auth import HmacAuthV1Handler
from boto.connection import HTTPRequest
from boto.provider import Provider
job = json.load(sys.stdin)
provider = Provider('aws', job['access'], job['secret'])
handler = HmacAuthV1Handler('${ENDPOINT_HOST}', boto.config, provider)
out = []
for r in job['requests']:
    headers = {k: v for k, v in r['headers'].items() if k.lower() != 'authorization'}
    req = HTTPRequest(r['method'], 'http', '${ENDPOINT_HOST}', 7480, r['authPath'], r['authPath'], {}, headers, '')
    handler.add_auth(req)
    out.append(req.headers['Authorization'])
json.dump({'version': boto.__version__, 'auth': out}, sys.stdout)
`;

function botoSign(requests: { method: string; authPath: string; headers: Record<string, string> }[]): {
  version: string;
  auth: string[];
} {
  const r = spawnSync('/usr/bin/python3', ['-c', BOTO], {
    input: JSON.stringify({ access: credentials.accessKeyId, secret: credentials.secretAccessKey, requests }),
    encoding: 'utf8',
    // Nothing of the environment (AWS_SECURITY_TOKEN, BOTO_CONFIG...) may change what boto signs.
    env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent', BOTO_CONFIG: '/dev/null' },
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(
    r.status,
    0,
    `boto failed (install Debian's python3-boto: bash test/setup.sh): ${r.error?.message ?? r.stderr}`,
  );
  return JSON.parse(r.stdout) as { version: string; auth: string[] };
}

describe('signature v2 against boto 2 (python3-boto) as an oracle', () => {
  it('signs what the SDK sends, for every key shape and sub-resource, as boto does', async () => {
    const captured = await captureAll();
    // The oracle must see the requests we think it sees: sub-resources, metadata, MD5, types.
    const subs = new Set(captured.flatMap((c) => Object.keys(c.request.query ?? {})));
    for (const s of [
      'uploads',
      'uploadId',
      'partNumber',
      'delete',
      'acl',
      'versionId',
      'response-content-type',
      'response-content-disposition',
    ])
      assert.ok(subs.has(s), s);
    assert.ok(captured.some((c) => c.request.headers['x-amz-meta-two-words'] === 'two  words'));
    assert.ok(
      captured.some(
        (c) => c.request.headers['content-md5'] !== undefined && c.request.headers['content-type'] !== undefined,
      ),
    );
    assert.ok(captured.some((c) => c.virtualBucket === BUCKET));
    assert.ok(
      captured.some((c) => c.request.path.length > 2 * 1024),
      'the 1024-byte key, percent-encoded',
    );

    const requests = captured.map((c) => ({
      method: c.request.method,
      authPath: authPath(c),
      headers: c.request.headers,
    }));
    const boto = botoSign(requests);
    assert.match(boto.version, /^2\./);
    assert.equal(boto.auth.length, captured.length);
    let differ = 0;
    for (const [i, c] of captured.entries()) {
      const ours = c.request.headers['authorization'];
      if (ours !== boto.auth[i]) {
        differ++;
        if (differ <= 3)
          assert.fail(
            `${c.request.method} ${authPath(c)}: ours ${ours}, boto ${boto.auth[i]}\n` +
              `string to sign:\n${JSON.stringify(stringToSignV2(c.request, c.virtualBucket))}`,
          );
      }
    }
    assert.equal(differ, 0);
  });

  it('the oracle tells one character apart (it would catch a wrong canonical string)', () => {
    const base = {
      method: 'PUT',
      authPath: `/${BUCKET}/k%20ey?uploadId=abc&partNumber=2`,
      headers: { 'x-amz-date': 'Wed, 02 Dec 2026 01:02:03 GMT', 'x-amz-meta-a': 'two  words' },
    };
    const variants = [
      base,
      { ...base, authPath: `/${BUCKET}/k%20eY?uploadId=abc&partNumber=2` },
      { ...base, authPath: `/${BUCKET}/k%20ey?uploadId=abd&partNumber=2` },
      { ...base, headers: { ...base.headers, 'x-amz-meta-a': 'two words' } },
    ];
    const { auth } = botoSign(variants);
    assert.equal(new Set(auth).size, variants.length);
    const ours = {
      method: 'PUT',
      hostname: ENDPOINT_HOST,
      path: `/${BUCKET}/k%20ey`,
      query: { uploadId: 'abc', partNumber: '2', 'x-id': 'UploadPart' },
      headers: { ...base.headers },
    };
    assert.equal(`AWS ${credentials.accessKeyId}:${hmac(stringToSignV2(ours, undefined))}`, auth[0]);
  });

  it('replaces what a v4 signer left and signs the virtual-hosted bucket into the resource', async () => {
    const signer = new SignatureV2Signer({
      credentials,
      endpointHost: 's3.example.com',
      bucket: 'MyBucket',
      now: () => new Date(Date.UTC(2007, 2, 27, 19, 36, 42)),
    });
    const req = {
      method: 'GET',
      hostname: 'mybucket.s3.example.com',
      path: '/photos/puppy.jpg',
      query: {},
      headers: { authorization: 'AWS4-HMAC-SHA256 old', 'x-amz-content-sha256': 'UNSIGNED' } as Record<string, string>,
    };
    await signer.sign(req);
    assert.equal(req.headers['x-amz-date'], 'Tue, 27 Mar 2007 19:36:42 GMT');
    assert.equal(req.headers['x-amz-content-sha256'], undefined);
    const { auth } = botoSign([
      {
        method: 'GET',
        authPath: '/MyBucket/photos/puppy.jpg',
        headers: { 'x-amz-date': 'Tue, 27 Mar 2007 19:36:42 GMT' },
      },
    ]);
    assert.equal(req.headers['authorization'], auth[0]);
  });
});

describe('signature v2 on the real servers', () => {
  const stores: S3Store[] = [];
  after(async () => {
    for (const s of stores) await dropStore(s).catch(() => {});
  });
  for (const server of process.env.S3S3TEST_SERVERS ? testServers() : []) {
    it(`${server.name} accepts metadata with inner spaces and tabs (signed as sent, not collapsed)`, async () => {
      const store = await freshStore(server, uniqueBucket('sigv2'), { signature_version: 'v2' });
      stores.push(store);
      for (const [i, value] of ['two  words', 'tab\there', '  three   spaces  '].entries()) {
        await store.put(`k${i}`, Buffer.from('x'), { contentLength: 1, metadata: { v: value } });
        const head = await store.head(`k${i}`);
        assert.ok(head, `k${i} stored`);
      }
    });
  }
});
