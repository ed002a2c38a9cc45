#!/usr/bin/env bash
# The convergence soak (issue 17): the mix of test/integration/converge.test.ts for N minutes —
# a Ceph source, Swift s3api and a second Ceph bucket as `delete = true` destinations, the daemon
# (`--role all`) and a second worker, four writers putting (0 B to 12 MiB), overwriting and deleting
# keys of every shape with a publish each, `s3s3bucket --delete` sweeping back to back with its Ceph
# uploads slowed, 503s/resets/delays on both sides for 35 s of every 2 min — then the three phases:
# (a) equal within 90 s with no further sweep, (b) one more sweep changes nothing, (c) writes with the
# daemon SIGKILLed and restarted, one sweep, equal again. Prints ops done, keys compared and each
# phase's result (missing / extra / stale keys per destination); exits 1 when a phase failed.
# Starts Ceph RGW, Swift and Redis on loopback (test/servers/*.sh) and stops them on exit, unless
# S3S3TEST_SERVERS and S3S3TEST_REDIS already name running ones.
#   bash bench/soak.sh                 # 30 minutes of writes (about 35 min in all)
#   bash bench/soak.sh --minutes 2
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=30
while (($#)); do
  case $1 in
    --minutes) minutes=${2:?--minutes needs a number}; shift 2 ;;
    --minutes=*) minutes=${1#--minutes=}; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/soak.sh: unknown argument $1 (usage: bash bench/soak.sh [--minutes N])" >&2; exit 2 ;;
  esac
done
[[ $minutes =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "bench/soak.sh: --minutes takes a number of minutes, not $minutes" >&2; exit 2; }
[[ -n ${BENCH_SKIP_BUILD:-} ]] || npm run --silent build >&2
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
if [[ -z ${S3S3TEST_SERVERS:-} || -z ${S3S3TEST_REDIS:-} ]]; then
  state=$(mktemp -d /tmp/s3s3-bench-soak.XXXXXX)
  cleanup() {
    bash test/servers/all.sh stop "$state"
    rm -rf "$state"
  }
  trap cleanup EXIT INT TERM
  echo "soak: starting Ceph RGW, Swift and Redis in $state" >&2
  bash test/servers/all.sh start "$state"
  export S3S3TEST_SERVERS="$state/ceph/env:$state/swift/env" S3S3TEST_REDIS="$state/redis/env" S3S3TEST_STATE_DIR="$state"
fi
SOAK_MINUTES=$minutes node --import tsx bench/soak.ts
