/** The copy of one key from the source to its destinations: the heart of both the sweep and the workers. */
import { PassThrough, type Readable } from 'node:stream';
import { S3s3Error, StoreError, VerificationError } from '../errors.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { backoff, patientPolicy, sleep, type RetryPolicy } from '../retry.js';
import { acquireInOrder } from '../store/pacer.js';
import {
  etagMd5,
  isMd5Etag,
  isMultipartCapable,
  type HeadInfo,
  type ObjectHeaders,
  type ObjectInfo,
  type ObjectStore,
  type PutResult,
  type UploadedPart,
  type WriteHeaders,
} from '../store/object-store.js';
import type { SourceAcl } from '../store/acl.js';
import { sourceTagsFor, tagsDiffer, tagsRefused, takesTags } from './tags.js';
import { decide, knownMd5, META_MD5, META_SOURCE_ETAG, type CopyReason, type DestinationState } from './decide.js';
import { hexToBase64, Md5Tap, ShortBodyError } from './md5-tap.js';
import { candidatePartSizes, multipartParts, PartEtagHasher } from './part-etag.js';
import type { Limiter } from './limiter.js';
import { multipartUpload, resumeMultipart } from './multipart.js';
import { journalFailed, readRangeOf, resumeRefusal, trackerFor, verifyResumed, type Resumable } from './resume.js';
import { metadataDiffers, sameVersion, sourceNow, type SourceNow } from './source-now.js';

/** Copies of one key again because the source changed while it was written, before giving up for now. */
const MAX_CHANGED_ROUNDS = 5;

/** Largest object CopyObject takes in one call (AWS's limit, shared by the clones). */
const MAX_SERVER_SIDE_COPY = 5 * 1024 ** 3;

/** The key to copy and the store it comes from. */
export interface CopySource {
  readonly store: ObjectStore;
  readonly key: string;
  /** From a listing or HEAD, when the caller has it; otherwise s3s3 HEADs the source. */
  readonly info?: ObjectInfo;
}

/** One destination of a copy: its store, the key there, and what is known of it already. */
export interface CopyTarget {
  readonly store: ObjectStore;
  readonly key: string;
  /** From a listing: the object, or null when known to be missing. Undefined: HEAD it. */
  readonly known?: DestinationState | null;
}

/**
 * What happened to a key at one destination: copied, skipped (already in place), gone (the source
 * lacks it), failed, a dry run's "would copy"/"would delete", or the delete side's deleted, trashed
 * and kept (the source has the key again).
 */
export type Outcome =
  'copied' | 'skipped' | 'gone' | 'failed' | 'would copy' | 'deleted' | 'trashed' | 'would delete' | 'kept';

/** The result of one key at one destination, as reports, logs and counters read it. */
export interface TargetResult {
  readonly destination: string;
  readonly key: string;
  readonly outcome: Outcome;
  readonly reason?: CopyReason;
  readonly bytes: number;
  readonly method?: 'stream' | 'multipart' | 'server-side';
  readonly error?: Error;
  /** The source key (differs from `key` under prefix moves); set where the source was looked at. */
  readonly sourceKey?: string;
  /** The source object's size and ETag, and its MD5 when known, for reports. */
  readonly size?: number;
  readonly sourceEtag?: string;
  readonly md5?: string;
  /** The source's Last-Modified (ms) where the copy looked it up: replication latency starts there without an event. */
  readonly sourceModified?: number;
}

/** How `copyKey` copies: force, dry run, verification, retries, part slots and the blind path. */
export interface CopyKeyOptions {
  readonly force?: boolean;
  readonly dryRun?: boolean;
  /** Overrides each destination's verify_md5 when true. */
  readonly verifyMd5?: boolean;
  readonly retry?: RetryPolicy;
  readonly logger?: Logger;
  /** Counts each source GET, for tests and benchmarks. */
  readonly onSourceRead?: (key: string) => void;
  /** Part buffers for multipart uploads, shared across concurrent copies (see multipart.ts). */
  readonly partSlots?: Limiter;
  /** Also recopy when only the standard headers or user metadata differ (`--check-metadata`). */
  readonly checkMetadata?: boolean;
  /**
   * The caller knows a small object was just written (an event or enqueued sweep decision with
   * its size): skip the destination HEADs and copy it, one GET and one PUT per destination; the
   * copy's own verification proves the bytes. Not for server-side copies or dry runs.
   */
  readonly blind?: boolean;
  /**
   * The size is not known (a publish): GET the source first, and when its Content-Length is at
   * most this, copy blind from that very GET; a larger object drops the GET and takes the HEAD
   * path, so a re-announced large object is never re-sent.
   */
  readonly blindUpTo?: number;
  /**
   * Keeps multipart uploads resumable: each is recorded in this journal while under way, and an
   * upload a crash or a failure left behind is taken up by the next copy of the same version.
   */
  readonly uploads?: Resumable;
}

/** A source GET already under way: its body, unread, and what its headers said. */
type Opened = { readonly body: Readable; readonly info: HeadInfo };

interface Planned {
  readonly target: CopyTarget;
  readonly reason: CopyReason;
}

/**
 * Copy one key from the source to every destination that needs it: one streamed GET,
 * fanned out to N writes with backpressure (the slowest destination sets the pace),
 * MD5 computed on the way, every copy verified, a bad copy removed and retried.
 */
export async function copyKey(
  source: CopySource,
  targets: readonly CopyTarget[],
  options: CopyKeyOptions = {},
): Promise<TargetResult[]> {
  const results = await copyKeyOnce(source, targets, options);
  const info = source.info;
  return results.map((r) => ({
    ...r,
    sourceKey: source.key,
    ...(r.outcome === 'gone'
      ? {}
      : info
        ? {
            size: info.size,
            sourceEtag: info.etag,
            md5: knownMd5(info),
            ...(info.lastModified ? { sourceModified: info.lastModified.getTime() } : {}),
          }
        : r.bytes > 0
          ? { size: r.bytes }
          : {}),
  }));
}

