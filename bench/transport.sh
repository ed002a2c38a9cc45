#!/usr/bin/env bash
# Issue 21: the lean request path on node:http against the same path on undici. The same sweep
# (s3s3bucket) copies the same source into a fresh destination bucket on each transport, taken in
# turns, on a real single-node Ceph RGW that this script starts on loopback and stops on exit.
#
#   bash bench/transport.sh                 # cases a b, 3 runs per transport and case
#   bash bench/transport.sh --cases a       # only some cases
#   bash bench/transport.sh --runs 5        # runs per transport and case (default 3; the median is reported)
#
# Cases: (a) 2000 objects of 4 KiB, (b) 8 objects of 64 MiB. The source is seeded once per case.
# The destination buckets belong to a second RGW user, so s3s3 cannot use CopyObject: every byte
# goes GET -> client -> PUT through the transport being measured.
# The transport is chosen by the bench-only switch S3S3_BENCH_TRANSPORT=http|undici, read by
# src/api/store/lean-http.ts when it loads; the order alternates per run (http undici, undici http,
# ...), so neither always runs first.
#
# Measured per run: wall clock of the whole process, peak RSS and client CPU (user+sys), all from
# /usr/bin/time -v; CPU of radosgw and ceph-osd and of the rest of the machine, to see noise. Each
# destination is checked to hold every object (count and bytes). Reports per case and transport the
# median of the runs (seconds, objects/s, MiB/s, client CPU per object and per MiB, peak RSS) and
# undici/http; prints it and writes it as markdown to bench/results-transport.md.
# Takes about 3 minutes on 2 CPUs (cases a b, 3 runs per transport).
# Environment: BENCH_STATE=DIR keeps the state (logs, configs, raw numbers) in DIR and does not
# delete it; BENCH_SKIP_BUILD=1 uses the dist/ already there (it must hold the switch).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

args_shown=${*:+ $*}
cases=ab
runs=3
while (($#)); do
  case $1 in
    --cases) cases=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    -h | --help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
    *) echo "bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $cases =~ ^[ab]+$ ]] || { echo "bench: --cases takes letters from ab" >&2; exit 2; }
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench: --runs takes a whole number >= 1" >&2; exit 2; }

# shellcheck source=bench/lib-ceph.sh
. bench/lib-ceph.sh

# Only the runs choose the transport; the helpers below always use the default one.
unset S3S3_BENCH_TRANSPORT

bench_install_missing time ceph-mon ceph-osd radosgw ceph-common curl procps uuid-runtime python3
[[ -f node_modules/undici/package.json ]] || die "node_modules/undici missing: run npm install"
bench_prepare transport
# A dist/ built before the switch existed would measure node:http twice.
if ! grep -q S3S3_BENCH_TRANSPORT dist/api/store/lean-http.js || [[ ! -f dist/api/store/undici-exchange.js ]]; then
  die "dist/ has no S3S3_BENCH_TRANSPORT switch: run npm run build (or drop BENCH_SKIP_BUILD)"
fi
bench_start_ceph stream

# The switch must really change the transport: undici logs its connections under NODE_DEBUG=undici.
say "checking the switch"
tool_src mkbucket transport-probe
for t in http undici; do
  S3S3_BENCH_TRANSPORT=$t NODE_DEBUG=undici tool_src count transport-probe >/dev/null 2>"$state/probe-$t.log" ||
    die "probe on $t failed (log: $state/probe-$t.log)"
done
grep -qi undici "$state/probe-undici.log" || die "S3S3_BENCH_TRANSPORT=undici did not use undici (log: $state/probe-undici.log)"
if grep -qi undici "$state/probe-http.log"; then die "S3S3_BENCH_TRANSPORT=http used undici (log: $state/probe-http.log)"; fi
tool_src rmbucket transport-probe

# One measured run: transport case run_no src count bytes. Appends a line to $state/raw.tsv.
measure() {
  local transport=$1 c=$2 n=$3 src=$4 count=$5 bytes=$6
  local dst="${transport}-${c}-${n}" out="$state/$transport-$c-$n" rgw0 osd0 rgw1 osd1 all0 all1 rc=0
  tool_dst mkbucket "$dst"
  write_ini "$out.ini" "$src" "$dst"
  rgw0=$(cpu_ticks "$RGW_PID")
  osd0=$(cpu_ticks "$OSD_PID")
  all0=$(busy_ticks)
  S3S3_BENCH_TRANSPORT=$transport /usr/bin/time -v -o "$out.time" \
    node "${node_flags[@]}" "$state/app/dist/scripts/bucket.js" --config "$out.ini" --json -q >"$out.json" 2>"$out.log" || rc=$?
  all1=$(busy_ticks)
  rgw1=$(cpu_ticks "$RGW_PID")
  osd1=$(cpu_ticks "$OSD_PID")
  ((rc == 0)) || { tail -n 20 "$out.log" >&2; die "$transport exited $rc on case $c (log: $out.log)"; }
  grep -q "\"copied\":$count," "$out.json" && grep -q '"failed":0,' "$out.json" ||
    die "$transport did not report $count copied and 0 failed on case $c: $(head -c 400 "$out.json")"
  local got
  got=$(tool_dst count "$dst")
  [[ $got == "$count $bytes" ]] || die "$transport case $c: destination $dst holds '$got' (objects bytes), expected '$count $bytes'"
  local wall rss user sys
  time_fields "$out.time"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$transport" "$n" "$count" "$bytes" "$wall" "$rss" \
    "$(awk -v a="$user" -v b="$sys" 'BEGIN {print a + b}')" "$(ticks_seconds "$rgw0" "$rgw1")" \
    "$(ticks_seconds "$osd0" "$osd1")" "$(ticks_seconds "$all0" "$all1")" >>"$state/raw.tsv"
  say "  $transport run $n: $(awk -v w="$wall" -v c="$count" -v b="$bytes" -v r="$rss" -v u="$user" -v s="$sys" \
    'BEGIN {printf "%.2f s, %.1f objects/s, %.1f MiB/s, client CPU %.2f s, peak RSS %.1f MiB", w, c / w, b / 1048576 / w, u + s, r / 1024}')"
  tool_dst rmbucket "$dst"
  gc_now
}

: >"$state/raw.tsv"
load_at_start=$(cut -d" " -f1-3 /proc/loadavg)
started=$SECONDS
bench_in_turns "$cases" "$runs" http undici
total=$((SECONDS - started))

# --- report ------------------------------------------------------------------------------------
results=bench/results-transport.md
mapfile -t meta < <(bench_meta)
python3 bench/transport-report.py "$state/raw.tsv" "$root/$results" \
  "args=$args_shown" "total=$total" "load=$load_at_start" "${meta[@]}" \
  "undici=$(node -p "require('./node_modules/undici/package.json').version")" "runs=$runs"
say "results written to $results (raw numbers and logs: $state)"
