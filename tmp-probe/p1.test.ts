import { it } from 'node:test';
import { BucketClient } from '../src/api/bucket-client.js';
import { parseConfig } from '../src/api/config.js';
import { freshStore, putAll, readAll } from '../test/helpers/seed.js';
import { sectionIni, uniqueBucket } from '../test/helpers/servers.js';
import { cephServer, freshSwift, swiftIni } from '../test/helpers/swift.js';

it('probe', { timeout: 120000 }, async () => {
  const ceph = cephServer();
  const src = await freshStore(ceph, uniqueBucket('probe-src'));
  const dst = await freshSwift(uniqueBucket('probe-dst'));
  const k1025 = 'x'.repeat(1025);
  await putAll(src, [
    { key: 'meta', body: Buffer.from('m'), options: { metadata: { who: Buffer.from('café ü 日本 😀').toString('latin1') } } },

    { key: 'ok', body: Buffer.from('ok') },
    { key: 'a/../b', body: Buffer.from('dots') },
    { key: 'end?', body: Buffer.from('q') }, { key: 'end#', body: Buffer.from('h') }, { key: 'end%', body: Buffer.from('p') }, { key: 'end+', body: Buffer.from('pl') },
  ]);
  const h0 = await src.head('meta');
  console.log('ceph meta', JSON.stringify(h0?.metadata));
  const c = new BucketClient(parseConfig(sectionIni('source', ceph, src.bucket) + swiftIni('dest1', dst.bucket, { delete: true }), { file: 'p.ini' }));
  const r = await c.duplicate();
  console.log(JSON.stringify({ copied: r.copied, failed: r.failed, failures: r.failures.map((f: any) => [f.key?.slice(0, 20), String(f.error?.message ?? f.reason ?? f)]) }));
  const h = await dst.head('meta');
  console.log('swift meta', JSON.stringify(h?.metadata));
  for await (const o of dst.list()) console.log('dst', JSON.stringify(o.key.slice(0, 30)));
  // swift -> ceph direct meta
  const src2 = await freshSwift(uniqueBucket('probe-src2'));
  try { await src2.put('m2', Buffer.from('x'), { contentLength: 1, metadata: { who: Buffer.from('café 日本').toString('latin1') } } as any); console.log('put ok', JSON.stringify((await src2.head('m2'))?.metadata)); } catch (e) { console.log('put meta failed', String(e)); }
  const r2 = await c.duplicate();
  console.log('second', r2.copied, r2.failed, r2.skipped);
  c.close(); src.close?.(); dst.close(); src2.close(); setTimeout(() => process.exit(0), 100);
});
