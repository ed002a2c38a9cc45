/**
 * Defect 8: printing any public object (a loaded config, a store, a BucketClient, a
 * ListenClient) in any of the usual ways must not show a secret key, a Redis password or
 * the contents of a secret file. Nothing here connects: the objects are only built.
 * Issue 17: every other exported object too (Swift stores and their auth, [http] tokens,
 * [notify] SMTP password and webhook URL, Publisher, Redis connections, locks, metrics), built
 * from a config holding every kind of secret. (SyncQueue and Enqueuer have their own test.)
 */
import { Console } from 'node:console';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BucketClient, createConnection } from '../../src/api/bucket-client.js';
import { type Config, loadConfig, s3Section, swiftSection } from '../../src/api/config.js';
import { DaemonMetrics } from '../../src/api/http/metrics.js';
import { ListenClient } from '../../src/api/listen/listen-client.js';
import { Publisher } from '../../src/api/listen/publish.js';
import { FileLock } from '../../src/api/lock/file-lock.js';
import { RedisLock } from '../../src/api/lock/redis-lock.js';
import { SweepLock } from '../../src/api/lock/sweep-lock.js';
import { NotifyError } from '../../src/api/notify/notify-error.js';
import { connectRedis } from '../../src/api/redis/redis.js';
import { ReportWriter } from '../../src/api/report.js';
import { S3Store } from '../../src/api/store/s3-store.js';
import { SwiftStore } from '../../src/api/store/swift-store.js';

const INLINE_SECRET = 'SeCrEt-123/+=inline';
const FILE_SECRET = 'SeCrEt-456/+=file';
const V2_SECRET = 'SeCrEt-789/+=v2';
const REDIS_PASSWORD = 'RePw-123/+=@x';
const SWIFT_KEY = 'SwKey-123/+=v1';
const KEYSTONE_PASSWORD = 'KsPw-123/+=v3';
const ADMIN_TOKEN = 'AdminTok-0123456789abcdef';
const EVENTS_TOKEN = 'EventsTok-0123456789abcdef';
const SMTP_PASSWORD = 'SmtpPw-123+=x';
const WEBHOOK_TOKEN = 'WebhookTok-0123456789';
const SECRETS = [
  INLINE_SECRET,
  FILE_SECRET,
  V2_SECRET,
  REDIS_PASSWORD,
  SWIFT_KEY,
  KEYSTONE_PASSWORD,
  ADMIN_TOKEN,
  EVENTS_TOKEN,
  SMTP_PASSWORD,
  WEBHOOK_TOKEN,
];

function load(everything = false): Config {
  const dir = mkdtempSync(join(tmpdir(), 's3s3-redact-'));
  writeFileSync(join(dir, 'dest1.key'), FILE_SECRET + '\n', { mode: 0o600 });
  writeFileSync(join(dir, 'redis.pw'), REDIS_PASSWORD + '\n', { mode: 0o600 });
  const file = join(dir, 's3s3.ini');
  writeFileSync(
    file,
    `[source]\naws_access_key_id = AKSOURCE\naws_secret_access_key = ${INLINE_SECRET}\nbucket_name ` +
      `= src\nendpoint = https://s3.example.com\n` +
      `[dest1]\naws_access_key_id = AKDEST1\naws_secret_access_key_file = dest1.key\nbucket_name ` +
      `= dst1\nendpoint = http://127.0.0.1:9\n` +
      `[dest2]\naws_access_key_id = AKDEST2\naws_secret_access_key = ${V2_SECRET}\nbucket_name ` +
      `= dst2\nendpoint = http://127.0.0.1:9\nsignature_version = s3\n` +
      `[pubsub]\nredis = true\nhost = 127.0.0.1\nport = 9\npassword_file = redis.pw\n` +
      (everything
        ? `[dest3]\ntype = swift\nauth_url = http://127.0.0.1:9/auth/v1.0\nuser = acct:user\nkey ` +
          `= ${SWIFT_KEY}\ncontainer = c3\n` +
          `[dest4]\ntype = swift\nauth_url = http://127.0.0.1:9/v3\nusername = u\npassword ` +
          `= ${KEYSTONE_PASSWORD}\nproject_name = p\ncontainer = c4\n` +
          `[http]\nport = 9\nadmin_token = ${ADMIN_TOKEN}\nevents_token = ${EVENTS_TOKEN}\n` +
          `[notify]\nmail_to = ops@example.com\nmail_from = s3s3@example.com\nsmtp_url = smtps://mailer:${encodeURIComponent(SMTP_PASSWORD)}@127.0.0.1:9\nwebhook_url ` +
          `= http://127.0.0.1:9/hook/${WEBHOOK_TOKEN}\n`
        : ''),
    { mode: 0o600 },
  );
  return loadConfig({ file, env: {} });
}

