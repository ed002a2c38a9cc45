/**
 * parseEvents: the bodies Ceph RGW, AWS (plain and SNS-wrapped) and MinIO POST for bucket
 * notifications, every key shape encoded each sender's way, and every refusal.
 * Payloads follow what each sender writes: Ceph as observed on the test RGW 16.2.15
 * (SERVERS.md), AWS as its "Event message structure" documents, MinIO as its webhook target.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseEvents, type EventParse } from '../../src/api/intake/events.js';
import { KEY_SHAPES } from '../helpers/keys.js';

const BUCKET = 'src-bucket';
const ETAG = '5d41402abc4b2a76b9719d911017c592';

type Sender = 'ceph' | 'aws' | 'minio';

/** A Ceph RGW 16 record, as the test RGW pushed it (key raw, no `s3:` prefix, empty region). */
function cephRecord(
  key: string,
  eventName = 'ObjectCreated:Put',
  o: { bucket?: string; size?: number; eTag?: string } = {},
): object {
  return {
    eventVersion: '2.2',
    eventSource: 'ceph:s3',
    awsRegion: '',
    eventTime: '2026-12-02T04:42:37.210218Z',
    eventName,
    userIdentity: { principalId: 's3s3test' },
    requestParameters: { sourceIPAddress: '' },
    responseElements: {
      'x-amz-request-id': '9cfa2cdf-b8de-4e42-8fe3-73068a944b33.4103.9166827746476314120',
      'x-amz-id-2': '1007-default-default',
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 's3s3-topic',
      bucket: {
        name: o.bucket ?? BUCKET,
        ownerIdentity: { principalId: 's3s3test' },
        arn: `arn:aws:s3:::${o.bucket ?? BUCKET}`,
        id: '9cfa2cdf-b8de-4e42-8fe3-73068a944b33.4106.3',
      },
      object: {
        key,
        size: o.size ?? 5,
        eTag: o.eTag ?? ETAG,
        versionId: '',
        sequencer: 'BDA10F6BF0E0AF0C',
        metadata: [{ key: 'x-amz-date', val: '20261202T044237Z' }],
        tags: [],
      },
    },
    eventId: '1796186557.212852.5d41402abc4b2a76b9719d911017c592',
    opaqueData: '',
  };
}

/** AWS's documented record (event version 2.1): the key is URL-encoded as a form value. */
function awsRecord(
  encodedKey: string,
  eventName = 'ObjectCreated:Put',
  o: { bucket?: string; size?: number; eTag?: string } = {},
): object {
  const removed = eventName.startsWith('ObjectRemoved:');
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'us-west-2',
    eventTime: '1970-01-01T00:00:00.000Z',
    eventName,
    userIdentity: { principalId: 'AWS:AIDAJDPLRKLG7UEXAMPLE' },
    requestParameters: { sourceIPAddress: '127.0.0.1' },
    responseElements: {
      'x-amz-request-id': 'C3D13FE58DE4C810',
      'x-amz-id-2': 'FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD',
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'testConfigRule',
      bucket: {
        name: o.bucket ?? BUCKET,
        ownerIdentity: { principalId: 'A3NL1KOZZKExample' },
        arn: `arn:aws:s3:::${o.bucket ?? BUCKET}`,
      },
      // A delete's record has no size or eTag.
      object: removed
        ? { key: encodedKey, versionId: '096fKKXTRTtl3on89fVO.nfljtsv6qko', sequencer: '0055AED6DCD90281E5' }
        : {
            key: encodedKey,
            size: o.size ?? 5,
            eTag: o.eTag ?? ETAG,
            versionId: '096fKKXTRTtl3on89fVO.nfljtsv6qko',
            sequencer: '0055AED6DCD90281E5',
          },
    },
  };
}

