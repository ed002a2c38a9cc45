/** A Swift SLO takes 1,000 segments (Swift's default max_manifest_segments): segments grow to fit. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { choosePartSize, ObjectTooLargeError } from '../../src/api/copy/multipart.js';
import { SLO_MAX_SEGMENTS, SwiftStore } from '../../src/api/store/swift-store.js';
import { parseConfig } from '../../src/api/config.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

describe('SLO segment sizes', () => {
  it('a Swift store tells the copy layer it takes 1,000 segments', () => {
    const config = parseConfig(
      '[source]\ntype = swift\nauth_url = http://127.0.0.1:1/auth/v1.0\nuser = a:b\nkey = k\ncontainer = c\n[dest1]\ntype = swift\nauth_url = http://127.0.0.1:1/auth/v1.0\nuser = a:b\nkey = k\ncontainer = d\n',
      { file: 't.ini' },
    );
    const store = new SwiftStore(config.source);
    try {
      assert.equal(store.settings.maxParts, SLO_MAX_SEGMENTS);
      assert.equal(SLO_MAX_SEGMENTS, 1000);
    } finally {
      store.close();
    }
  });

  it('grows segments to fit 1,000 where S3 would keep 10,000 parts of the configured size', () => {
    assert.equal(choosePartSize(100 * GiB, 64 * MiB), 64 * MiB, 'S3: 1,600 parts are fine');
    assert.equal(choosePartSize(100 * GiB, 64 * MiB, 'k', 1000), 103 * MiB, 'Swift: 1,000 segments of 103 MiB');
    assert.ok(Math.ceil((100 * GiB) / (103 * MiB)) <= 1000);
    assert.equal(choosePartSize(60 * GiB, 64 * MiB, 'k', 1000), 64 * MiB, '960 segments: unchanged');
  });

  it('refuses, before anything is uploaded, an object 1,000 segments of 5 GiB cannot hold', () => {
    assert.equal(choosePartSize(1000 * 5 * GiB, 64 * MiB, 'k', 1000), 5 * GiB);
    assert.throws(
      () => choosePartSize(1000 * 5 * GiB + 1, 64 * MiB, 'big', 1000),
      (err: unknown) =>
        err instanceof ObjectTooLargeError &&
        /"big" has \d+ bytes, over the 5368709120000 bytes 1000 parts of 5 GiB can hold/.test(err.message),
    );
  });
});
