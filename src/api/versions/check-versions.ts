/**
 * `s3s3bucket --check` with `versions = true`: the versioned sweep as a dry run, its results
 * as check lines — `v` for a key whose history at a destination lacks versions or cannot follow
 * the source's, `-` for a key only the destination has, `=` for a history that follows.
 */
import { HistoryDiffersError } from './reconcile.js';
import { sweepVersions } from './sweep-versions.js';
import { marksDiffer, zeroMarks, type CheckLine, type CheckOptions, type CheckReport } from '../sweep/check.js';
import type { ObjectStore } from '../store/object-store.js';

/** The versioned check of `source` against `destinations` (see the file's comment). */
export async function checkVersions(
  source: ObjectStore,
  destinations: readonly ObjectStore[],
  options: CheckOptions = {},
): Promise<CheckReport> {
  const report: CheckReport = {
    source: source.name,
    listed: 0,
    destinations: Object.fromEntries(destinations.map((d) => [d.name, zeroMarks(true)])),
    errors: 0,
    errorSamples: [],
    ok: false,
    seconds: 0,
  };
  const emit = (line: CheckLine) => {
    const counts = report.destinations[line.destination]!;
    counts[line.mark] = (counts[line.mark] ?? 0) + 1;
    options.onLine?.(line);
  };
  const swept = await sweepVersions(source, destinations, {
    ...options,
    dryRun: true,
    destinationOnly: true,
    onResult: (r) => {
      const key = r.sourceKey ?? r.key;
      const at = { destination: r.destination, destinationKey: r.key };
      if (r.outcome === 'skipped') emit({ mark: '=', key, ...at });
      else if (r.outcome === 'would copy') emit({ mark: 'v', key, ...at, reason: 'versions missing' });
      else if (r.outcome === 'would delete') emit({ mark: '-', key: r.key, ...at });
      else if (r.outcome === 'failed' && r.error instanceof HistoryDiffersError)
        emit({ mark: 'v', key, ...at, reason: r.error.message });
      else if (r.outcome === 'failed') {
        report.errors++;
        if (report.errorSamples.length < 100)
          report.errorSamples.push({ key, destination: r.destination, error: r.error?.message ?? 'unknown error' });
      }
    },
  });
  report.listed = swept.listed;
  report.seconds = swept.seconds;
  if (swept.aborted !== undefined) report.aborted = swept.aborted;
  report.ok = !Object.values(report.destinations).some(marksDiffer) && report.errors === 0 && !report.aborted;
  return report;
}
