#!/usr/bin/env node
/**
 * Bench helper: the few S3 chores bench/duplicate.sh needs, done with s3s3's own S3Store
 * (from dist/, or $S3S3_BENCH_DIST). Credentials come from the environment: S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY.
 *
 *   node bench/s3tool.mjs mkbucket BUCKET...
 *   node bench/s3tool.mjs seed BUCKET PREFIX COUNT SIZE [CONCURRENCY]   # bodies generated as streams
 *   node bench/s3tool.mjs count BUCKET                                   # prints "OBJECTS BYTES"
 *   node bench/s3tool.mjs rmbucket BUCKET...                             # objects, then the bucket
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';

// bench/duplicate.sh points this at its snapshot of dist/; otherwise the repo's build.
const dist = process.env.S3S3_BENCH_DIST
  ? pathToFileURL(`${process.env.S3S3_BENCH_DIST}/api/index.js`).href
  : '../dist/api/index.js';
const { parseConfig, S3Store } = await import(dist);

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

function store(bucket) {
  const section = (name, b) =>
    `[${name}]\naws_access_key_id = ${env('S3_ACCESS_KEY')}\naws_secret_access_key = ${env('S3_SECRET_KEY')}\n` +
    `bucket_name = ${b}\nendpoint = ${env('S3_ENDPOINT')}\nconcurrency = 64\nread_timeout = 600\n`;
  const config = parseConfig(section('source', bucket) + section('dest1', bucket + '-unused'), { file: 'bench' });
  return new S3Store(config.source);
}

/** SIZE bytes: a 64-byte header unique to the key, then slices of one shared random MiB. */
const NOISE = randomBytes(1 << 20);
function body(key, size) {
  const header = Buffer.alloc(Math.min(64, size));
  header.write(`${key} ${randomBytes(16).toString('hex')}`.slice(0, header.length));
  if (size <= 64 * 1024) return Buffer.concat([header, NOISE.subarray(0, size - header.length)]);
  return Readable.from(
    (function* () {
      yield header;
      let left = size - header.length;
      while (left > 0) {
        const n = Math.min(left, NOISE.length);
        yield NOISE.subarray(0, n);
        left -= n;
      }
    })(),
    { objectMode: false },
  );
}

async function pool(items, concurrency, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

const [cmd, ...args] = process.argv.slice(2);
switch (cmd) {
  case 'mkbucket':
    for (const b of args) {
      const s = store(b);
      await s.createBucket();
      s.close();
    }
    break;
  case 'seed': {
    const [bucket, prefix, countArg, sizeArg, concArg] = args;
    const count = Number(countArg);
    const size = Number(sizeArg);
    const s = store(bucket);
    const width = String(count - 1).length;
    const keys = Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(width, '0')}`);
    await pool(keys, Number(concArg ?? 32), (key) =>
      s.put(key, body(key, size), { contentLength: size, metadata: {} }),
    );
    s.close();
    break;
  }
  case 'count': {
    const s = store(args[0]);
    let n = 0;
    let bytes = 0;
    for await (const o of s.list()) {
      n++;
      bytes += o.size;
    }
    s.close();
    process.stdout.write(`${n} ${bytes}\n`);
    break;
  }
  case 'rmbucket':
    for (const b of args) {
      const s = store(b);
      try {
        await s.destroyBucket();
      } catch (err) {
        if (!err?.notFound) throw err;
      }
      s.close();
    }
    break;
  default:
    process.stderr.write('usage: s3tool.mjs mkbucket|seed|count|rmbucket ...\n');
    process.exit(2);
}