async function copyKeyOnce(
  source: CopySource,
  targets: readonly CopyTarget[],
  options: CopyKeyOptions,
): Promise<TargetResult[]> {
  const log = options.logger ?? silentLogger;
  const results = new Map<CopyTarget, TargetResult>();
  const result = (t: CopyTarget, r: Omit<TargetResult, 'destination' | 'key'>) =>
    results.set(t, { destination: t.store.name, key: t.key, ...r });

  // Without a listing, look at the destinations first: when none has the key (the
  // listener's usual case, a new upload) the source GET tells all a HEAD would, so the
  // source HEAD is skipped. Server-side copies and dry runs still need it up front.
  const preHeads = new Map<CopyTarget, DestinationState | null>();
  const mayGoBlind =
    source.info === undefined &&
    !options.dryRun &&
    !options.checkMetadata &&
    targets.every((t) => t.known === undefined && !t.store.canCopyFrom?.(source.store));
  let opened: Opened | undefined;
  if (mayGoBlind && options.blind !== true && options.blindUpTo !== undefined)
    opened = await openIfSmall(source, options.blindUpTo, options);
  const blind = mayGoBlind && (options.blind === true || opened !== undefined);
  if (blind) {
    for (const t of targets) preHeads.set(t, null);
  } else if (source.info === undefined && !options.dryRun) {
    await Promise.all(
      targets.map(async (t) => {
        try {
          preHeads.set(t, t.known === undefined ? await t.store.head(t.key) : t.known);
        } catch (err) {
          result(t, { outcome: 'failed', bytes: 0, error: asError(err) });
        }
      }),
    );
  }
  const open = targets.filter((t) => !results.has(t));
  let planned: Planned[] = [];
  let sourceInfo: ObjectInfo | undefined;
  const allMissing =
    open.length > 0 && open.every((t) => preHeads.get(t) === null && !t.store.canCopyFrom?.(source.store));
  if (allMissing) {
    planned = open.map((target) => ({ target, reason: options.force ? 'forced' : blind ? 'announced' : 'missing' }));
  } else {
    let info: ObjectInfo | HeadInfo | null | undefined = source.info;
    try {
      info ??= await source.store.head(source.key);
    } catch (err) {
      for (const t of open) result(t, { outcome: 'failed', bytes: 0, error: asError(err) });
      return targets.map((t) => results.get(t)!);
    }
    if (info === null) {
      // "Gone" lets a caller drop the key (or, with deletes, remove it everywhere): only once
      // the bucket is seen to exist right now, never from a cached answer.
      const now = await sourceNow(source.store, source.key, true);
      for (const t of open) result(t, goneOrFailed(now, source));
      return targets.map((t) => results.get(t)!);
    }
    const known: ObjectInfo = info;
    sourceInfo = known;

    // Plan: which destinations need this key, and why.
    let sourceHead: Promise<HeadInfo | null> | undefined;
    const headSource = () =>
      (sourceHead ??= 'metadata' in known ? Promise.resolve(known as HeadInfo) : source.store.head(source.key));
    let sourceHash: Promise<string | null> | undefined;
    const hashSource = () =>
      (sourceHash ??=
        knownMd5(known) !== undefined ? Promise.resolve(knownMd5(known)!) : hashObject(source.store, source.key));
    await Promise.all(
      open.map(async (t) => {
        try {
          const verify = verifyFor(source.store, t.store, options);
          let state: DestinationState | null = preHeads.has(t)
            ? preHeads.get(t)!
            : t.known === undefined
              ? await t.store.head(t.key)
              : t.known;
          let d = decide(known, state, { force: options.force, verifyMd5: verify });
          if (d.action === 'head') {
            state = await t.store.head(t.key);
            d = decide(known, state, { force: options.force, verifyMd5: verify });
          }
          if (d.action === 'hash') {
            const [a, b] = await Promise.all([hashSource(), hashObject(t.store, t.key)]);
            if (a === null) {
              result(t, goneOrFailed(await sourceNow(source.store, source.key), source));
              return;
            }
            d = a === b ? { action: 'skip' } : { action: 'copy', reason: 'hash differs' };
          }
          if (d.action === 'skip' && options.checkMetadata) {
            const [sh, dh] = await Promise.all([headSource(), t.store.head(t.key)]);
            if (sh && dh && metadataDiffers(sh, dh)) d = { action: 'copy', reason: 'metadata differs' };
            else if (sh && dh && (await tagsDiffer(source, sh, t, dh, options)))
              d = { action: 'copy', reason: 'tags differ' };
          }
          if (d.action === 'skip') result(t, { outcome: 'skipped', bytes: 0 });
          else if (d.action === 'copy') planned.push({ target: t, reason: d.reason });
        } catch (err) {
          result(t, { outcome: 'failed', bytes: 0, error: asError(err) });
        }
      }),
    );
    if (options.dryRun) {
      for (const p of planned) result(p.target, { outcome: 'would copy', reason: p.reason, bytes: known.size });
      return targets.map((t) => results.get(t)!);
    }
  }

  const policy = options.retry ?? patientPolicy(source.store.settings.maxRetries);
  let attempt = 1;
  let changedRounds = 0;
  // The version each copy settled in this call was checked against: a later round that sees
  // the source moved on (a destination retried after a backoff reads the newer version)
  // copies those again too, so one call never leaves its destinations on different versions.
  const settled = new Map<CopyTarget, ObjectInfo>();
  for (let round = 1; planned.length > 0; round++) {
    const outcomes = await transfer(source, sourceInfo, planned, options, round === 1 ? opened : undefined);
    // The last write re-checks: a copy is settled only once the source is seen to still hold the
    // version written. A slower writer of an older version (a sweep's slow upload, a job that
    // lost its lock) may finish after a newer copy; its look then finds the source moved on
    // and copies again, so the last write to complete is always of the newest version.
    const written = planned.filter((p) => outcomes.get(p.target)!.outcome === 'copied');
    const now = written.length > 0 ? await sourceNow(source.store, source.key) : undefined;
    const again: Planned[] = [];
    let failedRetry = false;
    let changed = false;
    let retryAfter: number | undefined;
    for (const p of planned) {
      const { read, ...o } = outcomes.get(p.target)!;
      if (
        o.outcome === 'copied' &&
        now !== undefined &&
        !(now.state === 'present' && read !== undefined && sameVersion(read, now.info))
      ) {
        if (now.state === 'present' && changedRounds < MAX_CHANGED_ROUNDS) {
          log.info('the source changed while it was copied: copying again', {
            key: source.key,
            destination: p.target.store.name,
          });
          again.push({ target: p.target, reason: 'source changed' });
          changed = true;
        } else if (now.state === 'gone') {
          // What was written is a version the source no longer has: the caller deletes it
          // where deletes are on, as for any key the source lacks.
          result(p.target, { outcome: 'gone', bytes: 0 });
        } else {
          const error = now.state === 'unknown' ? now.error : changedTooOften(source, changedRounds);
          result(p.target, { outcome: 'failed', bytes: 0, reason: p.reason, error });
        }
      } else if (o.outcome === 'failed' && attempt < policy.attempts && isRetryable(o.error)) {
        log.warn('copy failed, retrying', {
          key: source.key,
          destination: p.target.store.name,
          attempt,
          error: o.error?.message,
        });
        again.push(p);
        failedRetry = true;
        if (o.error instanceof StoreError && o.error.retryAfterSeconds !== undefined)
          retryAfter = Math.max(retryAfter ?? 0, o.error.retryAfterSeconds * 1000);
      } else {
        result(p.target, { ...o, reason: p.reason });
        if (o.outcome === 'copied' && read !== undefined) settled.set(p.target, read);
      }
    }
    if (now !== undefined && now.state !== 'unknown') {
      for (const [t, version] of settled) {
        if (now.state === 'present' && sameVersion(version, now.info)) continue;
        settled.delete(t);
        if (now.state === 'gone') {
          result(t, { outcome: 'gone', bytes: 0 });
        } else if (changedRounds < MAX_CHANGED_ROUNDS) {
          log.info('the source changed after this copy was settled: copying again', {
            key: source.key,
            destination: t.store.name,
          });
          results.delete(t);
          again.push({ target: t, reason: 'source changed' });
          changed = true;
        } else {
          result(t, {
            outcome: 'failed',
            bytes: 0,
            reason: results.get(t)?.reason,
            error: changedTooOften(source, changedRounds),
          });
        }
      }
    }
    if (changed && now?.state === 'present') {
      changedRounds++;
      sourceInfo = now.info;
    }
    planned = again;
    if (failedRetry) await sleep(backoff(attempt++, policy, retryAfter));
  }
  return targets.map((t) => results.get(t)!);
}

