#!/usr/bin/env node
/**
 * s3s3: helper subcommands (the original's echo_s3s3_supervisord_conf and
 * echo_s3s3_ini_template, which print the files shipped in the package; the queue; the
 * trash; s3s3's own multipart uploads under way; the replication status of keys).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  abortUploads,
  createConnection,
  createLogger,
  listUploads,
  openUploadJournal,
  DURATION_HINT,
  formatAge,
  listTrash,
  parseDuration,
  purgeTrash,
  quoteKey,
  SyncQueue,
  distributedRuns,
  statusEach,
  type KeyStatus,
  type Config,
  type TrashObject,
} from '../api/index.js';
import {
  Command,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  keysFrom,
  loadConfigOrReport,
  parseArgs,
  processIo,
  type CliIo,
  runIfMain,
  positiveInt,
} from './cli.js';
import type { Readable } from 'node:stream';
import { addFlags, boolFlag, CONFIG_FLAG, NULL_FLAG, parsedFlag, textFlag, type FlagValues } from './flags.js';

/** The package root: two levels above this file, in dist/scripts/ and in src/scripts/ alike. */
export function packageFile(relative: string): string {
  return fileURLToPath(new URL(`../../${relative}`, import.meta.url));
}

/** The files `s3s3 echo-*` prints, shipped in the package, by subcommand. */
export const SHIPPED = {
  'echo-supervisord-conf': {
    file: 'extras/s3s3.supervisord.conf',
    what: 'the supervisord programs: s3s3listen, or an intake and workers',
  },
  'echo-ini-template': {
    file: 's3s3.ini.dist',
    what: 'the config template (copy it to /usr/local/etc/s3s3.ini and fill it in)',
  },
} as const;

const QUEUE_ACTIONS = ['counts', 'failed', 'clear-failed'] as const;
type QueueAction = (typeof QUEUE_ACTIONS)[number];

/** `s3s3 queue`'s flags. */
const QUEUE_FLAGS = {
  config: CONFIG_FLAG,
  limit: parsedFlag('--limit <n>', 'queue failed: list at most this many (default: 100)', positiveInt),
} as const;

/** `--dest`, shared by the trash subcommands. */
const DEST_FLAG = textFlag('--dest <section>', 'only this destination (default: every one)');

/** `s3s3 trash list`'s flags. */
const TRASH_LIST_FLAGS = {
  config: CONFIG_FLAG,
  dest: DEST_FLAG,
  json: boolFlag(
    '--json',
    'one JSON object per line instead: destination, root, key, size, last_modified, age_seconds',
  ),
} as const;

/** `s3s3 trash purge`'s flags. */
const TRASH_PURGE_FLAGS = {
  config: CONFIG_FLAG,
  dest: DEST_FLAG,
  olderThan: textFlag('--older-than <duration>', `required: ${DURATION_HINT}`),
  dryRun: boolFlag('--dry-run', 'print what would be purged; delete nothing'),
} as const;

/** `s3s3 uploads list|abort`'s flags. */
const UPLOADS_FLAGS = {
  config: CONFIG_FLAG,
  dest: DEST_FLAG,
  olderThan: textFlag('--older-than <duration>', `only uploads begun at least this long ago: ${DURATION_HINT}`),
  json: boolFlag('--json', 'one JSON object per line instead: destination, key, upload_id, size, started, age_seconds'),
} as const;

/** `s3s3 status`'s flags. */
const STATUS_FLAGS = {
  config: CONFIG_FLAG,
  json: boolFlag(
    '--json',
    'one JSON document instead: {"keys":[{"key":...,"destinations":{"dest1":{"state":...,"detail":...}}}]}',
  ),
  null: NULL_FLAG,
} as const;

type StatusFlags = FlagValues<typeof STATUS_FLAGS>;
type UploadsFlags = FlagValues<typeof UPLOADS_FLAGS>;
type QueueFlags = FlagValues<typeof QUEUE_FLAGS>;
/** The flags of either trash subcommand (list has no --older-than or --dry-run, purge no --json). */
type TrashFlags = Partial<FlagValues<typeof TRASH_LIST_FLAGS> & FlagValues<typeof TRASH_PURGE_FLAGS>>;

