#!/usr/bin/env -S node --max-old-space-size=128 --max-semi-space-size=4 --expose-gc
/**
 * s3s3listen: the real-time daemon (Redis pub/sub). Runs until SIGTERM or SIGINT.
 * The V8 flags in the first line keep the heap near what is live (the daemon holds little:
 * at most a bounded queue of keys); without them V8 lets a long burst grow RSS by ~60 MiB.
 * ecosystem.config.cjs passes the same flags (pm2 runs `node script`, not the shebang).
 */
import {
  configFeatureProblems,
  createLogger,
  HttpStartError,
  ListenClient,
  LISTEN_ROLES,
  ReportError,
  type ListenRole,
  reclaimStreamedBuffers,
} from '../api/index.js';
import {
  Command,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  loadConfigOrReport,
  parseArgs,
  processIo,
  type CliIo,
  runIfMain,
  positiveInt,
  durationFlag,
} from './cli.js';
import {
  addFlags,
  boolFlag,
  CONFIG_FLAG,
  LIMIT_FLAGS,
  limitOverrides,
  LOG_FORMAT_FLAG,
  parsedFlag,
  textFlag,
  type FlagValues,
} from './flags.js';

/** Every flag of s3s3listen, in the order of its `--help`. */
export const LISTEN_FLAGS = {
  config: CONFIG_FLAG,
  concurrency: parsedFlag(
    '--concurrency <n>',
    'keys copied at once (default: [pubsub] concurrency, else [source] concurrency)',
    positiveInt,
  ),
  verifyMd5: boolFlag('--verify-md5', 'verify every copy by MD5, reading it back where the ETag is not an MD5'),
  ...LIMIT_FLAGS,
  /** Milliseconds (parsed by durationFlag), as are the other durations. */
  statusInterval: parsedFlag(
    '--status-interval <duration>',
    'log a status line (counters, queue, redis ok/degraded) this often: 30, 90s, 15m, 26h, 7d (default: 10m)',
    durationFlag,
  ),
  bucketProbeInterval: parsedFlag(
    '--bucket-probe-interval <duration>',
    'while a bucket is missing, look for it this often (default: 30s)',
    durationFlag,
  ),
  role: textFlag(
    '--role <role>',
    'all (receive and copy; the default), intake (receive and queue only) or worker (copy queued keys only): ' +
      'one [pubsub] queue, shared by any number of workers',
    'all',
  ),
  jobLock: parsedFlag(
    '--job-lock <duration>',
    "a running job's lock; a killed worker's keys run elsewhere once it expires (default: 30s)",
    durationFlag,
  ),
  logFormat: LOG_FORMAT_FLAG,
  verbose: boolFlag('-v, --verbose', 'also log each copy as it starts (debug)'),
  checkConfig: boolFlag('--check-config', 'validate the config and exit'),
} as const;

/** s3s3listen's parsed flags, typed from LISTEN_FLAGS. */
export type ListenFlags = FlagValues<typeof LISTEN_FLAGS>;

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };

/**
 * s3s3listen's command line, parsed and checked without running anything: the flags, or the
 * exit status when there is nothing to run (2: a usage error, already on stderr; 0: --help).
 */
export async function parseCommandLine(argv: readonly string[], io: CliIo): Promise<ListenFlags | number> {
  let flags: ListenFlags | undefined;
  const program = addFlags(
    new Command('s3s3listen').description(
      'Copy each key announced on the Redis channel (or, with [http], notified by the provider to POST /events) ' +
        'from [source] to every [dest*] bucket, through the durable queue. Runs until SIGTERM/SIGINT.',
    ),
    LISTEN_FLAGS,
  ).action((opts: ListenFlags) => {
    flags = opts;
  });
  const early = await parseArgs(program, argv, io);
  if (early !== undefined) return early;
  if (!flags) return EXIT_USAGE;
  if (flags.logFormat !== 'text' && flags.logFormat !== 'json') {
    io.stderr(`s3s3listen: --log-format must be text or json, not ${JSON.stringify(flags.logFormat)}\n`);
    return EXIT_USAGE;
  }
  if (!(LISTEN_ROLES as readonly string[]).includes(flags.role)) {
    io.stderr(`s3s3listen: --role must be one of ${LISTEN_ROLES.join(', ')}, not ${JSON.stringify(flags.role)}\n`);
    return EXIT_USAGE;
  }
  return flags;
}

