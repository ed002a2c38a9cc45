#!/usr/bin/env bash
# Start/stop an OpenStack Swift all-in-one with the s3api middleware on loopback
# for the integration tests (Debian packages swift, swift-proxy, swift-account,
# swift-container, swift-object, python3-swift, memcached).
#
#   bash test/servers/swift.sh start STATE_DIR   # prints the S3_* lines of STATE_DIR/env
#   bash test/servers/swift.sh stop STATE_DIR    # idempotent
#
# Everything (config, rings, data, logs, pids) lives in STATE_DIR; /etc/swift,
# /srv and /var/cache/swift are never touched, so several instances can run at
# once. Daemons: memcached, account, container and object servers, and one
# proxy (s3api + tempauth), each a single process bound to 127.0.0.1 on a free
# port. No systemd, no syslog.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Debian's interpreter on purpose: a pyenv "python3" earlier on PATH has no swift.
PY=/usr/bin/python3
START_TIMEOUT=60

log() { echo "swift: $*" >&2; }
die() { log "error: $*"; exit 1; }

usage() { echo "usage: $0 start|stop STATE_DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
CMD=$1
case "$CMD" in
  start) mkdir -p "$2" ;;
  stop) [ -d "$2" ] || { log "not running ($2 does not exist)"; exit 0; } ;;
  *) usage ;;
esac
STATE="$(cd "$2" && pwd -P)"
# Every daemon is started with this variable in its environment; stop only
# kills PIDs whose /proc/PID/environ carries it, so a recycled PID is safe.
TAG="S3S3_SWIFT_STATE=$STATE"

is_ours() {
  local env
  # Empty for zombies and gone for dead processes: neither counts as running.
  env=$(tr '\0' '\n' 2>/dev/null <"/proc/$1/environ") || return 1
  grep -qxF "$TAG" <<<"$env"
}

our_live_pids() {
  [ -f "$STATE/pids" ] || return 0
  local pid
  while read -r pid; do
    [ -n "$pid" ] && is_ours "$pid" && echo "$pid"
  done <"$STATE/pids"
  return 0
}

stop() {
  local pids pid i
  pids=$(our_live_pids)
  [ -n "$pids" ] || { log "not running ($STATE)"; return 0; }
  log "stopping $(echo $pids)"
  for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
  for i in $(seq 50); do            # up to 5 s for a clean exit
    pids=$(our_live_pids)
    [ -n "$pids" ] || break
    sleep 0.1
  done
  for pid in $pids; do
    is_ours "$pid" || continue
    log "pid $pid ignored TERM, sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
  done
  log "stopped"
  return 0
}

