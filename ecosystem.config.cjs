/**
 * pm2 ecosystem for s3s3 (CommonJS, for any Node; ecosystem.config.js re-exports it):
 *   S3S3_CONFIG=/usr/local/etc/s3s3.ini pm2 start ecosystem.config.cjs && pm2 save
 * See ecosystem.config.js for what each app does.
 */
const path = require('node:path');

const config = process.env.S3S3_CONFIG || '/usr/local/etc/s3s3.ini';
const bin = (name) => path.join(__dirname, 'dist', 'scripts', `${name}.js`);

module.exports = {
  apps: [
    {
      name: 's3s3listen',
      script: bin('listen'),
      args: ['--config', config],
      cwd: __dirname,
      // The flags of dist/scripts/listen.js's first line (pm2 runs `node script`, not the shebang).
      node_args: ['--max-old-space-size=128', '--max-semi-space-size=4'],
      autorestart: true,
      // Back off when it keeps failing at start-up (e.g. a config error), instead of spinning.
      exp_backoff_restart_delay: 1000,
      // pm2 sends SIGINT, waits this long, then SIGKILL: longer than [pubsub] shutdown_timeout.
      kill_timeout: 40_000,
      max_memory_restart: '400M',
      time: true,
      env: { NODE_ENV: 'production', S3S3_CONFIG: config },
    },
    {
      name: 's3s3bucket',
      script: bin('bucket'),
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
