/** After a run: the report sent as `[notify]` says. */
import { hostname } from 'node:os';
import type { NotifyConfig } from '../config.js';
import type { Logger } from '../log.js';
import { sendMail } from './mail.js';
import { NotifyError } from './notify-error.js';
import { runsJson, runTotal, type RunReport } from './run-report.js';
import { reportSubject, reportText } from './text.js';
import { postWebhook } from './webhook.js';

/** Where `sendRunReport` logs, the host it names, and how long each send may take. */
export interface SendRunReportOptions {
  readonly logger: Logger;
  /** The host named in the report; default this machine's name. */
  readonly host?: string;
  /** Per mail and per webhook post; default 30 s. */
  readonly timeoutMs?: number;
}

/** What was sent: for the log and the tests. */
export interface SentReport {
  readonly mailed: boolean;
  readonly posted: boolean;
}

/**
 * After a run: mail the report and post its JSON, as `[notify]` says. A report that cannot be
 * sent is one warning; it never changes the run's exit status.
 */
export async function sendRunReport(
  notify: NotifyConfig,
  runs: readonly RunReport[],
  options: SendRunReportOptions,
): Promise<SentReport> {
  const { logger } = options;
  const host = options.host ?? hostname();
  const failed = !runTotal(runs).ok;
  const wantMail = notify.mailTo.length > 0 && (notify.mailWhen === 'always' || failed);
  const wantHook = notify.webhookUrl !== undefined && (notify.webhookWhen === 'always' || failed);
  const subject = reportSubject(runs, host, notify.subject);
  const attempt = async (channel: 'mail' | 'webhook', send: () => Promise<void>): Promise<boolean> => {
    try {
      await send();
      return true;
    } catch (err) {
      const what =
        channel === 'mail' ? 'the run report was not mailed' : 'the run report was not posted to the webhook';
      logger.warn(
        `${what}: ${err instanceof NotifyError ? err.message : err instanceof Error ? err.message : String(err)}`,
      );
      return false;
    }
  };
  const [mailed, posted] = await Promise.all([
    wantMail
      ? attempt('mail', async () => {
          const { refused } = await sendMail(notify, { subject, text: reportText(runs, host) }, options.timeoutMs);
          // Mailed to the others: one warning for those the server refused, so a typo in mail_to is seen.
          if (refused.length > 0)
            logger.warn(
              `the run report was not mailed to ${refused.join(', ')}: ` +
                `${notify.smtpUrlRedacted ?? 'the SMTP server'} refused them; check mail_to`,
            );
        })
      : false,
    wantHook
      ? attempt('webhook', () => postWebhook(notify, { host, subject, ...runsJson(runs) }, options.timeoutMs))
      : false,
  ]);
  if (mailed) logger.info('run report mailed', { to: notify.mailTo.join(','), via: notify.smtpUrlRedacted });
  if (posted) logger.info('run report posted', { webhook: notify.webhookUrlRedacted });
  return { mailed, posted };
}
