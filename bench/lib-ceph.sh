# Shared by bench/duplicate.sh and bench/transport.sh (sourced, not run): the packages, a
# snapshot of the build, a Ceph RGW of the bench's own on loopback with a second user, the CPU
# counters of its daemons and of the machine, the S3 helper, the config of one sweep, the
# figures of /usr/bin/time -v, and the cases. Needs `root` (the repository) set and the
# current directory there.

say() { echo "bench: $*" >&2; }
die() {
  say "FAILED: $*"
  exit 1
}

# bench_install_missing PACKAGE...: apt-get install what is missing (as root), else say what to install.
bench_install_missing() {
  local missing=() p
  for p in "$@"; do
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

# bench_prepare LABEL: npm ci if needed, the build (unless BENCH_SKIP_BUILD), the state dir
# (BENCH_STATE, kept; else a temporary one), a snapshot of dist/ in it (a rebuild by someone
# else during the bench must not change the code measured), `node_flags` (those of the bin's
# first line: the command as users run it), `commit_at_start`, and the cleanup on exit.
bench_prepare() {
  if [[ ! -d node_modules ]]; then
    say "npm ci"
    npm ci --no-audit --no-fund >&2
  fi
  if [[ -z ${BENCH_SKIP_BUILD:-} ]]; then
    say "building"
    npm run --silent build >&2
  fi
  [[ -f dist/scripts/bucket.js ]] || die "dist/scripts/bucket.js missing: run npm run build"
  read -ra node_flags <<<"$(head -n1 dist/scripts/bucket.js | sed -E 's/^#!.*[/ ]node ?//')"
  export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
  if [[ -n ${BENCH_STATE:-} ]]; then
    state=$BENCH_STATE
    mkdir -p "$state"
  else
    state=$(mktemp -d "/tmp/s3s3-bench-$1.XXXXXX")
  fi
  state=$(cd "$state" && pwd)
  rm -rf "$state/app"
  mkdir -p "$state/app"
  cp -r dist "$state/app/dist"
  cp package.json "$state/app/package.json"
  ln -s "$root/node_modules" "$state/app/node_modules"
  export S3S3_BENCH_DIST=$state/app/dist
  commit_at_start="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git status --porcelain -- src 2>/dev/null | grep -q . && echo ' + uncommitted changes in src/' || true)"
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  bash "$root/test/servers/ceph.sh" stop "$state/ceph" >/dev/null 2>&1 || true
  [[ -n ${BENCH_STATE:-} ]] || rm -rf "$state"
}

# bench_start_ceph stream|server-side: Ceph RGW in $state/ceph; SRC_KEY/SRC_SECRET, and
# DST_KEY/DST_SECRET of a second user (stream: no tool can copy server-side) or the same one;
# `conf`, RGW_PID, OSD_PID, CLK_TCK.
bench_start_ceph() {
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
  if [[ $1 == stream ]]; then
    DST_KEY=s3s3bench2
    DST_SECRET=s3s3bench2secret
    radosgw-admin -c "$conf" user create --uid=s3s3bench2 --display-name="s3s3 bench destination" \
      --access-key="$DST_KEY" --secret-key="$DST_SECRET" >"$state/user2.log" 2>&1 || die "radosgw-admin user create failed"
  else
    DST_KEY=$SRC_KEY
    DST_SECRET=$SRC_SECRET
  fi
  RGW_PID=$(pid_of radosgw)
  OSD_PID=$(pid_of ceph-osd)
  CLK_TCK=$(getconf CLK_TCK)
}

pid_of() { # pid of our daemon named $1
  local p
  while read -r p; do
    [[ "$(cat "/proc/$p/comm" 2>/dev/null)" == "$1" ]] && {
      echo "$p"
      return
    }
  done <"$state/ceph/pids"
}
busy_ticks() { # CPU ticks the whole machine spent busy (not idle, not iowait), all CPUs
  awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat
}
cpu_ticks() { # utime+stime of pid $1, in clock ticks
  local s
  s=$(cat "/proc/$1/stat")
  s=${s##*) }
  awk '{print $12 + $13}' <<<"$s"
}
ticks_seconds() { # seconds between two tick counts
  awk -v a="$1" -v b="$2" -v t="$CLK_TCK" 'BEGIN {print (b - a) / t}'
}

tool_src() { S3_ACCESS_KEY=$SRC_KEY S3_SECRET_KEY=$SRC_SECRET node bench/s3tool.mjs "$@"; }
tool_dst() { S3_ACCESS_KEY=$DST_KEY S3_SECRET_KEY=$DST_SECRET node bench/s3tool.mjs "$@"; }
# Deleted objects' tails wait for RGW's garbage collector; run it now, so the memstore OSD
# (4 GiB) has room and no GC work overlaps the next measurement.
gc_now() { radosgw-admin -c "$conf" gc process --include-all >>"$state/gc.log" 2>&1 || say "warning: gc process failed"; }

write_ini() { # file src_bucket dst_bucket: one sweep's config, concurrency 16
  (
    umask 077
    cat >"$1" <<INI
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
INI
  )
  chmod 600 "$1"
}

# time_fields FILE: wall, rss (KiB), user, sys of a /usr/bin/time -v report.
time_fields() {
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$1")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$1")
  user=$(awk -F': ' '/User time \(seconds\)/ {print $2}' "$1")
  sys=$(awk -F': ' '/System time \(seconds\)/ {print $2}' "$1")
}

# bench_case a|b|c: count size prefix seedconc label of the case.
bench_case() {
  case $1 in
    a) count=2000 size=4096 prefix=small/ seedconc=32 label="2000 x 4 KiB" ;;
    b) count=8 size=$((64 * 1024 * 1024)) prefix=medium/ seedconc=8 label="8 x 64 MiB" ;;
    c) count=1 size=$((1024 * 1024 * 1024)) prefix=large/ seedconc=1 label="1 x 1 GiB" ;;
  esac
  bytes=$((count * size))
}

# bench_seed SRC_BUCKET: the case's objects in a fresh source bucket.
bench_seed() {
  say "case $c ($label): seeding $1"
  local t0=$SECONDS
  tool_src mkbucket "$1"
  tool_src seed "$1" "$prefix" "$count" "$size" "$seedconc"
  [[ "$(tool_src count "$1")" == "$count $bytes" ]] || die "seeding $1 went wrong"
  say "  seeded in $((SECONDS - t0)) s"
}

# The report's facts about the machine and the software, as report.py's key=value arguments.
bench_meta() {
  printf '%s\n' "nproc=$(nproc)" \
    "machine=$(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM" \
    "node=$(node --version)" "ceph=$(ceph --version | awk '{print $3, $5}')" \
    "s3s3=$(node -p "require('./package.json').version")" "commit=$commit_at_start"
}

# bench_in_turns CASES RUNS A B: per case, a fresh source, then RUNS rounds of the caller's
# `measure TOOL CASE RUN SRC COUNT BYTES` for A and B in turns (A B, B A, A B, ...), so neither
# always runs right after the seeding.
bench_in_turns() {
  local n t order
  for c in $(grep -o . <<<"$1"); do
    bench_case "$c"
    src="src-$c"
    bench_seed "$src"
    for n in $(seq 1 "$2"); do
      if ((n % 2)); then order="$3 $4"; else order="$4 $3"; fi
      for t in $order; do measure "$t" "$c" "$n" "$src" "$count" "$bytes"; done
    done
    tool_src rmbucket "$src"
    gc_now
  done
}
