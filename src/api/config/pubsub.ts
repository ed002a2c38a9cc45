/**
 * `[pubsub]`: Redis, the listener's channel and queue, the sweep lock, the listener's report.
 * Rules across keys: `redis_url` or the original's `host`/`port`/`db`/`password` (not both);
 * the TLS keys apply to `rediss://` only; `lock_ttl` at least 3s.
 */
import { resolve } from 'node:path';
import { hideSecrets } from '../redact.js';
import type { Reader } from './reader.js';
import type { PubsubConfig, RedisTlsConfig } from './types.js';
import { redactUrl } from './values.js';

/** The `[pubsub]` section (`present`: it exists; Redis is then on by default); undefined after a problem. */
export function readPubsub(r: Reader, present: boolean, sourceConcurrency: number): PubsubConfig | undefined {
  const before = r.problemCount();
  r.fromFiles();
  const redis = r.boolean('redis', present);
  if (r.boolean('sns')) {
    r.problem('sns', 'SNS is not supported by s3s3; set sns = false and use redis = true');
  }
  let redisUrl = r.string('redis_url');
  if (redisUrl !== undefined) {
    for (const k of ['host', 'port', 'db', 'password'])
      if (r.has(k)) r.problem(k, 'conflicts with "redis_url"; set either redis_url or host/port/db/password');
    if (!/^rediss?:\/\//.test(redisUrl)) {
      r.problem('redis_url', 'must start with redis:// or rediss:// (e.g. redis://127.0.0.1:6379/0)');
    } else {
      try {
        new URL(redisUrl);
      } catch {
        r.problem('redis_url', 'is not a valid URL (e.g. redis://:password@127.0.0.1:6379/0)');
      }
    }
  } else {
    const host = r.text('host');
    const port = r.integer('port');
    const db = r.integer('db');
    const password = r.text('password');
    const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    redisUrl = `redis://${password ? `:${encodeURIComponent(password)}@` : ''}${h}:${port}/${db}`;
  }
  const result: PubsubConfig = {
    redis,
    redisUrl,
    redisUrlRedacted: redactUrl(redisUrl),
    ...redisTls(r, redisUrl),
    channel: r.text('channel'),
    failedList: r.text('failed_list'),
    pendingSet: r.text('pending_set'),
    marker: r.boolean('marker'),
    concurrency: r.integer('concurrency', sourceConcurrency),
    shutdownTimeoutMs: r.seconds('shutdown_timeout'),
    lockTtlMs: r.seconds('lock_ttl'),
    ...reportFile(r),
    reportMaxSize: r.size('report_max_size'),
    reportKeep: r.integer('report_keep'),
    reportRawKeys: r.boolean('report_raw_keys'),
    ...queueName(r),
    maxQueued: r.integer('max_queued'),
    failedKeep: r.integer('failed_keep'),
  };
  if (result.lockTtlMs < 3000)
    r.problem(
      'lock_ttl',
      `"${r.string('lock_ttl') ?? ''}" is too short; use at least 3s (the lock is renewed every third of it)`,
    );
  return r.problemCount() === before ? hideSecrets(result, ['redisUrl']) : undefined;
}

/** `queue = NAME`: a BullMQ queue name may not hold ':' (BullMQ's own key separator). */
function queueName(r: Reader): { queue?: string } {
  const name = r.string('queue');
  if (name === undefined) return {};
  if (name === '' || name.includes(':')) {
    r.problem(
      'queue',
      `"${name}" is not a usable queue name: give a non-empty name without ':' (e.g. s3s3-photos), ` +
        'or remove the key for one derived from the buckets',
    );
    return {};
  }
  return { queue: name };
}

/** `report = FILE`, relative to the config file's directory like the other paths. */
function reportFile(r: Reader): { report?: string } {
  const file = r.string('report');
  if (file === undefined) return {};
  if (file === '') {
    r.problem('report', 'is empty: give a file path (e.g. /var/log/s3s3/listen.csv), or remove the key');
    return {};
  }
  return { report: resolve(r.baseDir, file) };
}

/** `redis_ca_bundle` and `redis_verify_ssl`: used for `rediss://` only. */
function redisTls(r: Reader, redisUrl: string): { redisTls?: RedisTlsConfig } {
  const ca = r.caBundle('redis_ca_bundle');
  const verify = r.boolean('redis_verify_ssl');
  const redacted = redactUrl(redisUrl);
  if (!/^rediss:\/\//i.test(redisUrl)) {
    for (const key of ['redis_ca_bundle', 'redis_verify_ssl']) {
      if (r.has(key))
        r.warn(key, `is unused: ${redacted} is plain redis://; for TLS use redis_url = rediss://HOST:PORT/DB`);
    }
    return {};
  }
  if (!verify) {
    r.warn(
      'redis_verify_ssl',
      `= false: the TLS certificate of ${redacted} is NOT checked; anyone on the network path can read the ` +
        `password and the keys. Trust the server's CA with redis_ca_bundle = FILE instead` +
        `${ca !== undefined ? ' (redis_ca_bundle is ignored while redis_verify_ssl = false)' : ''}`,
    );
  }
  return { redisTls: Object.freeze({ ...(ca !== undefined ? { ca } : {}), rejectUnauthorized: verify }) };
}
