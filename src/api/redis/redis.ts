/**
 * Everything s3s3 asks of Redis, in one file: the only user of ioredis. The rest of the
 * code sees two small shapes: `RedisCommands` (a connection for commands) and
 * `Subscription` (a dedicated connection subscribed to one channel, since a subscribed
 * connection can do nothing else). Each is built from a `RedisTarget` (one server, Sentinel
 * or Cluster: see `client()` for what each takes to ride out a failover).
 */
import { createRequire } from 'node:module';
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import type { RedisTarget } from '../config/types.js';
import { redactUrl } from '../config/values.js';
import { RedisError } from '../errors.js';
import { backoff, REDIS_RETRY } from '../retry.js';
import { telemetry } from '../telemetry.js';
import { silentLogger, type Logger } from '../log.js';
import { printAs } from '../redact.js';

/**
 * ioredis on first use: a sweep that never talks to Redis (no `[pubsub] redis`) does not pay its
 * ~18 MiB.
 */
let ioredis: typeof import('ioredis') | undefined;
function lib(): typeof import('ioredis') {
  ioredis ??= createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
  return ioredis;
}

/** Where to connect: a target from the config (`pubsub.redisTarget`), or one server's URL. */
export type RedisWhere = RedisTarget | string;

/** An ioredis connection: to one server (directly or through Sentinel), or to a Cluster. */
type Client = Redis | Cluster;

/** One argument of a Redis command, as ioredis sends it. */
export type RedisArg = string | number | Buffer;
/** A command and its arguments, for transactions and pipelines. */
export type RedisCommand = readonly [string, ...RedisArg[]];

/** A connection for commands: all the rest of s3s3 sees of ioredis. */
export interface RedisCommands {
  /** The URL with any password masked: the only form that may be logged. */
  readonly url: string;
  /** One command; the reply as Redis sent it (bulk strings decoded as UTF-8). */
  call(command: string, ...args: RedisArg[]): Promise<unknown>;
  /** MULTI ... EXEC: every command applied, or none. */
  transaction(commands: readonly RedisCommand[]): Promise<unknown[]>;
  /** Many commands in one round trip; not atomic. */
  pipeline(commands: readonly RedisCommand[]): Promise<unknown[]>;
  /**
   * Redis `WAIT`: how many replicas have this connection's writes so far (the one to `key` among
   * them), after waiting up to `timeoutMs` for `replicas` of them. See `waitForReplicas`.
   */
  waitForReplicas(key: string, replicas: number, timeoutMs: number): Promise<number>;
  /** Times the connection was lost so far (see `connectionEpoch`). */
  readonly epoch: number;
  /** Safe to call twice. */
  close(): Promise<void>;
}

/**
 * How a connection behaves while Redis is away:
 * - `daemon`: reconnects forever with capped, jittered backoff; commands wait while Redis is
 *   away instead of failing (the listener must never give up on Redis).
 * - `client`: also reconnects, but a command fails after a couple of failed reconnects, so a
 *   CLI tells its user at once that Redis is unreachable.
 */
export type RedisMode = 'daemon' | 'client';

/** How to connect: the name to print, the mode, the logger. */
export interface RedisConnectOptions {
  /** How messages name Redis; default: the target's `redacted` (a URL given as a string: it, password masked). */
  readonly redactedUrl?: string;
  readonly mode: RedisMode;
  readonly logger?: Logger;
  /** Shown in `CLIENT LIST`. */
  readonly name?: string;
  /** TLS (default: the target's): the CAs to trust (PEM) and whether to check the certificate. */
  readonly tls?: { readonly ca?: string; readonly rejectUnauthorized?: boolean };
}

/** Reconnect delay: the one backoff (jittered, so restarts do not stampede), capped at 10 s. */
export function reconnectDelay(attempt: number): number {
  return Math.round(backoff(Math.min(attempt, 20), REDIS_RETRY));
}

function options(o: RedisConnectOptions): RedisOptions {
  return {
    lazyConnect: false,
    connectTimeout: 10_000,
    keepAlive: 30_000,
    enableOfflineQueue: true,
    enableReadyCheck: true,
    autoResubscribe: true,
    autoResendUnfulfilledCommands: true,
    maxRetriesPerRequest: o.mode === 'daemon' ? null : 2,
    retryStrategy: (times) => reconnectDelay(times),
    connectionName: o.name,
  };
}

