/**
 * `s3s3`'s subcommands share one layout (`s3s3 NOUN [VERB] [options]`) and one spelling of the
 * options they have in common (issue 22), and `s3s3 --help` lists every one of them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandLine } from '../../src/scripts/s3s3.js';
import type { CliIo } from '../../src/scripts/cli.js';

async function help(argv: readonly string[]): Promise<string> {
  let text = '';
  const io: CliIo = { stdout: (t) => (text += t), stderr: (t) => (text += t), env: {} };
  const code = await parseCommandLine([...argv, '--help'], io);
  assert.equal(code, 0, text);
  return text;
}

/** Every runnable subcommand, as typed. */
const RUNNABLE = [
  ['queue', 'counts'],
  ['queue', 'failed'],
  ['queue', 'clear-failed'],
  ['trash', 'list'],
  ['trash', 'purge'],
  ['uploads', 'list'],
  ['uploads', 'abort'],
  ['status'],
] as const;

describe('s3s3 subcommands', () => {
  it('s3s3 --help lists every subcommand', async () => {
    const text = await help([]);
    for (const name of ['echo-supervisord-conf', 'echo-ini-template', 'queue', 'trash', 'uploads', 'status'])
      assert.match(text, new RegExp(`^  ${name}\\b`, 'm'), `${name} in:\n${text}`);
  });

  it('each group lists its verbs', async () => {
    for (const [group, verbs] of [
      ['queue', ['counts', 'failed', 'clear-failed']],
      ['trash', ['list', 'purge']],
      ['uploads', ['list', 'abort']],
    ] as const) {
      const text = await help([group]);
      for (const v of verbs) assert.match(text, new RegExp(`^  ${v}\\b`, 'm'), `${group} ${v} in:\n${text}`);
    }
  });

  it('shared options are spelled alike: -c, --config <file>; --dest <section>; --older-than; --json', async () => {
    const spelled: Record<string, RegExp> = {
      config: /^ {2}-c, --config <file> /m,
      dest: /^ {2}--dest <section> /m,
      olderThan: /^ {2}--older-than <duration> /m,
      json: /^ {2}--json /m,
    };
    for (const argv of RUNNABLE) {
      const text = await help(argv);
      assert.match(text, spelled.config!, `${argv.join(' ')}: --config`);
      // Any option named like a shared one must be spelled like it.
      for (const [name, re] of Object.entries({ dest: /--dest\b/, olderThan: /--older-than\b/, json: /--json\b/ }))
        if (re.test(text)) assert.match(text, spelled[name]!, `${argv.join(' ')}: ${name}\n${text}`);
    }
  });
});
