#!/usr/bin/env node
/**
 * s3s3: helper subcommands (the original's echo_s3s3_supervisord_conf and
 * echo_s3s3_ini_template). Prints the files shipped in the package.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createLogger, SyncQueue, type Config } from '../api/index.js';
import { Command, EXIT_FAILED, EXIT_OK, EXIT_USAGE, loadConfigOrReport, parseArgs, processIo, type CliIo, runIfMain, positiveInt } from './cli.js';

/** The package root: two levels above this file, in dist/scripts/ and in src/scripts/ alike. */
export function packageFile(relative: string): string {
  return fileURLToPath(new URL(`../../${relative}`, import.meta.url));
}

export const SHIPPED = {
  'echo-supervisord-conf': { file: 'extras/s3s3.supervisord.conf', what: 'the supervisord programs: s3s3listen, or an intake and workers' },
  'echo-ini-template': { file: 's3s3.ini.dist', what: 'the config template (copy it to /usr/local/etc/s3s3.ini and fill it in)' },
} as const;

const QUEUE_ACTIONS = ['counts', 'failed', 'clear-failed'] as const;
type QueueAction = (typeof QUEUE_ACTIONS)[number];

interface QueueFlags {
  config?: string;
  limit?: number;
}

export async function main(argv: readonly string[] = process.argv.slice(2), io: CliIo = processIo): Promise<number> {
  let chosen: keyof typeof SHIPPED | undefined;
  let queue: { action: string; flags: QueueFlags } | undefined;
  const program = new Command('s3s3').description('s3s3 helpers. The work is done by s3s3listen, s3s3bucket and s3s3publish.');
  // Before the subcommands exist, so they inherit it (a usage error returns 2, never exits).
  program.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  for (const [name, { what }] of Object.entries(SHIPPED) as [keyof typeof SHIPPED, { what: string }][]) {
    program
      .command(name)
      .description(`print ${what}`)
      .action(() => {
        chosen = name;
      });
  }
  program
    .command('queue')
    .description(
      's3s3listen\'s queue: `queue` prints waiting=N active=N delayed=N failed=N oldest_waiting_seconds=N; `queue failed` lists the failed keys with their last error; `queue clear-failed` empties the failed set',
    )
    .argument('[action]', QUEUE_ACTIONS.join(', '), 'counts')
    .option('-c, --config <file>', 'config file (default: $S3S3_CONFIG, ./s3s3.ini, ~/.s3s3.ini, /usr/local/etc/s3s3.ini, /etc/s3s3.ini)')
    .option('--limit <n>', 'queue failed: list at most this many (default: 100)', positiveInt)
    .action((action: string, flags: QueueFlags) => {
      queue = { action, flags };
    });
  const early = await parseArgs(program, argv, io);
  if (early !== undefined) return early;
  if (queue) return runQueue(queue.action, queue.flags, io);
  if (!chosen) {
    io.stderr(program.helpInformation());
    return EXIT_USAGE;
  }
  const path = packageFile(SHIPPED[chosen].file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    io.stderr(`s3s3: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)} (is the package installed whole?)\n`);
    return EXIT_FAILED;
  }
  io.stdout(text.endsWith('\n') ? text : text + '\n');
  return EXIT_OK;
}

async function runQueue(action: string, flags: QueueFlags, io: CliIo): Promise<number> {
  if (!(QUEUE_ACTIONS as readonly string[]).includes(action)) {
    io.stderr(`s3s3 queue: unknown action ${JSON.stringify(action)}; use ${QUEUE_ACTIONS.join(', ')}\n`);
    return EXIT_USAGE;
  }
  const log = createLogger({ format: 'text', level: 'warn', write: (l) => io.stderr(l + '\n') });
  const config: Config | undefined = loadConfigOrReport(flags.config, io, log);
  if (!config) return EXIT_USAGE;
  if (!config.pubsub.redis) {
    io.stderr(`s3s3 queue: ${config.file ?? 'config'} [pubsub] redis: the queue lives in Redis; add [pubsub] with redis = true\n`);
    return EXIT_USAGE;
  }
  const q = new SyncQueue(config, { logger: log, name: 's3s3-queue-cli' });
  try {
    // A CLI must not wait forever for an unreachable Redis (the queue's connection would).
    const answer = withTimeout(queueAction(q, action as QueueAction, flags, io), 15_000, `redis at ${config.pubsub.redisUrlRedacted} did not answer in 15 s`);
    return await answer;
  } catch (err) {
    io.stderr(`s3s3 queue: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT_FAILED;
  } finally {
    await q.close();
  }
}

async function queueAction(q: SyncQueue, action: QueueAction, flags: QueueFlags, io: CliIo): Promise<number> {
  if (action === 'counts') {
    const c = await q.counts();
    io.stdout(`waiting=${c.waiting} active=${c.active} delayed=${c.delayed} failed=${c.failed} oldest_waiting_seconds=${c.oldestWaitingSeconds}\n`);
  } else if (action === 'failed') {
    for (const f of await q.failed(flags.limit ?? 100)) {
      io.stdout(`${JSON.stringify({ key: f.key, op: f.op, failed_at: new Date(f.at).toISOString(), attempts: f.attempts, error: f.error })}\n`);
    }
  } else {
    const n = await q.clearFailed();
    io.stderr(`s3s3 queue: cleared ${n} failed job(s) from ${q.name}; run s3s3bucket to reconcile those keys\n`);
  }
  return EXIT_OK;
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]).finally(() => clearTimeout(timer));
}

runIfMain(import.meta.url, 's3s3', () => main());
