// Every config key the docs show exists in the key table for its section: the `key = value`
// lines of ```ini blocks in docs/*.md and README.md, and the `key` column of their config tables.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { keyNames, type SectionKind } from '../../src/api/config/keys.js';

const ROOT = join(import.meta.dirname, '../..');
const FILES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

interface Shown {
  readonly file: string;
  readonly line: number;
  readonly section: string;
  readonly key: string;
  readonly kinds: readonly SectionKind[];
}

/** The kinds of section a section name stands for, given whether it says `type = swift`. */
function kindsOf(section: string, swift: boolean): SectionKind[] {
  if (section === 'pubsub' || section === 'http' || section === 'notify') return [section];
  if (section === 'DEFAULT' || section === 'defaults') return ['s3', 'swift', 'pubsub'];
  return [swift ? 'swift' : 's3'];
}

/** The `key = value` lines of every ```ini block, with their section. */
function iniKeys(file: string, text: string): Shown[] {
  const shown: Shown[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*```ini\s*$/.test(lines[i]!)) continue;
    const block: { line: number; section: string; key: string; value: string }[] = [];
    let section = '';
    for (i++; i < lines.length && !/^\s*```/.test(lines[i]!); i++) {
      const t = lines[i]!.trim();
      const header = /^\[([^\]]+)\]/.exec(t);
      if (header) section = header[1]!;
      const kv = /^([a-z0-9_]+)\s*=\s*(.*)$/.exec(t);
      if (kv) block.push({ line: i + 1, section, key: kv[1]!, value: kv[2]!.replace(/\s+[#;].*$/, '') });
    }
    const swift = new Set(block.filter((e) => e.key === 'type' && e.value.trim() === 'swift').map((e) => e.section));
    for (const e of block) shown.push({ file, ...e, kinds: kindsOf(e.section, swift.has(e.section)) });
  }
  return shown;
}

/** The kinds of section a heading's table is about. */
function kindsOfHeading(heading: string): SectionKind[] {
  for (const s of ['pubsub', 'http', 'notify'] as const) if (heading.includes(`[${s}]`)) return [s];
  if (/swift/i.test(heading)) return ['swift'];
  if (/\bS3\b/.test(heading)) return ['s3'];
  return ['s3', 'swift', 'pubsub', 'http', 'notify'];
}

/** The backticked names in the first column of every table whose first header cell is `key`. */
function tableKeys(file: string, text: string): Shown[] {
  const shown: Shown[] = [];
  const lines = text.split('\n');
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    if (/^#{1,6} /.test(lines[i]!)) heading = lines[i]!;
    if (!/^\|\s*key\s*\|/.test(lines[i]!)) continue;
    for (i += 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
      const first = lines[i]!.split('|')[1] ?? '';
      for (const m of first.matchAll(/`([a-z0-9_]+)`/g))
        shown.push({ file, line: i + 1, section: heading, key: m[1]!, kinds: kindsOfHeading(heading) });
    }
  }
  return shown;
}

describe('config keys shown in the docs', () => {
  const all = FILES.flatMap((f) => {
    const text = readFileSync(join(ROOT, f), 'utf8');
    return [...iniKeys(f, text), ...tableKeys(f, text)];
  });

  it('finds some (the scan itself works)', () => {
    assert.ok(
      all.some((s) => s.file === 'README.md'),
      'README.md shows a config',
    );
    assert.ok(all.filter((s) => s.file === 'docs/configuration.md').length > 80, 'the reference tables');
  });

  it('each exists in the table for its section', () => {
    const unknown = all.filter((s) => !keyNames(...s.kinds).includes(s.key));
    assert.deepEqual(
      unknown.map((s) => `${s.file}:${s.line}: "${s.key}" is not a key of ${s.section || 'any section'}`),
      [],
    );
  });
});
