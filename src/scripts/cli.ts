/**
 * What both commands share: exit codes, config loading with its report on stderr, and
 * the "run main() when executed" check. Scripts stay thin commands over the API.
 */
import { realpathSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';

/** Commander's classes: the commands get them from here, so one file of ours imports commander. */
export { Command, InvalidArgumentError, Option };
import {
  ConfigError,
  DURATION_HINT,
  formatProblem,
  loadConfig,
  parseDuration,
  type Config,
  type ConfigOverride,
  type Logger,
} from '../api/index.js';

// The SDK warns on stderr at start-up about Node versions it will drop; our version is
// pinned, so for the commands that is noise in front of their own messages.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Exit status: every object in place (or nothing to do). */
export const EXIT_OK = 0;
/** Exit status: something failed, or the run stopped. */
export const EXIT_FAILED = 1;
/** Exit status: a usage or config error, reported before anything ran. */
export const EXIT_USAGE = 2;

/** Where a command writes and what environment it reads: the process's, or a test's. */
export interface CliIo {
  /** Results (summaries, check lines, dry-run lines). */
  readonly stdout: (text: string) => void;
  /** Logs and errors. */
  readonly stderr: (text: string) => void;
  /** The environment (S3S3_CONFIG, secrets' overrides). */
  readonly env: NodeJS.ProcessEnv;
}

// A reader that goes away (`s3s3bucket --dry-run | head`) must not crash a running sweep:
// further output is dropped, the work goes on.
let stdoutClosed = false;
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') stdoutClosed = true;
  else throw err;
});

/** The process's own stdout, stderr and environment (stdout stops quietly once its reader went away). */
export const processIo: CliIo = {
  stdout: (t) => {
    if (!stdoutClosed) process.stdout.write(t);
  },
  stderr: (t) => process.stderr.write(t),
  env: process.env,
};

/** Commander prints its own usage errors; we only fix the exit code (2, not 1). */
export async function parseArgs(program: Command, argv: readonly string[], io: CliIo): Promise<number | undefined> {
  program.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return undefined;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version'
        ? EXIT_OK
        : EXIT_USAGE;
    }
    throw err;
  }
}

/** Loads the config; on error prints the report and returns undefined (caller exits 2). */
export function loadConfigOrReport(
  file: string | undefined,
  io: CliIo,
  log: Logger,
  overrides?: readonly ConfigOverride[],
): Config | undefined {
  try {
    const config = loadConfig({ file, env: io.env, ...(overrides ? { overrides } : {}) });
    for (const w of config.warnings) log.warn(formatProblem(w));
    return config;
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(`s3s3: ${err.message}\n`);
      for (const w of err.warnings) io.stderr(`s3s3: warning: ${formatProblem(w)}\n`);
      return undefined;
    }
    throw err;
  }
}

/**
 * True when this module is the program being run (also through npm's bin symlinks, and
 * under pm2, whose fork container is argv[1] and names the script in pm_exec_path).
 */
export function isMain(moduleUrl: string): boolean {
  const arg = process.env.pm_exec_path ?? process.argv[1];
  if (!arg) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

/** Runs `main` when `moduleUrl` is the program: its result becomes the exit status, and an
 *  unexpected error one line on stderr (never a stack trace for the operator to decode). */
export function runIfMain(moduleUrl: string, name: string, main: () => Promise<number>): void {
  if (!isMain(moduleUrl)) return;
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = EXIT_FAILED;
    },
  );
}

/** Commander parser for options that take a count. */
export function positiveInt(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return Number(v);
}

/**
 * Commander parser for duration flags, in the grammar of config keys (`30`, `90s`, `15m`, `26h`,
 * `7d`): milliseconds, at least one second. Commander turns the error into one line naming the
 * flag (`option '--job-lock <duration>' argument '5x' is invalid. expected ...`), exit 2.
 */
export function durationFlag(v: string): number {
  const ms = parseDuration(v);
  if (ms === undefined || ms < 1000) throw new InvalidArgumentError(`expected ${DURATION_HINT}, at least 1s`);
  return ms;
}

/** Lines of a stream, without their line ends (LF or CRLF); empty lines skipped. */
async function* lines(stream: Readable): AsyncGenerator<string> {
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  for await (const line of rl) if (line !== '') yield line;
}

/** NUL-terminated keys (`find -print0`), for keys that hold a newline or a CR themselves. */
async function* nulTerminated(stream: Readable): AsyncGenerator<string> {
  let rest = Buffer.alloc(0);
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    rest = Buffer.concat([rest, chunk]);
    for (let at = rest.indexOf(0); at !== -1; at = rest.indexOf(0)) {
      if (at > 0) yield rest.subarray(0, at).toString('utf8');
      rest = rest.subarray(at + 1);
    }
  }
  if (rest.length > 0) yield rest.toString('utf8');
}

/** Keys read from a stream (stdin): one per line, or NUL-terminated with `nul` (`-0`). */
export function keysFrom(stream: Readable, nul: boolean): AsyncGenerator<string> {
  return nul ? nulTerminated(stream) : lines(stream);
}
