/** The trash commands' age format and the registry's marker names. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatAge } from '../../src/api/sweep/trash.js';
import { trashRegistryKey, TRASH_REGISTRY_PREFIX } from '../../src/api/sync/trash-roots.js';
import { parseDuration } from '../../src/api/duration.js';

describe('trash', () => {
  it('prints an age as its largest whole unit, rounded down, in the duration grammar', () => {
    assert.equal(formatAge(0), '0s');
    assert.equal(formatAge(-1500), '0s', 'a Last-Modified a little in the future (Swift rounds it up) is 0s');
    assert.equal(formatAge(40_999), '40s');
    assert.equal(formatAge(12 * 60_000 + 59_000), '12m');
    assert.equal(formatAge(5 * 3_600_000 + 1), '5h');
    assert.equal(formatAge(3 * 86_400_000 + 23 * 3_600_000), '3d');
    assert.equal(formatAge(undefined), '?');
    for (const ms of [40_000, 12 * 60_000, 5 * 3_600_000, 3 * 86_400_000])
      assert.equal(parseDuration(formatAge(ms)), ms);
  });

  it(
    'names one marker per root, under the default root, ' +
      'the same bytes for the same root and different for NFC/NFD',
    () => {
      const a = trashRegistryKey('bin/');
      assert.ok(a.startsWith(TRASH_REGISTRY_PREFIX) && a.startsWith('.s3s3-trash/'));
      assert.equal(a, trashRegistryKey('bin/'));
      assert.notEqual(trashRegistryKey('caf\u00e9/'), trashRegistryKey('cafe\u0301/'));
      assert.match(a.slice(TRASH_REGISTRY_PREFIX.length), /^[0-9a-f]{64}$/);
    },
  );
});
