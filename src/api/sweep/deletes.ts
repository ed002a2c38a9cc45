/**
 * The delete phase of a sweep (`--delete`, like `rclone sync` with delete-after): the
 * destination keys the source lacks, set aside while listing, are deleted only once every
 * listing finished and every copy succeeded, within `max_delete`, each after the source is
 * asked once more (a key the listener has just copied there is kept).
 */
import type { MaxDelete } from '../config.js';
import { Limiter } from '../copy/limiter.js';
import type { TargetResult } from '../copy/copy-key.js';
import type { Logger } from '../log.js';
import type { ObjectStore } from '../store/object-store.js';
import { fullKey, removeFromDestination } from '../sync/sync-key.js';
import type { KeySpool } from './spool.js';

export const DEFAULT_MAX_DELETE: MaxDelete = Object.freeze({ percent: 10 });

/** The most deletes allowed at a destination holding `listed` keys in scope. */
export function deleteLimit(max: MaxDelete, listed: number): number {
  return 'count' in max ? max.count : Math.floor((listed * max.percent) / 100);
}

export function describeMaxDelete(max: MaxDelete): string {
  return 'count' in max ? String(max.count) : `${max.percent}%`;
}

export interface DeletePhase {
  readonly source: ObjectStore;
  readonly dest: ObjectStore;
  /** Keys relative to the prefixes, as listed at the destination. */
  readonly spool: KeySpool;
  readonly dryRun: boolean;
  readonly concurrency: number;
  readonly log: Logger;
  readonly record: (r: TargetResult) => void;
  readonly signal?: AbortSignal;
}

/** Delete (or trash) every spooled key the source still lacks; results go to `record`. */
export async function runDeletes(p: DeletePhase): Promise<void> {
  const { source, dest, log } = p;
  const limiter = new Limiter(p.concurrency);
  let batch: string[] = [];
  const flush = async (keys: string[]) => {
    if (keys.length === 0) return;
    let failures: Array<{ key: string; error: Error }>;
    try {
      failures = await dest.deleteMany(keys);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      failures = keys.map((key) => ({ key, error }));
    }
    const failed = new Map(failures.map((f) => [f.key, f.error]));
    for (const key of keys) {
      const error = failed.get(key);
      p.record(error ? { destination: dest.name, key, outcome: 'failed', bytes: 0, error } : { destination: dest.name, key, outcome: 'deleted', bytes: 0 });
    }
  };
  for await (const entry of p.spool.entries()) {
    if (p.signal?.aborted) break;
    const key = fullKey(dest, entry.key);
    if (p.dryRun) {
      p.record({ destination: dest.name, key, outcome: 'would delete', bytes: entry.size });
      continue;
    }
    await limiter.spawn(() => (async () => {
      // The source once more, right before deleting: the listener may have just copied it.
      const sourceKey = fullKey(source, entry.key);
      const now = await source.head(sourceKey);
      if (now !== null) {
        log.info('kept: the source has this key now', { key, destination: dest.name });
        p.record({ destination: dest.name, key, outcome: 'kept', bytes: 0 });
        return;
      }
      if (dest.settings.deleteMode === 'trash') {
        p.record(await removeFromDestination(dest, key, entry.size));
        return;
      }
      batch.push(key);
      if (batch.length >= 1000) {
        const full = batch;
        batch = [];
        await flush(full);
      }
    })()
      .catch((err: unknown) => {
        p.record({ destination: dest.name, key, outcome: 'failed', bytes: 0, error: err instanceof Error ? err : new Error(String(err)) });
      }),
    );
  }
  await limiter.drain();
  await flush(batch);
}
