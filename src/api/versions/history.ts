/**
 * A key's history at the source against a destination's (`versions = true`): what the
 * destination lacks, to copy in order, or why it cannot follow (its history differs).
 */
import { etagMd5, type HeadInfo, type VersionEntry } from '../store/object-store.js';
import { META_SOURCE_ETAG, META_SOURCE_VERSION } from '../copy/decide.js';

/** What a destination needs for one key: the source entries to apply, oldest first; or why not. */
export interface HistoryPlan {
  /** Source versions and delete markers the destination lacks, oldest first. */
  readonly apply: readonly VersionEntry[];
  /** Set when the destination's history is no prefix of the source's: nothing is done, this is reported. */
  readonly differs?: string;
}

/**
 * Whether destination entry `d` is the copy of source entry `s`: both delete markers, or
 * versions of one size whose ETags agree; where they cannot agree (a copy uploaded in parts
 * has a `-N` ETag of its own) `confirm` reads the copy's metadata (the source version id, else
 * the source ETag it records).
 */
async function sameEntry(
  s: VersionEntry,
  d: VersionEntry,
  confirm: (d: VersionEntry) => Promise<HeadInfo | null>,
): Promise<boolean> {
  if (s.deleteMarker || d.deleteMarker) return s.deleteMarker && d.deleteMarker;
  if (s.size !== d.size) return false;
  if (s.etag === d.etag && etagMd5(s) !== undefined) return true;
  const head = await confirm(d);
  if (!head) return false;
  const recorded = head.metadata[META_SOURCE_VERSION];
  if (recorded !== undefined) return recorded === s.versionId;
  return head.metadata[META_SOURCE_ETAG] === s.etag || s.etag === d.etag;
}

/**
 * The plan for one key: `source` and `dest` are its histories newest first, as listed. The
 * destination follows when its history is the source's oldest entries, in order: the rest is
 * applied. Otherwise (a version written there by someone else, a source version removed for
 * good, a history that began before s3s3 did) nothing is done and `differs` says where.
 */
export async function planHistory(
  source: readonly VersionEntry[],
  dest: readonly VersionEntry[],
  confirm: (d: VersionEntry) => Promise<HeadInfo | null>,
): Promise<HistoryPlan> {
  const s = [...source].reverse();
  const d = [...dest].reverse();
  let i = 0;
  let j = 0;
  while (j < d.length) {
    if (i < s.length && (await sameEntry(s[i]!, d[j]!, confirm))) i++;
    // The same source entry written twice (two copies raced): the history still follows.
    else if (!(i > 0 && (await sameEntry(s[i - 1]!, d[j]!, confirm)))) break;
    j++;
  }
  if (j === d.length) return { apply: s.slice(i) };
  const what = (e: VersionEntry | undefined) =>
    e === undefined ? 'nothing' : e.deleteMarker ? 'a delete marker' : `${e.size} bytes, ETag ${e.etag}`;
  return {
    apply: [],
    differs:
      `history differs at entry ${j + 1} (oldest first): the destination has ${what(d[j])}, the source ` +
      `${what(s[i])}; a version cannot be inserted before the destination's newest`,
  };
}
