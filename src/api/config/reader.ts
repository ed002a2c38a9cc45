/**
 * Reading one section's values: each typed read takes the key's kind, range and default from
 * the table (keys.ts) and records a problem naming the file, section and key when a value is
 * wrong, so every problem of a file is reported at once.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DURATION_HINT, parseDuration } from '../duration.js';
import type { ConfigProblem } from '../errors.js';
import { parseBandwidth, type Bandwidth } from './bandwidth.js';
import { keyDef, KEYS, type KeyDef, type SectionKind, type ValueSpec } from './keys.js';
import { formatSize, isPlaceholder, parseBoolean, parseSize } from './values.js';

/**
 * One value and where it came from. `level` ranks sources for `<key>` against `<key>_file`:
 * 3 a command-line flag, 2 environment, 1 the section itself, 0 `[DEFAULT]`; the higher one
 * wins, a tie is a problem.
 */
export interface RawEntry {
  value: string;
  origin: string;
  level: number;
}
/** A section's values by key. */
export type Entries = Map<string, RawEntry>;

/** What every section reader shares: where to report, and where relative paths start. */
export interface ReadContext {
  readonly file: string;
  readonly problems: ConfigProblem[];
  readonly warnings: ConfigProblem[];
  readonly baseDir: string;
}

/** One section's values, read through the key table; problems go to the shared context. */
export class Reader {
  /** Keys whose `<key>_file` could not be read: already reported, so not "missing" too. */
  private readonly unreadable = new Set<string>();

  constructor(
    private readonly entries: Entries,
    private readonly ctx: ReadContext,
    /** The section's name (`source`, `dest1`, `pubsub`...), for messages. */
    readonly section: string,
    /** Which rows of the table apply: an endpoint section's backend, or the service section. */
    readonly kind: SectionKind,
  ) {}

  /** The same values read as a section of another kind (an endpoint section once its `type` is known). */
  as(kind: SectionKind): Reader {
    return new Reader(this.entries, this.ctx, this.section, kind);
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Where a key's value comes from: 3 a flag, 2 environment, 1 the section, 0 `[DEFAULT]`. */
  level(key: string): number {
    return this.entries.get(key)?.level ?? -1;
  }

  /** Forget a key (one from `[DEFAULT]` that does not apply to this section). */
  drop(key: string): void {
    this.entries.delete(key);
  }

  problemCount(): number {
    return this.ctx.problems.length;
  }

  /** The directory relative paths of the config file start from. */
  get baseDir(): string {
    return this.ctx.baseDir;
  }

  private where(key: string | undefined): string {
    const origin = key ? this.entries.get(key)?.origin : undefined;
    return origin?.startsWith('environment') || origin?.startsWith('option ') ? origin : this.ctx.file;
  }

  problem(key: string | undefined, message: string): void {
    this.ctx.problems.push({ file: this.where(key), section: this.section, key, message });
  }

  warn(key: string | undefined, message: string): void {
    this.ctx.warnings.push({ file: this.where(key), section: this.section, key, message });
  }

  /** The table's entry for `key` in this kind of section; a key missing there is a bug, not a user's error. */
  def(key: string): KeyDef {
    const def = keyDef(this.kind, key);
    if (!def) throw new Error(`config key ${key} is not in the table for ${this.kind} sections (keys.ts)`);
    return def;
  }

  private spec<K extends ValueSpec['kind']>(key: string, kind: K): Extract<ValueSpec, { kind: K }> & { def: KeyDef } {
    const def = this.def(key);
    if (def.value.kind !== kind) throw new Error(`config key ${key} is a ${def.value.kind}, not a ${kind} (keys.ts)`);
    return { ...(def.value as Extract<ValueSpec, { kind: K }>), def };
  }

  /** Every `<key>_file` of this kind of section (or of the keys given) read now, in place of its key. */
  fromFiles(keys?: readonly string[]): void {
    for (const key of keys ?? this.fileKeys()) this.fromFile(key);
  }

  private fileKeys(): string[] {
    return KEYS.filter((d) => d.file !== undefined && d.sections.includes(this.kind)).map((d) => d.name);
  }

  /**
   * `<key>_file = PATH`: read PATH now (trailing newline dropped) and use it as `<key>`.
   * Setting both is a problem, unless one is set at a higher level (the environment over the
   * file, a section over `[DEFAULT]`), which then wins. The file's text is never echoed.
   */
  fromFile(key: string): void {
    const what = this.def(key).file;
    if (what === undefined) throw new Error(`config key ${key} takes no ${key}_file (keys.ts)`);
    const fileKey = `${key}_file`;
    const viaFile = this.entries.get(fileKey);
    if (!viaFile) return;
    const direct = this.entries.get(key);
    if (direct && direct.level === viaFile.level) {
      this.problem(fileKey, `conflicts with "${key}" (${direct.origin}); set either ${key} or ${fileKey}, not both`);
      return;
    }
    if (direct && direct.level > viaFile.level) return;
    const text = this.readFile(fileKey, what);
    if (text !== undefined && /[\r\n]/.test(text))
      this.problem(fileKey, `${this.path(fileKey)} holds more than one line; put only the ${what} in it`);
    if (text === undefined || /[\r\n]/.test(text)) {
      this.entries.delete(key);
      this.unreadable.add(key);
      return;
    }
    this.entries.set(key, { value: text, origin: viaFile.origin, level: viaFile.level });
  }

  /** The absolute path a path-valued key names (relative: to the config file, or cwd for the environment). */
  path(key: string): string {
    const e = this.entries.get(key)!;
    return resolve(e.origin.startsWith('environment') ? process.cwd() : this.ctx.baseDir, e.value);
  }

  /** The text of the file `key` names, read once now, trailing newlines dropped; undefined after a problem. */
  readFile(key: string, what: string): string | undefined {
    const value = this.string(key);
    if (value === undefined) return undefined;
    if (value === '') {
      this.problem(key, `is empty: set it to the path of the file holding the ${what}, or remove it`);
      return undefined;
    }
    const path = this.path(key);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      this.problem(key, `cannot read ${path}: ${readFailure(err, what)}`);
      return undefined;
    }
    text = text.replace(/(\r?\n)+$/, '');
    if (text.trim() === '') {
      this.problem(key, `${path} is empty; put the ${what} in it`);
      return undefined;
    }
    return text;
  }

