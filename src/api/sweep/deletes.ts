/**
 * The delete phase of a sweep (`--delete`, like `rclone sync` with delete-after): the
 * destination keys the source lacks, set aside while listing, are deleted only once every
 * listing finished and every copy succeeded, within `max_delete`; the source is asked once
 * more right before each delete and again right after it (see runDeletes).
 */
import { parseMaxDelete, type MaxDelete } from '../config.js';
import { keyDef } from '../config/keys.js';
import type { CopyKeyOptions, TargetResult } from '../copy/copy-key.js';
import type { Logger } from '../log.js';
import { deleteManyFailures, type ObjectStore } from '../store/object-store.js';
import { fullKey, neverDeleted, recheckAfterDelete, removeFromDestination, trashInSource } from '../sync/sync-key.js';
import type { KeySpool } from './spool.js';
import { eachAtMost } from '../each.js';

/**
 * The cap on a destination's deletes when neither `--max-delete` nor `max_delete` says: the
 * key table's default for `max_delete` (10% of its keys in scope).
 */
export const DEFAULT_MAX_DELETE: MaxDelete = Object.freeze(parseMaxDelete(keyDef('s3', 'max_delete')!.default!)!);

/** The most deletes allowed at a destination holding `listed` keys in scope. */
export function deleteLimit(max: MaxDelete, listed: number): number {
  return 'count' in max ? max.count : Math.floor((listed * max.percent) / 100);
}

/** `max_delete` as the messages print it: `100` or `10%`. */
export function describeMaxDelete(max: MaxDelete): string {
  return 'count' in max ? String(max.count) : `${max.percent}%`;
}

/** How the deletes run, the same at every destination of a sweep. */
interface DeleteRun {
  readonly source: ObjectStore;
  /** Record nothing as deleted: each candidate is a `would delete`. */
  readonly dryRun: boolean;
  /** HEADs and trash moves in flight at once. */
  readonly concurrency: number;
  readonly log: Logger;
  /** Every result, counted by the sweep. */
  readonly record: (r: TargetResult) => void;
  readonly signal?: AbortSignal;
  /** For the copies made when the source has a deleted key again (see recheckAfterDelete). */
  readonly copyOptions?: CopyKeyOptions;
  /**
   * A distributed sweep's run-wide max_delete: asked for `n` deletes right before a batch,
   * grants at most `n` (atomically, across every worker); the keys not granted are left.
   */
  readonly budget?: (n: number) => Promise<number>;
  /** Called with how many keys of a batch were left for want of budget. */
  readonly onOverBudget?: (n: number) => void;
}

/** What runDeletes needs for one destination. */
export interface DeletePhase extends DeleteRun {
  readonly dest: ObjectStore;
  /** Keys relative to the prefixes, as listed at the destination. */
  readonly spool: KeySpool;
}

/** One destination that deletes in this sweep: the keys the source lacks, and how many keys it has in scope. */
export interface DeleteCandidates {
  readonly dest: ObjectStore;
  /** The keys in scope the source lacks, relative to the prefixes. */
  readonly spool: KeySpool;
  /** Its keys in scope (the filters keep them, a delete could touch them): max_delete's base. */
  readonly inScope: number;
}

/** What deletePhase needs: the destinations that delete, the source's count, the caps. */
export interface DeletePhaseOptions extends DeleteRun {
  /** Only the destinations where this run deletes, in the config's order. */
  readonly destinations: readonly DeleteCandidates[];
  /** Source keys in scope (after filters): none, and the empty-source guard holds. */
  readonly sourceListed: number;
  /** `--max-delete`: replaces every destination's `max_delete`. */
  readonly maxDelete?: MaxDelete;
  /** `--allow-empty-source`: no empty-source guard. */
  readonly allowEmptySource?: boolean;
}

/**
 * The delete phase of a sweep whose run was clean: the guards per destination (an empty source,
 * a trash inside the source's prefix, `max_delete`), then runDeletes where they pass. Returns
 * the refusals (each fails the run); an empty source refuses every destination.
 */
export async function deletePhase(p: DeletePhaseOptions): Promise<string[]> {
  const { refused, allowed } = judgeDeletes({
    source: p.source,
    destinations: p.destinations.map((d) => ({ dest: d.dest, candidates: d.spool.length, inScope: d.inScope })),
    sourceListed: p.sourceListed,
    maxDelete: p.maxDelete,
    allowEmptySource: p.allowEmptySource,
  });
  for (const { dest } of allowed) {
    const spool = p.destinations.find((d) => d.dest === dest)!.spool;
    await runDeletes({
      source: p.source,
      dest,
      spool,
      dryRun: p.dryRun,
      concurrency: p.concurrency,
      log: p.log,
      record: p.record,
      signal: p.signal,
      copyOptions: p.copyOptions,
    });
  }
  return refused;
}