/** A demoted master answers writes with READONLY: reconnect (asking the sentinels again) and resend. */
function readonlyReconnect(err: Error): 2 | false {
  return err.message.startsWith('READONLY') ? 2 : false;
}

/** The target itself, a URL given as a string made into one. */
function resolve(where: RedisWhere, o: RedisConnectOptions): RedisTarget {
  if (typeof where !== 'string') return where;
  return { kind: 'server', url: where, redacted: o.redactedUrl ?? redactUrl(where) };
}

/** How messages name the target. */
export function describeRedis(where: RedisWhere, o: Pick<RedisConnectOptions, 'redactedUrl'> = {}): string {
  return o.redactedUrl ?? (typeof where === 'string' ? redactUrl(where) : where.redacted);
}

/** What ioredis emits when a connection attempt is cut under it (its CONNECTION_CLOSED_ERROR_MSG). */
const CUT_MID_CONNECT = 'Connection is closed.';

/**
 * ioredis (5.x) can end a Sentinel connection for good in a failover: the failover detector of
 * the connection before (still subscribed to the sentinels' +switch-master) fires while the
 * reconnection is asking the sentinels for the master, cuts the attempt under it, and the
 * client goes to `end` with "Connection is closed.": every later command fails, in a library
 * `Publisher` as in a BullMQ worker. Such a connection is connected again here, after the
 * reconnect delay, unless it was closed on purpose (`disconnect()`, `quit()`) or the sentinel
 * retry strategy gave up (another error). BullMQ's duplicates of it (its blocking connection)
 * get the same care.
 */
function revivedAfterFailoverRace(redis: Redis): Redis {
  let deliberate = false;
  let lastError = '';
  let attempts = 0;
  let revival: NodeJS.Timeout | undefined;
  const closing = (): void => {
    deliberate = true;
    clearTimeout(revival);
  };
  const disconnect = redis.disconnect.bind(redis);
  redis.disconnect = (reconnect = false): void => {
    if (!reconnect) closing();
    disconnect(reconnect);
  };
  const quit = redis.quit.bind(redis);
  redis.quit = ((...args: Parameters<Redis['quit']>) => {
    closing();
    return quit(...args);
  }) as Redis['quit'];
  // Connected again on purpose (BullMQ resets a blocked connection so): cared for again.
  const connect = redis.connect.bind(redis);
  redis.connect = (callback?: Parameters<Redis['connect']>[0]): Promise<void> => {
    deliberate = false;
    lastError = '';
    return connect(callback);
  };
  const duplicate = redis.duplicate.bind(redis);
  redis.duplicate = (override?: Partial<RedisOptions>): Redis => revivedAfterFailoverRace(duplicate(override));
  redis.on('error', (err: Error) => (lastError = err.message));
  redis.on('ready', () => {
    attempts = 0;
    lastError = '';
  });
  redis.on('end', () => {
    if (deliberate || lastError !== CUT_MID_CONNECT) return;
    revival = setTimeout(() => {
      if (!deliberate && redis.status === 'end') redis.connect().catch(() => undefined);
    }, reconnectDelay(++attempts));
    // Not unref'd: for a worker whose every socket ended, this timer is what keeps it alive.
  });
  return redis;
}

/** A Cluster's commands wait through a failover: redirections x delay outlasts a 15 s node timeout plus election. */
const CLUSTER_RETRY_DELAY_MS = 300;
const CLUSTER_MAX_REDIRECTIONS = 200;

/**
 * An ioredis connection to the target:
 * - one server: the URL as given;
 * - Sentinel: the sentinels are asked for the master; the ready check verifies that the node
 *   reached is a master (else it asks again); `failoverDetector` drops the connection as soon
 *   as the sentinels announce a new master; a READONLY answer (a demoted master still up)
 *   reconnects and resends; a connection ioredis ends in a failover race is connected again
 *   (`revivedAfterFailoverRace`); TLS to the sentinels and the data nodes with `redis_tls`;
 * - Cluster: slots found from the nodes given; a command meeting a failover (connection
 *   closed, CLUSTERDOWN, MOVED) waits and retries for about a minute instead of ioredis's
 *   1.6 s; a `client` that never reached the cluster gives up after a few attempts.
 */
