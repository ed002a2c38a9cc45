#!/usr/bin/env bash
# The main job, shown on a machine with no S3 of its own: starts a local Ceph RGW (the
# source) and Swift with s3api (the destination), seeds the source bucket, writes a
# config, and runs s3s3bucket: a dry run, the copy, and a second run that copies nothing.
# In production you run only the last step:  s3s3bucket --config /etc/s3s3.ini
set -euo pipefail
cd "$(dirname "$0")/.."

bash test/setup.sh
npm run --silent build
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

state=$(mktemp -d /tmp/s3s3-demo.XXXXXX)
trap 'bash test/servers/all.sh stop "$state"; rm -rf "$state"' EXIT

echo "== starting Ceph RGW (source) and Swift s3api (destination) on loopback"
bash test/servers/all.sh start "$state" ceph swift
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
echo "== done; the servers are stopped on exit"
