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

say() { echo "bench: $*" >&2; }
die() { say "FAILED: $*"; exit 1; }

# Only the runs choose the transport; the helpers below always use the default one.
unset S3S3_BENCH_TRANSPORT

# --- what the bench needs ----------------------------------------------------------------------
install_missing() {
  local pkgs=(time ceph-mon ceph-osd radosgw ceph-common curl procps uuid-runtime python3) missing=() p
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
[[ -f node_modules/undici/package.json ]] || die "node_modules/undici missing: run npm install"
if [[ -z ${BENCH_SKIP_BUILD:-} ]]; then
  say "building"
  npm run --silent build >&2
fi
[[ -f dist/scripts/bucket.js ]] || die "dist/scripts/bucket.js missing: run npm run build"
# The node flags of the bin's first line (V8 heap sizes, --expose-gc): the command as users run it.
read -ra node_flags <<<"$(head -n1 dist/scripts/bucket.js | sed -E 's/^#!.*[/ ]node ?//')"
# A dist/ built before the switch existed would measure node:http twice.
if ! grep -q S3S3_BENCH_TRANSPORT dist/api/store/lean-http.js || [[ ! -f dist/api/store/undici-exchange.js ]]; then
  die "dist/ has no S3S3_BENCH_TRANSPORT switch: run npm run build (or drop BENCH_SKIP_BUILD)"
fi

export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

# --- Ceph RGW ----------------------------------------------------------------------------------
if [[ -n ${BENCH_STATE:-} ]]; then
  state=$BENCH_STATE
  mkdir -p "$state"
else
  state=$(mktemp -d /tmp/s3s3-bench-transport.XXXXXX)
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
DST_KEY=s3s3bench2
DST_SECRET=s3s3bench2secret
radosgw-admin -c "$conf" user create --uid=s3s3bench2 --display-name="s3s3 bench destination" \
  --access-key="$DST_KEY" --secret-key="$DST_SECRET" >"$state/user2.log" 2>&1 || die "radosgw-admin user create failed"

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
# Deleted objects' tails wait for RGW's garbage collector; run it now, so the memstore OSD has
# room and no GC work overlaps the next measurement.
gc_now() { radosgw-admin -c "$conf" gc process --include-all >>"$state/gc.log" 2>&1 || say "warning: gc process failed"; }

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
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$out.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out.time")
  user=$(awk -F': ' '/User time \(seconds\)/ {print $2}' "$out.time")
  sys=$(awk -F': ' '/System time \(seconds\)/ {print $2}' "$out.time")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$transport" "$n" "$count" "$bytes" "$wall" "$rss" \
    "$(awk -v a="$user" -v b="$sys" 'BEGIN {print a + b}')" \
    "$(awk -v a="$rgw0" -v b="$rgw1" -v t="$CLK_TCK" 'BEGIN {print (b - a) / t}')" \
    "$(awk -v a="$osd0" -v b="$osd1" -v t="$CLK_TCK" 'BEGIN {print (b - a) / t}')" \
    "$(awk -v a="$all0" -v b="$all1" -v t="$CLK_TCK" 'BEGIN {print (b - a) / t}')" >>"$state/raw.tsv"
  say "  $transport run $n: $(awk -v w="$wall" -v c="$count" -v b="$bytes" -v r="$rss" -v u="$user" -v s="$sys" \
    'BEGIN {printf "%.2f s, %.1f objects/s, %.1f MiB/s, client CPU %.2f s, peak RSS %.1f MiB", w, c / w, b / 1048576 / w, u + s, r / 1024}')"
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
    # In turns: http undici, undici http, http undici, ...
    if ((n % 2)); then order="http undici"; else order="undici http"; fi
    for t in $order; do measure "$t" "$c" "$n" "$src" "$count" "$bytes"; done
  done
  tool_src rmbucket "$src"
  gc_now
done
total=$((SECONDS - started))

# --- report ------------------------------------------------------------------------------------
results=bench/results-transport.md
python3 bench/transport-report.py "$state/raw.tsv" "$root/$results" \
  "args=$args_shown" "total=$total" "load=$load_at_start" "nproc=$(nproc)" \
  "machine=$(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM" \
  "node=$(node --version)" "ceph=$(ceph --version | awk '{print $3, $5}')" \
  "undici=$(node -p "require('./node_modules/undici/package.json').version")" \
  "s3s3=$(node -p "require('./package.json').version")" \
  "commit=$commit_at_start" "runs=$runs"
say "results written to $results (raw numbers and logs: $state)"
