/** The wire format of the channel: a key as text, or a small JSON object. */

/** S3's own key limit, in UTF-8 bytes: a longer key cannot be announced. */
export const MAX_KEY_BYTES = 1024;
/** A JSON message may carry a 1024-byte key with every character escaped, and little else. */
const MAX_MESSAGE_BYTES = 8 * MAX_KEY_BYTES;

/** What a message announces: a put or a delete (a hint either way). */
export type MessageOp = 'put' | 'delete';

/** A message read: its key, op and format, or why it was rejected. */
export type ParsedMessage =
  | { readonly ok: true; readonly key: string; readonly op: MessageOp; readonly format: 'text' | 'json' }
  | { readonly ok: false; readonly reason: string };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Read one message of the channel. A message is either
 * - the key itself as UTF-8 text (the original s3s3 protocol), or
 * - a JSON object `{"key": "...", "op": "put"}` or `{"key": "...", "op": "delete"}` (`op` may be
 *   left out). Both ops are hints: the listener looks at the source and makes every
 *   destination match it, so out-of-order or repeated messages converge.
 *
 * Decision table for a payload:
 * | payload                                          | result                               |
 * |--------------------------------------------------|--------------------------------------|
 * | empty                                            | rejected: empty                      |
 * | not valid UTF-8                                  | rejected: invalid UTF-8              |
 * | starts with `{` and parses as a JSON object      | JSON message: needs a string `key`   |
 * | anything else (including `{not json`)            | the text is the key                  |
 * | a key over 1024 bytes of UTF-8, or empty         | rejected (S3's own limit)            |
 * | JSON with `op` other than "put" or "delete"      | rejected: unsupported op             |
 *
 * Keys are never trimmed or normalised: spaces, NFD text and trailing slashes are kept.
 */
export function parseMessage(payload: Buffer | string): ParsedMessage {
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (bytes.length === 0) return { ok: false, reason: 'empty message' };
  if (bytes.length > MAX_MESSAGE_BYTES)
    return { ok: false, reason: `message of ${bytes.length} bytes is over the ${MAX_KEY_BYTES}-byte key limit` };
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    return { ok: false, reason: 'message is not valid UTF-8' };
  }
  const json = text.startsWith('{') ? tryJsonObject(text) : undefined;
  if (json === undefined) return checkKey(text, 'text');
  if (!('key' in json)) return { ok: false, reason: 'JSON message has no "key"' };
  if (typeof json.key !== 'string') return { ok: false, reason: 'JSON message "key" is not a string' };
  if (json.op !== undefined && json.op !== 'put' && json.op !== 'delete')
    return { ok: false, reason: `JSON message op ${JSON.stringify(json.op)} is not supported ("put" or "delete")` };
  return checkKey(json.key, 'json', json.op === 'delete' ? 'delete' : 'put');
}

function checkKey(key: string, format: 'text' | 'json', op: MessageOp = 'put'): ParsedMessage {
  if (key.length === 0) return { ok: false, reason: 'empty key' };
  const n = Buffer.byteLength(key, 'utf8');
  if (n > MAX_KEY_BYTES) return { ok: false, reason: `key of ${n} bytes is over the ${MAX_KEY_BYTES}-byte limit` };
  // JSON's \uD800-style escapes can smuggle a lone surrogate in; S3 keys are UTF-8.
  if (/[\uD800-\uDFFF]/.test(key.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, '')))
    return { ok: false, reason: 'key holds a lone surrogate (not valid UTF-8)' };
  return { ok: true, key, op, format };
}

function tryJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The message to publish for a key: the plain key (what the original listener reads),
 * unless the key itself would parse as a JSON message; then the JSON form, so it arrives intact.
 */
export function encodeMessage(key: string, format: 'text' | 'json' = 'text', op: MessageOp = 'put'): string {
  // A delete has no text form in the original protocol: always JSON.
  if (format === 'json' || op === 'delete') return JSON.stringify({ key, op });
  return key.startsWith('{') && tryJsonObject(key) !== undefined ? JSON.stringify({ key, op: 'put' }) : key;
}

/** Why a key cannot be announced, or undefined when it can. */
export function keyProblem(key: string): string | undefined {
  const parsed = checkKey(key, 'text');
  return parsed.ok ? undefined : parsed.reason;
}
