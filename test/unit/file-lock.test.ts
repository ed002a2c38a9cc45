/** The lock file used when no Redis is configured: exclusive, stale-aware, released only by its owner. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
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
});