/** A copy given up for now: the source kept changing under it (retryable: the next try copies it). */
function changedTooOften(source: CopySource, rounds: number): VerificationError {
  return new VerificationError({
    endpoint: source.store.endpoint,
    bucket: source.store.bucket,
    key: source.key,
    detail: `the source changed ${rounds + 1} times while it was copied; it is copied again on the next try`,
  });
}

/** One destination's result of one attempt; `read`: the source version written, when copied. */
type TransferOutcome = Omit<TargetResult, 'destination' | 'key' | 'reason'> & { readonly read?: ObjectInfo };

/** A fresh look at a source that answered "not found": gone only when proven so (see sourceNow). */
function goneOrFailed(now: SourceNow, source: CopySource): TransferOutcome {
  if (now.state === 'gone') return { outcome: 'gone', bytes: 0 };
  if (now.state === 'unknown') return { outcome: 'failed', bytes: 0, error: now.error };
  // It said "not found", yet it is there: it was written meanwhile. Retried, never gone.
  return {
    outcome: 'failed',
    bytes: 0,
    error: new StoreError({
      section: source.store.name,
      op: 'GetObject',
      endpoint: source.store.endpoint,
      bucket: source.store.bucket,
      key: source.key,
      errorClass: 'retry',
      detail: 'the source answered "not found" but has the key now; copied again',
    }),
  };
}

/**
 * One attempt for the planned destinations: server-side where possible, else one shared GET.
 * `info` is undefined when the source was not HEADed; the GET response then supplies it.
 */
async function transfer(
  source: CopySource,
  info: ObjectInfo | undefined,
  planned: readonly Planned[],
  options: CopyKeyOptions,
  opened?: Opened,
): Promise<Map<CopyTarget, TransferOutcome>> {
  const out = new Map<CopyTarget, TransferOutcome>();
  let streamed: CopyTarget[] = [];
  await Promise.all(
    planned.map(async ({ target }) => {
      const store = target.store;
      if (
        info !== undefined &&
        info.size <= MAX_SERVER_SIDE_COPY &&
        store.canCopyFrom?.(source.store) &&
        store.copyFrom
      ) {
        try {
          out.set(target, await serverSideCopy(source, info, target, options));
        } catch (err) {
          out.set(target, await failedOrGone(source, err, true));
        }
      } else {
        streamed.push(target);
      }
    }),
  );
  // An upload a crash or a failure left behind is taken up where it stopped.
  // Without a size (a copy that skipped the source HEAD) every target that could go multipart is looked up.
  const uploads = options.uploads;
  const size = info?.size ?? opened?.info.size;
  const mayResume = (t: CopyTarget) =>
    size !== undefined ? goesMultipart(t.store, size, t.key) : options.blind !== true && isMultipartCapable(t.store);
  if (uploads && streamed.some(mayResume)) {
    const resumed = await Promise.all(
      streamed.map(async (t) => (mayResume(t) ? resumeTo(source, t, uploads, options) : undefined)),
    );
    streamed.forEach((t, i) => (resumed[i] !== undefined ? out.set(t, resumed[i]) : undefined));
    streamed = streamed.filter((_, i) => resumed[i] === undefined);
    if (streamed.length === 0) opened?.body.destroy();
  }
  if (streamed.length > 0) {
    for (const [t, o] of await streamToTargets(source, streamed, options, opened)) out.set(t, o);
  }
  return out;
}

/**
 * The upload to `t` the journal holds, taken up: undefined when there is none, or it cannot be
 * resumed (the source or the headers changed, the upload is gone): it is then aborted and
 * forgotten, and the caller copies the object whole. A resume that fails on the way keeps the
 * upload for the next attempt unless the failure says the bytes were wrong.
 */
