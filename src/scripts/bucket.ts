#!/usr/bin/env -S node --max-old-space-size=128 --max-semi-space-size=8 --expose-gc
/** s3s3bucket: sweep the source bucket to every destination (run it from cron). */
import {
  BucketClient,
  configFeatureProblems,
  checkBucket,
  checkVersions,
  checkMetricsFile,
  writeSweepMetrics,
  createLogger,
  describeHolder,
  ReportWriter,
  requeueFailed,
  Enqueuer,
  distributeSweep,
  SweepLock,
  type CheckLine,
  type CheckReport,
  type Config,
  type DuplicateOptions,
  type DuplicateReport,
  type HeldLock,
  type Logger,
  resultRow,
  type TargetResult,
  quoteKey,
  runsJson,
  sendRunReport,
  type RunReport,
  reclaimStreamedBuffers,
} from '../api/index.js';
import { deletesAt, GlobError, validateGlobs } from '../api/index.js';
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
} from './cli.js';
import { addFlags, limitOverrides } from './flags.js';
import { BUCKET_FLAGS, bucketUsageConflict, type BucketFlags } from './bucket-flags.js';

/** Which keys a sweep or a check considers, and how many at once. */
function scope(flags: BucketFlags) {
  return {
    prefix: flags.prefix,
    concurrency: flags.concurrency,
    minSize: flags.minSize,
    maxSize: flags.maxSize,
    include: flags.include,
    exclude: flags.exclude,
  };
}

/**
 * s3s3bucket's command line, parsed and checked without running anything: the flags, or the
 * exit status when there is nothing to run (2: a usage error, already on stderr; 0: --help).
 * A bad glob and flags that do not combine are usage errors, found before any config is read.
 */
export async function parseCommandLine(argv: readonly string[], io: CliIo): Promise<BucketFlags | number> {
  let flags: BucketFlags | undefined;
  const program = addFlags(
    new Command('s3s3bucket').description(
      'Copy every object of the [source] bucket to every [dest*] bucket that lacks it or differs.',
    ),
    BUCKET_FLAGS,
  ).action((opts: BucketFlags) => {
    flags = opts;
  });
  const early = await parseArgs(program, argv, io);
  if (early !== undefined) return early;
  if (!flags) return EXIT_USAGE;
  if (flags.logFormat !== 'text' && flags.logFormat !== 'json') {
    io.stderr(`s3s3bucket: --log-format must be text or json, not ${JSON.stringify(flags.logFormat)}\n`);
    return EXIT_USAGE;
  }
  // A bad glob is a usage error, found before the config is read or anything is connected to.
  for (const [option, globs] of [
    ['--include', flags.include],
    ['--exclude', flags.exclude],
  ] as const) {
    try {
      validateGlobs(globs);
    } catch (err) {
      if (!(err instanceof GlobError)) throw err;
      io.stderr(`s3s3bucket: ${option} ${JSON.stringify(err.glob)}: ${err.problem}\n`);
      return EXIT_USAGE;
    }
  }
  const conflict = bucketUsageConflict(flags);
  if (conflict) {
    io.stderr(`s3s3bucket: ${conflict}\n`);
    return EXIT_USAGE;
  }
  return flags;
}

