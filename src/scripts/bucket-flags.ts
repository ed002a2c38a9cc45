/**
 * s3s3bucket's flags, declared once: the table (commander options, the typed BucketFlags, the
 * reference in docs/s3s3bucket.md) and the rules between them.
 */
import { resolve } from 'node:path';
import { parseMaxDelete, parseSize } from '../api/index.js';
import { durationFlag, positiveInt } from './cli.js';
import {
  argumentParser,
  boolFlag,
  flagConflict,
  flagName,
  given,
  LIMIT_FLAGS,
  LOG_FORMAT_FLAG,
  listFlag,
  parsedFlag,
  textFlag,
  type FlagRule,
  type FlagValues,
} from './flags.js';

const size = argumentParser(parseSize, 'expected a size such as 1048576, 512K, 64M or 5G');
const maxDelete = argumentParser(parseMaxDelete, 'expected a count or a percentage, e.g. 500 or 10%');

/** Every flag of s3s3bucket, in the order of its `--help` and of the docs' reference. */
export const BUCKET_FLAGS = {
  config: listFlag(
    '-c, --config <file>',
    'config file (default: $S3S3_CONFIG, ./s3s3.ini, ~/.s3s3.ini, /usr/local/etc/s3s3.ini, /etc/s3s3.ini); ' +
      'repeat it to sweep several pairs in turn, each under its own lock, with one summary and exit status',
  ),
  dryRun: {
    ...boolFlag('-n, --dry-run', 'print what would be copied and why; write nothing'),
    more: 'Why: `missing`, `size differs`, `md5 differs`, `source changed`, `unverifiable`',
  },
  force: boolFlag('-f, --force', 'copy every object even when the destination already has it'),
  verifyMd5: {
    ...boolFlag('--verify-md5', 'verify every copy by MD5, reading it back where the ETag is not an MD5'),
    more: 'As if `verify_md5 = true` on every destination',
  },
  prefix: textFlag(
    '-p, --prefix <prefix>',
    'only keys starting with this prefix (after the [source] prefix is stripped)',
  ),
  delete: {
    ...boolFlag(
      '--delete',
      'delete destination keys the source lacks, after a clean run (not on destinations with delete = false)',
    ),
    more:
      'Like `rclone sync`, with the guards in ' +
      '[Deletes and their guards](deletes-check-report.md#deletes-and-their-guards)',
  },
  maxDelete: parsedFlag(
    '--max-delete <n|p%>',
    'most deletes per destination, a count or a percentage of its keys (default: max_delete, else 10%)',
    maxDelete,
  ),
  allowEmptySource: boolFlag('--allow-empty-source', 'delete even when the source lists no key in scope'),
  concurrency: parsedFlag(
    '--concurrency <n>',
    'objects in flight at once (default: [source] concurrency)',
    positiveInt,
  ),
  ...LIMIT_FLAGS,
  minSize: parsedFlag('--min-size <size>', 'skip objects smaller than this', size),
  maxSize: parsedFlag('--max-size <size>', 'skip objects larger than this', size),
  include: {
    ...listFlag('--include <glob>', 'only keys matching this glob (repeatable; * ** ? [..] {a,b})'),
    more:
      'Anchored; `*` stops at `/`, `**` does not, `?` one character, `[abc]` `[a-z]` `[!a]` `[[:digit:]]`, ' +
      '`{a,b}`, `\\` escapes; a malformed glob (`a}b`, `{a,b`, `[z-a]`, `[]]`, an unclosed `[`) exits 2 naming it',
  },
  exclude: listFlag('--exclude <glob>', 'skip keys matching this glob (repeatable)'),
  json: boolFlag('--json', 'print the summary as JSON on stdout'),
  logFormat: LOG_FORMAT_FLAG,
  quiet: boolFlag('-q, --quiet', 'only warnings and errors on stderr'),
  retryFailed: boolFlag(
    '--retry-failed',
    "queue s3s3listen's failed jobs again (filters apply) instead of sweeping; its workers copy them",
  ),
  wait: boolFlag('--wait', 'when another sweep of the same buckets holds the lock, wait for it instead of exiting 0'),
  check: {
    ...boolFlag(
      '--check',
      'compare the source with every destination, copying and deleting nothing: + only in source, ' +
        '- only in destination, * differs, ? unproven; exit 1 on a difference',
    ),
    more: 'No lock is taken; see [Check and report](deletes-check-report.md#check-and-report)',
  },
  checkAll: boolFlag('--check-all', 'with --check: also print the keys that are the same (=)'),
  download: boolFlag('--download', 'with --check: settle ? keys by comparing the MD5 of both bodies'),
  checkMetadata: boolFlag(
    '--check-metadata',
    'compare standard headers and user metadata too (not s3s3-*); a sweep recopies metadata-only differences',
  ),
  report: {
    ...textFlag(
      '--report <file>',
      'append one CSV row per object and destination to this file (sweeps; not with --dry-run, --check, ' +
        "--enqueue or --retry-failed: the listener's [pubsub] report records what its workers do)",
    ),
    more: 'See [Check and report](deletes-check-report.md#check-and-report)',
  },
  enqueue: {
    ...boolFlag(
      '--enqueue',
      'plan the sweep as usual, but queue each copy for s3s3listen --role worker instead of doing it ([pubsub] queue)',
    ),
    more: 'See [Many workers](s3s3listen.md#many-workers-s3s3listen---role-one-durable-queue)',
  },
  maxQueued: parsedFlag(
    '--max-queued <n>',
    'with --enqueue: wait while more jobs than this wait (default: [pubsub] max_queued, else 10000)',
    positiveInt,
  ),
  waitDrained: boolFlag(
    '--wait-drained',
    'with --enqueue: wait until the queue has drained; exit 1 if any job failed meanwhile',
  ),
  distribute: {
    ...boolFlag(
      '--distribute',
      "spread the sweep over s3s3listen's workers as key ranges on the [pubsub] queue's -ranges queue; " +
        'same summary and exit status as a local sweep',
    ),
    more: 'Needs Redis and running workers; see [Distributed sweeps](#distributed-sweeps---distribute)',
  },
  maxWait: parsedFlag(
    '--max-wait <duration>',
    'with --distribute: with no worker running, wait this long for one, then exit 1 (default: wait for ever)',
    durationFlag,
  ),
  splitEvery: parsedFlag(
    '--split-every <n>',
    'with --distribute: a range looks for a split after listing this many source keys (default: 10000)',
    positiveInt,
  ),
  metricsFile: {
    ...textFlag(
      '--metrics-file <file>',
      "after a sweep, write its figures there in node_exporter's textfile format " +
        '(e.g. /var/lib/node_exporter/s3s3.prom)',
    ),
    more: 'Written atomically; see [Metrics](operations.md#metrics)',
  },
  lockFile: textFlag(
    '--lock-file <file>',
    'lock file when Redis is not configured (default: one in the temp dir named after the buckets)',
  ),
} as const;

