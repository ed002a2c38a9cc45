/**
 * `npm run gen`: rewrite every generated block (tools/generated.ts) from the code, and say
 * which files changed. `npm run gen -- --check` only reports stale files (exit 1).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compare, GENERATED, ROOT } from './generated.js';

const check = process.argv.includes('--check');
let stale = 0;
for (const g of GENERATED) {
  const { current, wanted } = compare(g);
  if (current === wanted) continue;
  stale++;
  if (check) {
    console.error(`${g.file}: stale${g.marker ? ` (block ${g.marker})` : ''}; run npm run gen`);
  } else {
    writeFileSync(join(ROOT, g.file), wanted);
    console.log(`${g.file}: regenerated${g.marker ? ` (block ${g.marker})` : ''}`);
  }
}
if (check && stale > 0) process.exitCode = 1;
else if (stale === 0) console.log('every generated file is up to date');