/** s3s3bucket: sweeps (or checks) every config's pair in turn; the exit status (0, 1, or 2 for usage). */
export async function main(argv: readonly string[] = process.argv.slice(2), io: CliIo = processIo): Promise<number> {
  // The bin's --expose-gc: dead socket buffers are reclaimed as a copy streams (copy/reclaim.ts).
  reclaimStreamedBuffers();
  const flags = await parseCommandLine(argv, io);
  if (typeof flags === 'number') return flags;
  const log = createLogger({
    format: flags.logFormat as 'text' | 'json',
    level: flags.quiet ? 'warn' : 'info',
    write: (l) => io.stderr(l + '\n'),
  });
  // Every config is read first: a mistake in any file stops the run before any sweep.
  const files = flags.config.length > 0 ? flags.config : [undefined];
  const loaded = files.map((file) => loadConfigOrReport(file, io, log, limitOverrides(flags)));
  const configs = loaded.filter((c): c is Config => c !== undefined);
  if (configs.length !== loaded.length) return EXIT_USAGE;

  for (const config of configs) {
    if (flags.distribute && !config.pubsub.redis) {
      io.stderr(
        's3s3bucket: --distribute puts key ranges on a queue in Redis for the workers; ' +
          `${config.file ?? 'config'} has no [pubsub] with redis = true\n`,
      );
      return EXIT_USAGE;
    }
    if (flags.enqueue && !config.pubsub.redis) {
      io.stderr(
        `s3s3bucket: --enqueue queues jobs in Redis; ${config.file ?? 'config'} has no [pubsub] with redis = true\n`,
      );
      return EXIT_USAGE;
    }
    if ((flags.distribute || flags.enqueue) && config.source.versions) {
      io.stderr(
        `s3s3bucket: ${flags.distribute ? '--distribute' : '--enqueue'} does not copy version histories; ` +
          `${config.file ?? 'config'} has [source] versions = true: run the sweep without it\n`,
      );
      return EXIT_USAGE;
    }
    if (flags.retryFailed && !config.pubsub.redis) {
      io.stderr(
        "s3s3bucket: --retry-failed re-queues s3s3listen's failed jobs in Redis; " +
          `${config.file ?? 'config'} has no [pubsub] with redis = true\n`,
      );
      return EXIT_USAGE;
    }
  }
  // What the buckets must have (Object Lock for object_lock = copy): checked before any sweep.
  for (const config of configs) {
    const problems = await configFeatureProblems(config, log);
    for (const p of problems) io.stderr(`s3s3bucket: ${config.file ?? 'config'} ${p}\n`);
    if (problems.length > 0) return EXIT_USAGE;
  }
  if (flags.metricsFile !== undefined) {
    try {
      checkMetricsFile(flags.metricsFile);
    } catch (err) {
      io.stderr(`s3s3bucket: --metrics-file: ${err instanceof Error ? err.message : String(err)}\n`);
      return EXIT_USAGE;
    }
  }
  // Opened before anything runs, so a path that cannot be written fails the command at once.
  let report: ReportWriter | undefined;
  if (flags.report !== undefined) {
    try {
      // Raw keys only when every config asks: one file mixes the pairs' rows.
      report = ReportWriter.open(flags.report, undefined, { rawKeys: configs.every((c) => c.pubsub.reportRawKeys) });
    } catch (err) {
      io.stderr(`s3s3bucket: --report: ${err instanceof Error ? err.message : String(err)}\n`);
      return EXIT_USAGE;
    }
  }
  // First SIGINT/SIGTERM: take no new objects, let the copies in flight finish (a PUT cut
  // short leaves nothing; a multipart upload would leave parts), report, exit 1; the pairs
  // not yet swept are left for the next run. A second one exits at once.
  const stop = new AbortController();
  let signals = 0;
  const onSignal = (name: NodeJS.Signals): void => {
    if (++signals > 1) process.exit(name === 'SIGINT' ? 130 : 143);
    log.warn('signal received: finishing the copies in flight, then stopping (again to stop at once)', {
      signal: name,
    });
    stop.abort(new Error(`interrupted by ${name}; the next run copies the rest`));
  };
  const handle = io === processIo;
  if (handle) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  // A report that cannot be written stops the run: the operator's record would have holes.
  const reportStop = new AbortController();
  const runs: RunReport[] = [];
  try {
    for (const config of configs)
      runs.push(await runPair(config, flags, log, io, { stop, reportStop, reportFile: report }));
  } finally {
    if (handle) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    report?.close();
  }
  const { total } = runsJson(runs);
  if (configs.length > 1 && !flags.check) {
    const bad = runs.filter((r) => r.exitCode !== EXIT_OK);
    log.info(
      `${runs.length} pairs done${bad.length ? `; failed: ${bad.map((r) => r.config ?? r.source).join(', ')}` : ''}`,
      {
        listed: total.listed,
        copied: total.copied,
        skipped: total.skipped,
        failed: total.failed,
        deleted: total.deleted,
        bytes: total.bytes,
        seconds: total.seconds,
        exitCode: total.exitCode,
      },
    );
  }
  if (flags.json && !flags.check) {
    if (configs.length > 1) io.stdout(JSON.stringify(runsJson(runs)) + '\n');
    else for (const doc of runs[0]!.json) io.stdout(JSON.stringify(doc) + '\n');
  }
  // One report for the whole run, from the first config with [notify]; only sweeps send one.
  const notify = configs.find((c) => c.notify !== undefined)?.notify;
  if (notify && !flags.check && !flags.dryRun && !flags.retryFailed) await sendRunReport(notify, runs, { logger: log });
  return total.exitCode;
}

