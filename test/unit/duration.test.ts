/** The one duration grammar, and the CLI flags that take it (a bad value: one line naming the flag, exit 2). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from '../../src/api/duration.js';
import { main as listen } from '../../src/scripts/listen.js';
import type { CliIo } from '../../src/scripts/cli.js';

function capture(): { io: CliIo; err: () => string; out: () => string } {
  let err = '';
  let out = '';
  return { io: { stdout: (t) => (out += t), stderr: (t) => (err += t), env: {} }, err: () => err, out: () => out };
}

describe('durations', () => {
  it('reads 30, 90s, 15m, 26h, 7d and nothing else', () => {
    assert.equal(parseDuration('30'), 30_000);
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('15m'), 900_000);
    assert.equal(parseDuration('26h'), 26 * 3_600_000);
    assert.equal(parseDuration('7d'), 7 * 86_400_000);
    for (const bad of ['5x', '1.5m', '-3', '10 s', '1h30m', 'PT30S', '', 's', '30S'])
      assert.equal(parseDuration(bad), undefined, bad);
    assert.equal(formatDuration(90_000), '90s');
    assert.equal(formatDuration(86_400_000), '1d');
  });

  for (const flag of ['--status-interval', '--bucket-probe-interval', '--job-lock']) {
    it(`s3s3listen ${flag} takes the grammar; a bad value is one line naming the flag, exit 2`, async () => {
      for (const bad of ['5x', '1.5m', '0', '10 s']) {
        const c = capture();
        assert.equal(await listen([flag, bad, '--check-config'], c.io), 2, `${flag} ${bad}`);
        const lines = c.err().trimEnd().split('\n');
        assert.equal(lines.length, 1, c.err());
        assert.match(
          lines[0]!,
          new RegExp(
            `${flag} <duration>' argument '${bad.replace('.', '\\.')}' is invalid\\. expected a duration: ` +
              `seconds, or an integer with s, m, h or d \\(e\\.g\\. 30, 90s, 15m, 26h, 7d\\), at least 1s$`,
          ),
        );
      }
      // A good value gets past the flag parsing: the config is what fails next (none is given).
      for (const good of ['30', '90s', '15m', '26h', '7d']) {
        const c = capture();
        await listen([flag, good, '--check-config', '--config', '/nonexistent/s3s3.ini'], c.io);
        assert.doesNotMatch(c.err(), /invalid/, `${flag} ${good}: ${c.err()}`);
        assert.match(c.err(), /nonexistent/);
      }
    });
  }
});