function build(t: RedisTarget, o: RedisConnectOptions, extra: RedisOptions = {}): Client {
  const base: RedisOptions = { ...options(o), ...extra };
  const tls = o.tls ?? t.tls;
  const tlsOption = tls ? { tls: { ...tls } } : {};
  if (t.kind === 'server') return new (lib().Redis)(t.url, { ...base, ...tlsOption });
  if (t.kind === 'sentinel') {
    let ready = false;
    const redis = new (lib().Redis)({
      ...base,
      sentinels: t.sentinels.map((n) => ({ host: n.host, port: n.port })),
      name: t.name,
      db: t.db,
      ...(t.password !== undefined ? { password: t.password } : {}),
      ...(t.sentinelPassword !== undefined ? { sentinelPassword: t.sentinelPassword } : {}),
      ...(tls ? { ...tlsOption, enableTLSForSentinelMode: true, sentinelTLS: { ...tls } } : {}),
      // ioredis asks the sentinels for ever when none names a master (all down, or a wrong
      // redis_sentinel_name): a `client` that never reached a master gives up, as a Cluster's does.
      sentinelRetryStrategy: (times: number) =>
        o.mode === 'client' && !ready && times > 3 ? null : reconnectDelay(times),
      failoverDetector: true,
      reconnectOnError: readonlyReconnect,
    });
    redis.once('ready', () => (ready = true));
    return revivedAfterFailoverRace(redis);
  }
  let everReady = false;
  const clusterOptions: ClusterOptions = {
    redisOptions: {
      ...base,
      ...(t.password !== undefined ? { password: t.password } : {}),
      ...tlsOption,
    },
    enableOfflineQueue: base.enableOfflineQueue,
    enableReadyCheck: true,
    scaleReads: 'master',
    retryDelayOnFailover: CLUSTER_RETRY_DELAY_MS,
    retryDelayOnClusterDown: CLUSTER_RETRY_DELAY_MS,
    retryDelayOnTryAgain: CLUSTER_RETRY_DELAY_MS,
    maxRedirections: CLUSTER_MAX_REDIRECTIONS,
    slotsRefreshTimeout: 2000,
    clusterRetryStrategy: (times: number) =>
      o.mode === 'client' && !everReady && times > 3 ? null : reconnectDelay(times),
  };
  const cluster = new (lib().Cluster)(
    t.nodes.map((n) => ({ host: n.host, port: n.port })),
    clusterOptions,
  );
  cluster.once('ready', () => (everReady = true));
  return cluster;
}

/** The last error of a BullMQ connection not ready since (see `connectionError`). */
const lastErrors = new WeakMap<Client, string>();

/**
 * What the connection last failed with while it is not ready ('' when ready): the reason a
 * command waits (a wrong password, no master by that name at the sentinels, a refused port).
 */
export function connectionError(conn: RawRedisConnection): string {
  return lastErrors.get(conn) ?? '';
}

/** Times each connection was lost (see `connectionEpoch`). */
const epochs = new WeakMap<Client, number>();

/** `build()`, and the connection's losses counted. */
function client(t: RedisTarget, o: RedisConnectOptions, extra: RedisOptions = {}): Client {
  const c = build(t, o, extra);
  epochs.set(c, 0);
  const lost = (): void => void epochs.set(c, (epochs.get(c) ?? 0) + 1);
  c.on('close', lost);
  // A Cluster replaces a lost node's connection by a new one (it does not reconnect it).
  if (c.isCluster) c.on('-node', lost);
  return c;
}

/**
 * How many times `conn` lost its connection so far. WAIT counts the writes of the connection it
 * is sent on: when a write and its WAIT straddle a reconnection (a failover between the write's
 * answer and the WAIT), the WAIT goes out on a new connection with no writes and answers at
 * once, vacuously. Compare the epoch before the write with the one after the WAIT.
 */
export function connectionEpoch(conn: RawRedisConnection): number {
  return epochs.get(conn) ?? 0;
}

