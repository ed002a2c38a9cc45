/**
 * The library's view of a whole config: one source, every destination, and the two jobs
 * s3s3 does with them (sweep the bucket; copy one key everywhere).
 */
import type { Config } from './config.js';
import { copyKey, type CopyKeyOptions, type TargetResult } from './copy/copy-key.js';
import { silentLogger, type Logger } from './log.js';
import type { S3Store } from './store/s3-store.js';
import type { SwiftStore } from './store/swift-store.js';
import { createStore } from './store/registry.js';
import type { ObjectStore } from './store/object-store.js';
import { duplicateBucket, type DuplicateOptions, type DuplicateReport } from './sweep/duplicate.js';
import { deleteKey, syncKey, type SyncKeyOptions, type SyncResult } from './sync/sync-key.js';
import type { EndpointConfig } from './config.js';
import { printAs } from './redact.js';
import type { Resumable } from './copy/resume.js';
import type { UploadJournal } from './uploads/journal.js';
import { abortStaleUploads, openUploadJournal } from './uploads/manage.js';
import { bucketFeatureProblems } from './bucket-features.js';
import { sweepVersions } from './versions/sweep-versions.js';

/**
 * The store for one config section (`[source]`, `[dest1]`, ...): an S3 bucket, or a Swift
 * container (`type = swift`), made by the backend the store registry holds for its type.
 */
export function createConnection(section: EndpointConfig, logger?: Logger): S3Store | SwiftStore {
  return createStore(section, { logger });
}

/** One object: a store and a key in it. */
export interface ObjectRef {
  readonly store: ObjectStore;
  readonly key: string;
}

/** Options of `upload` and `BucketClient.copy`: those of copyKey, without a dry run. */
export type UploadOptions = Omit<CopyKeyOptions, 'dryRun'>;

/** What `upload` did, per destination. */
export interface UploadResult {
  readonly key: string;
  readonly results: readonly TargetResult[];
  /** True when the key is in place (copied or already equal) in every destination, or gone at the source. */
  readonly ok: boolean;
}

/** Copy one object to each destination that lacks it or differs (the original `upload()`). */
export async function upload(
  source: ObjectRef,
  destinations: readonly ObjectRef[],
  options: UploadOptions = {},
): Promise<UploadResult> {
  const results = await copyKey(
    { store: source.store, key: source.key },
    destinations.map((d) => ({ store: d.store, key: d.key })),
    options,
  );
  return { key: source.key, results, ok: results.every((r) => r.outcome !== 'failed') };
}

/** Options of a BucketClient. */
export interface BucketClientOptions {
  readonly logger?: Logger;
}

/**
 * A whole config's stores, opened once: the source and every destination, with the jobs s3s3
 * does on them (sweep, sync one key, delete one key, copy one key). `close()` closes them all.
 */
export class BucketClient {
  readonly source: S3Store | SwiftStore;
  readonly destinations: readonly (S3Store | SwiftStore)[];
  private readonly logger: Logger;
  private closed = false;
  private journal: UploadJournal | undefined;

  constructor(
    readonly config: Config,
    options: BucketClientOptions = {},
  ) {
    this.logger = options.logger ?? silentLogger;
    this.source = createConnection(config.source, this.logger);
    this.destinations = config.destinations.map((d) => createConnection(d, this.logger));
  }

  /**
   * Where this client's multipart uploads are kept resumable (opened on first use): Redis with
   * `[pubsub] redis = true`, else files under `[source] state_dir`.
   */
  get uploads(): Resumable {
    this.journal ??= openUploadJournal(this.config);
    return { journal: this.journal, logger: this.logger };
  }

  /**
   * What the destination buckets lack that their sections ask for (Object Lock for
   * `object_lock = copy`): one line each, naming the section; [] when all is well.
   */
  featureProblems(): Promise<string[]> {
    return bucketFeatureProblems(this.destinations, this.source);
  }

  /** Aborts s3s3's own uploads to these destinations begun longer ago than `upload_ttl`; how many. */
  abortStaleUploads(): Promise<number> {
    return abortStaleUploads(this.uploads.journal, this.destinations, this.config.source.uploadTtlMs, this.logger);
  }

  /** Sweep the whole source bucket to every destination (stale uploads of ours aborted first). */
  async duplicate(options: DuplicateOptions = {}): Promise<DuplicateReport> {
    if (!options.dryRun) await this.abortStaleUploads();
    const o = { logger: this.logger, uploads: this.uploads, ...options };
    // `versions = true`: every version, in order (versions/sweep-versions.ts).
    if (this.config.source.versions) return sweepVersions(this.source, this.destinations, o);
    return duplicateBucket(this.source, this.destinations, o);
  }

  /**
   * Make every destination match the source for one key: copy where it differs; where the
   * source has no such key, delete it at destinations with `delete = true` (or every one not
   * saying `delete = false` with `{ delete: true }`), else report it gone.
   */
  sync(key: string, options: SyncKeyOptions = {}): Promise<SyncResult> {
    return syncKey(this.source, this.destinations, key, { logger: this.logger, uploads: this.uploads, ...options });
  }

  /** Delete one key from the destinations that delete, unless the source has it (again). */
  deleteKey(key: string, options: { readonly delete?: boolean } = {}): Promise<SyncResult> {
    return deleteKey(this.source, this.destinations, key, options);
  }

  /** Copy one key to every destination. */
  copy(key: string, options: UploadOptions = {}): Promise<UploadResult> {
    return upload(
      { store: this.source, key },
      this.destinations.map((store) => ({ store, key })),
      { logger: this.logger, uploads: this.uploads, ...options },
    );
  }

  /** Safe to call twice; closes every connection even if one fails. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.journal?.close().catch(() => {});
    for (const s of [this.source, ...this.destinations]) {
      try {
        s.close();
      } catch {
        // keep closing the rest
      }
    }
  }
}

// Printing a client shows the buckets it joins, never the connections and their credentials.
printAs(BucketClient, 'BucketClient', (c) => ({
  source: `[${c.source.name}] ${c.source.endpoint}/${c.source.bucket}`,
  destinations: c.destinations.map((d) => `[${d.name}] ${d.endpoint}/${d.bucket}`),
}));