async function resumeTo(
  source: CopySource,
  t: CopyTarget,
  r: Resumable,
  options: CopyKeyOptions,
): Promise<TransferOutcome | undefined> {
  const store = t.store;
  if (!isMultipartCapable(store) || !store.resumeMultipart || !source.store.getRange) return undefined;
  const record = await r.journal.get(store.endpoint, store.bucket, t.key).catch((err: unknown) => {
    journalFailed(r, err);
    return undefined;
  });
  if (record === undefined) return undefined;
  const log = options.logger ?? silentLogger;
  const forget = async (why: string) => {
    log.info('an interrupted upload cannot be resumed: copying the object whole', {
      key: t.key,
      destination: store.name,
      uploadId: record.uploadId,
      why,
    });
    await store.abortMultipart(t.key, record.uploadId).catch(() => {});
    await r.journal.remove(record).catch((err: unknown) => journalFailed(r, err));
    return undefined;
  };
  let info: HeadInfo | null;
  let from: { acl?: SourceAcl; tags?: Record<string, string> };
  try {
    info = await source.store.head(source.key);
    if (info === null) return await forget('the source no longer has the key');
    from = { acl: await sourceAclFor(source, [t], options), tags: await sourceTagsFor(source, info, [t], options) };
  } catch (err) {
    return await failedOrGone(source, err, true);
  }
  const headers = writeHeaders(t, info, etagMd5(info), copyHeaders(info), from);
  const refusal = goesMultipart(store, info.size, t.key)
    ? resumeRefusal(record, info, headers)
    : 'the object is no longer copied in parts';
  if (refusal !== undefined) return await forget(refusal);
  const slots = await acquireInOrder(store.pacer ? [store.pacer] : []);
  let resumed: Awaited<ReturnType<typeof resumeMultipart>>;
  try {
    let have: UploadedPart[] | null;
    try {
      have = await store.resumeMultipart(t.key, record.uploadId, headers);
    } catch (err) {
      // Parts that cannot be listed (a policy without s3:ListMultipartUploadParts, a clone without
      // ListParts): the object is copied whole instead; a transient error is retried first.
      if (keepsUpload(err)) throw err;
      return await forget(`its parts cannot be listed: ${asError(err).message}`);
    }
    if (have === null) return await forget('the upload is gone (completed, aborted or expired)');
    await r.journal.put({ ...record, activeAt: Date.now() }).catch((err: unknown) => journalFailed(r, err));
    const etag = record.sourceEtag;
    resumed = await resumeMultipart(store, t.key, {
      uploadId: record.uploadId,
      size: record.size,
      partSize: record.partSize,
      have,
      parallel: Math.max(1, Math.min(4, store.settings.concurrency)),
      partSlots: options.partSlots,
      readRange: async (start, end) => {
        options.onSourceRead?.(source.key);
        return readRangeOf(source.store, source.key, start, end, etag);
      },
    });
  } catch (err) {
    // The source changed under the resume (If-Match): start over with the version there now.
    if (err instanceof StoreError && err.kind === 'preconditionFailed') return await forget('the source changed');
    if (!keepsUpload(err)) {
      await store.abortMultipart(t.key, record.uploadId).catch(() => {});
      await r.journal.remove(record).catch((e: unknown) => journalFailed(r, e));
    }
    return await failedOrGone(source, err, false);
  } finally {
    for (const release of slots.values()) release();
  }
  log.info('an interrupted upload resumed', {
    key: t.key,
    destination: store.name,
    uploadId: record.uploadId,
    partsKept: resumed.reused,
    partsSent: resumed.parts.length - resumed.reused,
  });
  await r.journal.remove(record).catch((err: unknown) => journalFailed(r, err));
  try {
    const put = await checkMultipart(t, info, resumed.put);
    const hints = [source.store.settings.multipartChunksize, store.settings.multipartChunksize, record.partSize];
    await verifyResumed(store, t.key, info, resumed.parts, put.etag, hints);
    const tags = takesTags(store) ? from.tags : undefined;
    if (tags !== undefined && Object.keys(tags).length > 0)
      await store.writeTags!(t.key, tags).catch((err: unknown) => {
        throw tagsRefused(err, store, options);
      });
    await lockAfterParts(t, info);
  } catch (err) {
    await discard(store, t.key);
    return { outcome: 'failed', bytes: 0, error: asError(err) };
  }
  return { outcome: 'copied', bytes: info.size, method: 'multipart', read: info };
}

/**
 * `object_lock = copy` after a multipart upload: some servers (Ceph 16) drop the retention and
 * legal hold CreateMultipartUpload carries, so they are set on the object once it is complete.
 */
export async function lockAfterParts(t: CopyTarget, info: HeadInfo): Promise<void> {
  if (t.store.settings.objectLock !== 'copy' || info.objectLock === undefined || !t.store.writeObjectLock) return;
  await t.store.writeObjectLock(t.key, info.objectLock);
}

/** A failure that leaves a recorded upload for the next attempt: a transient one, not a wrong byte. */
export function keepsUpload(err: unknown): boolean {
  return isRetryable(asError(err)) && !(err instanceof VerificationError) && !(err instanceof ShortBodyError);
}

/**
 * CopyObject of the version planned (If-Match). When the source changed since it was
 * listed (412), it is looked at again and the new version copied: a changed object is no
 * failure, and copying it without the condition could pair one version's bytes with
 * another's checks.
 */
