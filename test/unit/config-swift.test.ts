/** `type = swift` sections: every rule of the config applies to the new keys. */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type Config, loadConfig, parseConfig, s3Section, swiftSection } from '../../src/api/config.js';
import { ConfigError } from '../../src/api/errors.js';

const S3_SOURCE = `
[source]
aws_access_key_id = AKSOURCE
aws_secret_access_key = s3secret
bucket_name = photos
endpoint = https://s3.example.com
`;

const V1 = `
[dest1]
type = swift
auth_url = https://auth.cloudfiles.example/auth/v1.0
user = account:mirror
key = v1-api-key
container = photos-copy
`;

const V3 = `
[dest2]
type = swift
auth_url = https://keystone.example.org:5000/v3
username = mirror
password = v3-password
project_name = backups
user_domain_name = Users
region = RegionTwo
container = photos-v3
list_page_size = 10000
`;

function parse(text: string, env: NodeJS.ProcessEnv = {}, baseDir?: string): Config {
  return parseConfig(text, { file: 'swift.ini', env, ...(baseDir ? { baseDir } : {}) });
}

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parse(text, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.file} [${p.section ?? ''}] ${p.key ?? ''}: ${p.message}`);
  }
  assert.fail('expected a ConfigError');
}

describe('config: type = swift', () => {
  it('reads auth v1 and Keystone v3 sections, with defaults and the Swift page limit', () => {
    const c = parse(S3_SOURCE + V1 + V3);
    assert.equal(c.source.type, 's3', 'type defaults to s3');
    assert.equal(c.source.type, 's3');
    assert.ok(!('swift' in c.source), 'an S3 section carries no Swift settings');
    const [v1, v3] = c.destinations;
    assert.equal(v1!.type, 'swift');
    assert.equal(v1!.bucket, 'photos-copy');
    assert.equal(v1!.endpoint, 'https://auth.cloudfiles.example/auth/v1.0');
    assert.deepEqual(
      { ...v1!.swift },
      { authUrl: 'https://auth.cloudfiles.example/auth/v1.0', authVersion: 1, user: 'account:mirror' },
    );
    assert.equal(swiftSection(v1!).swift.secret, 'v1-api-key');
    assert.equal(
      v1!.multipartThreshold,
      5 * 1024 ** 3,
      'multipart_threshold defaults to 5G, Swift single-object limit',
    );
    assert.equal(v1!.listPageSize, 1000);
    assert.equal(swiftSection(v3!).swift.authVersion, 3);
    assert.equal(swiftSection(v3!).swift.user, 'mirror');
    assert.equal(swiftSection(v3!).swift.secret, 'v3-password');
    assert.equal(swiftSection(v3!).swift.projectName, 'backups');
    assert.equal(swiftSection(v3!).swift.userDomainName, 'Users');
    assert.equal(swiftSection(v3!).swift.projectDomainName, 'Default');
    assert.equal(swiftSection(v3!).swift.region, 'RegionTwo');
    assert.equal(v3!.listPageSize, 10000, 'Swift lists up to 10,000 names a page');
  });

  it('never prints the key or the password', () => {
    const c = parse(S3_SOURCE + V1 + V3);
    const printed = [
      inspect(c, { depth: 10 }),
      inspect(c, { depth: 10, showHidden: true }),
      JSON.stringify(c),
      String(swiftSection(c.destinations[0]!).swift),
    ].join('\n');
    for (const secret of ['v1-api-key', 'v3-password', 's3secret'])
      assert.ok(!printed.includes(secret), `${secret} is not printed`);
  });

  it('takes storage_url instead of the auth service one; endpoint names it', () => {
    const c = parse(
      S3_SOURCE + V1.replace('container', 'storage_url = https://storage.example/v1/MossoCloudFS_123/\ncontainer'),
    );
    assert.equal(swiftSection(c.destinations[0]!).swift.storageUrl, 'https://storage.example/v1/MossoCloudFS_123');
    assert.equal(c.destinations[0]!.endpoint, 'https://storage.example/v1/MossoCloudFS_123');
  });

  it('environment overrides: S3S3_DEST1_KEY, S3S3_DEST1_TYPE, S3S3_DEST2_PASSWORD', () => {
    const c = parse(
      S3_SOURCE +
        V1.replace('key = v1-api-key\n', '').replace('type = swift\n', '') +
        V3.replace('password = v3-password\n', ''),
      {
        S3S3_DEST1_KEY: 'key-from-env',
        S3S3_DEST1_TYPE: 'swift',
        S3S3_DEST2_PASSWORD: 'password-from-env',
      },
    );
    assert.equal(swiftSection(c.destinations[0]!).swift.secret, 'key-from-env');
    assert.equal(swiftSection(c.destinations[1]!).swift.secret, 'password-from-env');
  });

  it('reads key_file and password_file (and S3S3_DEST1_KEY_FILE), trailing newline dropped', () => {
    const dir = mkdtempSync(join(tmpdir(), 's3s3-swift-conf-'));
    writeFileSync(join(dir, 'cf.key'), 'key-in-file\n');
    writeFileSync(join(dir, 'ks.password'), 'password-in-file\n');
    const c = parse(
      S3_SOURCE +
        V1.replace('key = v1-api-key', 'key_file = cf.key') +
        V3.replace('password = v3-password', 'password_file = ks.password'),
      {},
      dir,
    );
    assert.equal(swiftSection(c.destinations[0]!).swift.secret, 'key-in-file');
    assert.equal(swiftSection(c.destinations[1]!).swift.secret, 'password-in-file');
    const e = parse(S3_SOURCE + V1.replace('key = v1-api-key\n', ''), { S3S3_DEST1_KEY_FILE: join(dir, 'cf.key') });
    assert.equal(swiftSection(e.destinations[0]!).swift.secret, 'key-in-file');
    assert.deepEqual(problemsOf(S3_SOURCE + V1.replace('key = v1-api-key', `key_file = ${join(dir, 'none')}`)), [
      `swift.ini [dest1] key_file: cannot read ${join(dir, 'none')}: no such file; create it ` +
        `(holding the Swift key) or fix the path`,
    ]);
  });

  it('a config file readable by every user that holds a Swift key or password gets the chmod warning', () => {
    const dir = mkdtempSync(join(tmpdir(), 's3s3-swift-perm-'));
    writeFileSync(join(dir, 'source.secret'), 's3secret\n', { mode: 0o600 });
    // The S3 source keeps its secret in a file: only the Swift section's secret is in the config.
    const source = S3_SOURCE.replace('aws_secret_access_key = s3secret', 'aws_secret_access_key_file = source.secret');
    for (const [name, text] of [
      ['v1.ini', source + V1],
      ['v3.ini', source + V3.replace('[dest2]', '[dest1]')],
      ['none.ini', source + V1.replace('key = v1-api-key', 'key_file = source.secret')],
    ] as const) {
      const file = join(dir, name);
      writeFileSync(file, text);
      chmodSync(file, 0o644);
      const warned = loadConfig({ file, env: {} }).warnings.some((w) =>
        /readable by every user and holds a secret; run: chmod 600/.test(w.message),
      );
      assert.equal(warned, name !== 'none.ini', name);
    }
  });

  it('reports every problem at once, naming file, section and key', () => {
    const text = `${S3_SOURCE}
