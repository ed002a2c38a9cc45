/**
 * HTTPS endpoints and rediss:// with a private CA, against the real servers: Ceph RGW's beast
 * `ssl_endpoint` and redis-server's `tls-port`, both with certificates from a CA the server
 * scripts make. Trusted with `ca_bundle` (for that endpoint only), refused without it with an
 * error naming the section, the endpoint and the fix, accepted with `verify_ssl = false` and
 * a warning. Then the listener end to end: rediss:// in, a copy to an https destination.
 */
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, type Config } from '../../src/api/config.js';
import { RedisError, StoreError } from '../../src/api/errors.js';
import { publish } from '../../src/api/listen/publish.js';
import { connectRedis, subscribe } from '../../src/api/redis/redis.js';
import { S3Store } from '../../src/api/store/s3-store.js';
import { Daemon, readBody, setup, waitFor } from '../helpers/listen.js';
import { listKeys, readAll } from '../helpers/seed.js';
import {
  endpointConfig,
  redisTls,
  redisUrl,
  sectionIni,
  testServers,
  uniqueBucket,
  type TestServer,
} from '../helpers/servers.js';

const FAST = { attempts: 2, baseMs: 10, maxMs: 10 };
const tlsServers = testServers().filter(
  (s): s is TestServer & { tlsEndpoint: string; caFile: string } =>
    s.tlsEndpoint !== undefined && s.caFile !== undefined,
);