async function serverSideCopy(
  source: CopySource,
  planned: ObjectInfo,
  target: CopyTarget,
  options: Pick<CopyKeyOptions, 'logger'>,
): Promise<TransferOutcome> {
  const store = target.store;
  let info: ObjectInfo = planned;
  // Swift's s3api answers 412 to If-Match with a multipart (`-N`) ETag even when it matches:
  // then the copy goes without the condition, and the source is checked unchanged after it.
  let conditional = true;
  // `storage_class = copy`: the source's class, from a HEAD when the listing did not say it.
  let storageClass = store.settings.storageClass;
  if (storageClass === 'copy')
    storageClass = (info as HeadInfo).storageClass ?? (await source.store.head(source.key))?.storageClass;
  // `object_lock = copy`: the source's retention and legal hold, from a HEAD (a listing has neither).
  const objectLock =
    store.settings.objectLock === 'copy'
      ? 'metadata' in info
        ? (info as HeadInfo).objectLock
        : (await source.store.head(source.key))?.objectLock
      : undefined;
  const acl =
    store.settings.acl === 'copy' ? sentAcl(await sourceAclFor(source, [target], options)) : store.settings.acl;
  for (let round = 1; ; round++) {
    try {
      const put = await store.copyFrom!(
        source.store,
        source.key,
        target.key,
        conditional ? info.etag || undefined : undefined,
        { storageClass, acl, dropTags: !store.settings.tags, objectLock },
      ).catch((err: unknown) => {
        throw classRefused(err, storageClass);
      });
      if (!conditional) {
        const after = await source.store.head(source.key);
        if (after === null || after.etag !== info.etag || after.size !== info.size) {
          await discard(store, target.key);
          throw new VerificationError({
            endpoint: store.endpoint,
            bucket: store.bucket,
            key: target.key,
            detail: 'the source changed during an unconditional server-side copy; copy removed',
          });
        }
      }
      if (etagMd5(info) !== undefined && etagMd5(put) !== undefined && put.etag !== info.etag) {
        // Some servers (Ceph RGW 16) ignore the If-Match and copy whatever is there now: a
        // copy that matches the source as it is now is right; anything else is removed.
        const now = await source.store.head(source.key);
        if (now !== null && etagMd5(now) === put.etag)
          return { outcome: 'copied', bytes: now.size, method: 'server-side', read: now };
        await discard(store, target.key);
        throw new VerificationError({
          endpoint: store.endpoint,
          bucket: store.bucket,
          key: target.key,
          detail: `server-side copy has ETag ${put.etag}, source has ${now?.etag ?? info.etag}`,
        });
      }
      return { outcome: 'copied', bytes: info.size, method: 'server-side', read: info };
    } catch (err) {
      if (!(err instanceof StoreError && err.kind === 'preconditionFailed') || round >= 5) throw err;
      const fresh = await source.store.head(source.key);
      if (fresh === null) {
        const now = await sourceNow(source.store, source.key, true);
        if (now.state === 'gone') return { outcome: 'gone', bytes: 0 };
        throw now.state === 'unknown' ? now.error : err;
      }
      if (fresh.etag === info.etag && fresh.size === info.size) conditional = false;
      info = fresh;
    }
  }
}

async function streamToTargets(
  source: CopySource,
  targets: readonly CopyTarget[],
  options: CopyKeyOptions,
  opened?: Opened,
): Promise<Map<CopyTarget, TransferOutcome>> {
  const out = new Map<CopyTarget, TransferOutcome>();
  // `acl = copy`: the source's ACL, read once for every destination that copies it; one that
  // cannot be read fails those destinations (a wrong ACL is no copy), not the others.
  let sourceAcl: SourceAcl | undefined;
  try {
    sourceAcl = await sourceAclFor(source, targets, options);
  } catch (err) {
    const o = await failedOrGone(source, err, true);
    for (const t of targets) if (t.store.settings.acl === 'copy') out.set(t, o);
    targets = targets.filter((t) => t.store.settings.acl !== 'copy');
    if (targets.length === 0) {
      opened?.body.destroy();
      return out;
    }
  }
  // One upload slot per destination, taken in a fixed order before any byte flows: a write
  // waiting for a slot while its body backs up the shared GET could otherwise stall
  // another copy holding the slot it needs (the pacer lowers the limits under throttling).
  const slots = await acquireInOrder(targets.flatMap((t) => (t.store.pacer ? [t.store.pacer] : [])));
  const releaseSlot = (t: CopyTarget) => (t.store.pacer ? slots.get(t.store.pacer)?.() : undefined);
  try {
    return await streamWithSlots(source, targets, options, out, releaseSlot, opened, sourceAcl);
  } finally {
    for (const release of slots.values()) release();
  }
}

