/**
 * The queue's own cost on the worker side, for bench/listen.ts: a BullMQ worker built exactly as
 * s3s3listen's (src/api/queue/queue.ts QueueWorker: same concurrency, lock, stalled checks,
 * completed jobs removed) whose job does nothing. Its CPU per job is what taking, locking and
 * completing a job costs, with no S3 request in it.
 *   node --import tsx bench/queue-noop-worker.ts CONFIG
 * Prints `ready` once built (bullmq loaded, nothing taken yet) and starts taking jobs when a
 * line arrives on stdin, so the bench reads its CPU between the two; exits on SIGTERM.
 */
import { loadConfig } from '../src/api/index.js';
import { QueueWorker } from '../src/api/queue/queue.js';

const file = process.argv[2];
if (!file) throw new Error('usage: queue-noop-worker.ts CONFIG');
const config = loadConfig({ file, env: {} });
let jobs = 0;
const worker = new QueueWorker(config, {
  concurrency: config.pubsub.concurrency,
  name: 'bench-noop-worker',
  run: async () => {
    jobs++;
    return { kind: 'done' };
  },
});
process.stdout.write('ready\n');
process.stdin.once('data', () => worker.start());
process.once('SIGTERM', () => {
  void worker.close(5000).then(() => {
    process.stdout.write(`jobs ${jobs}\n`);
    process.exit(0);
  });
});
