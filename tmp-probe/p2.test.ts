import { it } from 'node:test';
import { putAll } from '../test/helpers/seed.js';
import { uniqueBucket } from '../test/helpers/servers.js';
import { KEY_SHAPES, ORDER_KEYS } from '../test/helpers/keys.js';
import { freshSwift } from '../test/helpers/swift.js';

it('probe delete', { timeout: 120000 }, async () => {
  const dst = await freshSwift(uniqueBucket('probe-del'));
  const keys = [...KEY_SHAPES, ...ORDER_KEYS, '.', '..', 'a/../b', 'a/./b', 'x/', 'q?', 'h#', 'p%', 'p%25', 'pl+', 'nfc\u00e9', 'nfde\u0301'];
  await putAll(dst, keys.map((key) => ({ key, body: Buffer.from('x') })));
  const listed: string[] = [];
  for await (const o of dst.list()) listed.push(o.key);
  console.log('listed', listed.length, 'of', keys.length);
  const fails = await dst.deleteMany(keys);
  console.log('fails', fails.map((f) => [JSON.stringify(f.key), f.error.message]));
  const left: string[] = [];
  for await (const o of dst.list()) left.push(o.key);
  console.log('left', left.map((k) => JSON.stringify(k)));
  dst.close(); setTimeout(() => process.exit(0), 100);
});
