/**
 * `s3s3 status`: is key X replicated? Per key and destination, what the stores say now (a HEAD
 * of the source and of the destination) and what the queue says (a job waiting or running for
 * the key, a failure in the failed set), folded into one state the way AWS replication reports
 * PENDING / COMPLETED / FAILED: `failed` first, then `pending`, `differs`, `missing`, `extra`,
 * else `in-sync`.
 */
import type { Config } from '../config.js';
import { decide } from '../copy/decide.js';
import { metadataDiff } from '../copy/source-now.js';
import { SyncQueue, type FailedJob, type QueuedJob } from '../queue/queue.js';
import { createStore } from '../store/registry.js';
import type { HeadInfo, ObjectStore } from '../store/object-store.js';
import { fullKey, relativeKey } from '../sync/sync-key.js';
import { oneLine } from '../notify/text.js';

/** A key's state at one destination; when several hold, the first of this list but `in-sync` wins. */
export type StatusState = 'failed' | 'pending' | 'differs' | 'missing' | 'extra' | 'in-sync';

/** The states in the order they win. */
export const STATUS_ORDER: readonly StatusState[] = ['failed', 'pending', 'differs', 'missing', 'extra', 'in-sync'];

/** One key at one destination. */
export interface DestinationStatus {
  readonly state: StatusState;
  /** Why, for people: what differs, the job's attempts and age, the failure's reason. */
  readonly detail?: string;
  /** The key at the destination (its prefix applied). */
  readonly destinationKey?: string;
  /** pending: `waiting`, `delayed` (a retry) or `active` (a worker has it). */
  readonly job?: QueuedJob['state'];
  /** pending and failed: attempts made. */
  readonly attempts?: number;
  /** pending: seconds since the job was queued; failed: since it failed. */
  readonly ageSeconds?: number;
  /** failed: the last error. */
  readonly error?: string;
  /** failed: when (ISO 8601). */
  readonly failedAt?: string;
}

/** One key everywhere. */
export interface KeyStatus {
  readonly key: string;
  /** By destination section name. */
  readonly destinations: Readonly<Record<string, DestinationStatus>>;
}

/** What `status()` returns: every key asked about, in the order asked. */
export interface StatusReport {
  readonly keys: readonly KeyStatus[];
  /** True when every key is in-sync at every destination. */
  readonly inSync: boolean;
}

/** How `status()` looks. */
export interface StatusOptions {
  /** Keys looked at at once (default 16). */
  readonly concurrency?: number;
  /** Read the queue (default: when `[pubsub] redis = true`). */
  readonly queue?: boolean;
  /** The time to measure ages against (tests). */
  readonly now?: number;
}

/** Keys looked at per round: memory stays bounded however many keys come in. */
const ROUND = 256;

/**
 * Every key's state at every destination. Keys are the source's (as published, its prefix
 * included). A store error is thrown (the caller cannot tell the state), never guessed.
 */
export async function status(
  config: Config,
  keys: readonly string[],
  options: StatusOptions = {},
): Promise<StatusReport> {
  const out: KeyStatus[] = [];
  const { inSync } = await statusEach(config, keys, (k) => out.push(k), { ...options, only: new Set(keys) });
  return { keys: out, inSync };
}

/**
 * `status()` for a stream of keys (`s3s3 status -` reads millions): each key's state is handed
 * to `onKey` in the order the keys came, a round of 256 at a time, so nothing grows with the
 * number of keys but the failed set's index. The first store error stops it (thrown).
 */
