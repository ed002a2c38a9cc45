/**
 * Which source objects a sweep considers: size bounds and include/exclude globs.
 *
 * The glob matcher is our own, not picomatch: picomatch is a shell/path matcher and differs
 * from rclone's globs on keys an object store holds: its `**` and `.` do not match a newline,
 * `?` takes half of an astral character, `*` also matches a trailing `/` (`*` matches
 * `dir/`), `a**b` does not cross `/`, `(a|b)` and `*(a)` are regex/extglob syntax, and it
 * accepts `{a,b`, `a}b` and `[z-a]` silently (never matching) where rclone refuses them.
 * Matching runs as an NFA over the key's code points (as Go's RE2 does in rclone), so time is
 * linear in the key's length whatever the glob: a backtracking RegExp can take minutes on a
 * 1024-byte key with a few stars.
 */
import { S3s3Error } from '../errors.js';
import type { ObjectInfo } from '../store/object-store.js';

/** Which source keys a sweep or a check considers (`--min-size`, `--max-size`, `--include`, `--exclude`). */
export interface FilterOptions {
  readonly minSize?: number;
  readonly maxSize?: number;
  /** Globs a key must match at least one of (when any are given). */
  readonly include?: readonly string[];
  /** Globs that exclude a key; exclusion wins over inclusion. */
  readonly exclude?: readonly string[];
}

/** A glob that cannot be parsed: a usage error (the CLI exits 2). */
export class GlobError extends S3s3Error {
  override name = 'GlobError';
  readonly glob: string;
  /** What is wrong, without the glob: `"{" at 1 is never closed by "}"`. */
  readonly problem: string;
  constructor(glob: string, problem: string) {
    super(`bad glob ${JSON.stringify(glob)}: ${problem}`);
    this.glob = glob;
    this.problem = problem;
  }
}

type Range = readonly [number, number];
type Node =
  | { readonly t: 'lit'; readonly cp: number }
  | { readonly t: 'any' }
  | { readonly t: 'class'; readonly negated: boolean; readonly ranges: readonly Range[] }
  | { readonly t: 'star' }
  | { readonly t: 'globstar' }
  | { readonly t: 'alt'; readonly alts: readonly (readonly Node[])[] };

const SLASH = 0x2f;
const ASCII_CLASSES: Readonly<Record<string, readonly Range[]>> = {
  alnum: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  alpha: [
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  ascii: [[0, 0x7f]],
  blank: [
    [0x09, 0x09],
    [0x20, 0x20],
  ],
  cntrl: [
    [0, 0x1f],
    [0x7f, 0x7f],
  ],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [
    [0x21, 0x2f],
    [0x3a, 0x40],
    [0x5b, 0x60],
    [0x7b, 0x7e],
  ],
  space: [
    [0x09, 0x0d],
    [0x20, 0x20],
  ],
  upper: [[0x41, 0x5a]],
  word: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x61, 0x7a],
    [0x5f, 0x5f],
  ],
  xdigit: [
    [0x30, 0x39],
    [0x41, 0x46],
    [0x61, 0x66],
  ],
};

/**
 * rclone-style globs, anchored at both ends, over Unicode code points:
 * `*` any run of characters but `/`; `**` any run including `/` (anywhere, not only as a whole
 * segment; three stars are an error); `?` one character but `/`; `[abc]`, `[a-z]`,
 * `[[:alpha:]]` a class, `[!a]` or `[^a]` its complement (never `/`); `{a,b}` alternatives
 * (not nested); `\` takes the next character literally. A leading `.` needs no special
 * pattern (`*` matches dotfiles), and newlines and control characters are characters like any.
 */