/** A MinIO record: `s3:`-prefixed eventName, key escaped by Go's url.QueryEscape. */
function minioRecord(
  encodedKey: string,
  eventName = 's3:ObjectCreated:Put',
  o: { bucket?: string; size?: number } = {},
): object {
  const removed = eventName.includes('ObjectRemoved:');
  return {
    eventVersion: '2.0',
    eventSource: 'minio:s3',
    awsRegion: '',
    eventTime: '2026-12-02T04:00:00.000Z',
    eventName,
    userIdentity: { principalId: 'minioadmin' },
    requestParameters: { principalId: 'minioadmin', region: '', sourceIPAddress: '127.0.0.1' },
    responseElements: {
      'x-amz-id-2': 'dd9025bab4ad464b049177c95eb6ebf374d3b3fd1af9251148b658df7ac2e3e8',
      'x-amz-request-id': '17C6D2F0B8C0E0A1',
      'x-minio-deployment-id': 'e1b8',
      'x-minio-origin-endpoint': 'http://127.0.0.1:9000',
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'Config',
      bucket: {
        name: o.bucket ?? BUCKET,
        ownerIdentity: { principalId: 'minioadmin' },
        arn: `arn:aws:s3:::${o.bucket ?? BUCKET}`,
      },
      object: removed
        ? { key: encodedKey, sequencer: '17C6D2F0B8C0E0A1' }
        : {
            key: encodedKey,
            size: o.size ?? 5,
            eTag: ETAG,
            contentType: 'text/plain',
            userMetadata: { 'content-type': 'text/plain' },
            sequencer: '17C6D2F0B8C0E0A1',
          },
    },
    source: { host: '127.0.0.1', port: '', userAgent: 'MinIO (linux; amd64) minio-go/v7.0.70' },
  };
}

/** MinIO's webhook body: its own `EventName` and `Key` beside the records. */
function minioBody(records: object[], eventName = 's3:ObjectCreated:Put', key = `${BUCKET}/x`): Buffer {
  return json({ EventName: eventName, Key: key, Records: records });
}

/** AWS: a form value, the way its notifications write keys (`/` left as is, a space as `+`). */
function awsEncode(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}

/** Go's url.QueryEscape: everything but [A-Za-z0-9-_.~] escaped, a space as `+`. */
function goQueryEscape(key: string): string {
  return [...Buffer.from(key, 'utf8')]
    .map((b) =>
      b === 0x20
        ? '+'
        : /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b))
          ? String.fromCharCode(b)
          : '%' + b.toString(16).toUpperCase().padStart(2, '0'),
    )
    .join('');
}

function encodeFor(sender: Sender, key: string): string {
  return sender === 'ceph' ? key : sender === 'aws' ? awsEncode(key) : goQueryEscape(key);
}

function recordFor(sender: Sender, key: string, op: 'put' | 'delete', size = 5): object {
  const k = encodeFor(sender, key);
  if (sender === 'ceph') return cephRecord(k, op === 'put' ? 'ObjectCreated:Put' : 'ObjectRemoved:Delete', { size });
  if (sender === 'aws') return awsRecord(k, op === 'put' ? 'ObjectCreated:Put' : 'ObjectRemoved:Delete', { size });
  return minioRecord(k, op === 'put' ? 's3:ObjectCreated:Put' : 's3:ObjectRemoved:Delete', { size });
}

function bodyFor(sender: Sender, records: object[]): Buffer {
  return sender === 'minio' ? minioBody(records) : json({ Records: records });
}

function json(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v), 'utf8');
}

function snsNotification(message: string): Buffer {
  return json({
    Type: 'Notification',
    MessageId: '22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324',
    TopicArn: 'arn:aws:sns:us-west-2:123456789012:s3-events',
    Subject: 'Amazon S3 Notification',
    Message: message,
    Timestamp: '2026-12-02T04:00:00.000Z',
    SignatureVersion: '1',
    Signature:
      'EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0A' +
      'd8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=',
    SigningCertURL:
      'https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem',
    UnsubscribeURL:
      'https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-west-2:123456789012:s3-events:c9135db0',
  });
}

const TEST_EVENT = {
  Service: 'Amazon S3',
  Event: 's3:TestEvent',
  Time: '2014-10-13T15:57:02.089Z',
  Bucket: BUCKET,
  RequestId: '5582815E1AEA5ADF',
  HostId: '8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE',
};

