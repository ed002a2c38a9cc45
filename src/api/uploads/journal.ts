/**
 * The multipart uploads s3s3 has under way, kept outside the process so that a crash, a
 * SIGKILL or a failed part leaves something the next attempt can take up: which upload, of
 * which source version, cut in which part size. One record per destination object.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** One upload s3s3 began and has not completed or aborted yet. */
export interface UploadRecord {
  /** The destination's config section (`dest1`), for listings. */
  readonly destination: string;
  readonly endpoint: string;
  readonly bucket: string;
  /** The destination key. */
  readonly key: string;
  readonly uploadId: string;
  readonly partSize: number;
  /** The object's size, as the source said when the upload began. */
  readonly size: number;
  /** The source's ETag then: a resume reads only that version (If-Match), or starts over. */
  readonly sourceEtag: string;
  /** The source version id, where the source is versioned. */
  readonly sourceVersionId?: string;
  /** A digest of the headers the upload was created with: other headers now start over. */
  readonly headers: string;
  /** When the upload began (ms since the epoch). */
  readonly startedAt: number;
  /** When a copy last took it up (ms since the epoch); `upload_ttl` counts from this or `startedAt`. */
  readonly activeAt?: number;
}

/** When an upload was last worked on: `upload_ttl` and `--older-than` count from it. */
export function lastActive(record: UploadRecord): number {
  return Math.max(record.startedAt, record.activeAt ?? 0);
}

/** Where upload records live: a directory of files, or a Redis hash. */
export interface UploadJournal {
  /** For messages: the directory or the Redis URL (password masked). */
  readonly where: string;
  get(endpoint: string, bucket: string, key: string): Promise<UploadRecord | undefined>;
  /** Adds or replaces the record of that destination object. */
  put(record: UploadRecord): Promise<void>;
  /** Removes the record, only while it still names this upload (another process may have begun a newer one). */
  remove(record: Pick<UploadRecord, 'endpoint' | 'bucket' | 'key' | 'uploadId'>): Promise<void>;
  list(): Promise<UploadRecord[]>;
  /** Safe to call twice. */
  close(): Promise<void>;
}

/** The name of a destination object's record: a digest, so any key (1024 bytes, controls) fits a file name. */
export function uploadSlot(endpoint: string, bucket: string, key: string): string {
  return createHash('sha256').update(`${endpoint}\n${bucket}\n`).update(key, 'utf8').digest('hex');
}

/** A digest of write headers, key order aside: a resumed upload must have been created with the same. */
export function headersDigest(headers: object): string {
  const sorted = (v: unknown): unknown =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>)
            .filter(([, x]) => x !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            .map(([k, x]) => [k, sorted(x)]),
        )
      : v;
  return createHash('sha256')
    .update(JSON.stringify(sorted(headers)))
    .digest('hex')
    .slice(0, 32);
}

/** A record read back, or undefined when it is not one (a torn or foreign file). */
export function parseRecord(text: string): UploadRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== 'object') return undefined;
  const r = v as Record<string, unknown>;
  const strings = ['destination', 'endpoint', 'bucket', 'key', 'uploadId', 'sourceEtag', 'headers'];
  const numbers = ['partSize', 'size', 'startedAt'];
  if (!strings.every((k) => typeof r[k] === 'string') || !numbers.every((k) => typeof r[k] === 'number'))
    return undefined;
  return r as unknown as UploadRecord;
}

/**
 * `[source] state_dir` when set, else `$XDG_STATE_HOME/s3s3`, else `/var/lib/s3s3` for root
 * and `~/.local/state/s3s3` for anyone else (the XDG default).
 */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['XDG_STATE_HOME']) return join(env['XDG_STATE_HOME'], 's3s3');
  if (process.getuid?.() === 0) return '/var/lib/s3s3';
  return join(homedir(), '.local', 'state', 's3s3');
}

/** Records as files, `<state_dir>/uploads/<slot>.json`, each written whole (a temp file renamed over it). */
export class FileUploadJournal implements UploadJournal {
  readonly where: string;
  private ready: Promise<unknown> | undefined;

  constructor(stateDir: string) {
    this.where = join(stateDir, 'uploads');
  }

  private file(endpoint: string, bucket: string, key: string): string {
    return join(this.where, `${uploadSlot(endpoint, bucket, key)}.json`);
  }

  async get(endpoint: string, bucket: string, key: string): Promise<UploadRecord | undefined> {
    const text = await readFile(this.file(endpoint, bucket, key), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    const r = text === undefined ? undefined : parseRecord(text);
    return r && r.key === key && r.bucket === bucket && r.endpoint === endpoint ? r : undefined;
  }

  async put(record: UploadRecord): Promise<void> {
    await (this.ready ??= mkdir(this.where, { recursive: true, mode: 0o700 }));
    const file = this.file(record.endpoint, record.bucket, record.key);
    const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(temp, JSON.stringify(record), { mode: 0o600 });
    await rename(temp, file);
  }

  async remove(record: Pick<UploadRecord, 'endpoint' | 'bucket' | 'key' | 'uploadId'>): Promise<void> {
    const now = await this.get(record.endpoint, record.bucket, record.key);
    if (now?.uploadId !== record.uploadId) return;
    await unlink(this.file(record.endpoint, record.bucket, record.key)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async list(): Promise<UploadRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.where);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: UploadRecord[] = [];
    for (const name of names.filter((n) => /^[0-9a-f]{64}\.json$/.test(n))) {
      const text = await readFile(join(this.where, name), 'utf8').catch(() => undefined);
      const r = text === undefined ? undefined : parseRecord(text);
      if (r) out.push(r);
    }
    return out;
  }

  async close(): Promise<void> {}
}