function parseGlob(glob: string): Node[] {
  const cps = Array.from(glob, (c) => c.codePointAt(0)!);
  const at = (i: number) => `at character ${i + 1}`;
  const top: Node[] = [];
  let alt: { start: number; alts: Node[][] } | undefined;
  let seq = top;
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i]!;
    const ch = String.fromCodePoint(c);
    if (ch === '\\') {
      if (i + 1 >= cps.length)
        throw new GlobError(glob, `"\\" ${at(i)} ends the glob and escapes nothing (write "\\\\" for a backslash)`);
      seq.push({ t: 'lit', cp: cps[++i]! });
    } else if (ch === '*') {
      let n = 1;
      while (cps[i + 1] === 0x2a) {
        n++;
        i++;
      }
      if (n > 2)
        throw new GlobError(
          glob,
          `${n} stars in a row ${at(i - n + 1)}: "*" stays within a "/" segment, "**" crosses it; there is no more`,
        );
      seq.push({ t: n === 2 ? 'globstar' : 'star' });
    } else if (ch === '?') seq.push({ t: 'any' });
    else if (ch === '[') i = parseClass(glob, cps, i, seq);
    else if (ch === ']') throw new GlobError(glob, `"]" ${at(i)} closes no "[" (write "\\]" for a literal one)`);
    else if (ch === '{') {
      if (alt)
        throw new GlobError(glob, `"{" ${at(i)} is inside the "{" ${at(alt.start)}: alternatives cannot be nested`);
      alt = { start: i, alts: [[]] };
      seq = alt.alts[0]!;
    } else if (ch === '}') {
      if (!alt) throw new GlobError(glob, `"}" ${at(i)} closes no "{" (write "\\}" for a literal one)`);
      top.push({ t: 'alt', alts: alt.alts });
      alt = undefined;
      seq = top;
    } else if (ch === ',' && alt) {
      seq = [];
      alt.alts.push(seq);
    } else seq.push({ t: 'lit', cp: c });
  }
  if (alt) throw new GlobError(glob, `"{" ${at(alt.start)} is never closed by "}" (write "\\{" for a literal one)`);
  return top;
}

/** Parses the class opening at `open`; returns the index of its closing `]`. */
function parseClass(glob: string, cps: readonly number[], open: number, seq: Node[]): number {
  const unclosed = () =>
    new GlobError(glob, `"[" at character ${open + 1} is never closed by "]" (write "\\[" for a literal one)`);
  let i = open + 1;
  const negated = cps[i] === 0x21 /* ! */ || cps[i] === 0x5e; /* ^ */
  if (negated) i++;
  const ranges: Range[] = [];
  const first = i;
  // One member: an escaped or plain character; null at the closing "]".
  const member = (): number | null => {
    if (i >= cps.length) throw unclosed();
    const c = cps[i]!;
    if (c === 0x5d /* ] */) {
      if (i === first)
        throw new GlobError(
          glob,
          `empty class "${String.fromCodePoint(...cps.slice(open, i + 1))}" at character ${open + 1} ` +
            '(write "\\]" for a "]" inside a class)',
        );
      return null;
    }
    if (c === 0x5c /* \ */) {
      if (i + 1 >= cps.length) throw unclosed();
      i++;
    }
    return cps[i++]!;
  };
  for (;;) {
    // [:name:] inside a class: a POSIX (ASCII) class, as Go's regexp has them.
    if (cps[i] === 0x5b && cps[i + 1] === 0x3a) {
      const end = cps.indexOf(0x3a, i + 2);
      if (end !== -1 && cps[end + 1] === 0x5d) {
        const name = String.fromCodePoint(...cps.slice(i + 2, end));
        const set = ASCII_CLASSES[name];
        if (!set)
          throw new GlobError(
            glob,
            `unknown class "[:${name}:]" at character ${i + 1} (known: ${Object.keys(ASCII_CLASSES).join(', ')})`,
          );
        ranges.push(...set);
        i = end + 2;
        continue;
      }
    }
    const startAt = i;
    const lo = member();
    if (lo === null) break;
    // "a-z" is a range; a "-" first or last is itself.
    if (cps[i] === 0x2d && i + 1 < cps.length && cps[i + 1] !== 0x5d) {
      i++;
      const hi = member();
      if (hi === null) throw unclosed();
      if (hi < lo) {
        const text = String.fromCodePoint(...cps.slice(startAt, i));
        throw new GlobError(
          glob,
          `range "${text}" at character ${startAt + 1} goes backwards (write "[a-z]", low to high)`,
        );
      }
      ranges.push([lo, hi]);
    } else ranges.push([lo, lo]);
  }
  seq.push({ t: 'class', negated, ranges });
  return i;
}

function classTest(node: { negated: boolean; ranges: readonly Range[] }): (cp: number) => boolean {
  const { negated, ranges } = node;
  return (cp) => {
    const hit = ranges.some(([lo, hi]) => cp >= lo && cp <= hi);
    return negated ? !hit && cp !== SLASH : hit;
  };
}