  /** A PEM bundle of CA certificates (`ca_bundle`), each certificate checked now. */
  caBundle(key: string): string | undefined {
    this.spec(key, 'ca bundle');
    const what = 'PEM certificates of the CA(s) to trust';
    const text = this.readFile(key, what);
    if (text === undefined) return undefined;
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    if (/PRIVATE KEY-----/.test(text)) {
      this.problem(key, `${this.path(key)} holds a private key; give only the CA certificate(s), never a key`);
      return undefined;
    }
    if (blocks.length === 0) {
      this.problem(key, `${this.path(key)} holds no "-----BEGIN CERTIFICATE-----" block; give the ${what}`);
      return undefined;
    }
    for (const [i, block] of blocks.entries()) {
      try {
        new X509Certificate(block);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        this.problem(key, `certificate ${i + 1} in ${this.path(key)} cannot be read (${why}); give the ${what}`);
        return undefined;
      }
    }
    return text + '\n';
  }

  /** The value as written (undefined when not set, or a template placeholder, which is a problem). */
  string(key: string, fallback?: string): string | undefined {
    const e = this.entries.get(key);
    if (!e) return fallback;
    if (isPlaceholder(e.value)) {
      this.problem(key, `still holds the template placeholder ${e.value}; put the real value here`);
      return undefined;
    }
    return e.value;
  }

  /** The value, or the table's default when not set (or empty, for keys where empty means the default). */
  text(key: string): string {
    const def = this.def(key);
    const value = this.string(key);
    if (value === undefined || (value === '' && def.blankIsDefault)) return def.default ?? '';
    return value;
  }

  /** A required key: missing or empty is a problem (with the table's words for what to put there). */
  required(key: string): string | undefined {
    const def = this.def(key);
    const what = def.required ?? key;
    if (this.unreadable.has(key)) return undefined;
    const v = this.string(key);
    const orFile = def.file !== undefined ? ` (or ${key}_file = FILE holding it)` : '';
    if (v === undefined && !this.entries.has(key)) this.problem(key, `missing: set ${key} = <${what}>${orFile}`);
    else if (v === '') this.problem(key, `is empty: set it to the ${what}`);
    return v;
  }