/** The jobs, their hints without `at` (the event's time; checked on its own in "parseEvents: hints"). */
function jobsOf(p: EventParse): ReadonlyArray<{ key: string; op: string; hints?: object }> {
  assert.equal(p.kind, 'jobs', p.kind === 'refused' ? p.reason : p.kind);
  return (p as Extract<EventParse, { kind: 'jobs' }>).jobs.map((j) => {
    if (j.hints === undefined) return j;
    const { at: _at, ...rest } = j.hints;
    return Object.keys(rest).length > 0 ? { ...j, hints: rest } : { key: j.key, op: j.op };
  });
}

function reasonOf(p: EventParse): string {
  assert.equal(p.kind, 'refused', JSON.stringify(p));
  const reason = (p as Extract<EventParse, { kind: 'refused' }>).reason;
  // One line a log can hold: no raw control characters at all.
  assert.doesNotMatch(reason, /[\u0000-\u001f\u007f\u2028\u2029]/, 'a refusal reason is one clean line');
  return reason;
}

describe('parseEvents: every key shape, each sender encoding its way', () => {
  for (const sender of ['ceph', 'aws', 'minio'] as const) {
    it(`${sender}: every KEY_SHAPE arrives byte for byte, put with hints and delete without`, () => {
      const records = KEY_SHAPES.flatMap((k, i) => [recordFor(sender, k, 'put', i), recordFor(sender, k, 'delete')]);
      const jobs = jobsOf(parseEvents(bodyFor(sender, records), BUCKET));
      const expected = KEY_SHAPES.flatMap((key, i) => [
        { key, op: 'put', hints: { size: i, etag: ETAG } },
        { key, op: 'delete' },
      ]);
      assert.equal(jobs.length, expected.length);
      for (const [i, e] of expected.entries()) {
        assert.deepEqual(jobs[i], e, `record ${i}: ${JSON.stringify(e.key)}`);
        assert.ok(Buffer.from(jobs[i]!.key, 'utf8').equals(Buffer.from(e.key, 'utf8')));
      }
    });
  }

  it('NFC and NFD stay two keys; the 1024-byte key fits; astral characters survive form-decoding', () => {
    const nfc = 'unicode/caf\u00e9';
    const nfd = 'unicode/cafe\u0301';
    const long = KEY_SHAPES.find((k) => k.startsWith('exact1024/'))!;
    assert.equal(Buffer.byteLength(long), 1024);
    for (const sender of ['ceph', 'aws', 'minio'] as const) {
      const keys = jobsOf(
        parseEvents(
          bodyFor(sender, [
            recordFor(sender, nfc, 'put'),
            recordFor(sender, nfd, 'put'),
            recordFor(sender, long, 'put'),
          ]),
          BUCKET,
        ),
      ).map((j) => j.key);
      assert.deepEqual(keys, [nfc, nfd, long]);
      assert.notEqual(keys[0], keys[1]);
    }
    assert.deepEqual(
      jobsOf(parseEvents(json({ Records: [awsRecord('a/%F0%9F%98%80%F0%A0%9C%8E')] }), BUCKET)).map((j) => j.key),
      ['a/\u{1F600}\u{2070E}'],
    );
  });

  it('AWS: `+` is a space and `%2B` a plus; a fully escaped `/` is a slash', () => {
    const jobs = jobsOf(
      parseEvents(
        json({
          Records: [
            awsRecord('red+flower.jpg'),
            awsRecord('a%2Bb'),
            awsRecord('dir%2Fsub%2F'),
            awsRecord('a+%2B+b%25'),
          ],
        }),
        BUCKET,
      ),
    );
    assert.deepEqual(
      jobs.map((j) => j.key),
      ['red flower.jpg', 'a+b', 'dir/sub/', 'a + b%'],
    );
  });

  it('Ceph: a key that looks encoded is taken raw (`+`, `%20` stay)', () => {
    const jobs = jobsOf(parseEvents(json({ Records: [cephRecord('a b+c\u0001%20\u00e9')] }), BUCKET));
    assert.deepEqual(
      jobs.map((j) => j.key),
      ['a b+c\u0001%20\u00e9'],
    );
  });

  it('an unknown or missing eventSource is read AWS-style (form-decoded)', () => {
    const other = { ...awsRecord('a+b%21'), eventSource: 'garage:s3' };
    const none = awsRecord('c+d') as Record<string, unknown>;
    delete none.eventSource;
    assert.deepEqual(
      jobsOf(parseEvents(json({ Records: [other, none] }), BUCKET)).map((j) => j.key),
      ['a b!', 'c d'],
    );
  });
});

