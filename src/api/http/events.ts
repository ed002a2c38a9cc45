/**
 * POST /events: a bucket notification (Ceph RGW, MinIO, AWS; raw or in an SNS envelope)
 * becomes jobs on the queue. 2xx only once every job is durably queued, so a sender that
 * retries (Ceph's persistent topics do) loses nothing when Redis is down: it gets a 503.
 */
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config.js';
import { parseEvents } from '../intake/events.js';
import type { LogFields, Logger } from '../log.js';
import type { SyncQueue } from '../queue/queue.js';
import { telemetry } from '../telemetry.js';
import { bearerToken, sameSecret } from './tokens.js';
import type { EventsAnswer } from './server.js';

export interface EventsHandlerOptions {
  readonly config: Config;
  readonly queue: SyncQueue;
  readonly logger: Logger;
  /** `[http] events_token`: required when set. */
  readonly token?: string;
}

/** True when the request carries `token` as `Authorization: Bearer` or `?token=`; compared in constant time. */
export function hasToken(req: IncomingMessage, token: string): boolean {
  let query: string | undefined;
  try {
    query = new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? undefined;
  } catch {
    query = undefined;
  }
  return [bearerToken(req), query].some((given) => given !== undefined && sameSecret(given, token));
}

/**
 * One log line per refusal, but a sender that retries a refused body at once and for ever
 * (Ceph 16's persistent topics do, hundreds of times a second) gets one line per reason and
 * then one summary a minute, so the log stays readable while the operator fixes the sender.
 */
class RefusalLog {
  private readonly seen = new Map<string, { since: number; repeats: number }>();
  constructor(private readonly log: Logger) {}

  refused(reason: string, fields: LogFields): void {
    const now = Date.now();
    const s = this.seen.get(reason);
    if (s && now - s.since < 60_000) {
      s.repeats++;
      return;
    }
    if (s && s.repeats > 0) this.log.warn(`events refused again ${s.repeats} times in the last minute: ${reason}`, fields);
    else this.log.warn(`events refused: ${reason}`, fields);
    this.seen.set(reason, { since: now, repeats: 0 });
    if (this.seen.size > 1000) this.seen.clear();
  }
}

export function eventsHandler(o: EventsHandlerOptions): (body: Buffer, req: IncomingMessage) => Promise<EventsAnswer> {
  const log = o.logger;
  const refusals = new RefusalLog(log);
  const prefix = o.config.source.prefix;
  const answer = (result: string, status: number, body: string): EventsAnswer => {
    telemetry.event(result);
    return { status, body };
  };
  return async (body, req) => {
    const from = req.socket.remoteAddress;
    if (o.token !== undefined && !hasToken(req, o.token)) {
      const why = req.headers.authorization === undefined && !/[?&]token=/.test(req.url ?? '') ? 'no token' : 'wrong token';
      refusals.refused(`${why}; the sender must send [http] events_token as Authorization: Bearer or ?token=`, { from });
      return answer('refused', 401, `${why}: send [http] events_token as "Authorization: Bearer TOKEN" or ?token=TOKEN`);
    }
    const parsed = parseEvents(body, o.config.source.bucket);
    if (parsed.kind === 'refused') {
      refusals.refused(parsed.reason, { from, bytes: body.length });
      return answer('refused', 400, parsed.reason);
    }
    if (parsed.kind === 'test') {
      log.info('test event received (s3:TestEvent); nothing to do', { from });
      return answer('test', 200, 'test event: nothing to do');
    }
    if (parsed.kind === 'subscribe') {
      log.warn('SNS subscription confirmation received: confirm it by opening the SubscribeURL (s3s3 never fetches URLs it is sent)', { from, topic: parsed.topicArn, subscribeUrl: parsed.subscribeUrl });
      return answer('subscribe', 200, 'subscription confirmation logged: confirm it by opening the SubscribeURL');
    }
    const jobs = parsed.jobs.filter((j) => j.key.startsWith(prefix));
    const outside = parsed.jobs.length - jobs.length;
    try {
      // In order: a put then a delete of one key reach the queue as they happened.
      for (const j of jobs) await o.queue.add(j.key, j.op, j.hints);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log.error('events not queued: redis refused the jobs; the sender is told to retry (503)', { from, jobs: jobs.length, error: message });
      return answer('unavailable', 503, `cannot queue now (${message}); send it again`);
    }
    log.debug('events queued', { from, jobs: jobs.length, ignored: parsed.ignored, outsidePrefix: outside || undefined });
    return answer('accepted', 200, `queued ${jobs.length}`);
  };
}