interface RunStops {
  /** Aborted by SIGINT/SIGTERM: the run in flight stops, the next pairs are not swept. */
  readonly stop: AbortController;
  /** Aborted when a --report row cannot be written. */
  readonly reportStop: AbortController;
  readonly reportFile: ReportWriter | undefined;
}

/**
 * One config's pair, as a RunReport. An error that ends it is one line on stderr and exit
 * status 1 for this pair; the next pair is still swept.
 */
async function runPair(
  config: Config,
  flags: BucketFlags,
  log: Logger,
  io: CliIo,
  stops: RunStops,
): Promise<RunReport> {
  const base = {
    config: config.file,
    source: `${config.source.bucket} at ${config.source.endpoint}`,
    destinations: Object.fromEntries(config.destinations.map((d) => [d.name, `${d.bucket} at ${d.endpoint}`])),
  };
  const halted = stops.stop.signal.aborted
    ? (stops.stop.signal.reason as Error).message
    : stops.reportStop.signal.aborted
      ? 'the --report file could not be written'
      : undefined;
  if (halted !== undefined) return { ...base, exitCode: EXIT_FAILED, notRun: `not swept: ${halted}`, json: [] };
  try {
    const r = await locked(config, flags, log, io, stops);
    return { ...base, ...r };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    io.stderr(`s3s3bucket: ${message}\n`);
    return { ...base, exitCode: EXIT_FAILED, error: message, json: [] };
  }
}

/** What one pair's run gives back: its exit status, what --json prints, and the figures. */
type PairOutcome = Pick<RunReport, 'exitCode' | 'json' | 'sweep' | 'queued' | 'notRun'>;

async function locked(
  config: Config,
  flags: BucketFlags,
  log: Logger,
  io: CliIo,
  stops: RunStops,
): Promise<PairOutcome> {
  // Two sweeps of the same buckets never overlap (a dry run or a check writes nothing, so needs no lock).
  let held: HeldLock | null = null;
  const { stop, reportStop, reportFile } = stops;
  const lock = flags.dryRun || flags.check ? undefined : new SweepLock(config, { lockFile: flags.lockFile });
  if (lock) {
    held = await lock.acquire({
      wait: flags.wait,
      // A signal while waiting (--wait) stops the wait, as it stops a sweep.
      signal: stop.signal,
      onFallback: (err) =>
        log.warn('cannot reach Redis for the sweep lock; using a lock file instead', { error: err.message }),
      onBusy: (by) =>
        log.info(
          flags!.wait
            ? 'another sweep of these buckets is running; waiting for it'
            : 'already running: another sweep of these buckets holds the lock; exiting',
          { lock: lock.name, holder: describeHolder(by) },
        ),
    });
    if (!held) {
      await lock.close();
      if (stop.signal.aborted)
        return { exitCode: EXIT_FAILED, notRun: `not swept: ${(stop.signal.reason as Error).message}`, json: [] };
      return { exitCode: EXIT_OK, notRun: 'another sweep of these buckets holds the lock', json: [] };
    }
  }
  const signal = AbortSignal.any([stop.signal, reportStop.signal, ...(held ? [held.signal] : [])]);
  const onResult = reportFile ? reportRows(config, reportFile, log, reportStop) : undefined;
  try {
    if (flags.check) return { exitCode: await runCheck(config, flags, log, io, signal), json: [] };
    const outcome = flags.retryFailed
      ? await runRetryFailed(config, flags, log)
      : await sweep(config, flags, log, io, signal, onResult);
    return reportStop.signal.aborted ? { ...outcome, exitCode: EXIT_FAILED } : outcome;
  } finally {
    await held?.release().catch((err: unknown) =>
      log.warn('could not release the lock; it expires by itself', {
        error: err instanceof Error ? err.message : String(err),
      }),
    );
    await lock?.close();
  }
}

