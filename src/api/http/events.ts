/** POST /events: bucket notifications in, jobs on the queue out. */
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config.js';
import { parseEvents } from '../intake/events.js';
import type { LogFields, Logger } from '../log.js';
import type { SyncQueue } from '../queue/queue.js';
import { telemetry } from '../telemetry.js';
import { bearerToken, sameSecret } from './tokens.js';
import type { EventsAnswer } from './server.js';

/** What POST /events needs: the config (source bucket, prefix), the queue, the log, the token. */
export interface EventsHandlerOptions {
  readonly config: Config;
  readonly queue: SyncQueue;
  readonly logger: Logger;
  /** `[http] events_token`: required when set. */
  readonly token?: string;
  /** How long the jobs of one body may take to be queued before the answer is 503; default EVENTS_DEADLINE_MS. */
  readonly deadlineMs?: number;
}

/**
 * POST /events answers within this (plus the body's read, plus `redis_wait_timeout` when
 * `redis_wait_replicas` is set): 503 when Redis has not taken every job by then.
 */
export const EVENTS_DEADLINE_MS = 4500;

/**
 * True when the request carries `token` as `Authorization: Bearer` or `?token=`; compared in
 * constant time.
 */
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
  constructor(
    private readonly log: Logger,
    private readonly level: 'warn' | 'error' = 'warn',
  ) {}

  refused(reason: string, fields: LogFields): void {
    const now = Date.now();
    const s = this.seen.get(reason);
    if (s && now - s.since < 60_000) {
      s.repeats++;
      return;
    }
    if (s && s.repeats > 0)
      this.log[this.level](`events refused again ${s.repeats} times in the last minute: ${reason}`, fields);
    else this.log[this.level](`events refused: ${reason}`, fields);
    this.seen.set(reason, { since: now, repeats: 0 });
    if (this.seen.size > 1000) this.seen.clear();
  }
}

/**
 * The POST /events handler: parse the body, check the token, queue every job within the
 * deadline; returns the answer to send.
 *
 * POST /events: a bucket notification (Ceph RGW, MinIO, AWS; raw or in an SNS envelope)
 * becomes jobs on the queue. 2xx only once every job is durably queued, so a sender that
 * retries (Ceph's persistent topics do) loses nothing when Redis is down: it gets a 503.
 */
export function eventsHandler(o: EventsHandlerOptions): (body: Buffer, req: IncomingMessage) => Promise<EventsAnswer> {
  const log = o.logger;
  const refusals = new RefusalLog(log);
  // Redis not taking jobs is the operator's problem, not the sender's: error level, same pacing.
  const unqueued = new RefusalLog(log, 'error');
  const prefix = o.config.source.prefix;
  const answer = (result: string, status: number, body: string): EventsAnswer => {
    telemetry.event(result);
    return { status, body };
  };
  return async (body, req) => {
    const from = req.socket.remoteAddress;
    if (o.token !== undefined && !hasToken(req, o.token)) {
      const why =
        req.headers.authorization === undefined && !/[?&]token=/.test(req.url ?? '') ? 'no token' : 'wrong token';
      refusals.refused(`${why}; the sender must send [http] events_token as Authorization: Bearer or ?token=`, {
        from,
      });
      return answer(
        'refused',
        401,
        `${why}: send [http] events_token as "Authorization: Bearer TOKEN" or ?token=TOKEN`,
      );
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
      log.warn(
        'SNS subscription confirmation received: ' +
          'confirm it by opening the SubscribeURL (s3s3 never fetches URLs it is sent)',
        { from, topic: parsed.topicArn, subscribeUrl: parsed.subscribeUrl },
      );
      return answer('subscribe', 200, 'subscription confirmation logged: confirm it by opening the SubscribeURL');
    }
    const jobs = parsed.jobs.filter((j) => j.key.startsWith(prefix));
    const outside = parsed.jobs.length - jobs.length;
    // The whole body within the deadline, not each job: a slow Redis must not hold the sender
    // (and its connection) past it. Past it no further job is sent, and the answer is 503:
    // never 2xx for a job whose add did not complete.
    let late = false;
    let timer: NodeJS.Timeout | undefined;
    // redis_wait_replicas: the replicas' acknowledgement is part of taking a job.
    const { waitReplicas, waitTimeoutMs } = o.config.pubsub;
    const deadlineMs = o.deadlineMs ?? EVENTS_DEADLINE_MS + (waitReplicas > 0 ? waitTimeoutMs : 0);
    try {
      const all = (async () => {
        // In order: a put then a delete of one key reach the queue as they happened.
        for (const j of jobs) {
          if (late) return;
          await o.queue.add(j.key, j.op, j.hints);
        }
      })();
      all.catch(() => undefined);
      await Promise.race([
        all,
        new Promise<never>(
          (_, reject) =>
            (timer = setTimeout(
              () => reject(new Error(`redis did not take the jobs within ${deadlineMs / 1000} s`)),
              deadlineMs,
            )),
        ),
      ]);
    } catch (err) {
      late = true;
      const message = err instanceof Error ? err.message : String(err);
      unqueued.refused('redis did not take the jobs; the sender is told to send them again (503)', {
        from,
        jobs: jobs.length,
        error: message,
      });
      return answer('unavailable', 503, `cannot queue now (${message}); send it again`);
    } finally {
      clearTimeout(timer);
    }
    log.debug('events queued', {
      from,
      jobs: jobs.length,
      ignored: parsed.ignored,
      outsidePrefix: outside || undefined,
    });
    return answer('accepted', 200, `queued ${jobs.length}`);
  };
}
