#!/usr/bin/env node
/** s3s3publish: announce keys to s3s3listen (for shell scripts and cron). */
import type { Readable } from 'node:stream';
import { createLogger, InvalidKeyError, Publisher, RedisError } from '../api/index.js';
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
} from './cli.js';
import { addFlags, boolFlag, CONFIG_FLAG, NULL_FLAG, type FlagValues } from './flags.js';

/** Every flag of s3s3publish, in the order of its `--help`. */
export const PUBLISH_FLAGS = {
  config: CONFIG_FLAG,
  null: NULL_FLAG,
  delete: boolFlag(
    '--delete',
    'announce deletions ({"key": ..., "op": "delete"}): listeners delete the keys where the source has none ' +
      'and [dest*] delete = true',
  ),
  json: boolFlag('--json', 'send JSON messages {"key": ..., "op": "put"} instead of the plain key'),
  quiet: boolFlag('-q, --quiet', 'only warnings and errors on stderr'),
} as const;

/** s3s3publish's parsed flags, typed from PUBLISH_FLAGS. */
export type PublishFlags = FlagValues<typeof PUBLISH_FLAGS>;

/** What the io of s3s3publish has besides stdout and stderr: where keys come from. */
export interface PublishIo extends CliIo {
  /** Where keys come from when none are given as arguments. */
  readonly stdin?: Readable;
}

/**
 * s3s3publish's command line, parsed without running anything: the flags and the keys given as
 * arguments, or the exit status when there is nothing to run (2: a usage error; 0: --help).
 */
export async function parseCommandLine(
  argv: readonly string[],
  io: CliIo,
): Promise<{ flags: PublishFlags; keys: string[] } | number> {
  let parsed: { flags: PublishFlags; keys: string[] } | undefined;
  const program = addFlags(
    new Command('s3s3publish')
      .description(
        'Announce keys on the Redis channel so s3s3listen copies them. Keys as arguments, or one per line on stdin.',
      )
      .argument('[key...]', 'keys to announce (default: read them from stdin, one per line)'),
    PUBLISH_FLAGS,
  ).action((keys: string[], flags: PublishFlags) => {
    parsed = { flags, keys };
  });
  const early = await parseArgs(program, argv, io);
  if (early !== undefined) return early;
  return parsed ?? EXIT_USAGE;
}

/** s3s3publish: announces the keys (arguments, else stdin) on the channel; the exit status. */
export async function main(
  argv: readonly string[] = process.argv.slice(2),
  io: PublishIo = { ...processIo, stdin: process.stdin },
): Promise<number> {
  const parsed = await parseCommandLine(argv, io);
  if (typeof parsed === 'number') return parsed;
  const { flags, keys } = parsed;
  const log = createLogger({ level: flags.quiet ? 'warn' : 'info', write: (l) => io.stderr(l + '\n') });
  const config = loadConfigOrReport(flags.config, io, log);
  if (!config) return EXIT_USAGE;
  if (!config.pubsub.redis) {
    io.stderr(
      `s3s3publish: ${config.file ?? 'config'} [pubsub] redis: publishing needs Redis; ` +
        'add [pubsub] with redis = true (and redis_url or host/port)\n',
    );
    return EXIT_USAGE;
  }
  if (keys.length === 0 && io.stdin === process.stdin && process.stdin.isTTY) {
    io.stderr(
      's3s3publish: no keys: give them as arguments, or one per line on stdin (e.g. find . -type f | s3s3publish)\n',
    );
    return EXIT_USAGE;
  }
  let invalid = 0;
  const publisher = new Publisher({
    config,
    format: flags.json ? 'json' : 'text',
    op: flags.delete ? 'delete' : 'put',
    onInvalid: (key, reason) => {
      invalid++;
      log.error('key skipped', { key: key.length > 200 ? key.slice(0, 200) + '...' : key, reason });
    },
  });
  try {
    const source = keys.length > 0 ? keys : io.stdin ? keysFrom(io.stdin, flags.null === true) : [];
    const result = await publisher.publish(source);
    log.info('published', {
      keys: result.published,
      channel: config.pubsub.channel,
      redis: config.pubsub.redisUrlRedacted,
    });
    if (result.unheard > 0) {
      log.warn(
        'no s3s3listen was subscribed for some keys; Redis dropped those messages: ' +
          'the next s3s3bucket sweep copies them',
        {
          keys: result.unheard,
          channel: config.pubsub.channel,
        },
      );
    }
    return invalid > 0 ? EXIT_FAILED : EXIT_OK;
  } catch (err) {
    if (err instanceof RedisError || err instanceof InvalidKeyError) {
      io.stderr(`s3s3publish: ${err.message}\n`);
      return EXIT_FAILED;
    }
    throw err;
  } finally {
    await publisher.close();
  }
}

runIfMain(import.meta.url, 's3s3publish', () => main());
