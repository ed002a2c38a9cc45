/**
 * Command-line flags declared once: a table per command (commander's flags string, the help,
 * the parser and default, hence the type each flag parses to), from which the commander options,
 * the typed flags object, the conflicts between flags and the Markdown reference in docs/ all
 * come (rclone's `[]fs.Option`, for flags).
 */
import { BANDWIDTH_HINT, parseBandwidth, type ConfigOverride } from '../api/index.js';
import { Command, InvalidArgumentError, Option } from './cli.js';

/** One flag: what commander needs, and what it parses to (`T`). */
export interface FlagSpec<T> {
  /** Commander's flags string: `-c, --config <file>`, `--dry-run`, `--max-delete <n|p%>`. */
  readonly flags: string;
  /** The help line (`--help`, and the meaning column of the docs' reference). */
  readonly help: string;
  /** Turns the argument into the value (a repeatable flag also gets the values so far). */
  parse?(value: string, previous: T): T;
  /** The value when the flag is not given (absent: undefined). */
  readonly default?: T;
  /** More for the reference in docs/ only (Markdown, links relative to docs/), after the help. */
  readonly more?: string;
}

/** A command's flags, keyed by the name of their property in the parsed flags (commander's attribute name). */
export type FlagTable = Readonly<Record<string, FlagSpec<unknown>>>;

/** The parsed flags of a table: one property per flag, of the type its spec parses to. */
export type FlagValues<T extends FlagTable> = { -readonly [K in keyof T]: T[K] extends FlagSpec<infer V> ? V : never };

/** A switch: true when given. */
export function boolFlag(flags: string, help: string): FlagSpec<boolean | undefined> {
  return { flags, help };
}

/** A flag with a string argument; with `fallback`, its value when not given. */
export function textFlag(flags: string, help: string): FlagSpec<string | undefined>;
export function textFlag(flags: string, help: string, fallback: string): FlagSpec<string>;
export function textFlag(flags: string, help: string, fallback?: string): FlagSpec<string | undefined> {
  return fallback === undefined ? { flags, help } : { flags, help, default: fallback };
}

/** A flag whose argument `parse` turns into a value (throwing InvalidArgumentError: exit 2, naming the flag). */
export function parsedFlag<T>(flags: string, help: string, parse: (value: string) => T): FlagSpec<T | undefined> {
  return { flags, help, parse: (value) => parse(value) };
}

/** A repeatable flag: every value given, in order (none: an empty list). */
export function listFlag(flags: string, help: string): FlagSpec<string[]> {
  return { flags, help, parse: (value, previous) => [...previous, value], default: [] };
}

/** The commander options of a table, added to `command`; the table's keys must be the attribute names. */
export function addFlags(command: Command, table: FlagTable): Command {
  for (const [name, spec] of Object.entries(table)) {
    const option = new Option(spec.flags, spec.help);
    // A table whose key is not what commander names the value would parse into the wrong property.
    if (option.attributeName() !== name)
      throw new Error(`flag table: ${spec.flags} parses to ${option.attributeName()}`);
    if (spec.parse) option.argParser((value: string, previous: unknown) => spec.parse!(value, previous));
    if (spec.default !== undefined) option.default(spec.default);
    command.addOption(option);
  }
  return command;
}

/** The flag as a user types it: its long name (`--dry-run`). */
export function flagName(spec: FlagSpec<unknown>): string {
  return /--[\w-]+/.exec(spec.flags)![0];
}

/**
 * A rule between flags, checked in order by flagConflict; the first broken rule is the usage
 * error. It applies when every flag of `when` is set and the `unless` flag is not. Then it is
 * broken when one of `conflicts` is set (its name replaces `{flag}` in the message), or when
 * `requires` is not set; a rule with neither is broken by `when` alone.
 */
export interface FlagRule<N extends string> {
  readonly when: readonly N[];
  readonly unless?: N;
  readonly conflicts?: readonly N[];
  readonly requires?: N;
  readonly message: string;
}

/** Converts a Commander flag argument, or throws InvalidArgumentError (commander reports it: exit 2). */
export function argumentParser<T>(parse: (v: string) => T | undefined, expected: string): (v: string) => T {
  return (v) => {
    const value = parse(v);
    if (value === undefined) throw new InvalidArgumentError(expected);
    return value;
  };
}

