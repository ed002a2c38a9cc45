/** Every config error case: each reported at once, naming file, section and key. */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { inspect } from 'node:util';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, parseConfig, parseSize, redactUrl, s3Section } from '../../src/api/config.js';
import { ConfigError } from '../../src/api/errors.js';

const GOOD = `
[source]
  aws_access_key_id = AKSOURCE            # the original template indents and comments like this
  aws_secret_access_key = se#cr;et        ; a # or ; inside a value stays
  bucket_name = source-bucket
  host = s3.example.com
  port = 8080
  is_secure = False
  calling_format = boto.s3.connection.OrdinaryCallingFormat

[dest1]
aws_access_key_id = AKDEST
aws_secret_access_key = destsecret
bucket_name = dest-bucket
endpoint = https://storage.example.net:8443
signature_version = s3
list_objects_version = 1
verify_md5 = yes
multipart_threshold = 64M
multipart_chunksize = 8MiB
concurrency = 4
connect_timeout = 2.5
read_timeout = 30
region = eu-west-1
calling_format = SubdomainCallingFormat

[pubsub]
redis = on
host = 10.0.0.5
port = 6380
db = 2
password = p@ss
channel = uploads
`;

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(text, { file: 'test.ini', env });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.file} [${p.section ?? ''}] ${p.key ?? ''}: ${p.message}`);
  }
  assert.fail('expected a ConfigError');
}

describe('config', () => {
  it('reads the original keys, new keys, inline comments and indentation', () => {
    const c = parseConfig(GOOD, { file: 'test.ini' });
    assert.equal(s3Section(c.source).secretAccessKey, 'se#cr;et');
    assert.equal(c.source.endpoint, 'http://s3.example.com:8080');
    assert.equal(s3Section(c.source).forcePathStyle, true);
    assert.equal(s3Section(c.source).signatureVersion, 'v4');
    assert.equal(s3Section(c.source).listObjectsVersion, 2);
    assert.equal(c.source.multipartThreshold, 5 * 1024 ** 3);
    assert.equal(c.source.concurrency, 16);
    assert.equal(s3Section(c.source).requestChecksumCalculation, 'WHEN_REQUIRED');
    const d = s3Section(c.destinations[0]!);
    assert.equal(d.endpoint, 'https://storage.example.net:8443');
    assert.equal(d.signatureVersion, 'v2');
    assert.equal(d.listObjectsVersion, 1);
    assert.equal(d.verifyMd5, true);
    assert.equal(d.multipartThreshold, 64 * 1024 ** 2);
    assert.equal(d.multipartChunksize, 8 * 1024 ** 2);
    assert.equal(d.connectTimeoutMs, 2500);
    assert.equal(d.readTimeoutMs, 30000);
    assert.equal(d.region, 'eu-west-1');
    assert.equal(d.forcePathStyle, false);
    assert.equal(c.pubsub.redis, true);
    assert.equal(c.pubsub.redisUrl, 'redis://:p%40ss@10.0.0.5:6380/2');
    assert.doesNotMatch(c.pubsub.redisUrlRedacted, /p%40ss|p@ss/);
    assert.equal(c.pubsub.channel, 'uploads');
    assert.deepEqual(c.warnings, []);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.source));
  });

  it('defaults: https on 443 at s3.amazonaws.com, channel backup, no Redis without [pubsub]', () => {
    const c = parseConfig(
      '[source]\naws_access_key_id=a\naws_secret_access_key=b\nbucket_name=s\n' +
        '[dest1]\naws_access_key_id=a\naws_secret_access_key=b\nbucket_name=d\n',
      { file: 'x' },
    );
    assert.equal(c.source.endpoint, 'https://s3.amazonaws.com');
    assert.equal(c.pubsub.redis, false);
    assert.equal(c.pubsub.channel, 'backup');
    assert.equal(c.pubsub.redisUrl, 'redis://127.0.0.1:6379/0');
  });

  it('reads booleans as strtobool does, in any case', () => {
    for (const [v, want] of [
      ['TRUE', true],
      ['Yes', true],
      ['on', true],
      ['1', true],
      ['t', true],
      ['False', false],
      ['NO', false],
      ['off', false],
      ['0', false],
    ] as const) {
      const c = parseConfig(GOOD.replace('verify_md5 = yes', `verify_md5 = ${v}`), { file: 'x' });
      assert.equal(c.destinations[0]!.verifyMd5, want, v);
    }
  });

  it('lets the environment override any key, secrets included', () => {
    const c = parseConfig(GOOD, {
      file: 'x',
      env: {
        S3S3_DEST1_AWS_SECRET_ACCESS_KEY: 'from-env',
        S3S3_PUBSUB_CHANNEL: 'envchan',
        S3S3_SOURCE_BUCKET_NAME: 'env-bucket',
        S3S3_CONFIG: '/nowhere',
      },
    });
    assert.equal(s3Section(c.destinations[0]!).secretAccessKey, 'from-env');
    assert.equal(c.pubsub.channel, 'envchan');
    assert.equal(c.source.bucket, 'env-bucket');
  });

  it('reports every problem at once, each with file, section and key', () => {
    const text = `
