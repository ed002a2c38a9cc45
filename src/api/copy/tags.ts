/**
 * Object tags as copies carry them (`tags` per destination): whether a destination takes them
 * (asked once per store and process), the source's tags when an object has some, what a refusal
 * means, and whether a copy's tags differ from its source's (`--check-metadata`).
 */
import { StoreError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { HeadInfo, ObjectStore } from '../store/object-store.js';

/** An object: its store and key (a copy's source or one of its destinations). */
export interface At {
  readonly store: ObjectStore;
  readonly key: string;
}

/** Where to say it. */
export interface Logged {
  readonly logger?: Logger;
}

/**
 * `--check-metadata`: whether the destination's tags differ from the source's (a destination
 * that takes tags only). The counts HEAD shows decide when both say none or differ; equal
 * counts are settled by reading both tag sets.
 */
export async function tagsDiffer(source: At, sh: HeadInfo, t: At, dh: HeadInfo, options: Logged): Promise<boolean> {
  if ((sh.tagCount ?? 0) === 0 && (dh.tagCount ?? 0) === 0) return false;
  await probeTags(t.store, options);
  if (!takesTags(t.store) || !source.store.readTags || !t.store.readTags) return false;
  if (sh.tagCount !== undefined && dh.tagCount !== undefined && sh.tagCount !== dh.tagCount) return true;
  const [a, b] = await Promise.all([source.store.readTags(source.key), t.store.readTags(t.key)]);
  const keys = Object.keys(a);
  return keys.length !== Object.keys(b).length || keys.some((k) => a[k] !== b[k]);
}

/** Destinations that answered a write with tags "not implemented" (Swift's s3api): written without. */
const refusesTags = new WeakSet<ObjectStore>();
/** Destinations already told about (once per process): their tags are not copied. */
const saidNoTags = new WeakSet<ObjectStore>();

/** Whether copies to `store` carry the source's tags: `tags = true`, a store with tags, and not refused. */
export function takesTags(store: ObjectStore): boolean {
  return store.settings.tags && store.readTags !== undefined && !refusesTags.has(store);
}

/** A destination with `tags = true` asked once whether it takes tags at all (see S3Store.takesTags). */
export async function probeTags(store: ObjectStore, options: Logged): Promise<void> {
  if (!store.settings.tags || !store.takesTags || refusesTags.has(store)) return;
  if (await store.takesTags()) return;
  refusesTags.add(store);
  sayNoTags(store, 'it takes no object tags (PutObjectTagging: NotImplemented); copies go without them', options);
}

/** Once per destination and process: why its copies carry no tags. */
function sayNoTags(store: ObjectStore, why: string, options: Logged): void {
  if (saidNoTags.has(store)) return;
  saidNoTags.add(store);
  (options.logger ?? silentLogger).warn(`tags not copied to [${store.name}]: ${why}`, {
    destination: store.name,
    bucket: store.bucket,
  });
}

/**
 * The source's tags when it has some (`x-amz-tagging-count`) and a destination takes them;
 * undefined otherwise. A destination with `tags = true` that has no object tags (Swift) is told
 * about once. A source that will not show its tags throws, saying what to allow.
 */
export async function sourceTagsFor(
  source: At,
  info: HeadInfo,
  targets: readonly At[],
  options: Logged,
): Promise<Record<string, string> | undefined> {
  if ((info.tagCount ?? 0) === 0 || !source.store.readTags) return undefined;
  for (const t of targets)
    if (t.store.settings.tags && t.store.readTags === undefined)
      sayNoTags(t.store, 'Swift has no object tags (set tags = false there to say so)', options);
    else await probeTags(t.store, options);
  if (!targets.some((t) => takesTags(t.store))) return undefined;
  try {
    return await source.store.readTags(source.key);
  } catch (err) {
    if (!(err instanceof StoreError) || err.notFound) throw err;
    throw err.withDetail("tags = true reads each tagged object's tags: allow s3:GetObjectTagging, or set tags = false");
  }
}

/**
 * A write with tags that the destination answers "not implemented" (Swift's s3api): from now on
 * its copies go without tags (said once), and this one is tried again, without them.
 */
export function tagsRefused(err: unknown, store: ObjectStore, options: Logged): unknown {
  if (!(err instanceof StoreError)) return err;
  if (err.code === 'InvalidTag')
    return err.withDetail(
      "the destination refuses one of the source object's tags (e.g. a key starting aws:); or set tags = false",
    );
  const denied = err.status === 403;
  if (!denied && err.status !== 501 && err.code !== 'NotImplemented') return err;
  refusesTags.add(store);
  sayNoTags(
    store,
    denied
      ? `a write with tags was denied (${err.code ?? 'HTTP 403'}): allow s3:PutObjectTagging there, or set ` +
          'tags = false; copies go without tags meanwhile'
      : `it refuses object tags (${err.code ?? `HTTP ${err.status}`}); copies go without them`,
    options,
  );
  return err.withDetail('the destination takes no object tags: written again without them', 'retry');
}