/** JSON.stringify's text; '' when it throws on a cycle (DaemonMetrics's prom-client registry): nothing printed. */
function jsonOf(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch (err) {
    if (err instanceof TypeError && /circular/i.test(err.message)) return '';
    throw err;
  }
}

/** Every way a user or a logger turns the object into text. */
function renderings(value: unknown): Record<string, string> {
  let captured = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      captured += chunk.toString('utf8');
      done();
    },
  });
  const c = new Console({ stdout: sink, stderr: sink });
  c.log(value);
  c.log('%o', value);
  c.dir(value, { depth: Infinity });
  c.error({ wrapped: value });
  return {
    inspect: inspect(value, { depth: Infinity, showHidden: false }),
    inspectNested: inspect({ a: [value] }, { depth: Infinity }),
    console: captured,
    json: jsonOf(value),
    string: String(value),
    template: `${value as string}`,
  };
}

function assertNoSecret(label: string, value: unknown): void {
  const shown: string[] = [];
  let sample = '';
  for (const [how, text] of Object.entries(renderings(value))) {
    for (const secret of SECRETS) {
      for (const form of new Set([secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')])) {
        if (text.includes(form)) {
          shown.push(`${how} shows ${JSON.stringify(form)}`);
          sample ||= text.slice(Math.max(0, text.indexOf(form) - 600), text.indexOf(form) + 200);
        }
      }
    }
  }
  assert.deepEqual(shown, [], `${label} printed:\n${sample}`);
}

describe('secrets are never printed', () => {
  const config = load();

  it('the secrets are still there for the code that uses them', () => {
    assert.equal(s3Section(config.source).secretAccessKey, INLINE_SECRET);
    assert.equal(s3Section(config.destinations[0]!).secretAccessKey, FILE_SECRET);
    assert.equal(s3Section(config.destinations[1]!).secretAccessKey, V2_SECRET);
    assert.ok(config.pubsub.redisUrl.includes(encodeURIComponent(REDIS_PASSWORD)));
  });

  it('a loaded Config, an EndpointConfig and a PubsubConfig', () => {
    assertNoSecret('Config', config);
    assertNoSecret('EndpointConfig', config.source);
    assertNoSecret('EndpointConfig from a _file', config.destinations[0]);
    assertNoSecret('PubsubConfig', config.pubsub);
    // What is printed is still useful.
    assert.match(inspect(config.source), /bucket: 'src'/);
    assert.match(JSON.stringify(config.pubsub), /"redisUrlRedacted":"redis:\/\/:\*\*\*@127\.0\.0\.1:9\/0"/);
  });

  it('an S3Store (SigV4 and SigV2), whose SDK client holds the credentials', () => {
    const stores = [
      new S3Store(config.source),
      new S3Store(config.destinations[0]!),
      new S3Store(config.destinations[1]!),
    ];
    try {
      for (const s of stores) assertNoSecret(`S3Store [${s.name}]`, s);
      assert.match(
        inspect(stores[0]),
        /S3Store .*name: 'source'.*endpoint: 'https:\/\/s3\.example\.com'.*bucket: 'src'/s,
      );
      assert.deepEqual(JSON.parse(JSON.stringify(stores[2])), {
        name: 'dest2',
        endpoint: 'http://127.0.0.1:9',
        bucket: 'dst2',
      });
    } finally {
      for (const s of stores) s.close();
    }
  });

  it('a BucketClient', () => {
    const client = new BucketClient(config);
    try {
      assertNoSecret('BucketClient', client);
      assert.match(String(client), /dst1/);
    } finally {
      client.close();
    }
  });

  it('a ListenClient (built, not started)', () => {
    const listener = new ListenClient(config);
    assertNoSecret('ListenClient', listener);
    assert.match(inspect(listener), /ListenClient .*redis: 'redis:\/\/:\*\*\*@127\.0\.0\.1:9\/0'/s);
  });

  describe('every other exported object, from a config with every kind of secret', () => {
    const all = load(true);
    const closers: Array<() => unknown> = [];
    after(async () => {
      for (const c of closers) await c();
    });

    it('the secrets are all in the config, for the code that uses them', () => {
      assert.equal(swiftSection(all.destinations[2]!).swift.secret, SWIFT_KEY);
      assert.equal(swiftSection(all.destinations[3]!).swift.secret, KEYSTONE_PASSWORD);
      assert.equal(all.http!.adminToken, ADMIN_TOKEN);
      assert.equal(all.http!.eventsToken, EVENTS_TOKEN);
      assert.ok(all.notify!.smtpUrl!.includes(encodeURIComponent(SMTP_PASSWORD)));
      assert.ok(all.notify!.webhookUrl!.includes(WEBHOOK_TOKEN));
    });

    it('config objects: Config, the Swift sections and their SwiftConfig, HttpConfig, NotifyConfig', () => {
      assertNoSecret('Config', all);
      for (const d of all.destinations) assertNoSecret(`EndpointConfig [${d.name}]`, d);
      assertNoSecret('SwiftConfig v1', swiftSection(all.destinations[2]!).swift);
      assertNoSecret('SwiftConfig v3', swiftSection(all.destinations[3]!).swift);
      assertNoSecret('HttpConfig', all.http);
      assertNoSecret('NotifyConfig', all.notify);
    });

    it('stores: SwiftStore (v1 and Keystone) and its SwiftAuth, createConnection of every section', () => {
      for (const section of [all.source, ...all.destinations]) {
        const store = createConnection(section);
        closers.push(() => store.close());
        assertNoSecret(`createConnection [${section.name}]`, store);
        if (store instanceof SwiftStore) assertNoSecret(`SwiftAuth [${section.name}]`, store.auth);
      }
    });

    it('clients: BucketClient and ListenClient over S3 and Swift sections, with [http] and [notify]', () => {
      const client = new BucketClient(all);
      closers.push(() => client.close());
      assertNoSecret('BucketClient', client);
      for (const role of ['all', 'intake', 'worker'] as const)
        assertNoSecret(`ListenClient ${role}`, new ListenClient(all, { role }));
    });

    it(
      'Redis users: Publisher, a RedisCommands connection, RedisLock, SweepLock; and FileLock, ' +
        'DaemonMetrics, ReportWriter, NotifyError',
      () => {
        const publisher = new Publisher({ config: all });
        closers.push(() => publisher.close());
        assertNoSecret('Publisher', publisher);
        const byUrl = new Publisher({ redisUrl: all.pubsub.redisUrl });
        closers.push(() => byUrl.close());
        assertNoSecret('Publisher given a redisUrl', byUrl);
        const redis = connectRedis(all.pubsub.redisUrl, {
          redactedUrl: all.pubsub.redisUrlRedacted,
          mode: 'client',
          name: 'secrets-test',
        });
        closers.push(() => redis.close());
        assertNoSecret('RedisCommands', redis);
        const lock = new RedisLock(
          connectRedis(all.pubsub.redisUrl, {
            redactedUrl: all.pubsub.redisUrlRedacted,
            mode: 'client',
            name: 'secrets-test-lock',
          }),
          'l',
          3000,
        );
        closers.push(() => lock.close());
        assertNoSecret('RedisLock', lock);
        const sweepLock = new SweepLock(all);
        closers.push(() => sweepLock.close());
        assertNoSecret('SweepLock', sweepLock);
        assertNoSecret('FileLock', new FileLock(join(tmpdir(), 'secrets-test.lock'), 3000));
        const metrics = new DaemonMetrics();
        assertNoSecret('DaemonMetrics', metrics);
        const report = ReportWriter.open(join(mkdtempSync(join(tmpdir(), 's3s3-redact-')), 'r.csv'));
        closers.push(() => report.close());
        assertNoSecret('ReportWriter', report);
        assertNoSecret(
          'NotifyError',
          new NotifyError('mail', all.notify!.smtpUrlRedacted!, 'the run report was not mailed'),
        );
      },
    );
  });
});

describe('the queue objects never print the Redis password', () => {
  const config = load();

  it('a SyncQueue (holds the config and a BullMQ connection with the password)', async () => {
    const { SyncQueue } = await import('../../src/api/queue/queue.js');
    const queue = new SyncQueue(config);
    try {
      assertNoSecret('SyncQueue', queue);
      assert.match(inspect(queue), /SyncQueue .*redis: 'redis:\/\/:\*\*\*@127\.0\.0\.1:9\/0'/s);
      assert.equal(JSON.parse(JSON.stringify(queue)).name, queue.name);
    } finally {
      await queue.close();
    }
  });

  it('an Enqueuer (holds the config and a SyncQueue)', async () => {
    const { Enqueuer } = await import('../../src/api/queue/enqueue.js');
    const enqueuer = new Enqueuer(config);
    try {
      assertNoSecret('Enqueuer', enqueuer);
      assert.match(inspect(enqueuer), /Enqueuer .*queue: 's3s3-src-/s);
    } finally {
      await enqueuer.close();
    }
  });
});
