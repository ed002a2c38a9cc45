/**
 * Keeping secrets out of what gets printed. Config objects hide their secret fields
 * (non-enumerable: still readable, but skipped by `util.inspect`, `console.log`,
 * `JSON.stringify` and spreads); objects that hold connections (a store holds an SDK client
 * with the credentials, a listener holds Redis connections with the password) print as a
 * short summary instead of their insides.
 */
import { inspect, type InspectOptionsStylized } from 'node:util';

/**
 * Make `keys` of `obj` non-enumerable, then freeze it. Inspecting it prints a copy of the
 * enumerable fields, so even `showHidden` (console.log's `%o`) does not reach the secrets.
 */
export function hideSecrets<T extends object>(obj: T, keys: readonly (keyof T)[]): Readonly<T> {
  for (const key of keys) {
    if (Object.prototype.hasOwnProperty.call(obj, key)) Object.defineProperty(obj, key, { enumerable: false });
  }
  Object.defineProperty(obj, inspect.custom, {
    value(this: T): object {
      return { ...this };
    },
    enumerable: false,
  });
  return Object.freeze(obj);
}

/** The public, secret-free fields an object prints as. */
export type Summary = Readonly<Record<string, string | number | boolean | undefined | readonly string[]>>;

/**
 * Give `target` (a class prototype) a `util.inspect` form, a `toJSON` and a `toString`
 * built from `summary` only, so printing an instance never walks into its connections.
 */
export function printAs<T extends object>(
  target: { prototype: T },
  className: string,
  summary: (self: T) => Summary,
): void {
  Object.defineProperties(target.prototype, {
    [inspect.custom]: {
      value(this: T, depth: number, options: InspectOptionsStylized, inspectFn: typeof inspect = inspect): string {
        if (depth < 0) return options.stylize(`[${className}]`, 'special');
        return `${className} ${inspectFn(summary(this), { ...options, depth: options.depth === null ? null : depth })}`;
      },
      configurable: true,
      writable: true,
    },
    toJSON: {
      value(this: T): Summary {
        return summary(this);
      },
      configurable: true,
      writable: true,
    },
    toString: {
      value(this: T): string {
        const s = summary(this);
        const fields = Object.entries(s)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`);
        return `${className}(${fields.join(' ')})`;
      },
      configurable: true,
      writable: true,
    },
  });
}
