/** Bucket notifications (`POST /events`) as Ceph RGW, AWS and MinIO send them, turned into jobs. */
import type { JobHints, JobOp } from '../queue/queue.js';

/** One job a notification asks for: the key, put or delete, and what the record told of it. */
export interface EventJob {
  readonly key: string;
  readonly op: JobOp;
  readonly hints?: JobHints;
}

/** What a notification body comes to: jobs, a test event, an SNS subscription to confirm, or a refusal. */
export type EventParse =
  /** `ignored`: records of event types that need no job. */
  | { readonly kind: 'jobs'; readonly jobs: readonly EventJob[]; readonly ignored: number }
  /** `s3:TestEvent` (AWS): answer 2xx, do nothing. */
  | { readonly kind: 'test' }
  /** SNS SubscriptionConfirmation: log the URL for the operator; never fetch it. */
  | { readonly kind: 'subscribe'; readonly topicArn: string; readonly subscribeUrl: string }
  /** HTTP 400 with this one-line reason. */
  | { readonly kind: 'refused'; readonly reason: string };

/** S3's own key limit, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;
/** How much of a bad key a reason quotes: enough to find it, short enough for one log line. */
const QUOTE_CHARS = 80;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

type Json = Record<string, unknown>;

/**
 * Bucket notifications (`POST /events`): the S3 event record format `{"Records":[...]}` as
 * Ceph RGW, AWS (directly or inside an SNS envelope) and MinIO send it, turned into jobs.
 * Pure: bytes in, a decision out; the HTTP layer maps it to a status.
 *
 * | body                                                   | result                               |
 * |--------------------------------------------------------|--------------------------------------|
 * | not UTF-8, not JSON, not an object                     | refused                              |
 * | SNS `Type: SubscriptionConfirmation`                   | subscribe (the URL is logged, never fetched) |
 * | SNS `Type: UnsubscribeConfirmation`                    | jobs: none, 1 ignored                |
 * | SNS `Type: Notification`                               | its `Message` (JSON text) read below |
 * | other SNS `Type`                                       | refused                              |
 * | `{"Event":"s3:TestEvent"}` (AWS, on configuration)     | test                                 |
 * | no `Records` array                                     | refused                              |
 * | a record for another bucket, without bucket or key, with a key that does not decode | refused (the whole body) |
 * | `ObjectCreated:*`, `ObjectRestore:Completed`           | job `put`                            |
 * | `ObjectRemoved:*`, `LifecycleExpiration:*`, Ceph's `ObjectLifecycle:Expiration:*` | job `delete` |
 * | any other event type (tagging, ACL, replication...)    | ignored (counted)                    |
 *
 * A body is all or nothing: one bad record refuses it, so the sender retries or logs it whole
 * instead of s3s3 queueing half of it. Ops are hints either way: the worker reads the source.
 */
export function parseEvents(body: Buffer, sourceBucket: string): EventParse {
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    return refused('body is not valid UTF-8');
  }
  const top = parseObject(text);
  if (typeof top === 'string') return refused(`body is not a JSON object: ${top}`);

  let doc = top;
  if (typeof top.Type === 'string') {
    switch (top.Type) {
      case 'SubscriptionConfirmation': {
        const topicArn = top.TopicArn;
        const subscribeUrl = top.SubscribeURL;
        if (typeof topicArn !== 'string' || typeof subscribeUrl !== 'string')
          return refused('SNS SubscriptionConfirmation without a TopicArn and SubscribeURL');
        return { kind: 'subscribe', topicArn, subscribeUrl };
      }
      case 'UnsubscribeConfirmation':
        // Sent after an unsubscribe: nothing to copy, and an error would only make SNS retry.
        return { kind: 'jobs', jobs: [], ignored: 1 };
      case 'Notification': {
        if (typeof top.Message !== 'string') return refused('SNS Notification without a Message string');
        const inner = parseObject(top.Message);
        if (typeof inner === 'string') return refused(`SNS Notification Message is not a JSON object: ${inner}`);
        doc = inner;
        break;
      }
      default:
        return refused(`SNS message Type ${quote(top.Type)} is not handled (Notification, SubscriptionConfirmation)`);
    }
  }

  if (doc.Event === 's3:TestEvent') return { kind: 'test' };
  if (!Array.isArray(doc.Records)) return refused('no "Records" array: not an S3 event notification');

  const jobs: EventJob[] = [];
  let ignored = 0;
  for (const [i, record] of doc.Records.entries()) {
    const r = readRecord(record, i, sourceBucket);
    if ('reason' in r) return refused(r.reason);
    if (r.job === undefined) ignored++;
    else jobs.push(r.job);
  }
  return { kind: 'jobs', jobs, ignored };
}