function sanitise(err: unknown, url: string, what: string, connectError = ''): RedisError {
  let message = err instanceof Error ? err.message : String(err);
  // ioredis's "Reached the max retries per request limit" hides why: say what connecting failed with.
  if (connectError && err instanceof Error && err.name === 'MaxRetriesPerRequestError') {
    message = `cannot connect: ${connectError}`;
    if (/certificate/i.test(connectError))
      message +=
        " (trust the server's CA with redis_ca_bundle = FILE in [pubsub], or, unsafe, redis_verify_ssl = false)";
  }
  // A MULTI refused command by command ends in EXECABORT; the reason (READONLY, OOM...) is in
  // the replies to the queued commands, which ioredis keeps as `previousErrors`.
  const previous = (err as { previousErrors?: unknown } | null)?.previousErrors;
  if (Array.isArray(previous) && previous[0] instanceof Error && !message.includes(previous[0].message)) {
    message = `${message.replace(/\.$/, '')}: ${previous[0].message}`;
  }
  return new RedisError({ url, detail: `${what}: ${message}`, cause: err });
}

class IoredisCommands implements RedisCommands {
  private closed = false;
  constructor(
    private readonly redis: Client,
    readonly url: string,
    private readonly connectError: () => string = () => '',
  ) {
    // ioredis keeps the password in its options: out of reach of console.dir and of
    // inspect({ customInspect: false }), which skip printAs's summary.
    Object.defineProperty(this, 'redis', { enumerable: false });
  }

  async call(command: string, ...args: RedisArg[]): Promise<unknown> {
    try {
      return await this.redis.call(command, ...args);
    } catch (err) {
      throw sanitise(err, this.url, command.toUpperCase(), this.connectError());
    }
  }

  async transaction(commands: readonly RedisCommand[]): Promise<unknown[]> {
    // ioredis takes [method, ...args]; `call` sends any command by its Redis name.
    return this.batch(this.redis.multi(commands.map((c) => ['call', ...c])), 'MULTI');
  }

  async pipeline(commands: readonly RedisCommand[]): Promise<unknown[]> {
    return this.batch(this.redis.pipeline(commands.map((c) => ['call', ...c])), 'pipeline');
  }

  get epoch(): number {
    return connectionEpoch(this.redis);
  }

  async waitForReplicas(key: string, replicas: number, timeoutMs: number): Promise<number> {
    try {
      return await waitForReplicas(this.redis, key, replicas, timeoutMs);
    } catch (err) {
      throw sanitise(err, this.url, 'WAIT', this.connectError());
    }
  }

  private async batch(p: ReturnType<Client['pipeline']>, what: string): Promise<unknown[]> {
    let results: [Error | null, unknown][] | null;
    try {
      results = await p.exec();
    } catch (err) {
      throw sanitise(err, this.url, what, this.connectError());
    }
    if (results === null) throw new RedisError({ url: this.url, detail: `${what}: transaction aborted` });
    const failed = results.find(([e]) => e !== null);
    if (failed) throw sanitise(failed[0], this.url, what);
    return results.map(([, v]) => v);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.redis.status === 'ready')
        await Promise.race([this.redis.quit(), new Promise((r) => setTimeout(r, 2000).unref())]);
    } catch {
      // fall through to the hard disconnect
    }
    this.redis.disconnect(false);
  }
}

printAs(IoredisCommands, 'RedisCommands', (c) => ({ url: c.url }));

/**
 * A connection for commands to `where` (a config's `pubsub.redisTarget`, or one server's
 * URL). Connecting happens in the background; commands wait for it.
 */
export function connectRedis(where: RedisWhere, o: RedisConnectOptions): RedisCommands {
  const log = o.logger ?? silentLogger;
  const name = describeRedis(where, o);
  const redis = client(resolve(where, o), o);
  let lastError = '';
  // Without a listener an 'error' event would crash the process.
  redis.on('error', (err: Error) => {
    if (err.message !== lastError) log.debug('redis connection error', { redis: name, error: err.message });
    lastError = err.message;
  });
  redis.on('ready', () => (lastError = ''));
  return new IoredisCommands(redis, name, () => lastError);
}