interface State {
  /** Absent on an epsilon state (a fork to every `out`). */
  readonly test?: (cp: number) => boolean;
  out: number[];
}

const notSlash = (cp: number) => cp !== SLASH;
const anything = () => true;

/** Thompson's construction: states[0] is the match state. */
function buildNfa(nodes: readonly Node[]): { states: State[]; start: number } {
  const states: State[] = [{ out: [] }];
  const add = (s: State) => states.push(s) - 1;
  const seq = (list: readonly Node[], next: number): number => {
    let start = next;
    for (let k = list.length - 1; k >= 0; k--) {
      const n = list[k]!;
      switch (n.t) {
        case 'lit': {
          const cp = n.cp;
          start = add({ test: (c) => c === cp, out: [start] });
          break;
        }
        case 'any':
          start = add({ test: notSlash, out: [start] });
          break;
        case 'class':
          start = add({ test: classTest(n), out: [start] });
          break;
        case 'star':
        case 'globstar': {
          const loop = add({ out: [] });
          const body = add({ test: n.t === 'star' ? notSlash : anything, out: [loop] });
          states[loop]!.out = [body, start];
          start = loop;
          break;
        }
        case 'alt':
          start = add({ out: n.alts.map((a) => seq(a, start)) });
          break;
      }
    }
    return start;
  };
  return { states, start: seq(nodes, 0) };
}

/** Compiles a glob (see parseGlob) into a matcher; throws GlobError when it is malformed. */
export function compileGlob(glob: string): (key: string) => boolean {
  const { states, start } = buildNfa(parseGlob(glob));
  const seen = new Uint32Array(states.length);
  let generation = 0;
  // The consuming states reachable from `from` without reading (and whether 0, the match, is).
  const closure = (from: readonly number[]): number[] => {
    generation++;
    const out: number[] = [];
    const stack = [...from];
    while (stack.length) {
      const s = stack.pop()!;
      if (seen[s] === generation) continue;
      seen[s] = generation;
      const st = states[s]!;
      if (st.test || s === 0) out.push(s);
      else stack.push(...st.out);
    }
    return out;
  };
  const initial = closure([start]);
  return (key) => {
    let current = initial;
    for (const ch of key) {
      const cp = ch.codePointAt(0)!;
      const next: number[] = [];
      for (const s of current) {
        const st = states[s]!;
        if (st.test?.(cp)) next.push(st.out[0]!);
      }
      if (next.length === 0) return false;
      current = closure(next);
    }
    return current.includes(0);
  };
}

/** Throws a GlobError for the first malformed glob, naming it; nothing else is done. */
export function validateGlobs(globs: readonly string[]): void {
  for (const g of globs) parseGlob(g);
}

/**
 * The same globs as a RegExp (flag `u`, code points), for callers that want one. It accepts
 * and rejects exactly what compileGlob does, but a RegExp backtracks: on long keys with many
 * stars prefer compileGlob, which the sweep's filter uses.
 */
export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${toRegExpSource(parseGlob(glob))}$`, 'u');
}

function toRegExpSource(nodes: readonly Node[]): string {
  const cp = (c: number) => `\\u{${c.toString(16)}}`;
  return nodes
    .map((n) => {
      switch (n.t) {
        case 'lit':
          return cp(n.cp);
        case 'any':
          return '[^/]';
        case 'star':
          return '[^/]*';
        case 'globstar':
          return '[\\s\\S]*';
        case 'class': {
          const body = n.ranges.map(([lo, hi]) => (lo === hi ? cp(lo) : `${cp(lo)}-${cp(hi)}`)).join('');
          return n.negated ? `[^${body}/]` : `[${body}]`;
        }
        case 'alt':
          return `(?:${n.alts.map(toRegExpSource).join('|')})`;
      }
    })
    .join('');
}

/** The filter of `options`: true for an object the sweep considers (relative keys, the same on both sides). */
export function makeFilter(options: FilterOptions): (o: ObjectInfo) => boolean {
  const include = (options.include ?? []).map(compileGlob);
  const exclude = (options.exclude ?? []).map(compileGlob);
  return (o) => {
    if (options.minSize !== undefined && o.size < options.minSize) return false;
    if (options.maxSize !== undefined && o.size > options.maxSize) return false;
    if (exclude.some((m) => m(o.key))) return false;
    if (include.length > 0 && !include.some((m) => m(o.key))) return false;
    return true;
  };
}