/** s3s3bucket's parsed flags, typed from BUCKET_FLAGS. */
export type BucketFlags = FlagValues<typeof BUCKET_FLAGS>;

/** A flag of s3s3bucket, or a fact about its command line that a rule needs. */
type Fact = keyof BucketFlags | 'severalConfigs';

const withCheck = '--check copies and deletes nothing; it cannot be combined with {flag}';
const withEnqueue = '--enqueue hands the copies to the workers; it cannot be combined with {flag}';
const withDistribute = '--distribute hands the sweep to the workers as key ranges; it cannot be combined with {flag}';
const withRetry =
  "--retry-failed only queues the failed jobs again for s3s3listen's workers; it cannot be combined with {flag}";

/**
 * Flags that make no sense together, or one without the other it needs; the first broken rule
 * is the usage error (exit 2). With --check, the --enqueue rules do not apply (it only checks).
 */
export const BUCKET_RULES: readonly FlagRule<Fact>[] = [
  {
    when: ['severalConfigs'],
    conflicts: ['check'],
    message:
      '--check cannot be combined with several --config: its difference lines do not say which pair they belong to; ' +
      'run one --check per config',
  },
  {
    when: ['severalConfigs'],
    conflicts: ['metricsFile'],
    message:
      "--metrics-file cannot be combined with several --config: the file holds one sweep's figures; " +
      'run one s3s3bucket per config, each with its own --metrics-file',
  },
  {
    when: ['severalConfigs'],
    conflicts: ['lockFile'],
    message:
      '--lock-file cannot be combined with several --config: each pair takes its own lock (named after its buckets); ' +
      'drop --lock-file',
  },
  {
    when: ['severalConfigs'],
    conflicts: ['distribute'],
    message:
      '--distribute cannot be combined with several --config: each run sweeps one pair; ' +
      'run one s3s3bucket --distribute per config (they may share the workers)',
  },
  { when: ['distribute'], conflicts: ['check', 'enqueue', 'retryFailed', 'dryRun'], message: withDistribute },
  { when: ['maxWait'], requires: 'distribute', message: '--max-wait only goes with --distribute' },
  { when: ['splitEvery'], requires: 'distribute', message: '--split-every only goes with --distribute' },
  { when: ['check'], conflicts: ['retryFailed', 'delete', 'force', 'report', 'metricsFile'], message: withCheck },
  { when: ['enqueue'], unless: 'check', conflicts: ['retryFailed', 'dryRun', 'force', 'report'], message: withEnqueue },
  {
    when: ['enqueue', 'delete'],
    unless: 'check',
    requires: 'waitDrained',
    message: '--enqueue --delete deletes only once every copy job of the run succeeded: add --wait-drained',
  },
  { when: ['waitDrained'], unless: 'check', requires: 'enqueue', message: '--wait-drained only goes with --enqueue' },
  { when: ['maxQueued'], unless: 'check', requires: 'enqueue', message: '--max-queued only goes with --enqueue' },
  { when: ['retryFailed'], conflicts: ['dryRun', 'delete', 'report'], message: withRetry },
  {
    when: ['metricsFile'],
    conflicts: ['check', 'dryRun', 'retryFailed', 'enqueue'],
    message: '--metrics-file records what a sweep did; it cannot be combined with {flag}',
  },
  { when: ['checkAll'], requires: 'check', message: '--check-all only goes with --check' },
  { when: ['download'], requires: 'check', message: '--download only goes with --check' },
  {
    when: ['report', 'dryRun'],
    message: '--report records what a run did; a dry run does nothing (drop --report, or --dry-run)',
  },
];

/** The usage error in s3s3bucket's flags (a --config given twice, or a broken BUCKET_RULES rule), or undefined. */
export function bucketUsageConflict(flags: BucketFlags): string | undefined {
  const seen = new Set<string>();
  for (const file of flags.config) {
    const key = resolve(file);
    if (seen.has(key)) return `--config ${file} is given twice; each file is one pair, swept once`;
    seen.add(key);
  }
  return flagConflict(
    BUCKET_RULES,
    (fact) => (fact === 'severalConfigs' ? flags.config.length > 1 : given(flags[fact])),
    (fact) => (fact === 'severalConfigs' ? 'several --config' : flagName(BUCKET_FLAGS[fact])),
  );
}
