/**
 * `--report FILE`: one CSV row per object and destination, so the route of every object
 * (old key -> new key) can be loaded into a database. RFC 4180 quoting, LF line ends, a
 * header when the file is new. Each row is one write(2) of one complete line on a file
 * opened O_APPEND: a process killed at any moment leaves whole rows only, and two writers
 * appending to the same file never interleave inside a row.
 */
import { closeSync, fstatSync, openSync, writeSync } from 'node:fs';
import { S3s3Error } from '../errors.js';

export const REPORT_COLUMNS = ['time', 'source_bucket', 'source_key', 'destination', 'destination_bucket', 'destination_key', 'action', 'size', 'source_etag', 'md5', 'error'] as const;

export type ReportAction = 'copied' | 'skipped' | 'deleted' | 'trashed' | 'gone' | 'failed';

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

export function csvLine(fields: readonly string[]): string {
  return fields.map(csvField).join(',') + '\n';
}

export class ReportWriter {
  private fd: number | undefined;

  private constructor(
    readonly file: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  /** Opens (creates) the file for appending; writes the header when the file is empty. */
  static open(file: string): ReportWriter {
    let fd: number;
    try {
      fd = openSync(file, 'a', 0o644);
    } catch (err) {
      throw new ReportError(file, err);
    }
    const writer = new ReportWriter(file, fd);
    try {
      if (fstatSync(fd).size === 0) writer.write(csvLine(REPORT_COLUMNS));
    } catch (err) {
      writer.close();
      throw err instanceof ReportError ? err : new ReportError(file, err);
    }
    return writer;
  }

  row(r: ReportRow): void {
    this.write(
      csvLine([
        (r.time ?? new Date()).toISOString(),
        r.sourceBucket,
        r.sourceKey,
        r.destination,
        r.destinationBucket,
        r.destinationKey,
        r.action,
        r.size === undefined ? '' : String(r.size),
        r.sourceEtag ?? '',
        r.md5 ?? '',
        r.error ?? '',
      ]),
    );
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
    } catch (err) {
      throw new ReportError(this.file, err);
    }
  }
}
