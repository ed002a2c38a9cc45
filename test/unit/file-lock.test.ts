/** The lock file used when no Redis is configured: exclusive, stale-aware, released only by its owner. */
import { spawnSync } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FileLock } from '../../src/api/lock/file-lock.js';
import { acquire, newHolder } from '../../src/api/lock/lock.js';
import { LockError } from '../../src/api/errors.js';

const scope = { source: 'http://s3.example/src', destinations: ['http://s3.example/d1'] };

function deadPid(): number {
  // A process that has exited: its PID is free (until reused, which the TTL also covers).
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('FileLock', () => {
  it('lets one holder in, tells the second who holds it, and frees on release', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 's3s3-lock-')), 'sweep.lock');
    const lock = new FileLock(file, 60_000);
    const first = await acquire(lock, scope);
    assert.ok(first);
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).pid, process.pid);
    let busyBy: unknown;
    const second = await acquire(lock, scope, { onBusy: (by) => (busyBy = by) });
    assert.equal(second, null);
    assert.equal((busyBy as { pid: number }).pid, process.pid);
    assert.equal((busyBy as { source: string }).source, scope.source);
    await first.release();
    await first.release(); // twice is fine
    assert.equal(existsSync(file), false);
    const third = await acquire(lock, scope);
    assert.ok(third);
    await third.release();
  });

  it('takes over a lock whose process is gone', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 's3s3-lock-')), 'sweep.lock');
    writeFileSync(file, JSON.stringify({ ...newHolder(scope), pid: deadPid(), host: hostname() }));
    const held = await acquire(new FileLock(file, 60_000), scope);
    assert.ok(held, 'stale lock taken over');
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).token, held.holder.token);
    await held.release();
  });

  it('takes over a lock not touched for longer than its TTL (another host, or a reused PID)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 's3s3-lock-')), 'sweep.lock');
    writeFileSync(file, JSON.stringify({ ...newHolder(scope), host: 'another-host', pid: 1 }));
    const lock = new FileLock(file, 5_000);
    assert.equal(await acquire(lock, scope), null, 'fresh lock of another host is respected');
    const old = new Date(Date.now() - 60_000);
    utimesSync(file, old, old);
    const held = await acquire(lock, scope);
    assert.ok(held);
    await held.release();
  });

  it('waits for the holder with wait: true', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 's3s3-lock-')), 'sweep.lock');
    const lock = new FileLock(file, 60_000);
    const first = (await acquire(lock, scope))!;
    setTimeout(() => void first.release(), 300);
    const second = await acquire(lock, scope, { wait: true, pollMs: 50 });
    assert.ok(second);
    await second.release();
  });

  it('never removes a lock that is no longer its own, and reports it lost', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 's3s3-lock-')), 'sweep.lock');
    const held = (await acquire(new FileLock(file, 1_500), scope))!;
    const other = { ...newHolder(scope), pid: process.pid };
    writeFileSync(file, JSON.stringify(other)); // someone took it over
    await new Promise((r) => setTimeout(r, 800)); // one renewal period
    assert.equal(held.signal.aborted, true);
    assert.ok(held.signal.reason instanceof LockError);
    await held.release();
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).token, other.token, 'the other holder keeps its lock');
  });

  it('creates the lock file 0600 whatever the umask', async () => {
    const dir = mkdtempSync(join(tmpdir(), 's3s3-lock-'));
    const file = join(dir, 'sweep.lock');
    const old = process.umask(0);
    try {
      const held = (await acquire(new FileLock(file, 60_000), scope))!;
      assert.equal(statSync(file).mode & 0o777, 0o600);
      await held.release();
      // Taking over a stale lock left by an older version (0644) makes a new 0600 file.
      writeFileSync(file, JSON.stringify({ ...newHolder(scope), pid: deadPid(), host: hostname() }), { mode: 0o644 });
      const again = (await acquire(new FileLock(file, 60_000), scope))!;
      assert.equal(statSync(file).mode & 0o777, 0o600);
      await again.release();
    } finally {
      process.umask(old);
    }
    assert.deepEqual(readdirSync(dir), [], 'no .stale. file left behind');
  });

  const otherUid = 65534;
  it(
    'refuses a lock file owned by another user, stale or not, and leaves it alone',
    { skip: process.getuid?.() !== 0 && 'needs root to chown a file to another user' },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 's3s3-lock-'));
      const file = join(dir, 'sweep.lock');
      const check = (err: unknown) => {
        assert.ok(err instanceof LockError);
        assert.equal(err.lock, file);
        assert.match(err.message, new RegExp(`owned by uid ${otherUid}, not by this user \\(uid 0\\)`));
        assert.ok(err.message.includes(file), 'names the file');
        assert.match(err.message, /remove it .*--lock-file/);
        return true;
      };
      // A live-looking lock: without the check this would answer "busy" (exit 0, sweep skipped forever).
      writeFileSync(file, JSON.stringify({ ...newHolder(scope), host: 'another-host', pid: 1 }));
      chownSync(file, otherUid, otherUid);
      await assert.rejects(acquire(new FileLock(file, 60_000), scope), check);
      // A stale one (dead process, old mtime): without the check it would be taken over.
      writeFileSync(file, JSON.stringify({ ...newHolder(scope), pid: deadPid(), host: hostname() }));
      const old = new Date(Date.now() - 3_600_000);
      utimesSync(file, old, old);
      await assert.rejects(acquire(new FileLock(file, 5_000), scope), check);
      assert.equal(statSync(file).uid, otherUid, "the other user's file is left in place");
      assert.deepEqual(readdirSync(dir), ['sweep.lock']);
    },
  );
});