describe('https endpoints with a private CA', () => {
  it('the test servers offer one (ceph.sh starts RGW with an ssl_endpoint)', () => {
    assert.ok(
      tlsServers.length > 0,
      'no server env file has S3_TLS_ENDPOINT and S3_CA_FILE: test/servers/ceph.sh should write them',
    );
  });

  for (const server of tlsServers) {
    describe(`on ${server.name} (${server.tlsEndpoint})`, () => {
      const bucket = uniqueBucket(`tls-${server.name}`);
      const tls = { ...server, endpoint: server.tlsEndpoint };
      const stores: S3Store[] = [];
      const track = (s: S3Store) => (stores.push(s), s);
      after(async () => {
        await new S3Store(endpointConfig(server, bucket)).destroyBucket().catch(() => undefined);
        for (const s of stores) s.close();
      });

      it('with ca_bundle: creates, puts, lists and gets over https', async () => {
        const store = track(new S3Store(endpointConfig(tls, bucket, { ca_bundle: server.caFile })));
        assert.equal(store.config.caBundle?.includes('-----BEGIN CERTIFICATE-----'), true);
        await store.createBucket();
        const body = randomBytes(70_000);
        await store.put('tls/one', body, { contentLength: body.length });
        await store.put('tls/two ?#+', Buffer.from('two'), { contentLength: 3 });
        assert.deepEqual(
          (await listKeys(store)).map((o) => o.key),
          ['tls/one', 'tls/two ?#+'],
        );
        assert.ok((await readAll((await store.get('tls/one')).body)).equals(body));
        // The plain endpoint of the same gateway sees the same objects: it really is one server.
        const plain = track(new S3Store(endpointConfig(server, bucket)));
        assert.equal((await listKeys(plain)).length, 2);
      });

      it('without ca_bundle: refused, the error naming the section, the endpoint and the fix', async () => {
        // Another store in this process trusts the CA; this one must not (per endpoint, not global).
        const store = track(new S3Store(endpointConfig(tls, bucket), { retry: FAST }));
        const err = await store.listPage().then(
          () => assert.fail('a certificate from an unknown CA was accepted'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof StoreError, String(err));
        assert.match(err.message, /^\[source\] ListObjectsV2 .* at https:\/\/127\.0\.0\.1:\d+ failed: /);
        assert.match(err.message, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN/);
        assert.match(err.message, /ca_bundle = FILE/, 'says the fix');
        assert.match(err.message, /verify_ssl = false/, 'and the unsafe way out');
      });

      it(
        'with a ca_bundle of another CA: ' + 'refused too (the bundle replaces the system CAs for this endpoint)',
        async () => {
          const other = redisTls();
          if (!other) return; // no second CA to try on this machine
          const store = track(new S3Store(endpointConfig(tls, bucket, { ca_bundle: other.caFile }), { retry: FAST }));
          await assert.rejects(
            store.listPage(),
            (e: unknown) => e instanceof StoreError && /UNABLE_TO_VERIFY_LEAF_SIGNATURE|certificate/.test(e.message),
          );
        },
      );

      it('with verify_ssl = false: works, and the config carries one warning naming the section', async () => {
        const config = parseConfig(
          sectionIni('source', server, bucket) + sectionIni('dest1', tls, bucket, { verify_ssl: false }),
          { file: 'tls.ini' },
        );
        assert.deepEqual(
          config.warnings.map((w) => `${w.section} ${w.key}`),
          ['dest1 verify_ssl'],
        );
        assert.match(
          config.warnings[0]!.message,
          new RegExp(`certificate of ${server.tlsEndpoint.replace(/[.]/g, '\\.')} is NOT checked`),
        );
        const store = track(new S3Store(config.destinations[0]!, { retry: FAST }));
        assert.equal((await listKeys(store)).length, 2);
      });
    });
  }
});

describe('rediss:// with a private CA', () => {
  const tls = redisTls();
  const pubsubConfig = (extra: string): Config => {
    const [server] = testServers();
    return parseConfig(
      sectionIni('source', server!, 'tls-src') +
        sectionIni('dest1', server!, 'tls-dst') +
        `[pubsub]\nredis_url = ${tls!.url}\n${extra}`,
      { file: 'redis-tls.ini' },
    );
  };

  it('the test Redis offers one (redis.sh starts a tls-port: Debian builds redis-server with TLS)', () => {
    // A failure here, not a skip: the TLS tests below would otherwise pass by not running.
    assert.ok(tls, 'test/servers/redis.sh wrote no REDIS_TLS_URL; is redis-server linked to libssl?');
    assert.match(tls.url, /^rediss:\/\//);
  });

  it('with redis_ca_bundle: commands, publish and subscribe go over TLS', { skip: tls === undefined }, async () => {
    const p = pubsubConfig(
      `redis_ca_bundle = ${tls!.caFile}\nchannel = tls-${randomBytes(3).toString('hex')}\n`,
    ).pubsub;
    assert.deepEqual(Object.keys(p.redisTls ?? {}).sort(), ['ca', 'rejectUnauthorized']);
    const redis = connectRedis(p.redisUrl, { redactedUrl: p.redisUrlRedacted, mode: 'client', tls: p.redisTls });
    const got: string[] = [];
    const sub = subscribe(p.redisUrl, {
      redactedUrl: p.redisUrlRedacted,
      mode: 'daemon',
      tls: p.redisTls,
      channel: p.channel,
      onMessage: (m) => got.push(m.toString('utf8')),
    });
    try {
      assert.equal(await redis.call('PING'), 'PONG');
      await sub.ready;
      const r = await publish(['over/tls'], { config: p });
      assert.equal(r.published, 1);
      assert.equal(r.unheard, 0);
      await waitFor('the message', () => got.length > 0 || undefined, 10_000);
      assert.deepEqual(got, ['over/tls']);
    } finally {
      await sub.close();
      await redis.close();
    }
  });

  it(
    'without redis_ca_bundle: refused, saying the certificate is not trusted',
    { skip: tls === undefined },
    async () => {
      const p = pubsubConfig('').pubsub;
      assert.equal(p.redisTls?.rejectUnauthorized, true);
      const redis = connectRedis(p.redisUrl, { redactedUrl: p.redisUrlRedacted, mode: 'client', tls: p.redisTls });
      try {
        await assert.rejects(
          redis.call('PING'),
          (e: unknown) =>
            e instanceof RedisError && /certificate/.test(e.message) && e.message.includes(p.redisUrlRedacted),
        );
      } finally {
        await redis.close();
      }
    },
  );

  it('with redis_verify_ssl = false: works, with a warning', { skip: tls === undefined }, async () => {
    const c = pubsubConfig('redis_verify_ssl = false\n');
    assert.deepEqual(
      c.warnings.map((w) => `${w.section} ${w.key}`),
      ['pubsub redis_verify_ssl'],
    );
    const redis = connectRedis(c.pubsub.redisUrl, {
      redactedUrl: c.pubsub.redisUrlRedacted,
      mode: 'client',
      tls: c.pubsub.redisTls,
    });
    try {
      assert.equal(await redis.call('PING'), 'PONG');
    } finally {
      await redis.close();
    }
  });
});

describe('s3s3listen over TLS: rediss:// in, an https destination with a private CA', () => {
  const server = tlsServers[0];
  const tls = redisTls();
  it(
    'copies a published key to the https destination',
    { skip: server === undefined || tls === undefined ? 'no TLS servers' : false },
    async () => {
      const s = await setup({
        source: server!,
        dests: [{ server: server!, endpoint: server!.tlsEndpoint }],
        redisUrl: redisUrl(),
        pubsub: { redis_url: tls!.url, redis_ca_bundle: tls!.caFile },
        endpointExtra: { ca_bundle: server!.caFile },
        label: 'listen-tls',
      });
      const d = Daemon.start(s.file);
      try {
        await d.waitForLine(/ listening /, 30_000);
        // The source is plain http: its ca_bundle is reported unused at start, once; dest1's is used.
        const caLines = d.matching(/ca_bundle/);
        assert.equal(caLines.length, 1, d.lines.join('\n'));
        assert.match(
          caLines[0]!,
          /warn.*\[source\] ca_bundle: is unused: the endpoint http:\/\/127\.0\.0\.1:\d+ is plain http:\/\//,
        );
        const body = randomBytes(1000);
        await s.source.put('listen/over tls', body, { contentLength: body.length });
        assert.equal((await publish('listen/over tls', { config: s.config })).published, 1);
        await waitFor(
          'the copy over https',
          async () => (await readBody(s.dests[0]!, 'listen/over tls'))?.equals(body) || undefined,
          30_000,
        );
      } finally {
        await d.dispose();
        await s.cleanup();
      }
    },
  );
});
