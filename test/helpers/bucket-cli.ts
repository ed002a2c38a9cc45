/** The built s3s3bucket run as a user runs it, with any arguments (several --config among them). */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '../../dist/scripts/bucket.js');
const S3S3 = join(import.meta.dirname, '../../dist/scripts/s3s3.js');

export interface BucketRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A directory for one test file's configs, and a way to write one (mode 600, as the README says). */
export function configDir(label: string): { dir: string; write: (name: string, text: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), `s3s3-${label}-`));
  return {
    dir,
    write: (name, text) => {
      const file = join(dir, name);
      writeFileSync(file, text, { mode: 0o600 });
      return file;
    },
  };
}

export function runBucket(
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<BucketRun> {
  return runBuilt(BIN, args, options);
}

/** A built script run as a user runs it: HOME is `cwd`, PATH kept, nothing else from this environment. */
function runBuilt(
  bin: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<BucketRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      {
        env: { PATH: process.env.PATH, HOME: options.cwd, ...options.env },
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 120_000,
        killSignal: 'SIGKILL',
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** The built `s3s3` helper command run as a user runs it (HOME is `cwd`, as for runBucket). */
export function runS3s3(
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<BucketRun> {
  return runBuilt(S3S3, args, options);
}

/** s3s3bucket started and left running: the child, to kill mid-run. */
export function startBucket(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH, HOME: options.cwd, ...options.env },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
