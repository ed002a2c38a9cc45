/**
 * The run report of the built s3s3bucket, sent to a real SMTP server (Debian's aiosmtpd on
 * loopback) and a local webhook receiver, after real sweeps from Ceph to Swift: who gets it,
 * its subject and figures, when it is sent, and that a report that cannot be sent is one
 * warning that leaves the exit status alone.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sectionIni, testServers, uniqueBucket } from '../helpers/servers.js';
import { dropStore, freshStore, listKeys, putAll } from '../helpers/seed.js';
import { FaultProxy, isWrite } from '../helpers/fault-proxy.js';
import { SmtpServer, makeTestCa } from '../helpers/smtp.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import { configDir, runBucket } from '../helpers/bucket-cli.js';
import { createServer, type AddressInfo } from 'node:net';
import type { S3Store } from '../../src/api/store/s3-store.js';

const PASSWORD = 'Pw-9f2b-secret';
const { dir, write } = configDir('notify');

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function notifyIni(keys: Record<string, string>): string {
  return (
    '[notify]\n' +
    Object.entries(keys)
      .map(([k, v]) => `${k} = ${v}`)
      .join('\n') +
    '\n'
  );
}

const warnings = (stderr: string, what: RegExp) =>
  stderr.split('\n').filter((l) => /^s3s3 warn:/.test(l) && what.test(l));

describe('s3s3bucket: the run report by mail and webhook', () => {
  const [ceph, swift] = testServers();
  const stores: S3Store[] = [];
  const servers: SmtpServer[] = [];
  const proxy = new FaultProxy(swift!.endpoint);
  const ca = makeTestCa();
  let src: S3Store;
  let dst: S3Store;
  let clean: string;
  let failing: string;
  const BAD = ['bad/tab\there', 'bad/two'];

  before(async () => {
    src = await freshStore(ceph!, uniqueBucket('notify-src'));
    dst = await freshStore(swift!, uniqueBucket('notify-dst'));
    stores.push(src, dst);
    await putAll(
      src,
      [...['ok/1', 'ok/2'], ...BAD].map((key) => ({ key, body: Buffer.from(`body of ${key}`) })),
    );
    const url = await proxy.start();
    // Every write of a bad/ key is refused by the destination: two failures with a reason.
    proxy.inject(
      isWrite(dst.bucket, (k) => k.startsWith('bad/')),
      { kind: 'status', status: 400, code: 'InvalidRequest' },
      1_000_000,
    );
    clean =
      sectionIni('source', ceph!, src.bucket, { prefix: 'ok/' }) +
      sectionIni('dest1', swift!, dst.bucket, { prefix: 'ok/' });
    failing =
      sectionIni('source', ceph!, src.bucket) +
      sectionIni('dest1', { ...swift!, endpoint: url }, dst.bucket, { max_retries: 0 });
  });
  after(async () => {
    for (const s of servers) s.close();
    await proxy.stop();
    for (const s of stores) await dropStore(s).catch(() => {});
  });
  const smtp = async (options?: Parameters<typeof SmtpServer.start>[0]) => {
    const s = await SmtpServer.start(options);
    servers.push(s);
    return s;
  };

  it(
    'mails a failed sweep to every recipient: subject, ' + 'figures, failed keys (escaped) and reasons; exit status 1',
    async () => {
      const server = await smtp();
      const file = write(
        'fail.ini',
        failing +
          notifyIni({
            mail_to: 'ops@example.com, oncall@example.net',
            mail_from: 's3s3 <s3s3@example.com>',
            smtp_url: `smtp://127.0.0.1:${server.port}`,
          }),
      );
      const r = await runBucket(['--config', file], { cwd: dir });
      assert.equal(r.code, 1, r.stderr);
      const mails = server.messages();
      assert.equal(mails.length, 1, r.stderr);
      const m = mails[0]!;
      assert.deepEqual(m.rcpt_tos, ['ops@example.com', 'oncall@example.net']);
      assert.equal(m.mail_from, 's3s3@example.com');
      assert.equal(m.subject, `s3s3bucket FAILED (2 failed): ${src.bucket} at ${ceph!.endpoint}`);
      assert.match(m.text, /^s3s3bucket on \S+: FAILED \(exit status 1\)/);
      assert.match(m.text, /listed 4, copied 2 \(\d+ bytes\), skipped 0, failed 2/);
      assert.match(m.text, new RegExp(`\\[dest1\\] ${dst.bucket} at http://127\\.0\\.0\\.1:\\d+: copied 2 .*failed 2`));
      assert.match(m.text, /failures \(2\):/);
      assert.match(m.text, /"bad\/tab\\there" -> \[dest1\]: .*InvalidRequest/);
      assert.match(m.text, /"bad\/two" -> \[dest1\]: .*InvalidRequest/);
      assert.ok(!m.text.includes('\t'), 'the tab of the key is escaped, not raw');
      assert.match(r.stderr, /run report mailed to=ops@example.com,oncall@example.net/);
    },
  );

  it('mail_when = failure (the default) sends nothing after a clean sweep; always sends the OK report', async () => {
    const server = await smtp();
    const base = {
      mail_to: 'ops@example.com',
      mail_from: 's3s3@example.com',
      smtp_url: `smtp://127.0.0.1:${server.port}`,
    };
    const quiet = await runBucket(['--config', write('quiet.ini', clean + notifyIni(base))], { cwd: dir });
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(server.messages().length, 0);
    const always = await runBucket(
      [
        '--config',
        write(
          'always.ini',
          clean + notifyIni({ ...base, mail_when: 'always', subject: '[backup] {outcome} {source}' }),
        ),
      ],
      { cwd: dir },
    );
    assert.equal(always.code, 0, always.stderr);
    const mails = server.messages();
    assert.equal(mails.length, 1);
    assert.equal(mails[0]!.subject, `[backup] OK ${src.bucket} at ${ceph!.endpoint}`);
    assert.match(mails[0]!.text, /: OK \(exit status 0\)/);
    assert.match(mails[0]!.text, /failed 0/);
  });

  it('connection refused: one warning naming the server, exit status unchanged (1 stays 1)', async () => {
    const port = await closedPort();
    const file = write(
      'refused.ini',
      failing +
        notifyIni({ mail_to: 'ops@example.com', mail_from: 's3s3@example.com', smtp_url: `smtp://127.0.0.1:${port}` }),
    );
    const r = await runBucket(['--config', file], { cwd: dir });
    assert.equal(r.code, 1, r.stderr);
    const w = warnings(r.stderr, /not mailed/);
    assert.equal(w.length, 1, r.stderr);
    assert.match(
      w[0]!,
      new RegExp(`the run report was not mailed: connection refused by smtp://127\\.0\\.0\\.1:${port}`),
    );
  });

  it('a server without STARTTLS gets no password: one warning, no password on stderr, exit 0 stays 0', async () => {
    const server = await smtp();
    const file = write(
      'nostarttls.ini',
      clean +
        notifyIni({
          mail_to: 'ops@example.com',
          mail_from: 's3s3@example.com',
          smtp_url: `smtp://mailer:${PASSWORD}@127.0.0.1:${server.port}`,
          mail_when: 'always',
        }),
    );
    const r = await runBucket(['--config', file], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const w = warnings(r.stderr, /not mailed/);
    assert.equal(w.length, 1, r.stderr);
    assert.match(
      w[0]!,
      new RegExp(
        `smtp://mailer:\\*\\*\\*@127\\.0\\.0\\.1:${server.port}/? refused STARTTLS .*s3s3 sends an SMTP password only over TLS`,
      ),
    );
    assert.ok(!r.stderr.includes(PASSWORD), 'no password on stderr');
    assert.equal(server.messages().length, 0);
  });

  it('a server that wants a login, given none: one warning saying to put USER:PASSWORD in smtp_url', async () => {
    const server = await smtp({ auth: { user: 'mailer', pass: PASSWORD }, authWithoutTls: true });
    const file = write(
      'nologin.ini',
      clean +
        notifyIni({
          mail_to: 'ops@example.com',
          mail_from: 's3s3@example.com',
          smtp_url: `smtp://127.0.0.1:${server.port}`,
          mail_when: 'always',
        }),
    );
    const r = await runBucket(['--config', file], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const w = warnings(r.stderr, /not mailed/);
    assert.equal(w.length, 1, r.stderr);
    assert.match(
      w[0]!,
      new RegExp(
        `smtp://127\\.0\\.0\\.1:${server.port}/? wants a login \\(530 .*\\): give smtp_url = smtp://USER:PASSWORD@HOST:PORT`,
      ),
    );
    assert.equal(server.messages().length, 0);
  });

  it(
    'STARTTLS with ca_bundle: a wrong password is one clear warning; ' +
      'the right one (from S3S3_NOTIFY_SMTP_URL) delivers over TLS',
    async () => {
      const server = await smtp({ tls: { cert: ca.cert, key: ca.key }, auth: { user: 'mailer', pass: PASSWORD } });
      const file = write(
        'auth.ini',
        clean +
          notifyIni({
            mail_to: 'ops@example.com',
            mail_from: 's3s3@example.com',
            smtp_url: `smtp://mailer:wrong-password@127.0.0.1:${server.port}`,
            mail_when: 'always',
            ca_bundle: ca.ca,
          }),
      );
      const wrong = await runBucket(['--config', file], { cwd: dir });
      assert.equal(wrong.code, 0, wrong.stderr);
      const w = warnings(wrong.stderr, /not mailed/);
      assert.equal(w.length, 1, wrong.stderr);
      assert.match(w[0]!, /refused the login of "mailer" \(535 .*\): check the user and password in smtp_url/);
      assert.ok(!wrong.stderr.includes('wrong-password'), 'no password on stderr');
      assert.equal(server.messages().length, 0);

      const right = await runBucket(['--config', file], {
        cwd: dir,
        env: { S3S3_NOTIFY_SMTP_URL: `smtp://mailer:${PASSWORD}@127.0.0.1:${server.port}` },
      });
      assert.equal(right.code, 0, right.stderr);
      assert.equal(warnings(right.stderr, /not mailed/).length, 0, right.stderr);
      const mails = server.messages();
      assert.equal(mails.length, 1);
      assert.equal(mails[0]!.login, 'mailer');
      assert.equal(mails[0]!.tls, true);
      assert.ok(!right.stderr.includes(PASSWORD), 'no password on stderr');
    },
  );

  it('TLS to a private CA without ca_bundle: one warning saying to set it; smtps:// with ca_bundle delivers', async () => {
    const starttls = await smtp({ tls: { cert: ca.cert, key: ca.key } });
    const base = { mail_to: 'ops@example.com', mail_from: 's3s3@example.com', mail_when: 'always' };
    const r = await runBucket(
      [
        '--config',
        write('untrusted.ini', clean + notifyIni({ ...base, smtp_url: `smtp://127.0.0.1:${starttls.port}` })),
      ],
      { cwd: dir },
    );
    assert.equal(r.code, 0, r.stderr);
    const w = warnings(r.stderr, /not mailed/);
    assert.equal(w.length, 1, r.stderr);
    assert.match(
      w[0]!,
      new RegExp(
        `TLS with smtp://127\\.0\\.0\\.1:${starttls.port}/? failed: .*certificate.*; trust the server's CA with \\[notify\\] ca_bundle = FILE`,
      ),
    );
    assert.equal(starttls.messages().length, 0);

    const smtps = await smtp({ tls: { cert: ca.cert, key: ca.key }, implicitTls: true });
    const ok = await runBucket(
      [
        '--config',
        write(
          'smtps.ini',
          clean + notifyIni({ ...base, smtp_url: `smtps://127.0.0.1:${smtps.port}`, ca_bundle: ca.ca }),
        ),
      ],
      { cwd: dir },
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(smtps.messages().length, 1, ok.stderr);
    assert.equal(smtps.messages()[0]!.tls, true);
    assert.doesNotMatch(
      ok.stderr,
      /\(node:\d+\)|Warning/,
      'no warning from Node (e.g. an IP address as TLS server name)',
    );
  });

  it(
    'posts the JSON summary to the webhook; a webhook answering 500 is one warning without its secret path, ' +
      'exit status unchanged',
    async () => {
      const hook = await WebhookReceiver.start();
      try {
        const r = await runBucket(['--config', write('hook.ini', failing + notifyIni({ webhook_url: hook.url }))], {
          cwd: dir,
        });
        assert.equal(r.code, 1, r.stderr);
        assert.equal(hook.posts.length, 1, r.stderr);
        const post = hook.posts[0]!;
        assert.equal(post.method, 'POST');
        assert.equal(post.url, '/hooks/s3s3-secret-token');
        assert.equal(post.headers['content-type'], 'application/json');
        const body = JSON.parse(post.body) as {
          subject: string;
          runs: Array<Record<string, unknown>>;
          total: Record<string, unknown>;
        };
        assert.equal(body.runs.length, 1);
        assert.equal(body.runs[0]!.source, `${src.bucket} at ${ceph!.endpoint}`);
        assert.equal((body.runs[0]!.copied as number) + (body.runs[0]!.skipped as number), 2, 'the ok/ keys');
        assert.equal(body.runs[0]!.failed, 2);
        assert.deepEqual((body.runs[0]!.failures as Array<{ key: string }>).map((f) => f.key).sort(), BAD);
        assert.equal(body.total.exitCode, 1);
        assert.equal(body.total.failed, 2);
        assert.equal(body.total.ok, false);
        assert.match(body.subject, /^s3s3bucket FAILED \(2 failed\)/);
      } finally {
        await hook.close();
      }
      const broken = await WebhookReceiver.start({ status: 500 });
      try {
        const r = await runBucket(['--config', write('hook500.ini', clean + notifyIni({ webhook_url: broken.url }))], {
          cwd: dir,
        });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(broken.posts.length, 1, 'posted after a clean run too (webhook_when = always)');
        const w = warnings(r.stderr, /webhook/);
        assert.equal(w.length, 1, r.stderr);
        assert.match(
          w[0]!,
          /the run report was not posted to the webhook: http:\/\/127\.0\.0\.1:\d+\/\.\.\. answered 500/,
        );
        assert.ok(!r.stderr.includes('s3s3-secret-token'), 'the path (a token) is not printed');
      } finally {
        await broken.close();
      }
    },
  );

  it('an https webhook is trusted through [notify] ca_bundle, and refused (one warning) without it', async () => {
    const hook = await WebhookReceiver.start({ tls: { cert: ca.cert, key: ca.key } });
    try {
      const without = await runBucket(
        ['--config', write('https-no-ca.ini', clean + notifyIni({ webhook_url: hook.url }))],
        { cwd: dir },
      );
      assert.equal(without.code, 0, without.stderr);
      assert.equal(hook.posts.length, 0);
      assert.match(
        warnings(without.stderr, /webhook/)[0] ?? '',
        /TLS failed: .*; trust the server's CA with \[notify\] ca_bundle = FILE/,
      );
      const trusted = await runBucket(
        ['--config', write('https-ca.ini', clean + notifyIni({ webhook_url: hook.url, ca_bundle: ca.ca }))],
        { cwd: dir },
      );
      assert.equal(trusted.code, 0, trusted.stderr);
      assert.equal(hook.posts.length, 1, trusted.stderr);
      assert.equal(warnings(trusted.stderr, /webhook/).length, 0);
      assert.doesNotMatch(trusted.stderr, /\(node:\d+\)|Warning/);
    } finally {
      await hook.close();
    }
  });

  it('sends nothing for --dry-run', async () => {
    const server = await smtp();
    const file = write(
      'dry.ini',
      failing +
        notifyIni({
          mail_to: 'ops@example.com',
          mail_from: 's3s3@example.com',
          smtp_url: `smtp://127.0.0.1:${server.port}`,
          mail_when: 'always',
        }),
    );
    const dry = await runBucket(['--config', file, '--dry-run'], { cwd: dir });
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(server.messages().length, 0);
    assert.deepEqual(
      (await listKeys(dst)).map((o) => o.key),
      ['ok/1', 'ok/2'],
    );
  });
});
