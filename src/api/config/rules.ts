/**
 * Rules across sections: where two endpoint sections name the same bucket, their prefixes and
 * trash must not overlap, or a copy would land where it is read from.
 */
import type { ConfigProblem } from '../errors.js';
import type { EndpointConfig } from './types.js';

/** The problems of the source and destinations taken together. */
export function crossSectionProblems(
  file: string,
  source: EndpointConfig | undefined,
  destinations: readonly (EndpointConfig | undefined)[],
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  // One bucket may hold a source and destinations only under prefixes that do not overlap
  // (a move inside one bucket); otherwise a copy would land where it is read from.
  const sections = [source, ...destinations].filter((e): e is EndpointConfig => e !== undefined);
  for (const [i, a] of sections.entries()) {
    for (const b of sections.slice(i + 1)) {
      if (a.endpoint !== b.endpoint || a.bucket !== b.bucket) continue;
      if (!a.prefix.startsWith(b.prefix) && !b.prefix.startsWith(a.prefix)) continue;
      const what = a.name === 'source' ? 'the source bucket itself' : `the same bucket as [${a.name}]`;
      const prefixes =
        a.prefix === '' && b.prefix === ''
          ? ''
          : ` under overlapping prefixes ${JSON.stringify(a.prefix)} and ${JSON.stringify(b.prefix)}`;
      problems.push({
        file,
        section: b.name,
        key: 'bucket_name',
        message:
          `is ${what} (${b.bucket} at ${b.endpoint})${prefixes}; use another bucket or endpoint, or prefixes ` +
          `that do not overlap (e.g. [${a.name}] prefix = old/ and [${b.name}] prefix = new/)`,
      });
    }
  }
  // A destination's trash must not lie where another section of the same bucket reads or writes:
  // a trashed object would be swept again (or, in the source's prefix, copied back).
  for (const d of destinations) {
    if (!d || (d.deleteMode !== 'trash' && d.trashPrefix === undefined)) continue;
    const trash = d.trashPrefix ?? '.s3s3-trash/';
    for (const other of sections) {
      if (other === d || other.endpoint !== d.endpoint || other.bucket !== d.bucket) continue;
      if (!trash.startsWith(other.prefix) && !other.prefix.startsWith(trash)) continue;
      problems.push({
        file,
        section: d.name,
        key: 'trash_prefix',
        message:
          `${JSON.stringify(trash)} overlaps the prefix ${JSON.stringify(other.prefix)} of [${other.name}] in the ` +
          `same bucket (${d.bucket} at ${d.endpoint}): trashed objects would be read again; ` +
          'choose a trash_prefix outside it',
      });
    }
  }
  return problems;
}