async function streamWithSlots(
  source: CopySource,
  targets: readonly CopyTarget[],
  options: CopyKeyOptions,
  out: Map<CopyTarget, TransferOutcome>,
  releaseSlot: (t: CopyTarget) => void,
  opened: Opened | undefined,
  sourceAcl: SourceAcl | undefined,
): Promise<Map<CopyTarget, TransferOutcome>> {
  let got: Opened;
  try {
    // The kept GET waited for upload slots; past read_timeout its socket was closed, and its
    // body (destroyed, with no error to say so) would only starve the PUT: read again.
    if (opened && !opened.body.destroyed) got = opened;
    else {
      options.onSourceRead?.(source.key);
      got = await source.store.get(source.key);
    }
  } catch (err) {
    const o = await failedOrGone(source, err, true);
    for (const t of targets) out.set(t, o);
    return out;
  }
  const { body, info } = got;
  // `tags`: a tagged source object's tags, read once for every destination that takes them.
  let sourceTags: Record<string, string> | undefined;
  try {
    sourceTags = await sourceTagsFor(source, info, targets, options);
  } catch (err) {
    // Only the destinations that take tags fail (a wrong copy is no copy); the others go on.
    const o = await failedOrGone(source, err, true);
    for (const t of targets) if (takesTags(t.store)) out.set(t, o);
    targets = targets.filter((t) => !takesTags(t.store));
    if (targets.length === 0) {
      body.destroy();
      return out;
    }
  }
  const sourceMd5 = etagMd5(info);
  // With a known source MD5 every single-part destination checks the body against it
  // (Content-MD5) and returns it as its ETag, so hashing here would prove nothing more.
  // Without one, or where a destination goes multipart (no whole-body Content-MD5), hash.
  const mustHash = sourceMd5 === undefined || targets.some((t) => goesMultipart(t.store, info.size, t.key));
  const tap = new Md5Tap(info.size, mustHash);
  const parts = sourceMd5 === undefined ? multipartParts(info.etag) : undefined;
  if (parts !== undefined) {
    const hints = [
      source.store.settings.multipartChunksize,
      ...targets.map((t) => t.store.settings.multipartChunksize),
    ];
    tap.partHasher = new PartEtagHasher(candidatePartSizes(info.size, parts, hints));
  }
  // Whether the bytes read are the bytes stored at the source, settled before the last chunk
  // goes out where it can be (see Md5Tap.beforeEnd), else once the writes are done.
  let readChecked = false;
  tap.beforeEnd = async (md5) => {
    if (sourceMd5 !== undefined && md5 !== undefined && md5 !== sourceMd5) {
      return new VerificationError({
        endpoint: source.store.endpoint,
        bucket: source.store.bucket,
        key: source.key,
        detail: `bytes read have MD5 ${md5}, the source ETag says ${info.etag}`,
      });
    }
    if (parts === undefined || md5 === undefined) return undefined;
    if (tap.partHasher?.etags().includes(info.etag)) {
      readChecked = true;
      return undefined;
    }
    // An unusual part size, or a corrupted read: a small object is read again now, a large one
    // after the writes (holding the writes' sockets idle for a long read would time them out).
    if (info.size > REREAD_BEFORE_END) return undefined;
    readChecked = true;
    return rereadMatches(source, md5);
  };
  let sourceRead: Promise<void> | undefined;
  const checkSourceRead = () => (sourceRead ??= readChecked ? Promise.resolve() : verifySourceRead(source, info, tap));
  let sourceError: Error | undefined;
  // One destination reads the tap itself; several get a PassThrough each off the one GET,
  // and the slowest sets the pace (backpressure), so memory stays bounded either way.
  const passes: (PassThrough | Md5Tap)[] =
    targets.length === 1 ? [tap] : targets.map(() => new PassThrough({ highWaterMark: 1 << 20 }));
  const aborts = targets.map(() => new AbortController());
  // The failure reaches the caller through the aborted write, not as an 'error' event
  // that nobody listens to (which would crash the process).
  for (const p of passes) p.on('error', () => {});
  // A source that fails mid-body must fail every write, or the PUTs would wait for bytes forever.
  body.once('error', (err) => tap.destroy(err));
  tap.once('error', (err) => {
    // A lone writer that stops reading the tap (a failed multipart upload leaving its
    // for-await) destroys it with an AbortError: that failure is the writer's, not the source's.
    if (err.name === 'AbortError' && passes[0] === tap) return;
    sourceError = new StoreError({
      op: 'GetObject',
      endpoint: source.store.endpoint,
      bucket: source.store.bucket,
      key: source.key,
      errorClass: 'retry',
      cause: err,
      detail: err.message,
    });
    for (const a of aborts) a.abort(sourceError);
    for (const p of passes) if (p !== tap) p.destroy(sourceError);
  });
  body.pipe(tap);
  for (const p of passes) if (p !== tap) tap.pipe(p);

  const headers = copyHeaders(info);
  await Promise.all(
    targets.map(async (t, i) => {
      const pass = passes[i]!;
      try {
        let method: Awaited<ReturnType<typeof writeOne>>;
        try {
          method = await writeOne(t, pass, info, sourceMd5, headers, options, aborts[i]!.signal, {
            acl: sourceAcl,
            tags: sourceTags,
          });
        } finally {
          // The upload is over: its checks below take slots of their own.
          releaseSlot(t);
        }
        if (method.kind === 'multipart') method = { ...method, put: await checkMultipart(t, info, method.put) };
        try {
          await checkSourceRead();
          await verifyCopy(source, info, tap, t, method.put, verifyFor(source.store, t.store, options));
          // Some servers (Ceph 16) drop the tags CreateMultipartUpload carries: set them on the
          // object (after its upload slot is free: this call takes one of its own).
          const tags = takesTags(t.store) ? sourceTags : undefined;
          if (method.kind === 'multipart' && tags !== undefined && Object.keys(tags).length > 0)
            await t.store.writeTags!(t.key, tags).catch((err: unknown) => {
              throw tagsRefused(err, t.store, options);
            });
          if (method.kind === 'multipart') await lockAfterParts(t, info);
        } catch (err) {
          // A copy that fails verification (or misses its tags) is removed: the next sweep sees it missing.
          await discard(t.store, t.key);
          throw err;
        }
        out.set(t, { outcome: 'copied', bytes: info.size, method: method.kind, read: info });
      } catch (err) {
        // A source that stops sending leaves the write idle too, and the write's read_timeout may
        // fire before the GET's: when the tap sat empty waiting for source bytes, the source stalled.
        // Single-part only: a multipart writer buffers whole parts, so its timeouts are its own.
        if (
          sourceError === undefined &&
          !goesMultipart(t.store, info.size, t.key) &&
          timedOut(err) &&
          !tap.writableFinished &&
          tap.readableLength === 0 &&
          tap.writableLength === 0
        ) {
          sourceError = new StoreError({
            op: 'GetObject',
            endpoint: source.store.endpoint,
            bucket: source.store.bucket,
            key: source.key,
            errorClass: 'retry',
            cause: err,
            detail: 'the source stopped sending the body (read_timeout)',
          });
        }
        aborts[i]!.abort();
        pass.destroy();
        out.set(t, await failedOrGone(source, sourceError ?? err, false));
      }
    }),
  );
  if (!tap.readableEnded) body.destroy();
  return out;
}

/**
 * The GET of a key of unknown size, kept when the object is small. Anything else (too large,
 * missing, an error) is undefined: the HEAD path then looks again and decides, or says why.
 */
async function openIfSmall(source: CopySource, limit: number, options: CopyKeyOptions): Promise<Opened | undefined> {
  let got: Opened;
  try {
    options.onSourceRead?.(source.key);
    got = await source.store.get(source.key);
  } catch {
    return undefined;
  }
  if (got.info.size <= limit) return got;
  got.body.destroy();
  return undefined;
}

/**
 * A source whose ETag is no MD5 (uploaded in parts) gives nothing to check the bytes read
 * against, so a byte flipped on the way would be copied faithfully. Its `-N` ETag is
 * recomputed for the likely part sizes; when none gives it (an unusual part size), the
 * source is read once more and the two reads must agree.
 */
async function verifySourceRead(source: CopySource, info: HeadInfo, tap: Md5Tap): Promise<void> {
  if (etagMd5(info) !== undefined || multipartParts(info.etag) === undefined || info.etagIsMd5 === false) return;
  const read = await tap.digest;
  if (read === undefined) return;
  const err = await rereadMatches(source, read);
  if (err) throw err;
}

/**
 * Objects up to this size whose read cannot be proven from their ETag are
 * read again before their last byte is sent.
 */
const REREAD_BEFORE_END = 64 * 1024 * 1024;

