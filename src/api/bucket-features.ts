/**
 * What a config asks of its buckets beyond existing — Object Lock where `object_lock = copy`,
 * versioning everywhere with `versions = true` —
 * checked when a command starts (not when the config is loaded: it takes a request per bucket).
 */
import type { Config } from './config.js';
import type { Logger } from './log.js';
import type { ObjectStore } from './store/object-store.js';
import { createStore } from './store/registry.js';

/**
 * One line per destination whose bucket lacks what its section asks for, naming the section
 * and what to do; [] when all is well. A bucket that cannot be asked (unreachable, missing) is
 * left to the command's own errors.
 */
export async function bucketFeatureProblems(
  destinations: readonly ObjectStore[],
  source?: ObjectStore,
): Promise<string[]> {
  // `versions = true`: the source and every destination keep versions.
  const versioned = source?.settings.versions === true ? [source, ...destinations] : [];
  const unversioned = await Promise.all(
    versioned.map(async (store) => {
      const enabled = store.versioningEnabled ? await store.versioningEnabled().catch(() => undefined) : false;
      if (enabled !== false) return undefined;
      return (
        `[${store.name}] versions = true: bucket ${store.bucket} at ${store.endpoint} does not have versioning ` +
        'enabled; enable it (PutBucketVersioning Status=Enabled) or remove versions from [source]'
      );
    }),
  );
  const problems = await Promise.all(
    destinations.map(async (store) => {
      if (store.settings.objectLock !== 'copy') return undefined;
      const enabled = store.objectLockEnabled ? await store.objectLockEnabled().catch(() => undefined) : false;
      if (enabled !== false) return undefined;
      return (
        `[${store.name}] object_lock = copy: bucket ${store.bucket} at ${store.endpoint} has no Object Lock ` +
        '(it can only be enabled when a bucket is created, with x-amz-bucket-object-lock-enabled); ' +
        'copy to a bucket created with it, or remove object_lock from the section'
      );
    }),
  );
  return [...unversioned, ...problems].filter((p): p is string => p !== undefined);
}

/** bucketFeatureProblems for a config's destinations, with stores of its own (closed after); none asked: []. */
export async function configFeatureProblems(config: Config, logger?: Logger): Promise<string[]> {
  const versions = config.source.versions === true;
  const asking = config.destinations.filter((d) => versions || d.objectLock === 'copy');
  if (asking.length === 0) return [];
  const stores = asking.map((d) => createStore(d, { logger }));
  const source = versions ? createStore(config.source, { logger }) : undefined;
  try {
    return await bucketFeatureProblems(stores, source);
  } finally {
    for (const s of [...stores, ...(source ? [source] : [])]) s.close();
  }
}
