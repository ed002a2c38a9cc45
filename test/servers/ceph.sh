#!/usr/bin/env bash
# Start/stop a throw-away single-node Ceph RGW (S3) on loopback for integration tests.
#
#   bash test/servers/ceph.sh start STATE_DIR   # prints S3_* lines (also written to STATE_DIR/env)
#                                               # S3_TLS_ENDPOINT: the same RGW over https, with a
#                                               # certificate from a private CA (S3_CA_FILE)
#   bash test/servers/ceph.sh stop  STATE_DIR   # idempotent
#
# One mon, one memstore OSD and radosgw (beast), cephx off. Everything (config, keyring, mon store,
# OSD dump, sockets, pid files, logs) lives in STATE_DIR; every ceph tool gets `-c STATE_DIR/ceph.conf`
# so nothing in /etc/ceph, /var/lib/ceph, /var/run/ceph or /var/log/ceph is read or written.
# Ports are picked free at start, so several instances can run side by side.
# Needs the Debian packages ceph-mon ceph-osd radosgw ceph-common, plus curl, openssl and python3.
set -euo pipefail
# shellcheck source=test-ca.sh
. "$(dirname "$0")/test-ca.sh"

ACCESS_KEY=s3s3test
SECRET_KEY=s3s3testsecret
READY_TIMEOUT=${CEPH_READY_TIMEOUT:-90} # seconds for the whole start, daemons included

log() { echo "ceph: $*" >&2; }

usage() {
  echo "usage: $0 start|stop STATE_DIR" >&2
  exit 2
}

free_port() {
  python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

# True if PID is alive and is one of our daemons (guards against PID reuse after a reboot/long gap).
is_ours() {
  local pid=$1 comm stat
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ] || return 1 # exited, not yet reaped
  case $comm in ceph-mon | ceph-osd | radosgw) return 0 ;; *) return 1 ;; esac
}

