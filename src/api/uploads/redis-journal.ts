/** Upload records in Redis: one hash, so every worker and sweep of any machine can take up an upload. */
import type { RedisCommands } from '../redis/redis.js';
import { parseRecord, uploadSlot, type UploadJournal, type UploadRecord } from './journal.js';

/** The hash: field = the destination object's slot, value = its record as JSON. */
export const UPLOADS_KEY = 's3s3:uploads';

// Removes the field only while it still names this upload (cjson ships with every Redis).
const REMOVE =
  "local v = redis.call('HGET', KEYS[1], ARGV[1]) " +
  "if v and cjson.decode(v)['uploadId'] == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end " +
  'return 0';

/** The journal in Redis (`[pubsub] redis = true`): the hash `s3s3:uploads`. */
export class RedisUploadJournal implements UploadJournal {
  constructor(private readonly redis: RedisCommands) {}

  get where(): string {
    return `${this.redis.url} ${UPLOADS_KEY}`;
  }

  async get(endpoint: string, bucket: string, key: string): Promise<UploadRecord | undefined> {
    const v = await this.redis.call('HGET', UPLOADS_KEY, uploadSlot(endpoint, bucket, key));
    const r = typeof v === 'string' ? parseRecord(v) : undefined;
    return r && r.key === key && r.bucket === bucket && r.endpoint === endpoint ? r : undefined;
  }

  async put(record: UploadRecord): Promise<void> {
    await this.redis.call(
      'HSET',
      UPLOADS_KEY,
      uploadSlot(record.endpoint, record.bucket, record.key),
      JSON.stringify(record),
    );
  }

  async remove(record: Pick<UploadRecord, 'endpoint' | 'bucket' | 'key' | 'uploadId'>): Promise<void> {
    await this.redis.call(
      'EVAL',
      REMOVE,
      1,
      UPLOADS_KEY,
      uploadSlot(record.endpoint, record.bucket, record.key),
      record.uploadId,
    );
  }

  async list(): Promise<UploadRecord[]> {
    const v = await this.redis.call('HVALS', UPLOADS_KEY);
    if (!Array.isArray(v)) return [];
    return v.flatMap((x) => {
      const r = typeof x === 'string' ? parseRecord(x) : undefined;
      return r ? [r] : [];
    });
  }

  async close(): Promise<void> {
    await this.redis.close();
  }
}
