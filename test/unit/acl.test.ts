import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cannedFromGrants } from '../../src/api/store/acl.js';

const ALL = 'http://acs.amazonaws.com/groups/global/AllUsers';
const AUTH = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';

describe('acl = copy: the canned ACL for a source ACL', () => {
  it('says public-read, authenticated-read or private, the owner implied', () => {
    const owner = { id: 'me', permission: 'FULL_CONTROL' };
    assert.deepEqual(cannedFromGrants([owner], 'me'), { canned: 'private', notCopied: [] });
    assert.deepEqual(cannedFromGrants([owner, { uri: ALL, permission: 'READ' }], 'me'), {
      canned: 'public-read',
      notCopied: [],
    });
    assert.deepEqual(cannedFromGrants([owner, { uri: AUTH, permission: 'READ' }], 'me'), {
      canned: 'authenticated-read',
      notCopied: [],
    });
    // Public wins over authenticated: everyone includes them.
    assert.equal(
      cannedFromGrants(
        [
          { uri: AUTH, permission: 'READ' },
          { uri: ALL, permission: 'READ' },
        ],
        'me',
      ).canned,
      'public-read',
    );
  });

  it('lists what it cannot carry: other accounts, writes to a group, full control as read', () => {
    const r = cannedFromGrants(
      [
        { id: 'me', permission: 'FULL_CONTROL' },
        { id: 'partner', permission: 'READ' },
        { uri: ALL, permission: 'WRITE' },
        { uri: AUTH, permission: 'FULL_CONTROL' },
      ],
      'me',
    );
    assert.equal(r.canned, 'authenticated-read');
    assert.deepEqual(r.notCopied, [`partner READ`, `${ALL} WRITE`, `${AUTH} FULL_CONTROL (copied as READ)`]);
  });
});
