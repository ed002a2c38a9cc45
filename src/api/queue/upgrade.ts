/** The upgrade path from the single-process listener's Redis keys to the queue. */
import type { Config } from '../config.js';
import { silentLogger, type Logger } from '../log.js';
import type { RedisCommands } from '../redis/redis.js';
import type { SyncQueue } from './queue.js';

/** What `takeOverLegacy` moved from the old Redis keys into the queue. */
export interface UpgradeReport {
  /** Keys taken from the journal. */
  readonly journal: number;
  /** Entries taken from the failed list. */
  readonly failed: number;
  readonly total: number;
}

const PAGE = 500;

/**
 * The upgrade path from the single-process listener: keys its journal (`[pubsub] pending_set`)
 * and failed list (`[pubsub] failed_list`) still hold are queued as jobs, and only then
 * removed from those Redis keys, so nothing the old daemon received is lost. A crash half
 * way leaves a key in both places: queued again at the next start, deduplicated, and the
 * reconcile is idempotent anyway.
 */
export async function takeOverLegacy(
  config: Config,
  redis: RedisCommands,
  queue: SyncQueue,
  logger: Logger = silentLogger,
): Promise<UpgradeReport> {
  const p = config.pubsub;
  let journal = 0;
  // Oldest first, a page at a time: queued, then removed.
  for (;;) {
    const page = (await redis.call('ZRANGE', p.pendingSet, 0, PAGE - 1)) as string[];
    if (page.length === 0) break;
    for (const key of page) await queue.add(key, 'put');
    await redis.call('ZREM', p.pendingSet, ...page);
    journal += page.length;
  }
  // The failed list, then what a crashed `--retry-failed` of the old daemon left half-done.
  let failed = 0;
  for (const list of [p.failedList, `${p.failedList}:processing`]) {
    for (;;) {
      const raw = (await redis.call('LRANGE', list, 0, PAGE - 1)) as string[];
      if (raw.length === 0) break;
      for (const r of raw) await queue.add(legacyFailedKey(r), 'put');
      await redis.call('LTRIM', list, raw.length, -1);
      failed += raw.length;
    }
  }
  if (journal + failed > 0) {
    logger.info(
      'took over the keys the single-process listener left: queued, and removed from its journal and failed list',
      {
        journal,
        failed,
        queue: queue.name,
        pendingSet: p.pendingSet,
        failedList: p.failedList,
      },
    );
  }
  return { journal, failed, total: journal + failed };
}

/**
 * The old failed list held JSON entries `{key, reason, ...}`; a bare key (pushed by hand with
 * redis-cli) is read as one too.
 */
export function legacyFailedKey(raw: string): string {
  try {
    const v = JSON.parse(raw) as { key?: unknown } | null;
    if (v && typeof v === 'object' && typeof v.key === 'string') return v.key;
  } catch {
    // not JSON: a bare key
  }
  return raw;
}
