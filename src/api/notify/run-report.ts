/**
 * One `s3s3bucket` run over one or more configs: what each pair did, their total, and the
 * JSON that `--json` prints for several configs and the webhook receives.
 */
import type { DuplicateReport } from '../sweep/duplicate.js';

/** What one config's sweep did (or why it did nothing). */
export interface RunReport {
  /** The config file, or null when the config came from the environment. */
  readonly config: string | null;
  /** `bucket at endpoint` of `[source]`. */
  readonly source: string;
  /** `[dest*]` section name -> `bucket at endpoint`. */
  readonly destinations: Readonly<Record<string, string>>;
  readonly exitCode: number;
  /** Set when the pair was not swept: another sweep held its lock, or an earlier run was interrupted. */
  readonly notRun?: string;
  /** An error that ended the run (one line, no secret). */
  readonly error?: string;
  /** The sweep's figures, when it ran. */
  readonly sweep?: DuplicateReport;
  /** Set for `--enqueue`: jobs queued for the workers. */
  readonly queued?: number;
  /** What `--json` prints for this run on its own, one object per line (usually one). */
  readonly json: readonly Record<string, unknown>[];
}

const COUNTS = [
  'listed',
  'copied',
  'skipped',
  'gone',
  'failed',
  'wouldCopy',
  'deleted',
  'wouldDelete',
  'bytes',
] as const;
/** A count summed over the runs (what `total` holds besides seconds, exit status and ok). */
export type RunCount = (typeof COUNTS)[number];

/** The runs summed, and the worst exit status. */
export interface RunTotal extends Record<RunCount, number> {
  readonly runs: number;
  readonly exitCode: number;
  readonly ok: boolean;
  readonly seconds: number;
}

/** Every run's counts and seconds summed, and the worst exit status. */
export function runTotal(runs: readonly RunReport[]): RunTotal {
  const sums = Object.fromEntries(COUNTS.map((c) => [c, runs.reduce((n, r) => n + (r.sweep?.[c] ?? 0), 0)])) as Record<
    RunCount,
    number
  >;
  const exitCode = runs.reduce((worst, r) => Math.max(worst, r.exitCode), 0);
  const seconds = Number(runs.reduce((n, r) => n + (r.sweep?.seconds ?? 0), 0).toFixed(3));
  return { runs: runs.length, exitCode, ok: exitCode === 0, ...sums, seconds };
}

/** One run as an entry of `runs`: its config and source, then what `--json` prints for it alone. */
export function runEntry(run: RunReport): Record<string, unknown> {
  const [first, ...rest] = run.json;
  return {
    config: run.config,
    source: run.source,
    exitCode: run.exitCode,
    ...(run.notRun !== undefined ? { notRun: run.notRun } : {}),
    ...(run.error !== undefined ? { error: run.error } : {}),
    ...first,
    // --enqueue --wait-drained --delete sweeps once more after the queue drained.
    ...(rest.length > 0 ? { then: rest } : {}),
  };
}

/** `{"runs": [...], "total": {...}}`: `--json` with several configs, and the webhook's body. */
export function runsJson(runs: readonly RunReport[]): { runs: Record<string, unknown>[]; total: RunTotal } {
  return { runs: runs.map(runEntry), total: runTotal(runs) };
}
