/**
 * `type = swift` with Keystone v3 auth: tokens from a Keystone v3 token endpoint in the test
 * harness (test/helpers/keystone.ts; the test Swift runs tempauth, so the endpoint hands out
 * real tempauth tokens), data to and from the real Swift through the storage URL of the
 * catalog's public object-store endpoint in the configured region.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BucketClient } from '../../src/api/bucket-client.js';
import { parseConfig } from '../../src/api/config.js';
import type { S3Store } from '../../src/api/store/s3-store.js';
import { SwiftStore } from '../../src/api/store/swift-store.js';
import { dropStore, freshStore, md5Hex, putAll, readAll } from '../helpers/seed.js';
import { sectionIni, uniqueBucket } from '../helpers/servers.js';
import { errorLines, runBucketCli } from '../helpers/fault-rig.js';
import { KeystoneStub, type KeystoneStubOptions } from '../helpers/keystone.js';
import { cephServer, dropSwift, freshSwift, swiftServer } from '../helpers/swift.js';

const ceph = cephServer();
const swift = swiftServer();
const CREDENTIALS = {
  username: 'mirror',
  password: `pw-${randomBytes(6).toString('hex')}`,
  project: 'backups',
  userDomain: 'Users',
  projectDomain: 'Projects',
  region: 'RegionTwo',
};

function keystoneIni(
  section: string,
  authUrl: string,
  container: string,
  extra: Record<string, string | number> = {},
): string {
  const keys = {
    type: 'swift',
    auth_url: authUrl,
    username: CREDENTIALS.username,
    password: CREDENTIALS.password,
    project_name: CREDENTIALS.project,
    user_domain_name: CREDENTIALS.userDomain,
    project_domain_name: CREDENTIALS.projectDomain,
    region: CREDENTIALS.region,
    container,
    ...extra,
  };
  return `[${section}]\n${Object.entries(keys)
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n')}\n`;
}

describe('type = swift with Keystone v3', () => {
  const s3Stores: S3Store[] = [];
  const swiftStores: SwiftStore[] = [];
  const stubs: KeystoneStub[] = [];
  const clients: BucketClient[] = [];
  const keystone = async (o: Partial<KeystoneStubOptions> = {}) => {
    const stub = new KeystoneStub({ swift: swift.swift, ...CREDENTIALS, ...o });
    stubs.push(stub);
    return { stub, url: await stub.start() };
  };
  const pair = async (label: string) => {
    const src = await freshStore(ceph, uniqueBucket(`${label}-src`));
    s3Stores.push(src);
    const dst = await freshSwift(uniqueBucket(`${label}-dst`));
    swiftStores.push(dst);
    return { src, dst };
  };
  after(async () => {
    for (const c of clients) c.close();
    for (const s of stubs) await s.stop();
    for (const s of s3Stores) await dropStore(s).catch(() => {});
    for (const s of swiftStores) await dropSwift(s).catch(() => {});
  });

  it(
    'Ceph -> Swift native through a Keystone token: the region picks the catalog endpoint, ' +
      'one token for the whole sweep',
    { timeout: 60_000 },
    async () => {
      const { src, dst } = await pair('ks-sweep');
      const objects = Array.from({ length: 20 }, (_, i) => ({ key: `k/${i}`, body: randomBytes(500 + i) }));
      await putAll(src, objects);
      const { stub, url } = await keystone();
      const c = new BucketClient(
        parseConfig(sectionIni('source', ceph, src.bucket) + keystoneIni('dest1', url, dst.bucket), { file: 'ks.ini' }),
      );
      clients.push(c);
      const report = await c.duplicate();
      assert.deepEqual(report.failures, []);
      assert.equal(report.copied, objects.length);
      for (const o of objects) assert.equal(md5Hex(await readAll((await dst.get(o.key)).body)), md5Hex(o.body));
      assert.equal(stub.issued, 1, 'one token, reused for every request');
      assert.deepEqual(
        stub.requests[0],
        { user: 'mirror', userDomain: 'Users', project: 'backups', projectDomain: 'Projects' },
        'the scope and domains as configured',
      );
    },
  );

  it(
    'a token refused (revoked) mid-run is renewed once and the copies go on; ' +
      'an expiring token is renewed before it expires',
    { timeout: 60_000 },
    async () => {
      const { src, dst } = await pair('ks-renew');
      const first = Array.from({ length: 5 }, (_, i) => ({ key: `a/${i}`, body: randomBytes(1000) }));
      const later = Array.from({ length: 5 }, (_, i) => ({ key: `b/${i}`, body: randomBytes(1000) }));
      await putAll(src, first);
      const { stub, url } = await keystone({ lifetimeMs: 3000 });
      stub.bogus = 1;
      const c = new BucketClient(
        parseConfig(sectionIni('source', ceph, src.bucket) + keystoneIni('dest1', url, dst.bucket), { file: 'ks.ini' }),
      );
      clients.push(c);
      // Five copies at once, each HEADing the destination with the revoked token first.
      const ones = await Promise.all(first.map((o) => c.copy(o.key)));
      assert.ok(
        ones.every((u) => u.ok && u.results[0]!.outcome === 'copied'),
        JSON.stringify(ones.map((u) => u.results.map((r) => [r.outcome, r.error?.message]))),
      );
      assert.equal(stub.issued, 2, 'the refused token was replaced once, not once per request');
      // Half its life gone: the next call gets a new token first instead of being refused.
      await new Promise((r) => setTimeout(r, 1700));
      await putAll(src, later);
      const two = await c.duplicate();
      assert.deepEqual(two.failures, []);
      assert.equal(two.copied, later.length);
      assert.equal(stub.issued, 3, 'a token near its expiry is renewed ahead of time');
      for (const o of [...first, ...later])
        assert.equal(md5Hex(await readAll((await dst.get(o.key)).body)), md5Hex(o.body));
    },
  );

  it(
    'a wrong password: s3s3bucket exits 1 with one clear error line, the password never printed',
    { timeout: 60_000 },
    async () => {
      const { src, dst } = await pair('ks-wrong');
      await putAll(src, [{ key: 'x', body: Buffer.from('x') }]);
      const { url } = await keystone();
      const wrong = `wrong-${randomBytes(6).toString('hex')}`;
      const run = await runBucketCli(
        sectionIni('source', ceph, src.bucket) + keystoneIni('dest1', url, dst.bucket, { password: wrong }),
      );
      assert.equal(run.code, 1, run.stderr);
      const errors = errorLines(run.stderr);
      assert.equal(errors.length, 1, run.stderr);
      assert.match(errors[0]!, /\[dest1\].*Keystone refused user "mirror" in project "backups"/, errors[0]);
      assert.ok(!run.stderr.includes(wrong) && !run.stderr.includes(CREDENTIALS.password), 'no password printed');
    },
  );

  it(
    'an https auth_url signed by a private CA: refused without ca_bundle (one line naming the fix), used with it',
    { timeout: 60_000 },
    async () => {
      assert.ok(ceph.caFile, 'the Ceph server script makes the test CA (S3_CA_FILE)');
      const dir = dirname(ceph.caFile);
      const { src, dst } = await pair('ks-tls');
      await putAll(src, [{ key: 'x', body: Buffer.from('over https') }]);
      const { stub, url } = await keystone({
        tls: {
          cert: readFileSync(join(dir, 'server.pem'), 'utf8'),
          key: readFileSync(join(dir, 'server.key'), 'utf8'),
        },
      });
      const untrusted = await runBucketCli(
        sectionIni('source', ceph, src.bucket) + keystoneIni('dest1', url, dst.bucket),
      );
      assert.equal(untrusted.code, 1, untrusted.stderr);
      const errors = errorLines(untrusted.stderr);
      assert.equal(errors.length, 1, untrusted.stderr);
      assert.match(errors[0]!, /\[dest1\].*ca_bundle/, errors[0]);
      assert.equal(stub.issued, 0);
      const trusted = await runBucketCli(
        sectionIni('source', ceph, src.bucket) + keystoneIni('dest1', url, dst.bucket, { ca_bundle: ceph.caFile }),
      );
      assert.equal(trusted.code, 0, trusted.stderr);
      assert.equal(stub.issued, 1);
      assert.equal((await readAll((await dst.get('x')).body)).toString(), 'over https');
    },
  );

  it('a region the catalog lacks: one clear error saying so', { timeout: 60_000 }, async () => {
    const { src, dst } = await pair('ks-region');
    await putAll(src, [{ key: 'x', body: Buffer.from('x') }]);
    const { url } = await keystone();
    const run = await runBucketCli(
      sectionIni('source', ceph, src.bucket) + keystoneIni('dest1', url, dst.bucket, { region: 'Atlantis' }),
    );
    assert.equal(run.code, 1, run.stderr);
    const errors = errorLines(run.stderr);
    assert.equal(errors.length, 1, run.stderr);
    assert.match(errors[0]!, /no public object-store endpoint in region "Atlantis": set region/, errors[0]);
  });
});
