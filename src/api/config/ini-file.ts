/**
 * Reads INI text the way Python's configparser read the original s3s3.ini, which the
 * `ini` package does not: it cuts a value at any `#` or `;`, so a secret such as
 * `abc#def` would silently become `abc`. Here a comment starts only at the beginning of
 * a line or after whitespace, as with configparser's `inline_comment_prefixes`.
 */

/** One `key = value` line. */
export interface IniEntry {
  readonly value: string;
  readonly line: number;
}

/** One `[section]` and its entries, keys lower-cased. */
export interface IniSection {
  readonly name: string;
  readonly line: number;
  readonly entries: Map<string, IniEntry>;
}

/** A line that could not be read, or a key or section given twice. */
export interface IniProblem {
  readonly line: number;
  readonly section?: string;
  readonly key?: string;
  readonly message: string;
}

/** A whole INI text: its sections in order, and every problem found. */
export interface IniDocument {
  readonly sections: Map<string, IniSection>;
  readonly problems: IniProblem[];
}

const INLINE_COMMENT = /\s[#;].*$/;

/** Read INI text; problems are collected, never thrown. */
export function parseIni(text: string): IniDocument {
  const sections = new Map<string, IniSection>();
  const problems: IniProblem[] = [];
  let current: IniSection | undefined;
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) return;
    const header = /^\[([^\]]*)\]$/.exec(trimmed.replace(INLINE_COMMENT, '').trim());
    if (header) {
      const name = header[1]!.trim();
      if (name === '') {
        problems.push({ line, message: 'empty section name "[]"' });
        current = undefined;
        return;
      }
      if (sections.has(name)) {
        problems.push({
          line,
          section: name,
          message: `section [${name}] appears twice (first on line ${sections.get(name)!.line}); merge them`,
        });
        current = sections.get(name);
        return;
      }
      current = { name, line, entries: new Map() };
      sections.set(name, current);
      return;
    }
    const eq = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(trimmed);
    if (!eq) {
      // The line is not echoed: it may be a secret with its "=" missing.
      problems.push({
        line,
        section: current?.name,
        message: `line ${line} is neither "[section]" nor "key = value" (a missing "="?)`,
      });
      return;
    }
    if (!current) {
      problems.push({ line, key: eq[1], message: `line ${line}: "${eq[1]}" comes before any [section]` });
      return;
    }
    const key = eq[1]!.trim().toLowerCase();
    const value = eq[2]!.replace(INLINE_COMMENT, '').trim();
    if (current.entries.has(key)) {
      problems.push({
        line,
        section: current.name,
        key,
        message: `set twice (lines ${current.entries.get(key)!.line} and ${line}); keep one`,
      });
    }
    current.entries.set(key, { value, line });
  });
  return { sections, problems };
}
