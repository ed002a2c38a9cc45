#!/usr/bin/env node
/** s3s3publish: announce keys to s3s3listen (for shell scripts and cron). */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createLogger, InvalidKeyError, Publisher, RedisError } from '../api/index.js';
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

interface PublishFlags {
  config?: string;
  json?: boolean;
  null?: boolean;
  delete?: boolean;
  quiet?: boolean;
}

export interface PublishIo extends CliIo {
  /** Where keys come from when none are given as arguments. */
  readonly stdin?: Readable;
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

export async function main(
  argv: readonly string[] = process.argv.slice(2),
  io: PublishIo = { ...processIo, stdin: process.stdin },
): Promise<number> {
  let flags: PublishFlags | undefined;
  let keys: string[] = [];
  const program = new Command('s3s3publish')
    .description(
      'Announce keys on the Redis channel so s3s3listen copies them. Keys as arguments, or one per line on stdin.',
    )
    .argument('[key...]', 'keys to announce (default: read them from stdin, one per line)')
    .option(
      '-c, --config <file>',
      'config file (default: $S3S3_CONFIG, ./s3s3.ini, ~/.s3s3.ini, /usr/local/etc/s3s3.ini, /etc/s3s3.ini)',
    )
    .option('-0, --null', 'keys on stdin end with a NUL byte, not a newline (find -print0): for keys holding a newline')
    .option(
      '--delete',
      'announce deletions ({"key": ..., "op": "delete"}): listeners delete the keys where the source has none and [dest*] delete = true',
    )
    .option('--json', 'send JSON messages {"key": ..., "op": "put"} instead of the plain key')
    .option('-q, --quiet', 'only warnings and errors on stderr')
    .action((args: string[], opts: PublishFlags) => {
      keys = args;
      flags = opts;
    });
  const early = await parseArgs(program, argv, io);
  if (early !== undefined) return early;
  if (!flags) return EXIT_USAGE;
  const log = createLogger({ level: flags.quiet ? 'warn' : 'info', write: (l) => io.stderr(l + '\n') });
  const config = loadConfigOrReport(flags.config, io, log);
  if (!config) return EXIT_USAGE;
  if (!config.pubsub.redis) {
    io.stderr(
      `s3s3publish: ${config.file ?? 'config'} [pubsub] redis: publishing needs Redis; add [pubsub] with redis = true (and redis_url or host/port)\n`,
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
    const source = keys.length > 0 ? keys : io.stdin ? (flags.null ? nulTerminated(io.stdin) : lines(io.stdin)) : [];
    const result = await publisher.publish(source);
    log.info('published', {
      keys: result.published,
      channel: config.pubsub.channel,
      redis: config.pubsub.redisUrlRedacted,
    });
    if (result.unheard > 0) {
      log.warn(
        'no s3s3listen was subscribed for some keys; Redis dropped those messages: the next s3s3bucket sweep copies them',
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