export async function statusEach(
  config: Config,
  keys: AsyncIterable<string> | Iterable<string>,
  onKey: (k: KeyStatus) => void,
  options: StatusOptions & { readonly only?: ReadonlySet<string> } = {},
): Promise<{ readonly inSync: boolean; readonly count: number }> {
  const source = createStore(config.source);
  const dests = config.destinations.map((d) => createStore(d));
  const useQueue = options.queue ?? config.pubsub.redis;
  const queue = useQueue ? new SyncQueue(config, { name: 's3s3-status' }) : undefined;
  let inSync = true;
  let count = 0;
  try {
    const failures = queue ? await queue.failedOf(options.only) : new Map<string, FailedJob>();
    const one = async (key: string): Promise<KeyStatus> => {
      const queued = queue ? await queue.queued(key) : undefined;
      return keyStatus(source, dests, key, queued, failures.get(key), options.now ?? Date.now());
    };
    let round: string[] = [];
    const flush = async (): Promise<void> => {
      const done = await inLanes(round, options.concurrency ?? 16, one);
      for (const k of done) {
        if (!Object.values(k.destinations).every((d) => d.state === 'in-sync')) inSync = false;
        count++;
        onKey(k);
      }
      round = [];
    };
    for await (const key of keys) {
      round.push(key);
      if (round.length >= ROUND) await flush();
    }
    if (round.length > 0) await flush();
    return { inSync, count };
  } finally {
    await queue?.close();
    source.close();
    for (const d of dests) d.close();
  }
}

/** `fn` of every item, `lanes` at once, results in the items' order; the first error stops every lane. */
async function inLanes<T, R>(items: readonly T[], lanes: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < items.length && !failed; i = next++) {
      try {
        out[i] = await fn(items[i]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(items.length, lanes) }, lane));
  return out;
}

async function keyStatus(
  source: ObjectStore,
  dests: readonly ObjectStore[],
  key: string,
  queued: QueuedJob | undefined,
  failed: FailedJob | undefined,
  now: number,
): Promise<KeyStatus> {
  const rel = relativeKey(source, key);
  const destinations: Record<string, DestinationStatus> = {};
  if (rel === undefined) {
    const detail = `outside the [source] prefix ${JSON.stringify(source.settings.prefix ?? '')}: never replicated`;
    for (const d of dests) destinations[d.name] = { state: 'differs', detail };
    return { key, destinations };
  }
  const sourceHead = await source.head(key);
  await Promise.all(
    dests.map(async (dest) => {
      const destinationKey = fullKey(dest, rel);
      const destHead = await dest.head(destinationKey);
      destinations[dest.name] = {
        ...pick(stored(sourceHead, destHead), queued, failed, now),
        destinationKey,
      };
    }),
  );
  return { key, destinations };
}

/** What the two HEADs say. */
function stored(source: HeadInfo | null, dest: HeadInfo | null): DestinationStatus {
  if (source === null) return dest === null ? { state: 'in-sync', detail: 'in neither' } : { state: 'extra' };
  if (dest === null) return { state: 'missing' };
  const d = decide(source, dest);
  if (d.action === 'copy') return { state: 'differs', detail: d.reason };
  if (d.action !== 'skip') return { state: 'differs', detail: 'unverifiable (no MD5 on either side to compare)' };
  const diff = metadataDiff(source, dest);
  return diff.length > 0 ? { state: 'differs', detail: `metadata differs: ${diff.join(', ')}` } : { state: 'in-sync' };
}

/** The winning state: a failure, then a job under way, then what the stores say. */
function pick(
  fromStores: DestinationStatus,
  queued: QueuedJob | undefined,
  failed: FailedJob | undefined,
  now: number,
): DestinationStatus {
  // A failure is history once a newer job for the key is under way, or the stores agree.
  if (failed && fromStores.state !== 'in-sync' && !(queued && queued.since > failed.at)) {
    const ageSeconds = Math.max(0, Math.round((now - failed.at) / 1000));
    return {
      state: 'failed',
      detail: `${oneLine(failed.error)} (${new Date(failed.at).toISOString()}, after ${failed.attempts} attempts)`,
      attempts: failed.attempts,
      ageSeconds,
      error: failed.error,
      failedAt: new Date(failed.at).toISOString(),
    };
  }
  if (queued) {
    const ageSeconds = Math.max(0, Math.round((now - queued.since) / 1000));
    return {
      state: 'pending',
      detail: `${queued.state}, ${queued.attempts} attempts so far, queued ${ageSeconds} s ago`,
      job: queued.state,
      attempts: queued.attempts,
      ageSeconds,
    };
  }
  return fromStores;
}
