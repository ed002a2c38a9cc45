/**
 * An object's ACL as `acl = copy` carries it: the read it grants to everyone or to every
 * authenticated user, said as the canned ACL that expresses it. Grants to other accounts are
 * not carried (their ids mean nothing at another provider): they are returned for the log.
 */

/** The canned ACLs `copy` can produce. */
export type CopiedAcl = 'private' | 'public-read' | 'authenticated-read';

/** One grant of an S3 ACL (GetObjectAcl), as far as `copy` reads it. */
export interface AclGrant {
  /** `Group` grantees: `http://acs.amazonaws.com/groups/global/AllUsers` or `.../AuthenticatedUsers`. */
  readonly uri?: string;
  /** `CanonicalUser` grantees. */
  readonly id?: string;
  readonly permission?: string;
}

/** What `copy` makes of an ACL: the canned ACL, and the grants it leaves out (`id PERMISSION`). */
export interface SourceAcl {
  readonly canned: CopiedAcl;
  readonly notCopied: readonly string[];
}

const ALL_USERS = /\/groups\/global\/AllUsers$/;
const AUTHENTICATED = /\/groups\/global\/AuthenticatedUsers$/;
const READS = new Set(['READ', 'FULL_CONTROL']);

/**
 * The canned ACL for a source object's grants: public-read when everyone may read it,
 * authenticated-read when every authenticated user may, else private. The owner's own grant
 * is implied by every canned ACL; any other grant (another account, a WRITE to a group) is
 * listed in `notCopied`.
 */
export function cannedFromGrants(grants: readonly AclGrant[], ownerId: string | undefined): SourceAcl {
  let canned: CopiedAcl = 'private';
  const notCopied: string[] = [];
  for (const g of grants) {
    const perm = g.permission ?? '';
    if (g.uri !== undefined && ALL_USERS.test(g.uri) && READS.has(perm)) canned = 'public-read';
    else if (g.uri !== undefined && AUTHENTICATED.test(g.uri) && READS.has(perm)) {
      if (canned === 'private') canned = 'authenticated-read';
    } else if (g.id !== undefined && g.id === ownerId) continue;
    else notCopied.push(`${g.id ?? g.uri ?? 'unknown grantee'} ${perm}`);
    if (g.uri !== undefined && perm === 'FULL_CONTROL') notCopied.push(`${g.uri} ${perm} (copied as READ)`);
  }
  return { canned, notCopied };
}
