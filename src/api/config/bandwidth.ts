/**
 * The `bwlimit` grammar (rclone's): a rate (`10M`, `512K`, `off`), or a timetable of
 * `HH:MM,RATE` entries in local time (`08:00,512K 19:00,10M 23:00,off`) whose last entry of
 * a day goes on until the first of the next. `HH:MM:SS` is read too (a test needs seconds).
 * Leaf module: the config readers check it, the limiter (limits/bandwidth.ts) follows it.
 */
import { parseSize } from './values.js';

/** One period of a timetable: from `atSecond` (since local midnight) on, this many bytes a second. */
export interface BandwidthPeriod {
  readonly atSecond: number;
  /** Infinity for `off`. */
  readonly bytesPerSecond: number;
}

/** A parsed `bwlimit`: the text as written (for messages) and its periods, in time order. */
export interface Bandwidth {
  readonly text: string;
  /** One period at second 0 for a plain rate. */
  readonly periods: readonly BandwidthPeriod[];
}

/** What `bwlimit` takes, for messages. */
export const BANDWIDTH_HINT =
  'a rate in bytes per second (10M, 512K; off) or a timetable of HH:MM,RATE entries (08:00,512K 19:00,10M 23:00,off)';

/** A rate (`off`, or a size greater than 0, per second); undefined when it is none. */
function parseRate(text: string): number | undefined {
  if (text.toLowerCase() === 'off') return Infinity;
  const n = parseSize(text);
  return n !== undefined && n > 0 ? n : undefined;
}

/** Parses `bwlimit`; a string is the problem with it (what is wrong, in a few words). */
export function parseBandwidth(text: string): Bandwidth | string {
  const words = text.trim().split(/\s+/);
  if (words.length === 1 && !words[0]!.includes(',')) {
    const rate = parseRate(words[0]!);
    if (rate === undefined) return `"${text}" is not ${BANDWIDTH_HINT}`;
    return { text, periods: [{ atSecond: 0, bytesPerSecond: rate }] };
  }
  const periods: BandwidthPeriod[] = [];
  for (const word of words) {
    const m = /^(\d{1,2}):(\d{2})(?::(\d{2}))?,(.+)$/.exec(word);
    const rate = m ? parseRate(m[4]!) : undefined;
    if (!m || rate === undefined || Number(m[1]) > 23 || Number(m[2]) > 59 || Number(m[3] ?? 0) > 59)
      return `"${word}" in "${text}" is not a HH:MM,RATE entry (e.g. 08:00,512K or 23:00,off)`;
    const atSecond = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3] ?? 0);
    if (periods.some((p) => p.atSecond === atSecond)) return `"${text}" names the time ${m[1]}:${m[2]} twice`;
    periods.push({ atSecond, bytesPerSecond: rate });
  }
  periods.sort((a, b) => a.atSecond - b.atSecond);
  return { text, periods };
}

/** The rate in force at `when` (local time): the last period begun today, else yesterday's last. */
export function rateAt(bandwidth: Bandwidth, when: Date): number {
  const second = when.getHours() * 3600 + when.getMinutes() * 60 + when.getSeconds();
  const { periods } = bandwidth;
  let rate = periods[periods.length - 1]!.bytesPerSecond;
  for (const p of periods) {
    if (p.atSecond > second) break;
    rate = p.bytesPerSecond;
  }
  return rate;
}
