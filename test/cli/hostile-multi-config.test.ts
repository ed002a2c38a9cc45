/**
 * Several configs per run and the run report, when things go wrong: a failing Swift-native
 * pair before a good one, a mail server that is down or never answers, a webhook that
 * hangs, config errors in the second file (a Swift section, a [notify] section), and the
 * secrets (SMTP password, Swift key, the webhook's token path) in no output at all.
 */
import { createServer as createNet, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createHttp, type Server as HttpServer } from 'node:http';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sectionIni, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, listKeys, putAll } from '../helpers/seed.js';
import { SmtpServer, makeTestCa } from '../helpers/smtp.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import { configDir, runBucket } from '../helpers/bucket-cli.js';
import { dropSwift, freshSwift, swiftIni, swiftServer } from '../helpers/swift.js';
import type { S3Store } from '../../src/api/store/s3-store.js';
import type { SwiftStore } from '../../src/api/store/swift-store.js';

const { dir, write } = configDir('hostile-multi');
const SMTP_PASSWORD = 'Smtp-Pw-7d1c-secret';
const SWIFT_WRONG_KEY = 'swift-key-4be0-never-printed';

function notifyIni(keys: Record<string, string>): string {
  return (
    '[notify]\n' +
    Object.entries(keys)
      .map(([k, v]) => `${k} = ${v}`)
      .join('\n') +
    '\n'
  );
}
const lines = (stderr: string, level: string, what: RegExp) =>
  stderr.split('\n').filter((l) => l.startsWith(`s3s3 ${level}:`) && what.test(l));

/** A TCP server that takes connections and never says a word (an SMTP server or webhook gone deaf). */
async function deafServer(): Promise<{ port: number; close: () => void }> {
  const sockets: Socket[] = [];
  const s: NetServer = createNet((sock) => sockets.push(sock));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    port: (s.address() as AddressInfo).port,
    close: () => {
      for (const sock of sockets) sock.destroy();
      s.close();
    },
  };
}

