#!/usr/bin/env bash
# The main job, shown on a machine with no S3 of its own: starts a local Ceph RGW (the
# source) and Swift with s3api (the destination), seeds the source bucket, writes a
# config, and runs s3s3bucket: a dry run, the copy, and a second run that copies nothing.
# Then the real-time path: s3s3listen runs, Ceph's own bucket notification is pointed at
# its POST /events, and an object written to Ceph appears in Swift with no publish at all.
# In production you run only:  s3s3bucket --config /etc/s3s3.ini  (and s3s3listen)
set -euo pipefail
cd "$(dirname "$0")/.."

bash test/setup.sh
npm run --silent build
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

state=$(mktemp -d /tmp/s3s3-demo.XXXXXX)
trap 'bash test/servers/all.sh stop "$state"; rm -rf "$state"' EXIT

echo "== starting Ceph RGW (source), Swift s3api (destination) and Redis on loopback"
bash test/servers/all.sh start "$state" ceph swift redis
read_env() { sed -n "s/^$2=//p" "$1/env"; }

config="$state/s3s3.ini"
umask 077
cat >"$config" <<INI
[source]
aws_access_key_id = $(read_env "$state/ceph" S3_ACCESS_KEY)
aws_secret_access_key = $(read_env "$state/ceph" S3_SECRET_KEY)
bucket_name = demo-source
endpoint = $(read_env "$state/ceph" S3_ENDPOINT)

[dest1]
aws_access_key_id = $(read_env "$state/swift" S3_ACCESS_KEY)
aws_secret_access_key = $(read_env "$state/swift" S3_SECRET_KEY)
bucket_name = demo-replica
endpoint = $(read_env "$state/swift" S3_ENDPOINT)
verify_md5 = true
delete = true

[pubsub]
redis_url = $(read_env "$state/redis" REDIS_URL)

[http]
port = $(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
events_token = demo-events-token-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
INI

echo "== seeding demo-source with 200 objects (odd key names included)"
node --input-type=module - "$config" <<'JS'
import { loadConfig, createConnection } from './dist/api/index.js';
const config = loadConfig({ file: process.argv[2] });
const src = createConnection(config.source);
const dst = createConnection(config.destinations[0]);
await src.createBucket();
await dst.createBucket();
const keys = ['photos/2024/beach day.jpg', 'docs/rapport été.pdf', 'emoji/🚀 launch.txt', 'a+b=c&d?.txt', 'dir/marker/'];
for (let i = 0; i < 195; i++) keys.push(`data/part-${String(i).padStart(4, '0')}.bin`);
for (const [i, key] of keys.entries()) {
  const body = key.endsWith('/') ? Buffer.alloc(0) : Buffer.alloc(1024 + i * 37, i % 256);
  await src.put(key, body, { contentLength: body.length, contentType: 'application/octet-stream', metadata: { seeded: 'demo' } });
}
src.close();
dst.close();
JS

echo "== s3s3bucket --config s3s3.ini --dry-run   (first 5 lines)"
node dist/scripts/bucket.js --config "$config" --dry-run | head -5
echo "== s3s3bucket --config s3s3.ini --json"
node dist/scripts/bucket.js --config "$config" --json
echo "== s3s3bucket --config s3s3.ini --json   (again: everything is in place, nothing to copy)"
node dist/scripts/bucket.js --config "$config" --json
echo "== the real-time path: s3s3listen, and Ceph's bucket notification pointed at its POST /events"
node dist/scripts/listen.js --config "$config" 2>"$state/listen.log" &
listen_pid=$!
trap 'kill $listen_pid 2>/dev/null; wait $listen_pid 2>/dev/null; bash test/servers/all.sh stop "$state"; rm -rf "$state"' EXIT
for _ in $(seq 1 100); do grep -q 'http surface listening' "$state/listen.log" && break; sleep 0.1; done
grep 'http surface listening' "$state/listen.log"
node --import tsx --input-type=module - "$config" "$state/ceph/env" <<'JS'
import { readFileSync } from 'node:fs';
import { loadConfig, createConnection } from './dist/api/index.js';
import { notifyTo } from './test/helpers/ceph-notify.ts';
const config = loadConfig({ file: process.argv[2] });
const env = Object.fromEntries(readFileSync(process.argv[3], 'utf8').trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
const ceph = { name: 'ceph', endpoint: env.S3_ENDPOINT, accessKey: env.S3_ACCESS_KEY, secretKey: env.S3_SECRET_KEY, region: env.S3_REGION ?? 'us-east-1' };
const url = `http://127.0.0.1:${config.http.port}/events?token=${config.http.eventsToken}`;
const n = await notifyTo(ceph, config.source.bucket, url);
console.log(`Ceph topic ${n.topicArn} pushes to http://127.0.0.1:${config.http.port}/events`);
const src = createConnection(config.source);
const dst = createConnection(config.destinations[0]);
async function writeAndWait(key, body) {
  const t0 = Date.now();
  await src.put(key, body, { contentLength: body.length });
  while (!(await dst.head(key))) {
    if (Date.now() - t0 > 60_000) throw new Error(`${key} did not reach Swift within a minute; see the listener log`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - t0;
}
// A new persistent topic's first event waits for RGW's queue timer (~15 s); later ones do not.
console.log(`first object (a new topic's first event): in Swift after ${await writeAndWait('live/warm-up.txt', Buffer.from('hello'))} ms`);
for (const key of ['live/cat photo.jpg', 'live/rapport été.pdf', 'live/🚀.txt']) {
  console.log(`put ${JSON.stringify(key)} in Ceph: in Swift after ${await writeAndWait(key, Buffer.alloc(4096, 7))} ms`);
}
const t0 = Date.now();
await src.delete('live/🚀.txt');
while (await dst.head('live/🚀.txt')) await new Promise((r) => setTimeout(r, 20));
console.log(`deleted "live/🚀.txt" in Ceph: gone from Swift after ${Date.now() - t0} ms (delete = true)`);
await n.remove();
src.close();
dst.close();
JS
echo "== the listener's log (first lines):"
head -n 12 "$state/listen.log"
echo "== /metrics (a few lines):"
curl -s "http://127.0.0.1:$(sed -n 's/^port = //p' "$config")/metrics" | grep -E '^s3s3_(objects_total|events_total|replication_lag_seconds_count)' | head -8
echo "== done; the servers are stopped on exit"
