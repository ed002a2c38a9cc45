// The key table itself: one entry per key and section, defaults that read under their own kind
// and range, and the facts other modules keep in step with it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from '../../src/api/duration.js';
import { ENDPOINT_BACKENDS, parseBoolean, parseMaxDelete, parseSize } from '../../src/api/config.js';
import {
  ALL_KEYS,
  envVariable,
  parseEnvVariable,
  keyNames,
  KEYS,
  S3_ONLY_KEYS,
  SWIFT_ONLY_KEYS,
} from '../../src/api/config/keys.js';

describe('the config key table', () => {
  it('has one entry per key and kind of section', () => {
    const seen = new Set<string>();
    for (const k of KEYS) {
      for (const s of k.sections) {
        assert.ok(!seen.has(`${s}.${k.name}`), `${k.name} twice for ${s}`);
        seen.add(`${s}.${k.name}`);
      }
    }
  });

  it('every default reads under its own kind and range', () => {
    for (const k of KEYS) {
      if (k.default === undefined) continue;
      const v = k.value;
      const what = `${k.name} default ${JSON.stringify(k.default)}`;
      if (v.kind === 'boolean') assert.notEqual(parseBoolean(k.default), undefined, what);
      if (v.kind === 'integer') assert.ok(Number(k.default) >= v.min && Number(k.default) <= v.max, what);
      if (v.kind === 'size') assert.ok(parseSize(k.default)! >= v.min && parseSize(k.default)! <= v.max, what);
      if (v.kind === 'duration') assert.ok(parseDuration(k.default)! > 0, what);
      if (v.kind === 'choice') assert.ok(k.default in v.choices, what);
      if (v.kind === 'count or percent') assert.ok(parseMaxDelete(k.default), what);
    }
  });

  it('derives the key lists: S3-only, Swift-only, <key>_file variants, every name for the environment', () => {
    assert.ok(S3_ONLY_KEYS.includes('aws_secret_access_key_file'));
    assert.ok(!S3_ONLY_KEYS.includes('region'), 'both types take region');
    assert.ok(SWIFT_ONLY_KEYS.includes('password_file'));
    assert.ok(!SWIFT_ONLY_KEYS.includes('list_page_size'));
    for (const k of ['redis_url_file', 'admin_token_file', 'webhook_url_file', 'max_delete'])
      assert.ok(ALL_KEYS.includes(k));
    assert.deepEqual(ENDPOINT_BACKENDS.swift.keys, keyNames('swift'));
    assert.equal(envVariable('dest-eu', 'aws_secret_access_key'), 'S3S3_DEST_EU_AWS_SECRET_ACCESS_KEY');
  });

  it('every key, in every section, round-trips through its environment variable', () => {
    for (const section of ['source', 'dest1', 'dest-eu', 'pubsub', 'http', 'notify', 'DEFAULT'])
      for (const key of ALL_KEYS)
        assert.deepEqual(parseEnvVariable(envVariable(section, key)), {
          section: section.toLowerCase().replace(/[^a-z0-9]/g, '_'),
          key,
        });
    assert.equal(parseEnvVariable('S3S3_CONFIG'), undefined);
  });
});
