/**
 * A small logger writing one line per event to stderr, as text or JSON lines.
 * Leaf module. Callers must never pass secrets; config values are logged by name only.
 */

/** How much a logger writes: each level includes those above it. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/** Text lines for people, JSON lines for log collectors. */
export type LogFormat = 'text' | 'json';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** The structured fields of a log line: plain values only, never a secret. */
export type LogFields = Record<string, string | number | boolean | null | undefined | readonly string[]>;

/** What s3s3 logs through; an embedding application may pass its own. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/** The level, format and destination of a `createLogger` logger. */
export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where lines go; stderr by default so stdout stays for machine-readable output. */
  write?: (line: string) => void;
}

/**
 * Characters a terminal may act on, or that break a line: C0, DEL, C1 (U+009B is a CSI on some
 * terminals), the Unicode line and paragraph separators, and lone surrogates (not UTF-8).
 */
const CONTROL =
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const HAS_CONTROL = new RegExp(CONTROL.source);
/** What JSON.stringify leaves raw of {@link CONTROL}: DEL, C1, U+2028/2029 (lone surrogates it escapes itself). */
const JSON_RAW = /[\u007f-\u009f\u2028\u2029]/g;

const hex4 = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** JSON.stringify, with DEL, C1 and U+2028/2029 escaped too: the line holds no character a terminal acts on. */
function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(JSON_RAW, hex4);
}

/** Text with every control character escaped as JSON escapes it (`\n`, `\u001b`), the rest as is. */
function escapeControls(text: string): string {
  return text.replace(CONTROL, (c) => (c.charCodeAt(0) < 0x20 ? JSON.stringify(c).slice(1, -1) : hex4(c)));
}

/** A text-format field value: bare when plainly one word, else JSON-quoted (keys are untrusted names). */
function textValue(v: unknown): string {
  if (typeof v === 'string' && !/[\s"=]/.test(v) && !HAS_CONTROL.test(v)) return v;
  return safeJson(v);
}

/** A logger writing `s3s3 LEVEL: message field=value ...` (text) or one JSON object per line. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = ORDER[options.level ?? 'info'];
  const format = options.format ?? 'text';
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (ORDER[level] < min) return;
    if (format === 'json') {
      write(safeJson({ time: new Date().toISOString(), level, msg, ...fields }));
      return;
    }
    const extra = fields
      ? Object.entries(fields)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${k}=${textValue(v)}`)
          .join(' ')
      : '';
    // Messages sometimes embed a key: its control characters are escaped in place.
    write(`s3s3 ${level}: ${escapeControls(msg)}${extra ? ' ' + extra : ''}`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

/** A logger that drops everything: the library default, so embedding apps stay quiet. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * A warning that comes in bursts (a failover stalls every job at once): the first in a window is
 * a warning, the rest of that window info lines carrying how many came so far, so an operator
 * sees one line per incident and the details stay one level down.
 */
export class BurstWarning {
  private windowStart = -Infinity;
  private inWindow = 0;

  constructor(
    private readonly log: Logger,
    private readonly message: string,
    private readonly windowMs = 60_000,
  ) {}

  /** Logs one occurrence. */
  note(fields: LogFields): void {
    const now = Date.now();
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.inWindow = 1;
      this.log.warn(this.message, fields);
      return;
    }
    this.inWindow += 1;
    this.log.info(this.message, { ...fields, inBurst: this.inWindow });
  }
}
