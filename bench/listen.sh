#!/usr/bin/env bash
# Benchmark of s3s3listen on the BullMQ queue, in four layouts: `--role all` (one process),
# `--role intake` + 1 `--role worker`, `--role intake` + 2 `--role worker`, and w1-streamed (intake + 1
# worker with streamed-only destinations). Each: a burst of 2000 keys
# of 4 KiB (throughput, p50/p99 publish-to-everywhere, client CPU and Redis commands per key), then half
# that rate steadily (p50/p99), peak RSS per process. Then s3s3bucket on the same objects, and the
# queue alone: Redis memory per waiting job, the queue's own commands and CPU per job (bench/listen.ts).
# About 8 minutes on 2 CPUs.
# Starts Ceph RGW, Swift and Redis on loopback (test/servers/*.sh) and stops them on exit,
# unless S3S3TEST_SERVERS and S3S3TEST_REDIS already name running ones.
#   bash bench/listen.sh
#   BENCH_DESTS=swift bash bench/listen.sh     # destinations (default ceph,swift); BENCH_SOURCE (default ceph)
#   BENCH_KEYS=500 BENCH_STEADY_SECONDS=10 bash bench/listen.sh
#   BENCH_LAYOUTS=all,w1 bash bench/listen.sh   # a subset of the layouts (all, w1, w2, w1-streamed)
#   BENCH_LAYOUTS=w1-streamed bash bench/listen.sh   # intake + 1 worker, no server-side copy, against the streamed sweep
# Writes bench/results-listen.md.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -n ${BENCH_SKIP_BUILD:-} ]] || npm run --silent build >&2
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
if [[ -z ${S3S3TEST_SERVERS:-} || -z ${S3S3TEST_REDIS:-} ]]; then
  state=$(mktemp -d /tmp/s3s3-bench-listen.XXXXXX)
  cleanup() {
    bash test/servers/all.sh stop "$state"
    rm -rf "$state"
  }
  trap cleanup EXIT INT TERM
  echo "bench: starting Ceph RGW, Swift and Redis in $state" >&2
  bash test/servers/all.sh start "$state"
  export S3S3TEST_SERVERS="$state/ceph/env:$state/swift/env" S3S3TEST_REDIS="$state/redis/env"
fi
node --import tsx bench/listen.ts
