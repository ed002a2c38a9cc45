/** The AWS SDK's own client on a test server, for what a test sets up behind s3s3's back (versioning, Object Lock). */
import { S3Client } from '@aws-sdk/client-s3';
import type { TestServer } from './servers.js';

/** A path-style SDK client with the server's credentials, two attempts per call. */
export function sdkClient(server: TestServer): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKey, secretAccessKey: server.secretKey },
    maxAttempts: 2,
  });
}
