/**
 * The shape every sweep lock has, whatever holds it (a Redis key or a lock file), and
 * the one loop that takes it, waiting or not.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';

/** Who holds a lock: written into it, so a second run can say who it is waiting for. */
export interface LockHolder {
  readonly token: string;
  readonly host: string;
  readonly pid: number;
  /** ISO time the lock was taken. */
  readonly since: string;
  /** What the lock protects: the source and destination buckets. */
  readonly source: string;
  readonly destinations: readonly string[];
}

/** A lock this run holds: who it says holds it, the signal that it was lost, and its release. */
export interface HeldLock {
  /** The Redis key or the lock file. */
  readonly name: string;
  readonly holder: LockHolder;
  /** Aborted (with a LockError as reason) if the lock is lost while held: stop the work. */
  readonly signal: AbortSignal;
  /** Give the lock up, only if it is still ours. Safe to call twice. */
  release(): Promise<void>;
}

/** What holds a lock (a Redis key, a lock file): one try to take it, and close. */
export interface LockBackend {
  readonly name: string;
  /** Take the lock at once, or return null (with the current holder, when known). */
  tryAcquire(holder: LockHolder): Promise<{ held: HeldLock } | { held: null; by: LockHolder | null }>;
  /** Safe to call twice. */
  close(): Promise<void>;
}

/** Whether and how `acquire` waits for a lock that is taken. */
export interface AcquireOptions {
  /** Wait until the lock is free instead of giving up at once. */
  readonly wait?: boolean;
  /** Between tries while waiting; default 1 s. */
  readonly pollMs?: number;
  /** Called once when the lock is found taken (wait or not). */
  readonly onBusy?: (by: LockHolder | null) => void;
  /** Give up waiting. */
  readonly signal?: AbortSignal;
}

/** The buckets a lock protects, as `endpoint/bucket` strings. */
export interface LockScope {
  readonly source: string;
  readonly destinations: readonly string[];
}

/** A fresh holder for this process (unique token, host, pid, now) over `scope`. */
export function newHolder(scope: LockScope): LockHolder {
  return {
    token: randomBytes(16).toString('hex'),
    host: hostname(),
    pid: process.pid,
    since: new Date().toISOString(),
    source: scope.source,
    destinations: [...scope.destinations],
  };
}

/** The holder in words for a message ("pid 12 on host since ..."), or "another run" when unknown. */
export function describeHolder(by: LockHolder | null): string {
  return by ? `pid ${by.pid} on ${by.host} since ${by.since}` : 'another run';
}

/** Take the lock; null when it is taken and `wait` is not set (or the wait was aborted). */
export async function acquire(
  backend: LockBackend,
  scope: LockScope,
  options: AcquireOptions = {},
): Promise<HeldLock | null> {
  let told = false;
  for (;;) {
    const got = await backend.tryAcquire(newHolder(scope));
    if (got.held) return got.held;
    if (!told) options.onBusy?.(got.by);
    told = true;
    if (!options.wait || options.signal?.aborted) return null;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, options.pollMs ?? 1000);
      options.signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    });
    if (options.signal?.aborted) return null;
  }
}

/** The holder a lock's value or file holds, or null when it is not one of ours. */
export function parseHolder(text: string): LockHolder | null {
  try {
    const v = JSON.parse(text) as Partial<LockHolder>;
    if (typeof v.token === 'string' && typeof v.pid === 'number' && typeof v.host === 'string') {
      return {
        token: v.token,
        pid: v.pid,
        host: v.host,
        since: String(v.since ?? ''),
        source: String(v.source ?? ''),
        destinations: Array.isArray(v.destinations) ? v.destinations.map(String) : [],
      };
    }
  } catch {
    // not ours
  }
  return null;
}
