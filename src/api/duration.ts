/**
 * The one grammar for durations, in config keys and flags alike: an integer followed by
 * `s`, `m`, `h` or `d` (`90s`, `15m`, `26h`, `7d`), or a bare number of seconds (`30`, `2.5`).
 * Leaf module.
 */

const UNIT_MS: Readonly<Record<string, number>> = Object.freeze({ s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 });

/** What a duration may look like, for error messages. */
export const DURATION_HINT = 'a duration: seconds, or an integer with s, m, h or d (e.g. 30, 90s, 15m, 26h, 7d)';

/** Milliseconds, or undefined when `text` is not a duration in the grammar above. */
export function parseDuration(text: string): number | undefined {
  const v = text.trim();
  const bare = /^(\d+(?:\.\d+)?)$/.exec(v);
  if (bare) return Math.round(Number(bare[1]) * 1000);
  const unit = /^(\d+)([smhd])$/.exec(v);
  if (unit) return Number(unit[1]) * UNIT_MS[unit[2]!]!;
  return undefined;
}

/**
 * The shortest exact spelling of a whole number of seconds in the grammar (`90000` ms: `90s`;
 * `86400000`: `1d`).
 */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return ms % 1000 === 0 ? `${ms / 1000}s` : String(ms / 1000);
}