/** What judgeDeletes weighs: per destination that deletes, its candidates and its keys in scope. */
export interface DeleteJudgement {
  readonly source: ObjectStore;
  /** Only the destinations where this run deletes, in the config's order. */
  readonly destinations: ReadonlyArray<{
    readonly dest: ObjectStore;
    readonly candidates: number;
    readonly inScope: number;
  }>;
  /** Source keys in scope (after filters). */
  readonly sourceListed: number;
  readonly maxDelete?: MaxDelete;
  readonly allowEmptySource?: boolean;
}

/**
 * The guards of the delete phase, from counts alone (a local sweep's spools, or a distributed
 * sweep's counts summed over its ranges): the refusals (each fails the run; an empty source
 * refuses every destination) and the destinations whose deletes may go ahead, each with its
 * max_delete limit.
 */
export function judgeDeletes(p: DeleteJudgement): {
  refused: string[];
  allowed: Array<{ dest: ObjectStore; limit: number }>;
} {
  const { source } = p;
  const refused: string[] = [];
  const allowed: Array<{ dest: ObjectStore; limit: number }> = [];
  if (p.sourceListed === 0 && !p.allowEmptySource) {
    const holding = p.destinations.filter((d) => d.inScope > 0).map((d) => `[${d.dest.name}] holds ${d.inScope}`);
    if (holding.length > 0) {
      const prefix = source.settings.prefix ? `, prefix ${JSON.stringify(source.settings.prefix)}` : '';
      refused.push(
        `the source (${source.bucket}${prefix}) lists no key in scope while ${holding.join(', ')}: ` +
          'refusing to delete everything; check bucket_name, prefix and filters, or pass --allow-empty-source',
      );
    }
  }
  for (const { dest, candidates, inScope } of p.destinations) {
    if (candidates === 0) continue;
    // With an empty source, any refusal so far stops every delete.
    if (refused.length > 0 && p.sourceListed === 0) break;
    if (trashInSource(source, dest)) {
      refused.push(
        `[${dest.name}] trash_prefix lies in the source's prefix of the same bucket: nothing deleted there ` +
          '(trashed objects would be copied back); choose a trash_prefix outside it',
      );
      continue;
    }
    const max = p.maxDelete ?? dest.settings.maxDelete ?? DEFAULT_MAX_DELETE;
    const limit = deleteLimit(max, inScope);
    if (candidates > limit) {
      refused.push(
        `[${dest.name}] would delete ${candidates} of ${inScope} keys, more than max_delete ` +
          `${describeMaxDelete(max)} (${limit}): nothing deleted there; ` +
          'check the source, or raise --max-delete / max_delete',
      );
      continue;
    }
    allowed.push({ dest, limit });
  }
  return { refused, allowed };
}

/** Keys per DeleteObjects request (S3's limit). */
const BATCH = 1000;

interface Candidate {
  readonly key: string;
  readonly sourceKey: string;
  readonly size: number;
}

/**
 * Delete (or trash) every spooled key the source still lacks; results go to `record`.
 * Per batch of up to 1000 keys: the source is asked about each (in parallel, bounded) right
 * before the batch's DeleteObjects, so the look is never older than one round of HEADs;
 * a not-found counts only with the source bucket seen to exist right then (one HeadBucket per
 * batch); after the delete it is asked again, and a key it has now (a worker may have copied
 * it in between, and the delete undid that copy) is copied back; likewise after a delete that
 * failed, which may have been applied all the same (see afterFailedDelete). With `delete_mode = trash`,
 * each key of the batch is moved on its own and looked at again.
 */
export async function runDeletes(p: DeletePhase): Promise<void> {
  const { dest } = p;
  let batch: Candidate[] = [];
  for await (const entry of p.spool.entries()) {
    if (p.signal?.aborted) return;
    const key = fullKey(dest, entry.key);
    // The spool was filtered already; a key under a trash root is never deleted, whatever happens.
    if (neverDeleted(dest, key)) continue;
    if (p.dryRun) {
      p.record({ destination: dest.name, key, outcome: 'would delete', bytes: entry.size });
      continue;
    }
    batch.push({ key, sourceKey: fullKey(p.source, entry.key), size: entry.size });
    if (batch.length >= BATCH) {
      const full = batch;
      batch = [];
      await runBatch(p, full);
    }
  }
  if (!p.signal?.aborted) await runBatch(p, batch);
}

