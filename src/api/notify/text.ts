/** The run report as people read it: a subject line and a plain-text body. */
import type { DestinationTotals } from '../sweep/duplicate.js';
import { runTotal, type RunReport } from './run-report.js';

/** Failures listed in a report; the rest are counted. */
export const REPORT_FAILURES = 100;

/**
 * A key as a JSON string on one line: JSON leaves U+0085, U+2028 and U+2029 raw, and line
 * readers (Python's splitlines, JavaScript's `.`) break lines at them; they are escaped too.
 */
export function quoteKey(key: string): string {
  return JSON.stringify(key).replace(
    /[\u0085\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * Text on one line: control and line-breaking characters escaped as `\uXXXX` (an error may
 * quote a key).
 */
export function oneLine(text: string): string {
  return text.replace(
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The word a report leads with: OK for exit status 0, else FAILED. */
export function outcomeWord(exitCode: number): 'OK' | 'FAILED' {
  return exitCode === 0 ? 'OK' : 'FAILED';
}

/** The sources of the runs, for a subject: the first three, then how many more. */
function sourcesLabel(runs: readonly RunReport[]): string {
  const names = [...new Set(runs.map((r) => r.source))];
  return names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
}

/** `subject` with `{outcome}`, `{source}` and `{host}` filled in; by default both named. */
export function reportSubject(runs: readonly RunReport[], host: string, template?: string): string {
  const total = runTotal(runs);
  const outcome = total.ok ? 'OK' : total.failed > 0 ? `FAILED (${total.failed} failed)` : 'FAILED';
  const fill: Record<string, string> = { outcome, source: sourcesLabel(runs), host };
  const subject = (template ?? 's3s3bucket {outcome}: {source}').replace(
    /\{(outcome|source|host)\}/g,
    (_, k: string) => fill[k]!,
  );
  return oneLine(subject);
}

const MiB = 1024 * 1024;
function bytes(n: number): string {
  return n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : `${n} bytes`;
}

function counts(t: DestinationTotals): string {
  const parts = [`copied ${t.copied} (${bytes(t.bytes)})`, `skipped ${t.skipped}`, `failed ${t.failed}`];
  if (t.deleted) parts.push(`deleted ${t.deleted}`);
  if (t.gone) parts.push(`gone ${t.gone}`);
  if (t.wouldCopy) parts.push(`would copy ${t.wouldCopy}`);
  if (t.wouldDelete) parts.push(`would delete ${t.wouldDelete}`);
  return parts.join(', ');
}

/**
 * The mail body: the outcome, then per pair its figures and per-destination totals, then the
 * first failures (keys quoted on one line, reasons with control characters escaped).
 */
export function reportText(runs: readonly RunReport[], host: string): string {
  const total = runTotal(runs);
  const lines: string[] = [
    `s3s3bucket on ${host}: ${outcomeWord(total.exitCode)} (exit status ${total.exitCode})`,
    `${runs.length} ${runs.length === 1 ? 'pair' : 'pairs'}; ` +
      `listed ${total.listed}, copied ${total.copied} (${bytes(total.bytes)}), skipped ${total.skipped}, ` +
      `failed ${total.failed}, deleted ${total.deleted}; ${total.seconds} s`,
  ];
  let budget = REPORT_FAILURES;
  for (const run of runs) {
    lines.push('', `${run.source} -> ${Object.values(run.destinations).join(', ')}: ${outcomeWord(run.exitCode)}`);
    if (run.config !== null) lines.push(`  config: ${run.config}`);
    if (run.notRun !== undefined) lines.push(`  not run: ${oneLine(run.notRun)}`);
    if (run.error !== undefined) lines.push(`  error: ${oneLine(run.error)}`);
    const s = run.sweep;
    if (!s) continue;
    lines.push(
      `  listed ${s.listed}, ${counts(s)}${run.queued !== undefined ? `, queued ${run.queued}` : ''}; ` +
        `${Number(s.seconds.toFixed(3))} s`,
    );
    if (s.aborted) lines.push(`  stopped: ${oneLine(s.aborted)}`);
    for (const r of s.refused ?? []) lines.push(`  refused: ${oneLine(r)}`);
    if (s.deletesSkipped) lines.push(`  no delete made: ${oneLine(s.deletesSkipped)}`);
    for (const [name, t] of Object.entries(s.destinations))
      lines.push(`  [${name}] ${run.destinations[name] ?? name}: ${counts(t)}`);
    if (s.failed === 0) continue;
    const shown = s.failures.slice(0, Math.max(budget, 0));
    budget -= shown.length;
    lines.push(`  failures (${shown.length < s.failed ? `first ${shown.length} of ${s.failed}` : s.failed}):`);
    for (const f of shown) lines.push(`    ${quoteKey(f.key)} -> [${f.destination}]: ${oneLine(f.error)}`);
    if (shown.length < s.failed)
      lines.push(`    ... and ${s.failed - shown.length} more (the log of this run names them all)`);
  }
  return lines.join('\n') + '\n';
}
