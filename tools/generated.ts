/**
 * The generated parts of the repository, as a list: each entry names a file, the marker
 * between whose `BEGIN GENERATED` / `END GENERATED` lines its text goes (none: the whole
 * file), and the function that renders that text from the code. `npm run gen` (tools/gen.ts)
 * writes them; test/unit/generated.test.ts fails when one on disk differs. To generate another
 * block, add an entry here and the two marker lines to its file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  describeValue,
  envVariable,
  KEYS,
  type IniBlock,
  type KeyDef,
  type SectionKind,
} from '../src/api/config/keys.js';
import { BUCKET_FLAGS } from '../src/scripts/bucket-flags.js';
import { flagsMarkdown } from '../src/scripts/flags.js';
import { LISTEN_FLAGS } from '../src/scripts/listen.js';
import { PUBLISH_FLAGS } from '../src/scripts/publish.js';

/** One generated block: where it goes and how it is made. */
export interface Generated {
  /** Path from the repository root. */
  readonly file: string;
  /** Marker name (`<!-- BEGIN GENERATED: name -->`); undefined: the whole file is generated. */
  readonly marker?: string;
  /** The block's text, without the marker lines, ending in a newline. */
  render(): string;
}

/** The repository root. */
export const ROOT = join(import.meta.dirname, '..');

/** Every generated block. */
export const GENERATED: readonly Generated[] = [
  { file: 'docs/configuration.md', marker: 'config', render: renderConfigReference },
  { file: 's3s3.ini.dist', render: renderIniDist },
  { file: 'docs/s3s3bucket.md', marker: 'bucket-flags', render: () => flagsMarkdown(BUCKET_FLAGS) },
  { file: 'docs/s3s3listen.md', marker: 'listen-flags', render: () => flagsMarkdown(LISTEN_FLAGS) },
  { file: 'docs/s3s3listen.md', marker: 'publish-flags', render: () => flagsMarkdown(PUBLISH_FLAGS) },
];

/** The file's text with the block replaced by what `render` makes now. */
export function regenerate(g: Generated, current: string): string {
  if (g.marker === undefined) return g.render();
  const begin = `<!-- BEGIN GENERATED: ${g.marker} -->`;
  const end = `<!-- END GENERATED: ${g.marker} -->`;
  const from = current.indexOf(begin);
  const to = current.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${g.file}: no "${begin}" ... "${end}" lines to generate between`);
  return current.slice(0, from + begin.length) + '\n\n' + g.render() + '\n' + current.slice(to);
}

/** The file as on disk and as it should be. */
export function compare(g: Generated): { readonly current: string; readonly wanted: string } {
  const current = readFileSync(join(ROOT, g.file), 'utf8');
  return { current, wanted: regenerate(g, current) };
}

// ---- docs/configuration.md: the reference tables

const TABLES: readonly { title: string; intro: string; sections: (d: KeyDef) => boolean; env: string }[] = [
  {
    title: '`[source]` and `[dest*]`: keys of both types',
    intro: 'Every endpoint section takes these, S3 or Swift; `[DEFAULT]` gives them to every endpoint section.',
    sections: (d) => d.sections.includes('s3') && d.sections.includes('swift'),
    env: 'DEST1',
  },
  {
    title: 'S3 sections (`type = s3`, the default)',
    intro: 'The keys of the original s3s3 work unchanged.',
    sections: (d) => d.sections.length === 1 && d.sections[0] === 's3',
    env: 'DEST1',
  },
  {
    title: 'Swift native endpoints: `type = swift`',
    intro:
      "A Swift container over Swift's own API; the S3 keys above are refused here (see [swift.md](swift.md)). " +
      'The auth URL decides between the auth v1 keys and the Keystone v3 ones.',
    sections: (d) => d.sections.length === 1 && d.sections[0] === 'swift',
    env: 'DEST1',
  },
  {
    title: '`[pubsub]`',
    intro: 'Redis, the listener and the sweep lock. `[DEFAULT]` may hold these keys too, without effect here.',
    sections: only('pubsub'),
    env: 'PUBSUB',
  },
  {
    title: '`[http]`',
    intro: "The listener's HTTP surface. Not read from `[DEFAULT]`.",
    sections: only('http'),
    env: 'HTTP',
  },
  {
    title: '`[notify]`',
    intro: 'The run report of `s3s3bucket`. Not read from `[DEFAULT]`.',
    sections: only('notify'),
    env: 'NOTIFY',
  },
];

function only(kind: SectionKind): (d: KeyDef) => boolean {
  return (d) => d.sections.includes(kind);
}

/** The reference of every key, a table per section, from the key table. */
export function renderConfigReference(): string {
  const out: string[] = [
    '<!-- Generated from src/api/config/keys.ts by `npm run gen`: edit the table there, not here. -->',
    '',
    'Environment: every key as `S3S3_<SECTION>_<KEY>` (the section name upper-cased, other characters as `_`),',
    'e.g. `S3S3_DEST1_AWS_SECRET_ACCESS_KEY`; the column shows it for one section. Secret: never printed;',
    'a `<key>_file` key reads the value from that file instead.',
  ];
  for (const t of TABLES) {
    out.push('', `### ${t.title}`, '', t.intro, '');
    out.push('| key | default | value | environment | secret | meaning |', '|---|---|---|---|---|---|');
    for (const d of KEYS.filter(t.sections)) {
      const secret = [d.secret ? 'secret' : '', d.file !== undefined ? `or \`${d.name}_file\`` : '']
        .filter((s) => s !== '')
        .join('; ');
      out.push(
        `| \`${d.name}\` | ${defaultOf(d)} | ${describeValue(d.value)} | \`${envVariable(t.env, d.name)}\` | ` +
          `${secret || '—'} | ${d.help} |`,
      );
    }
  }
  return out.join('\n') + '\n';
}