describe('parseEvents: event types', () => {
  it('maps created and restored to put, removed and expired to delete, with or without the s3: prefix', () => {
    const cases: Array<[string, 'put' | 'delete']> = [
      ['ObjectCreated:Put', 'put'],
      ['s3:ObjectCreated:Put', 'put'],
      ['ObjectCreated:Post', 'put'],
      ['ObjectCreated:Copy', 'put'],
      ['ObjectCreated:CompleteMultipartUpload', 'put'],
      ['s3:ObjectCreated:CompleteMultipartUpload', 'put'],
      ['ObjectRestore:Completed', 'put'],
      ['ObjectRemoved:Delete', 'delete'],
      ['s3:ObjectRemoved:DeleteMarkerCreated', 'delete'],
      ['ObjectRemoved:DeleteMarkerCreated', 'delete'],
      ['LifecycleExpiration:Delete', 'delete'],
      ['s3:LifecycleExpiration:DeleteMarkerCreated', 'delete'],
      ['ObjectLifecycle:Expiration:Current', 'delete'],
    ];
    const p = parseEvents(json({ Records: cases.map(([name], i) => awsRecord(`k${i}`, name)) }), BUCKET);
    assert.deepEqual(
      jobsOf(p).map((j) => [j.key, j.op]),
      cases.map(([, op], i) => [`k${i}`, op]),
    );
    assert.equal((p as { ignored: number }).ignored, 0);
  });

  it('counts events that need no job: tagging, ACL, restore started, replication, transition', () => {
    const ignoredNames = [
      'ObjectTagging:Put',
      's3:ObjectTagging:Delete',
      'ObjectAcl:Put',
      'ObjectRestore:Post',
      'ObjectRestore:Delete',
      'Replication:OperationFailedReplication',
      'LifecycleTransition',
      'IntelligentTiering',
      'ReducedRedundancyLostObject',
      'ObjectSynced:Create',
    ];
    const p = parseEvents(
      json({ Records: [...ignoredNames.map((n) => awsRecord('t', n)), awsRecord('made', 'ObjectCreated:Put')] }),
      BUCKET,
    );
    assert.deepEqual(p, {
      kind: 'jobs',
      jobs: [{ key: 'made', op: 'put', hints: { size: 5, etag: ETAG } }],
      ignored: ignoredNames.length,
    });
  });

  it('an ignored record needs no key, but must be for the source bucket', () => {
    const noKey = awsRecord('x', 'ObjectAcl:Put') as { s3: { object?: unknown } };
    delete noKey.s3.object;
    assert.deepEqual(parseEvents(json({ Records: [noKey] }), BUCKET), { kind: 'jobs', jobs: [], ignored: 1 });
    assert.match(
      reasonOf(parseEvents(json({ Records: [awsRecord('x', 'ObjectAcl:Put', { bucket: 'other' })] }), BUCKET)),
      /"other"/,
    );
  });

  it('an empty Records array is no work', () => {
    assert.deepEqual(parseEvents(json({ Records: [] }), BUCKET), { kind: 'jobs', jobs: [], ignored: 0 });
  });
});

