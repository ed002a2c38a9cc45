/**
 * Keys set aside during a sweep and read back after it (the deletes, which may only run
 * once every listing has finished): written to a temp file in batches, so memory does not
 * grow with the number of keys however many a destination holds that the source lacks.
 */
import { appendFileSync, mkdtempSync, rmSync, createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** A key set aside, with its size (for `would delete` rows). */
export interface SpooledKey {
  /** Relative to the prefixes. */
  readonly key: string;
  /** Bytes. */
  readonly size: number;
}

const FLUSH_AT = 1000;

/** Keys written to a temp file in batches while listing, read back once (entries()); close() removes the file. */
export class KeySpool {
  private dir: string | undefined;
  private buffer: string[] = [];
  private count = 0;

  get length(): number {
    return this.count;
  }

  add(entry: SpooledKey): void {
    // JSON keeps every key byte (newlines and control characters included) on one line.
    this.buffer.push(JSON.stringify([entry.key, entry.size]));
    this.count++;
    if (this.buffer.length >= FLUSH_AT) this.flush();
  }

  async *entries(): AsyncGenerator<SpooledKey> {
    if (this.dir === undefined) {
      for (const line of this.buffer) yield parse(line);
      return;
    }
    this.flush();
    const rl = createInterface({ input: createReadStream(this.file()), crlfDelay: Infinity });
    for await (const line of rl) if (line !== '') yield parse(line);
  }

  /** Safe to call twice. */
  close(): void {
    if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
    this.buffer = [];
  }

  private file(): string {
    this.dir ??= mkdtempSync(join(tmpdir(), 's3s3-spool-'));
    return join(this.dir, 'keys.jsonl');
  }

  private flush(): void {
    if (this.buffer.length === 0) return;
    appendFileSync(this.file(), this.buffer.join('\n') + '\n', { mode: 0o600 });
    this.buffer = [];
  }
}

function parse(line: string): SpooledKey {
  const [key, size] = JSON.parse(line) as [string, number];
  return { key, size };
}
