/**
 * Defect 8: printing any public object (a loaded config, a store, a BucketClient, a
 * ListenClient) in any of the usual ways must not show a secret key, a Redis password or
 * the contents of a secret file. Nothing here connects: the objects are only built.
 */
import { Console } from 'node:console';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BucketClient } from '../../src/api/bucket-client.js';
import { loadConfig, type Config } from '../../src/api/config.js';
import { ListenClient } from '../../src/api/listen/listen-client.js';
import { S3Store } from '../../src/api/store/s3-store.js';

const INLINE_SECRET = 'SeCrEt-123/+=inline';
const FILE_SECRET = 'SeCrEt-456/+=file';
const V2_SECRET = 'SeCrEt-789/+=v2';
const REDIS_PASSWORD = 'RePw-123/+=@x';
const SECRETS = [INLINE_SECRET, FILE_SECRET, V2_SECRET, REDIS_PASSWORD];

function load(): Config {
  const dir = mkdtempSync(join(tmpdir(), 's3s3-redact-'));
  writeFileSync(join(dir, 'dest1.key'), FILE_SECRET + '\n', { mode: 0o600 });
  writeFileSync(join(dir, 'redis.pw'), REDIS_PASSWORD + '\n', { mode: 0o600 });
  const file = join(dir, 's3s3.ini');
  writeFileSync(
    file,
    `[source]\naws_access_key_id = AKSOURCE\naws_secret_access_key = ${INLINE_SECRET}\nbucket_name = src\nendpoint = https://s3.example.com\n` +
      `[dest1]\naws_access_key_id = AKDEST1\naws_secret_access_key_file = dest1.key\nbucket_name = dst1\nendpoint = http://127.0.0.1:9\n` +
      `[dest2]\naws_access_key_id = AKDEST2\naws_secret_access_key = ${V2_SECRET}\nbucket_name = dst2\nendpoint = http://127.0.0.1:9\nsignature_version = s3\n` +
      `[pubsub]\nredis = true\nhost = 127.0.0.1\nport = 9\npassword_file = redis.pw\n`,
    { mode: 0o600 },
  );
  return loadConfig({ file, env: {} });
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
    json: JSON.stringify(value) ?? '',
    string: String(value),
    template: `${value as string}`,
  };
}

function assertNoSecret(label: string, value: unknown): void {
  for (const [how, text] of Object.entries(renderings(value))) {
    for (const secret of SECRETS) {
      for (const form of [secret, encodeURIComponent(secret)]) {
        assert.ok(!text.includes(form), `${label} printed by ${how} shows ${JSON.stringify(form)}:\n${text.slice(0, 2000)}`);
      }
    }
  }
}

describe('secrets are never printed', () => {
  const config = load();

  it('the secrets are still there for the code that uses them', () => {
    assert.equal(config.source.secretAccessKey, INLINE_SECRET);
    assert.equal(config.destinations[0]!.secretAccessKey, FILE_SECRET);
    assert.equal(config.destinations[1]!.secretAccessKey, V2_SECRET);
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
    const stores = [new S3Store(config.source), new S3Store(config.destinations[0]!), new S3Store(config.destinations[1]!)];
    try {
      for (const s of stores) assertNoSecret(`S3Store [${s.name}]`, s);
      assert.match(inspect(stores[0]), /S3Store .*name: 'source'.*endpoint: 'https:\/\/s3\.example\.com'.*bucket: 'src'/s);
      assert.deepEqual(JSON.parse(JSON.stringify(stores[2])), { name: 'dest2', endpoint: 'http://127.0.0.1:9', bucket: 'dst2' });
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