/**
 * The message of the first rule `rules` breaks, or undefined. `isSet` tells whether a flag (or a
 * fact such as "several --config") holds; `name` prints a flag as the user typed it.
 */
export function flagConflict<N extends string>(
  rules: readonly FlagRule<N>[],
  isSet: (flag: N) => boolean,
  name: (flag: N) => string,
): string | undefined {
  for (const rule of rules) {
    if (!rule.when.every(isSet) || (rule.unless !== undefined && isSet(rule.unless))) continue;
    if (rule.conflicts) {
      const other = rule.conflicts.find(isSet);
      if (other !== undefined) return rule.message.replace('{flag}', name(other));
    } else if (rule.requires !== undefined) {
      if (!isSet(rule.requires)) return rule.message;
    } else return rule.message;
  }
  return undefined;
}

/** Whether a parsed flag counts as given: true, a value, a non-empty list. */
export function given(value: unknown): boolean {
  return Array.isArray(value) ? value.length > 0 : value !== undefined && value !== false;
}

/**
 * The flags reference of a table as a Markdown table (`| option | meaning |`), for docs/: the
 * flags with their argument in capitals (`-c, --config FILE`), the help, and the default when
 * the help does not say it.
 */
export function flagsMarkdown(table: FlagTable): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const rows = Object.values(table).map((spec) => {
    const term = spec.flags.replace(/<([^>]+)>/g, (_, arg: string) => arg.toUpperCase());
    const fallback =
      typeof spec.default === 'string' && !/default/.test(spec.help) ? ` (default: \`${spec.default}\`)` : '';
    const more = spec.more === undefined ? '' : `. ${spec.more}`;
    return `| \`${cell(term)}\` | ${cell(spec.help)}${fallback}${cell(more)} |`;
  });
  return ['| option | meaning |', '|---|---|', ...rows].join('\n') + '\n';
}

/** `-c, --config <file>` of every command but s3s3bucket (which takes it several times). */
export const CONFIG_FLAG = textFlag(
  '-c, --config <file>',
  'config file (default: $S3S3_CONFIG, ./s3s3.ini, ~/.s3s3.ini, /usr/local/etc/s3s3.ini, /etc/s3s3.ini)',
);

/** `--log-format`: how the logs on stderr look; main() refuses anything but text or json. */
export const LOG_FORMAT_FLAG = textFlag('--log-format <format>', 'text or json', 'text');

/** `--bwlimit` and `--tps-limit`, alike on every command that copies; each sets a config key (limitOverrides). */
export const LIMIT_FLAGS = {
  bwlimit: parsedFlag(
    '--bwlimit <rate>',
    'bytes per second this process reads from the source, across all copies: 10M, 512K, off, or a timetable ' +
      "such as '08:00,512K 19:00,10M 23:00,off' (default: [source] bwlimit)",
    argumentParser((v) => (typeof parseBandwidth(v) === 'string' ? undefined : v), `expected ${BANDWIDTH_HINT}`),
  ),
  tpsLimit: parsedFlag(
    '--tps-limit <n>',
    "requests per second to each endpoint, in every section (default: each section's tps_limit)",
    argumentParser(
      // The config reader's grammar: digits, a decimal part, more than 0.
      (v) => (v.toLowerCase() === 'off' || (/^\d+(\.\d+)?$/.test(v) && Number(v) > 0) ? v : undefined),
      'expected requests per second greater than 0 (e.g. 50 or 0.5), or off',
    ),
  ),
};

/** The config keys LIMIT_FLAGS set: `bwlimit` in `[source]`, `tps_limit` in every endpoint section. */
export function limitOverrides(flags: {
  bwlimit?: string | undefined;
  tpsLimit?: string | undefined;
}): ConfigOverride[] {
  return [
    ...(flags.bwlimit !== undefined
      ? [{ flag: '--bwlimit', key: 'bwlimit', value: flags.bwlimit, sections: 'source' as const }]
      : []),
    ...(flags.tpsLimit !== undefined
      ? [{ flag: '--tps-limit', key: 'tps_limit', value: flags.tpsLimit, sections: 'endpoints' as const }]
      : []),
  ];
}

/** `-0, --null`: keys read from stdin end with a NUL byte (s3s3publish, s3s3 status). */
export const NULL_FLAG = boolFlag(
  '-0, --null',
  'keys on stdin end with a NUL byte, not a newline (find -print0): for keys holding a newline',
);
