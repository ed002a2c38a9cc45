/**
 * pm2 ecosystem for s3s3 (CommonJS, for any Node; ecosystem.config.js re-exports it):
 *   S3S3_CONFIG=/usr/local/etc/s3s3.ini pm2 start ecosystem.config.cjs && pm2 save
 *   S3S3_CONFIG=/usr/local/etc/s3s3.ini S3S3_WORKERS=4 pm2 start ecosystem.config.cjs   # intake + 4 workers
 * See ecosystem.config.js for what each app does and why S3S3_WORKERS chooses the apps.
 */
const path = require('node:path');

const config = process.env.S3S3_CONFIG || '/usr/local/etc/s3s3.ini';
const bin = (name) => path.join(__dirname, 'dist', 'scripts', `${name}.js`);

/**
 * S3S3_WORKERS: unset (or 0) runs the single process s3s3listen; N runs s3s3intake and N
 * s3s3worker instead. Never both: the intake and s3s3listen would each enqueue every message.
 */
function workerCount(value) {
  if (value === undefined || value.trim() === '') return 0;
  if (!/^\d+$/.test(value.trim())) {
    throw new Error(
      `s3s3 ecosystem: S3S3_WORKERS must be a whole number of worker processes (0 for the single-process s3s3listen), not ${JSON.stringify(value)}`,
    );
  }
  return Number(value.trim());
}
const workers = workerCount(process.env.S3S3_WORKERS);
const httpPort =
  process.env.S3S3_HTTP_PORT && /^\d+$/.test(process.env.S3S3_HTTP_PORT.trim())
    ? Number(process.env.S3S3_HTTP_PORT.trim())
    : undefined;

// What the listener apps share: s3s3listen in any role.
const listener = (name, role) => ({
  name,
  script: bin('listen'),
  args: role ? ['--config', config, '--role', role] : ['--config', config],
  cwd: __dirname,
  // The flags of dist/scripts/listen.js's first line (pm2 runs `node script`, not the shebang).
  node_args: ['--max-old-space-size=128', '--max-semi-space-size=4', '--expose-gc'],
  autorestart: true,
  // Back off when it keeps failing at start-up (e.g. a config error), instead of spinning.
  exp_backoff_restart_delay: 1000,
  // pm2 sends SIGINT, waits this long, then SIGKILL: longer than [pubsub] shutdown_timeout.
  kill_timeout: 40_000,
  max_memory_restart: '400M',
  time: true,
  env: { NODE_ENV: 'production', S3S3_CONFIG: config },
});

const listeners =
  workers === 0
    ? [listener('s3s3listen')]
    : [
        // One intake: it subscribes to the channel; a second would enqueue every message twice.
        {
          ...listener('s3s3intake', 'intake'),
          instances: 1,
          exec_mode: 'fork',
          ...(httpPort
            ? { env: { NODE_ENV: 'production', S3S3_CONFIG: config, S3S3_HTTP_PORT: String(httpPort) } }
            : {}),
        },
        // Fork mode: each worker is a process of its own pulling jobs from Redis (cluster mode
        // shares a listening port, which workers do not have).
        {
          ...listener('s3s3worker', 'worker'),
          instances: workers,
          exec_mode: 'fork',
          // With S3S3_HTTP_PORT=9400 set when the ecosystem is loaded, the intake serves /events and
          // /metrics on 9400 and each worker its /metrics on the next ports (9401, 9402, ...): pm2
          // adds the instance number.
          ...(httpPort
            ? {
                increment_var: 'S3S3_HTTP_PORT',
                env: { NODE_ENV: 'production', S3S3_CONFIG: config, S3S3_HTTP_PORT: String(httpPort + 1) },
              }
            : {}),
        },
      ];

module.exports = {
  apps: [
    ...listeners,
    {
      name: 's3s3bucket',
      script: bin('bucket'),
      // The flags of dist/scripts/bucket.js's first line: the heap stays flat (~90 MiB) at any bucket size.
      node_args: ['--max-old-space-size=128', '--max-semi-space-size=8', '--expose-gc'],
      args: ['--config', config, '--quiet'],
      cwd: __dirname,
      cron_restart: '0 * * * *',
      autorestart: false,
      kill_timeout: 60_000,
      time: true,
      env: { NODE_ENV: 'production', S3S3_CONFIG: config },
    },
    {
      name: 's3s3retry',
      script: bin('bucket'),
      // The flags of dist/scripts/bucket.js's first line: the heap stays flat (~90 MiB) at any bucket size.
      node_args: ['--max-old-space-size=128', '--max-semi-space-size=8', '--expose-gc'],
      args: ['--config', config, '--retry-failed', '--quiet'],
      cwd: __dirname,
      cron_restart: '7,22,37,52 * * * *',
      autorestart: false,
      kill_timeout: 60_000,
      time: true,
      env: { NODE_ENV: 'production', S3S3_CONFIG: config },
    },
  ],
};
