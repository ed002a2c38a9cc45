/** Helpers to fill and read buckets on the real servers. */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { ObjectStore, PutOptions } from '../../src/api/store/object-store.js';
import { S3Store } from '../../src/api/store/s3-store.js';
import { endpointConfig, type TestServer } from './servers.js';

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export function md5Hex(buf: Buffer): string {
  return createHash('md5').update(buf).digest('hex');
}

/** Put objects with `parallel` requests in flight. */
export async function putAll(
  store: ObjectStore,
  objects: ReadonlyArray<{ key: string; body: Buffer; options?: Partial<PutOptions> }>,
  parallel = 24,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < objects.length) {
        const o = objects[next++]!;
        await store.put(o.key, o.body, { contentLength: o.body.length, ...o.options });
      }
    }),
  );
}

export async function listKeys(store: ObjectStore): Promise<Array<{ key: string; size: number; etag: string }>> {
  const out = [];
  for await (const o of store.list()) out.push({ key: o.key, size: o.size, etag: o.etag });
  return out;
}

/** A fresh bucket on `server`; `extra` are INI keys for the section. */
export async function freshStore(
  server: TestServer,
  bucket: string,
  extra: Record<string, string | number | boolean> = {},
): Promise<S3Store> {
  const store = new S3Store(endpointConfig(server, bucket, extra));
  await store.createBucket();
  return store;
}

export async function dropStore(store: S3Store): Promise<void> {
  try {
    await store.destroyBucket();
  } finally {
    store.close();
  }
}