[source]
aws_access_key_id = {YOUR_AWS_ACCESS_KEY_ID}
bucket_name = src
port = eighty
is_secure = maybe
concurrency = 0
multipart_chunksize = 1K
signature_version = v3
[dest1]
aws_access_key_id = a
aws_secret_access_key = b
bucket_name = src
host = s3.amazonaws.com
[pubsub]
sns = true
`;
    const problems = problemsOf(text);
    const expect = [
      /\[source\] aws_access_key_id: still holds the template placeholder \{YOUR_AWS_ACCESS_KEY_ID\}/,
      /\[source\] aws_secret_access_key: missing/,
      /\[source\] port: "eighty" is not a whole number/,
      /\[source\] is_secure: "maybe" is not a boolean/,
      /\[source\] concurrency: "0" is not a whole number from 1/,
      /\[source\] multipart_chunksize: "1K" is not a size/,
      /\[source\] signature_version: "v3" is not one of/,
      /\[pubsub\] sns: SNS is not supported/,
    ];
    for (const re of expect)
      assert.ok(
        problems.some((p) => re.test(p)),
        `${re} in:\n${problems.join('\n')}`,
      );
    assert.ok(problems.every((p) => p.startsWith('test.ini ')));
  });

  it('refuses a destination identical to the source', () => {
    const text = GOOD.replace(
      /\[dest1\][\s\S]*?\[pubsub\]/,
      '[dest1]\naws_access_key_id = x\naws_secret_access_key = y\nbucket_name = source-bucket\nhost ' +
        '= s3.example.com\nport = 8080\nis_secure = false\n\n[pubsub]',
    );
    const problems = problemsOf(text);
    assert.ok(
      problems.some((p) => /\[dest1\] bucket_name: is the source bucket itself/.test(p)),
      problems.join('\n'),
    );
  });

  it('refuses a config without [source] or without a destination', () => {
    assert.ok(problemsOf('[pubsub]\nredis = true\n').some((p) => /missing section \[source\]/.test(p)));
    assert.ok(
      problemsOf('[source]\naws_access_key_id=a\naws_secret_access_key=b\nbucket_name=s\n').some((p) =>
        /no destination/.test(p),
      ),
    );
  });

  it('refuses malformed lines, duplicate sections and keys, bad endpoints, conflicting keys', () => {
    const text = GOOD.replace(
      '[dest1]',
      '[dest2]\naws_access_key_id = a\naws_secret_access_key = b\nbucket_name = d2\nendpoint ' +
        '= ftp://x\n[dest1]\nthis line is junk\nbucket_name = again\nhost = y',
    ).replace('[pubsub]', '[source]\n[pubsub]\nredis_url = redis://localhost:1/0');
    const problems = problemsOf(text);
    for (const re of [
      /neither "\[section\]" nor "key = value"/,
      /\[dest1\] bucket_name: set twice/,
      /\[dest2\] endpoint: "ftp:\/\/x" must start with http/,
      /\[dest1\] host: conflicts with "endpoint"/,
      /section \[source\] appears twice/,
      /\[pubsub\] host: conflicts with "redis_url"/,
    ]) {
      assert.ok(
        problems.some((p) => re.test(p)),
        `${re} in:\n${problems.join('\n')}`,
      );
    }
  });

  it('warns about unknown keys and sections with the nearest known name', () => {
    const c = parseConfig(GOOD.replace('verify_md5 = yes', 'verify_md4 = yes').replace('[pubsub]', '[pubsbu]'), {
      file: 't.ini',
    });
    const w = c.warnings.map((p) => `${p.section} ${p.key ?? ''}: ${p.message}`);
    assert.ok(
      w.some((m) => /dest1 verify_md4: unknown key ignored; did you mean "verify_md5"/.test(m)),
      w.join('\n'),
    );
    assert.ok(
      w.some((m) => /pubsbu : unknown section ignored; did you mean \[pubsub\]/.test(m)),
      w.join('\n'),
    );
  });

  it('parses sizes', () => {
    assert.equal(parseSize('5368709120'), 5 * 1024 ** 3);
    assert.equal(parseSize('5G'), 5 * 1024 ** 3);
    assert.equal(parseSize('64MiB'), 64 * 1024 ** 2);
    assert.equal(parseSize('1.5k'), 1536);
    assert.equal(parseSize('lots'), undefined);
  });

  it('finds the file by --config, $S3S3_CONFIG, then ./s3s3.ini, ~/.s3s3.ini', () => {
    const dir = mkdtempSync(join(tmpdir(), 's3s3-cfg-'));
    const home = join(dir, 'home');
    const cwd = join(dir, 'cwd');
    mkdirSync(home);
    mkdirSync(cwd);
    const write = (path: string, bucket: string) =>
      writeFileSync(path, GOOD.replace('source-bucket', bucket), { mode: 0o600 });
    write(join(home, '.s3s3.ini'), 'from-home');
    assert.equal(loadConfig({ cwd, home, env: {} }).source.bucket, 'from-home');
    write(join(cwd, 's3s3.ini'), 'from-cwd');
    assert.equal(loadConfig({ cwd, home, env: {} }).source.bucket, 'from-cwd');
    write(join(dir, 'env.ini'), 'from-env');
    assert.equal(loadConfig({ cwd, home, env: { S3S3_CONFIG: join(dir, 'env.ini') } }).source.bucket, 'from-env');
    write(join(dir, 'flag.ini'), 'from-flag');
    assert.equal(
      loadConfig({ cwd, home, env: { S3S3_CONFIG: join(dir, 'env.ini') }, file: join(dir, 'flag.ini') }).source.bucket,
      'from-flag',
    );
    assert.throws(
      () => loadConfig({ cwd, home, env: {}, file: join(dir, 'missing.ini') }),
      /missing\.ini: cannot read config file: no such file/,
    );
    assert.throws(
      () => loadConfig({ cwd: join(dir, 'home'), home: cwd, env: {} }) && loadConfig({ cwd: dir, home: dir, env: {} }),
      /no config file found/,
    );
  });

  it('warns when a file holding a secret is readable by others', () => {
    const dir = mkdtempSync(join(tmpdir(), 's3s3-perm-'));
    const file = join(dir, 's3s3.ini');
    writeFileSync(file, GOOD);
    chmodSync(file, 0o644);
    assert.ok(
      loadConfig({ file, env: {} }).warnings.some((w) =>
        /readable by every user and holds a secret; run: chmod 600/.test(w.message),
      ),
    );
    chmodSync(file, 0o600);
    assert.deepEqual(loadConfig({ file, env: {} }).warnings, []);
  });

  it('knows every key the template documents: its only problems are its placeholders', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(join(import.meta.dirname, '../../s3s3.ini.dist'), 'utf8');
    try {
      parseConfig(text, { file: 's3s3.ini.dist' });
      assert.fail('the template must not pass as it is');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.ok(
        err.problems.every((p) => /template placeholder/.test(p.message)),
        err.message,
      );
      assert.deepEqual(err.warnings, []);
    }
    const filled = text.replace(/\{[A-Z_]+\}/g, (m) =>
      m.includes('BUCKET') ? (m.includes('SOURCE') ? 'src-bucket' : 'dst-bucket') : 'value',
    );
    const c = parseConfig(filled, { file: 's3s3.ini.dist' });
    assert.equal(c.destinations.length, 1);
    assert.equal(c.pubsub.channel, 'backup');
  });
});

describe('config [pubsub] for the listener and the sweep lock', () => {
  const BASE = GOOD.replace(/\[pubsub\][\s\S]*$/, '');

  it(
    'defaults: channel backup, s3s3:failed, s3s3:pending, marker on, concurrency of [source], ' +
      '30 s shutdown, 60 s lock',
    () => {
      const c = parseConfig(BASE + '[pubsub]\nredis = true\n', { file: 'test.ini' });
      assert.equal(c.pubsub.redis, true);
      assert.equal(c.pubsub.redisUrl, 'redis://127.0.0.1:6379/0');
      assert.equal(c.pubsub.channel, 'backup');
      assert.equal(c.pubsub.failedList, 's3s3:failed');
      assert.equal(c.pubsub.pendingSet, 's3s3:pending');
      assert.equal(c.pubsub.marker, true);
      assert.equal(c.pubsub.concurrency, c.source.concurrency);
      assert.equal(c.pubsub.shutdownTimeoutMs, 30_000);
      assert.equal(c.pubsub.lockTtlMs, 60_000);
      const own = parseConfig(BASE.replace('[dest1]', 'concurrency = 5\n[dest1]') + '[pubsub]\nredis = true\n', {
        file: 'test.ini',
      });
      assert.equal(own.pubsub.concurrency, 5, 'follows [source] concurrency');
    },
  );

  it('reads concurrency, shutdown_timeout, lock_ttl, marker and the names; rediss:// is kept', () => {
    const c = parseConfig(
      BASE +
        '[pubsub]\nredis = yes\nredis_url = rediss://:pw@redis.example:6380/3\nconcurrency ' +
        '= 7\nshutdown_timeout = 2.5\nlock_ttl = 120\nmarker = off\nfailed_list = f\npending_set ' +
        '= p\n',
      { file: 'test.ini' },
    );
    assert.equal(c.pubsub.concurrency, 7);
    assert.equal(c.pubsub.shutdownTimeoutMs, 2500);
    assert.equal(c.pubsub.lockTtlMs, 120_000);
    assert.equal(c.pubsub.marker, false);
    assert.equal(c.pubsub.failedList, 'f');
    assert.equal(c.pubsub.pendingSet, 'p');
    assert.equal(c.pubsub.redisUrl, 'rediss://:pw@redis.example:6380/3');
    assert.doesNotMatch(c.pubsub.redisUrlRedacted, /pw/);
  });

  it('takes the new keys from the environment too', () => {
    const c = parseConfig(BASE + '[pubsub]\nredis = true\n', {
      file: 'test.ini',
      env: { S3S3_PUBSUB_SHUTDOWN_TIMEOUT: '9', S3S3_PUBSUB_LOCK_TTL: '30', S3S3_PUBSUB_CONCURRENCY: '3' },
    });
    assert.equal(c.pubsub.shutdownTimeoutMs, 9000);
    assert.equal(c.pubsub.lockTtlMs, 30_000);
    assert.equal(c.pubsub.concurrency, 3);
  });

  it('reports bad values of the new keys, all at once', () => {
    const problems = problemsOf(
      BASE + '[pubsub]\nredis = true\nconcurrency = 0\nshutdown_timeout = soon\nlock_ttl = 1\n',
    );
    assert.ok(
      problems.some((p) => /\[pubsub\] concurrency: "0" is not a whole number from 1 to 1024/.test(p)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) =>
        p.endsWith(
          '[pubsub] shutdown_timeout: "soon" is not a duration: seconds, or an integer with s, m, h or d ' +
            '(e.g. 30, 90s, 15m, 26h, 7d), greater than 0',
        ),
      ),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => /\[pubsub\] lock_ttl: "1" is too short; use at least 3s/.test(p)),
      problems.join('\n'),
    );
  });

  it('reads every duration key in the one grammar: 30, 90s, 15m, 26h, 7d (file and environment alike)', () => {
    const c = parseConfig(
      BASE.replace('[dest1]', 'connect_timeout = 90s\nread_timeout = 15m\n[dest1]') +
        '[pubsub]\nredis = true\nshutdown_timeout = 2m\nlock_ttl = 26h\n',
      { file: 'test.ini', env: { S3S3_DEST1_READ_TIMEOUT: '7d', S3S3_DEST1_CONNECT_TIMEOUT: '30' } },
    );
    assert.equal(c.source.connectTimeoutMs, 90_000);
    assert.equal(c.source.readTimeoutMs, 15 * 60_000);
    assert.equal(c.pubsub.shutdownTimeoutMs, 120_000);
    assert.equal(c.pubsub.lockTtlMs, 26 * 3_600_000);
    assert.equal(c.destinations[0]!.readTimeoutMs, 7 * 86_400_000);
    assert.equal(c.destinations[0]!.connectTimeoutMs, 30_000);
  });

  it('refuses a duration outside the grammar, naming the key and the grammar', () => {
    for (const bad of ['5x', '1.5m', '-3', '0', '0s', '10 s', '1h30m', 'PT30S', '']) {
      const problems = problemsOf(BASE + `[pubsub]\nredis = true\nlock_ttl = 60\nshutdown_timeout = ${bad}\n`);
      assert.deepEqual(
        problems,
        [
          `test.ini [pubsub] shutdown_timeout: "${bad}" is not a duration: seconds, or an integer ` +
            `with s, m, h or d (e.g. 30, 90s, 15m, 26h, 7d), greater than 0`,
        ],
        bad,
      );
    }
    const env = problemsOf(BASE, { S3S3_SOURCE_READ_TIMEOUT: '3 minutes' });
    assert.deepEqual(env, [
      'environment S3S3_SOURCE_READ_TIMEOUT [source] read_timeout: "3 minutes" is not a duration: ' +
        'seconds, or an integer with s, m, h or d (e.g. 30, 90s, 15m, 26h, 7d), greater than ' +
        '0',
    ]);
  });

  it('report_raw_keys: false by default, true from the file or the environment', () => {
    assert.equal(parseConfig(BASE + '[pubsub]\nredis = true\n', { file: 'test.ini' }).pubsub.reportRawKeys, false);
    assert.equal(
      parseConfig(BASE + '[pubsub]\nredis = true\nreport_raw_keys = yes\n', { file: 'test.ini' }).pubsub.reportRawKeys,
      true,
    );
    assert.equal(
      parseConfig(BASE + '[pubsub]\nredis = true\n', { file: 'test.ini', env: { S3S3_PUBSUB_REPORT_RAW_KEYS: 'true' } })
        .pubsub.reportRawKeys,
      true,
    );
    assert.deepEqual(problemsOf(BASE + '[pubsub]\nredis = true\nreport_raw_keys = maybe\n'), [
      'test.ini [pubsub] report_raw_keys: "maybe" is not a boolean; use true/false, yes/no, on/off or 1/0',
    ]);
  });

  it('refuses sns = true with a clear error', () => {
    const problems = problemsOf(BASE + '[pubsub]\nredis = true\nsns = true\n');
    assert.ok(
      problems.some((p) => /\[pubsub\] sns: SNS is not supported by s3s3/.test(p)),
      problems.join('\n'),
    );
  });

  it('masks the whole Redis password in logged URLs, @ and all', () => {
    assert.equal(redactUrl('redis://:p@ss@host:6379/0'), 'redis://:***@host:6379/0');
    assert.equal(redactUrl('rediss://user:secret@host:6380/1'), 'rediss://user:***@host:6380/1');
    assert.equal(redactUrl('redis://127.0.0.1:6379/0'), 'redis://127.0.0.1:6379/0');
    assert.doesNotMatch(redactUrl('redis://onlypassword@host/0'), /onlypassword/);
  });
});

describe('config: secrets from <key>_file, ca_bundle and verify_ssl', () => {
  const dir = mkdtempSync(join(tmpdir(), 's3s3-secrets-'));
  const put = (name: string, text: string, mode = 0o600): string => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode });
    chmodSync(path, mode);
    return path;
  };
  const SECTIONS = (source: string, dest1: string, pubsub = 'redis = true\n'): string =>
    `[source]\naws_access_key_id = a\nbucket_name = s\nendpoint = https://src.example\n${source}\n` +
    `[dest1]\naws_access_key_id = b\nbucket_name = d\nendpoint = https://dst.example\n${dest1}\n[pubsub]\n${pubsub}`;

  it('reads aws_secret_access_key_file, password_file and redis_url_file once, trailing newline dropped', () => {
    const s = put('source.key', 'src/Secret+1\n');
    put('dest1.key', 'dst Secret#2\r\n\n');
    const pw = put('redis.pw', 'p@ss word\n');
    const c = parseConfig(
      SECTIONS(
        `aws_secret_access_key_file = ${s}`,
        'aws_secret_access_key_file = dest1.key',
        `password_file = ${pw}\nport = 6390\n`,
      ),
      { file: 't.ini', baseDir: dir },
    );
    assert.equal(s3Section(c.source).secretAccessKey, 'src/Secret+1');
    assert.equal(
      s3Section(c.destinations[0]!).secretAccessKey,
      'dst Secret#2',
      'a relative path starts at the config file',
    );
    assert.equal(c.pubsub.redisUrl, `redis://:${encodeURIComponent('p@ss word')}@127.0.0.1:6390/0`);
    const u = put('redis.url', 'rediss://:pw@redis.example:6380/2\n');
    assert.equal(
      parseConfig(
        SECTIONS(`aws_secret_access_key_file = ${s}`, `aws_secret_access_key_file = ${s}`, `redis_url_file = ${u}\n`),
        { file: 't.ini' },
      ).pubsub.redisUrl,
      'rediss://:pw@redis.example:6380/2',
    );
    // Read once, at load: changing the file later changes nothing.
    const c2 = parseConfig(SECTIONS(`aws_secret_access_key_file = ${s}`, `aws_secret_access_key_file = ${s}`), {
      file: 't.ini',
    });
    put('source.key', 'changed\n');
    assert.equal(s3Section(c2.source).secretAccessKey, 'src/Secret+1');
    put('source.key', 'src/Secret+1\n');
  });

  it('takes S3S3_<SECTION>_<KEY>_FILE from the environment, which wins over the file', () => {
    const d = put('env-dest1.key', 'from-env-file\n');
    const text = SECTIONS('aws_secret_access_key = s1', 'aws_secret_access_key = {YOUR_AWS_SECRET_ACCESS_KEY}');
    const c = parseConfig(text, { file: 't.ini', env: { S3S3_DEST1_AWS_SECRET_ACCESS_KEY_FILE: d } });
    assert.equal(s3Section(c.destinations[0]!).secretAccessKey, 'from-env-file');
    const pw = put('env.pw', 'envpw\n');
    const p = parseConfig(text.replace('{YOUR_AWS_SECRET_ACCESS_KEY}', 's2'), {
      file: 't.ini',
      env: { S3S3_PUBSUB_PASSWORD_FILE: pw },
    });
    assert.match(p.pubsub.redisUrl, /^redis:\/\/:envpw@/);
    // The plain key from the environment wins over a _file in the file.
    const e = parseConfig(SECTIONS('aws_secret_access_key = s1', `aws_secret_access_key_file = ${d}`), {
      file: 't.ini',
      env: { S3S3_DEST1_AWS_SECRET_ACCESS_KEY: 'plain-env' },
    });
    assert.equal(s3Section(e.destinations[0]!).secretAccessKey, 'plain-env');
  });

  it(
    'refuses a secret file that is missing, unreadable, empty, a directory or several lines, ' +
      'naming file, section and key',
    () => {
      const empty = put('empty.key', '\n');
      const twoLines = put('two.key', 'a\nb\n');
      const locked = put('locked.key', 'x\n', 0o000);
      const problems = problemsOf(
        SECTIONS(
          `aws_secret_access_key_file = ${join(dir, 'nope.key')}`,
          `aws_secret_access_key_file = ${empty}`,
          `password_file = ${twoLines}\n`,
        ).replace(
          '[dest1]',
          `[dest2]\naws_access_key_id = c\nbucket_name = d2\nendpoint = https://x.example\naws_secret_access_key_file ` +
            `= ${dir}\n[dest3]\naws_access_key_id = c\nbucket_name = d3\nendpoint = https://y.example\naws_secret_access_key_file ` +
            `= ${locked}\n[dest1]`,
        ),
      );
      const expect = [
        new RegExp(
          `^test.ini \\[source\\] aws_secret_access_key_file: cannot read ${join(dir, 'nope.key')}: ` +
            `no such file; create it`,
        ),
        new RegExp(
          `^test.ini \\[dest1\\] aws_secret_access_key_file: ${empty} is empty; put the secret access key in it`,
        ),
        new RegExp(`^test.ini \\[dest2\\] aws_secret_access_key_file: cannot read ${dir}: it is a directory`),
        new RegExp(`^test.ini \\[pubsub\\] password_file: ${twoLines} holds more than one line`),
      ];
      if (process.getuid?.() !== 0)
        expect.push(
          new RegExp(`^test.ini \\[dest3\\] aws_secret_access_key_file: cannot read ${locked}: permission denied`),
        );
      for (const re of expect)
        assert.ok(
          problems.some((p) => re.test(p)),
          `${re} in:\n${problems.join('\n')}`,
        );
      assert.ok(
        !problems.some((p) => /aws_secret_access_key: missing/.test(p)),
        `no second problem for the same secret:\n${problems.join('\n')}`,
      );
      const env = problemsOf(SECTIONS('aws_secret_access_key = s', 'aws_secret_access_key = s'), {
        S3S3_SOURCE_AWS_SECRET_ACCESS_KEY_FILE: join(dir, 'gone'),
      });
      assert.ok(
        env.some((p) =>
          new RegExp(
            '^environment S3S3_SOURCE_AWS_SECRET_ACCESS_KEY_FILE \\[source\\] aws_secret_access_key_file: ' +
              'cannot read .*gone: no such file',
          ).test(p),
        ),
        env.join('\n'),
      );
    },
  );

  it('refuses both <key> and <key>_file in the same place', () => {
    const s = put('both.key', 'x\n');
    const problems = problemsOf(
      SECTIONS(
        `aws_secret_access_key = inline\naws_secret_access_key_file = ${s}`,
        'aws_secret_access_key = y',
        `redis_url = redis://h:1/0\nredis_url_file = ${s}\n`,
      ),
    );
    assert.ok(
      problems.some((p) =>
        new RegExp(
          '\\[source\\] aws_secret_access_key_file: conflicts with "aws_secret_access_key" ' +
            '\\(test.ini:\\d+\\); set either',
        ).test(p),
      ),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => /\[pubsub\] redis_url_file: conflicts with "redis_url"/.test(p)),
      problems.join('\n'),
    );
    assert.ok(!problems.some((p) => p.includes('inline')), 'the secret is not echoed');
  });

  it('still hints at a misspelt _file key', () => {
    const c = parseConfig(
      SECTIONS(
        'aws_secret_access_key = s\naws_secret_acces_key_file = /x',
        'aws_secret_access_key = s',
        'redis = true\npasword_file = /x\n',
      ),
      { file: 't.ini' },
    );
    const w = c.warnings.map((p) => `${p.section} ${p.key}: ${p.message}`);
    assert.ok(
      w.some((m) =>
        /source aws_secret_acces_key_file: unknown key ignored; did you mean "aws_secret_access_key_file"/.test(m),
      ),
      w.join('\n'),
    );
    assert.ok(
      w.some((m) => /pubsub pasword_file: unknown key ignored; did you mean "password_file"/.test(m)),
      w.join('\n'),
    );
  });

  const PEM = `-----BEGIN CERTIFICATE-----
MIIBhDCCASmgAwIBAgIUW8i1Tm6ySCi1rZ3PnWTuefLwyg0wCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMczNzMyB0ZXN0IENBMB4XDTI2MDEwMTAwMDAwMFoXDTM2MDEw
MTAwMDAwMFowFzEVMBMGA1UEAwwMczNzMyB0ZXN0IENBMFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEn4y2p2q7XbpM3Hm7b2Cw8mS8jGq4Ev3GQh0KJtq3oI3c4VfM
q8d1QF3l0k9pGmHq6y5aO5lqGQ4Q3g8yNwQk0aNTMFEwHQYDVR0OBBYEFJ2gJ8xq
-----END CERTIFICATE-----`;

  it('reads ca_bundle at load for that endpoint only; refuses a file that is not PEM certificates', async () => {
    const { execFileSync } = await import('node:child_process');
    const key = join(dir, 'ca.key');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        join(dir, 'ca.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=unit CA',
      ],
      { stdio: 'ignore' },
    );
    const c = parseConfig(SECTIONS('aws_secret_access_key = s', 'aws_secret_access_key = s\nca_bundle = ca.pem'), {
      file: 't.ini',
      baseDir: dir,
    });
    assert.match(c.destinations[0]!.caBundle ?? '', /^-----BEGIN CERTIFICATE-----/);
    assert.equal(c.source.caBundle, undefined, 'only the section that names it');
    assert.equal(c.destinations[0]!.verifySsl, true);
    assert.deepEqual(c.warnings, []);
    const bad = put('bad.pem', 'hello\n');
    const broken = put('broken.pem', PEM.replace('MIIB', 'MIIx') + '\n');
    const problems = problemsOf(
      SECTIONS(
        `aws_secret_access_key = s\nca_bundle = ${bad}`,
        `aws_secret_access_key = s\nca_bundle = ${key}`,
        `redis_url = rediss://h:1/0\nredis_ca_bundle = ${broken}\n`,
      ),
    );
    assert.ok(
      problems.some((p) => /\[source\] ca_bundle: .*bad\.pem holds no "-----BEGIN CERTIFICATE-----" block/.test(p)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => /\[dest1\] ca_bundle: .*ca\.key holds a private key/.test(p)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => /\[pubsub\] redis_ca_bundle: certificate 1 in .*broken\.pem cannot be read/.test(p)),
      problems.join('\n'),
    );
    assert.ok(
      problemsOf(SECTIONS('aws_secret_access_key = s\nca_bundle = /no/such.pem', 'aws_secret_access_key = s')).some(
        (p) => /\[source\] ca_bundle: cannot read \/no\/such\.pem: no such file/.test(p),
      ),
    );
  });

  it('allows verify_ssl = false with one loud warning naming the section; warns when TLS keys do nothing', () => {
    const c = parseConfig(SECTIONS('aws_secret_access_key = s', 'aws_secret_access_key = s\nverify_ssl = false'), {
      file: 't.ini',
    });
    assert.equal(c.destinations[0]!.verifySsl, false);
    assert.equal(c.source.verifySsl, true);
    const w = c.warnings.map((p) => `[${p.section}] ${p.key}: ${p.message}`);
    assert.equal(w.length, 1, w.join('\n'));
    assert.match(
      w[0]!,
      /^\[dest1\] verify_ssl: = false: the TLS certificate of https:\/\/dst\.example is NOT checked.*ca_bundle = FILE/,
    );
    const plain = parseConfig(
      SECTIONS(
        `aws_secret_access_key = s\nendpoint = http://plain.example\nca_bundle = ${join(dir, 'ca.pem')}`,
        'aws_secret_access_key = s',
      ).replace('endpoint = https://src.example\n', ''),
      { file: 't.ini' },
    );
    assert.ok(
      plain.warnings.some(
        (p) =>
          p.section === 'source' &&
          p.key === 'ca_bundle' &&
          /is unused: the endpoint http:\/\/plain\.example is plain http:\/\//.test(p.message),
      ),
      JSON.stringify(plain.warnings),
    );
  });

  it('[pubsub] redis_ca_bundle and redis_verify_ssl give redisTls for rediss:// only', () => {
    const ca = join(dir, 'ca.pem');
    const base = SECTIONS('aws_secret_access_key = s', 'aws_secret_access_key = s', '');
    const tls = parseConfig(base + `redis_url = rediss://h:6380/0\nredis_ca_bundle = ${ca}\n`, { file: 't.ini' });
    assert.match(tls.pubsub.redisTls?.ca ?? '', /BEGIN CERTIFICATE/);
    assert.equal(tls.pubsub.redisTls?.rejectUnauthorized, true);
    assert.deepEqual(tls.warnings, []);
    const off = parseConfig(base + 'redis_url = rediss://:pw@h:6380/0\nredis_verify_ssl = false\n', { file: 't.ini' });
    assert.equal(off.pubsub.redisTls?.rejectUnauthorized, false);
    assert.ok(
      off.warnings.some(
        (p) =>
          p.section === 'pubsub' &&
          p.key === 'redis_verify_ssl' &&
          /NOT checked/.test(p.message) &&
          !p.message.includes('pw@'),
      ),
      JSON.stringify(off.warnings),
    );
    const plain = parseConfig(base + `host = h\nredis_ca_bundle = ${ca}\n`, { file: 't.ini' });
    assert.equal(plain.pubsub.redisTls, undefined);
    assert.ok(
      plain.warnings.some((p) => p.key === 'redis_ca_bundle' && /is unused: .* is plain redis:\/\//.test(p.message)),
      JSON.stringify(plain.warnings),
    );
  });
});