# TERM the given PIDs, wait up to 5 s for them to exit, then KILL what is left.
term_wait_kill() {
  local pid i alive
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  for i in $(seq 1 50); do
    alive=()
    for pid in "$@"; do is_ours "$pid" && alive+=("$pid"); done
    [ ${#alive[@]} -gt 0 ] || return 0
    sleep 0.1
  done
  kill -KILL "${alive[@]}" 2>/dev/null || true
  for i in $(seq 1 20); do
    is_ours_any "${alive[@]}" || return 0
    sleep 0.1
  done
}

is_ours_any() {
  local pid
  for pid in "$@"; do is_ours "$pid" && return 0; done
  return 1
}

stop() {
  local dir=$1 pid rgw=() rados=()
  [ -f "$dir/pids" ] || return 0
  while read -r pid; do
    [ -n "$pid" ] && is_ours "$pid" || continue
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = radosgw ]; then rgw+=("$pid"); else rados+=("$pid"); fi
  done <"$dir/pids"
  # radosgw first: once the OSD and mon are gone its shutdown blocks (up to its 120 s alarm);
  # with the cluster still up it exits in well under a second.
  term_wait_kill "${rgw[@]}"
  term_wait_kill "${rados[@]}"
  return 0
}

# Called on any failure during start: show why, kill what we started, exit 1.
fail() {
  local f
  log "ERROR: $*"
  for f in "$STATE"/log/*.log "$STATE"/log/*.out; do
    [ -s "$f" ] || continue
    echo "ceph: ---- tail of $f" >&2
    tail -n 25 "$f" >&2
  done
  stop "$STATE"
  exit 1
}

remaining() { echo $((DEADLINE - SECONDS)); }

# Run a ceph CLI command against this cluster, bounded by what is left of the deadline.
cephcli() {
  local left
  left=$(remaining)
  [ "$left" -gt 0 ] || return 124
  timeout "$left" ceph -c "$CONF" --connect-timeout 10 "$@"
}

# Launch a daemon in the foreground mode (-f) but in the background of this shell, with its
# stdout/stderr in a file (never our stdout: a caller reading it would wait on the pipe forever).
launch() {
  local name=$1
  shift
  "$@" </dev/null >"$STATE/log/$name.out" 2>&1 &
  echo $! >>"$STATE/pids"
  log "started $name (pid $!)"
}

start() {
  STATE=$1
  DEADLINE=$((SECONDS + READY_TIMEOUT))
  # Reuse a dir only if it is empty or an earlier instance's (never wipe someone else's files).
  if [ -f "$STATE/ceph.conf" ]; then
    stop "$STATE"
    rm -rf "${STATE:?}"/*
  elif [ -d "$STATE" ] && [ -n "$(ls -A "$STATE")" ]; then
    log "ERROR: $STATE exists, is not empty and is not a ceph.sh state dir"
    exit 1
  fi
  mkdir -p "$STATE"
  STATE=$(cd "$STATE" && pwd) # absolute: paths go into ceph.conf
  CONF=$STATE/ceph.conf
  mkdir -p "$STATE/mon" "$STATE/osd" "$STATE/run" "$STATE/log" "$STATE/crash" "$STATE/rgw" "$STATE/tmp"
  : >"$STATE/pids"
  local fsid osd_uuid mon_port rgw_port tls_port t0=$SECONDS
  fsid=$(uuidgen)
  osd_uuid=$(uuidgen)
  mon_port=$(free_port)
  rgw_port=$(free_port)
  while [ "$rgw_port" = "$mon_port" ]; do rgw_port=$(free_port); done
  tls_port=$(free_port)
  while [ "$tls_port" = "$mon_port" ] || [ "$tls_port" = "$rgw_port" ]; do tls_port=$(free_port); done
  log "state in $STATE, mon on 127.0.0.1:$mon_port, S3 on 127.0.0.1:$rgw_port, https on 127.0.0.1:$tls_port"
  make_test_ca "$STATE/tls" || fail "openssl could not make the test CA (see $STATE/tls/openssl.out)"

  cat >"$CONF" <<EOF
[global]
fsid = $fsid
# msgr2 only: one mon port, and daemons bind no v1 ports either.
mon host = [v2:127.0.0.1:$mon_port]
ms bind msgr1 = false
public addr = 127.0.0.1
cluster addr = 127.0.0.1
mon initial members = a

# No cephx. With auth none, clients' default mon mode "secure" cannot be negotiated and radosgw
# hangs for 300 s then exits; allowing crc fixes that.
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
# Fail fast instead of waiting 300 s when a mon is unreachable.
client mount timeout = 30

# Every path a daemon or tool would write, kept inside the state dir.
run dir = $STATE/run
admin socket = $STATE/run/\$cluster-\$name.\$pid.asok
pid file = $STATE/run/\$name.pid
log file = $STATE/log/\$name.log
mon cluster log file = $STATE/log/cluster.log
crash dir = $STATE/crash
tmp dir = $STATE/tmp
keyring = $STATE/keyring
mon data = $STATE/mon/\$name
osd data = $STATE/osd/\$name
rgw data = $STATE/rgw/\$name
log to syslog = false
err to syslog = false
clog to syslog = false
mon cluster log to syslog = false

# One OSD: pools of size 1 and few PGs, autoscaler off, so radosgw's ~7 pools stay well under
# mon_max_pg_per_osd (250) and every PG goes active at once.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
# Replicas would be spread across hosts by default; there is one host (and one replica).
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
# The mon stops itself below 5% free disk by default; a test box may be fuller than that.
mon data avail crit = 1
mon data avail warn = 2

[mon]
# Nothing is ever marked out/down by timeouts in a test run.
mon osd down out interval = 0
# Each map change (radosgw creates its pools one by one at start and on the first bucket) waits
# for the next Paxos proposal, 1 s apart by default: ~2 s per pool. A single mon needs no batching.
paxos propose interval = 0.05
paxos min wait = 0.01

[osd]
# RAM-only object store: no disk I/O, fastest mkfs and start. Sized for the resume test's 1 GiB
# objects (source, a killed upload's parts, the copy) beside the rest of the suite and the
# deleted data waiting for GC; memory is taken as objects are written, not up front.
osd objectstore = memstore
memstore device bytes = 10737418240
# (osd memory target only drives BlueStore's cache autotuning; memstore ignores it.)
# A memstore OSD dumps all its data to osd data on a clean shutdown; skip that, data is throwaway.
osd fast shutdown = true
# On TERM the OSD first tells the mon it is going down and waits up to 5 s for an answer; "ceph.sh stop"
# kills the mon at the same moment, so that would always be a 5 s wait.
osd fast shutdown notify mon = false
osd mon shutdown timeout = 1
# Fewer threads for a 2-core box.
osd op num shards = 1
osd op num threads per shard = 2

[client]
# radosgw usually starts before the OSD has booted; its first pool reads then wait for the
# objecter's next tick (every 5 s) to fetch the new osdmap. Ticking faster saves those seconds.
objecter tick interval = 0.5
# radosgw: beast bound to loopback only; path-style addressing because no rgw dns name is set.
# The same gateway over https too, with a certificate from the private CA in tls/.
rgw frontends = beast endpoint=127.0.0.1:$rgw_port ssl_endpoint=127.0.0.1:$tls_port ssl_certificate=$STATE/tls/server.pem ssl_private_key=$STATE/tls/server.key
# Deleting or overwriting an object frees only its head at once; the rest (4 MiB stripes) waits for
# garbage collection, by default 2 h later. The memstore OSD would fill up long before that.
rgw gc obj min wait = 30
rgw gc processor period = 10
# No usage/ops logging to RADOS; keep request logging in the log file only.
rgw enable usage log = false
rgw enable ops log = false
EOF

  # --- monitor -------------------------------------------------------------------------------------
  # Even with auth none, mkfs of the mon and osd read a keyring.
  ceph-authtool -C "$STATE/keyring" -g -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$STATE/keyring" -g -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
    --cap mgr 'allow *' >/dev/null
  monmaptool --create --clobber --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$STATE/monmap" \
    >"$STATE/log/monmaptool.out" 2>&1 || fail "monmaptool failed"
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$STATE/monmap" --keyring "$STATE/keyring" \
    >"$STATE/log/mon-mkfs.out" 2>&1 || fail "ceph-mon --mkfs failed"
  launch mon.a ceph-mon -c "$CONF" -i a -f

  # --- OSD: mkfs needs no mon, so do it while the mon comes up --------------------------------------
  mkdir -p "$STATE/osd/osd.0"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$STATE/log/osd-mkfs.out" 2>&1 \
    || fail "ceph-osd --mkfs failed"
  # Register id 0 with that uuid in the osdmap (waits for the mon to be reachable).
  local id
  id=$(cephcli osd new "$osd_uuid" 0 2>"$STATE/log/osd-new.out") || fail "could not reach the mon to register the OSD (see osd-new.out)"
  [ "$id" = 0 ] || fail "ceph osd new returned '$id', expected 0"
  launch osd.0 ceph-osd -c "$CONF" -i 0 -f

  # --- radosgw -------------------------------------------------------------------------------------
  # It creates its pools itself and blocks until their PGs are active, i.e. until the OSD is up.
  launch client.rgw.a radosgw -c "$CONF" -n client.rgw.a -f

  local code=000
  while :; do
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$rgw_port/" || true)
    [ "$code" != 000 ] && break
    [ "$(remaining)" -gt 0 ] || fail "S3 endpoint http://127.0.0.1:$rgw_port/ not answering after ${READY_TIMEOUT}s"
    local pid
    while read -r pid; do
      is_ours "$pid" || fail "a daemon (pid $pid) exited during start"
    done <"$STATE/pids"
    sleep 0.25
  done
  log "S3 endpoint answers (HTTP $code) after $((SECONDS - t0))s"
  code=$(curl -s -o /dev/null -m 5 --cacert "$STATE/tls/ca.pem" -w '%{http_code}' "https://127.0.0.1:$tls_port/" || true)
  [ "$code" != 000 ] || fail "the https endpoint https://127.0.0.1:$tls_port/ does not answer with the test CA"

  # --- S3 user -------------------------------------------------------------------------------------
  [ "$(remaining)" -gt 0 ] || fail "no time left to create the S3 user"
  timeout "$(remaining)" radosgw-admin -c "$CONF" user create --uid=s3s3test --display-name="s3s3 test" \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >"$STATE/log/user-create.out" 2>&1 \
    || fail "radosgw-admin user create failed"
  log "user $ACCESS_KEY created; ready after $((SECONDS - t0))s"

  # --- a second storage class (COLD), for the storage_class tests ----------------------------------
  # radosgw made the default zonegroup and zone; it reads their placement only when it starts,
  # so it is restarted once the class is added.
  timeout "$(remaining)" radosgw-admin -c "$CONF" zonegroup placement add --rgw-zonegroup default \
    --placement-id default-placement --storage-class COLD >"$STATE/log/placement.out" 2>&1 \
    || fail "radosgw-admin zonegroup placement add failed (see placement.out)"
  timeout "$(remaining)" radosgw-admin -c "$CONF" zone placement add --rgw-zone default \
    --placement-id default-placement --storage-class COLD --data-pool default.rgw.cold.data \
    >>"$STATE/log/placement.out" 2>&1 || fail "radosgw-admin zone placement add failed (see placement.out)"
  local rgw_pid
  rgw_pid=$(tail -n 1 "$STATE/pids")
  kill "$rgw_pid" 2>/dev/null || true
  while kill -0 "$rgw_pid" 2>/dev/null; do
    [ "$(remaining)" -gt 0 ] || fail "radosgw (pid $rgw_pid) did not stop for its restart"
    sleep 0.1
  done
  sed -i "/^$rgw_pid\$/d" "$STATE/pids"
  # Its own log name: the first radosgw's log stays for a post-mortem.
  launch client.rgw.a.restarted radosgw -c "$CONF" -n client.rgw.a -f
  code=000
  while [ "$code" = 000 ]; do
    [ "$(remaining)" -gt 0 ] || fail "S3 endpoint not answering after radosgw's restart"
    sleep 0.25
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$rgw_port/" || true)
  done
  code=$(curl -s -o /dev/null -m 5 --cacert "$STATE/tls/ca.pem" -w '%{http_code}' "https://127.0.0.1:$tls_port/" || true)
  [ "$code" != 000 ] || fail "the https endpoint does not answer after radosgw's restart"
  log "storage class COLD added; radosgw restarted; ready after $((SECONDS - t0))s"

  cat >"$STATE/env" <<EOF
S3_NAME=ceph
S3_ENDPOINT=http://127.0.0.1:$rgw_port
S3_ACCESS_KEY=$ACCESS_KEY
S3_SECRET_KEY=$SECRET_KEY
S3_REGION=us-east-1
S3_TLS_ENDPOINT=https://127.0.0.1:$tls_port
S3_CA_FILE=$STATE/tls/ca.pem
EOF
  cat "$STATE/env"
}

[ $# -eq 2 ] || usage
case $1 in
  start) start "$2" ;;
  stop) stop "$2" ;;
  *) usage ;;
esac