describe('s3s3bucket: several configs and the run report under failure', () => {
  const [ceph] = testServers();
  const swift = swiftServer();
  const s3Stores: S3Store[] = [];
  const swiftStores: SwiftStore[] = [];
  const closers: Array<() => unknown> = [];
  after(async () => {
    for (const c of closers) await c();
    for (const s of s3Stores) await dropStore(s).catch(() => {});
    for (const s of swiftStores) await dropSwift(s).catch(() => {});
  });
  const s3 = async (label: string, keys: string[] = []) => {
    const s = await freshStore(ceph!, uniqueBucket(label));
    s3Stores.push(s);
    await putAll(
      s,
      keys.map((key) => ({ key, body: Buffer.from(`${label}:${key}`) })),
    );
    return s;
  };
  const native = async (label: string, keys: string[] = []) => {
    const s = await freshSwift(uniqueBucket(label));
    swiftStores.push(s);
    await putAll(
      s,
      keys.map((key) => ({ key, body: Buffer.from(`${label}:${key}`) })),
    );
    return s;
  };

  it(
    'a failing Swift-native pair, then a good one: both swept and reported, exit 1; ' +
      'the mail and the webhook list the failure; no secret anywhere',
    { timeout: 120_000 },
    async () => {
      const ca = makeTestCa();
      const smtp = await SmtpServer.start({
        tls: { cert: ca.cert, key: ca.key },
        auth: { user: 'mailer', pass: SMTP_PASSWORD },
      });
      closers.push(() => smtp.close());
      const hook = await WebhookReceiver.start();
      closers.push(() => hook.close());
      const srcA = await s3('hm-a-src', ['a/1']);
      const srcB = await native('hm-b-src', ['b/1', 'b/\u{1F600}', 'b/ctl\x01']);
      const dstB = await s3('hm-b-dst');
      // Pair 1: a wrong Swift key (fatal). Pair 2: Swift native -> Ceph, fine.
      const fileA = write(
        'a.ini',
        sectionIni('source', ceph!, srcA.bucket) +
          swiftIni('dest1', 'never-made', { key: SWIFT_WRONG_KEY }) +
          notifyIni({
            mail_to: 'ops@example.com',
            mail_from: 's3s3@example.com',
            smtp_url: 'smtp://127.0.0.1:1',
            webhook_url: hook.url,
            ca_bundle: ca.ca,
          }),
      );
      const fileB = write('b.ini', swiftIni('source', srcB.bucket) + sectionIni('dest1', ceph!, dstB.bucket));
      const r = await runBucket(['--config', fileA, '--config', fileB, '--json'], {
        cwd: dir,
        env: { S3S3_NOTIFY_SMTP_URL: `smtp://mailer:${SMTP_PASSWORD}@127.0.0.1:${smtp.port}` },
      });
      assert.equal(r.code, 1, r.stderr);
      assert.deepEqual(
        (await listKeys(dstB)).map((o) => o.key).sort(),
        ['b/1', 'b/ctl\x01', 'b/\u{1F600}'].sort(),
        'the good pair was swept after the failing one',
      );
      const doc = JSON.parse(r.stdout) as {
        runs: Array<{ config: string; exitCode: number; copied?: number; error?: string }>;
        total: { exitCode: number; copied: number };
      };
      assert.deepEqual(
        doc.runs.map((x) => [x.config, x.exitCode]),
        [
          [fileA, 1],
          [fileB, 0],
        ],
      );
      assert.equal(doc.runs[1]!.copied, 3);
      assert.equal(doc.total.exitCode, 1);
      assert.equal(lines(r.stderr, 'warn', /not mailed|not posted/).length, 0, r.stderr);
      const mails = smtp.messages();
      assert.equal(mails.length, 1, r.stderr);
      const mail = mails[0]!;
      assert.equal(mail.tls, true);
      assert.match(mail.subject, /FAILED/);
      assert.ok(mail.text.includes(fileA) && mail.text.includes(fileB), `the mail names both configs:\n${mail.text}`);
      assert.match(mail.text, /refused user "test:tester"/, `the mail says why pair 1 failed:\n${mail.text}`);
      assert.equal(hook.posts.length, 1);
      const posted = JSON.parse(hook.posts[0]!.body) as { runs: Array<{ exitCode: number; aborted?: string | null }> };
      assert.deepEqual(
        posted.runs.map((x) => x.exitCode),
        [1, 0],
      );
      assert.match(posted.runs[0]!.aborted ?? '', /\[dest1\].*refused user/, hook.posts[0]!.body);
      for (const secret of [
        SMTP_PASSWORD,
        Buffer.from(SMTP_PASSWORD).toString('base64'),
        SWIFT_WRONG_KEY,
        swift.swift.key === 'testing' ? SWIFT_WRONG_KEY : swift.swift.key,
        ceph!.secretKey,
        's3s3-secret-token',
      ]) {
        for (const [where, text] of [
          ['stderr', r.stderr],
          ['stdout', r.stdout],
          ['mail', `${mail.subject}\n${mail.text}`],
          ['webhook', hook.posts[0]!.body],
        ] as const) {
          assert.ok(!text.includes(secret), `${JSON.stringify(secret)} is not in the ${where}`);
        }
      }
    },
  );

  it(
    'a mail server that is down and a webhook that hangs: one warning each, bounded by the timeout, ' +
      'exit status unchanged (0 and 1)',
    { timeout: 180_000 },
    async () => {
      const deaf = await deafServer();
      closers.push(deaf.close);
      let held = 0;
      const hanging: HttpServer = createHttp(() => void held++);
      await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
      closers.push(() => hanging.closeAllConnections?.() ?? hanging.close());
      const hookUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hooks/secret-path-5e1`;
      const src = await s3('hm-down-src', ['x']);
      const dst = await native('hm-down-dst');
      const notify = notifyIni({
        mail_to: 'ops@example.com',
        mail_from: 's3s3@example.com',
        smtp_url: `smtp://127.0.0.1:${deaf.port}`,
        mail_when: 'always',
        webhook_url: hookUrl,
      });
      const started = performance.now();
      const ok = await runBucket(
        [
          '--config',
          write('down-ok.ini', sectionIni('source', ceph!, src.bucket) + swiftIni('dest1', dst.bucket) + notify),
        ],
        { cwd: dir },
      );
      const seconds = (performance.now() - started) / 1000;
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(held, 1, 'the webhook got its post and never answered');
      assert.equal(lines(ok.stderr, 'warn', /not mailed/).length, 1, ok.stderr);
      assert.equal(lines(ok.stderr, 'warn', /not posted/).length, 1, ok.stderr);
      assert.ok(seconds < 45, `bounded by the 30 s timeout, mail and webhook at once: ${seconds.toFixed(1)} s`);
      assert.ok(!ok.stderr.includes('secret-path-5e1'), 'the webhook path is not printed');
      assert.deepEqual(
        (await listKeys(dst)).map((o) => o.key),
        ['x'],
      );

      // A refused mail server after a failing run: still exit 1, one warning.
      const closed = await deafServer();
      closed.close();
      const bad = await runBucket(
        [
          '--config',
          write(
            'down-bad.ini',
            sectionIni('source', ceph!, src.bucket) +
              swiftIni('dest1', 'never-made', { key: SWIFT_WRONG_KEY }) +
              notifyIni({
                mail_to: 'ops@example.com',
                mail_from: 's3s3@example.com',
                smtp_url: `smtp://127.0.0.1:${closed.port}`,
              }),
          ),
        ],
        { cwd: dir },
      );
      assert.equal(bad.code, 1, bad.stderr);
      const w = lines(bad.stderr, 'warn', /not mailed/);
      assert.equal(w.length, 1, bad.stderr);
      assert.match(w[0]!, /connection refused/);
      assert.ok(!bad.stderr.includes(SWIFT_WRONG_KEY));
    },
  );

  it(
    'a recipient the SMTP server refuses: the others get the mail, one warning names the refused address, ' +
      'exit status unchanged',
    { timeout: 60_000 },
    async () => {
      const smtp = await SmtpServer.start({ rejectRcptDomain: 'nowhere.invalid' });
      closers.push(() => smtp.close());
      const src = await s3('hm-rcpt-src', ['r']);
      const dst = await native('hm-rcpt-dst');
      const file = write(
        'rcpt.ini',
        sectionIni('source', ceph!, src.bucket) +
          swiftIni('dest1', dst.bucket) +
          notifyIni({
            mail_to: 'ops@example.com, typo@nowhere.invalid',
            mail_from: 's3s3@example.com',
            smtp_url: `smtp://127.0.0.1:${smtp.port}`,
            mail_when: 'always',
          }),
      );
      const r = await runBucket(['--config', file], { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        smtp.messages().map((m) => m.rcpt_tos),
        [['ops@example.com']],
      );
      const w = lines(r.stderr, 'warn', /not mailed/);
      assert.equal(w.length, 1, r.stderr);
      assert.match(w[0]!, /typo@nowhere\.invalid.*550.*check mail_to/);
    },
  );

  it(
    'a config error in file 2 (a Swift section, or [notify]) stops before any sweep, ' +
      'naming file 2 and the key: exit 2, nothing copied',
    { timeout: 60_000 },
    async () => {
      const src = await s3('hm-cfg-src', ['k']);
      const dst = await native('hm-cfg-dst');
      const good = write('cfg-good.ini', sectionIni('source', ceph!, src.bucket) + swiftIni('dest1', dst.bucket));
      const cases: Array<[string, string, RegExp]> = [
        [
          'cfg-swift.ini',
          sectionIni('source', ceph!, src.bucket) +
            `[dest1]\ntype = swift\nuser = a\nkey = ${SWIFT_WRONG_KEY}\ncontainer = c\n`,
          /auth_url/,
        ],
        [
          'cfg-type.ini',
          sectionIni('source', ceph!, src.bucket) + swiftIni('dest1', dst.bucket, { type: 'swfit' }),
          /type/,
        ],
        [
          'cfg-notify.ini',
          sectionIni('source', ceph!, src.bucket) +
            swiftIni('dest1', dst.bucket) +
            notifyIni({
              mail_to: 'ops@example.com',
              mail_from: 's3s3@example.com',
              smtp_url: `smtp://u:${SMTP_PASSWORD}@127.0.0.1:25`,
              mail_when: 'sometimes',
            }),
          /mail_when/,
        ],
        [
          'cfg-url.ini',
          sectionIni('source', ceph!, src.bucket) +
            swiftIni('dest1', dst.bucket) +
            notifyIni({
              mail_to: 'ops@example.com',
              mail_from: 's3s3@example.com',
              smtp_url: `http://u:${SMTP_PASSWORD}@127.0.0.1:25`,
            }),
          /smtp_url/,
        ],
      ];
      for (const [name, text, key] of cases) {
        const bad = write(name, text);
        const r = await runBucket(['--config', good, '--config', bad], { cwd: dir });
        assert.equal(r.code, 2, `${name}: ${r.stderr}`);
        assert.ok(r.stderr.includes(name), `${name}: the file is named:\n${r.stderr}`);
        assert.match(r.stderr, key, `${name}: the key is named`);
        assert.ok(
          !r.stderr.includes(SWIFT_WRONG_KEY) && !r.stderr.includes(SMTP_PASSWORD),
          `${name}: no secret printed:\n${r.stderr}`,
        );
        assert.deepEqual(await listKeys(dst), [], `${name}: the first pair was not swept`);
      }
    },
  );
});
