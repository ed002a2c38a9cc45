/** How one value is written and read: booleans, sizes, `max_delete`, URLs shown without secrets, typos. */
import type { MaxDelete } from './types.js';

/** Bytes in a mebibyte. */
export const MiB = 1024 ** 2;
/** Bytes in a gibibyte. */
export const GiB = 1024 ** 3;

/** `N` or `P%`; undefined when neither. */
export function parseMaxDelete(value: string): MaxDelete | undefined {
  const v = value.trim();
  if (/^\d+$/.test(v)) return { count: Number(v) };
  const m = /^(\d+(?:\.\d+)?)\s*%$/.exec(v);
  if (m && Number(m[1]) <= 100) return { percent: Number(m[1]) };
  return undefined;
}

/** Python's strtobool, any case. */
export function parseBoolean(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (['y', 'yes', 't', 'true', 'on', '1'].includes(v)) return true;
  if (['n', 'no', 'f', 'false', 'off', '0'].includes(v)) return false;
  return undefined;
}

/** Bytes, or a number with K/M/G/T (binary multiples; KiB, MB and so on read the same). */
export function parseSize(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(value.trim());
  if (!m) return undefined;
  const unit = { '': 1, k: 1024, m: MiB, g: GiB, t: 1024 * GiB }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * unit);
}

/** A size as a user writes it: `5G`, `64M`, else bytes. */
export function formatSize(bytes: number): string {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB}G`;
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB}M`;
  return `${bytes}`;
}

/** The URL with its password (or a lone user, which Redis reads as one) masked. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    else if (u.username) u.username = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/.*@/, '//***@');
  }
}

/** A `{YOUR_...}` placeholder of the template, left in place. */
export function isPlaceholder(value: string): boolean {
  return /^\{[A-Za-z0-9_ -]+\}$/.test(value) || /\{YOUR_[A-Z0-9_]*\}/.test(value);
}

/** `dest2` before `dest10`. */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** The closest candidate by edit distance, if it is close enough to be a likely typo. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
