#!/usr/bin/env bash
# Benchmark of the sweep (s3s3bucket) against `rclone copy --transfers 16`, on a real
# single-node Ceph RGW that this script starts on loopback and stops on exit.
#
#   bash bench/duplicate.sh                 # cases a b c, bytes streamed through the client
#   bash bench/duplicate.sh --cases ab      # only some cases
#   bash bench/duplicate.sh --server-side   # same RGW user on both sides: both tools copy server-side
#   bash bench/duplicate.sh --runs 5        # runs per tool and case (default 3), taken in turns (s3s3, rclone, rclone,
#                                           # s3s3, ...); medians reported, with CPU per object / MiB, best run beside
#   (npm run bench -- --cases a)
#
# Cases: (a) 2000 objects of 4 KiB, (b) 8 objects of 64 MiB, (c) one object of 1 GiB.
# Each run of each tool gets a fresh, empty destination bucket; the source is seeded once per case.
# By default the destination buckets belong to a second RGW user, so neither tool can use
# CopyObject (s3s3 only copies server-side with the same endpoint and credentials, rclone only
# within one remote): every byte goes GET -> client -> PUT, which is what the targets are about.
#
# Measured per run: wall clock of the whole process (start-up and listing included), peak RSS
# ("Maximum resident set size" of /usr/bin/time -v), CPU seconds of the client, of radosgw and
# ceph-osd, and of everything else on the machine (client and server share its CPUs, so a busy
# machine shows there). Prints a table and writes it as markdown to bench/results-duplicate.md
# (bench/results-duplicate-server-side.md with --server-side).
# Takes about 6 minutes on 2 CPUs (3 runs per tool and case).
# Environment: BENCH_STATE=DIR keeps the state (logs, configs, raw numbers) in DIR and does not
# delete it; BENCH_SKIP_BUILD=1 uses the dist/ already there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

args_shown=${*:+ $*}
cases=abc
runs=3
path=stream
while (($#)); do
  case $1 in
    --cases) cases=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --server-side) path=server-side; shift ;;
    -h | --help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
    *) echo "bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $cases =~ ^[abc]+$ ]] || { echo "bench: --cases takes letters from abc" >&2; exit 2; }
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench: --runs takes a whole number >= 1" >&2; exit 2; }

# shellcheck source=bench/lib-ceph.sh
. bench/lib-ceph.sh
bench_install_missing rclone time ceph-mon ceph-osd radosgw ceph-common curl procps uuid-runtime python3
bench_prepare duplicate
bench_start_ceph "$path"

cat >"$state/rclone.conf" <<EOF
[src]
type = s3
provider = Ceph
access_key_id = $SRC_KEY
secret_access_key = $SRC_SECRET
endpoint = $S3_ENDPOINT
force_path_style = true

[dst]
type = s3
provider = Ceph
access_key_id = $DST_KEY
secret_access_key = $DST_SECRET
endpoint = $S3_ENDPOINT
force_path_style = true
EOF
chmod 600 "$state/rclone.conf"
# Stream mode: two remotes, so rclone streams. Server-side: one remote, so rclone uses CopyObject.
if [[ $path == stream ]]; then RC_DST=dst; else RC_DST=src; fi

# One measured run: tool case run_no. Appends a line to $state/raw.tsv.
measure() {
  local tool=$1 c=$2 n=$3 src=$4 count=$5 bytes=$6
  local dst="${tool}-${c}-${n}" out="$state/$tool-$c-$n" rgw0 osd0 rgw1 osd1 all0 all1 rc=0
  tool_dst mkbucket "$dst"
  rgw0=$(cpu_ticks "$RGW_PID")
  osd0=$(cpu_ticks "$OSD_PID")
  all0=$(busy_ticks)
  if [[ $tool == s3s3 ]]; then
    write_ini "$out.ini" "$src" "$dst"
    /usr/bin/time -v -o "$out.time" node "${node_flags[@]}" "$state/app/dist/scripts/bucket.js" --config "$out.ini" --json -q >"$out.json" 2>"$out.log" || rc=$?
  else
    env -u AWS_CA_BUNDLE /usr/bin/time -v -o "$out.time" \
      rclone --config "$state/rclone.conf" copy "src:$src" "$RC_DST:$dst" --transfers 16 >"$out.log" 2>&1 || rc=$?
  fi
  all1=$(busy_ticks)
  rgw1=$(cpu_ticks "$RGW_PID")
  osd1=$(cpu_ticks "$OSD_PID")
  ((rc == 0)) || { tail -n 20 "$out.log" >&2; die "$tool exited $rc on case $c (log: $out.log)"; }
  if [[ $tool == s3s3 ]]; then
    grep -q "\"copied\":$count," "$out.json" && grep -q '"failed":0,' "$out.json" ||
      die "s3s3 did not report $count copied and 0 failed on case $c: $(head -c 400 "$out.json")"
  fi
  local got
  got=$(tool_dst count "$dst")
  [[ $got == "$count $bytes" ]] || die "$tool case $c: destination $dst holds '$got' (objects bytes), expected '$count $bytes'"
  local wall rss user sys
  time_fields "$out.time"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$tool" "$n" "$count" "$bytes" "$wall" "$rss" \
    "$(awk -v a="$user" -v b="$sys" 'BEGIN {print a + b}')" "$(ticks_seconds "$rgw0" "$rgw1")" \
    "$(ticks_seconds "$osd0" "$osd1")" "$path" "$(ticks_seconds "$all0" "$all1")" >>"$state/raw.tsv"
  say "  $tool run $n: $(awk -v w="$wall" -v c="$count" -v b="$bytes" -v r="$rss" 'BEGIN {printf "%.2f s, %.1f objects/s, %.1f MiB/s, peak RSS %.1f MiB", w, c / w, b / 1048576 / w, r / 1024}')"
  # Free the space now: case c needs source + one destination of 1 GiB each in a 4 GiB OSD.
  tool_dst rmbucket "$dst"
  gc_now
}

: >"$state/raw.tsv"
load_at_start=$(cut -d" " -f1-3 /proc/loadavg)
started=$SECONDS
bench_in_turns "$cases" "$runs" s3s3 rclone
total=$((SECONDS - started))

# --- report ------------------------------------------------------------------------------------
if [[ $path == stream ]]; then results=bench/results-duplicate.md; else results=bench/results-duplicate-server-side.md; fi
mapfile -t meta < <(bench_meta)
python3 bench/report.py "$state/raw.tsv" "$root/$results" \
  "args=$args_shown" "total=$total" "load=$load_at_start" "${meta[@]}" \
  "rclone=$(rclone version | head -n1 | awk '{print $2}')" "path=$path" "runs=$runs"
say "results written to $results (raw numbers and logs: $state)"