function readRecord(
  record: unknown,
  i: number,
  sourceBucket: string,
): { job: EventJob | undefined } | { reason: string } {
  const at = `record ${i}`;
  if (!isObject(record)) return { reason: `${at} is not an object` };
  if (typeof record.eventName !== 'string') return { reason: `${at} has no eventName` };
  const name = record.eventName;
  const where = `${at} (${quote(name)})`;
  const s3 = isObject(record.s3) ? record.s3 : undefined;
  const bucket = s3 !== undefined && isObject(s3.bucket) ? s3.bucket.name : undefined;
  if (typeof bucket !== 'string' || bucket === '') return { reason: `${where} has no s3.bucket.name` };
  // Checked for every record, ignored ones too: a foreign bucket means a misrouted notification.
  if (bucket !== sourceBucket)
    return { reason: `${where} is for bucket ${quote(bucket)}; this s3s3 replicates bucket ${quote(sourceBucket)}` };

  const op = opOf(name);
  if (op === undefined) return { job: undefined };

  const object = s3 !== undefined && isObject(s3.object) ? s3.object : undefined;
  if (object === undefined || typeof object.key !== 'string') return { reason: `${where} has no s3.object.key` };
  const source = typeof record.eventSource === 'string' ? record.eventSource : '';
  const key = decodeKey(object.key, source);
  if (typeof key !== 'string') return { reason: `${where} key ${quote(object.key)}: ${key.problem}` };
  if (key === '') return { reason: `${where} has an empty key` };
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES)
    return { reason: `${where} key of ${bytes} bytes is over the ${MAX_KEY_BYTES}-byte limit` };

  // A delete's size and eTag (Ceph sends the deleted object's) say nothing about what to copy.
  const seen = op === 'put' ? hintsOf(object) : undefined;
  // The event's time starts the key's replication latency (s3s3_replication_latency_seconds).
  const written = typeof record.eventTime === 'string' ? Date.parse(record.eventTime) : NaN;
  // A sender's clock ahead of ours would put the write in the future: it is no later than now.
  const hints =
    op === 'put' && Number.isFinite(written) && written > 0 ? { ...seen, at: Math.min(written, Date.now()) } : seen;
  return { job: hints === undefined ? { key, op } : { key, op, hints } };
}

/** The job an event type asks for; undefined for events that change no object's bytes. */
function opOf(eventName: string): JobOp | undefined {
  const name = eventName.startsWith('s3:') ? eventName.slice(3) : eventName;
  if (name.startsWith('ObjectCreated:') || name === 'ObjectRestore:Completed') return 'put';
  // Ceph names lifecycle deletes ObjectLifecycle:Expiration:*, AWS LifecycleExpiration:*.
  // A delete is a hint: the worker deletes only what the source no longer has.
  if (
    name.startsWith('ObjectRemoved:') ||
    name.startsWith('LifecycleExpiration:') ||
    name.startsWith('ObjectLifecycle:Expiration:')
  )
    return 'delete';
  return undefined;
}

/**
 * Ceph RGW puts the key raw in the JSON (SERVERS.md); AWS documents it URL-encoded as a form
 * value (`+` for a space) and MinIO follows (url.QueryEscape). A sender that is not Ceph is
 * read AWS's way: the record format is AWS's, and the S3 implementations that copy it copy its
 * encoding. Should a raw key ever be form-decoded by mistake, the job names a wrong key that
 * the worker reconciles from the source (it copies or deletes nothing wrongly) and the sweep
 * brings the real one; a refusal would instead make a persistent sender retry forever.
 */
function decodeKey(raw: string, eventSource: string): string | { problem: string } {
  if (loneSurrogate(raw)) return { problem: 'holds a lone surrogate (not valid UTF-8)' };
  return eventSource === 'ceph:s3' ? raw : formDecode(raw);
}

/** `application/x-www-form-urlencoded` value decoding, bytes as UTF-8, strictly. */
function formDecode(value: string): string | { problem: string } {
  const out: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x2b) out.push(0x20);
    else if (c === 0x25) {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return { problem: `bad percent-escape at character ${i}` };
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (c < 0x80) out.push(c);
    else {
      // A sender that left non-ASCII unescaped: take the character's own UTF-8 bytes.
      const cp = value.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      out.push(...Buffer.from(ch, 'utf8'));
      i += ch.length - 1;
    }
  }
  try {
    return strictUtf8.decode(Uint8Array.from(out));
  } catch {
    return { problem: 'percent-decodes to bytes that are not valid UTF-8' };
  }
}

/** Size and ETag as the sender saw them, when they look like S3's; skip hints, never proof. */
function hintsOf(object: Json): JobHints | undefined {
  const size =
    typeof object.size === 'number' && Number.isSafeInteger(object.size) && object.size >= 0 ? object.size : undefined;
  const tag = typeof object.eTag === 'string' ? object.eTag.replace(/^"(.*)"$/, '$1') : undefined;
  // An MD5 in hex, with `-<parts>` for a multipart upload.
  const etag = tag !== undefined && /^[0-9a-fA-F]{32}(-[0-9]{1,5})?$/.test(tag) ? tag.toLowerCase() : undefined;
  if (size === undefined && etag === undefined) return undefined;
  return { ...(size !== undefined ? { size } : {}), ...(etag !== undefined ? { etag } : {}) };
}

function parseObject(text: string): Json | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return oneLine(err instanceof Error ? err.message : String(err));
  }
  return isObject(v) ? v : `top level is ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON's \uD800-style escapes can smuggle a lone surrogate in; S3 keys are UTF-8. */
function loneSurrogate(s: string): boolean {
  return /[\uD800-\uDFFF]/.test(s.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ''));
}

/** JSON-quoted (control characters escaped, so the reason stays on one line), and cut short. */
function quote(s: string): string {
  const cut = [...s];
  return escapeSeparators(
    cut.length > QUOTE_CHARS ? JSON.stringify(cut.slice(0, QUOTE_CHARS).join('')) + '...' : JSON.stringify(s),
  );
}

/** V8's JSON.parse messages quote a piece of the input, raw: escape what would break the line. */
function oneLine(s: string): string {
  return escapeSeparators(
    s.slice(0, 200).replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
  );
}

/** JSON.stringify leaves U+2028 and U+2029 raw; some log viewers break lines on them. */
function escapeSeparators(s: string): string {
  return s.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function refused(reason: string): EventParse {
  return { kind: 'refused', reason };
}