/** s3s3listen: runs the listener (or one role of it) until a signal; the exit status. */
export async function main(argv: readonly string[] = process.argv.slice(2), io: CliIo = processIo): Promise<number> {
  // The bin's --expose-gc: dead socket buffers are reclaimed as a copy streams (copy/reclaim.ts).
  reclaimStreamedBuffers();
  const flags = await parseCommandLine(argv, io);
  if (typeof flags === 'number') return flags;
  const log = createLogger({
    format: flags.logFormat as 'text' | 'json',
    level: flags.verbose ? 'debug' : 'info',
    write: (l) => io.stderr(l + '\n'),
  });
  const config = loadConfigOrReport(flags.config, io, log, limitOverrides(flags));
  if (!config) return EXIT_USAGE;
  if (!config.pubsub.redis) {
    io.stderr(
      `s3s3listen: ${config.file ?? 'config'} [pubsub] redis: the listener needs Redis; ` +
        'add [pubsub] with redis = true (and redis_url or host/port)\n',
    );
    return EXIT_USAGE;
  }
  const p = config.pubsub;
  log.info('config ok', {
    source: `${config.source.bucket} at ${config.source.endpoint}`,
    destinations: config.destinations.map((d) => `[${d.name}] ${d.bucket} at ${d.endpoint}`),
    redis: p.redisUrlRedacted,
    channel: p.channel,
    concurrency: flags.concurrency ?? p.concurrency,
  });
  // What the buckets must have (Object Lock for object_lock = copy): a worker would copy wrongly without it.
  if (flags.role !== 'intake') {
    const problems = await configFeatureProblems(config, log);
    for (const problem of problems) io.stderr(`s3s3listen: ${config.file ?? 'config'} ${problem}\n`);
    if (problems.length > 0) return EXIT_USAGE;
  }
  if (flags.checkConfig) return EXIT_OK;

  const shared = {
    logger: log,
    concurrency: flags.concurrency,
    verifyMd5: flags.verifyMd5,
    statusIntervalMs: flags.statusInterval,
    bucketProbeMs: flags.bucketProbeInterval,
  };
  const role = flags.role as ListenRole;
  const client = new ListenClient(config, { ...shared, role, jobLockMs: flags.jobLock });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      // The one place we exit at once: the operator asked twice.
      log.warn('second signal: exiting now; unfinished keys stay queued and run again once their lock expires', {
        signal,
      });
      process.exit(128 + (SIGNAL_NUMBERS[signal] ?? 15));
    }
    log.info('signal received', { signal });
    void client.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    try {
      await client.start();
    } catch (err) {
      // A report file that cannot be opened or a port that is taken is the config's problem: one line, exit 2.
      if (err instanceof HttpStartError) {
        io.stderr(`s3s3listen: ${config.file ?? 'config'} ${err.message}\n`);
        return EXIT_USAGE;
      }
      if (!(err instanceof ReportError)) throw err;
      io.stderr(`s3s3listen: ${config.file ?? 'config'} [pubsub] report: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (signals === 0)
      log.info(role === 'worker' ? 'working' : 'listening', {
        role,
        queue: client.queueName,
        channel: role === 'worker' ? undefined : p.channel,
        marker: p.marker,
      });
    await client.stopped;
  } finally {
    await client.stop();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
  // Keys received but never queued were named one per line: the run lost work, exit 1.
  return client.unqueued.length > 0 ? EXIT_FAILED : EXIT_OK;
}

// Exit once stopped, even with a copy past the shutdown timeout still running: its job keeps
// its lock in Redis and runs again once the lock expires.
runIfMain(import.meta.url, 's3s3listen', async () => {
  const code = await main();
  process.exit(code);
});
