/**
 * Makes the test Ceph RGW push a bucket's notifications to an HTTP endpoint (SERVERS.md):
 * an SNS `CreateTopic` on the RGW endpoint itself (`push-endpoint`, `persistent=true`), then a
 * bucket notification configuration naming that topic for `s3:ObjectCreated:*` and
 * `s3:ObjectRemoved:*`.
 *
 * The SNS call is signed with s3s3's own signature v2 (RGW accepts it on its SNS API too): no
 * awscli, no python, no extra package. The bucket notification goes through the SDK.
 */
import { randomBytes } from 'node:crypto';
import { PutBucketNotificationConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import { SignatureV2Signer } from '../../src/api/store/sigv2.js';
import type { TestServer } from './servers.js';

export interface CephNotification {
  readonly topicArn: string;
  /** Drops the bucket's notification configuration, then the topic. */
  remove(): Promise<void>;
}

/** Ceph only: `server` is the `ceph` entry of testServers(). */
export async function notifyTo(server: TestServer, bucket: string, url: string): Promise<CephNotification> {
  const topic = `s3s3-${bucket}-${randomBytes(3).toString('hex')}`.slice(0, 250);
  const created = await sns(server, {
    Action: 'CreateTopic',
    Name: topic,
    'Attributes.entry.1.key': 'push-endpoint',
    'Attributes.entry.1.value': url,
    'Attributes.entry.2.key': 'persistent',
    'Attributes.entry.2.value': 'true',
  });
  const topicArn = /<TopicArn>([^<]+)<\/TopicArn>/.exec(created)?.[1];
  if (topicArn === undefined)
    throw new Error(`CreateTopic on ${server.endpoint}: no TopicArn in the answer: ${created.slice(0, 300)}`);
  const s3 = client(server);
  try {
    await s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: bucket,
        NotificationConfiguration: {
          TopicConfigurations: [
            { Id: topic.slice(0, 64), TopicArn: topicArn, Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'] },
          ],
        },
      }),
    );
  } catch (err) {
    await sns(server, { Action: 'DeleteTopic', TopicArn: topicArn }).catch(() => {});
    throw err;
  } finally {
    s3.destroy();
  }
  return {
    topicArn,
    async remove() {
      // Ceph's own DELETE /<bucket>?notification: it answers MalformedXML to an empty
      // configuration ("at least one 'TopicConfiguration' must exist").
      await signed(server, 'DELETE', `/${bucket}`, { notification: '' }, undefined, [404]);
      await sns(server, { Action: 'DeleteTopic', TopicArn: topicArn });
    },
  };
}

function client(server: TestServer): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKey, secretAccessKey: server.secretKey },
    maxAttempts: 1,
  });
}

/** One SNS API call on the RGW endpoint (a form POST to `/`); the XML answer, or a thrown error. */
function sns(server: TestServer, params: Record<string, string>): Promise<string> {
  return signed(server, 'POST', '/', {}, new URLSearchParams(params).toString());
}

/** A request signed with signature v2; the answer's text, or a thrown error unless its status is in `ok`. */
async function signed(
  server: TestServer,
  method: string,
  path: string,
  query: Record<string, string>,
  form?: string,
  ok: readonly number[] = [],
): Promise<string> {
  const endpoint = new URL(server.endpoint);
  const request = {
    method,
    hostname: endpoint.hostname,
    path,
    query,
    headers: (form === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }) as Record<
      string,
      string
    >,
  };
  await new SignatureV2Signer({
    credentials: { accessKeyId: server.accessKey, secretAccessKey: server.secretKey },
    endpointHost: endpoint.hostname,
    bucket: '',
  }).sign(request);
  const url = new URL(path, endpoint);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const res = await fetch(url, { method, headers: request.headers, ...(form === undefined ? {} : { body: form }) });
  const text = await res.text();
  if (!res.ok && !ok.includes(res.status))
    throw new Error(
      `${method} ${path}${form === undefined ? '' : ` (${new URLSearchParams(form).get('Action')})`} on ` +
        `${server.endpoint}: HTTP ${res.status}: ${text.slice(0, 300)}`,
    );
  return text;
}