/** The CSV rows of --report, from each settled key and destination; a row that cannot be written stops the run. */
function reportRows(
  config: Config,
  writer: ReportWriter,
  log: Logger,
  stop: AbortController,
): (r: TargetResult) => void {
  return (r: TargetResult) => {
    const row = resultRow(config, r);
    if (row === undefined || stop.signal.aborted) return;
    try {
      writer.row(row);
    } catch (err) {
      log.error(`stopping: ${err instanceof Error ? err.message : String(err)}`);
      stop.abort(err);
    }
  };
}

async function runCheck(
  config: Config,
  flags: BucketFlags,
  log: Logger,
  io: CliIo,
  signal: AbortSignal,
): Promise<number> {
  const client = new BucketClient(config, { logger: log });
  let items = 0;
  // JSON is streamed, one difference at a time, so memory stays flat however many there are.
  const onLine = (l: CheckLine) => {
    if (l.mark === '=' && !flags.checkAll) return;
    if (flags.json) {
      const item = {
        mark: l.mark,
        key: l.key,
        destination: l.destination,
        ...(l.destinationKey !== undefined && l.destinationKey !== l.key ? { destinationKey: l.destinationKey } : {}),
        ...(l.reason ? { reason: l.reason } : {}),
      };
      io.stdout((items++ === 0 ? '' : ',\n') + JSON.stringify(item));
    } else io.stdout(`${l.mark} ${quoteKey(l.key)} [${l.destination}]\n`);
  };
  log.info('check started', {
    source: `${config.source.bucket} at ${config.source.endpoint}`,
    destinations: config.destinations.map((d) => `[${d.name}] ${d.bucket} at ${d.endpoint}`),
  });
  if (flags.json) io.stdout('{"differences":[');
  let report: CheckReport | undefined;
  try {
    report = await (config.source.versions ? checkVersions : checkBucket)(client.source, client.destinations, {
      ...scope(flags),
      download: flags.download,
      checkMetadata: flags.checkMetadata,
      logger: log,
      signal,
      onLine,
    });
  } finally {
    client.close();
    if (flags.json) {
      const r = report;
      const tail = r
        ? { counts: r.destinations, listed: r.listed, errors: r.errors, aborted: r.aborted ?? null, ok: r.ok }
        : { counts: {}, listed: 0, errors: 0, aborted: 'the check failed', ok: false };
      io.stdout(`]${JSON.stringify(tail).replace(/^\{/, ',')}\n`);
    }
  }
  if (report.aborted) log.error(`check stopped: ${signal.aborted ? (signal.reason as Error).message : report.aborted}`);
  const totals = Object.fromEntries(
    Object.entries(report.destinations).map(([d, c]) => [
      d,
      `+${c['+']} -${c['-']} *${c['*']} ?${c['?']} =${c['=']}${c.v !== undefined ? ` v${c.v}` : ''}`,
    ]),
  );
  const outcome = report.aborted
    ? 'check did not finish'
    : report.errors > 0
      ? 'check finished: some keys could not be checked'
      : report.ok
        ? 'check finished: the destinations match'
        : 'check finished: differences found';
  log.info(outcome, {
    listed: report.listed,
    ...totals,
    errors: report.errors,
    seconds: Number(report.seconds.toFixed(3)),
  });
  return report.ok ? EXIT_OK : EXIT_FAILED;
}

/** s3s3listen's failed jobs go back to the queue, for its workers (any role but intake) to run. */
async function runRetryFailed(config: Config, flags: BucketFlags, log: Logger): Promise<PairOutcome> {
  const report = await requeueFailed(config, {
    logger: log,
    prefix: flags.prefix,
    include: flags.include,
    exclude: flags.exclude,
  });
  log.info('failed jobs queued again for the workers (s3s3listen copies them)', { ...report });
  return { exitCode: EXIT_OK, json: [{ ...report }] };
}

