/** The sweep lock as a lock file, for when no Redis is configured. */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  linkSync,
  lstatSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { LockError } from '../errors.js';
import { parseHolder, type HeldLock, type LockBackend, type LockHolder } from './lock.js';

/**
 * A lock file, for when no Redis is configured: created with O_EXCL (only one run can),
 * holding its holder as JSON, its mtime touched every third of the TTL while held.
 * A lock is stale, and taken over, when its process is gone (same host) or it has not been
 * touched for longer than the TTL (a dead run on another host, or a reused PID).
 * Taking over is a rename to a name of our own first, so two runs that both find the same
 * stale lock cannot both win.
 * The default path is predictable (in the shared temp dir), so the file is made 0600 and a
 * lock file owned by another user is refused: it could be planted to block or mislead us.
 */
export class FileLock implements LockBackend {
  constructor(
    readonly name: string,
    private readonly ttlMs: number,
  ) {}

  async tryAcquire(holder: LockHolder): Promise<{ held: HeldLock } | { held: null; by: LockHolder | null }> {
    for (let attempt = 0; attempt < 5; attempt++) {
      if (this.create(holder)) return { held: new HeldFileLock(this.name, holder, this.ttlMs) };
      const current = this.read();
      if (current === undefined) continue; // vanished meanwhile: try again
      if (!this.isStale(current)) return { held: null, by: current.holder };
      this.takeOver(current.text);
    }
    return { held: null, by: this.read()?.holder ?? null };
  }

  private create(holder: LockHolder): boolean {
    let fd: number;
    try {
      fd = openSync(this.name, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new LockError({
        lock: this.name,
        detail: `cannot create the lock file: ${(err as Error).message}`,
        cause: err,
      });
    }
    try {
      // The mode given to open is masked by the umask; fchmod is not (0600 whatever the umask).
      fchmodSync(fd, 0o600);
      writeSync(fd, JSON.stringify(holder) + '\n');
    } finally {
      closeSync(fd);
    }
    return true;
  }

  private read(): { text: string; holder: LockHolder | null; mtimeMs: number } | undefined {
    try {
      // The link itself and, for a lock file given as a symlink, its target (whose mtime
      // the holder touches) must both be ours.
      const link = lstatSync(this.name);
      checkOwner(this.name, link.uid);
      const st = link.isSymbolicLink() ? statSync(this.name) : link;
      checkOwner(this.name, st.uid);
      const mtimeMs = st.mtimeMs;
      const text = readFileSync(this.name, 'utf8');
      return { text, holder: parseHolder(text), mtimeMs };
    } catch (err) {
      if (err instanceof LockError) throw err;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new LockError({
        lock: this.name,
        detail: `cannot read the lock file: ${(err as Error).message}`,
        cause: err,
      });
    }
  }

  private isStale(current: { holder: LockHolder | null; mtimeMs: number }): boolean {
    if (Date.now() - current.mtimeMs > this.ttlMs) return true;
    const h = current.holder;
    if (h === null) return false; // being written, or not ours: wait for the TTL
    return h.host === hostname() && !processAlive(h.pid);
  }

  /** Move the stale file aside; if what we moved is not what we judged stale, put it back. */
  private takeOver(staleText: string): void {
    // Unguessable, so no one can plant a file or link at the name beforehand.
    const aside = `${this.name}.stale.${process.pid}.${randomBytes(8).toString('hex')}`;
    try {
      renameSync(this.name, aside);
    } catch {
      return; // someone else moved it first
    }
    try {
      // Swapped in after our check? Never delete another user's file: put it back, and the
      // next read refuses it with the owner check.
      if (!ownedByUs(lstatSync(aside).uid)) {
        renameSync(aside, this.name);
        return;
      }
    } catch {
      return;
    }
    let moved = '';
    try {
      moved = readFileSync(aside, 'utf8');
    } catch {
      // unreadable: treat as stale
    }
    if (moved !== staleText && moved !== '') {
      // A fresh lock was created between our read and our rename: give it back.
      try {
        linkSync(aside, this.name);
      } catch {
        // another lock exists already; the one we hold aside is lost to its owner, who will notice on renewal
      }
    }
    try {
      unlinkSync(aside);
    } catch {
      // already gone
    }
  }

  async close(): Promise<void> {}
}

class HeldFileLock implements HeldLock {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private released = false;

  constructor(
    readonly name: string,
    readonly holder: LockHolder,
    ttlMs: number,
  ) {
    this.timer = setInterval(() => this.renew(), Math.max(500, Math.floor(ttlMs / 3)));
    this.timer.unref();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  private ours(): boolean {
    try {
      return parseHolder(readFileSync(this.name, 'utf8'))?.token === this.holder.token;
    } catch {
      return false;
    }
  }

  private renew(): void {
    if (this.released) return;
    if (!this.ours()) {
      clearInterval(this.timer);
      this.controller.abort(
        new LockError({ lock: this.name, detail: 'the lock file was removed or taken over by another run' }),
      );
      return;
    }
    try {
      const now = new Date();
      utimesSync(this.name, now, now);
    } catch {
      // the next renewal checks again
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    if (this.ours()) {
      try {
        unlinkSync(this.name);
      } catch {
        // already gone
      }
    }
  }
}

function ownedByUs(uid: number): boolean {
  const me = process.getuid?.();
  return me === undefined || uid === me; // no uids (Windows): nothing to compare
}

/** Refuses a lock file of another user (root included: a planted file is no less a trap). */
function checkOwner(file: string, uid: number): void {
  if (ownedByUs(uid)) return;
  throw new LockError({
    lock: file,
    detail:
      `the lock file is owned by uid ${uid}, not by this user (uid ${process.getuid?.() ?? '?'}); ` +
      'refusing to use it. ' +
      `If no sweep of that user is running, remove it (rm ${JSON.stringify(file)}); ` +
      'or give each user its own lock with --lock-file, or configure Redis for the lock',
  });
}

/** Whether a process of this id runs on this host (EPERM: it does, as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
