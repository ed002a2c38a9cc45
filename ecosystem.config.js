/**
 * pm2 ecosystem for s3s3:
 *   S3S3_CONFIG=/usr/local/etc/s3s3.ini pm2 start ecosystem.config.js && pm2 save
 *   S3S3_CONFIG=/usr/local/etc/s3s3.ini S3S3_WORKERS=4 pm2 start ecosystem.config.js && pm2 save
 *
 * - s3s3listen (when S3S3_WORKERS is unset or 0): the listener, one process that receives the
 *   keys and copies them (--role all), a long-running app restarted whenever it stops. pm2
 *   stops it with SIGINT: it stops taking messages and finishes the copies in flight for up to
 *   [pubsub] shutdown_timeout (30 s by default), so kill_timeout gives it a little longer.
 *   Keys it had received and not finished stay queued in Redis and are finished at the next start.
 * - s3s3intake and s3s3worker (when S3S3_WORKERS=N): the same listener split in two for more
 *   throughput: one intake (--role intake) takes the messages off the channel and queues them,
 *   N workers (--role worker, `instances: N`, fork mode) copy the queued keys; more workers can
 *   run on other machines on the same Redis (`--only s3s3worker` there). They replace
 *   s3s3listen rather than join it: s3s3listen next to an intake would queue every message twice
 *   (harmless, one job per key, but wasted work), and an unset variable keeps what
 *   `pm2 start ecosystem.config.js` ran before the queue existed. Stopping is the same as above:
 *   a worker finishes its running jobs; a killed worker's jobs run on another once their lock expires.
 * - s3s3bucket: the sweep that catches whatever pub/sub dropped, started by pm2 at `pm2 start`
 *   and then every hour by cron_restart; autorestart: false so it runs once each time. Two runs
 *   never overlap (a lock in Redis, or a lock file): a second one exits 0 with "already running".
 * - s3s3retry: `s3s3bucket --retry-failed`, which retries the keys that failed, four times an
 *   hour (off the hour, so it rarely meets the sweep).
 *
 * This package is ESM, so this file is too; pm2 loads it with require(), which takes ESM
 * from Node 20.19 on. With an older Node, use ecosystem.config.cjs (the same apps).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ecosystem = require('./ecosystem.config.cjs');

export const apps = ecosystem.apps;
export default ecosystem;
