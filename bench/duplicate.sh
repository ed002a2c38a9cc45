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

say() { echo "bench: $*" >&2; }
die() { say "FAILED: $*"; exit 1; }

# --- what the bench needs ----------------------------------------------------------------------
install_missing() {
  local pkgs=(rclone time ceph-mon ceph-osd radosgw ceph-common curl procps uuid-runtime python3) missing=() p
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  [[ $(id -u) -eq 0 ]] || die "missing Debian packages: ${missing[*]} (apt-get install -y ${missing[*]})"
  say "installing ${missing[*]}"
  # Installing Ceph would start its services on 0.0.0.0; policy-rc.d forbids that.
  local made_policy=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  [[ -z $made_policy ]] || rm -f /usr/sbin/policy-rc.d
}
install_missing
if [[ ! -d node_modules ]]; then
  say "npm ci"
  npm ci --no-audit --no-fund >&2
fi
if [[ -z ${BENCH_SKIP_BUILD:-} ]]; then
  say "building"
  npm run --silent build >&2
fi
[[ -f dist/scripts/bucket.js ]] || die "dist/scripts/bucket.js missing: run npm run build"
# The node flags of the bin's first line (V8 heap sizes, --expose-gc): the command as users run it.
read -ra node_flags <<<"$(head -n1 dist/scripts/bucket.js | sed -E 's/^#!.*[/ ]node ?//')"

export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

# --- Ceph RGW ----------------------------------------------------------------------------------
if [[ -n ${BENCH_STATE:-} ]]; then
  state=$BENCH_STATE
  mkdir -p "$state"
else
  state=$(mktemp -d /tmp/s3s3-bench.XXXXXX)
