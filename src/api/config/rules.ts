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
  problems.push(...versionProblems(file, source, destinations));
  return problems;
}

/** `versions = true` copies histories: S3 everywhere, each copy recording its source version. */
function versionProblems(
  file: string,
  source: EndpointConfig | undefined,
  destinations: readonly (EndpointConfig | undefined)[],
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const versions = source?.versions === true;
  if (versions && source && !source.recordMetadata)
    problems.push({
      file,
      section: source.name,
      key: 'record_metadata',
      message:
        '= false with versions = true: each copied version records its source version id in its metadata; ' +
        'remove record_metadata = false',
    });
  for (const d of destinations) {
    if (!d) continue;
    if (versions && d.type !== 's3')
      problems.push({
        file,
        section: d.name,
        key: 'type',
        message: `is ${d.type}: [source] versions = true copies version histories, which only S3 buckets keep`,
      });
    else if (versions && !d.recordMetadata)
      problems.push({
        file,
        section: d.name,
        key: 'record_metadata',
        message: '= false with [source] versions = true: each copy records its source version id; remove it',
      });
    if (d.deleteMode === 'trash' && versions)
      problems.push({
        file,
        section: d.name,
        key: 'delete_mode',
        message:
          '= trash with [source] versions = true: a versioned destination keeps what a delete hides (it writes a ' +
          'delete marker); use delete',
      });
    if (d.deleteMode === 'versions' && !versions)
      problems.push({
        file,
        section: d.name,
        key: 'delete_mode',
        message: '= versions needs [source] versions = true; use delete or trash',
      });
  }
  return problems;
}
