#!/usr/bin/env node
/**
 * s3s3: helper subcommands (the original's echo_s3s3_supervisord_conf and
 * echo_s3s3_ini_template). Prints the files shipped in the package.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, parseArgs, processIo, type CliIo, runIfMain } from './cli.js';

/** The package root: two levels above this file, in dist/scripts/ and in src/scripts/ alike. */
export function packageFile(relative: string): string {
  return fileURLToPath(new URL(`../../${relative}`, import.meta.url));
}

export const SHIPPED = {
  'echo-supervisord-conf': { file: 'extras/s3s3.supervisord.conf', what: 'the supervisord program block for s3s3listen' },
  'echo-ini-template': { file: 's3s3.ini.dist', what: 'the config template (copy it to /usr/local/etc/s3s3.ini and fill it in)' },
} as const;

export async function main(argv: readonly string[] = process.argv.slice(2), io: CliIo = processIo): Promise<number> {
  let chosen: keyof typeof SHIPPED | undefined;
  const program = new Command('s3s3').description('s3s3 helpers. The work is done by s3s3listen, s3s3bucket and s3s3publish.');
  // Before the subcommands exist, so they inherit it (a usage error returns 2, never exits).
  program.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  for (const [name, { what }] of Object.entries(SHIPPED) as [keyof typeof SHIPPED, { what: string }][]) {
    program
      .command(name)
      .description(`print ${what}`)
      .action(() => {
        chosen = name;
      });
  }
  const early = await parseArgs(program, argv, io);
  if (early !== undefined) return early;
  if (!chosen) {
    io.stderr(program.helpInformation());
    return EXIT_USAGE;
  }
  const path = packageFile(SHIPPED[chosen].file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    io.stderr(`s3s3: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)} (is the package installed whole?)\n`);
    return EXIT_FAILED;
  }
  io.stdout(text.endsWith('\n') ? text : text + '\n');
  return EXIT_OK;
}

runIfMain(import.meta.url, 's3s3', () => main());