async function runBatch(p: DeletePhase, batch: readonly Candidate[]): Promise<void> {
  if (batch.length === 0) return;
  const { source, dest, log } = p;
  const fail = (c: Candidate, err: unknown) =>
    p.record({
      destination: dest.name,
      key: c.key,
      outcome: 'failed',
      bytes: 0,
      error: err instanceof Error ? err : new Error(String(err)),
    });
  const copyOptions = { logger: log, ...p.copyOptions };
  // The source once more, right before this batch's delete: the listener may have just copied a key.
  const absent: Candidate[] = [];
  await eachAtMost(batch, p.concurrency, async (c) => {
    try {
      if (!(await sourceHas(p, c))) absent.push(c);
    } catch (err) {
      fail(c, err);
    }
  });
  if (absent.length === 0 || p.signal?.aborted) return;
  // One rule for "gone" (copy/source-now.ts): the HEADs' not-founds count only with the source
  // bucket seen to exist right now, asked once for the batch, never from a cached answer.
  const bucketError = await bucketMissingNow(source);
  if (bucketError) {
    for (const c of absent) fail(c, bucketError);
    return;
  }
  if (p.budget) {
    const granted = await p.budget(absent.length);
    if (granted < absent.length) p.onOverBudget?.(absent.length - granted);
    absent.splice(granted);
    if (absent.length === 0) return;
  }
  if (dest.settings.deleteMode === 'trash') {
    // Each key moved on its own (a copy into the trash, then the delete), then looked at again.
    await eachAtMost(absent, p.concurrency, async (c) => {
      try {
        p.record(
          await recheckAfterDelete(
            source,
            c.sourceKey,
            dest,
            await removeFromDestination(dest, c.key, c.size),
            copyOptions,
          ),
        );
      } catch (err) {
        p.record(await afterFailedDelete(p, c, err, copyOptions));
      }
    });
    return;
  }
  const failed = await deleteManyFailures(
    dest,
    absent.map((c) => c.key),
  );
  await eachAtMost(absent, p.concurrency, async (c) => {
    const error = failed.get(c.key);
    if (error) return p.record(await afterFailedDelete(p, c, error, copyOptions));
    const deleted: TargetResult = { destination: dest.name, key: c.key, outcome: 'deleted', bytes: 0 };
    try {
      p.record(await recheckAfterDelete(source, c.sourceKey, dest, deleted, copyOptions));
    } catch (err) {
      fail(c, err);
    }
  });
}

/**
 * A delete that failed may still have happened: a DeleteObjects (or a trash move's delete)
 * whose answer was lost on the way (a reset, a timeout) after the server applied it. It may
 * then have undone a worker's copy made since the look before it, exactly as a delete that
 * succeeded can, so the source is asked again the same way (recheckAfterDelete): a key it
 * has now is copied back (`copied`, or `kept` when in place); else the failure is reported.
 */
async function afterFailedDelete(
  p: DeletePhase,
  c: Candidate,
  err: unknown,
  copyOptions: CopyKeyOptions,
): Promise<TargetResult> {
  const error = err instanceof Error ? err : new Error(String(err));
  const failed: TargetResult = { destination: p.dest.name, key: c.key, outcome: 'failed', bytes: 0, error };
  try {
    const maybe: TargetResult = { destination: p.dest.name, key: c.key, outcome: 'deleted', bytes: 0 };
    const r = await recheckAfterDelete(p.source, c.sourceKey, p.dest, maybe, copyOptions);
    // The source lacks it (still to be deleted: the next sweep does), or the look failed: the delete's own error.
    return r.outcome === 'deleted' || r.outcome === 'failed' ? failed : r;
  } catch {
    return failed;
  }
}

/** True (and recorded `kept`) when the source has the key now. Null only when the store itself says not found. */
async function sourceHas(p: DeletePhase, c: Candidate): Promise<boolean> {
  if ((await p.source.head(c.sourceKey)) === null) return false;
  p.log.info('kept: the source has this key now', { key: c.key, destination: p.dest.name });
  p.record({ destination: p.dest.name, key: c.key, outcome: 'kept', bytes: 0 });
  return true;
}

/** Null when the source bucket exists now (a HeadBucket asked now); else why nothing may be deleted. */
async function bucketMissingNow(source: ObjectStore): Promise<Error | null> {
  try {
    if (await source.bucketExists()) return null;
    return new Error(
      `[${source.name}] the source bucket ${source.bucket} does not exist now: ` +
        'nothing deleted (fix bucket_name, or create it)',
    );
  } catch (err) {
    const cause = err instanceof Error ? err.message : String(err);
    return new Error(
      `[${source.name}] could not tell whether the source bucket exists before deleting: ${cause}; nothing deleted`,
    );
  }
}