describe('config: prefixes and deletes', () => {
  const section = (name: string, bucket: string, extra = '') =>
    `[${name}]\naws_access_key_id = k\naws_secret_access_key = s\nbucket_name = ${bucket}\nendpoint ` +
    `= http://127.0.0.1:7480\n${extra}\n`;

  it('allows one bucket as source and destination under prefixes that do not overlap (a move)', () => {
    const c = parseConfig(
      section('source', 'b', 'prefix = images/') +
        section('dest1', 'b', 'prefix = avatar/\ndelete = true\nmax_delete = 5%'),
      { file: 'test.ini' },
    );
    assert.equal(c.source.prefix, 'images/');
    assert.equal(c.destinations[0]!.prefix, 'avatar/');
    assert.equal(c.destinations[0]!.delete, true);
    assert.deepEqual(c.destinations[0]!.maxDelete, { percent: 5 });
    assert.equal(c.destinations[0]!.deleteMode, 'delete');
  });

  it('refuses overlapping prefixes in one bucket, naming both sections', () => {
    const problems = problemsOf(
      section('source', 'b', 'prefix = images/') + section('dest1', 'b', 'prefix = images/thumbs/'),
    );
    assert.ok(
      problems.some((p) =>
        new RegExp(
          '\\[dest1\\] bucket_name: is the source bucket itself .*' +
            'overlapping prefixes "images/" and "images/thumbs/".*\\[source\\] prefix = old/',
        ).test(p),
      ),
      problems.join('\n'),
    );
    const two = problemsOf(section('source', 'a') + section('dest1', 'b', 'prefix = x/') + section('dest2', 'b'));
    assert.ok(
      two.some((p) => /\[dest2\] bucket_name: is the same bucket as \[dest1\]/.test(p)),
      two.join('\n'),
    );
  });

  it('refuses delete keys in [source] and bad values, all at once', () => {
    const problems = problemsOf(
      section('source', 'a', 'delete = true') +
        section('dest1', 'b', 'max_delete = lots\ndelete_mode = shred\ntrash_prefix ='),
    );
    for (const re of [
      /\[source\] delete: belongs in a \[dest\*\] section/,
      /\[dest1\] max_delete: "lots" is not a count or a percentage/,
      /\[dest1\] delete_mode: "shred" is not one of: delete, trash/,
      /\[dest1\] trash_prefix: is empty/,
    ]) {
      assert.ok(
        problems.some((p) => re.test(p)),
        `${re} in:\n${problems.join('\n')}`,
      );
    }
  });

  it('reads storage_class and acl in a destination; refused in [source] and misspelt', () => {
    const problems = problemsOf(
      section('source', 'a', 'storage_class = COLD\nacl = copy\ntags = false') +
        section('dest1', 'b', 'storage_class = glacier\nacl = world') +
        section('dest2', 'c', 'storage_class = STANDARD_IA\nacl = Public-Read'),
    );
    for (const re of [
      /\[source\] acl: belongs in a \[dest\*\] section/,
      /\[source\] tags: belongs in a \[dest\*\] section/,
      /\[dest1\] acl: "world" is not one of: private, public-read, authenticated-read, bucket-owner-full-control, copy/,
      /\[source\] storage_class: belongs in a \[dest\*\] section/,
      /\[dest1\] storage_class: "glacier" is not a storage class name \(upper case, e\.g\. STANDARD_IA .*\) nor copy/,
    ])
      assert.ok(
        problems.some((p) => re.test(p)),
        `${re} in:\n${problems.join('\n')}`,
      );
    assert.equal(problems.filter((p) => /dest2/.test(p)).length, 0, problems.join('\n'));
  });

  it('reads object_lock in a destination, state_dir and upload_ttl in [source]; each refused elsewhere', () => {
    const problems = problemsOf(
      section('source', 'a', 'object_lock = copy\nupload_ttl = soon') +
        section('dest1', 'b', 'object_lock = keep\nstate_dir = /tmp/x\nupload_ttl = 1d'),
    );
    for (const re of [
      /\[source\] object_lock: belongs in a \[dest\*\] section/,
      /\[source\] upload_ttl: "soon" is not/,
      /\[dest1\] object_lock: "keep" is not one of: copy/,
      /\[dest1\] state_dir: belongs in \[source\]/,
      /\[dest1\] upload_ttl: belongs in \[source\]/,
    ])
      assert.ok(
        problems.some((p) => re.test(p)),
        `${re} in:\n${problems.join('\n')}`,
      );
    const c = parseConfig(
      section('source', 'a', 'state_dir = state\nupload_ttl = 2d') + section('dest1', 'b', 'object_lock = copy'),
      { file: '/etc/s3s3/s3s3.ini', baseDir: '/etc/s3s3' },
    );
    assert.equal(c.source.stateDir, '/etc/s3s3/state', 'a relative state_dir starts at the config file');
    assert.equal(c.source.uploadTtlMs, 2 * 86_400_000);
    assert.equal(c.destinations[0]!.objectLock, 'copy');
    assert.equal(
      parseConfig(section('source', 'a') + section('dest1', 'b'), { file: 't' }).source.uploadTtlMs,
      7 * 86_400_000,
    );
  });

  it('versions = true: [source] only, S3 destinations recording metadata, delete_mode = versions only with it', () => {
    const problems = problemsOf(
      section('source', 'a', 'versions = true') +
        section('dest1', 'b', 'versions = true') +
        section('dest2', 'c', 'record_metadata = false') +
        section('dest3', 'd', 'delete_mode = trash'),
    );
    for (const re of [
      /\[dest1\] versions: belongs in \[source\]/,
      /\[dest3\] delete_mode: = trash with \[source\] versions = true/,
      /\[dest2\] record_metadata: = false with \[source\] versions = true/,
    ])
      assert.ok(
        problems.some((p) => re.test(p)),
        `${re} in:\n${problems.join('\n')}`,
      );
    const alone = problemsOf(section('source', 'a') + section('dest1', 'b', 'delete_mode = versions'));
    assert.ok(
      alone.some((p) => /\[dest1\] delete_mode: = versions needs \[source\] versions = true/.test(p)),
      alone.join('\n'),
    );
  });

  it('reads max_delete as a count or a percentage', async () => {
    const { parseMaxDelete } = await import('../../src/api/config.js');
    assert.deepEqual(parseMaxDelete('500'), { count: 500 });
    assert.deepEqual(parseMaxDelete('10%'), { percent: 10 });
    assert.deepEqual(parseMaxDelete('2.5 %'), { percent: 2.5 });
    assert.equal(parseMaxDelete('101%'), undefined);
    assert.equal(parseMaxDelete('-1'), undefined);
  });
});

