/** Copy or skip: the decision for one key at one destination, as one small table. */
import { etagMd5, isMd5Etag, type ObjectInfo } from '../store/object-store.js';

/** User metadata where a copy records its source's ETag, so a later sweep can compare without an MD5. */
export const META_SOURCE_ETAG = 's3s3-source-etag';
/** User metadata where a copy records its source's MD5 when known, for copies whose ETag is not one. */
export const META_MD5 = 's3s3-md5';
/** User metadata where a copy of one version records the source's version id (`versions = true`). */
export const META_SOURCE_VERSION = 's3s3-source-version-id';

/** Why a key is copied: logged, counted and written to the reports. */
export type CopyReason =
  | 'forced'
  | 'missing'
  | 'announced'
  | 'size differs'
  | 'md5 differs'
  | 'source changed'
  | 'unverifiable'
  | 'hash differs'
  | 'metadata differs'
  | 'tags differ';

/** What `decide` says: copy (and why), skip, or look closer (HEAD the destination, hash both bodies). */
export type Decision =
  | { readonly action: 'copy'; readonly reason: CopyReason }
  | { readonly action: 'skip' }
  | { readonly action: 'head' }
  | { readonly action: 'hash' };

/** A destination's object as seen so far: from a listing, or from a HEAD with its metadata. */
export interface DestinationState extends ObjectInfo {
  /** User metadata from a HEAD; undefined when only a listing was seen. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** The caller's overrides of the decision: copy regardless, or hash bodies when nothing else proves equality. */
export interface DecideOptions {
  readonly force?: boolean;
  readonly verifyMd5?: boolean;
}

/** The MD5 of an object when known without reading it. */
export function knownMd5(o: {
  etag: string;
  etagIsMd5?: boolean;
  metadata?: Readonly<Record<string, string>>;
}): string | undefined {
  const fromEtag = etagMd5(o);
  if (fromEtag !== undefined) return fromEtag;
  const recorded = o.metadata?.[META_MD5];
  return isMd5Etag(recorded) ? recorded : undefined;
}

/**
 * Copy or skip, for one key and one destination. Decides from listings and HEADs; reading
 * bodies is asked for only when nothing cheaper can prove the copy equal.
 *
 * | # | situation                                                        | decision            |
 * |---|------------------------------------------------------------------|---------------------|
 * | 1 | `force`                                                          | copy (forced)       |
 * | 2 | destination missing                                              | copy (missing)      |
 * | 3 | sizes differ                                                     | copy (size differs) |
 * | 4 | both MD5s known (plain-MD5 ETag, or s3s3's recorded MD5), equal  | skip                |
 * | 5 | both MD5s known, different                                       | copy (md5 differs)  |
 * | 6 | an MD5 unknown; destination metadata not read yet                | head the destination|
 * | 7 | an MD5 unknown; copy records the source ETag, equal              | skip                |
 * | 8 | an MD5 unknown; copy records the source ETag, different          | copy (source changed)|
 * | 9 | an MD5 unknown; both ETags the same string (server-side copy)    | skip                |
 * |10 | an MD5 unknown; `verifyMd5`                                      | hash both bodies    |
 * |11 | an MD5 unknown; otherwise                                        | copy (unverifiable) |
 *
 * Equal size alone never proves equal content, and an ETag that is not a plain MD5
 * (multipart `-N`, a clone's own hash) is never compared with an MD5.
 */
export function decide(
  source: ObjectInfo & { metadata?: Readonly<Record<string, string>> },
  dest: DestinationState | null,
  options: DecideOptions = {},
): Decision {
  if (options.force) return { action: 'copy', reason: 'forced' };
  if (dest === null) return { action: 'copy', reason: 'missing' };
  if (dest.size !== source.size) return { action: 'copy', reason: 'size differs' };
  const sourceMd5 = knownMd5(source);
  const destMd5 = knownMd5(dest);
  if (sourceMd5 !== undefined && destMd5 !== undefined) {
    return sourceMd5 === destMd5 ? { action: 'skip' } : { action: 'copy', reason: 'md5 differs' };
  }
  if (dest.metadata === undefined) return { action: 'head' };
  const recorded = dest.metadata[META_SOURCE_ETAG];
  if (recorded !== undefined && source.etag !== '') {
    return recorded === source.etag ? { action: 'skip' } : { action: 'copy', reason: 'source changed' };
  }
  if (source.etag !== '' && dest.etag === source.etag) return { action: 'skip' };
  if (options.verifyMd5) return { action: 'hash' };
  return { action: 'copy', reason: 'unverifiable' };
}
