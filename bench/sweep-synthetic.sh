#!/usr/bin/env bash
# The sweep at scale: s3s3bucket against a synthetic S3 endpoint (bench/synthetic-s3.ts, on
# loopback, storing nothing) whose [source] and [dest1] list the same N generated keys, so
# every key is skipped and the run measures the two listings and the merge-join: seconds,
# keys/s, peak RSS and client CPU at 10k, 100k, 1M and 10M keys. A measuring instrument only;
# correctness is proven on Ceph and Swift by the tests.
#   bash bench/sweep-synthetic.sh                       # 10k, 100k, 1M, 10M (~7 min on 2 CPUs; twice that with BENCH_COMPARE_FLAGS)
#   BENCH_SIZES=10k,100k bash bench/sweep-synthetic.sh  # a subset (k and M suffixes)
#   BENCH_COPY=10k bash bench/sweep-synthetic.sh        # plus a copy of 10k keys into an empty bucket
#   BENCH_NODE_FLAGS=--heap-prof BENCH_STATE=/tmp/syn BENCH_SIZES=1M bash bench/sweep-synthetic.sh
#   BENCH_WORKERS=1,2,3 (the default)                  # after each local sweep, the same keys with --distribute
#                                                      # and 1, 2, 3 worker processes on a redis-server of its own
#   BENCH_WORKERS= bash bench/sweep-synthetic.sh       # local sweeps only
# Prints the table and writes it to bench/results-synthetic.md (BENCH_RESULTS=- to skip).
# Exits 0 when every sweep (local or distributed) exited 0 with every key skipped (or copied) and none failed.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -n ${BENCH_SKIP_BUILD:-} ]] || npm run --silent build >&2
if [[ ! -x /usr/bin/time ]]; then
  echo "bench: installing GNU time (/usr/bin/time -v measures the peak RSS)" >&2
  apt-get install -y -qq time >&2
fi
exec node --import tsx bench/sweep-synthetic.ts
