/**
 * What the listener keeps in Redis so that nothing it was told about is lost:
 * - the receipt journal, a sorted set of keys received and not yet settled, scored by
 *   arrival time (ms). A key is added before any copying starts and removed only once it
 *   is in every destination, gone from the source, or moved to the failed list;
 * - the failed list: JSON entries `{key, reason, at, destinations}` for copies that failed
 *   after their retries, drained by `s3s3bucket --retry-failed`;
 * - the original s3s3's marker `backup=>KEY`, set once a key is everywhere.
 * Each settling step is one MULTI, so a crash leaves a key either journaled or settled.
 */
import type { RedisCommand, RedisCommands } from '../redis/redis.js';

export interface JournalNames {
  readonly pendingSet: string;
  readonly failedList: string;
  /** Set `backup=>KEY` once a key is everywhere. */
  readonly marker: boolean;
}

export interface FailedEntry {
  readonly key: string;
  readonly reason: string;
  /** ISO time of the failure. */
  readonly at: string;
  /** The destinations (config section names) that did not get the key. */
  readonly destinations?: readonly string[];
  /** Failed attempts so far, counting each `--retry-failed` pass. */
  readonly attempts?: number;
}

/** The original s3s3's marker for a key that has been copied. */
export function markerKey(key: string): string {
  return `backup=>${key}`;
}

/** The value the original (Python, redis-py) wrote: `r.set('backup=>' + key, True)`. */
export const MARKER_VALUE = 'True';

export class Journal {
  constructor(
    private readonly redis: RedisCommands,
    readonly names: JournalNames,
  ) {}

  /** Record a key as received. Must resolve before the copy starts. */
  async received(key: string, at: number = Date.now()): Promise<void> {
    await this.redis.call('ZADD', this.names.pendingSet, at, key);
  }

  /** The key is in every destination: set the marker and forget it, atomically. */
  async copied(key: string): Promise<void> {
    const ops: RedisCommand[] = [];
    if (this.names.marker) ops.push(['SET', markerKey(key), MARKER_VALUE]);
    ops.push(['ZREM', this.names.pendingSet, key]);
    await this.redis.transaction(ops);
  }

  /** The key is not in the source (deleted, or deleted from the destinations too): forget it and its marker. */
  async gone(key: string): Promise<void> {
    const ops: RedisCommand[] = [];
    if (this.names.marker) ops.push(['DEL', markerKey(key)]);
    ops.push(['ZREM', this.names.pendingSet, key]);
    await this.redis.transaction(ops);
  }

  /** The copy failed after its retries: move the key to the failed list, atomically. */
  async failed(entry: FailedEntry): Promise<void> {
    await this.redis.transaction([
      ['RPUSH', this.names.failedList, JSON.stringify(entry)],
      ['ZREM', this.names.pendingSet, entry.key],
    ]);
  }

  /** One step of a scan of the journal (ZSCAN: constant memory, may return a key twice). */
  async scan(cursor: string, count = 500): Promise<{ cursor: string; keys: string[] }> {
    const reply = (await this.redis.call('ZSCAN', this.names.pendingSet, cursor, 'COUNT', count)) as [string, string[]];
    const keys: string[] = [];
    // ZSCAN returns member, score, member, score...
    for (let i = 0; i < reply[1].length; i += 2) keys.push(reply[1][i]!);
    return { cursor: reply[0], keys };
  }

  async pendingCount(): Promise<number> {
    return Number(await this.redis.call('ZCARD', this.names.pendingSet));
  }

  async isPending(key: string): Promise<boolean> {
    return (await this.redis.call('ZSCORE', this.names.pendingSet, key)) !== null;
  }
}

/**
 * The failed list, drained without losing an entry to a crash: each entry is moved
 * (LMOVE) to a processing list while its copy runs, and only then removed or pushed back.
 * Whoever drains must hold the sweep lock, since a new drain first returns whatever a
 * crashed drain left in the processing list.
 */
export class FailedList {
  readonly processing: string;

  constructor(
    private readonly redis: RedisCommands,
    readonly name: string,
  ) {
    this.processing = `${name}:processing`;
  }

  async length(): Promise<number> {
    return Number(await this.redis.call('LLEN', this.name));
  }

  async entries(): Promise<FailedEntry[]> {
    const raw = (await this.redis.call('LRANGE', this.name, 0, -1)) as string[];
    return raw.map(parseEntry);
  }

  /** Put back what a crashed drain left half-done; returns how many. */
  async recover(): Promise<number> {
    let n = 0;
    while ((await this.redis.call('LMOVE', this.processing, this.name, 'RIGHT', 'LEFT')) !== null) n++;
    return n;
  }

  /** Take the oldest entry into the processing list; null when the list is empty. */
  async take(): Promise<{ raw: string; entry: FailedEntry } | null> {
    const raw = (await this.redis.call('LMOVE', this.name, this.processing, 'LEFT', 'RIGHT')) as string | null;
    return raw === null ? null : { raw, entry: parseEntry(raw) };
  }

  /**
   * The retry worked (or the key is gone): drop the entry; set the marker (copied) or remove
   * it (gone from the source, and so from the destinations that delete) if wanted.
   */
  async settle(raw: string, marker: string | undefined, markerOp: 'set' | 'delete' = 'set'): Promise<void> {
    const ops: RedisCommand[] = [];
    if (marker !== undefined) ops.push(markerOp === 'set' ? ['SET', marker, MARKER_VALUE] : ['DEL', marker]);
    ops.push(['LREM', this.processing, 1, raw]);
    await this.redis.transaction(ops);
  }

  /** The retry failed again: back to the end of the failed list with the new reason. */
  async putBack(raw: string, entry: FailedEntry): Promise<void> {
    await this.redis.transaction([
      ['RPUSH', this.name, JSON.stringify(entry)],
      ['LREM', this.processing, 1, raw],
    ]);
  }
}

/** Entries are JSON; a bare key (pushed by hand with redis-cli) is read as one too. */
export function parseEntry(raw: string): FailedEntry {
  try {
    const v = JSON.parse(raw) as Partial<FailedEntry>;
    if (v && typeof v === 'object' && typeof v.key === 'string') {
      return { key: v.key, reason: String(v.reason ?? ''), at: String(v.at ?? ''), destinations: v.destinations, attempts: typeof v.attempts === 'number' ? v.attempts : undefined };
    }
  } catch {
    // not JSON: a bare key
  }
  return { key: raw, reason: '', at: '' };
}
