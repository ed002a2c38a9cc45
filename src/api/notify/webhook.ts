/** POSTing the run report's JSON to `webhook_url` (node:http/https, `ca_bundle`, a timeout). */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { NotifyConfig } from '../config.js';
import { NotifyError, scrub } from './notify-error.js';

/** POST `body` as JSON; any answer but 2xx, a timeout or a connection error throws NotifyError. */
export async function postWebhook(notify: NotifyConfig, body: unknown, timeoutMs = 30_000): Promise<void> {
  if (notify.webhookUrl === undefined) return;
  const url = new URL(notify.webhookUrl);
  const where = notify.webhookUrlRedacted ?? url.origin;
  const secrets = [url.password, url.pathname.length > 1 ? url.pathname : '', url.search].filter((s) => s.length > 0);
  const payload = Buffer.from(JSON.stringify(body));
  const fail = (message: string) => new NotifyError('webhook', where, scrub(message, secrets));
  await new Promise<void>((resolve, reject) => {
    const secure = url.protocol === 'https:';
    const options = {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': payload.length, 'user-agent': 's3s3' },
      timeout: timeoutMs,
      ...(secure
        ? { ...(notify.caBundle !== undefined ? { ca: notify.caBundle } : {}), rejectUnauthorized: notify.verifySsl }
        : {}),
    };
    const req = (secure ? httpsRequest : httpRequest)(url, options, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) res.on('end', resolve);
      else
        reject(
          fail(
            `${where} answered ${status} ${res.statusMessage ?? ''}`.trim() +
              (status >= 300 && status < 400 ? ': redirects are not followed; give the final URL' : ''),
          ),
        );
      res.on('error', (err) => reject(fail(`${where}: ${err.message}`)));
    });
    // One deadline for the whole exchange, as well as the socket's idle timeout.
    const timer = setTimeout(() => req.destroy(new Error(`no answer in ${timeoutMs / 1000} s`)), timeoutMs);
    timer.unref();
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs / 1000} s`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'ECONNREFUSED'
          ? 'connection refused'
          : /certificate|self.signed/i.test(err.message)
            ? `TLS failed: ${err.message}; trust the server's CA with [notify] ca_bundle = FILE`
            : err.message;
      reject(fail(`${where}: ${why}`));
    });
    req.on('close', () => clearTimeout(timer));
    req.end(payload);
  });
}