/** Undefined when a second read of the source has the same MD5 as the first. */
async function rereadMatches(source: CopySource, read: string): Promise<Error | undefined> {
  const again = await hashObject(source.store, source.key);
  if (again !== null && again === read) return undefined;
  return new VerificationError({
    endpoint: source.store.endpoint,
    bucket: source.store.bucket,
    key: source.key,
    detail:
      again === null
        ? 'the source vanished while it was copied'
        : `two reads of the source differ (MD5 ${read} and ${again}): a body was corrupted on the way`,
  });
}

/** Size is already enforced by the tap; here the MD5 of the bytes moved is checked both ways. */
async function verifyCopy(
  source: CopySource,
  info: HeadInfo,
  tap: Md5Tap,
  t: CopyTarget,
  put: PutResult,
  readBack: boolean,
): Promise<void> {
  const hashed = await tap.digest;
  const sourceMd5 = etagMd5(info);
  // An encrypted copy's ETag (SSE-KMS/C) is no MD5 however it looks: treat it as unknown.
  const etag = put.etagIsMd5 === false ? '' : put.etag;
  if (hashed !== undefined && sourceMd5 !== undefined && hashed !== sourceMd5) {
    throw new VerificationError({
      endpoint: source.store.endpoint,
      bucket: source.store.bucket,
      key: source.key,
      detail: `bytes read have MD5 ${hashed}, the source ETag says ${info.etag}`,
    });
  }
  // The tap hashes whenever the source MD5 is unknown, so one of the two is always there.
  const sent = hashed ?? sourceMd5!;
  const where = { endpoint: t.store.endpoint, bucket: t.store.bucket, key: t.key };
  if (isMd5Etag(etag) && etag !== sent) {
    throw new VerificationError({
      ...where,
      detail: `destination ETag ${etag} is not the MD5 ${sent} of the bytes sent`,
    });
  }
  if (readBack && !isMd5Etag(etag)) {
    const md5 = await hashObject(t.store, t.key);
    if (md5 !== sent)
      throw new VerificationError({
        ...where,
        detail: `copy reads back with MD5 ${md5 ?? 'none (missing)'}, source bytes had ${sent}`,
      });
  }
}

/** The largest single PUT S3 takes (AWS's limit; Ceph and Swift take at least this). */
const MAX_SINGLE_PUT = 5 * 1024 ** 3;
/**
 * C0 controls and DEL. Swift's s3api answers 500 to a CreateMultipartUpload of a key holding a
 * character XML 1.0 cannot carry (U+0012 seen; its answer names the key in XML); the whole
 * range goes single-part, which costs nothing but the parallel parts.
 */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/**
 * Past multipart_threshold, a multipart upload; but a key with a control character goes in one
 * PUT up to 5 GiB, where every S3 server takes it: Swift's s3api cannot start a multipart upload
 * for such a key (500 InternalError, every time), so it would never reach such a destination.
 */
function goesMultipart(store: ObjectStore, size: number, key: string): boolean {
  if (size <= store.settings.multipartThreshold || !isMultipartCapable(store)) return false;
  return !(CONTROL_CHARACTER.test(key) && size <= MAX_SINGLE_PUT);
}

async function writeOne(
  t: CopyTarget,
  body: Readable,
  info: HeadInfo,
  sourceMd5: string | undefined,
  headers: Partial<ObjectHeaders>,
  options: CopyKeyOptions,
  signal: AbortSignal,
  from: { readonly acl?: SourceAcl; readonly tags?: Record<string, string> },
): Promise<{ kind: 'stream' | 'multipart'; put: PutResult }> {
  const written = writeHeaders(t, info, sourceMd5, headers, from);
  try {
    return await upload(t, body, info, sourceMd5, written, options, signal);
  } catch (err) {
    throw classRefused(written.tags !== undefined ? tagsRefused(err, t.store, options) : err, written.storageClass);
  }
}

/** What a copy to `t` is written with: the source's headers, s3s3's metadata, the class, ACL and tags. */
export function writeHeaders(
  t: CopyTarget,
  info: HeadInfo,
  sourceMd5: string | undefined,
  headers: Partial<ObjectHeaders>,
  from: { readonly acl?: SourceAcl; readonly tags?: Record<string, string> },
): WriteHeaders & { metadata: Record<string, string> } {
  const settings = t.store.settings;
  const storageClass = settings.storageClass === 'copy' ? info.storageClass : settings.storageClass;
  const acl = settings.acl === 'copy' ? sentAcl(from.acl) : settings.acl;
  const tags = takesTags(t.store) ? from.tags : undefined;
  const metadata = { ...headers.metadata };
  if (settings.recordMetadata) {
    if (info.etag) metadata[META_SOURCE_ETAG] = info.etag;
    if (sourceMd5) metadata[META_MD5] = sourceMd5;
  }
  const objectLock = settings.objectLock === 'copy' ? info.objectLock : undefined;
  return { ...headers, metadata, storageClass, acl, tags, ...(objectLock ? { objectLock } : {}) };
}

/** writeOne's upload: in parts, or in one PUT. */
async function upload(
  t: CopyTarget,
  body: Readable,
  info: HeadInfo,
  sourceMd5: string | undefined,
  headers: WriteHeaders & { metadata: Record<string, string> },
  options: CopyKeyOptions,
  signal: AbortSignal,
): Promise<{ kind: 'stream' | 'multipart'; put: PutResult }> {
  const log = options.logger ?? silentLogger;
  const settings = t.store.settings;
  if (goesMultipart(t.store, info.size, t.key) && isMultipartCapable(t.store)) {
    const put = await multipartUpload(t.store, t.key, body, {
      size: info.size,
      partSize: settings.multipartChunksize,
      ...(settings.maxParts !== undefined ? { maxParts: settings.maxParts } : {}),
      parallel: Math.max(1, Math.min(4, settings.concurrency)),
      headers,
      partSlots: options.partSlots,
      ...(options.uploads ? { tracker: trackerFor(options.uploads, t.store, t.key, info, headers, keepsUpload) } : {}),
      onPartSize: (chosen, configured) =>
        log.info(`multipart part size grown to stay within ${settings.maxParts ?? 10_000} parts`, {
          key: t.key,
          destination: t.store.name,
          partSize: chosen,
          multipartChunksize: configured,
        }),
    });
    return { kind: 'multipart', put };
  }
  const put = await t.store.put(t.key, body, {
    ...headers,
    contentLength: info.size,
    contentMd5: sourceMd5 ? hexToBase64(sourceMd5) : undefined,
    signal,
  });
  return { kind: 'stream', put };
}