/** What an `s3s3` command line asks for, once parsed. */
export type S3s3Command =
  | { readonly command: keyof typeof SHIPPED }
  | { readonly command: 'queue'; readonly action: QueueAction; readonly flags: QueueFlags }
  | {
      readonly command: 'trash';
      readonly action: 'list' | 'purge';
      readonly flags: TrashFlags;
      /** purge: --older-than in milliseconds. */
      readonly olderThanMs?: number;
    }
  | {
      readonly command: 'uploads';
      readonly action: 'list' | 'abort';
      readonly flags: UploadsFlags;
      readonly olderThanMs?: number;
    }
  | { readonly command: 'status'; readonly flags: StatusFlags; readonly keys: readonly string[] };

/**
 * s3s3's command line, parsed and checked without running anything: the subcommand and its
 * flags, or the exit status when there is nothing to run (2: a usage error, already on stderr;
 * 0: --help).
 */
export async function parseCommandLine(argv: readonly string[], io: CliIo): Promise<S3s3Command | number> {
  let parsed: S3s3Command | undefined;
  const program = new Command('s3s3').description(
    's3s3 helpers. The work is done by s3s3listen, s3s3bucket and s3s3publish.',
  );
  // Before the subcommands exist, so they inherit it (a usage error returns 2, never exits).
  program.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  for (const [name, { what }] of Object.entries(SHIPPED) as [keyof typeof SHIPPED, { what: string }][]) {
    program
      .command(name)
      .description(`print ${what}`)
      .action(() => {
        parsed = { command: name };
      });
  }
  // `s3s3 NOUN VERB`, as trash and uploads: `queue` alone is `queue counts`.
  const queueCmd = program
    .command('queue')
    .description(
      "s3s3listen's queue: `queue` (or `queue counts`) prints waiting=N active=N delayed=N failed=N " +
        'oldest_waiting_seconds=N; `queue failed` lists the failed keys with their last error; ' +
        '`queue clear-failed` empties the failed set',
    );
  const queueHelp: Record<QueueAction, string> = {
    counts: 'waiting=N active=N delayed=N failed=N oldest_waiting_seconds=N, then one line per distributed sweep',
    failed: 'one JSON line per failed key: key, op, failed_at, attempts, error (newest first)',
    'clear-failed': 'empty the failed set (their keys are not copied unless announced again or swept)',
  };
  for (const action of QUEUE_ACTIONS)
    addFlags(
      queueCmd.command(action, action === 'counts' ? { isDefault: true } : {}).description(queueHelp[action]),
      QUEUE_FLAGS,
    ).action((flags: QueueFlags) => {
      parsed = { command: 'queue', action, flags };
    });
  const trashCmd = program
    .command('trash')
    .description(
      'what delete_mode = trash kept: `trash list` prints it, `trash purge --older-than 30d` is the only thing ' +
        'that empties it (a sweep never deletes any trash)',
    );
  addFlags(
    trashCmd
      .command('list')
      .description(
        'one line per trashed object: <age> <size in bytes> "TRASH KEY" [dest]; ' +
          'age from its Last-Modified (3d, 5h, 12m, 40s)',
      ),
    TRASH_LIST_FLAGS,
  ).action((flags: TrashFlags) => {
    parsed = { command: 'trash', action: 'list', flags };
  });
  addFlags(
    trashCmd
      .command('purge')
      .description(
        'delete the trashed objects older than --older-than, under every trash root the destination ever used',
      ),
    TRASH_PURGE_FLAGS,
  ).action((flags: TrashFlags) => {
    parsed = { command: 'trash', action: 'purge', flags };
  });
  const uploadsCmd = program
    .command('uploads')
    .description(
      "s3s3's own multipart uploads under way (kept to resume after a crash): `uploads list` prints them, " +
        '`uploads abort` aborts them (without --older-than, all of them)',
    );
  for (const action of ['list', 'abort'] as const)
    addFlags(
      uploadsCmd
        .command(action)
        .description(
          action === 'list'
            ? 'one line per upload: <age> <size of the object in bytes> "KEY" [dest] UPLOAD-ID'
            : 'abort the uploads (and forget them); a copy that needs the object again starts over',
        ),
      UPLOADS_FLAGS,
    ).action((flags: UploadsFlags) => {
      parsed = { command: 'uploads', action, flags };
    });
  addFlags(
    program
      .command('status')
      .description(
        'is each key replicated? one line per key and destination: <state> "KEY" [dest] detail, the state ' +
          'in-sync, differs, missing, pending, failed or extra; exit 0 when every key is in-sync everywhere, 1 if not',
      )
      .argument('<key...>', "the source's keys (its prefix included); - reads them from stdin, one per line"),
    STATUS_FLAGS,
  ).action((keys: string[], flags: StatusFlags) => {
    parsed = { command: 'status', flags, keys };
  });
  // `queue` alone is `queue counts`, so commander would take a mistyped verb for an argument of counts.
  const verb = argv[0] === 'queue' ? argv[1] : undefined;
  if (
    verb !== undefined &&
    !verb.startsWith('-') &&
    verb !== 'help' &&
    !(QUEUE_ACTIONS as readonly string[]).includes(verb)
  ) {
    io.stderr(`s3s3 queue: unknown subcommand ${JSON.stringify(verb)}; use ${QUEUE_ACTIONS.join(', ')}\n`);
    return EXIT_USAGE;
  }
  const early = await parseArgs(program, argv, io);
  if (early !== undefined) return early;
  if (!parsed) {
    io.stderr(program.helpInformation());
    return EXIT_USAGE;
  }
  if (parsed.command === 'uploads' && parsed.flags.olderThan !== undefined) {
    const { olderThan } = parsed.flags;
    const olderThanMs = parseDuration(olderThan);
    if (olderThanMs === undefined) {
      io.stderr(`s3s3 uploads ${parsed.action}: --older-than ${JSON.stringify(olderThan)} is not ${DURATION_HINT}\n`);
      return EXIT_USAGE;
    }
    return { ...parsed, olderThanMs };
  }
  if (parsed.command === 'trash' && parsed.action === 'purge') {
    const name = 's3s3 trash purge';
    const { olderThan } = parsed.flags;
    if (olderThan === undefined) {
      io.stderr(`${name}: --older-than is required (${DURATION_HINT}); e.g. --older-than 30d\n`);
      return EXIT_USAGE;
    }
    const olderThanMs = parseDuration(olderThan);
    if (olderThanMs === undefined) {
      io.stderr(`${name}: --older-than ${JSON.stringify(olderThan)} is not ${DURATION_HINT}\n`);
      return EXIT_USAGE;
    }
    return { ...parsed, olderThanMs };
  }
  return parsed;
}

