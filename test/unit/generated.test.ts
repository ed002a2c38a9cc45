// Every generated block (tools/generated.ts) on disk is what the code makes now: a key added to
// the table without `npm run gen` fails here, naming the file.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compare, GENERATED, regenerate } from '../../tools/generated.js';

describe('generated files', () => {
  for (const g of GENERATED) {
    it(`${g.file}${g.marker ? ` (block ${g.marker})` : ''} is up to date`, () => {
      const { current, wanted } = compare(g);
      assert.ok(current === wanted, `${g.file} is stale: run npm run gen`);
    });
  }

  it('regenerating twice changes nothing (the markers stay, the text between them is replaced)', () => {
    for (const g of GENERATED) {
      const { wanted } = compare(g);
      assert.equal(regenerate(g, wanted), wanted, g.file);
    }
  });

  it('a stale block is noticed, and a file without its markers is an error naming them', () => {
    const g = { file: 'x.md', marker: 'demo', render: () => 'new\n' };
    const stale = 'a\n<!-- BEGIN GENERATED: demo -->\n\nold\n<!-- END GENERATED: demo -->\nb\n';
    assert.equal(regenerate(g, stale), 'a\n<!-- BEGIN GENERATED: demo -->\n\nnew\n\n<!-- END GENERATED: demo -->\nb\n');
    assert.throws(() => regenerate(g, 'no markers'), /x\.md: no "<!-- BEGIN GENERATED: demo -->"/);
  });
});