tail_logs() {
  local f
  for f in "$STATE"/log/*.log; do
    [ -s "$f" ] || continue
    echo "----- $f" >&2
    tail -n 25 "$f" >&2
  done
}

fail() {
  log "error: $*"
  tail_logs
  stop
  exit 1
}

# SigV2-signed ListBuckets: 200 means proxy, s3api, tempauth, memcached and
# the account server all work. (curl --aws-sigv4 cannot use the ':' in the
# access key, so sign by hand.)
s3_probe() {
  local date sig
  date=$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S GMT')
  sig=$(printf 'GET\n\n\n%s\n/' "$date" | openssl dgst -sha1 -hmac testing -binary | base64)
  curl -s -o /dev/null -m 5 -w '%{http_code}' \
    -H "Date: $date" -H "Authorization: AWS test:tester:$sig" \
    "http://127.0.0.1:$PROXY_PORT/" || true
}

# Any HTTP answer at all (even 400) means the backend server is listening.
http_up() {
  local code
  code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/" || true)
  [ -n "$code" ] && [ "$code" != 000 ]
}

write_configs() {
  # Fixed hash prefix/suffix: the data is throwaway and never shared.
  cat >"$STATE/swift.conf" <<EOF
[swift-hash]
swift_hash_path_prefix = s3s3-test
swift_hash_path_suffix = s3s3-test

[storage-policy:0]
name = Policy-0
default = yes
EOF

  # Settings shared by all four servers.
  local common
  common=$(cat <<EOF
bind_ip = 127.0.0.1
# workers = 0: serve in the launcher process itself (no forked children),
# so the PID we record is the server.
workers = 0
# Rings and swift.conf come from here, not /etc/swift.
swift_dir = $STATE
# The device "d1" is a plain directory, not a mount point.
devices = $STATE/data
mount_check = false
# fallocate and its free-space reserve only cause spurious 507s on small /tmp.
disable_fallocate = true
fallocate_reserve = 0
recon_cache_path = $STATE/cache
# Fail fast instead of retrying 30 s if the port was taken after we picked it.
bind_timeout = 3
EOF
)

  local server
  for server in account container object; do
    local port_var="${server^^}_PORT"
    cat >"$STATE/$server-server.conf" <<EOF
[DEFAULT]
bind_port = ${!port_var}
$common

[pipeline:main]
pipeline = $server-server

[app:$server-server]
use = egg:swift#$server
# The proxy logs every request already; backends log only problems.
log_requests = false
EOF
  done

  cat >"$STATE/proxy-server.conf" <<EOF
[DEFAULT]
bind_port = $PROXY_PORT
$common

[pipeline:main]
# Order as in Swift's proxy-server.conf-sample, with s3api right before its
# auth (tempauth), and slo after s3api (s3api needs slo for multipart uploads).
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo versioned_writes proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
# tempauth accounts are not created by anyone else.
account_autocreate = true

[filter:s3api]
use = egg:swift#s3api
# Region for SigV4 credential scopes and GetBucketLocation; the SDK signs
# us-east-1. Path-style is always served (no storage_domain, so the Host header
# 127.0.0.1:PORT is never taken for a bucket name).
location = us-east-1
# AWS allows 10000 parts (default 1000); slo must accept as many segments.
max_upload_part_num = 10000
# 1000 keys per listing page, like AWS (this is also s3api's default).
max_bucket_listing = 1000
# check_bucket_owner stays at its default (false).

[filter:tempauth]
use = egg:swift#tempauth
# S3 access key test:tester, secret testing. .admin lets it create buckets.
user_test_tester = testing .admin

[filter:cache]
use = egg:swift#memcache
# Our own memcached (tempauth caches tokens there; errors on every request without it).
memcache_servers = 127.0.0.1:$MEMCACHED_PORT

[filter:slo]
use = egg:swift#slo
# A completed multipart upload is an SLO manifest with one segment per part.
max_manifest_segments = 10000
# Default 8 MiB is too small for 10000 segments with long keys.
max_manifest_size = 33554432

[filter:dlo]
use = egg:swift#dlo

[filter:copy]
use = egg:swift#copy

[filter:versioned_writes]
use = egg:swift#versioned_writes

[filter:bulk]
use = egg:swift#bulk

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats
EOF
}

# Run one Swift server in the background and record its PID.
launch() {
  # stdout/stderr catch anything printed before Swift's logging is set up.
  "$PY" "$HERE/swift_aio.py" serve "$STATE" "$1" "$STATE/log/$1.log" \
    </dev/null >>"$STATE/log/$1.log" 2>&1 &
  echo $! >>"$STATE/pids"
}

start() {
  local t0 pids
  t0=$(date +%s%N)
  pids=$(our_live_pids)
  [ -z "$pids" ] || die "already running in $STATE (pids $(echo $pids)); stop it first"
  command -v memcached >/dev/null || die "memcached not installed"
  "$PY" -c 'import swift' 2>/dev/null || die "python3-swift not installed for $PY"

  # Interrupted half-way: do not leave daemons behind.
  trap 'fail "interrupted"' INT TERM
  rm -f "$STATE/pids" "$STATE/env"
  mkdir -p "$STATE/data/d1" "$STATE/log" "$STATE/cache"

  # Five distinct free ports: all sockets are held open together so that no
  # two of ours collide. (Another process could still grab one before our
  # daemon binds it; the daemon then dies and start fails fast, bind_timeout.)
  read -r PROXY_PORT ACCOUNT_PORT CONTAINER_PORT OBJECT_PORT MEMCACHED_PORT < <("$PY" -c '
import socket
socks = [socket.socket() for _ in range(5)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
  log "ports: proxy=$PROXY_PORT account=$ACCOUNT_PORT container=$CONTAINER_PORT object=$OBJECT_PORT memcached=$MEMCACHED_PORT"

  write_configs

  export S3S3_SWIFT_STATE="$STATE"
  # eventlet's green DNS costs ~0.4 s of imports per process, and every
  # address here is a literal 127.0.0.1.
  export EVENTLET_NO_GREENDNS=yes

  # -U 0: no UDP listener; -t 1: one worker thread is plenty for tests.
  # memcached refuses to run as root without -u.
  local user_opt=()
  [ "$(id -u)" != 0 ] || user_opt=(-u root)
  memcached -l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0 -t 1 -m 64 "${user_opt[@]}" \
    </dev/null >>"$STATE/log/memcached.log" 2>&1 &
  echo $! >>"$STATE/pids"

  # Account, container and object servers do not read the rings, so they boot
  # while the rings are built; the proxy needs the rings and comes last.
  local server
  for server in account container object; do launch "$server"; done
  "$PY" "$HERE/swift_aio.py" rings "$STATE" "$ACCOUNT_PORT" "$CONTAINER_PORT" "$OBJECT_PORT" \
    >"$STATE/log/rings.log" 2>&1 || fail "building rings failed"
  launch proxy
  unset S3S3_SWIFT_STATE EVENTLET_NO_GREENDNS
  log "started pids $(echo $(cat "$STATE/pids")), waiting for http://127.0.0.1:$PROXY_PORT"

  local deadline code pid port ok
  deadline=$(( $(date +%s) + START_TIMEOUT ))
  while :; do
    while read -r pid; do
      is_ours "$pid" || fail "daemon pid $pid exited during startup"
    done <"$STATE/pids"
    ok=1
    for port in "$ACCOUNT_PORT" "$CONTAINER_PORT" "$OBJECT_PORT"; do
      http_up "$port" || { ok=0; break; }
    done
    if [ $ok = 1 ]; then
      code=$(s3_probe)
      [ "$code" != 200 ] || break
    fi
    [ "$(date +%s)" -lt "$deadline" ] || fail "S3 endpoint not ready after ${START_TIMEOUT}s (last S3 status: ${code:-none})"
    sleep 0.2
  done

  cat >"$STATE/env" <<EOF
S3_NAME=swift
S3_ENDPOINT=http://127.0.0.1:$PROXY_PORT
S3_ACCESS_KEY=test:tester
S3_SECRET_KEY=testing
S3_REGION=us-east-1
SWIFT_AUTH_URL=http://127.0.0.1:$PROXY_PORT/auth/v1.0
SWIFT_USER=test:tester
SWIFT_KEY=testing
EOF
  log "ready in $(( ($(date +%s%N) - t0) / 1000000 )) ms; logs in $STATE/log"
  cat "$STATE/env"
}

case "$CMD" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
