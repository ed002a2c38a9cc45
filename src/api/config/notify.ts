/**
 * `[notify]`: where the run report goes. Rules across keys: `mail_to` needs `mail_from` and
 * `smtp_url`; keys of a channel that is off are warned about; TLS keys apply only where TLS is used.
 */
import { hideSecrets } from '../redact.js';
import type { Reader } from './reader.js';
import type { NotifyConfig } from './types.js';
import { redactUrl } from './values.js';

/**
 * The `[notify]` section. Off (undefined) when it names neither `mail_to` nor `webhook_url`,
 * and after a problem. `smtp_url` and `webhook_url` may come from `<key>_file` or the environment.
 */
export function readNotify(r: Reader): NotifyConfig | undefined {
  const before = r.problemCount();
  r.fromFiles();
  const mailTo = mailAddresses(r);
  const mailing = mailTo.length > 0;
  const mailFrom = r.string('mail_from');
  if (mailFrom !== undefined && !isMailAddress(mailFrom))
    r.problem(
      'mail_from',
      `"${mailFrom}" is not a mail address; use e.g. mail_from = s3s3@example.com or s3s3 <s3s3@example.com>`,
    );
  const smtpUrl = r.string('smtp_url');
  if (smtpUrl !== undefined) checkSmtpUrl(r, smtpUrl);
  if (mailing) {
    if (mailFrom === undefined && !r.has('mail_from'))
      r.problem('mail_from', 'missing: set mail_from = <the sender address> (e.g. s3s3@example.com): mail_to is set');
    if (smtpUrl === undefined && !r.has('smtp_url') && !r.has('smtp_url_file'))
      r.problem(
        'smtp_url',
        'missing: set smtp_url = smtp://HOST:587 (or smtps://USER:PASSWORD@HOST:465; ' +
          'or smtp_url_file = FILE holding it): mail_to is set',
      );
  } else {
    for (const k of ['mail_from', 'smtp_url', 'mail_when', 'subject'])
      if (r.has(k)) r.warn(k, 'is unused: no mail_to, so no mail is sent; set mail_to = ADDRESS[, ADDRESS...]');
  }
  const mailWhen = r.oneOf<'failure' | 'always'>('mail_when');
  const subject = r.string('subject');
  if (subject !== undefined && (subject.trim() === '' || /[\r\n]/.test(subject)))
    r.problem('subject', 'must be one non-empty line; remove it for the default (it names the source and the outcome)');
  const webhookUrl = r.string('webhook_url');
  if (webhookUrl !== undefined) checkWebhookUrl(r, webhookUrl);
  const webhookWhen = r.oneOf<'failure' | 'always'>('webhook_when');
  const lagEvents = r.boolean('lag_events');
  if (lagEvents && webhookUrl === undefined && !r.has('webhook_url'))
    r.problem('lag_events', 'needs webhook_url: set webhook_url = https://... (where the events are posted)');
  if (webhookUrl === undefined && r.has('webhook_when')) r.warn('webhook_when', 'is unused: no webhook_url');
  const caBundle = r.caBundle('ca_bundle');
  const verifySsl = r.boolean('verify_ssl');
  const tlsUsed = (smtpUrl !== undefined && mailing) || (webhookUrl?.startsWith('https:') ?? false);
  if (!tlsUsed) {
    for (const k of ['ca_bundle', 'verify_ssl'])
      if (r.has(k))
        r.warn(
          k,
          'is unused: it applies to smtp_url (smtps://, or smtp:// with STARTTLS) and to an https:// webhook_url',
        );
  } else if (!verifySsl) {
    r.warn(
      'verify_ssl',
      '= false: the certificates of the SMTP server and the webhook are NOT checked; anyone on the network path ' +
        'can read the report and the SMTP password. Trust their CA with ca_bundle = FILE instead',
    );
  }
  if (!mailing && webhookUrl === undefined) {
    if (r.problemCount() === before)
      r.warn(
        undefined,
        'has neither mail_to nor webhook_url: no report is sent; set one of them, or remove the section',
      );
    return undefined;
  }
  if (r.problemCount() !== before) return undefined;
  const result: NotifyConfig = {
    mailTo: Object.freeze(mailTo),
    ...(mailing && mailFrom !== undefined ? { mailFrom } : {}),
    ...(mailing && smtpUrl !== undefined ? { smtpUrl, smtpUrlRedacted: redactUrl(smtpUrl) } : {}),
    mailWhen,
    ...(subject !== undefined ? { subject } : {}),
    ...(webhookUrl !== undefined ? { webhookUrl, webhookUrlRedacted: webhookOrigin(webhookUrl) } : {}),
    webhookWhen,
    lagEvents,
    ...(caBundle !== undefined ? { caBundle } : {}),
    verifySsl,
  };
  return hideSecrets(result, ['smtpUrl', 'webhookUrl']);
}

/** `mail_to`: addresses separated by commas, each checked; [] when not set. */
function mailAddresses(r: Reader): string[] {
  const value = r.string('mail_to');
  if (value === undefined) return [];
  const list = value
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  const example = '(e.g. ops@example.com, oncall@example.com)';
  if (list.length === 0)
    r.problem('mail_to', `is empty: give one or more addresses separated by commas ${example}, or remove it`);
  for (const a of list)
    if (!isMailAddress(a))
      r.problem('mail_to', `"${a}" is not a mail address; give addresses separated by commas ${example}`);
  return list;
}

/** `user@domain`, or `Name <user@domain>`; no spaces, quotes or brackets inside the address. */
function isMailAddress(value: string): boolean {
  const m = /^[^<>]*<([^<>]+)>$/.exec(value.trim());
  return /^[^\s@<>()[\],;:"\\]+@[^\s@<>()[\],;:"\\.][^\s@<>()[\],;:"\\]*$/.test(m ? m[1]! : value.trim());
}

function checkSmtpUrl(r: Reader, value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    r.problem(
      'smtp_url',
      'is not a URL; use e.g. smtp://mail.example.com:587 or smtps://USER:PASSWORD@mail.example.com:465 ' +
        '(percent-encode special characters of the password)',
    );
    return;
  }
  const shown = redactUrl(value);
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:')
    r.problem(
      'smtp_url',
      `${shown} must start with smtp:// (STARTTLS when the server offers it) or smtps:// (TLS from the start)`,
    );
  else if (url.hostname === '') r.problem('smtp_url', `${shown} names no host; use e.g. smtp://mail.example.com:587`);
  else if ((url.pathname !== '' && url.pathname !== '/') || url.search || url.hash)
    r.problem('smtp_url', `${shown} must be just scheme, credentials, host and port (no path or query)`);
  else if (url.username !== '' && url.password === '')
    r.problem('smtp_url', `${shown} has a user but no password; use smtp://USER:PASSWORD@HOST:PORT`);
  else {
    try {
      decodeURIComponent(url.username);
      decodeURIComponent(url.password);
    } catch {
      r.problem(
        'smtp_url',
        `${shown}: the user or password holds a "%" that is not a valid percent-encoding; write % as %25`,
      );
    }
  }
}

function checkWebhookUrl(r: Reader, value: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    r.problem(
      'webhook_url',
      'is not an http:// or https:// URL; use e.g. webhook_url = https://hooks.example.com/s3s3',
    );
  }
}

/** A webhook URL as messages show it: scheme, host and port (the path often holds a token). */
function webhookOrigin(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname !== '/' || u.search ? '/...' : '/'}`;
  } catch {
    return 'the webhook';
  }
}
