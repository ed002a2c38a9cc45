#!/usr/bin/env node
/** s3s3listen: the real-time daemon (Redis pub/sub). */
import { Command } from 'commander';
import { createLogger } from '../api/index.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, isMain, loadConfigOrReport, parseArgs, processIo, type CliIo } from './cli.js';

interface ListenFlags {
  config?: string;
  logFormat: 'text' | 'json';
  checkConfig?: boolean;
}

export async function main(argv: readonly string[] = process.argv.slice(2), io: CliIo = processIo): Promise<number> {
  let flags: ListenFlags | undefined;
  const program = new Command('s3s3listen')
    .description('Copy each key announced on the Redis channel from [source] to every [dest*] bucket.')
    .option('-c, --config <file>', 'config file (default: $S3S3_CONFIG, ./s3s3.ini, ~/.s3s3.ini, /usr/local/etc/s3s3.ini, /etc/s3s3.ini)')
    .option('--log-format <format>', 'text or json', 'text')
    .option('--check-config', 'validate the config and exit')
    .action((opts: ListenFlags) => {
      flags = opts;
    });
  const early = await parseArgs(program, argv, io);
  if (early !== undefined) return early;
  if (!flags) return EXIT_USAGE;
  const log = createLogger({ format: flags.logFormat === 'json' ? 'json' : 'text', write: (l) => io.stderr(l + '\n') });
  const config = loadConfigOrReport(flags.config, io, log);
  if (!config) return EXIT_USAGE;
  if (!config.pubsub.redis) {
    io.stderr(`s3s3listen: ${config.file ?? 'config'} [pubsub] redis: the listener needs Redis; add [pubsub] with redis = true (and redis_url or host/port)\n`);
    return EXIT_USAGE;
  }
  log.info('config ok', { source: config.source.bucket, destinations: config.destinations.map((d) => d.name), channel: config.pubsub.channel, redis: config.pubsub.redisUrlRedacted });
  if (flags.checkConfig) return EXIT_OK;
  io.stderr('s3s3listen: the listener daemon is not built yet (issue #4); only --check-config works\n');
  return EXIT_FAILED;
}

if (isMain(import.meta.url)) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`s3s3listen: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = EXIT_FAILED;
    },
  );
}
