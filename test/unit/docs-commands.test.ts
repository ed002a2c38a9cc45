/**
 * Every command line the docs show parses: README.md and docs/*.md, run through each command's
 * parser (parseCommandLine) without running anything.
 * - In ```sh / ```bash / ```console blocks, each line starting with a command (s3s3bucket,
 *   s3s3listen, s3s3publish, s3s3, `npx s3s3...`, `node dist/scripts/...`, also after a pipe or
 *   `&&`) must parse whole: its options exist, their arguments parse, no two conflict.
 * - In other code blocks (synopses such as `s3s3bucket [--dry-run] ...`) and in inline code, every
 *   option shown after a command must exist (placeholders and alternatives are no real arguments).
 * - The flags reference in docs/s3s3bucket.md is the one the flag table renders.
 * Why: the docs are what users copy; a renamed or removed flag must fail here, not at 3 a.m. in cron.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliIo } from '../../src/scripts/cli.js';
import { parseCommandLine as parseBucket } from '../../src/scripts/bucket.js';
import { parseCommandLine as parseListen } from '../../src/scripts/listen.js';
import { parseCommandLine as parsePublish } from '../../src/scripts/publish.js';
import { parseCommandLine as parseS3s3 } from '../../src/scripts/s3s3.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

type Parse = (argv: readonly string[], io: CliIo) => Promise<unknown>;

/** Each command by the names the docs use for it. */
const COMMANDS: Record<string, Parse> = {
  s3s3bucket: parseBucket,
  s3s3listen: parseListen,
  s3s3publish: parsePublish,
  s3s3: parseS3s3,
};
const SCRIPTS: Record<string, string> = {
  'bucket.js': 's3s3bucket',
  'listen.js': 's3s3listen',
  'publish.js': 's3s3publish',
  's3s3.js': 's3s3',
};

/** A command line found in a doc, where it was found, and whether it must parse whole. */
interface Shown {
  readonly where: string;
  readonly command: string;
  readonly argv: string[];
  readonly whole: boolean;
}

/** Runs a parser, collecting what it prints: the parse result (a number is an exit status) and the text. */
async function parse(command: string, argv: readonly string[]): Promise<{ result: unknown; text: string }> {
  let text = '';
  const io: CliIo = { stdout: (t) => (text += t), stderr: (t) => (text += t), env: {} };
  const result = await COMMANDS[command]!(argv, io);
  return { result, text };
}

/** Shell words (single and double quotes, backslash escapes), cut into commands at `|`, `&&`, `||`, `;`. */
function shellCommands(line: string): string[][] {
  const commands: string[][] = [[]];
  let word: string | undefined;
  const end = () => {
    if (word !== undefined) commands[commands.length - 1]!.push(word);
    word = undefined;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      // An unclosed quote (a block that goes on) runs to the end of the line.
      const close = line.indexOf("'", i + 1) === -1 ? line.length : line.indexOf("'", i + 1);
      word = (word ?? '') + line.slice(i + 1, close);
      i = close;
    } else if (c === '"') {
      let j = i + 1;
      let text = '';
      for (; j < line.length && line[j] !== '"'; j++) text += line[j] === '\\' ? (line[++j] ?? '') : line[j];
      word = (word ?? '') + text;
      i = j;
    } else if (c === '\\') word = (word ?? '') + (line[++i] ?? '');
    else if (c === '#' && word === undefined) break;
    else if (c === '|' || c === ';' || c === '&') {
      end();
      if (line[i + 1] === c) i++;
      commands.push([]);
    } else if (/\s/.test(c)) end();
    else word = (word ?? '') + c;
  }
  end();
  return commands.filter((c) => c.length > 0);
}

/** The command a line's words run, and its arguments (without env assignments, npx, redirections). */
function asCommand(words: readonly string[]): { command: string; argv: string[] } | undefined {
  let rest = [...words];
  while (rest.length > 0 && /^[A-Z_][A-Z0-9_]*=/.test(rest[0]!)) rest = rest.slice(1);
  if (rest[0] === 'npx') rest = rest.slice(1);
  let command = rest[0];
  if (command === 'node' && rest[1] !== undefined) {
    const script = /(?:^|\/)dist\/scripts\/([\w-]+\.js)$/.exec(rest[1])?.[1];
    command = script && SCRIPTS[script];
    rest = rest.slice(1);
  }
  if (command === undefined || !(command in COMMANDS)) return undefined;
  const argv: string[] = [];
  for (let i = 1; i < rest.length; i++) {
    const w = rest[i]!;
    // A redirection and its file are the shell's, not the command's.
    if (/^\d*[<>]/.test(w)) {
      if (/^\d*[<>]+&?$/.test(w)) i++;
      continue;
    }
    argv.push(w);
  }
  return { command, argv };
}