/** A connection's options plus the channel, what to do with each message, and the heartbeat. */
export interface SubscribeOptions extends RedisConnectOptions {
  readonly channel: string;
  /** Every message published on the channel, as the raw bytes. */
  readonly onMessage: (payload: Buffer) => void;
  /** Called when the subscription is back after an outage. */
  readonly onResubscribed?: (outageMs: number) => void;
  /** Ping interval for finding a dead connection that TCP has not noticed; default 30 s. */
  readonly heartbeatMs?: number;
}

/** A resubscription this soon after one that warned is logged at info: one warning per failover. */
const RESUBSCRIBE_QUIET_MS = 60_000;

/** A subscriber away this long gets a warning before it is back (a failover is back sooner). */
const STILL_DOWN_MS = 10_000;

/** A live subscription to one channel: ready once confirmed, closed once. */
export interface Subscription {
  /** Resolves once Redis has confirmed the first SUBSCRIBE. */
  readonly ready: Promise<void>;
  /** True while the subscription is live. */
  readonly connected: boolean;
  /** Unsubscribe and close; safe to call twice. */
  close(): Promise<void>;
}

/**
 * A dedicated subscriber connection. ioredis resubscribes after each reconnect
 * (autoResubscribe); this adds the log of every outage with its length, a heartbeat, and a
 * confirmed resubscription before reporting the subscription live again.
 */
export function subscribe(target: RedisWhere, o: SubscribeOptions): Subscription {
  const log = o.logger ?? silentLogger;
  const sub = client(resolve(target, o), o);
  const where = { redis: describeRedis(target, o), channel: o.channel };
  let closed = false;
  let live = false;
  let everLive = false;
  let downSince: number | undefined;
  let firstError: string | undefined;
  let reminder: NodeJS.Timeout | undefined;
  let stillDown: NodeJS.Timeout | undefined;
  let lastWarnedAt = Number.NEGATIVE_INFINITY;

  sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
    if (channel.toString('utf8') === o.channel) o.onMessage(message);
  });
  sub.on('error', (err: Error) => {
    if (closed) return;
    if (firstError === undefined) {
      firstError = err.message;
      if (!everLive) log.warn('cannot reach redis yet; retrying', { ...where, error: err.message });
    }
  });
  const wentDown = (): void => {
    if (closed || !live) return;
    live = false;
    downSince = Date.now();
    // Info, not a warning: a failover or a restart is back within seconds, and its one warning
    // is the reconnection's (it says what to do). An outage that lasts gets its warning below.
    log.info('redis connection lost; reconnecting', { ...where, error: firstError });
    telemetry.redisReconnect();
    stillDown = setTimeout(() => {
      log.warn('redis still unreachable; reconnecting (messages published meanwhile are lost)', {
        ...where,
        outageSeconds: Math.round((Date.now() - (downSince ?? Date.now())) / 1000),
        error: firstError,
      });
    }, STILL_DOWN_MS);
    stillDown.unref();
    reminder = setInterval(() => {
      log.warn('redis still unreachable; messages published meanwhile are lost', {
        ...where,
        outageSeconds: Math.round((Date.now() - (downSince ?? Date.now())) / 1000),
        error: firstError,
      });
    }, 300_000);
    reminder.unref();
  };
  sub.on('close', wentDown);
  sub.on('end', wentDown);

  const confirm = async (): Promise<void> => {
    // A SUBSCRIBE of our own: its reply proves the channel is subscribed on this connection.
    await sub.subscribe(o.channel);
    live = true;
    firstError = undefined;
    if (reminder) clearInterval(reminder);
    reminder = undefined;
    clearTimeout(stillDown);
    if (downSince !== undefined) {
      const outageMs = Date.now() - downSince;
      downSince = undefined;
      // A failover often reconnects twice (to the old master's replacement, then again when the
      // sentinels announce the switch): one warning per failover, the next ones soon after are info.
      const now = Date.now();
      const level = now - lastWarnedAt < RESUBSCRIBE_QUIET_MS ? 'info' : 'warn';
      if (level === 'warn') lastWarnedAt = now;
      log[level](
        'redis reconnected and resubscribed; ' +
          'pub/sub dropped whatever was published during the outage: run s3s3bucket to sweep it',
        {
          ...where,
          outageSeconds: Number((outageMs / 1000).toFixed(1)),
        },
      );
      o.onResubscribed?.(outageMs);
    } else if (!everLive) {
      everLive = true;
      log.info('subscribed', where);
    }
  };

  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  sub.on('ready', () => {
    if (closed) return;
    // Deferred so ioredis's own resubscribe goes out first.
    setImmediate(() => {
      if (closed) return;
      confirm().then(resolveReady, (err: unknown) => {
        if (!closed)
          log.warn('resubscribe failed; will retry on the next connection', {
            ...where,
            error: err instanceof Error ? err.message : String(err),
          });
      });
    });
  });

  // Heartbeat: a half-open TCP connection can look alive for hours; a PING that goes
  // unanswered makes us drop the connection and reconnect.
  const heartbeatMs = o.heartbeatMs ?? 30_000;
  const heartbeat = setInterval(() => {
    if (closed || !live || sub.status !== 'ready') return;
    let answered = false;
    const timer = setTimeout(
      () => {
        if (!answered && !closed) {
          log.warn('redis did not answer a ping; reconnecting', where);
          sub.disconnect(true);
        }
      },
      Math.max(1000, heartbeatMs / 2),
    );
    timer.unref();
    sub.ping().then(
      () => {
        answered = true;
        clearTimeout(timer);
      },
      () => {
        answered = true;
        clearTimeout(timer);
      },
    );
  }, heartbeatMs);
  heartbeat.unref();

  return {
    ready,
    get connected() {
      return live;
    },
    async close() {
      if (closed) return;
      closed = true;
      live = false;
      clearInterval(heartbeat);
      clearTimeout(stillDown);
      if (reminder) clearInterval(reminder);
      try {
        if (sub.status === 'ready') await Promise.race([sub.quit(), new Promise((r) => setTimeout(r, 2000).unref())]);
      } catch {
        // disconnect below
      }
      sub.disconnect(false);
    },
  };
}

