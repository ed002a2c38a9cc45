/**
 * The docs hold together: every relative link and `#anchor` in README.md, docs/*.md and
 * bench/results-*.md points at a file that exists and a heading it has (GitHub's anchor rules),
 * README stays a front page (at most 300 lines) and links every page of docs/.
 * Why: the README was split into docs/ and its anchors moved; a renamed heading must fail here,
 * not in a reader's browser.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The Markdown files whose links are checked, relative to the repository root. */
function markdownFiles(): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`);
  const bench = readdirSync(join(root, 'bench'))
    .filter((f) => /^results-.*\.md$/.test(f))
    .map((f) => `bench/${f}`);
  return ['README.md', ...docs, ...bench];
}

/** The lines outside fenced code blocks, with inline code removed (a `[x](y)` in code is no link). */
function proseLines(text: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of text.split('\n')) {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      continue;
    }
    if (!fenced) out.push(line.replace(/`[^`]*`/g, ''));
  }
  return out;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes, -1, -2... for repeats. */
function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of text.split('\n')) {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      continue;
    }
    const m = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const plain = (m[1] ?? '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/[`*]/g, '');
    const base = plain
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\- _]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Every relative link of a file, as `target` (path and optional #anchor). */
function linksOf(text: string): string[] {
  const links: string[] = [];
  for (const line of proseLines(text)) {
    for (const m of line.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1] ?? '';
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
      links.push(target);
    }
  }
  return links;
}

describe('docs links', () => {
  it('every relative link and anchor in README.md, docs/*.md and bench/results-*.md resolves', () => {
    const broken: string[] = [];
    for (const file of markdownFiles()) {
      const text = readFileSync(join(root, file), 'utf8');
      for (const target of linksOf(text)) {
        const [path, anchor] = target.split('#', 2) as [string, string | undefined];
        const abs = path === '' ? join(root, file) : resolve(dirname(join(root, file)), decodeURI(path));
        if (!existsSync(abs)) {
          broken.push(`${file}: ${target} (no such file)`);
          continue;
        }
        if (anchor === undefined || anchor === '') continue;
        if (!abs.endsWith('.md')) {
          broken.push(`${file}: ${target} (anchor into a non-Markdown file)`);
          continue;
        }
        if (!anchorsOf(readFileSync(abs, 'utf8')).has(decodeURIComponent(anchor))) {
          broken.push(`${file}: ${target} (no heading #${anchor} in ${relative(root, abs)})`);
        }
      }
    }
    assert.deepEqual(broken, [], `broken links:\n${broken.join('\n')}`);
  });

  it('README.md is a front page: at most 300 lines, linking every page of docs/', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    assert.ok(
      readme.split('\n').length - 1 <= 300,
      `README.md has ${readme.split('\n').length - 1} lines; move the detail to docs/`,
    );
    const linked = new Set(linksOf(readme).map((t) => t.split('#')[0]));
    const missing = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md') && !linked.has(`docs/${f}`));
    assert.deepEqual(missing, [], `docs pages not linked from README.md: ${missing.join(', ')}`);
  });

  it('computes GitHub anchors the way GitHub does', () => {
    const a = anchorsOf('## Many workers: `s3s3listen --role`, one durable queue\n## `[notify]`\n## Notes\n## Notes\n');
    assert.ok(a.has('many-workers-s3s3listen---role-one-durable-queue'));
    assert.ok(a.has('notify'));
    assert.ok(a.has('notes') && a.has('notes-1'));
  });
});
