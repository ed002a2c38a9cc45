/**
 * The registry of trash roots a destination has ever used. `trash_prefix` can change
 * between runs; what an older root holds is still the only copy of what was deleted then,
 * so every root ever used stays out of every sweep's scope. The destination itself keeps
 * the list (any process, any config, sees the same): one marker object per root,
 * `.s3s3-trash/.roots/<sha256 of the root>`, whose body is the root. One object per root
 * makes registering concurrency-safe (two writers PUT the same bytes); reading the list is
 * one LIST plus one GET per root (a handful), never a request per key.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { StoreError } from '../errors.js';
import type { ObjectStore } from '../store/object-store.js';

/** Where `delete_mode = trash` puts objects when `trash_prefix` is not set (a date is added). */
export const DEFAULT_TRASH_ROOT = '.s3s3-trash/';

/**
 * Where a destination keeps its markers, one per trash root ever used there (inside the default
 * root, so never swept).
 */
export const TRASH_REGISTRY_PREFIX = `${DEFAULT_TRASH_ROOT}.roots/`;

/** The marker key recording `root` in the registry. */
export function trashRegistryKey(root: string): string {
  return TRASH_REGISTRY_PREFIX + createHash('sha256').update(root, 'utf8').digest('hex');
}

interface Entry {
  /** Roots read from the registry or registered by this process. */
  readonly roots: Set<string>;
  /** When the registry was last read (0: never). */
  loadedAt: number;
  loading?: Promise<void>;
  readonly registering: Map<string, Promise<void>>;
}

// Per store object: a sweep makes its own stores, a worker keeps its stores for its life.
const cache = new WeakMap<ObjectStore, Entry>();

function entry(store: ObjectStore): Entry {
  let e = cache.get(store);
  if (!e) cache.set(store, (e = { roots: new Set(), loadedAt: 0, registering: new Map() }));
  return e;
}

/**
 * Read the registry of `store` (one LIST, one GET per root), unless it was read less than
 * `maxAgeMs` ago (default 0: read now). Returns every root known for it. Throws when the
 * registry cannot be read: a caller about to delete must then not delete.
 */
export async function loadTrashRoots(
  store: ObjectStore,
  options: { readonly maxAgeMs?: number } = {},
): Promise<readonly string[]> {
  const e = entry(store);
  if (e.loadedAt > 0 && Date.now() - e.loadedAt <= (options.maxAgeMs ?? 0)) return [...e.roots];
  e.loading ??= (async () => {
    const started = Date.now();
    const markers: string[] = [];
    for await (const o of store.list({ prefix: TRASH_REGISTRY_PREFIX })) markers.push(o.key);
    const roots = await Promise.all(
      markers.map(async (key) => {
        const got = await store.get(key).catch((err: unknown) => {
          // Deleted by hand between the LIST and the GET: nothing to keep for it.
          return isNotFound(err) ? null : Promise.reject(err);
        });
        if (got === null) return undefined;
        const root = (await readBody(got.body, 4096)).toString('utf8');
        // Only a marker written by s3s3 counts: an empty or mismatched one would hide keys from every sweep.
        return root !== '' && trashRegistryKey(root) === key ? root : undefined;
      }),
    );
    for (const r of roots) if (r !== undefined) e.roots.add(r);
    e.loadedAt = started;
  })().finally(() => {
    e.loading = undefined;
  });
  await e.loading;
  return [...e.roots];
}

/**
 * Before a copy: the registry as this process knows it, read now the first time (a copy must
 * not land in a trash root an earlier config used), then refreshed in the background once it
 * is older than `maxAgeMs`, so copies never wait for it again. Throws when the first read fails.
 */
export async function knowTrashRoots(store: ObjectStore, maxAgeMs: number): Promise<void> {
  const e = entry(store);
  if (e.loadedAt === 0) {
    await loadTrashRoots(store);
    return;
  }
  if (Date.now() - e.loadedAt > maxAgeMs && !e.loading) void loadTrashRoots(store).catch(() => {});
}

function isNotFound(err: unknown): boolean {
  return err instanceof StoreError && err.notFound;
}

/** The body, at most `max` bytes (a marker holds a root, under 1024 bytes). */
async function readBody(body: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
    n += b.length;
    if (n > max) {
      body.destroy();
      break;
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** The roots known for `store` now, without a request (empty until loaded or registered). */
export function knownTrashRoots(store: ObjectStore): readonly string[] {
  return [...(cache.get(store)?.roots ?? [])];
}

/**
 * Record `root` in the registry of `store` before anything is put under it (one PUT the
 * first time in this process, none when the registry already lists it).
 */
export async function registerTrashRoot(store: ObjectStore, root: string): Promise<void> {
  const e = entry(store);
  if (e.roots.has(root)) return;
  let p = e.registering.get(root);
  if (!p) {
    const body = Buffer.from(root, 'utf8');
    p = store
      .put(trashRegistryKey(root), body, { contentLength: body.length, contentType: 'text/plain; charset=utf-8' })
      .then(() => {
        e.roots.add(root);
      })
      .finally(() => e.registering.delete(root));
    e.registering.set(root, p);
  }
  await p;
}