/**
 * `acl = copy` of a private object sends no ACL: private is every bucket's default, and a bucket
 * with ACLs disabled (AWS's default for new buckets) refuses any ACL header but none.
 */
function sentAcl(acl: SourceAcl | undefined): string | undefined {
  return acl === undefined || acl.canned === 'private' ? undefined : acl.canned;
}

/**
 * The source's ACL when one of `targets` copies it (`acl = copy`); undefined otherwise, or
 * when the source has no ACLs (Swift). Grants it cannot carry are logged. A source that will
 * not show its ACL throws, saying what to grant.
 */
async function sourceAclFor(
  source: CopySource,
  targets: readonly CopyTarget[],
  options: Pick<CopyKeyOptions, 'logger'>,
): Promise<SourceAcl | undefined> {
  if (!targets.some((t) => t.store.settings.acl === 'copy') || !source.store.readAcl) return undefined;
  let acl: SourceAcl;
  try {
    acl = await source.store.readAcl(source.key);
  } catch (err) {
    if (!(err instanceof StoreError) || err.notFound) throw err;
    throw err.withDetail(
      "acl = copy reads each source object's ACL: allow s3:GetObjectAcl, or set acl to a canned ACL",
    );
  }
  if (acl.notCopied.length > 0)
    (options.logger ?? silentLogger).warn("acl = copy: grants not copied (another provider's owner ids differ)", {
      key: source.key,
      grants: acl.notCopied,
    });
  return acl;
}

/**
 * A write refused as an invalid argument while a storage class was sent: the server's words,
 * and which class, so the user knows which key of the config to look at.
 */
function classRefused(err: unknown, storageClass: string | undefined): unknown {
  if (storageClass === undefined || !(err instanceof StoreError)) return err;
  if (err.status !== 400 || !/^Invalid(StorageClass|Argument)$/.test(err.code ?? '')) return err;
  return err.withDetail(
    `sent with storage class ${storageClass} (storage_class): does the destination have that class? ` +
      'set one it has, or leave storage_class out',
  );
}

/** A completed multipart upload has the source's size; its ETag (`-N`, or a Swift SLO's) is taken from a HEAD. */
async function checkMultipart(t: CopyTarget, info: HeadInfo, put: PutResult): Promise<PutResult> {
  const head = await t.store.head(t.key);
  if (!head || head.size !== info.size) {
    await discard(t.store, t.key);
    throw new VerificationError({
      endpoint: t.store.endpoint,
      bucket: t.store.bucket,
      key: t.key,
      detail: `multipart copy has size ${head?.size ?? 'none'}, source has ${info.size}`,
    });
  }
  // A Swift SLO's ETag has an MD5's shape but is none: the store's word on that is kept.
  return head.etag ? { etag: head.etag, etagIsMd5: head.etagIsMd5 } : put;
}

/** The headers a copy carries; s3s3's own metadata from an earlier hop is not passed on. */
export function copyHeaders(info: HeadInfo): Partial<ObjectHeaders> & { metadata: Record<string, string> } {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(info.metadata)) if (!k.startsWith('s3s3-')) metadata[k] = v;
  return {
    contentType: info.contentType,
    cacheControl: info.cacheControl,
    contentDisposition: info.contentDisposition,
    contentEncoding: info.contentEncoding,
    contentLanguage: info.contentLanguage,
    expires: info.expires,
    metadata,
  };
}

/** MD5 of an object's body, read in full; null when it does not exist. */
export async function hashObject(store: ObjectStore, key: string): Promise<string | null> {
  let got: { body: Readable; info: HeadInfo };
  try {
    got = await store.get(key);
  } catch (err) {
    if (err instanceof StoreError && err.notFound) return null;
    throw err;
  }
  const tap = new Md5Tap(got.info.size);
  got.body.pipe(tap);
  got.body.once('error', (e) => tap.destroy(e));
  for await (const _ of tap) {
    // Drain: only the hash is wanted.
  }
  return tap.md5;
}

async function discard(store: ObjectStore, key: string): Promise<void> {
  try {
    await store.delete(key);
  } catch {
    // The copy is already reported failed; the next sweep finds it by its wrong size or ETag.
  }
}

/**
 * A failed transfer: "gone" only when the error says the source key is missing and a fresh
 * look proves it (sourceNow); anything else, a load balancer's 404 included, is a failure.
 */
async function failedOrGone(source: CopySource, err: unknown, sourceSide: boolean): Promise<TransferOutcome> {
  const sourceMissing =
    (sourceSide && err instanceof StoreError && err.notFound && err.op !== 'CopyObject') ||
    (err instanceof StoreError && err.op === 'CopyObject' && err.notFound && err.code === 'NoSuchKey');
  if (!sourceMissing) return { outcome: 'failed', bytes: 0, error: asError(err) };
  return goneOrFailed(await sourceNow(source.store, source.key), source);
}

/** Whether a failed copy is worth another attempt: transient store errors, bad digests, short or unverified bodies. */
export function isRetryable(err: Error | undefined): boolean {
  if (err instanceof StoreError) return err.retryable || err.kind === 'badDigest' || err.code === 'IncompleteBody';
  if (err instanceof VerificationError || err instanceof ShortBodyError) return true;
  if (err instanceof S3s3Error) return false;
  // Socket errors and aborted streams surface as plain Errors: transient.
  return true;
}

/** A read_timeout (inactivity) anywhere in the error's causes. */
function timedOut(err: unknown, depth = 0): boolean {
  if (!(err instanceof Error) || depth > 4) return false;
  return err.name === 'TimeoutError' || timedOut(err.cause, depth + 1);
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** `[source] verify_md5` applies to every destination, as does a destination's own or the caller's. */
function verifyFor(source: ObjectStore, target: ObjectStore, options: CopyKeyOptions): boolean {
  return options.verifyMd5 === true || source.settings.verifyMd5 || target.settings.verifyMd5;
}