  /** A boolean key; `fallback` for a default the table cannot state (it depends on other keys). */
  boolean(key: string, fallback?: boolean): boolean {
    const { def } = this.spec(key, 'boolean');
    const dflt = fallback ?? parseBoolean(def.default ?? 'false')!;
    const v = this.string(key);
    if (v === undefined) return dflt;
    const b = parseBoolean(v);
    if (b === undefined) {
      this.problem(key, `"${v}" is not a boolean; use true/false, yes/no, on/off or 1/0`);
      return dflt;
    }
    return b;
  }

  /** A whole number in the table's range; `fallback` for a default the table cannot state. */
  integer(key: string, fallback?: number): number {
    const { min, max, def } = this.spec(key, 'integer');
    const dflt = fallback ?? Number(def.default ?? min);
    const v = this.string(key);
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      this.problem(key, `"${v}" is not a whole number from ${min} to ${max}`);
      return dflt;
    }
    return Number(v);
  }

  /** A duration key in the one grammar of `duration.ts` (`30`, `90s`, `15m`, `26h`, `7d`), as ms; more than 0. */
  seconds(key: string): number {
    const { def } = this.spec(key, 'duration');
    const dflt = parseDuration(def.default ?? '')!;
    const v = this.string(key);
    if (v === undefined) return dflt;
    const ms = parseDuration(v);
    if (ms === undefined || ms <= 0) {
      this.problem(key, `"${v}" is not ${DURATION_HINT}, greater than 0`);
      return dflt;
    }
    return ms;
  }

  /** A size in bytes (`64M`, `5G`) in the table's range. */
  size(key: string): number {
    const { min, max, def } = this.spec(key, 'size');
    const dflt = parseSize(def.default ?? String(min))!;
    const v = this.string(key);
    if (v === undefined) return dflt;
    const n = parseSize(v);
    if (n === undefined || n < min || n > max) {
      this.problem(
        key,
        `"${v}" is not a size from ${formatSize(min)} to ${formatSize(max)} (bytes, or with K, M, G: e.g. 64M)`,
      );
      return dflt;
    }
    return n;
  }

  /** `bwlimit`: undefined when `off` (no limit at any time). */
  bandwidth(key: string): Bandwidth | undefined {
    const { def } = this.spec(key, 'bandwidth');
    const v = this.string(key) ?? def.default ?? 'off';
    const parsed = parseBandwidth(v);
    if (typeof parsed === 'string') {
      this.problem(key, parsed);
      return undefined;
    }
    return parsed.periods.every((p) => p.bytesPerSecond === Infinity) ? undefined : parsed;
  }

  /** A rate per second (`50`, `0.5`); undefined for `off`. */
  rate(key: string): number | undefined {
    const { def } = this.spec(key, 'rate');
    const v = (this.string(key) ?? def.default ?? 'off').trim();
    if (v.toLowerCase() === 'off') return undefined;
    const n = /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
    if (!(n > 0)) {
      this.problem(key, `"${v}" is not a number of requests per second greater than 0 (e.g. 50 or 0.5), or off`);
      return undefined;
    }
    return n;
  }

  /** One of the table's choices (any case), as the value it maps to. */
  oneOf<T extends string>(key: string): T {
    const { choices, def } = this.spec(key, 'choice');
    const dflt = choices[def.default ?? ''] as T;
    const v = this.string(key);
    if (v === undefined) return dflt;
    const hit = choices[v.toLowerCase()];
    if (hit === undefined) {
      this.problem(key, `"${v}" is not one of: ${Object.keys(choices).join(', ')}`);
      return dflt;
    }
    return hit as T;
  }
}

function readFailure(err: unknown, what: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `no such file; create it (holding the ${what}) or fix the path`;
  if (code === 'EACCES')
    return `permission denied; let the user s3s3 runs as${process.getuid ? ` (uid ${process.getuid()})` : ''} read it`;
  if (code === 'EISDIR') return `it is a directory; give the path of the file holding the ${what}`;
  return String(code ?? (err instanceof Error ? err.message : err));
}