/** s3s3: runs one helper subcommand; the exit status. */
export async function main(
  argv: readonly string[] = process.argv.slice(2),
  io: CliIo & { readonly stdin?: Readable } = { ...processIo, stdin: process.stdin },
): Promise<number> {
  const parsed = await parseCommandLine(argv, io);
  if (typeof parsed === 'number') return parsed;
  if (parsed.command === 'status') return runStatus(parsed.keys, parsed.flags, io);
  if (parsed.command === 'queue') return runQueue(parsed.action, parsed.flags, io);
  if (parsed.command === 'trash') return runTrash(parsed.action, parsed.flags, parsed.olderThanMs, io);
  if (parsed.command === 'uploads') return runUploads(parsed.action, parsed.flags, parsed.olderThanMs, io);
  const path = packageFile(SHIPPED[parsed.command].file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    io.stderr(
      `s3s3: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)} ` +
        '(is the package installed whole?)\n',
    );
    return EXIT_FAILED;
  }
  io.stdout(text.endsWith('\n') ? text : text + '\n');
  return EXIT_OK;
}

async function runQueue(action: QueueAction, flags: QueueFlags, io: CliIo): Promise<number> {
  const log = createLogger({ format: 'text', level: 'warn', write: (l) => io.stderr(l + '\n') });
  const config: Config | undefined = loadConfigOrReport(flags.config, io, log);
  if (!config) return EXIT_USAGE;
  if (!config.pubsub.redis) {
    io.stderr(
      `s3s3 queue: ${config.file ?? 'config'} [pubsub] redis: the queue lives in Redis; ` +
        'add [pubsub] with redis = true\n',
    );
    return EXIT_USAGE;
  }
  const q = new SyncQueue(config, { logger: log, name: 's3s3-queue-cli' });
  try {
    // A CLI must not wait forever for an unreachable Redis (the queue's connection would).
    const answer = withTimeout(
      queueAction(q, action, flags, io),
      15_000,
      `redis at ${config.pubsub.redisUrlRedacted} did not answer in 15 s`,
    );
    return await answer;
  } catch (err) {
    // Why it did not answer, when the connection knows (e.g. the sentinels name no such master).
    const why = q.connectionError ? ` (the connection says: ${q.connectionError})` : '';
    io.stderr(`s3s3 queue: ${err instanceof Error ? err.message : String(err)}${why}\n`);
    return EXIT_FAILED;
  } finally {
    await q.close();
  }
}

