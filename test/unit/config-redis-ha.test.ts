/**
 * Issue 19: `[pubsub]` reaching a Redis that fails over. `redis_sentinels` + `redis_sentinel_name`
 * (+ `redis_sentinel_password`, its `_file`), `redis_cluster` (no `db`), `redis_tls`; one way to
 * Redis per config; bad `host:port` lists named; the passwords never printed; the environment
 * overlay for free. Nothing here connects.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, parseConfig, type Config } from '../../src/api/config.js';
import { ConfigError } from '../../src/api/errors.js';
import { bullmqPrefix, describeRedis } from '../../src/api/redis/redis.js';

const ENDPOINTS = `
[source]
aws_access_key_id = AK
aws_secret_access_key = SK
bucket_name = src
endpoint = http://127.0.0.1:9
[dest1]
aws_access_key_id = AK
aws_secret_access_key = SK
bucket_name = dst
endpoint = http://127.0.0.1:9
`;

const DATA_PW = 'DataPw-1/+=@x';
const SENTINEL_PW = 'SentPw-2/+=@y';

function parse(pubsub: string, env: NodeJS.ProcessEnv = {}): Config {
  return parseConfig(`${ENDPOINTS}[pubsub]\n${pubsub}\n`, { file: 'test.ini', env });
}

function problemsOf(pubsub: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parse(pubsub, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `[${p.section ?? ''}] ${p.key ?? ''}: ${p.message}`);
  }
  assert.fail('expected a ConfigError');
}

function assertHidden(c: Config, ...secrets: string[]): void {
  const texts = [
    inspect(c, { depth: Infinity }),
    inspect(c.pubsub.redisTarget, { depth: Infinity, showHidden: true }),
    JSON.stringify(c),
    JSON.stringify(c.pubsub.redisTarget),
    String(c.pubsub.redisUrlRedacted),
  ];
  for (const t of texts)
    for (const s of secrets)
      for (const form of [s, encodeURIComponent(s)]) assert.ok(!t.includes(form), `printed ${form}:\n${t}`);
}

describe('[pubsub] Redis Sentinel', () => {
  it('reads the sentinels, the name, both passwords and db; hides the passwords', () => {
    const c = parse(
      `redis_sentinels = 10.0.0.1:26379, 10.0.0.2:26380 ,[fd00::3]:26381\nredis_sentinel_name = mymaster\n` +
        `password = ${DATA_PW}\nredis_sentinel_password = ${SENTINEL_PW}\ndb = 3`,
    );
    const t = c.pubsub.redisTarget;
    assert.equal(t.kind, 'sentinel');
    if (t.kind !== 'sentinel') return;
    assert.deepEqual(
      t.sentinels.map((n) => ({ ...n })),
      [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
        { host: 'fd00::3', port: 26381 },
      ],
    );
    assert.equal(t.name, 'mymaster');
    assert.equal(t.db, 3);
    assert.equal(t.password, DATA_PW, 'the data nodes keep password');
    assert.equal(t.sentinelPassword, SENTINEL_PW);
    assert.equal(t.tls, undefined);
    assert.equal(c.pubsub.redisUrl, '');
    assert.equal(
      c.pubsub.redisUrlRedacted,
      'redis+sentinel://10.0.0.1:26379,10.0.0.2:26380,[fd00::3]:26381/mymaster/3',
    );
    assert.equal(describeRedis(t), c.pubsub.redisUrlRedacted);
    assert.equal(bullmqPrefix(t), undefined, 'the queue keeps its keys where they were');
    assertHidden(c, DATA_PW, SENTINEL_PW);
  });

  it('reads redis_sentinel_password_file, and the keys from the environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 's3s3-redis-ha-'));
    writeFileSync(join(dir, 'sentinel.pw'), SENTINEL_PW + '\n', { mode: 0o600 });
    const file = join(dir, 's3s3.ini');
    writeFileSync(file, `${ENDPOINTS}[pubsub]\nredis_sentinel_password_file = sentinel.pw\n`, { mode: 0o600 });
    const c = loadConfig({
      file,
      env: { S3S3_PUBSUB_REDIS_SENTINELS: 'h1:1,h2:2', S3S3_PUBSUB_REDIS_SENTINEL_NAME: 'm' },
    });
    const t = c.pubsub.redisTarget;
    assert.ok(t.kind === 'sentinel');
    assert.equal(t.sentinelPassword, SENTINEL_PW);
    assert.equal(t.sentinels.length, 2);
    assert.equal(t.name, 'm');
    assertHidden(c, SENTINEL_PW);
  });

  it('redis_sentinels without redis_sentinel_name is an error', () => {
    const p = problemsOf('redis_sentinels = 10.0.0.1:26379');
    assert.equal(p.length, 1, p.join('\n'));
    assert.match(p[0]!, /redis_sentinel_name: missing: with redis_sentinels, set redis_sentinel_name = .*mymaster/);
  });

  it('redis_sentinel_name without redis_sentinels is an error', () => {
    const p = problemsOf('redis_sentinel_name = mymaster');
    assert.match(p.join('\n'), /redis_sentinels: missing: redis_sentinel_name need it/);
  });

  it('names every bad host:port of a list at once', () => {
    const p = problemsOf('redis_sentinels = 10.0.0.1, h2:0, h3:26379, ::1:5, h4:99999, a b:1\nredis_sentinel_name = m');
    assert.equal(p.length, 1, p.join('\n'));
    assert.match(p[0]!, /redis_sentinels: "10\.0\.0\.1", "h2:0", "::1:5", "h4:99999", "a b:1" are not host:port/);
    assert.match(p[0]!, /\[::1\]:26379/);
    assert.match(problemsOf('redis_sentinels = , ,\nredis_sentinel_name = m')[0]!, /redis_sentinels: is empty/);
  });

  it('TLS: redis_tls = true with redis_ca_bundle / redis_verify_ssl as today', () => {
    const c = parse('redis_sentinels = h:26379\nredis_sentinel_name = m\nredis_tls = true\nredis_verify_ssl = false');
    const t = c.pubsub.redisTarget;
    assert.equal(t.kind, 'sentinel');
    assert.deepEqual({ ...t.tls }, { rejectUnauthorized: false });
    assert.deepEqual(c.pubsub.redisTls, t.tls);
    assert.match(t.redacted, /^rediss\+sentinel:\/\//);
    assert.ok(c.warnings.some((w) => w.key === 'redis_verify_ssl' && /NOT checked/.test(w.message)));
  });
});

describe('[pubsub] Redis Cluster', () => {
  it('reads the nodes and the password; the queue prefix becomes {s3s3}', () => {
    const c = parse(`redis_cluster = n1:7000,n2:7001, n3:7002\npassword = ${DATA_PW}`);
    const t = c.pubsub.redisTarget;
    assert.ok(t.kind === 'cluster');
    assert.deepEqual(
      t.nodes.map((n) => `${n.host}:${n.port}`),
      ['n1:7000', 'n2:7001', 'n3:7002'],
    );
    assert.equal(t.password, DATA_PW);
    assert.equal(c.pubsub.redisUrlRedacted, 'redis+cluster://n1:7000,n2:7001,n3:7002');
    assert.equal(bullmqPrefix(t), '{s3s3}');
    assertHidden(c, DATA_PW);
  });

  it('refuses a db other than 0', () => {
    assert.equal(parse('redis_cluster = n1:7000\ndb = 0').pubsub.redisTarget.kind, 'cluster');
    const p = problemsOf('redis_cluster = n1:7000\ndb = 2');
    assert.equal(p.length, 1, p.join('\n'));
    assert.match(p[0]!, /\[pubsub\] db: cannot be used with redis_cluster: a Redis Cluster has only database 0/);
  });

  it('redis_tls = true; the CA keys unused without TLS are warned about', () => {
    const c = parse('redis_cluster = n1:7000\nredis_tls = yes');
    assert.deepEqual({ ...c.pubsub.redisTarget.tls }, { rejectUnauthorized: true });
    const plain = parse('redis_cluster = n1:7000\nredis_verify_ssl = false');
    assert.equal(plain.pubsub.redisTarget.tls, undefined);
    assert.ok(plain.warnings.some((w) => w.key === 'redis_verify_ssl' && /is unused/.test(w.message)));
  });
});

describe('[pubsub] one way to Redis', () => {
  for (const [what, text, keys] of [
    [
      'redis_url and redis_sentinels',
      'redis_url = redis://h:1/0\nredis_sentinels = h:2\nredis_sentinel_name = m',
      /redis_url, redis_sentinels\/redis_sentinel_name are set/,
    ],
    ['host/port and redis_cluster', 'host = h\nport = 1\nredis_cluster = h:2', /host\/port, redis_cluster are set/],
    [
      'redis_sentinels and redis_cluster',
      'redis_sentinels = h:2\nredis_sentinel_name = m\nredis_cluster = h:3',
      /redis_sentinels\/redis_sentinel_name, redis_cluster are set/,
    ],
    [
      'host and redis_sentinel_password',
      'host = h\nredis_sentinel_password = x',
      /host, redis_sentinel_password are set/,
    ],
  ] as const) {
    it(`${what} is a config error naming the keys`, () => {
      const p = problemsOf(text).join('\n');
      assert.match(p, /conflicts: /);
      assert.match(p, keys);
      assert.match(p, /give one way to Redis/);
    });
  }

  it('redis_url with host keeps its own message', () => {
    assert.match(problemsOf('redis_url = redis://h:1/0\nhost = h').join('\n'), /host: conflicts with "redis_url"/);
  });

  it('one server as before; redis_tls makes host/port rediss://, and conflicts with a redis:// URL', () => {
    const c = parse(`host = h\nport = 7\npassword = ${DATA_PW}`);
    const t = c.pubsub.redisTarget;
    assert.equal(t.kind, 'server');
    assert.equal(c.pubsub.redisUrl, `redis://:${encodeURIComponent(DATA_PW)}@h:7/0`);
    assert.equal(t.kind === 'server' && t.url, c.pubsub.redisUrl);
    assert.equal(c.pubsub.redisUrlRedacted, 'redis://:***@h:7/0');
    assertHidden(c, DATA_PW);
    assert.match(parse('host = h\nredis_tls = true').pubsub.redisUrl, /^rediss:\/\/h:6379\/0$/);
    assert.ok(parse('host = h\nredis_tls = true').pubsub.redisTls);
    assert.match(
      problemsOf('redis_url = redis://h:1/0\nredis_tls = true').join('\n'),
      /redis_tls: conflicts with a redis:\/\/ URL/,
    );
    assert.equal(parse('redis_url = rediss://h:1/0\nredis_tls = true').pubsub.redisTarget.kind, 'server');
  });

  it('the environment can choose Cluster for a file without [pubsub] keys', () => {
    const c = parse('redis = true', { S3S3_PUBSUB_REDIS_CLUSTER: 'a:1,b:2' });
    assert.equal(c.pubsub.redisTarget.kind, 'cluster');
  });
});

describe('[pubsub] redis_wait_replicas and redis_wait_timeout', () => {
  it('default to 0 (no WAIT) and 1 s', () => {
    const c = parse('redis_url = redis://127.0.0.1:6379');
    assert.equal(c.pubsub.waitReplicas, 0);
    assert.equal(c.pubsub.waitTimeoutMs, 1000);
  });

  it('are read from the file and from S3S3_PUBSUB_*', () => {
    const c = parse('redis_url = redis://127.0.0.1:6379\nredis_wait_replicas = 1\nredis_wait_timeout = 3s');
    assert.equal(c.pubsub.waitReplicas, 1);
    assert.equal(c.pubsub.waitTimeoutMs, 3000);
    const e = parse('redis_url = redis://127.0.0.1:6379', {
      S3S3_PUBSUB_REDIS_WAIT_REPLICAS: '2',
      S3S3_PUBSUB_REDIS_WAIT_TIMEOUT: '2s',
    });
    assert.equal(e.pubsub.waitReplicas, 2);
    assert.equal(e.pubsub.waitTimeoutMs, 2000);
  });

  it('refuse a negative count and a zero timeout (WAIT 0 would block for ever), naming the key', () => {
    const problems = problemsOf('redis_url = redis://127.0.0.1:6379\nredis_wait_replicas = -1\nredis_wait_timeout = 0');
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(problems[0]!, /^\[pubsub\] redis_wait_replicas: /);
    assert.match(problems[1]!, /^\[pubsub\] redis_wait_timeout: .*greater than 0/);
  });
});

describe('[pubsub] node lists quoted in errors', () => {
  it('mask what precedes an @ (a password in user:pass@host)', () => {
    for (const key of ['redis_sentinels', 'redis_cluster']) {
      const extra = key === 'redis_sentinels' ? '\nredis_sentinel_name = m' : '';
      const problems = problemsOf(`${key} = redis://:Hunter2Pw@10.0.0.1:26379, 10.0.0.2:26379${extra}`);
      assert.ok(problems.length >= 1, problems.join('\n'));
      assert.ok(!problems.join('\n').includes('Hunter2Pw'), problems.join('\n'));
      assert.match(problems.join('\n'), /\*\*\*@10\.0\.0\.1:26379/);
    }
  });

  it('refuse a redis_wait_timeout over 10s', () => {
    const problems = problemsOf('redis_url = redis://127.0.0.1:6379\nredis_wait_timeout = 1m');
    assert.match(problems.join('\n'), /redis_wait_timeout: "1m" is longer than 10s/);
  });
});
