import { S3s3Error } from '../errors.js';

/** A report that could not be mailed or posted: one line naming the server, never a password. */
export class NotifyError extends S3s3Error {
  override name = 'NotifyError';
  constructor(
    /** `mail` or `webhook`. */
    readonly channel: 'mail' | 'webhook',
    /** The server as shown (credentials masked, a webhook's path left out). */
    readonly target: string,
    message: string,
  ) {
    super(message);
  }
}

/** `text` with each secret (and its base64 form, as SMTP AUTH sends it) masked. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    if (s.length < 3) continue;
    for (const form of [s, Buffer.from(s).toString('base64')]) out = out.split(form).join('***');
  }
  return out;
}