[dest1]
type = swift
auth_url = https://auth.example/identity
user = u
container = a/b

[dest2]
type = swift
auth_url = https://keystone.example/v3
user = wrong-version
key = wrong-version
username = u
container = c
storage_url = ftp://nowhere
list_page_size = 20000

[dest3]
type = swif
bucket_name = x

[dest4]
type = swift
auth_url = https://auth.example/auth/v1.0
user = {YOUR_SWIFT_USER}
key = k
container = c
bucket_name = also-a-bucket
endpoint = https://s3.example.com

[dest5]
aws_access_key_id = a
aws_secret_access_key = b
bucket_name = c
endpoint = https://s3.example.com
container = not-for-s3
`;
    assert.deepEqual(problemsOf(text), [
      'swift.ini [dest1] container: "a/b" is not a usable container name: no "/", and at most ' +
        '247 bytes (s3s3 adds "_segments" for the segments of large objects)',
      'swift.ini [dest1] auth_url: "https://auth.example/identity" is neither an auth v1 URL ' +
        '(http(s)://HOST/auth/v1.0, tempauth or Cloud Files) nor a Keystone v3 URL (http(s)://HOST/v3)',
      'swift.ini [dest2] user: is for auth v1 (an auth_url ending in /auth/v1.0); Keystone ' +
        'v3 takes username, password and project_name',
      'swift.ini [dest2] key: is for auth v1 (an auth_url ending in /auth/v1.0); Keystone v3 ' +
        'takes username, password and project_name',
      'swift.ini [dest2] password: missing: set password = <Keystone password> (or password_file = FILE holding it)',
      'swift.ini [dest2] project_name: missing: set project_name = <Keystone project name>',
      'swift.ini [dest2] storage_url: "ftp://nowhere" is not a Swift storage URL; use e.g. ' +
        'storage_url = https://swift.example.com/v1/AUTH_account (or remove it to take the one ' +
        'auth_url names)',
      'swift.ini [dest2] list_page_size: "20000" is not a whole number from 1 to 10000',
      'swift.ini [dest3] type: "swif" is not one of: s3, swift',
      'swift.ini [dest3] aws_access_key_id: missing: set aws_access_key_id = <access key id> ' +
        '(or aws_access_key_id_file = FILE holding it)',
      'swift.ini [dest3] aws_secret_access_key: missing: set aws_secret_access_key = <secret ' +
        'access key> (or aws_secret_access_key_file = FILE holding it)',
      'swift.ini [dest4] bucket_name: is for S3 sections; this section has type = swift: use container',
      'swift.ini [dest4] endpoint: is for S3 sections; this section has type = swift: use auth_url ' +
        '(and storage_url to override the storage URL)',
      'swift.ini [dest4] user: still holds the template placeholder {YOUR_SWIFT_USER}; put the real value here',
      'swift.ini [dest5] container: is for Swift sections: add type = swift to this section (or remove the key)',
    ]);
  });

  it('[DEFAULT] keys of the other type are left out silently; unknown keys get a hint', () => {
    const text =
      '[DEFAULT]\nconcurrency = 4\nregion = eu-west-1\naws_access_key_id = AKDEFAULT\n' +
      S3_SOURCE.replace('aws_access_key_id = AKSOURCE\n', '') +
      V1.replace('container =', 'contianer = x\ncontainer =');
    const c = parse(text);
    assert.equal(s3Section(c.source).accessKeyId, 'AKDEFAULT');
    assert.equal(c.destinations[0]!.concurrency, 4, 'shared keys apply');
    assert.equal(
      swiftSection(c.destinations[0]!).swift.region,
      undefined,
      'an S3 region from [DEFAULT] picks no Keystone region',
    );
    assert.ok(
      c.warnings.some(
        (w) => w.section === 'dest1' && w.key === 'contianer' && /did you mean "container"/.test(w.message),
      ),
      JSON.stringify(c.warnings),
    );
  });

  it('ca_bundle and verify_ssl apply to an https auth_url', () => {
    const c = parse(S3_SOURCE + V1 + 'verify_ssl = false\n');
    assert.equal(c.destinations[0]!.verifySsl, false);
    assert.ok(c.warnings.some((w) => w.key === 'verify_ssl' && /auth\.cloudfiles\.example/.test(w.message)));
  });
});
