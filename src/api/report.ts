/** The CSV report of every object's route (`--report FILE`, `[pubsub] report`). */
import { closeSync, existsSync, fstatSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import type { Config } from './config.js';
import type { TargetResult } from './copy/copy-key.js';
import { S3s3Error } from './errors.js';

/** The report's header: its columns, in order. */
export const REPORT_COLUMNS = [
  'time',
  'source_bucket',
  'source_key',
  'destination',
  'destination_bucket',
  'destination_key',
  'action',
  'size',
  'source_etag',
  'md5',
  'error',
] as const;

/** What happened to an object at a destination, as the report's `action` column says it. */
export type ReportAction = 'copied' | 'skipped' | 'deleted' | 'trashed' | 'gone' | 'failed';

/** One row of the report: one object at one destination. */
export interface ReportRow {
  /** Default: now. */
  readonly time?: Date;
  readonly sourceBucket: string;
  /** The source's full key; empty when there is none (a destination key the source lacks). */
  readonly sourceKey: string;
  /** The `[dest*]` section name. */
  readonly destination: string;
  readonly destinationBucket: string;
  readonly destinationKey: string;
  readonly action: ReportAction;
  readonly size?: number;
  readonly sourceEtag?: string;
  readonly md5?: string;
  readonly error?: string;
}

/** The report file cannot be opened or written: says which file and why. */
export class ReportError extends S3s3Error {
  override name = 'ReportError';
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`cannot write the report ${JSON.stringify(file)}: ${why}; check the path and its permissions`, { cause });
  }
}

/** RFC 4180: a field with a comma, a quote, CR or LF is quoted, its quotes doubled. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** One CSV line (fields quoted as RFC 4180 needs, LF ended). */
export function csvLine(fields: readonly string[]): string {
  return fields.map(csvField).join(',') + '\n';
}

/**
 * A value a spreadsheet would run as a formula (OWASP "CSV injection": it starts with `=`, `+`,
 * `-`, `@`, tab or CR), or one that would read back as such once a loader strips the leading
 * `'` (`'=x`): the `'` before it is what the neutralised field gets.
 */
const FORMULA_START = /^'*[=+\-@\t\r]/;

/**
 * A field from an untrusted name (a key, an error quoting one), made safe for spreadsheets the
 * way OWASP recommends: a `'` put before a value matching {@link FORMULA_START}, the field
 * always quoted. Exact: {@link restoreField} undoes it (strip one leading `'` when one or more
 * `'` then `=`, `+`, `-`, `@`, tab or CR follow), so `'=x` becomes `''=x` and reads back `'=x`.
 */
export function neutralisedField(value: string): string {
  return FORMULA_START.test(value) ? `"'${value.replace(/"/g, '""')}"` : csvField(value);
}

/** The value {@link neutralisedField} was given, from the field as a CSV parser returns it. */
export function restoreField(field: string): string {
  return /^'+[=+\-@\t\r]/.test(field) ? field.slice(1) : field;
}

/** When the report file is rotated, and how many rotated files are kept. */
export interface ReportRotation {
  /** Rotate once the file reaches this many bytes (`report_max_size`). */
  readonly maxSize: number;
  /** Rotated files kept: FILE.1 (newest) to FILE.<keep> (`report_keep`). */
  readonly keep: number;
}

/** How the report writes its rows. */
export interface ReportOptions {
  /**
   * `report_raw_keys = true`: write `source_key`, `destination_key` and `error` as they are,
   * without the `'` that keeps a spreadsheet from running `=1+2` as a formula.
   */
  readonly rawKeys?: boolean;
}

/**
 * The CSV report file (`--report FILE`, `[pubsub] report`): one CSV row per object and
 * destination, so the route of every object (old key -> new key) can be loaded into a
 * database. RFC 4180 quoting, LF line ends, a header when the file is new. Each row is one
 * write(2) of one complete line on a file opened O_APPEND: a process killed at any moment
 * leaves whole rows only, and two writers appending to the same file never interleave
 * inside a row.
 */
export class ReportWriter {
  private fd: number | undefined;
  private size = 0;

  private constructor(
    readonly file: string,
    fd: number,
    private readonly rotation: ReportRotation | undefined,
    private readonly options: ReportOptions,
  ) {
    this.fd = fd;
  }

