/**
 * Announce keys on the channel, so a running `s3s3listen` copies them: what an application
 * calls after it writes an object. `publish()` opens a connection for one call; a
 * `Publisher` keeps one open for an application that announces often.
 */
import type { Config, PubsubConfig } from '../config.js';
import { S3s3Error } from '../errors.js';
import { encodeMessage, keyProblem, type MessageOp } from './message.js';
import { printAs } from '../redact.js';
import { connectRedis, describeRedis, type RedisCommand, type RedisCommands, type RedisWhere } from '../redis/redis.js';

/** Where to publish (a config, or a Redis URL and channel), in which format, and what to do with a bad key. */
export interface PublishOptions {
  /** Where to publish: a loaded config or its `[pubsub]` section. */
  readonly config?: Config | PubsubConfig;
  /** Or a Redis URL (default redis://127.0.0.1:6379) ... */
  readonly redisUrl?: string;
  /** ... and a channel (default `backup`). */
  readonly channel?: string;
  /** `text`: the key itself (the original protocol, default); `json`: `{"key": ..., "op": "put"}`. */
  readonly format?: 'text' | 'json';
  /** `delete` announces deletions (always as JSON `{"key": ..., "op": "delete"}`); default `put`. */
  readonly op?: MessageOp;
  /** Called for a key that cannot be announced (empty, over 1024 bytes); without it, such a key throws. */
  readonly onInvalid?: (key: string, reason: string) => void;
}

/** What a publish did: messages sent, unheard (no subscriber), and keys skipped as invalid. */
export interface PublishResult {
  /** Messages sent. */
  published: number;
  /**
   * Messages no subscriber received (no listener running): Redis drops them. Always 0 on a
   * Redis Cluster, where PUBLISH counts only the subscribers of the node it reached.
   */
  unheard: number;
  /** Keys skipped as invalid (only with `onInvalid`). */
  invalid: number;
}

/** A key that cannot be a message: nothing after it in the same call was sent. */
export class InvalidKeyError extends S3s3Error {
  override name = 'InvalidKeyError';
  readonly key: string;
  constructor(key: string, reason: string) {
    super(`cannot publish ${JSON.stringify(key.length > 80 ? key.slice(0, 80) + '...' : key)}: ${reason}`);
    this.key = key;
  }
}

const BATCH = 500;

function target(options: PublishOptions): { where: RedisWhere; redacted: string; channel: string } {
  const c = options.config;
  const pubsub: PubsubConfig | undefined = c === undefined ? undefined : 'pubsub' in c ? c.pubsub : c;
  const where: RedisWhere = options.redisUrl ?? pubsub?.redisTarget ?? 'redis://127.0.0.1:6379';
  const redacted =
    options.redisUrl !== undefined
      ? options.redisUrl.replace(/\/\/([^/@]*)@/, '//***@')
      : (pubsub?.redisUrlRedacted ?? describeRedis(where));
  return { where, redacted, channel: options.channel ?? pubsub?.channel ?? 'backup' };
}

/** A connection kept open for announcing keys, for an application that announces often. */
export class Publisher {
  private readonly redis: RedisCommands;
  /** On a Cluster a PUBLISH's count is one node's: no message can be called unheard. */
  private readonly cluster: boolean;
  readonly channel: string;

  constructor(private readonly options: PublishOptions = {}) {
    const t = target(options);
    this.channel = t.channel;
    this.cluster = typeof t.where !== 'string' && t.where.kind === 'cluster';
    this.redis = connectRedis(t.where, { redactedUrl: t.redacted, mode: 'client', name: 's3s3publish' });
    // `options.redisUrl` may hold the password: out of reach of console.dir, which skips printAs.
    Object.defineProperty(this, 'options', { enumerable: false });
  }

  /** Publish each key, in order, pipelined in batches. */
  async publish(keys: string | Iterable<string> | AsyncIterable<string>): Promise<PublishResult> {
    const result: PublishResult = { published: 0, unheard: 0, invalid: 0 };
    let batch: RedisCommand[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const replies = await this.redis.pipeline(batch);
      result.published += replies.length;
      if (!this.cluster) result.unheard += replies.filter((n) => Number(n) === 0).length;
      batch = [];
    };
    const list = typeof keys === 'string' ? [keys] : keys;
    for await (const key of list) {
      const problem = keyProblem(key);
      if (problem !== undefined) {
        if (!this.options.onInvalid) {
          await flush();
          throw new InvalidKeyError(key, problem);
        }
        result.invalid++;
        this.options.onInvalid(key, problem);
        continue;
      }
      batch.push(['PUBLISH', this.channel, encodeMessage(key, this.options.format, this.options.op)]);
      if (batch.length >= BATCH) await flush();
    }
    await flush();
    return result;
  }

  /** Safe to call twice. */
  close(): Promise<void> {
    return this.redis.close();
  }
}

/** Announce keys once: connect, publish, close. */
export async function publish(
  keys: string | Iterable<string> | AsyncIterable<string>,
  options: PublishOptions = {},
): Promise<PublishResult> {
  const p = new Publisher(options);
  try {
    return await p.publish(keys);
  } finally {
    await p.close();
  }
}

printAs(Publisher, 'Publisher', (p) => ({ channel: p.channel }));