describe('config: [http]', () => {
  const BASE = GOOD.replace(/\[pubsub\][\s\S]*$/, '');
  const TOKEN = 'a-long-random-token-1234567890';

  it('reads host, port and the tokens; tokens never print; S3S3_HTTP_PORT wins over the file', () => {
    const c = parseConfig(`${BASE}[http]\nport = 9464\nadmin_token = ${TOKEN}\nevents_token = ${TOKEN}-ev\n`, {
      file: 'test.ini',
    });
    assert.deepEqual({ host: c.http?.host, port: c.http?.port }, { host: '127.0.0.1', port: 9464 });
    assert.equal(c.http?.adminToken, TOKEN);
    assert.equal(c.http?.eventsToken, `${TOKEN}-ev`);
    for (const shown of [inspect(c, { depth: 5 }), JSON.stringify(c)]) assert.ok(!shown.includes(TOKEN), shown);
    const env = parseConfig(`${BASE}[http]\nport = 9464\nhost = 0.0.0.0\n`, {
      file: 'test.ini',
      env: { S3S3_HTTP_PORT: '9470' },
    });
    assert.deepEqual({ host: env.http?.host, port: env.http?.port }, { host: '0.0.0.0', port: 9470 });
    // S3S3_HTTP_PORT alone turns the surface on.
    assert.equal(parseConfig(BASE, { file: 'test.ini', env: { S3S3_HTTP_PORT: '9471' } }).http?.port, 9471);
  });

  it('is off without a port, with a warning when other [http] keys are set', () => {
    assert.equal(parseConfig(BASE, { file: 'test.ini' }).http, undefined);
    const c = parseConfig(`${BASE}[http]\nevents_token = ${TOKEN}\n`, { file: 'test.ini' });
    assert.equal(c.http, undefined);
    assert.ok(
      c.warnings.some((w) => w.section === 'http' && /has no port: the HTTP surface is off/.test(w.message)),
      JSON.stringify(c.warnings),
    );
  });

  it(
    'refuses a bad port, a short token and both a token and its _file, naming the key; hints ' + 'at a misspelt key',
    () => {
      const problems = problemsOf(
        `${BASE}[http]\nport = 99999\nadmin_token = short\nevents_token = ${TOKEN}\nevents_token_file = /nonexistent\n`,
      );
      assert.ok(
        problems.some((p) => /\[http\] port: "99999" is not a whole number from 1 to 65535/.test(p)),
        problems.join('\n'),
      );
      assert.ok(
        problems.some((p) => /\[http\] admin_token: is shorter than 16 characters/.test(p)),
        problems.join('\n'),
      );
      assert.ok(
        problems.some((p) => /\[http\] events_token_file: conflicts with "events_token"/.test(p)),
        problems.join('\n'),
      );
      const c = parseConfig(`${BASE}[http]\nport = 9464\nevents_tokn = x\n`, { file: 'test.ini' });
      assert.ok(c.warnings.some((w) => w.key === 'events_tokn' && /did you mean "events_token"/.test(w.message)));
    },
  );

  it('reads a token from <key>_file', () => {
    const dir = mkdtempSync(join(tmpdir(), 's3s3-http-'));
    writeFileSync(join(dir, 'admin'), `${TOKEN}\n`, { mode: 0o600 });
    const c = parseConfig(`${BASE}[http]\nport = 9464\nadmin_token_file = ${join(dir, 'admin')}\n`, {
      file: 'test.ini',
    });
    assert.equal(c.http?.adminToken, TOKEN);
  });
});