async function queueAction(q: SyncQueue, action: QueueAction, flags: QueueFlags, io: CliIo): Promise<number> {
  if (action === 'counts') {
    const c = await q.counts();
    io.stdout(
      `waiting=${c.waiting} active=${c.active} delayed=${c.delayed} failed=${c.failed} ` +
        `oldest_waiting_seconds=${c.oldestWaitingSeconds}\n`,
    );
    // One line per distributed sweep in progress (s3s3bucket --distribute), after the unchanged first line.
    for (const r of await distributedRuns(q.config))
      io.stdout(
        `run=${r.run} ranges_waiting=${r.rangesWaiting} ranges_active=${r.rangesActive} ` +
          `ranges_done=${r.rangesDone} keys_listed=${r.keysListed}\n`,
      );
  } else if (action === 'failed') {
    for (const f of await q.failed(flags.limit ?? 100)) {
      const line = {
        key: f.key,
        op: f.op,
        failed_at: new Date(f.at).toISOString(),
        attempts: f.attempts,
        error: f.error,
      };
      io.stdout(`${JSON.stringify(line)}\n`);
    }
  } else {
    const n = await q.clearFailed();
    io.stderr(`s3s3 queue: cleared ${n} failed job(s) from ${q.name}; run s3s3bucket to reconcile those keys\n`);
  }
  return EXIT_OK;
}

async function runTrash(
  action: 'list' | 'purge',
  flags: TrashFlags,
  olderThanMs: number | undefined,
  io: CliIo,
): Promise<number> {
  const name = `s3s3 trash ${action}`;
  const log = createLogger({ format: 'text', level: 'warn', write: (l) => io.stderr(l + '\n') });
  const config: Config | undefined = loadConfigOrReport(flags.config, io, log);
  if (!config) return EXIT_USAGE;
  const sections =
    flags.dest === undefined ? config.destinations : config.destinations.filter((d) => d.name === flags.dest);
  if (sections.length === 0) {
    io.stderr(
      `${name}: no destination section [${flags.dest}] in ${config.file ?? 'the config'}; ` +
        `it has ${config.destinations.map((d) => `[${d.name}]`).join(', ')}\n`,
    );
    return EXIT_USAGE;
  }
  const now = new Date();
  const line = (o: TrashObject) => {
    const age = formatAge(o.lastModified && now.getTime() - o.lastModified.getTime());
    return `${age} ${o.size} ${quoteKey(o.key)} [${o.destination}]`;
  };
  let code = EXIT_OK;
  for (const section of sections) {
    const store = createConnection(section, log);
    try {
      if (action === 'list') {
        for await (const o of listTrash(store)) {
          if (flags.json) {
            // Swift rounds Last-Modified up to the second: a fresh object may look a little in the future.
            const age = o.lastModified
              ? Math.max(0, Math.floor((now.getTime() - o.lastModified.getTime()) / 1000))
              : null;
            const entry = {
              destination: o.destination,
              root: o.root,
              key: o.key,
              size: o.size,
              last_modified: o.lastModified?.toISOString() ?? null,
              age_seconds: age,
            };
            io.stdout(`${JSON.stringify(entry)}\n`);
          } else io.stdout(`${line(o)}\n`);
        }
        continue;
      }
      const report = await purgeTrash(store, {
        olderThanMs: olderThanMs!,
        dryRun: flags.dryRun === true,
        now,
        onObject: (o, what, error) => {
          if (what === 'purged' || what === 'would purge') io.stdout(`${what} ${line(o)}\n`);
          else if (what === 'failed')
            io.stderr(
              `${name}: could not delete ${quoteKey(o.key)} [${o.destination}]: ${error?.message ?? 'unknown error'}\n`,
            );
        },
      });
      const done = flags.dryRun ? `would purge ${report.wouldPurge}` : `purged ${report.purged}`;
      io.stderr(
        `${name}: [${section.name}] ${done} (${report.bytes} bytes), ` +
          `kept ${report.kept} newer than ${flags.olderThan}${report.failed > 0 ? `, ${report.failed} failed` : ''}\n`,
      );
      if (report.failed > 0) code = EXIT_FAILED;
    } catch (err) {
      io.stderr(`${name}: [${section.name}] ${err instanceof Error ? err.message : String(err)}\n`);
      code = EXIT_FAILED;
    } finally {
      store.close();
    }
  }
  return code;
}