async function sweep(
  config: Config,
  flags: BucketFlags,
  log: Logger,
  io: CliIo,
  signal: AbortSignal,
  onReport?: (r: TargetResult) => void,
): Promise<PairOutcome> {
  if (flags.enqueue) return enqueueSweep(config, flags, log, io, signal);
  const client = new BucketClient(config, { logger: log });
  const progress = new Progress(io, !flags.quiet && process.stderr.isTTY === true && io === processIo);
  const dryRun = flags.dryRun === true;
  const printDry = (r: TargetResult) => {
    const line =
      r.outcome === 'would delete'
        ? `would delete ${quoteKey(r.key)} -> [${r.destination}]\n`
        : `would copy ${quoteKey(r.key)} -> [${r.destination}] (${r.reason ?? 'missing'})\n`;
    if (flags!.json) io.stderr(line);
    else io.stdout(line);
  };
  log.info('sweep started', {
    source: `${config.source.bucket} at ${config.source.endpoint}`,
    destinations: config.destinations.map((d) => `[${d.name}] ${d.bucket} at ${d.endpoint}`),
    dryRun,
  });
  let report: DuplicateReport;
  try {
    const options: DuplicateOptions = {
      dryRun,
      force: flags.force,
      verifyMd5: flags.verifyMd5,
      ...scope(flags),
      delete: flags.delete,
      maxDelete: flags.maxDelete,
      allowEmptySource: flags.allowEmptySource,
      signal,
      onResult: (r) => {
        if (r.outcome === 'would copy' || r.outcome === 'would delete') printDry(r);
        else if (r.outcome === 'deleted' || r.outcome === 'trashed')
          log.info(r.outcome === 'trashed' ? 'moved to the trash' : 'deleted', {
            key: r.key,
            destination: r.destination,
          });
        else if (r.outcome === 'failed')
          log.error('copy failed', { key: r.key, destination: r.destination, error: r.error?.message });
        else if (r.outcome === 'gone')
          log.info('gone from source, skipped', { key: r.key, destination: r.destination });
        else if (r.outcome === 'copied')
          log.debug('copied', { key: r.key, destination: r.destination, bytes: r.bytes, method: r.method });
        onReport?.(r);
        progress.add(r);
      },
      checkMetadata: flags.checkMetadata,
    };
    report = flags.distribute
      ? await distributeSweep(config, {
          ...options,
          logger: log,
          maxWaitMs: flags.maxWait,
          splitEvery: flags.splitEvery,
          // --report's rows travel from the workers only when asked for.
          onResult: onReport ? options.onResult : undefined,
          onProgress: (p) =>
            log.info('distributed sweep progress', {
              run: p.run,
              phase: p.phase,
              ranges: `${p.rangesDone}/${p.rangesTotal}`,
              listed: p.listed,
              copied: p.copied,
              failed: p.failed,
              keysPerSecond: p.keysPerSecond,
            }),
        })
      : await client.duplicate(options);
  } finally {
    progress.stop();
    client.close();
  }
  const summary = {
    listed: report.listed,
    copied: report.copied,
    skipped: report.skipped,
    gone: report.gone,
    failed: report.failed,
    wouldCopy: report.wouldCopy,
    deleted: report.deleted,
    wouldDelete: report.wouldDelete,
    bytes: report.bytes,
    seconds: Number(report.seconds.toFixed(3)),
  };
  if (report.aborted) log.error(`sweep stopped: ${signal.aborted ? (signal.reason as Error).message : report.aborted}`);
  log.info(dryRun ? 'dry run finished' : 'sweep finished', {
    ...summary,
    mibPerSecond: Number((report.bytes / 1048576 / Math.max(report.seconds, 0.001)).toFixed(2)),
  });
  const json = {
    ...summary,
    aborted: report.aborted ?? null,
    deletesSkipped: report.deletesSkipped ?? null,
    refused: report.refused ?? [],
    destinations: report.destinations,
    failures: report.failures,
  };
  const code = report.failed > 0 || report.aborted || (report.refused?.length ?? 0) > 0 ? EXIT_FAILED : EXIT_OK;
  if (flags.metricsFile !== undefined) {
    try {
      await writeSweepMetrics(flags.metricsFile, report, {
        exitCode: code,
        labels: { source: `${config.source.bucket}`, destinations: config.destinations.map((d) => d.bucket).join(',') },
      });
    } catch (err) {
      log.error('cannot write --metrics-file; the sweep itself is done', {
        file: flags.metricsFile,
        error: err instanceof Error ? err.message : String(err),
      });
      return { exitCode: EXIT_FAILED, json: [json], sweep: report };
    }
  }
  return { exitCode: code, json: [json], sweep: report };
}

/**
 * `--enqueue`: the sweep's plan, its copies queued for the workers (deletes left out).
 * With `--wait-drained`, waits for the queue to drain; with `--delete` too, and no job
 * failed, a plain sweep follows that copies whatever changed meanwhile and deletes, with
 * the usual guards.
 */
