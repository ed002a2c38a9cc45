/**
 * Sending the run report by SMTP. The one file of s3s3 that imports nodemailer, and only when
 * a mail is sent, so runs without `[notify] mail_to` never load it.
 */
import type { NotifyConfig } from '../config.js';
import { NotifyError, scrub } from './notify-error.js';

/** A mail to send: its subject and plain-text body. */
export interface MailMessage {
  readonly subject: string;
  readonly text: string;
}

/** Where and how to reach the SMTP server, read from `smtp_url`. */
export interface SmtpTarget {
  readonly host: string;
  readonly port: number;
  /** smtps://: TLS from the start; smtp://: STARTTLS when offered, required with a password. */
  readonly secure: boolean;
  readonly user?: string;
  readonly pass?: string;
}

/** Host, port and credentials of `smtp_url` (ports default to 465 for smtps://, 587 for smtp://). */
export function smtpTarget(url: string): SmtpTarget {
  const u = new URL(url);
  const secure = u.protocol === 'smtps:';
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = u.port ? Number(u.port) : secure ? 465 : 587;
  return u.username
    ? { host, port, secure, user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) }
    : { host, port, secure };
}

/** Nodemailer's error fields that say what went wrong. */
interface SmtpFailure {
  code?: string;
  command?: string;
  response?: string;
  responseCode?: number;
  message: string;
  cause?: unknown;
}

/** One line saying what failed and what to do, from nodemailer's error. */
export function describeSmtpError(err: unknown, where: string, t: SmtpTarget): string {
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as SmtpFailure;
  const response = e.response ? ` (${e.response.trim().split(/\r?\n/).pop()})` : '';
  const low = `${e.message} ${String((e.cause as Error | undefined)?.message ?? '')}`;
  if (/ECONNREFUSED/.test(low))
    return `connection refused by ${where}: is the SMTP server running, and is the port in smtp_url right?`;
  if (/ENOTFOUND|EAI_AGAIN/.test(low)) return `cannot resolve the host of ${where}: check smtp_url`;
  if (e.code === 'ETIMEDOUT' || /timeout/i.test(low))
    return `no answer from ${where} in time: check the host and port in smtp_url (smtps:// for port 465)`;
  if (e.code === 'ETLS' && e.command === 'STARTTLS') {
    return `${where} refused STARTTLS${response}: s3s3 sends an SMTP password only over TLS; use smtps:// if the server has TLS on its own port, or a server that offers STARTTLS`;
  }
  if (e.code === 'ETLS' || /certificate|self.signed|SSL|TLS|wrong version number/i.test(low)) {
    return `TLS with ${where} failed: ${e.message}; trust the server's CA with [notify] ca_bundle = FILE`;
  }
  if (e.code === 'EAUTH')
    return (
      `${where} refused the login of ${JSON.stringify(t.user ?? '')}${response}: ` +
      'check the user and password in smtp_url'
    );
  if (e.responseCode === 530 || /authentication required/i.test(e.response ?? ''))
    return `${where} wants a login${response}: give smtp_url = smtp://USER:PASSWORD@HOST:PORT`;
  if (e.code === 'EENVELOPE')
    return `${where} refused the sender or the recipients${response}: check mail_from and mail_to`;
  return `sending by ${where} failed: ${e.message}${response && !e.message.includes(e.response ?? '') ? response : ''}`;
}

/**
 * What the server took: recipients it refused while taking the mail for others (each with its
 * answer).
 */
export interface MailSent {
  readonly refused: readonly string[];
}

/**
 * Send `message` to `mail_to` through `smtp_url`; throws NotifyError saying what failed. A
 * server that refuses some recipients but takes the mail for the rest does not throw: those
 * are returned, to be warned about.
 */
export async function sendMail(notify: NotifyConfig, message: MailMessage, timeoutMs = 30_000): Promise<MailSent> {
  if (notify.smtpUrl === undefined || notify.mailFrom === undefined || notify.mailTo.length === 0)
    return { refused: [] };
  const t = smtpTarget(notify.smtpUrl);
  const where = notify.smtpUrlRedacted ?? `${t.host}:${t.port}`;
  const secrets = t.pass !== undefined ? [t.pass] : [];
  const { createTransport } = await import('nodemailer');
  const transport = createTransport({
    host: t.host,
    port: t.port,
    secure: t.secure,
    // A password never crosses the network in clear: with one, STARTTLS is required.
    requireTLS: !t.secure && t.pass !== undefined,
    ...(t.user !== undefined ? { auth: { user: t.user, pass: t.pass ?? '' } } : {}),
    tls: { ...(notify.caBundle !== undefined ? { ca: notify.caBundle } : {}), rejectUnauthorized: notify.verifySsl },
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  try {
    const info = (await transport.sendMail({
      from: notify.mailFrom,
      to: [...notify.mailTo],
      subject: message.subject,
      text: message.text,
    })) as {
      rejected?: Array<string | { address?: string }>;
      rejectedErrors?: Array<{ recipient?: string; response?: string }>;
    };
    const answers = new Map(
      (info.rejectedErrors ?? []).map((e) => [e.recipient ?? '', e.response?.trim().split(/\r?\n/).pop() ?? '']),
    );
    const refused = (info.rejected ?? [])
      .map((r) => (typeof r === 'string' ? r : (r.address ?? '')))
      .map((a) => (answers.get(a) ? `${a} (${answers.get(a)})` : a));
    return { refused: refused.map((r) => scrub(r, secrets)) };
  } catch (err) {
    throw new NotifyError('mail', where, scrub(describeSmtpError(err, where, t), secrets));
  } finally {
    transport.close();
  }
}