async function runUploads(
  action: 'list' | 'abort',
  flags: UploadsFlags,
  olderThanMs: number | undefined,
  io: CliIo,
): Promise<number> {
  const name = `s3s3 uploads ${action}`;
  const log = createLogger({ format: 'text', level: 'warn', write: (l) => io.stderr(l + '\n') });
  const config: Config | undefined = loadConfigOrReport(flags.config, io, log);
  if (!config) return EXIT_USAGE;
  if (flags.dest !== undefined && !config.destinations.some((d) => d.name === flags.dest)) {
    io.stderr(
      `${name}: no destination section [${flags.dest}] in ${config.file ?? 'the config'}; ` +
        `it has ${config.destinations.map((d) => `[${d.name}]`).join(', ')}\n`,
    );
    return EXIT_USAGE;
  }
  const stores = config.destinations.map((d) => createConnection(d, log));
  const journal = openUploadJournal(config);
  const filter = { destination: flags.dest, olderThanMs };
  const line = (u: { ageSeconds: number; size: number; key: string; destination: string; uploadId: string }) =>
    `${formatAge(u.ageSeconds * 1000)} ${u.size} ${quoteKey(u.key)} [${u.destination}] ${u.uploadId}`;
  try {
    if (action === 'list') {
      for (const u of await listUploads(journal, stores, filter)) {
        if (flags.json) {
          const entry = {
            destination: u.destination,
            key: u.key,
            upload_id: u.uploadId,
            size: u.size,
            started: u.startedAt.toISOString(),
            age_seconds: u.ageSeconds,
          };
          io.stdout(`${JSON.stringify(entry)}\n`);
        } else io.stdout(`${line(u)}\n`);
      }
      return EXIT_OK;
    }
    const report = await abortUploads(journal, stores, filter);
    for (const u of report.aborted) io.stdout(`aborted ${line(u)}\n`);
    for (const f of report.failed)
      io.stderr(`${name}: could not abort ${quoteKey(f.key)} [${f.destination}] ${f.uploadId}: ${f.error.message}\n`);
    io.stderr(
      `${name}: aborted ${report.aborted.length}${report.failed.length ? `, ${report.failed.length} failed` : ''}\n`,
    );
    return report.failed.length > 0 ? EXIT_FAILED : EXIT_OK;
  } catch (err) {
    io.stderr(`${name}: ${journal.where}: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT_FAILED;
  } finally {
    for (const s of stores) s.close();
    await journal.close().catch(() => {});
  }
}

async function runStatus(
  given: readonly string[],
  flags: StatusFlags,
  io: CliIo & { readonly stdin?: Readable },
): Promise<number> {
  const log = createLogger({ format: 'text', level: 'warn', write: (l) => io.stderr(l + '\n') });
  const config: Config | undefined = loadConfigOrReport(flags.config, io, log);
  if (!config) return EXIT_USAGE;
  // The keys as given, `-` standing for stdin's; read as they are looked at, never all held.
  async function* keys(): AsyncGenerator<string> {
    for (const k of given) {
      if (k !== '-') yield k;
      else if (io.stdin) yield* keysFrom(io.stdin, flags.null === true);
    }
  }
  let first = true;
  if (flags.json) io.stdout('{"keys":[');
  const print = (k: KeyStatus) => {
    if (flags.json) {
      io.stdout(`${first ? '' : ','}${JSON.stringify(k)}`);
      first = false;
    } else
      for (const [dest, d] of Object.entries(k.destinations))
        io.stdout(`${d.state} ${quoteKey(k.key)} [${dest}]${d.detail ? ` ${d.detail}` : ''}\n`);
  };
  let result: { inSync: boolean; count: number } | undefined;
  let error: unknown;
  try {
    result = await statusEach(config, keys(), print);
  } catch (err) {
    error = err;
  }
  if (flags.json) io.stdout(']}\n');
  if (error !== undefined) {
    io.stderr(`s3s3 status: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_FAILED;
  }
  if (result!.count === 0) {
    io.stderr('s3s3 status: no keys: give them as arguments, or - to read them from stdin\n');
    return EXIT_USAGE;
  }
  return result!.inSync ? EXIT_OK : EXIT_FAILED;
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms))),
  ]).finally(() => clearTimeout(timer));
}

runIfMain(import.meta.url, 's3s3', () => main());
