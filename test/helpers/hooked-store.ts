/**
 * A real store whose writes or deletes of one key first run a hook, once: how the race tests put
 * "the writer and the worker" into the exact window between a decision and the request that
 * acts on it, deterministically. Nothing of S3 is mocked: every call still goes to the server.
 */
import type { Readable } from 'node:stream';
import type { ObjectStore, PutOptions } from '../../src/api/store/object-store.js';

/** Which requests trigger the hook: deletes (DELETE, DeleteObjects) or uploads (PUT, server-side copy). */
export type HookedOp = 'delete' | 'upload';

/**
 * `store`, with `hook` run once right before the first `op` request naming `key`. `fired()`
 * tells whether it ran (a test asserts it did, so a path that skipped the window cannot pass).
 */
export function hookBefore<S extends ObjectStore>(
  store: S,
  op: HookedOp,
  key: string,
  hook: () => Promise<void>,
): { store: ObjectStore; fired: () => boolean } {
  let fired = false;
  const fire = async (keys: readonly string[]) => {
    if (fired || !keys.includes(key)) return;
    fired = true;
    await hook();
  };
  const wrapped: Partial<ObjectStore> =
    op === 'delete'
      ? {
          deleteMany: async (keys: readonly string[]) => (await fire(keys), store.deleteMany(keys)),
          delete: async (k: string) => (await fire([k]), store.delete(k)),
        }
      : {
          put: async (k: string, body: Readable | Buffer, options: PutOptions) => (
            await fire([k]),
            store.put(k, body, options)
          ),
          ...(store.copyFrom
            ? {
                copyFrom: async (other: ObjectStore, sourceKey: string, k: string, ifMatch?: string) => (
                  await fire([k]),
                  store.copyFrom!(other, sourceKey, k, ifMatch)
                ),
              }
            : {}),
        };
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && prop in wrapped) return wrapped[prop as keyof ObjectStore];
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as unknown as ObjectStore;
  return { store: proxy, fired: () => fired };
}