fi
state=$(cd "$state" && pwd)
# Run a snapshot of the build: a rebuild of dist/ by someone else during the bench must not
# change the code being measured halfway through.
rm -rf "$state/app"
mkdir -p "$state/app"
cp -r dist "$state/app/dist"
cp package.json "$state/app/package.json"
ln -s "$root/node_modules" "$state/app/node_modules"
export S3S3_BENCH_DIST=$state/app/dist
commit_at_start="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git status --porcelain -- src 2>/dev/null | grep -q . && echo ' + uncommitted changes in src/' || true)"
cleanup() {
  bash "$root/test/servers/ceph.sh" stop "$state/ceph" >/dev/null 2>&1 || true
  [[ -n ${BENCH_STATE:-} ]] || rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting Ceph RGW in $state/ceph"
bash test/servers/ceph.sh start "$state/ceph" >/dev/null 2>"$state/ceph-start.log" || {
  cat "$state/ceph-start.log" >&2
  die "Ceph RGW did not start"
}
set -a
# shellcheck disable=SC1091
. "$state/ceph/env"
set +a
conf=$state/ceph/ceph.conf
SRC_KEY=$S3_ACCESS_KEY
SRC_SECRET=$S3_SECRET_KEY
if [[ $path == stream ]]; then
  DST_KEY=s3s3bench2
  DST_SECRET=s3s3bench2secret
  radosgw-admin -c "$conf" user create --uid=s3s3bench2 --display-name="s3s3 bench destination" \
    --access-key="$DST_KEY" --secret-key="$DST_SECRET" >"$state/user2.log" 2>&1 || die "radosgw-admin user create failed"
else
  DST_KEY=$SRC_KEY
  DST_SECRET=$SRC_SECRET
fi

pid_of() { # pid of our daemon named $1
  local p
  while read -r p; do
    [[ "$(cat "/proc/$p/comm" 2>/dev/null)" == "$1" ]] && { echo "$p"; return; }
  done <"$state/ceph/pids"
}
RGW_PID=$(pid_of radosgw)
OSD_PID=$(pid_of ceph-osd)
CLK_TCK=$(getconf CLK_TCK)
busy_ticks() { # CPU ticks the whole machine spent busy (not idle, not iowait), all CPUs
  awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat
}
cpu_ticks() { # utime+stime of pid $1, in clock ticks
  local s
  s=$(cat "/proc/$1/stat")
  s=${s##*) }
  awk '{print $12 + $13}' <<<"$s"
}

tool_src() { S3_ACCESS_KEY=$SRC_KEY S3_SECRET_KEY=$SRC_SECRET node bench/s3tool.mjs "$@"; }
tool_dst() { S3_ACCESS_KEY=$DST_KEY S3_SECRET_KEY=$DST_SECRET node bench/s3tool.mjs "$@"; }
# Deleted objects' tails wait for RGW's garbage collector; run it now, so the memstore OSD
# (4 GiB) has room and no GC work overlaps the next measurement.
gc_now() { radosgw-admin -c "$conf" gc process --include-all >>"$state/gc.log" 2>&1 || say "warning: gc process failed"; }

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

write_ini() { # file src_bucket dst_bucket
  (
    umask 077
    cat >"$1" <<EOF
[source]
aws_access_key_id = $SRC_KEY
aws_secret_access_key = $SRC_SECRET
bucket_name = $2
endpoint = $S3_ENDPOINT
concurrency = 16

[dest1]
aws_access_key_id = $DST_KEY
aws_secret_access_key = $DST_SECRET
bucket_name = $3
endpoint = $S3_ENDPOINT
concurrency = 16
EOF
  )
  chmod 600 "$1"
}

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
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$out.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out.time")
  user=$(awk -F': ' '/User time \(seconds\)/ {print $2}' "$out.time")
  sys=$(awk -F': ' '/System time \(seconds\)/ {print $2}' "$out.time")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$tool" "$n" "$count" "$bytes" "$wall" "$rss" \
    "$(awk -v a="$user" -v b="$sys" 'BEGIN {print a + b}')" \
    "$(awk -v a="$rgw0" -v b="$rgw1" -v t="$CLK_TCK" 'BEGIN {print (b - a) / t}')" \
    "$(awk -v a="$osd0" -v b="$osd1" -v t="$CLK_TCK" 'BEGIN {print (b - a) / t}')" "$path" \
    "$(awk -v a="$all0" -v b="$all1" -v t="$CLK_TCK" 'BEGIN {print (b - a) / t}')" >>"$state/raw.tsv"
  say "  $tool run $n: $(awk -v w="$wall" -v c="$count" -v b="$bytes" -v r="$rss" 'BEGIN {printf "%.2f s, %.1f objects/s, %.1f MiB/s, peak RSS %.1f MiB", w, c / w, b / 1048576 / w, r / 1024}')"
  # Free the space now: case c needs source + one destination of 1 GiB each in a 4 GiB OSD.
  tool_dst rmbucket "$dst"
  gc_now
}

: >"$state/raw.tsv"
load_at_start=$(cut -d" " -f1-3 /proc/loadavg)
started=$SECONDS
for c in $(grep -o . <<<"$cases"); do
  case $c in
    a) count=2000 size=4096 prefix=small/ seedconc=32 label="2000 x 4 KiB" ;;
    b) count=8 size=$((64 * 1024 * 1024)) prefix=medium/ seedconc=8 label="8 x 64 MiB" ;;
    c) count=1 size=$((1024 * 1024 * 1024)) prefix=large/ seedconc=1 label="1 x 1 GiB" ;;
  esac
  bytes=$((count * size))
  src="src-$c"
  say "case $c ($label): seeding $src"
  t0=$SECONDS
  tool_src mkbucket "$src"
  tool_src seed "$src" "$prefix" "$count" "$size" "$seedconc"
  [[ "$(tool_src count "$src")" == "$count $bytes" ]] || die "seeding $src went wrong"
  say "  seeded in $((SECONDS - t0)) s"
  for n in $(seq 1 "$runs"); do
    # Alternate who goes first, so neither tool always runs right after the seeding.
    if ((n % 2)); then order="s3s3 rclone"; else order="rclone s3s3"; fi
    for tool in $order; do measure "$tool" "$c" "$n" "$src" "$count" "$bytes"; done
  done
  tool_src rmbucket "$src"
  gc_now
done
total=$((SECONDS - started))

# --- report ------------------------------------------------------------------------------------
if [[ $path == stream ]]; then results=bench/results-duplicate.md; else results=bench/results-duplicate-server-side.md; fi
python3 bench/report.py "$state/raw.tsv" "$root/$results" \
  "args=$args_shown" "total=$total" "load=$load_at_start" "nproc=$(nproc)" \
  "machine=$(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM" \
  "node=$(node --version)" "ceph=$(ceph --version | awk '{print $3, $5}')" "rclone=$(rclone version | head -n1 | awk '{print $2}')" \
  "s3s3=$(node -p "require('./package.json').version")" \
  "commit=$commit_at_start" \
  "path=$path" "runs=$runs"
say "results written to $results (raw numbers and logs: $state)"
