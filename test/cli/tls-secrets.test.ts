/**
 * s3s3bucket as a user runs it with secrets in files (`<key>_file`, container/systemd
 * secret mounts) and with an https destination whose certificate comes from a private CA.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sectionIni, testServers, uniqueBucket, type TestServer } from '../helpers/servers.js';
import { dropStore, freshStore, listKeys, putAll } from '../helpers/seed.js';
import type { S3Store } from '../../src/api/store/s3-store.js';

const BIN = join(import.meta.dirname, '../../dist/scripts/bucket.js');
const dir = mkdtempSync(join(tmpdir(), 's3s3-cli-tls-'));

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH, HOME: dir, ...env }, cwd: dir },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('s3s3bucket with secrets in files', () => {
  const [a, b] = testServers();
  const stores: S3Store[] = [];
  after(async () => {
    for (const s of stores) await dropStore(s).catch(() => {});
  });

  it(
    'reads aws_secret_access_key_file and S3S3_DEST1_AWS_SECRET_ACCESS_KEY_FILE, ' + 'copies, never prints the secrets',
    async () => {
      const src = await freshStore(a!, uniqueBucket('cli-secret-file'));
      const dst = await freshStore(b!, uniqueBucket('cli-secret-file-dst'));
      stores.push(src, dst);
      await putAll(src, [{ key: 'f/1', body: Buffer.from('from a secret file') }]);
      // The secrets live only in the files, each with the trailing newline `echo` leaves.
      write('source.secret', `${a!.secretKey}\n`);
      const destSecret = write('dest1.secret', `${b!.secretKey}\n`);
      const text =
        sectionIni('source', a!, src.bucket).replace(
          /aws_secret_access_key = .*\n/,
          'aws_secret_access_key_file = source.secret\n',
        ) +
        sectionIni('dest1', b!, dst.bucket).replace(
          /aws_secret_access_key = .*\n/,
          'aws_secret_access_key = {YOUR_AWS_SECRET_ACCESS_KEY}\n',
        );
      const file = write('files.ini', text);
      const r = await run(['--config', file], { S3S3_DEST1_AWS_SECRET_ACCESS_KEY_FILE: destSecret });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        (await listKeys(dst)).map((o) => o.key),
        ['f/1'],
      );
      for (const secret of [a!.secretKey, b!.secretKey])
        assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret), 'no secret in the output');
    },
  );

  it('exits 2 naming the file, section and key when a secret file is missing', async () => {
    const missing = join(dir, 'no-such-secret');
    const file = write(
      'missing.ini',
      sectionIni('source', a!, 'x').replace(
        /aws_secret_access_key = .*\n/,
        `aws_secret_access_key_file = ${missing}\n`,
      ) + sectionIni('dest1', b!, 'y'),
    );
    const r = await run(['--config', file]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      new RegExp(
        `missing\\.ini \\[source\\] aws_secret_access_key_file: cannot read ${escape(missing)}: ` +
          `no such file; create it`,
      ),
    );
    assert.doesNotMatch(r.stderr, /aws_secret_access_key: missing/);
  });
});

const tlsServer = testServers().find(
  (s): s is TestServer & { tlsEndpoint: string; caFile: string } =>
    s.tlsEndpoint !== undefined && s.caFile !== undefined,
);

describe(
  's3s3bucket to an https destination with a private CA',
  { skip: tlsServer === undefined ? 'no TLS test server' : false },
  () => {
    const server = tlsServer!;
    const tls = { ...server, endpoint: server.tlsEndpoint };
    const stores: S3Store[] = [];
    after(async () => {
      for (const s of stores) await dropStore(s).catch(() => {});
    });

    async function pair(label: string): Promise<{ src: S3Store; dst: S3Store }> {
      const src = await freshStore(server, uniqueBucket(`${label}-src`));
      const dst = await freshStore(server, uniqueBucket(`${label}-dst`));
      stores.push(src, dst);
      await putAll(src, [{ key: 'over/https', body: Buffer.from('tls') }]);
      return { src, dst };
    }

    it('copies with ca_bundle, exit 0, no warning', async () => {
      const { src, dst } = await pair('cli-ca');
      const file = write(
        'ca.ini',
        sectionIni('source', server, src.bucket) + sectionIni('dest1', tls, dst.bucket, { ca_bundle: server.caFile }),
      );
      const r = await run(['--config', file]);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /warn/);
      assert.deepEqual(
        (await listKeys(dst)).map((o) => o.key),
        ['over/https'],
      );
    });

    it(
      'refuses without ca_bundle: exit 1, one line naming [dest1], ' + 'the endpoint and the fix; nothing copied',
      async () => {
        const { src, dst } = await pair('cli-noca');
        const file = write('noca.ini', sectionIni('source', server, src.bucket) + sectionIni('dest1', tls, dst.bucket));
        const r = await run(['--config', file]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(
            `\\[dest1\\] .* at ${escape(server.tlsEndpoint)} failed: ` +
              `(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN).*ca_bundle = FILE.*verify_ssl = false`,
          ),
        );
        assert.deepEqual(await listKeys(dst), []);
      },
    );

    it('copies with verify_ssl = false, with one warning at start naming [dest1]', async () => {
      const { src, dst } = await pair('cli-noverify');
      const file = write(
        'noverify.ini',
        sectionIni('source', server, src.bucket) + sectionIni('dest1', tls, dst.bucket, { verify_ssl: false }),
      );
      const r = await run(['--config', file]);
      assert.equal(r.code, 0, r.stderr);
      const warnings = r.stderr.split('\n').filter((l) => /verify_ssl/.test(l));
      assert.equal(warnings.length, 1, r.stderr);
      assert.match(
        warnings[0]!,
        new RegExp(
          `warn.*\\[dest1\\] verify_ssl: = false: the TLS certificate of ${escape(server.tlsEndpoint)} is NOT checked`,
        ),
      );
      assert.deepEqual(
        (await listKeys(dst)).map((o) => o.key),
        ['over/https'],
      );
    });
  },
);
