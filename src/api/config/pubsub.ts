/**
 * `[pubsub]`: Redis, the listener's channel and queue, the sweep lock, the listener's report.
 * Rules across keys: one way to Redis (`redis_url`, or the original's `host`/`port`/`db`/
 * `password`, or `redis_sentinels` + `redis_sentinel_name`, or `redis_cluster`); the TLS keys
 * apply to `rediss://` or `redis_tls = true` only; `lock_ttl` at least 3s.
 */
import { resolve } from 'node:path';
import { hideSecrets } from '../redact.js';
import type { Reader } from './reader.js';
import type { PubsubConfig, RedisNode, RedisTarget, RedisTlsConfig } from './types.js';
import { redactUrl } from './values.js';

/** `redis_wait_timeout` at most this: a job waits that long for a replica, POST /events with it. */
const MAX_WAIT_TIMEOUT_MS = 10_000;

/** The `[pubsub]` section (`present`: it exists; Redis is then on by default); undefined after a problem. */
export function readPubsub(r: Reader, present: boolean, sourceConcurrency: number): PubsubConfig | undefined {
  const before = r.problemCount();
  r.fromFiles();
  const redis = r.boolean('redis', present);
  if (r.boolean('sns')) {
    r.problem('sns', 'SNS is not supported by s3s3; set sns = false and use redis = true');
  }
  const target = redisTarget(r);
  const result: PubsubConfig = {
    redis,
    redisTarget: target,
    redisUrl: target.kind === 'server' ? target.url : '',
    redisUrlRedacted: target.redacted,
    ...(target.tls ? { redisTls: target.tls } : {}),
    channel: r.text('channel'),
    failedList: r.text('failed_list'),
    pendingSet: r.text('pending_set'),
    marker: r.boolean('marker'),
    concurrency: r.integer('concurrency', sourceConcurrency),
    shutdownTimeoutMs: r.seconds('shutdown_timeout'),
    lockTtlMs: r.seconds('lock_ttl'),
    waitReplicas: r.integer('redis_wait_replicas'),
    waitTimeoutMs: r.seconds('redis_wait_timeout'),
    ...reportFile(r),
    reportMaxSize: r.size('report_max_size'),
    reportKeep: r.integer('report_keep'),
    reportRawKeys: r.boolean('report_raw_keys'),
    ...queueName(r),
    maxQueued: r.integer('max_queued'),
    failedKeep: r.integer('failed_keep'),
    lagThresholdMs: r.seconds('lag_threshold'),
  };
  if (result.lockTtlMs < 3000)
    r.problem(
      'lock_ttl',
      `"${r.string('lock_ttl') ?? ''}" is too short; use at least 3s (the lock is renewed every third of it)`,
    );
  if (result.waitTimeoutMs > MAX_WAIT_TIMEOUT_MS)
    r.problem(
      'redis_wait_timeout',
      `"${r.string('redis_wait_timeout') ?? ''}" is longer than ${MAX_WAIT_TIMEOUT_MS / 1000}s: ` +
        'each queued job waits that long for a slow replica (and POST /events with it); use 1s to 10s',
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

/** The keys that choose how to reach Redis; a config sets those of one way only. */
const WAYS = {
  redis_url: ['redis_url'],
  'host/port': ['host', 'port'],
  redis_sentinels: ['redis_sentinels', 'redis_sentinel_name', 'redis_sentinel_password'],
  redis_cluster: ['redis_cluster'],
} as const;

/**
 * Where Redis is: one of `redis_url`, `host`/`port`/`db`/`password` (the default), Sentinel or
 * Cluster. Mixing two ways is a problem naming the keys. Passwords and the URL are hidden.
 */
function redisTarget(r: Reader): RedisTarget {
  const used = (Object.keys(WAYS) as (keyof typeof WAYS)[]).filter((way) => WAYS[way].some((k) => r.has(k)));
  // redis_url with host/port: serverTarget names each conflicting key, as it always did.
  const oneServer = used.every((way) => way === 'redis_url' || way === 'host/port');
  if (used.length > 1 && !oneServer) {
    const keys = used.map((way) => WAYS[way].filter((k) => r.has(k)).join('/')).join(', ');
    r.problem(
      used.map((way) => WAYS[way].find((k) => r.has(k))!)[1],
      `conflicts: ${keys} are set; give one way to Redis: redis_url (or host/port/db), ` +
        'redis_sentinels with redis_sentinel_name (Sentinel), or redis_cluster (Cluster)',
    );
  }
  const way = used[0] ?? 'host/port';
  if (way === 'redis_sentinels') return sentinelTarget(r);
  if (way === 'redis_cluster') return clusterTarget(r);
  return serverTarget(r);
}

/** One server: `redis_url`, or the URL built from `host`/`port`/`db`/`password` (and `redis_tls`). */
function serverTarget(r: Reader): RedisTarget {
  let url = r.string('redis_url');
  const tlsKey = r.boolean('redis_tls');
  if (url !== undefined) {
    for (const k of ['host', 'port', 'db', 'password'])
      if (r.has(k)) r.problem(k, 'conflicts with "redis_url"; set either redis_url or host/port/db/password');
    if (!/^rediss?:\/\//.test(url)) {
      r.problem('redis_url', 'must start with redis:// or rediss:// (e.g. redis://127.0.0.1:6379/0)');
    } else {
      try {
        new URL(url);
      } catch {
        r.problem('redis_url', 'is not a valid URL (e.g. redis://:password@127.0.0.1:6379/0)');
      }
    }
    if (tlsKey && !/^rediss:\/\//i.test(url))
      r.problem('redis_tls', 'conflicts with a redis:// URL: for TLS write redis_url = rediss://HOST:PORT/DB');
  } else {
    const host = r.text('host');
    const port = r.integer('port');
    const db = r.integer('db');
    const password = r.text('password');
    const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    url = `redis${tlsKey ? 's' : ''}://${password ? `:${encodeURIComponent(password)}@` : ''}${h}:${port}/${db}`;
  }
  const redacted = redactUrl(url);
  const tls = redisTls(r, /^rediss:\/\//i.test(url), redacted);
  return hideSecrets({ kind: 'server' as const, url, redacted, ...(tls ? { tls } : {}) }, ['url']);
}

/** `redis_sentinels` + `redis_sentinel_name`: the master the sentinels name, followed across failovers. */
function sentinelTarget(r: Reader): RedisTarget {
  const sentinels = nodeList(r, 'redis_sentinels', 26379);
  const name = r.string('redis_sentinel_name');
  if (name === undefined || name.trim() === '')
    r.problem(
      'redis_sentinel_name',
      `${name === undefined ? 'missing' : 'is empty'}: with redis_sentinels, set redis_sentinel_name = ` +
        "<the master's name in the sentinels' config> (e.g. mymaster)",
    );
  const db = r.integer('db');
  const password = r.string('password') || undefined;
  const sentinelPassword = r.string('redis_sentinel_password') || undefined;
  const tlsOn = r.boolean('redis_tls');
  const desc = `redis${tlsOn ? 's' : ''}+sentinel://${sentinels.map(nodeText).join(',')}/${name?.trim() ?? ''}/${db}`;
  const tls = redisTls(r, tlsOn, desc);
  const target = {
    kind: 'sentinel' as const,
    sentinels,
    name: name?.trim() ?? '',
    db,
    ...(password !== undefined ? { password } : {}),
    ...(sentinelPassword !== undefined ? { sentinelPassword } : {}),
    redacted: desc,
    ...(tls ? { tls } : {}),
  };
  return hideSecrets(target, ['password', 'sentinelPassword']);
}

/** `redis_cluster`: a Redis Cluster, found from these nodes; database 0 only. */
function clusterTarget(r: Reader): RedisTarget {
  const nodes = nodeList(r, 'redis_cluster', 6379);
  // `db = 0` (as s3s3.ini.dist has it) is what a cluster has anyway; any other is refused.
  if (r.has('db') && r.integer('db') !== 0)
    r.problem('db', 'cannot be used with redis_cluster: a Redis Cluster has only database 0; remove db');
  const password = r.string('password') || undefined;
  const tlsOn = r.boolean('redis_tls');
  const desc = `redis${tlsOn ? 's' : ''}+cluster://${nodes.map(nodeText).join(',')}`;
  const tls = redisTls(r, tlsOn, desc);
  const target = {
    kind: 'cluster' as const,
    nodes,
    ...(password !== undefined ? { password } : {}),
    redacted: desc,
    ...(tls ? { tls } : {}),
  };
  return hideSecrets(target, ['password']);
}

function nodeText(n: RedisNode): string {
  return n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`;
}

/**
 * `host:port, host:port, ...` (an IPv6 address in brackets: `[::1]:26379`); every entry
 * wrong is named in one problem.
 */
export function parseNodeList(text: string): { nodes: RedisNode[]; bad: string[] } {
  const nodes: RedisNode[] = [];
  const bad: string[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]/@]+)):(\d{1,5})$/.exec(item);
    const port = m ? Number(m[3]) : 0;
    if (!m || port < 1 || port > 65535) bad.push(item);
    else nodes.push({ host: m[1] ?? m[2]!, port });
  }
  return { nodes, bad };
}

/** An item quoted back in a message: whatever precedes an `@` may be a password (`user:pass@host`). */
function maskUserinfo(item: string): string {
  const at = item.lastIndexOf('@');
  return at < 0 ? item : `***${item.slice(at)}`;
}

function nodeList(r: Reader, key: string, examplePort: number): RedisNode[] {
  if (!r.has(key)) {
    const others = WAYS.redis_sentinels.filter((k) => k !== key && r.has(k)).join(', ');
    r.problem(key, `missing: ${others} need it; set ${key} = HOST:PORT, HOST:PORT, ... (the sentinels)`);
    return [];
  }
  const text = r.string(key) ?? '';
  const { nodes, bad } = parseNodeList(text);
  const example = `e.g. ${key} = 10.0.0.1:${examplePort}, 10.0.0.2:${examplePort}, 10.0.0.3:${examplePort}`;
  if (bad.length > 0)
    r.problem(
      key,
      `${bad.map((b) => JSON.stringify(maskUserinfo(b))).join(', ')} ${bad.length === 1 ? 'is' : 'are'} ` +
        'not host:port ' +
        `(a port from 1 to 65535; an IPv6 address in brackets: [::1]:${examplePort}); ${example}`,
    );
  else if (nodes.length === 0)
    r.problem(key, `is empty: list the nodes as host:port, separated by commas (${example})`);
  return Object.freeze(nodes.map((n) => Object.freeze(n))) as RedisNode[];
}

/** `redis_ca_bundle` and `redis_verify_ssl`: used with TLS only (`rediss://`, `redis_tls = true`). */
function redisTls(r: Reader, tlsOn: boolean, redacted: string): RedisTlsConfig | undefined {
  const ca = r.caBundle('redis_ca_bundle');
  const verify = r.boolean('redis_verify_ssl');
  if (!tlsOn) {
    for (const key of ['redis_ca_bundle', 'redis_verify_ssl']) {
      if (r.has(key))
        r.warn(
          key,
          `is unused: ${redacted} is plain redis://; for TLS use redis_url = rediss://HOST:PORT/DB ` +
            '(or redis_tls = true)',
        );
    }
    return undefined;
  }
  if (!verify) {
    r.warn(
      'redis_verify_ssl',
      `= false: the TLS certificate of ${redacted} is NOT checked; anyone on the network path can read the ` +
        `password and the keys. Trust the server's CA with redis_ca_bundle = FILE instead` +
        `${ca !== undefined ? ' (redis_ca_bundle is ignored while redis_verify_ssl = false)' : ''}`,
    );
  }
  return Object.freeze({ ...(ca !== undefined ? { ca } : {}), rejectUnauthorized: verify });
}
