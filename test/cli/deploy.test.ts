/** The deployment files and the `s3s3` helper command that prints them. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT, runScript } from '../helpers/listen.js';

interface App {
  name: string;
  script: string;
  args: string[];
  autorestart?: boolean;
  cron_restart?: string;
  kill_timeout?: number;
  node_args?: string[];
}

describe('s3s3 echo-supervisord-conf / echo-ini-template', () => {
  it('prints the bundled supervisord block', async () => {
    const r = await runScript('s3s3', ['echo-supervisord-conf']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, readFileSync(join(ROOT, 'extras/s3s3.supervisord.conf'), 'utf8'));
    assert.match(r.stdout, /^\[program:s3s3listen\]$/m);
    assert.match(r.stdout, /^command=\S*s3s3listen --config \S+$/m);
    assert.match(r.stdout, /^autorestart=true$/m);
    assert.match(r.stdout, /^stopsignal=TERM$/m);
    const stopwait = Number(/^stopwaitsecs=(\d+)$/m.exec(r.stdout)![1]);
    assert.ok(stopwait > 30, 'longer than the default shutdown_timeout');
  });

  it('prints the config template', async () => {
    const r = await runScript('s3s3', ['echo-ini-template']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trimEnd(), readFileSync(join(ROOT, 's3s3.ini.dist'), 'utf8').trimEnd());
  });

  it('exits 2 with usage on an unknown subcommand or none', async () => {
    const unknown = await runScript('s3s3', ['echo-something']);
    assert.equal(unknown.code, 2);
    const none = await runScript('s3s3', []);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /echo-supervisord-conf/);
    const help = await runScript('s3s3', ['--help']);
    assert.equal(help.code, 0);
  });
});

describe('ecosystem.config.js for pm2', () => {
  const check = (apps: App[]) => {
    const byName = new Map(apps.map((a) => [a.name, a]));
    const listen = byName.get('s3s3listen')!;
    assert.ok(listen, 'the listener app');
    assert.match(listen.script, /dist[/\\]scripts[/\\]listen\.js$/);
    assert.equal(listen.autorestart, true);
    assert.equal(listen.cron_restart, undefined);
    assert.ok(listen.kill_timeout! > 30_000, 'pm2 waits longer than shutdown_timeout before SIGKILL');
    assert.ok(listen.args.includes('--config'));
    // pm2 runs `node script`: it must pass the flags the bin's shebang line gives node.
    const shebang = readFileSync(join(ROOT, 'src/scripts/listen.ts'), 'utf8').split('\n')[0]!;
    assert.deepEqual(listen.node_args, shebang.replace(/^#!\/usr\/bin\/env -S node\s*/, '').split(/\s+/));
    const sweep = byName.get('s3s3bucket')!;
    assert.match(sweep.script, /dist[/\\]scripts[/\\]bucket\.js$/);
    assert.equal(sweep.autorestart, false);
    assert.match(sweep.cron_restart!, /^\S+ \S+ \S+ \S+ \S+$/);
    const retry = byName.get('s3s3retry')!;
    assert.ok(retry.args.includes('--retry-failed'));
    assert.equal(retry.autorestart, false);
  };

  it('loads as ESM (import) with the listener and the cron-restarted sweep', async () => {
    const mod = (await import(pathToFileURL(join(ROOT, 'ecosystem.config.js')).href)) as { apps: App[]; default: { apps: App[] } };
    check(mod.apps);
    check(mod.default.apps);
  });

  it('loads the way pm2 loads it (require), and as ecosystem.config.cjs', () => {
    const require = createRequire(import.meta.url);
    check((require(join(ROOT, 'ecosystem.config.js')) as { apps: App[] }).apps);
    check((require(join(ROOT, 'ecosystem.config.cjs')) as { apps: App[] }).apps);
  });
});