/** An ioredis connection object (a Cluster's too), for the one library (BullMQ) that takes its own connections. */
export type RawRedisConnection = Redis | Cluster;

/**
 * Redis `WAIT replicas timeoutMs` after a write to `key` on `conn`: the number of replicas that
 * have every earlier write of that connection (fewer than asked when the timeout passed).
 * WAIT counts the writes of the connection it is sent on, so on a Cluster it must reach the
 * node that took the write: it is pipelined behind an `EXISTS key`, which routes the pipeline
 * to the key's master (a bare WAIT goes to a random master and answers vacuously).
 */
export async function waitForReplicas(
  conn: RawRedisConnection,
  key: string,
  replicas: number,
  timeoutMs: number,
): Promise<number> {
  if (!conn.isCluster) return Number(await conn.call('WAIT', replicas, timeoutMs));
  const results = await conn.pipeline().exists(key).call('WAIT', replicas, timeoutMs).exec();
  const failed = results?.find(([e]) => e !== null);
  if (failed) throw failed[0];
  return Number(results?.[1]?.[1] ?? 0);
}

/**
 * BullMQ's key prefix for a target: exactly `{s3s3}` on a Cluster, so every key of a queue
 * hashes to one slot (its Lua scripts touch many keys at once); undefined elsewhere (BullMQ's
 * own `bull`, as before).
 */
export function bullmqPrefix(where: RedisWhere): string | undefined {
  return typeof where !== 'string' && where.kind === 'cluster' ? '{s3s3}' : undefined;
}

/**
 * A connection for BullMQ: it must never fail a command after retries
 * (maxRetriesPerRequest null, BullMQ's requirement) and reconnects forever, as the daemon's.
 * Kept here so ioredis stays imported by this file only.
 */
export function bullmqConnection(where: RedisWhere, o: RedisConnectOptions): RawRedisConnection {
  const log = o.logger ?? silentLogger;
  const name = describeRedis(where, o);
  const redis = client(
    resolve(where, o),
    { ...o, mode: 'daemon' },
    { maxRetriesPerRequest: null, enableOfflineQueue: true },
  );
  let lastError = '';
  redis.on('error', (err: Error) => {
    if (err.message !== lastError)
      log.debug('redis connection error', { redis: name, connection: o.name, error: err.message });
    lastError = err.message;
    lastErrors.set(redis, err.message);
  });
  redis.on('ready', () => {
    lastError = '';
    lastErrors.delete(redis);
  });
  return redis;
}
