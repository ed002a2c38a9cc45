/**
 * The deployment files run by the real tools: pm2 (the dev dependency, with a PM2_HOME of the
 * test's own) starts ecosystem.config.js's intake and workers, and Debian's supervisord runs
 * the intake and worker programs of extras/s3s3.supervisord.conf (the shipped lines, only the
 * paths changed). Each: a key published lands in every destination, a SIGKILLed worker is
 * started again by the supervisor and keys still land, and stopping drains (each process logs
 * "stopped" and exits 0, none killed).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { redisUrl, testServers } from '../helpers/servers.js';
import { putAll } from '../helpers/seed.js';
import { childEnv, everywhere, ROOT, runScript, setup, tempDir, waitFor, type Setup } from '../helpers/listen.js';

const servers = testServers();
const ceph = servers.find((s) => s.name === 'ceph') ?? servers[0]!;
const swift = servers.find((s) => s.name === 'swift') ?? servers[servers.length - 1]!;

const PM2 = join(ROOT, 'node_modules/pm2/bin/pm2');
const SETUP_HINT = 'run test/setup.sh (as root it installs what is missing)';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run a command to completion (never throws: the caller asserts on the code). */
function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolveRun) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', (err) => resolveRun({ code: null, stdout, stderr: stderr + String(err) }));
    child.once('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function count(text: string, re: RegExp): number {
  return text.split('\n').filter((l) => re.test(l)).length;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const WORKING = /s3s3 info: working role=worker/;
const LISTENING = /s3s3 info: listening role=intake/;
const STOPPED = /s3s3 info: stopped role=(intake|worker)/;

/** A key put in the source and announced with s3s3publish; resolves once it is in every destination. */
async function publishAndLand(s: Setup, key: string): Promise<void> {
  const body = Buffer.from(`${key}: ${'x'.repeat(1000)}\n`);
  await putAll(s.source, [{ key, body }]);
  const pub = await runScript('publish', ['--config', s.file, key]);
  assert.equal(pub.code, 0, pub.stderr);
  await waitFor(`${key} in every destination`, () => everywhere(s.dests, key, body), 30_000, 200);
}

interface Pm2Process {
  readonly name: string;
  readonly pid: number;
  readonly pm_id: number;
  readonly pm2_env: {
    readonly status: string;
    readonly restart_time: number;
    readonly pm_err_log_path: string;
    readonly pm_out_log_path: string;
  };
}

describe('pm2 runs ecosystem.config.js', () => {
  it(
    'S3S3_WORKERS=2: one intake and two workers copy a key; ' + 'a SIGKILLed worker is restarted; pm2 stop drains',
    async () => {
      assert.ok(existsSync(PM2), `pm2 is not installed (node_modules/pm2, a dev dependency): ${SETUP_HINT}`);
      const s = await setup({ source: ceph, dests: [ceph, swift], redisUrl: redisUrl(), label: 'pm2' });
      const home = tempDir('pm2-home');
      // S3S3_CONFIG picks the config as docs/configuration.md says; the harness's own S3S3TEST_* stay out.
      const env = childEnv({ PM2_HOME: home, S3S3_CONFIG: s.file, S3S3_WORKERS: '2' });
      const pm2 = (...args: string[]): Promise<Run> => run(process.execPath, [PM2, ...args], env);
      const jlist = async (): Promise<Pm2Process[]> => {
        const r = await pm2('jlist');
        assert.equal(r.code, 0, r.stderr);
        // pm2 may print notices before the JSON array.
        return (JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as Pm2Process[]).filter((p) =>
          p.name.startsWith('s3s3'),
        );
      };
      const pm2Log = (): string => readOr(join(home, 'pm2.log'));
      try {
        const started = await pm2('start', join(ROOT, 'ecosystem.config.js'), '--only', 's3s3intake,s3s3worker');
        assert.equal(started.code, 0, started.stdout + started.stderr);
        const procs = await jlist();
        assert.deepEqual(
          procs.map((p) => p.name).sort(),
          ['s3s3intake', 's3s3worker', 's3s3worker'],
          'the intake and S3S3_WORKERS workers, no s3s3listen',
        );
        const intake = procs.find((p) => p.name === 's3s3intake')!;
        const workers = procs.filter((p) => p.name === 's3s3worker');
        const errLog = (p: Pm2Process): string => readOr(p.pm2_env.pm_err_log_path);
        await waitFor('the intake listening', () => LISTENING.test(errLog(intake)), 30_000, 200);
        for (const w of workers) await waitFor(`worker ${w.pm_id} working`, () => WORKING.test(errLog(w)), 30_000, 200);

        await publishAndLand(s, 'pm2/first key');

        const victim = workers[0]!;
        process.kill(victim.pid, 'SIGKILL');
        const again = await waitFor(
          'pm2 to start the killed worker again',
          async () =>
            (await jlist()).find(
              (p) => p.pm_id === victim.pm_id && p.pid > 0 && p.pid !== victim.pid && p.pm2_env.status === 'online',
            ),
          30_000,
          300,
        );
        assert.ok(again.pm2_env.restart_time >= 1, 'counted as a restart');
        assert.equal(alive(victim.pid), false);
        await waitFor('the restarted worker working', () => count(errLog(victim), WORKING) >= 2, 30_000, 200);
        for (const i of [1, 2, 3]) await publishAndLand(s, `pm2/after the kill ${i}`);

        const stopped = await pm2('stop', 's3s3intake', 's3s3worker');
        assert.equal(stopped.code, 0, stopped.stdout + stopped.stderr);
        const after = await jlist();
        assert.deepEqual(
          after.map((p) => p.pm2_env.status),
          ['stopped', 'stopped', 'stopped'],
        );
        for (const p of after) assert.equal(alive(p.pid) && p.pid > 0, false, `${p.name} ${p.pm_id} gone`);
        // Each process drained and exited by itself: its own "stopped" line, exit code 0 on pm2's SIGINT.
        assert.equal(count(errLog(intake), STOPPED), 1, errLog(intake));
        for (const w of workers) assert.equal(count(errLog(w), STOPPED), 1, errLog(w));
        const log = pm2Log();
        for (const p of procs)
          assert.match(
            log,
            new RegExp(`App \\[${p.name}:${p.pm_id}\\] exited with code \\[0\\] via signal \\[SIGINT\\]`),
            log,
          );
        assert.doesNotMatch(log, /still alive after/, 'pm2 never had to SIGKILL a process at stop');
      } finally {
        const killed = await pm2('kill');
        const daemon = Number(readOr(join(home, 'pm2.pid')).trim());
        if (killed.code !== 0 && daemon > 0 && alive(daemon)) process.kill(daemon, 'SIGKILL');
        await s.cleanup();
        rmSync(home, { recursive: true, force: true });
      }
    },
  );
});

/**
 * A commented-out `[program:NAME]` block of the shipped file, uncommented as the file tells the
 * operator to: its `;key=value` lines without the `;`.
 */
function shippedBlock(conf: string, name: string): string[] {
  const lines = conf.split('\n');
  const start = lines.indexOf(`;[program:${name}]`);
  assert.ok(start >= 0, `extras/s3s3.supervisord.conf has a [program:${name}] block`);
  const block = [`[program:${name}]`];
  for (const l of lines.slice(start + 1)) {
    if (!/^;[a-z_]+=/.test(l)) break;
    block.push(l.slice(1));
  }
  return block;
}

describe('supervisord runs extras/s3s3.supervisord.conf', () => {
  it(
    'the intake and numprocs=2 worker programs copy a key; ' + 'a SIGKILLed worker is restarted; stop all drains',
    async () => {
      const which = spawnSync('sh', ['-c', 'command -v supervisord && command -v supervisorctl'], { encoding: 'utf8' });
      assert.equal(which.status, 0, `supervisord/supervisorctl not found (Debian package supervisor): ${SETUP_HINT}`);
      const s = await setup({ source: ceph, dests: [ceph, swift], redisUrl: redisUrl(), label: 'supd' });
      const dir = tempDir('supervisord');
      // The commands as `npm install -g` lays them out: a link in a bin directory to the
      // executable script, run through its shebang (with the node flags it carries).
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      chmodSync(join(ROOT, 'dist/scripts/listen.js'), 0o755);
      symlinkSync(join(ROOT, 'dist/scripts/listen.js'), join(bin, 's3s3listen'));
      const logs = join(dir, 'log');
      mkdirSync(logs);
      const shipped = readFileSync(join(ROOT, 'extras/s3s3.supervisord.conf'), 'utf8');
      const programs = [...shippedBlock(shipped, 's3s3intake'), '', ...shippedBlock(shipped, 's3s3worker')]
        .join('\n')
        .replaceAll('/usr/local/bin/', `${bin}/`)
        .replaceAll('/usr/local/etc/s3s3.ini', s.file)
        .replaceAll('/var/log/s3s3/', `${logs}/`);
      assert.match(programs, /^numprocs=2$/m, 'the shipped worker program runs two processes');
      const sock = join(dir, 'supervisor.sock');
      const conf = join(dir, 'supervisord.conf');
      writeFileSync(
        conf,
        [
          '[unix_http_server]',
          `file=${sock}`,
          '[supervisord]',
          `logfile=${join(dir, 'supervisord.log')}`,
          `pidfile=${join(dir, 'supervisord.pid')}`,
          `childlogdir=${logs}`,
          'nodaemon=true',
          'loglevel=info',
          '[rpcinterface:supervisor]',
          'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
          '[supervisorctl]',
          `serverurl=unix://${sock}`,
          '',
          programs,
          '',
        ].join('\n'),
      );
      // node for the scripts' `#!/usr/bin/env -S node` line; the harness's S3S3TEST_* stay out.
      const env = childEnv({ PATH: `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}` });
      const ctl = (...args: string[]): Promise<Run> => run('supervisorctl', ['-c', conf, ...args], env);
      const supervisorLog = (): string => readOr(join(dir, 'supervisord.log'));
      const status = async (): Promise<Map<string, { state: string; pid?: number }>> => {
        const r = await ctl('status');
        const out = new Map<string, { state: string; pid?: number }>();
        for (const line of r.stdout.split('\n')) {
          const m = /^(\S+)\s+([A-Z]+)\s*(?:pid (\d+))?/.exec(line);
          if (m) out.set(m[1]!, { state: m[2]!, pid: m[3] ? Number(m[3]) : undefined });
        }
        return out;
      };
      const names = ['s3s3intake', 's3s3worker:s3s3worker_00', 's3s3worker:s3s3worker_01'];
      const logOf = (name: string): string => readOr(join(logs, `${name.replace(/^.*:/, '')}.log`));
      let daemon: ChildProcess | undefined;
      let exited: Promise<unknown> = Promise.resolve();
      try {
        daemon = spawn('supervisord', ['-c', conf], { cwd: dir, env, stdio: 'ignore' });
        exited = new Promise((r) => daemon!.once('exit', r));
        // startsecs=5: RUNNING once each has stayed up that long.
        const running = await waitFor(
          'the three processes RUNNING',
          async () => {
            const st = await status();
            return names.every((n) => st.get(n)?.state === 'RUNNING') ? st : undefined;
          },
          45_000,
          500,
        );
        await waitFor('the intake listening', () => LISTENING.test(logOf('s3s3intake')), 30_000, 200);
        for (const n of names.slice(1)) await waitFor(`${n} working`, () => WORKING.test(logOf(n)), 30_000, 200);

        await publishAndLand(s, 'supervisord/first key');

        const victim = names[1]!;
        const oldPid = running.get(victim)!.pid!;
        process.kill(oldPid, 'SIGKILL');
        await waitFor(
          'supervisord to start the killed worker again',
          async () => {
            const now = (await status()).get(victim);
            return now?.state === 'RUNNING' && now.pid !== undefined && now.pid !== oldPid;
          },
          30_000,
          500,
        );
        assert.match(supervisorLog(), /exited: s3s3worker_00 \(terminated by SIGKILL; not expected\)/);
        await waitFor('the restarted worker working', () => count(logOf(victim), WORKING) >= 2, 30_000, 200);
        for (const i of [1, 2, 3]) await publishAndLand(s, `supervisord/after the kill ${i}`);

        const stopped = await ctl('stop', 'all');
        assert.equal(stopped.code, 0, stopped.stdout + stopped.stderr);
        const after = await status();
        for (const n of names) assert.equal(after.get(n)?.state, 'STOPPED', `${n}: ${JSON.stringify(after.get(n))}`);
        // Each drained and exited 0 on SIGTERM, none SIGKILLed after stopwaitsecs.
        const log = supervisorLog();
        for (const n of names) {
          const short = n.replace(/^.*:/, '');
          assert.match(log, new RegExp(`stopped: ${short} \\(exit status 0\\)`), log);
          assert.equal(count(logOf(n), STOPPED), 1, logOf(n));
        }
        assert.doesNotMatch(log, /killing .* with signal SIGKILL/, 'supervisord never had to SIGKILL a process');
      } finally {
        if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
          // SIGTERM makes supervisord stop its programs (TERM, then KILL after stopwaitsecs) and exit.
          daemon.kill('SIGTERM');
          const t = setTimeout(() => daemon!.kill('SIGKILL'), 50_000);
          await exited;
          clearTimeout(t);
        }
        await s.cleanup();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
