/** `[http]`: the daemon's HTTP surface; off without a port. Tokens may come from `<key>_file`. */
import { hideSecrets } from '../redact.js';
import type { Reader } from './reader.js';
import type { HttpConfig } from './types.js';

/** The `[http]` section: undefined when it has no port (off) or after a problem. */
export function readHttp(r: Reader): HttpConfig | undefined {
  const before = r.problemCount();
  r.fromFiles();
  const host = r.text('host');
  const port = r.has('port') ? r.integer('port') : undefined;
  const token = (key: string): string | undefined => {
    const v = r.string(key);
    if (v === undefined) return undefined;
    if (v.length < 16)
      r.problem(key, 'is shorter than 16 characters; use a long random token (e.g. openssl rand -hex 24)');
    return v;
  };
  const adminToken = token('admin_token');
  const eventsToken = token('events_token');
  if (port === undefined) {
    if (adminToken !== undefined || eventsToken !== undefined || r.has('host'))
      r.warn(undefined, 'has no port: the HTTP surface is off; set port = 9464 (or S3S3_HTTP_PORT) to turn it on');
    return undefined;
  }
  if (r.problemCount() !== before) return undefined;
  const result: HttpConfig = {
    host,
    port,
    ...(adminToken !== undefined ? { adminToken } : {}),
    ...(eventsToken !== undefined ? { eventsToken } : {}),
  };
  return hideSecrets(result, ['adminToken', 'eventsToken']);
}
