/** `[notify]`: its keys read and checked, each problem naming file, section and key; secrets never printed. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, parseConfig } from '../../src/api/config.js';
import { ConfigError } from '../../src/api/errors.js';

const PAIR = `
[source]
aws_access_key_id = AK
aws_secret_access_key = SK
bucket_name = src
[dest1]
aws_access_key_id = AK
aws_secret_access_key = SK
bucket_name = dst
`;
const dir = mkdtempSync(join(tmpdir(), 's3s3-notify-config-'));

function problemsOf(notify: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(PAIR + notify, { file: 'test.ini', env, baseDir: dir });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.file} [${p.section ?? ''}] ${p.key ?? ''}: ${p.message}`);
  }
  assert.fail('expected a ConfigError');
}

const MAIL = 'mail_to = ops@example.com\nmail_from = s3s3@example.com\n';

describe('config [notify]', () => {
  it('reads every key; the SMTP password and the webhook path are never printed', () => {
    const c = parseConfig(
      PAIR +
        `[notify]
mail_to = ops@example.com,  On Call <oncall@example.net> ,
mail_from = s3s3 <s3s3@example.com>
smtp_url = smtps://mailer:p%40ss-w0rd@mail.example.com:465
mail_when = always
subject = [backup] {outcome} {source}
webhook_url = https://hooks.example.com/T000/B000/XXXXsecret
webhook_when = failure
`,
      { file: 'test.ini' },
    );
    const n = c.notify!;
    assert.deepEqual(n.mailTo, ['ops@example.com', 'On Call <oncall@example.net>']);
    assert.equal(n.mailFrom, 's3s3 <s3s3@example.com>');
    assert.equal(n.smtpUrl, 'smtps://mailer:p%40ss-w0rd@mail.example.com:465');
    assert.equal(n.smtpUrlRedacted, 'smtps://mailer:***@mail.example.com:465');
    assert.equal(n.mailWhen, 'always');
    assert.equal(n.subject, '[backup] {outcome} {source}');
    assert.equal(n.webhookUrl, 'https://hooks.example.com/T000/B000/XXXXsecret');
    assert.equal(n.webhookUrlRedacted, 'https://hooks.example.com/...');
    assert.equal(n.webhookWhen, 'failure');
    assert.equal(n.verifySsl, true);
    for (const printed of [inspect(c, { depth: 5 }), inspect(n, { showHidden: true }), JSON.stringify(c)]) {
      assert.ok(!printed.includes('w0rd'), printed);
      assert.ok(!printed.includes('XXXXsecret'), printed);
    }
    assert.deepEqual(c.warnings, []);
  });

  it('defaults: mail on failure only, a webhook after every run; no [notify], no notify', () => {
    const c = parseConfig(
      PAIR + `[notify]\n${MAIL}smtp_url = smtp://127.0.0.1:25\nwebhook_url = http://127.0.0.1:9/hook\n`,
      { file: 'test.ini' },
    );
    assert.equal(c.notify!.mailWhen, 'failure');
    assert.equal(c.notify!.webhookWhen, 'always');
    assert.equal(c.notify!.subject, undefined);
    assert.equal(parseConfig(PAIR, { file: 'test.ini' }).notify, undefined);
  });

  it('S3S3_NOTIFY_SMTP_URL overrides the file, and smtp_url_file reads the URL from a file', () => {
    const env = { S3S3_NOTIFY_SMTP_URL: 'smtp://u:envpass@mail.example.com:587' };
    const c = parseConfig(PAIR + `[notify]\n${MAIL}smtp_url = {YOUR_SMTP_URL}\n`, { file: 'test.ini', env });
    assert.equal(c.notify!.smtpUrl, env.S3S3_NOTIFY_SMTP_URL);
    const file = join(dir, 'smtp-url');
    writeFileSync(file, 'smtps://u:filepass@mail.example.com\n');
    const f = parseConfig(PAIR + `[notify]\n${MAIL}smtp_url_file = smtp-url\n`, { file: 'test.ini', baseDir: dir });
    assert.equal(f.notify!.smtpUrl, 'smtps://u:filepass@mail.example.com');
    assert.deepEqual(problemsOf(`[notify]\n${MAIL}smtp_url = smtp://h\nsmtp_url_file = smtp-url\n`), [
      'test.ini [notify] smtp_url_file: conflicts with "smtp_url" (test.ini:13); set either ' +
        'smtp_url or smtp_url_file, not both',
    ]);
  });

  it('reports every bad value with file, section and key, and never the password', () => {
    const problems = problemsOf(`[notify]
mail_to = ops@example.com, not-an-address, a b@example.com
mail_from = nobody
smtp_url = http://user:hunter2secret@mail.example.com/x
mail_when = sometimes
subject =
webhook_url = ftp://hooks.example.com/
webhook_when = never
`);
    assert.deepEqual(problems, [
      'test.ini [notify] mail_to: "not-an-address" is not a mail address; give addresses separated ' +
        'by commas (e.g. ops@example.com, oncall@example.com)',
      'test.ini [notify] mail_to: "a b@example.com" is not a mail address; give addresses separated ' +
        'by commas (e.g. ops@example.com, oncall@example.com)',
      'test.ini [notify] mail_from: "nobody" is not a mail address; use e.g. mail_from = s3s3@example.com ' +
        'or s3s3 <s3s3@example.com>',
      'test.ini [notify] smtp_url: http://user:***@mail.example.com/x must start with smtp:// ' +
        '(STARTTLS when the server offers it) or smtps:// (TLS from the start)',
      'test.ini [notify] mail_when: "sometimes" is not one of: failure, always',
      'test.ini [notify] subject: must be one non-empty line; remove it for the default (it ' +
        'names the source and the outcome)',
      'test.ini [notify] webhook_url: is not an http:// or https:// URL; use e.g. webhook_url ' +
        '= https://hooks.example.com/s3s3',
      'test.ini [notify] webhook_when: "never" is not one of: failure, always',
    ]);
    assert.ok(!problems.join('\n').includes('hunter2secret'));
  });

  it('mail_to needs mail_from and smtp_url; smtp_url must be usable', () => {
    assert.deepEqual(problemsOf('[notify]\nmail_to = ops@example.com\n'), [
      'test.ini [notify] mail_from: missing: set mail_from = <the sender address> (e.g. s3s3@example.com): ' +
        'mail_to is set',
      'test.ini [notify] smtp_url: missing: set smtp_url = smtp://HOST:587 (or smtps://USER:PASSWORD@HOST:465; ' +
        'or smtp_url_file = FILE holding it): mail_to is set',
    ]);
    assert.deepEqual(problemsOf(`[notify]\n${MAIL}smtp_url = smtp://mailer@mail.example.com\n`), [
      'test.ini [notify] smtp_url: smtp://***@mail.example.com has a user but no password; ' +
        'use smtp://USER:PASSWORD@HOST:PORT',
    ]);
    assert.deepEqual(problemsOf(`[notify]\n${MAIL}smtp_url = smtp://u:bad%zzpw@mail.example.com\n`), [
      'test.ini [notify] smtp_url: smtp://u:***@mail.example.com: the user or password holds ' +
        'a "%" that is not a valid percent-encoding; write % as %25',
    ]);
    assert.deepEqual(problemsOf(`[notify]\nmail_to = ,\n${'mail_from = s3s3@example.com\n'}smtp_url = smtp://h\n`), [
      'test.ini [notify] mail_to: is empty: give one or more addresses separated by commas ' +
        '(e.g. ops@example.com, oncall@example.com), or remove it',
    ]);
  });

  it('an environment value is reported under its variable', () => {
    assert.deepEqual(problemsOf(`[notify]\n${MAIL}smtp_url = smtp://h\n`, { S3S3_NOTIFY_MAIL_WHEN: 'weekly' }), [
      'environment S3S3_NOTIFY_MAIL_WHEN [notify] mail_when: "weekly" is not one of: failure, always',
    ]);
  });

  it(
    'warns about unknown keys and sections with the nearest name, unused keys, and a section ' + 'that sends nothing',
    () => {
      const c = parseConfig(
        PAIR +
          `[notfy]\nmail_to = x@example.com\n[notify]\n${MAIL}smtp_url = smtp://h\nmail_too = ` +
          `y@example.com\nwebhook_when = always\n`,
        { file: 'test.ini' },
      );
      const w = c.warnings.map((p) => `[${p.section}] ${p.key ?? ''}: ${p.message}`);
      assert.ok(w.includes('[notfy] : unknown section ignored; did you mean [notify]?'), w.join('\n'));
      assert.ok(w.includes('[notify] mail_too: unknown key ignored; did you mean "mail_to"?'), w.join('\n'));
      assert.ok(w.includes('[notify] webhook_when: is unused: no webhook_url'), w.join('\n'));
      const empty = parseConfig(PAIR + '[notify]\nsmtp_url = smtp://h\n', { file: 'test.ini' });
      assert.equal(empty.notify, undefined);
      assert.deepEqual(
        empty.warnings.map((p) => `${p.key ?? ''}: ${p.message}`),
        [
          'smtp_url: is unused: no mail_to, so no mail is sent; set mail_to = ADDRESS[, ADDRESS...]',
          ': has neither mail_to nor webhook_url: no report is sent; set one of them, or remove the section',
        ],
      );
    },
  );

  it('ca_bundle is read and checked; verify_ssl = false is warned about', () => {
    const bad = join(dir, 'not-a-ca.pem');
    writeFileSync(bad, 'hello\n');
    assert.deepEqual(problemsOf(`[notify]\n${MAIL}smtp_url = smtps://h\nca_bundle = not-a-ca.pem\n`), [
      `test.ini [notify] ca_bundle: ${bad} holds no "-----BEGIN CERTIFICATE-----" block; give ` +
        `the PEM certificates of the CA(s) to trust`,
    ]);
    const c = parseConfig(PAIR + `[notify]\nwebhook_url = https://hooks.example.com/x\nverify_ssl = false\n`, {
      file: 'test.ini',
    });
    assert.equal(c.notify!.verifySsl, false);
    assert.match(
      c.warnings.map((p) => `${p.key}: ${p.message}`).join('\n'),
      /verify_ssl: = false: the certificates of the SMTP server and the webhook are NOT checked/,
    );
    const unused = parseConfig(PAIR + `[notify]\nwebhook_url = http://hooks.example.com/x\nverify_ssl = false\n`, {
      file: 'test.ini',
    });
    assert.match(
      unused.warnings.map((p) => `${p.key}: ${p.message}`).join('\n'),
      /verify_ssl: is unused: it applies to smtp_url/,
    );
  });

  it(
    'a world-readable file holding an SMTP password gets the permission warning; one without ' + 'a password does not',
    () => {
      const withPw = join(dir, 'pw.ini');
      writeFileSync(
        withPw,
        PAIR.replace(/aws_secret_access_key = SK/g, 'aws_secret_access_key = {YOUR_SECRET}') +
          `[notify]\n${MAIL}smtp_url = smtp://u:pw12345@h\n`,
        { mode: 0o644 },
      );
      const env = { S3S3_SOURCE_AWS_SECRET_ACCESS_KEY: 'x', S3S3_DEST1_AWS_SECRET_ACCESS_KEY: 'y' };
      assert.match(
        loadConfig({ file: withPw, env })
          .warnings.map((w) => w.message)
          .join('\n'),
        /is readable by every user and holds a secret/,
      );
      const noPw = join(dir, 'nopw.ini');
      writeFileSync(
        noPw,
        PAIR.replace(/aws_secret_access_key = SK/g, 'aws_secret_access_key = {YOUR_SECRET}') +
          `[notify]\n${MAIL}smtp_url = smtp://h:25\n`,
        { mode: 0o644 },
      );
      assert.doesNotMatch(
        loadConfig({ file: noPw, env })
          .warnings.map((w) => w.message)
          .join('\n'),
        /holds a secret/,
      );
    },
  );
});