async function enqueueSweep(
  config: Config,
  flags: BucketFlags,
  log: Logger,
  io: CliIo,
  signal: AbortSignal,
): Promise<PairOutcome> {
  const enqueuer = new Enqueuer(config, { logger: log, maxQueued: flags.maxQueued, signal });
  const client = new BucketClient(config, { logger: log });
  let report: DuplicateReport;
  try {
    log.info('sweep started: copies are queued for the workers', {
      queue: enqueuer.queue.name,
      maxQueued: enqueuer.maxQueued,
    });
    // Planning deletes nothing (no copy has happened yet); only a plain sweep after a clean run does.
    const deleting = client.destinations
      .filter((d) => deletesAt(d, { delete: flags.delete }))
      .map((d) => `[${d.name}]`);
    if (deleting.length > 0 && !flags.delete) {
      log.warn(
        `--enqueue deletes nothing while planning: keys the source lacks stay in ${deleting.join(', ')} ` +
          '(delete = true) until a plain sweep (s3s3bucket, or s3s3bucket --enqueue --delete --wait-drained) ' +
          'deletes them',
      );
    }
    report = await client.duplicate({
      ...scope(flags),
      verifyMd5: flags.verifyMd5,
      checkMetadata: flags.checkMetadata,
      signal,
      onCopy: async (key, info) => {
        await enqueuer.add(key, 'put', { size: info.size, etag: info.etag });
        return [];
      },
      onResult: (r) => {
        if (r.outcome === 'failed') log.error('could not queue', { key: r.key, error: r.error?.message });
      },
    });
    log.info('sweep planned', {
      listed: report.listed,
      queued: enqueuer.added,
      skipped: report.skipped,
      failed: report.failed,
      seconds: Number(report.seconds.toFixed(3)),
    });
    if (report.aborted)
      log.error(`sweep stopped: ${signal.aborted ? (signal.reason as Error).message : report.aborted}`);
    const summary: Record<string, unknown> = {
      listed: report.listed,
      queued: enqueuer.added,
      skipped: report.skipped,
      failed: report.failed,
      aborted: report.aborted ?? null,
    };
    let code = report.failed > 0 || report.aborted ? EXIT_FAILED : EXIT_OK;
    if (flags.waitDrained && code === EXIT_OK) {
      log.info('waiting for the queue to drain', { queue: enqueuer.queue.name });
      const drained = await enqueuer.drained();
      summary.jobsFailed = drained.failed.length;
      if (signal.aborted) code = EXIT_FAILED;
      else if (drained.failed.length > 0) {
        log.error(
          'queue drained; some jobs failed (see s3s3 queue failed; s3s3bucket --retry-failed queues them again)',
          { failed: drained.failed.length, first: drained.failed.slice(0, 10).map((f) => f.key) },
        );
        code = EXIT_FAILED;
      } else log.info('queue drained; every job succeeded', { queue: enqueuer.queue.name });
    }
    const planned: PairOutcome = { exitCode: code, json: [summary], sweep: report, queued: enqueuer.added };
    if (code === EXIT_OK && flags.delete) {
      log.info('every copy job succeeded: sweeping once more, deleting what the source lacks');
      const then = await sweep(config, { ...flags, enqueue: false }, log, io, signal);
      return { ...then, json: [summary, ...then.json], queued: enqueuer.added };
    }
    return planned;
  } finally {
    client.close();
    await enqueuer.close();
  }
}

/** One self-rewriting line on a terminal: objects and bytes done, and the rate. */
class Progress {
  private objects = 0;
  private bytes = 0;
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly io: CliIo,
    enabled: boolean,
  ) {
    this.timer = enabled ? setInterval(() => this.draw(), 500) : undefined;
    this.timer?.unref();
  }

  add(r: TargetResult): void {
    this.objects++;
    this.bytes += r.bytes;
  }

  private draw(): void {
    const s = (performance.now() - this.started) / 1000;
    this.io.stderr(
      `\r${this.objects} done, ${(this.bytes / 1048576).toFixed(1)} MiB, ` +
        `${(this.objects / s).toFixed(0)} obj/s, ${(this.bytes / 1048576 / s).toFixed(1)} MiB/s `,
    );
  }

  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.draw();
    this.io.stderr('\n');
  }
}

runIfMain(import.meta.url, 's3s3bucket', () => main());