describe('parseEvents: hints', () => {
  const put = (o: object) =>
    jobsOf(parseEvents(json({ Records: [cephRecord('k', 'ObjectCreated:Put', o)] }), BUCKET))[0]!;

  it('size and eTag when sane; a quoted or upper-case eTag normalised; a multipart eTag kept', () => {
    assert.deepEqual(put({ size: 0, eTag: `"${ETAG.toUpperCase()}"` }).hints, { size: 0, etag: ETAG });
    assert.deepEqual(put({ size: 5242884, eTag: 'a7d414b9133d6483d9a1c4e04e856e3b-2' }).hints, {
      size: 5242884,
      etag: 'a7d414b9133d6483d9a1c4e04e856e3b-2',
    });
  });

  it('drops what is not: negative, fractional or string sizes; empty or odd eTags; no hints at all then', () => {
    assert.deepEqual(put({ size: -1 }).hints, { etag: ETAG });
    assert.deepEqual(put({ size: 1.5, eTag: '' }), { key: 'k', op: 'put' });
    assert.deepEqual(put({ size: '5' as unknown as number, eTag: 'not-an-etag' }), { key: 'k', op: 'put' });
    assert.deepEqual(put({ size: 2 ** 60, eTag: 'zz41402abc4b2a76b9719d911017c592' }), { key: 'k', op: 'put' });
  });

  it("the event's time becomes hints.at, where the key's latency starts; a time that is no date is left out", () => {
    const at = (eventTime: unknown) => {
      const record = { ...(cephRecord('k', 'ObjectCreated:Put', { size: 1 }) as Record<string, unknown>), eventTime };
      const p = parseEvents(json({ Records: [record] }), BUCKET);
      assert.equal(p.kind, 'jobs');
      return (p as Extract<EventParse, { kind: 'jobs' }>).jobs[0]!.hints?.at;
    };
    assert.equal(at('2026-12-02T04:42:37.210218Z'), Date.parse('2026-12-02T04:42:37.210Z'));
    assert.equal(at('yesterday'), undefined);
    assert.equal(at(12), undefined);
    assert.equal(at(undefined), undefined);
    const del = {
      ...(cephRecord('k', 'ObjectRemoved:Delete', {}) as Record<string, unknown>),
      eventTime: '2026-12-02T04:42:37Z',
    };
    const p = parseEvents(json({ Records: [del] }), BUCKET);
    assert.deepEqual(
      (p as Extract<EventParse, { kind: 'jobs' }>).jobs,
      [{ key: 'k', op: 'delete' }],
      'a delete carries none',
    );
  });

  it('a delete carries none (Ceph sends the deleted size, or 0 and "" for a key that never was)', () => {
    const jobs = jobsOf(
      parseEvents(
        json({
          Records: [
            cephRecord('gone', 'ObjectRemoved:Delete', { size: 6 }),
            cephRecord('never', 'ObjectRemoved:Delete', { size: 0, eTag: '' }),
          ],
        }),
        BUCKET,
      ),
    );
    assert.deepEqual(jobs, [
      { key: 'gone', op: 'delete' },
      { key: 'never', op: 'delete' },
    ]);
  });
});

