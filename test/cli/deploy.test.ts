/** The deployment files and the `s3s3` helper command that prints them. */
import { spawnSync } from 'node:child_process';
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
  instances?: number;
  exec_mode?: string;
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
    assert.match(r.stdout, /^;\[program:s3s3intake\]$/m);
    assert.match(r.stdout, /^;\[program:s3s3worker\]$/m);
  });

  it(
    'holds the intake and numprocs worker programs, ' + 'commented out: an alternative to s3s3listen, never beside it',
    () => {
      const conf = readFileSync(join(ROOT, 'extras/s3s3.supervisord.conf'), 'utf8');
      // Active sections: only s3s3listen (an intake next to it would queue every message twice).
      assert.deepEqual(conf.match(/^\[program:[^\]]+\]$/gm), ['[program:s3s3listen]']);
      // A block as the operator uncomments it: its `;key=value` lines without the `;`.
      const block = (name: string): string => {
        const m = new RegExp(`^;\\[program:${name}\\]\\n((?:;[a-z_]+=.*\\n)+)`, 'm').exec(conf);
        assert.ok(m, `a commented [program:${name}] block`);
        return m[1]!.replace(/^;/gm, '');
      };
      const intake = block('s3s3intake');
      assert.match(intake, /^command=\S*s3s3listen --config \S+ --role intake$/m);
      assert.doesNotMatch(intake, /^numprocs=/m, 'one intake');
      const worker = block('s3s3worker');
      assert.match(worker, /^command=\S*s3s3listen --config \S+ --role worker$/m);
      assert.ok(Number(/^numprocs=(\d+)$/m.exec(worker)?.[1]) >= 2, 'several workers');
      // numprocs needs a process_name holding the number, and each process a log of its own.
      assert.match(worker, /^process_name=%\(program_name\)s_%\(process_num\)02d$/m);
      assert.match(worker, /^stdout_logfile=\S*%\(process_num\)02d\S*$/m);
      for (const b of [intake, worker]) {
        assert.match(b, /^autorestart=true$/m);
        assert.match(b, /^stopsignal=TERM$/m);
        assert.ok(Number(/^stopwaitsecs=(\d+)$/m.exec(b)?.[1]) > 30, 'longer than the default shutdown_timeout');
      }
    },
  );

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

/** The apps as pm2 loads them from a shell with `env` (in a child: S3S3_WORKERS is read at load). */
function appsWith(
  env: NodeJS.ProcessEnv,
  file = 'ecosystem.config.js',
): { code: number | null; apps: App[]; stderr: string } {
  const url = pathToFileURL(join(ROOT, file)).href;
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(url)}); console.log(JSON.stringify(m.default.apps));`,
    ],
    {
      env: { PATH: process.env.PATH, ...env },
      encoding: 'utf8',
    },
  );
  return { code: r.status, apps: r.status === 0 ? (JSON.parse(r.stdout) as App[]) : [], stderr: r.stderr };
}

describe('ecosystem.config.js for pm2', () => {
  const shebang = readFileSync(join(ROOT, 'src/scripts/listen.ts'), 'utf8').split('\n')[0]!;
  const checkListener = (app: App | undefined, role?: string) => {
    assert.ok(app, `the ${role ?? 'listener'} app`);
    assert.match(app.script, /dist[/\\]scripts[/\\]listen\.js$/);
    assert.equal(app.autorestart, true);
    assert.equal(app.cron_restart, undefined);
    assert.ok(app.kill_timeout! > 30_000, 'pm2 waits longer than shutdown_timeout before SIGKILL');
    assert.ok(app.args.includes('--config'));
    if (role) assert.deepEqual(app.args.slice(app.args.indexOf('--role')), ['--role', role]);
    else assert.ok(!app.args.includes('--role'), 'plain s3s3listen: role all');
    // pm2 runs `node script`: it must pass the flags the bin's shebang line gives node.
    assert.deepEqual(app.node_args, shebang.replace(/^#!\/usr\/bin\/env -S node\s*/, '').split(/\s+/));
  };
  const check = (apps: App[]) => {
    const byName = new Map(apps.map((a) => [a.name, a]));
    checkListener(byName.get('s3s3listen'));
    // Without S3S3_WORKERS (the tests' environment has none): the single process, no intake beside it.
    assert.ok(!byName.has('s3s3intake') && !byName.has('s3s3worker'));
    const sweep = byName.get('s3s3bucket')!;
    assert.match(sweep.script, /dist[/\\]scripts[/\\]bucket\.js$/);
    assert.equal(sweep.autorestart, false);
    assert.match(sweep.cron_restart!, /^\S+ \S+ \S+ \S+ \S+$/);
    const retry = byName.get('s3s3retry')!;
    assert.ok(retry.args.includes('--retry-failed'));
    assert.equal(retry.autorestart, false);
  };

  it('loads as ESM (import) with the listener and the cron-restarted sweep', async () => {
    const mod = (await import(pathToFileURL(join(ROOT, 'ecosystem.config.js')).href)) as {
      apps: App[];
      default: { apps: App[] };
    };
    check(mod.apps);
    check(mod.default.apps);
  });

  it('loads the way pm2 loads it (require), and as ecosystem.config.cjs', () => {
    const require = createRequire(import.meta.url);
    check((require(join(ROOT, 'ecosystem.config.js')) as { apps: App[] }).apps);
    check((require(join(ROOT, 'ecosystem.config.cjs')) as { apps: App[] }).apps);
  });

  it('S3S3_WORKERS=N: one intake and N workers (fork mode) instead of s3s3listen; the sweep unchanged', () => {
    for (const file of ['ecosystem.config.js', 'ecosystem.config.cjs']) {
      const r = appsWith({ S3S3_WORKERS: '3', S3S3_CONFIG: '/etc/x.ini' }, file);
      assert.equal(r.code, 0, r.stderr);
      const byName = new Map(r.apps.map((a) => [a.name, a]));
      assert.deepEqual([...byName.keys()], ['s3s3intake', 's3s3worker', 's3s3bucket', 's3s3retry']);
      const intake = byName.get('s3s3intake');
      checkListener(intake, 'intake');
      assert.equal(intake!.instances, 1);
      const worker = byName.get('s3s3worker');
      checkListener(worker, 'worker');
      assert.equal(worker!.instances, 3);
      assert.equal(worker!.exec_mode, 'fork');
      assert.deepEqual(worker!.args.slice(0, 2), ['--config', '/etc/x.ini']);
    }
    const none = appsWith({ S3S3_WORKERS: '0' });
    assert.deepEqual(
      none.apps.map((a) => a.name),
      ['s3s3listen', 's3s3bucket', 's3s3retry'],
    );
    const bad = appsWith({ S3S3_WORKERS: 'four' });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /S3S3_WORKERS must be a whole number .*"four"/);
  });
});