  /** Opens (creates) the file for appending; writes the header when the file is empty. */
  static open(file: string, rotation?: ReportRotation, options: ReportOptions = {}): ReportWriter {
    const writer = new ReportWriter(file, ReportWriter.openFd(file), rotation, options);
    writer.start();
    return writer;
  }

  private static openFd(file: string): number {
    try {
      return openSync(file, 'a', 0o644);
    } catch (err) {
      throw new ReportError(file, err);
    }
  }

  private start(): void {
    try {
      this.size = fstatSync(this.fd!).size;
      if (this.size === 0) this.write(csvLine(REPORT_COLUMNS));
    } catch (err) {
      this.close();
      throw err instanceof ReportError ? err : new ReportError(this.file, err);
    }
  }

  /** FILE -> FILE.1 -> ... -> FILE.<keep> (the oldest dropped), then a fresh FILE with its header. */
  private rotate(): void {
    const { keep } = this.rotation!;
    this.close();
    try {
      if (keep < 1) unlinkSync(this.file);
      else {
        for (let i = keep - 1; i >= 1; i--)
          if (existsSync(`${this.file}.${i}`)) renameSync(`${this.file}.${i}`, `${this.file}.${i + 1}`);
        renameSync(this.file, `${this.file}.1`);
      }
    } catch (err) {
      throw new ReportError(this.file, err);
    }
    this.fd = ReportWriter.openFd(this.file);
    this.start();
  }

  row(r: ReportRow): void {
    if (this.rotation && this.size >= this.rotation.maxSize) this.rotate();
    // Keys and errors (which quote keys) are names anyone with write access to the source chose.
    const untrusted = this.options.rawKeys === true ? csvField : neutralisedField;
    const fields = [
      csvField((r.time ?? new Date()).toISOString()),
      csvField(r.sourceBucket),
      untrusted(r.sourceKey),
      csvField(r.destination),
      csvField(r.destinationBucket),
      untrusted(r.destinationKey),
      csvField(r.action),
      r.size === undefined ? '' : String(r.size),
      csvField(r.sourceEtag ?? ''),
      csvField(r.md5 ?? ''),
      untrusted(r.error ?? ''),
    ];
    this.write(fields.join(',') + '\n');
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    closeSync(fd);
  }

  /** One write of the whole line (a regular file takes it whole, short of a full disk). */
  private write(line: string): void {
    if (this.fd === undefined) throw new ReportError(this.file, new Error('the report is closed'));
    const buf = Buffer.from(line, 'utf8');
    try {
      let off = 0;
      while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
      this.size += buf.length;
    } catch (err) {
      throw new ReportError(this.file, err);
    }
  }
}

/**
 * The action a result is reported as; undefined for dry-run outcomes. `kept` (a delete not made)
 * is `skipped`.
 */
export function reportAction(r: TargetResult): ReportAction | undefined {
  switch (r.outcome) {
    case 'copied':
    case 'skipped':
    case 'deleted':
    case 'trashed':
    case 'gone':
    case 'failed':
      return r.outcome;
    case 'kept':
      return 'skipped';
    default:
      return undefined;
  }
}

/**
 * The report row of one settled key and destination; undefined for what is not reported.
 * source_key is the result's, or the destination key mapped back through the prefixes (for a
 * deleted key: the source key that maps there, which the source no longer has).
 */
export function resultRow(config: Config, r: TargetResult): ReportRow | undefined {
  const action = reportAction(r);
  if (action === undefined) return undefined;
  const dest = config.destinations.find((d) => d.name === r.destination);
  const rel = dest && r.key.startsWith(dest.prefix) ? r.key.slice(dest.prefix.length) : undefined;
  return {
    sourceBucket: config.source.bucket,
    sourceKey: r.sourceKey ?? (rel === undefined ? '' : config.source.prefix + rel),
    destination: r.destination,
    destinationBucket: dest?.bucket ?? '',
    destinationKey: r.key,
    action,
    size: r.size ?? (r.outcome === 'copied' ? r.bytes : undefined),
    sourceEtag: r.sourceEtag,
    md5: r.md5,
    error: r.outcome === 'failed' ? (r.error?.message ?? 'unknown error') : undefined,
  };
}
