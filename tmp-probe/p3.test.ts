import { it } from 'node:test';
import { freshStore, putAll } from '../test/helpers/seed.js';
import { sectionIni, uniqueBucket } from '../test/helpers/servers.js';
import { runBucketCli } from '../test/helpers/fault-rig.js';
import { cephServer, freshSwift, swiftIni } from '../test/helpers/swift.js';

it('probe cli', { timeout: 300000 }, async () => {
  const ceph = cephServer();
  const src = await freshStore(ceph, uniqueBucket('probe-src'));
  await putAll(src, [{ key: 'a', body: Buffer.from('a') }]);
  const dst = await freshSwift(uniqueBucket('probe-dst'));
  const show = (n: string, r: any) => console.log(`--- ${n}: code ${r.code} ${r.seconds.toFixed(1)}s\n${r.stderr}\nSTDOUT ${r.stdout.slice(0, 300)}`);
  show('dead auth', await runBucketCli(sectionIni('source', ceph, src.bucket) + swiftIni('dest1', dst.bucket, { auth_url: 'http://127.0.0.1:9/auth/v1.0', max_retries: 1 })));
  show('dead storage', await runBucketCli(sectionIni('source', ceph, src.bucket) + swiftIni('dest1', dst.bucket, { storage_url: 'http://127.0.0.1:9/v1/AUTH_test', max_retries: 1 })));
  show('dead auth src', await runBucketCli(swiftIni('source', dst.bucket, { auth_url: 'http://127.0.0.1:9/auth/v1.0', max_retries: 1 }) + sectionIni('dest1', ceph, src.bucket)));
  show('missing container src', await runBucketCli(swiftIni('source', 'nope-nope', {}) + sectionIni('dest1', ceph, src.bucket)));
  show('auth url not auth', await runBucketCli(sectionIni('source', ceph, src.bucket) + swiftIni('dest1', dst.bucket, { auth_url: ceph.endpoint + '/auth/v1.0', max_retries: 1 })));
  show('empty source delete', await runBucketCli(swiftIni('source', (await freshSwift(uniqueBucket('empty'))).bucket) + sectionIni('dest1', ceph, src.bucket, { delete: true })));
  setTimeout(() => process.exit(0), 100);
});
