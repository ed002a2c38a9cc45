/** s3s3bucket as a user runs it: the built command, its exit codes, stdout and stderr. */
import { execFile, spawn } from 'node:child_process';
import { chownSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sectionIni, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, listKeys, putAll } from '../helpers/seed.js';
import type { S3Store } from '../../src/api/store/s3-store.js';

const BIN = join(import.meta.dirname, '../../dist/scripts/bucket.js');
const dir = mkdtempSync(join(tmpdir(), 's3s3-cli-'));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH, HOME: dir, ...env }, cwd: dir },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function writeConfig(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

describe('s3s3bucket command', () => {
  const [a, b] = testServers();
  const stores: S3Store[] = [];
  after(async () => {
    for (const s of stores) await dropStore(s).catch(() => {});
  });

  it('exits 2 with a one-line report per problem for a broken config', async () => {
    const file = writeConfig('broken.ini', '[source]\nbucket_name = x\nport = http\n[dest1]\nbucket_name = x\n');
    const r = await run(['--config', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /broken\.ini \[source\] aws_access_key_id: missing/);
    assert.match(r.stderr, /broken\.ini \[source\] port: "http" is not a whole number/);
    assert.match(r.stderr, /broken\.ini \[dest1\] aws_secret_access_key: missing/);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
  });

  it('exits 2 when no config is found, naming where it looked', async () => {
    const r = await run([]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no config file found \(looked in .*s3s3\.ini.*\); pass --config FILE/);
  });

  it('exits 2 on a usage error', async () => {
    const r = await run(['--concurrency', 'lots']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--concurrency.*expected a whole number/);
  });

  it('exits 2 on a malformed --include/--exclude glob, one line naming it, before connecting anywhere', async () => {
    // An endpoint that counts connections: a bad glob must not reach it (nor any lock).
    let connections = 0;
    const server = createServer((sock) => {
      connections++;
      sock.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const endpoint = (section: string) =>
      `[${section}]\naws_access_key_id = k\naws_secret_access_key = s\nbucket_name = b-${section}\nendpoint = http://127.0.0.1:${port}\n`;
    const file = writeConfig('globs.ini', endpoint('source') + endpoint('dest1'));
    const lockFile = join(dir, 'globs.lock');
    try {
      const cases: [string, RegExp][] = [
        ['a}b', /"}" at character 2 closes no "{"/],
        ['{a,b', /"{" at character 1 is never closed by "}"/],
        ['[z-a]', /range "z-a" at character 2 goes backwards/],
        ['[]]', /empty class "\[\]" at character 1/],
        ['logs/[2024', /"\[" at character 6 is never closed by "\]"/],
        ['a***b', /3 stars in a row/],
      ];
      for (const option of ['--include', '--exclude']) {
        for (const [glob, problem] of cases) {
          const r = await run(['--config', file, '--lock-file', lockFile, '--include', 'fine/**', option, glob]);
          assert.equal(r.code, 2, `${option} ${glob}: ${r.stderr}`);
          const lines = r.stderr.split('\n').filter(Boolean);
          assert.equal(lines.length, 1, r.stderr);
          assert.ok(lines[0]!.startsWith(`s3s3bucket: ${option} ${JSON.stringify(glob)}: `), lines[0]);
          assert.match(lines[0]!, problem);
          assert.equal(r.stdout, '');
        }
      }
      assert.equal(connections, 0, 'nothing was connected to');
    } finally {
      server.close();
    }
  });

  it(
    'refuses a lock file owned by another user: exit 1, one line naming it and its owner',
    { skip: process.getuid?.() !== 0 && 'needs root to chown' },
    async () => {
      const endpoint = (section: string) =>
        `[${section}]\naws_access_key_id = k\naws_secret_access_key = s\nbucket_name = b-${section}\nendpoint = http://127.0.0.1:9\n`;
      const file = writeConfig('lock.ini', endpoint('source') + endpoint('dest1'));
      const lockFile = join(dir, 'planted.lock');
      writeFileSync(lockFile, '{}');
      chownSync(lockFile, 65534, 65534);
      const r = await run(['--config', file, '--lock-file', lockFile]);
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.split('\n').filter(Boolean);
      assert.equal(lines.length, 1, r.stderr);
      assert.match(
        lines[0]!,
        new RegExp(
          `^s3s3bucket: lock ${lockFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ` +
            `the lock file is owned by uid 65534, not by this user \\(uid 0\\); refusing`,
        ),
      );
      assert.equal(statSync(lockFile).uid, 65534, 'left in place');
    },
  );

  it('dry-runs, copies, reports JSON, exits 0; a second run copies nothing', async () => {
    const src = await freshStore(a!, uniqueBucket('cli-src'));
    const dst = await freshStore(b!, uniqueBucket('cli-dst'));
    stores.push(src, dst);
    await putAll(src, [
      { key: 'x/1', body: Buffer.from('one') },
      { key: 'x/2 two', body: Buffer.from('two') },
    ]);
    const file = writeConfig('ok.ini', sectionIni('source', a!, src.bucket) + sectionIni('dest1', b!, dst.bucket));

    const dry = await run(['--config', file, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(dry.stdout, 'would copy "x/1" -> [dest1] (missing)\nwould copy "x/2 two" -> [dest1] (missing)\n');
    assert.deepEqual(await listKeys(dst), []);

    const first = await run(['--config', file, '--json']);
    assert.equal(first.code, 0, first.stderr);
    const summary = JSON.parse(first.stdout) as { copied: number; failed: number; bytes: number };
    assert.equal(summary.copied, 2);
    assert.equal(summary.failed, 0);
    assert.equal(summary.bytes, 6);
    assert.match(first.stderr, /sweep finished listed=2 copied=2/);
    assert.doesNotMatch(first.stderr, new RegExp(a!.secretKey.replace(/[^a-z0-9]/gi, '.')), 'no secret in the logs');
    assert.deepEqual(
      (await listKeys(dst)).map((o) => o.key),
      ['x/1', 'x/2 two'],
    );

    const second = await run(['--config', file, '--json']);
    assert.equal(second.code, 0);
    assert.equal((JSON.parse(second.stdout) as { copied: number; skipped: number }).skipped, 2);
  });

  it('exits 1 when objects fail, naming the bucket, endpoint and cause on stderr', async () => {
    const src = await freshStore(a!, uniqueBucket('cli-fail'));
    stores.push(src);
    await putAll(src, [{ key: 'k', body: Buffer.from('v') }]);
    const missing = uniqueBucket('cli-nobucket');
    const file = writeConfig('fail.ini', sectionIni('source', a!, src.bucket) + sectionIni('dest1', b!, missing));
    const r = await run(['--config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${missing}.* at ${b!.endpoint.replace(/[.]/g, '\\.')} failed: NoSuchBucket`));
  });

  it('takes secrets from the environment', async () => {
    const src = await freshStore(a!, uniqueBucket('cli-env'));
    const dst = await freshStore(b!, uniqueBucket('cli-env-dst'));
    stores.push(src, dst);
    await putAll(src, [{ key: 'e', body: Buffer.from('env') }]);
    const text = (sectionIni('source', a!, src.bucket) + sectionIni('dest1', b!, dst.bucket)).replace(
      /aws_secret_access_key = .*\n/g,
      'aws_secret_access_key = {YOUR_SECRET}\n',
    );
    const file = writeConfig('env.ini', text);
    const r = await run(['--config', file], {
      S3S3_SOURCE_AWS_SECRET_ACCESS_KEY: a!.secretKey,
      S3S3_DEST1_AWS_SECRET_ACCESS_KEY: b!.secretKey,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      (await listKeys(dst)).map((o) => o.key),
      ['e'],
    );
  });

  it('on SIGINT finishes the copies in flight, exits 1, and the next run completes the rest', async () => {
    const src = await freshStore(a!, uniqueBucket('cli-int'));
    const dst = await freshStore(b!, uniqueBucket('cli-int-dst'));
    stores.push(src, dst);
    const body = Buffer.alloc(100_000, 5);
    await putAll(
      src,
      Array.from({ length: 200 }, (_, i) => ({ key: `int/${String(i).padStart(3, '0')}`, body })),
    );
    const file = writeConfig('int.ini', sectionIni('source', a!, src.bucket) + sectionIni('dest1', b!, dst.bucket));
    const child = spawn(process.execPath, [BIN, '--config', file, '--concurrency', '2'], {
      env: { PATH: process.env.PATH, HOME: dir },
      cwd: dir,
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
    while ((await listKeys(dst)).length < 3) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    const code = await exited;
    assert.equal(code, 1, stderr);
    assert.match(stderr, /signal received: finishing the copies in flight/);
    assert.match(stderr, /sweep stopped: interrupted by SIGINT; the next run copies the rest/);
    const partial = await listKeys(dst);
    assert.ok(partial.length < 200, `stopped early (${partial.length} copied)`);
    assert.ok(
      partial.every((o) => o.size === body.length),
      'no partial object',
    );
    const rest = await run(['--config', file, '--json']);
    assert.equal(rest.code, 0, rest.stderr);
    assert.equal((JSON.parse(rest.stdout) as { copied: number }).copied, 200 - partial.length);
    assert.equal((await listKeys(dst)).length, 200);
  });
});
