/** Which source objects a sweep considers: size bounds and include/exclude globs. */
import type { ObjectInfo } from '../store/object-store.js';

export interface FilterOptions {
  readonly minSize?: number;
  readonly maxSize?: number;
  /** Globs a key must match at least one of (when any are given). */
  readonly include?: readonly string[];
  /** Globs that exclude a key; exclusion wins over inclusion. */
  readonly exclude?: readonly string[];
}

/**
 * rclone-style globs: `*` any run of characters but `/`, `**` any run including `/`,
 * `?` one character but `/`, `[...]` a class, `{a,b}` alternatives. Anchored at both ends.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  let inGroup = false;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end === -1) re += '\\[';
      else {
        re += '[' + glob.slice(i + 1, end).replace(/\\/g, '\\\\') + ']';
        i = end;
      }
    } else if (c === '{') {
      inGroup = true;
      re += '(?:';
    } else if (c === '}' && inGroup) {
      inGroup = false;
      re += ')';
    } else if (c === ',' && inGroup) re += '|';
    else re += c.replace(/[.+^$()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'u');
}

export function makeFilter(options: FilterOptions): (o: ObjectInfo) => boolean {
  const include = (options.include ?? []).map(globToRegExp);
  const exclude = (options.exclude ?? []).map(globToRegExp);
  return (o) => {
    if (options.minSize !== undefined && o.size < options.minSize) return false;
    if (options.maxSize !== undefined && o.size > options.maxSize) return false;
    if (exclude.some((r) => r.test(o.key))) return false;
    if (include.length > 0 && !include.some((r) => r.test(o.key))) return false;
    return true;
  };
}