function defaultOf(d: KeyDef): string {
  if (d.defaultText !== undefined) return d.defaultText;
  if (d.required !== undefined) return 'required';
  if (d.default === undefined || d.default === '') return 'none';
  return `\`${d.default}\``;
}

// ---- s3s3.ini.dist: the template

/** A block of the template: its header lines and how its key lines are written. */
interface IniLayout {
  readonly block: IniBlock;
  /** Lines before the key lines (comments, the `[section]` line). */
  readonly head: readonly string[];
  /** Lines after them. */
  readonly tail?: readonly string[];
  /** Every line of the block is a comment (`#     key = value`): an example section. */
  readonly example?: boolean;
}

const HEADER = [
  '# s3s3 configuration template.',
  '#',
  '# Copy to one of (first found wins): --config FILE, $S3S3_CONFIG, ./s3s3.ini, ~/.s3s3.ini,',
  '# /usr/local/etc/s3s3.ini, /etc/s3s3.ini — and `chmod 600` it: it holds secrets.',
  '# Any key can instead come from the environment as S3S3_<SECTION>_<KEY>, which wins over',
  '# this file, e.g. S3S3_DEST1_AWS_SECRET_ACCESS_KEY=... (the way to keep secrets out of it).',
  '# Or read a secret from a file, once at start (container and systemd secret mounts):',
  '# aws_secret_access_key_file = /run/secrets/dest1 (also aws_access_key_id_file, and',
  '# password_file, redis_url_file in [pubsub]); one line, a trailing newline is dropped; set the',
  "# key or its _file, not both. Relative paths start at this file's directory.",
  '#',
  '# Values may end with an inline comment after whitespace ("value   # comment" or "; comment");',
  '# a # or ; with no space before it is part of the value. Booleans: true/false, yes/no,',
  '# on/off, 1/0, any case. Sizes: bytes, or with K, M, G (binary): 64M, 5G.',
  '# A [DEFAULT] section may hold keys shared by [source] and every [dest*].',
  '# Every key, its default and range: docs/configuration.md.',
];

const LAYOUT: readonly IniLayout[] = [
  { block: 'source', head: ['[source]'] },
  {
    block: 'dest1',
    head: ['[dest1]'],
    tail: ['', '    # Every key of [source] above (endpoint, region, signature_version, timeouts...) works here too.'],
  },
  { block: 'dest2', head: ['# [dest2]'], example: true },
  {
    block: 'swift',
    head: [
      "# A Swift container through Swift's own API (no S3 API needed): type = swift. Works as [source]",
      '# too. The S3 keys (aws_*, bucket_name, endpoint, host...) do not apply here; the shared ones',
      '# (concurrency, timeouts, max_retries, verify_md5, prefix, delete*, ca_bundle...) do.',
      '# [dest3]',
    ],
    example: true,
  },
  { block: 'pubsub', head: ['[pubsub]'] },
  { block: 'http', head: ['# [http]'] },
  { block: 'notify', head: ['# [notify]'] },
];

/** The template, from the layout above and the `ini` lines of the key table. */
export function renderIniDist(): string {
  const out: string[] = [...HEADER];
  for (const layout of LAYOUT) {
    out.push('', ...layout.head);
    const indent = layout.example ? '#     ' : '    ';
    const column = layout.example ? 57 : 40;
    const lines = KEYS.flatMap((d) => (d.ini ?? []).filter((l) => l.block === layout.block).map((l) => ({ d, l })));
    for (const moved of lines.filter((x) => x.l.before !== undefined)) {
      lines.splice(lines.indexOf(moved), 1);
      lines.splice(
        lines.findIndex((x) => x.d.name === moved.l.before),
        0,
        moved,
      );
    }
    for (const { d, l: line } of lines) {
      for (const lead of line.lead ?? []) out.push(lead === '' ? '' : `${indent}# ${lead}`);
      const key = line.file ? `${d.name}_file` : d.name;
      const text = `${indent}${line.commented ? '# ' : ''}${key} =${line.value === '' ? '' : ` ${line.value}`}`;
      const [first, ...more] = (line.note ?? '').split('\n');
      if (line.note === undefined) out.push(text);
      else out.push(text.length <= column - 2 ? `${text.padEnd(column)}# ${first}` : `${text}   # ${first}`);
      for (const m of more) out.push(`${`${indent}#`.padEnd(column)}# ${m}`);
    }
    out.push(...(layout.tail ?? []));
  }
  return out.join('\n') + '\n';
}