describe('parseEvents: SNS envelopes and test events', () => {
  it('unwraps an SNS Notification holding S3 records', () => {
    const inner = JSON.stringify({
      Records: [awsRecord('photos/red+flower.jpg'), awsRecord('photos/old', 'ObjectRemoved:Delete')],
    });
    assert.deepEqual(jobsOf(parseEvents(snsNotification(inner), BUCKET)), [
      { key: 'photos/red flower.jpg', op: 'put', hints: { size: 5, etag: ETAG } },
      { key: 'photos/old', op: 'delete' },
    ]);
  });

  it('an s3:TestEvent, plain or inside SNS, is a test', () => {
    assert.deepEqual(parseEvents(json(TEST_EVENT), BUCKET), { kind: 'test' });
    assert.deepEqual(parseEvents(snsNotification(JSON.stringify(TEST_EVENT)), BUCKET), { kind: 'test' });
  });

  it('a SubscriptionConfirmation gives its topic and URL, to log (never fetched)', () => {
    const url =
      'https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:s3-events&Token=2336412f37';
    const body = json({
      Type: 'SubscriptionConfirmation',
      MessageId: '165545c9-2a5c-472c-8df2-7ff2be2b3b1b',
      Token: '2336412f37',
      TopicArn: 'arn:aws:sns:us-west-2:123456789012:s3-events',
      Message:
        'You have chosen to subscribe to the topic arn:aws:sns:us-west-2:123456789012:s3-events.\n' +
        'To confirm the subscription, visit the SubscribeURL included in this message.',
      SubscribeURL: url,
      Timestamp: '2026-12-02T04:00:00.000Z',
      SignatureVersion: '1',
      Signature: 'EXAMPLE',
      SigningCertURL: 'https://sns.us-west-2.amazonaws.com/SimpleNotificationService.pem',
    });
    assert.deepEqual(parseEvents(body, BUCKET), {
      kind: 'subscribe',
      topicArn: 'arn:aws:sns:us-west-2:123456789012:s3-events',
      subscribeUrl: url,
    });
  });

  it('an UnsubscribeConfirmation is answered and ignored', () => {
    assert.deepEqual(
      parseEvents(
        json({
          Type: 'UnsubscribeConfirmation',
          TopicArn: 'arn:aws:sns:us-west-2:123456789012:s3-events',
          SubscribeURL: 'https://x',
        }),
        BUCKET,
      ),
      { kind: 'jobs', jobs: [], ignored: 1 },
    );
  });

  it('a MinIO body with its EventName and Key beside the Records reads the Records', () => {
    const jobs = jobsOf(
      parseEvents(
        minioBody([minioRecord('dir%2Fa+b%C3%A9')], 's3:ObjectCreated:Put', `${BUCKET}/dir%2Fa+b%C3%A9`),
        BUCKET,
      ),
    );
    assert.deepEqual(
      jobs.map((j) => j.key),
      ['dir/a b\u00e9'],
    );
  });
});

