/**
 * The real servers test/run.sh started, read from the env files it names. Integration
 * tests loop over them, so each behaviour is proven on Ceph RGW and on Swift.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { parseConfig, type EndpointConfig } from '../../src/api/config.js';

export interface TestServer {
  readonly name: string;
  readonly endpoint: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly region: string;
  /** The same server over https with a certificate from a private CA (ceph.sh), if it has one. */
  readonly tlsEndpoint?: string;
  /** That CA's certificate (PEM file). */
  readonly caFile?: string;
  /** Swift only: its native API (tempauth v1), as a `type = swift` section reaches it. */
  readonly swift?: { readonly authUrl: string; readonly user: string; readonly key: string };
}

function readEnvFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Fails loudly when run outside test/run.sh: an integration test must never pass by skipping. */
export function testServers(): TestServer[] {
  const list = process.env.S3S3TEST_SERVERS;
  if (!list)
    throw new Error('S3S3TEST_SERVERS is not set: run the tests with `npm test` (test/run.sh starts the servers)');
  return list.split(':').map((file) => {
    const e = readEnvFile(file);
    return {
      name: e.S3_NAME!,
      endpoint: e.S3_ENDPOINT!,
      accessKey: e.S3_ACCESS_KEY!,
      secretKey: e.S3_SECRET_KEY!,
      region: e.S3_REGION ?? 'us-east-1',
      ...(e.S3_TLS_ENDPOINT && e.S3_CA_FILE ? { tlsEndpoint: e.S3_TLS_ENDPOINT, caFile: e.S3_CA_FILE } : {}),
      ...(e.SWIFT_AUTH_URL
        ? { swift: { authUrl: e.SWIFT_AUTH_URL, user: e.SWIFT_USER ?? 'test:tester', key: e.SWIFT_KEY ?? 'testing' } }
        : {}),
    };
  });
}

export function redisUrl(): string {
  const file = process.env.S3S3TEST_REDIS;
  if (!file) throw new Error('S3S3TEST_REDIS is not set: run the tests with `npm test`');
  return readEnvFile(file).REDIS_URL!;
}

/** The test Redis over TLS (rediss://) and its private CA, when redis-server was built with TLS. */
export function redisTls(): { url: string; caFile: string } | undefined {
  const file = process.env.S3S3TEST_REDIS;
  if (!file) throw new Error('S3S3TEST_REDIS is not set: run the tests with `npm test`');
  const e = readEnvFile(file);
  return e.REDIS_TLS_URL && e.REDIS_CA_FILE ? { url: e.REDIS_TLS_URL, caFile: e.REDIS_CA_FILE } : undefined;
}

/** Bucket names unique per test, valid everywhere (lower-case, <= 63 chars). */
export function uniqueBucket(label: string): string {
  const clean = label
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .slice(0, 40);
  return `t-${clean}-${randomBytes(4).toString('hex')}`.replace(/-+/g, '-');
}

/** INI text for one section pointing at a test server. */
export function sectionIni(
  section: string,
  server: TestServer,
  bucket: string,
  extra: Record<string, string | number | boolean> = {},
): string {
  const lines = [
    `[${section}]`,
    `aws_access_key_id = ${server.accessKey}`,
    `aws_secret_access_key = ${server.secretKey}`,
    `bucket_name = ${bucket}`,
    `endpoint = ${server.endpoint}`,
    `region = ${server.region}`,
  ];
  for (const [k, v] of Object.entries(extra)) lines.push(`${k} = ${v}`);
  return lines.join('\n') + '\n';
}

/** An EndpointConfig for a test server, through the real config parser. */
export function endpointConfig(
  server: TestServer,
  bucket: string,
  extra: Record<string, string | number | boolean> = {},
): EndpointConfig {
  const text = sectionIni('source', server, bucket, extra) + sectionIni('dest1', server, bucket + '-unused', {});
  return parseConfig(text, { file: 'test' }).source;
}

/** An EndpointConfig read as a destination section (`[dest1]`), for destination-only keys such as delete_mode. */
export function destConfig(
  server: TestServer,
  bucket: string,
  extra: Record<string, string | number | boolean> = {},
): EndpointConfig {
  const text = sectionIni('source', server, bucket + '-unused', {}) + sectionIni('dest1', server, bucket, extra);
  return parseConfig(text, { file: 'test' }).destinations[0]!;
}

/**
 * The same server under another name (`localhost` for `127.0.0.1`): s3s3 copies server-side
 * only to the source's own endpoint, so a copy to this one streams every byte.
 */
export function underOtherName(server: TestServer): TestServer {
  return { ...server, endpoint: server.endpoint.replace('127.0.0.1', 'localhost') };
}
