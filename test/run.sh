#!/usr/bin/env bash
# The one command that runs every test: installs what is missing, lints, builds, starts the real
# servers once (Ceph RGW, Swift s3api, Redis) on free loopback ports, runs the suites
# against them, and stops them whatever happens.
#   bash test/run.sh                 # everything
#   bash test/run.sh test/unit/x.test.ts ...   # chosen files (servers still started)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash test/setup.sh
# Format and lint first: a missing doc comment or a long line fails in seconds, not minutes.
npm run --silent lint
npm run --silent build
npm run --silent typecheck

state=${S3S3TEST_STATE:-$(mktemp -d /tmp/s3s3-test.XXXXXX)}
mkdir -p "$state"
cleanup() {
  bash test/servers/all.sh stop "$state"
  [[ -n "${S3S3_KEEP_STATE:-}" ]] || rm -rf "$state"
}
trap cleanup EXIT INT TERM

echo "s3s3 test: starting Ceph RGW, Swift and Redis in $state" >&2
bash test/servers/all.sh start "$state" || { S3S3_KEEP_STATE=1; exit 1; }

export S3S3TEST_SERVERS="$state/ceph/env:$state/swift/env"
export S3S3TEST_REDIS="$state/redis/env"
export S3S3TEST_STATE_DIR="$state"
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

if (($#)); then
  files=("$@")
else
  mapfile -t files < <(find test/unit test/integration test/cli -name '*.test.ts' 2>/dev/null | sort)
fi
cd "$root"
node --import tsx --test --test-concurrency=2 --test-reporter=spec "${files[@]}"