describe('parseEvents: refusals (a body is all or nothing)', () => {
  const refuse = (body: Buffer | object, pattern: RegExp) =>
    assert.match(reasonOf(parseEvents(Buffer.isBuffer(body) ? body : json(body), BUCKET)), pattern);

  it('not UTF-8, not JSON, not an object', () => {
    refuse(Buffer.from([0x7b, 0xff, 0x7d]), /not valid UTF-8/);
    refuse(Buffer.from('{"Records": [', 'utf8'), /not a JSON object/);
    refuse(Buffer.from('', 'utf8'), /not a JSON object/);
    refuse(Buffer.from('[{"eventName":"ObjectCreated:Put"}]', 'utf8'), /array/);
    refuse(Buffer.from('null', 'utf8'), /null/);
    refuse(Buffer.from('"Records"', 'utf8'), /string/);
  });

  it('no Records array', () => {
    refuse({}, /no "Records" array/);
    refuse({ Records: { 0: cephRecord('k') } }, /no "Records" array/);
    refuse({ EventName: 's3:ObjectCreated:Put', Key: `${BUCKET}/k` }, /no "Records" array/);
  });

  it('a record that is not an object, without eventName, bucket or key', () => {
    refuse({ Records: [cephRecord('ok'), 'ObjectCreated:Put'] }, /record 1 is not an object/);
    const noName = cephRecord('k') as Record<string, unknown>;
    delete noName.eventName;
    refuse({ Records: [noName] }, /record 0 has no eventName/);
    const noBucket = cephRecord('k') as { s3: Record<string, unknown> };
    delete noBucket.s3.bucket;
    refuse({ Records: [noBucket] }, /record 0 \("ObjectCreated:Put"\) has no s3\.bucket\.name/);
    const noS3 = cephRecord('k') as Record<string, unknown>;
    delete noS3.s3;
    refuse({ Records: [noS3] }, /has no s3\.bucket\.name/);
    const noKey = cephRecord('k') as { s3: { object: Record<string, unknown> } };
    delete noKey.s3.object.key;
    refuse({ Records: [noKey] }, /record 0 \("ObjectCreated:Put"\) has no s3\.object\.key/);
    const numKey = cephRecord('k') as { s3: { object: Record<string, unknown> } };
    numKey.s3.object.key = 42;
    refuse({ Records: [numKey] }, /has no s3\.object\.key/);
  });

  it(
    'a record for another bucket names it and the bucket this s3s3 replicates; ' +
      'the good records with it are not taken',
    () => {
      const p = parseEvents(
        json({ Records: [cephRecord('ok'), cephRecord('k', 'ObjectCreated:Put', { bucket: 'someone-else' })] }),
        BUCKET,
      );
      assert.equal(
        reasonOf(p),
        `record 1 ("ObjectCreated:Put") is for bucket "someone-else"; this s3s3 replicates bucket "${BUCKET}"`,
      );
    },
  );

  it('an empty key, a key over 1024 bytes (raw or once decoded)', () => {
    refuse({ Records: [cephRecord('')] }, /record 0 \("ObjectCreated:Put"\) has an empty key/);
    refuse({ Records: [awsRecord('')] }, /has an empty key/);
    refuse(
      { Records: [cephRecord('k'), cephRecord('x'.repeat(1025))] },
      /record 1 .*key of 1025 bytes is over the 1024-byte limit/,
    );
    refuse({ Records: [awsRecord(awsEncode('\u00e9'.repeat(513)))] }, /key of 1026 bytes is over the 1024-byte limit/);
  });

  it('a percent-decoding that is malformed or yields invalid UTF-8 names the record and the key', () => {
    refuse({ Records: [awsRecord('a%ZZ')] }, /record 0 \("ObjectCreated:Put"\) key "a%ZZ": bad percent-escape/);
    refuse({ Records: [awsRecord('trailing%')] }, /bad percent-escape/);
    refuse({ Records: [awsRecord('short%4')] }, /bad percent-escape/);
    refuse(
      { Records: [awsRecord('ok'), minioRecord('bad%FF')] },
      /record 1 \("s3:ObjectCreated:Put"\) key "bad%FF": percent-decodes to bytes that are not valid UTF-8/,
    );
    refuse({ Records: [awsRecord('cut%C3')] }, /not valid UTF-8/);
    refuse({ Records: [awsRecord('surrogate%ED%A0%80')] }, /not valid UTF-8/);
    refuse({ Records: [awsRecord('overlong%C0%AF')] }, /not valid UTF-8/);
  });

  it('a raw key holding a lone surrogate (a JSON \\ud800 escape)', () => {
    refuse(
      Buffer.from(JSON.stringify({ Records: [cephRecord('PLACEHOLDER')] }).replace('PLACEHOLDER', 'a\\ud800b'), 'utf8'),
      /lone surrogate/,
    );
  });

  it('a control-character key is quoted escaped: the reason stays one line', () => {
    const reason = reasonOf(
      parseEvents(
        json({ Records: [cephRecord('line\nbreak\u0001', 'ObjectCreated:Put', { bucket: 'x\ny' })] }),
        BUCKET,
      ),
    );
    assert.match(reason, /"x\\ny"/);
    assert.match(
      reasonOf(parseEvents(json({ Records: [cephRecord('k', 'ObjectCreated:Put', { bucket: 'a\u2028b' })] }), BUCKET)),
      /"a\\u2028b"/,
    );
    // V8 quotes a piece of the bad input in its message, raw.
    assert.match(
      reasonOf(parseEvents(Buffer.from('nope\u0001\n\u2029 {', 'utf8'), BUCKET)),
      /not a JSON object: .*nope\\u0001\\u000a\\u2029/,
    );
    const long = reasonOf(parseEvents(json({ Records: [awsRecord('%FF' + 'a'.repeat(500))] }), BUCKET));
    assert.ok(long.length < 300, long);
  });

  it('SNS envelopes that cannot be read', () => {
    refuse({ Type: 'Notification', Message: { Records: [] } }, /SNS Notification without a Message string/);
    refuse({ Type: 'Notification' }, /without a Message string/);
    refuse(snsNotification('not json'), /SNS Notification Message is not a JSON object/);
    refuse(snsNotification(JSON.stringify({ Hello: 1 })), /no "Records" array/);
    refuse(
      { Type: 'SubscriptionConfirmation', TopicArn: 'arn:aws:sns:us-east-1:1:t' },
      /SubscriptionConfirmation without a TopicArn and SubscribeURL/,
    );
    refuse({ Type: 'Surprise' }, /SNS message Type "Surprise" is not handled/);
  });
});