/** The lines of the fenced blocks of a Markdown text, with each block's language. */
function fencedLines(text: string): Array<{ lang: string; line: string; n: number }> {
  const out: Array<{ lang: string; line: string; n: number }> = [];
  let lang: string | undefined;
  for (const [i, line] of text.split('\n').entries()) {
    const fence = /^\s*```\s*([\w-]*)/.exec(line);
    if (fence) lang = lang === undefined ? fence[1]! : undefined;
    else if (lang !== undefined) out.push({ lang, line, n: i + 1 });
  }
  return out;
}

/** The command lines README.md and docs/*.md show. */
function shownCommands(): Shown[] {
  const files = ['README.md', ...readdirSync(join(root, 'docs')).map((f) => `docs/${f}`)].filter((f) =>
    f.endsWith('.md'),
  );
  const shown: Shown[] = [];
  for (const file of files) {
    const text = readFileSync(join(root, file), 'utf8');
    // Lines of a block joined where they end with a backslash, or (synopses) go on indented.
    const lines: Array<{ lang: string; line: string; n: number }> = [];
    for (const l of fencedLines(text)) {
      const last = lines[lines.length - 1];
      const shell = ['sh', 'bash', 'console'].includes(l.lang);
      if (last && last.lang === l.lang && last.line.endsWith('\\')) last.line = last.line.slice(0, -1) + l.line;
      else if (last && last.lang === l.lang && !shell && /^\s+\[/.test(l.line)) last.line += l.line;
      else lines.push({ ...l });
    }
    for (const { lang, line, n } of lines) {
      const whole = ['sh', 'bash', 'console'].includes(lang);
      const body = lang === 'console' ? line.replace(/^\s*\$\s/, '') : line;
      // A synopsis is no shell: its `|` separates alternatives (`--log-format text|json`).
      for (const words of whole ? shellCommands(body) : [body.trim().split(/\s+/)]) {
        const c = asCommand(words);
        if (c) shown.push({ where: `${file}:${n}`, ...c, whole });
      }
    }
    // Inline code naming a command with options: `s3s3bucket --check`.
    for (const [i, line] of text.split('\n').entries()) {
      for (const m of line.matchAll(/`((?:npx )?(?:s3s3bucket|s3s3listen|s3s3publish|s3s3) [^`]+)`/g)) {
        const c = asCommand(m[1]!.split(/\s+/));
        if (c) shown.push({ where: `${file}:${i + 1}`, ...c, whole: false });
      }
    }
  }
  return shown;
}

/** `s3s3`'s subcommand words at the start of argv (`trash list`), which choose its help. */
function subcommand(command: string, argv: readonly string[]): string[] {
  if (command !== 's3s3') return [];
  const words: string[] = [];
  for (const w of argv) {
    if (w.startsWith('-') || !/^[a-z][a-z-]*$/.test(w) || words.length === 2) break;
    words.push(w);
  }
  // `s3s3 queue` alone runs its default subcommand, `queue counts`: its options are that one's.
  if (words.length === 1 && words[0] === 'queue') words.push('counts');
  return words;
}

const helps = new Map<string, string>();

/** The options a command (or subcommand) takes, from its --help. */
async function optionsOf(command: string, sub: readonly string[]): Promise<string> {
  const key = [command, ...sub].join(' ');
  if (!helps.has(key)) {
    const { text } = await parse(command, [...sub, '--help']);
    helps.set(key, text.slice(text.indexOf('Options:')));
  }
  return helps.get(key)!;
}

describe('command lines in the docs', () => {
  const shown = shownCommands();

  it('finds the command lines of README.md and docs/', () => {
    assert.ok(shown.filter((s) => s.whole).length >= 20, `only ${shown.length} command lines found`);
    for (const c of Object.keys(COMMANDS))
      assert.ok(
        shown.some((s) => s.command === c && s.whole),
        c,
      );
  });

  it('parses every command line of a shell block: the options exist, arguments parse, nothing conflicts', async () => {
    const failures: string[] = [];
    for (const s of shown.filter((x) => x.whole)) {
      // Synopsis brackets inside a shell block (`[--dest dest1]`) mark options that may be left out.
      const argv = s.argv.map((w) => w.replace(/^\[(?=-)/, '').replace(/\]$/, '')).filter((w) => w !== '...');
      const { result, text } = await parse(s.command, argv);
      if (typeof result === 'number')
        failures.push(`${s.where}: ${s.command} ${s.argv.join(' ')}: exit ${result}: ${text.trim()}`);
    }
    assert.deepEqual(failures, []);
  });

  it('knows every option named after a command in a synopsis or in inline code', async () => {
    const failures: string[] = [];
    for (const s of shown.filter((x) => !x.whole)) {
      const options = await optionsOf(s.command, subcommand(s.command, s.argv));
      for (const w of s.argv) {
        const flag = /^\[*(--?[a-zA-Z0-9][\w-]*)/.exec(w)?.[1];
        if (flag === undefined || flag === '--help' || flag === '-h') continue;
        const known = new RegExp(`(^|[\\s,])${flag}(?=[\\s,]|$)`, 'm');
        if (!known.test(options)) failures.push(`${s.where}: ${s.command} has no option ${flag}`);
      }
    }
    assert.deepEqual(failures, []);
  });
});
