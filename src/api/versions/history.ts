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
  /** Set when the destination's history cannot follow the source's: this is reported. */
  readonly differs?: string;
  /**
   * With `differs`: the source's newest entry, when the destination's newest is not its copy.
   * Written on top so the current object converges even where the history cannot follow.
   */
  readonly current?: VersionEntry;
}

/**
 * Whether destination entry `d` is the copy of source entry `s`: both delete markers, or
 * versions of one size whose MD5 ETags agree — where a neighbouring source version has the same
 * ETag (a metadata-only rewrite) or the ETags cannot agree (a copy uploaded in parts, an
 * encrypted one), the copy's metadata must name this very source version and its ETag.
 */
async function sameEntry(
  s: VersionEntry,
  d: VersionEntry,
  ambiguous: boolean,
  confirm: (d: VersionEntry) => Promise<HeadInfo | null>,
): Promise<boolean> {
  if (s.deleteMarker || d.deleteMarker) return s.deleteMarker && d.deleteMarker;
  if (s.size !== d.size) return false;
  const sm = etagMd5(s);
  const dm = etagMd5(d);
  if (sm !== undefined && dm !== undefined && sm !== dm) return false;
  if (sm !== undefined && sm === dm && !ambiguous) return true;
  const head = await confirm(d);
  if (!head) return false;
  return head.metadata[META_SOURCE_VERSION] === s.versionId && head.metadata[META_SOURCE_ETAG] === s.etag;
}

/**
 * The plan for one key: `source` and `dest` are its histories newest first, as listed. The
 * destination follows when, oldest first, it holds the source's entries in order, allowing
 * older entries only it has before them (versions a lifecycle rule expired at the source, a
 * replica older than `versions = true`) and the same source entry written twice in a row (two
 * copies racing): the source entries after its last copy are applied. Otherwise (a version
 * written there by someone else, an entry out of order) `differs` says where, and `current`
 * is the source's newest entry when the destination's newest is not its copy.
 */
export async function planHistory(
  source: readonly VersionEntry[],
  dest: readonly VersionEntry[],
  confirm: (d: VersionEntry) => Promise<HeadInfo | null>,
): Promise<HistoryPlan> {
  const s = [...source].reverse();
  const d = [...dest].reverse();
  const ambiguous = (i: number) =>
    !s[i]!.deleteMarker &&
    [s[i - 1], s[i + 1]].some((n) => n !== undefined && !n.deleteMarker && n.etag === s[i]!.etag);
  const same = (i: number, j: number) => sameEntry(s[i]!, d[j]!, ambiguous(i), confirm);
  /** From destination entry `start` on: how far the source is matched (`i`), and where it stopped (`j`). */
  const align = async (start: number): Promise<{ i: number; j: number }> => {
    let i = 0;
    let j = start;
    while (j < d.length) {
      if (i < s.length && (await same(i, j))) i++;
      else if (!(i > 0 && (await same(i - 1, j)))) break;
      j++;
    }
    return { i, j };
  };
  // Older entries only the destination has may come before the copy of the source's oldest:
  // every place where that copy could start is tried, the earliest that follows wins.
  let { i, j } = await align(0);
  for (let k = 1; j < d.length && s.length > 0 && k < d.length; k++) {
    if (!(await same(0, k))) continue;
    const tried = await align(k);
    if (tried.j === d.length) ({ i, j } = tried);
  }
  if (j === d.length) return { apply: s.slice(i) };
  const what = (e: VersionEntry | undefined) =>
    e === undefined ? 'nothing' : e.deleteMarker ? 'a delete marker' : `${e.size} bytes, ETag ${e.etag}`;
  const newest = s[s.length - 1];
  const current =
    newest !== undefined && !(d.length > 0 && (await same(s.length - 1, d.length - 1))) ? newest : undefined;
  return {
    apply: [],
    differs:
      `history differs at entry ${j + 1} (oldest first): the destination has ${what(d[j])}, the source ` +
      `${what(s[i])}; a version cannot be inserted before the destination's newest` +
      (current ? ": the source's newest entry is written on top, so the current object matches" : ''),
    ...(current ? { current } : {}),
  };
}
