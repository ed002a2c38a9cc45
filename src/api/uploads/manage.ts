/**
 * s3s3's own multipart uploads under way, from outside a copy: the journal a config names, the
 * uploads it lists (`s3s3 uploads list`), and aborting them (`s3s3 uploads abort`, and
 * `upload_ttl` when a sweep or a worker starts).
 */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { connectRedis } from '../redis/redis.js';
import { isMultipartCapable, type ObjectStore } from '../store/object-store.js';
import { defaultStateDir, FileUploadJournal, lastActive, type UploadJournal, type UploadRecord } from './journal.js';
import { RedisUploadJournal } from './redis-journal.js';

/** The journal of a config: Redis (`[pubsub] redis = true`), else files under `[source] state_dir`. */
export function openUploadJournal(config: Config): UploadJournal {
  const p = config.pubsub;
  if (p.redis) return new RedisUploadJournal(connectRedis(p.redisTarget, { mode: 'client', name: 's3s3-uploads' }));
  return new FileUploadJournal(config.source.stateDir ?? defaultStateDir());
}

/** Which uploads: those to one destination section, begun longer ago than some time. */
export interface UploadFilter {
  /** A destination section's name (`dest1`); undefined: every destination of the config. */
  readonly destination?: string;
  /** Only uploads begun (or last taken up by a copy) at least this long ago. */
  readonly olderThanMs?: number;
}

/** One upload s3s3 began: where, what, since when. */
export interface UploadEntry {
  readonly destination: string;
  readonly key: string;
  readonly uploadId: string;
  /** The size of the object being copied. */
  readonly size: number;
  readonly startedAt: Date;
  /** Seconds since it began. */
  readonly ageSeconds: number;
}

/** The uploads of the journal to the config's destinations (matched by endpoint and bucket) that pass the filter. */
export async function listUploads(
  journal: UploadJournal,
  destinations: readonly ObjectStore[],
  filter: UploadFilter = {},
  now = Date.now(),
): Promise<Array<UploadEntry & { readonly record: UploadRecord; readonly store: ObjectStore }>> {
  const stores = destinations.filter((d) => filter.destination === undefined || d.name === filter.destination);
  const out = [];
  for (const record of await journal.list()) {
    const store = stores.find((d) => d.endpoint === record.endpoint && d.bucket === record.bucket);
    if (!store) continue;
    const age = now - record.startedAt;
    if (filter.olderThanMs !== undefined && now - lastActive(record) < filter.olderThanMs) continue;
    out.push({
      destination: store.name,
      key: record.key,
      uploadId: record.uploadId,
      size: record.size,
      startedAt: new Date(record.startedAt),
      ageSeconds: Math.max(0, Math.floor(age / 1000)),
      record,
      store,
    });
  }
  return out.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
}

/** What `abortUploads` did: the uploads aborted, and those that could not be (with why). */
export interface AbortReport {
  readonly aborted: UploadEntry[];
  readonly failed: Array<UploadEntry & { readonly error: Error }>;
}

/**
 * Aborts the uploads `listUploads` gives and forgets them. One already gone (completed or
 * aborted by someone else) counts as aborted.
 */
export async function abortUploads(
  journal: UploadJournal,
  destinations: readonly ObjectStore[],
  filter: UploadFilter = {},
): Promise<AbortReport> {
  const report: AbortReport = { aborted: [], failed: [] };
  for (const u of await listUploads(journal, destinations, filter)) {
    const { record, store, ...entry } = u;
    try {
      if (isMultipartCapable(store)) {
        // A Swift SLO upload is this process's only once taken up: its segments are found by its id.
        if (store.resumeMultipart) await store.resumeMultipart(record.key, record.uploadId, {});
        await store.abortMultipart(record.key, record.uploadId).catch((err: unknown) => {
          if (!(err instanceof Error && 'code' in err && err.code === 'NoSuchUpload')) throw err;
        });
      }
      await journal.remove(record);
      report.aborted.push(entry);
    } catch (err) {
      report.failed.push({ ...entry, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }
  return report;
}

/** `upload_ttl`: s3s3's uploads older than it are aborted (when a sweep or a worker starts); failures are logged. */
export async function abortStaleUploads(
  journal: UploadJournal,
  destinations: readonly ObjectStore[],
  ttlMs: number,
  log: Logger,
): Promise<number> {
  let report: AbortReport;
  try {
    report = await abortUploads(journal, destinations, { olderThanMs: ttlMs });
  } catch (err) {
    log.warn('stale uploads could not be looked for', { where: journal.where, error: String(err) });
    return 0;
  }
  for (const a of report.aborted)
    log.info('aborted an upload older than upload_ttl', {
      key: a.key,
      destination: a.destination,
      uploadId: a.uploadId,
    });
  for (const f of report.failed)
    log.warn('an upload older than upload_ttl could not be aborted', {
      key: f.key,
      destination: f.destination,
      uploadId: f.uploadId,
      error: f.error.message,
    });
  return report.aborted.length;
}
