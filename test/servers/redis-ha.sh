#!/usr/bin/env bash
# Starts/stops a throwaway Redis that can fail over, on free loopback ports, all state in STATE_DIR.
#   bash test/servers/redis-ha.sh start STATE_DIR sentinel   -> 1 master, 2 replicas, 3 sentinels (`mymaster`, quorum 2)
#   bash test/servers/redis-ha.sh start STATE_DIR cluster    -> Redis Cluster, 3 masters with 1 replica each
#   bash test/servers/redis-ha.sh stop STATE_DIR [sentinel|cluster]
# Optional: REDIS_HA_PASSWORD (the data nodes' requirepass/masterauth) and, for sentinel,
# REDIS_HA_SENTINEL_PASSWORD (the sentinels' own requirepass, separate as in production).
# STATE_DIR/env gets REDIS_HA_MODE, REDIS_HA_NODES (every data node, host:port, comma-separated),
# REDIS_HA_PASSWORD and, per mode, REDIS_SENTINELS + REDIS_SENTINEL_NAME (+ REDIS_SENTINEL_PASSWORD)
# or REDIS_CLUSTER_NODES. Each process has its own directory STATE_DIR/<role>-<port> holding its
# config file (Sentinel and Cluster rewrite theirs on failover), pid file and log; the config file
# alone restarts a node (`redis-server STATE_DIR/<role>-<port>/redis.conf`).
# Timings are short so a failover takes a few seconds: down-after / cluster-node-timeout 1000 ms.
set -euo pipefail
usage="usage: redis-ha.sh start|stop STATE_DIR sentinel|cluster"
cmd=${1:?$usage}
dir=${2:?$usage}
mode=${3:-}

# N distinct free ports: every socket stays bound until all are chosen, so no two are equal.
free_ports() {
  python3 -c '
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

password=${REDIS_HA_PASSWORD:-}
sentinel_password=${REDIS_HA_SENTINEL_PASSWORD:-}

# redis-cli against a data node / a sentinel, the password through the environment (no warning line).
# An empty REDISCLI_AUTH would still send AUTH, which a server without a password refuses.
with_auth() { # PASSWORD COMMAND...
  if [ -n "$1" ]; then REDISCLI_AUTH=$1 "${@:2}"; else "${@:2}"; fi
}
cli() { with_auth "$password" redis-cli -h 127.0.0.1 -p "$1" "${@:2}"; }
scli() { with_auth "$sentinel_password" redis-cli -h 127.0.0.1 -p "$1" "${@:2}"; }

# Polls COMMAND... every 0.1 s for up to SECONDS; returns its status.
wait_until() {
  local seconds=$1
  shift
  local i
  for ((i = 0; i < seconds * 10; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  "$@"
}

fail() {
  echo "redis-ha: $1; logs in $dir" >&2
  exit 1
}

# The settings every data node shares: no persistence (a restarted node resyncs from its master),
# diskless replication without the 5 s default delay so replicas come up in well under a second.
data_conf() { # PORT NODE_DIR
  cat <<EOF
bind 127.0.0.1
port $1
daemonize yes
pidfile $2/redis.pid
logfile $2/redis.log
dir $2
save ""
appendonly no
repl-diskless-sync yes
repl-diskless-sync-delay 0
repl-ping-replica-period 1
EOF
  if [ -n "$password" ]; then
    printf 'requirepass "%s"\nmasterauth "%s"\n' "$password" "$password"
  fi
}

# Starts the node whose config file is in NODE_DIR and waits for PONG (--daemonize returns once forked).
start_node() { # NODE_DIR PORT PING
  redis-server "$1/redis.conf" >/dev/null
  wait_until 10 "$3" "$2" || fail "node $2 did not start"
}
ping_data() { cli "$1" ping 2>/dev/null | grep -q PONG; }
ping_sentinel() { scli "$1" ping 2>/dev/null | grep -q PONG; }

replica_synced() { cli "$1" info replication 2>/dev/null | tr -d '\r' | grep -q '^master_link_status:up'; }

# A sentinel is ready when it knows both replicas and both other sentinels and sees a quorum.
sentinel_ready() {
  local p=$1 out
  out=$(scli "$p" sentinel master mymaster 2>/dev/null | tr -d '\r' | paste -sd' ') || return 1
  [[ " $out " == *" num-slaves 2 "* && " $out " == *" num-other-sentinels 2 "* ]] || return 1
  scli "$p" sentinel ckquorum mymaster 2>/dev/null | grep -q '^OK'
}

cluster_node_ok() { cli "$1" cluster info 2>/dev/null | tr -d '\r' | grep -q '^cluster_state:ok'; }
# Every node sees 3 masters and 3 replicas, none flagged failing or handshaking, every link connected.
cluster_nodes_settled() {
  local nodes
  nodes=$(cli "$1" cluster nodes 2>/dev/null) || return 1
  awk '$3 ~ /master/ { m++ } $3 ~ /slave/ { s++ } $3 ~ /fail|handshake|noaddr/ || $8 != "connected" { bad++ }
    END { exit !(m == 3 && s == 3 && bad == 0) }' <<<"$nodes"
}

start_sentinel() {
  local master r1 r2 s1 s2 s3 p d
  read -r master r1 r2 s1 s2 s3 <<<"$(free_ports 6)"
  for p in "$master" "$r1" "$r2"; do
    d="$dir/data-$p"
    mkdir -p "$d"
    data_conf "$p" "$d" >"$d/redis.conf"
    [ "$p" = "$master" ] || echo "replicaof 127.0.0.1 $master" >>"$d/redis.conf"
    start_node "$d" "$p" ping_data
  done
  wait_until 20 replica_synced "$r1" || fail "replica $r1 did not sync"
  wait_until 20 replica_synced "$r2" || fail "replica $r2 did not sync"
  for p in "$s1" "$s2" "$s3"; do
    d="$dir/sentinel-$p"
    mkdir -p "$d"
    {
      printf 'bind 127.0.0.1\nport %s\ndaemonize yes\npidfile %s/redis.pid\nlogfile %s/redis.log\ndir %s\n' \
        "$p" "$d" "$d" "$d"
      echo "sentinel monitor mymaster 127.0.0.1 $master 2"
      echo "sentinel down-after-milliseconds mymaster 1000"
      # failover-timeout also bounds retries of a failed failover (2x) and how soon replicas are repointed.
      echo "sentinel failover-timeout mymaster 5000"
      echo "sentinel parallel-syncs mymaster 2"
      if [ -n "$password" ]; then printf 'sentinel auth-pass mymaster "%s"\n' "$password"; fi
      # A sentinel with a password needs it to talk to its peers too (sentinel-pass, Redis >= 6.2).
      if [ -n "$sentinel_password" ]; then
        printf 'requirepass "%s"\nsentinel sentinel-pass "%s"\n' "$sentinel_password" "$sentinel_password"
      fi
    } >"$d/redis.conf"
    redis-server "$d/redis.conf" --sentinel >/dev/null
    wait_until 10 ping_sentinel "$p" || fail "sentinel $p did not start"
  done
  # Sentinels find the replicas from the master's INFO (every 10 s at first, then faster) and each
  # other through hello messages every 2 s: usually ready within ~2-10 s.
  for p in "$s1" "$s2" "$s3"; do
    wait_until 30 sentinel_ready "$p" || fail "sentinel $p does not see 2 replicas, 2 sentinels and a quorum"
  done
  {
    echo "REDIS_HA_MODE=sentinel"
    echo "REDIS_HA_NODES=127.0.0.1:$master,127.0.0.1:$r1,127.0.0.1:$r2"
    echo "REDIS_SENTINELS=127.0.0.1:$s1,127.0.0.1:$s2,127.0.0.1:$s3"
    echo "REDIS_SENTINEL_NAME=mymaster"
    echo "REDIS_HA_PASSWORD=$password"
    echo "REDIS_SENTINEL_PASSWORD=$sentinel_password"
  } | tee "$dir/env"
}

start_cluster() {
  local ports p bus d nodes=() i
  read -r -a ports <<<"$(free_ports 12)"
  # The cluster bus port is set explicitly (Redis >= 7): port+10000 would overflow for high ports.
  for i in 0 1 2 3 4 5; do
    p=${ports[$i]}
    bus=${ports[$((i + 6))]}
    d="$dir/cluster-$p"
    mkdir -p "$d"
    {
      data_conf "$p" "$d"
      echo "cluster-enabled yes"
      echo "cluster-config-file $d/nodes.conf"
      echo "cluster-port $bus"
      echo "cluster-node-timeout 1000"
      # A replica may always take over, however long its link was down (tests kill masters at will).
      echo "cluster-replica-validity-factor 0"
    } >"$d/redis.conf"
    start_node "$d" "$p" ping_data
    nodes+=("127.0.0.1:$p")
  done
  with_auth "$password" redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes \
    >"$dir/cluster-create.log" 2>&1 || fail "redis-cli --cluster create failed (cluster-create.log)"
  for i in 0 1 2 3 4 5; do
    wait_until 30 cluster_node_ok "${ports[$i]}" || fail "node ${ports[$i]} never reached cluster_state:ok"
  done
  for i in 0 1 2 3 4 5; do
    wait_until 30 cluster_nodes_settled "${ports[$i]}" || fail "node ${ports[$i]} does not see 3 masters, 3 replicas"
    if cli "${ports[$i]}" role 2>/dev/null | head -1 | grep -q slave; then
      wait_until 20 replica_synced "${ports[$i]}" || fail "replica ${ports[$i]} did not sync"
    fi
  done
  local list
  list=$(
    IFS=,
    echo "${nodes[*]}"
  )
  {
    echo "REDIS_HA_MODE=cluster"
    echo "REDIS_HA_NODES=$list"
    echo "REDIS_CLUSTER_NODES=$list"
    echo "REDIS_HA_PASSWORD=$password"
  } | tee "$dir/env"
}

# Kills every process this script started in STATE_DIR, after a partial start too: each has a pid
# file in its own directory. A pid is only signalled while it is still a redis-server on that
# node's port (a node SIGKILLed by a test leaves a stale pid file whose pid may be reused).
stop_all() {
  local pidfile d port pid pids=()
  shopt -s nullglob
  for pidfile in "$dir"/data-*/redis.pid "$dir"/sentinel-*/redis.pid "$dir"/cluster-*/redis.pid; do
    d=$(dirname "$pidfile")
    port=${d##*-}
    pid=$(cat "$pidfile" 2>/dev/null || true)
    rm -f "$pidfile"
    [[ $pid =~ ^[0-9]+$ ]] || continue
    if tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "redis-server.*:$port\b"; then
      kill "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

case "$cmd" in
start)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  case "$mode" in
  sentinel) start_sentinel ;;
  cluster) start_cluster ;;
  *) echo "$usage" >&2; exit 2 ;;
  esac
  ;;
stop)
  [ -d "$dir" ] || exit 0
  dir=$(cd "$dir" && pwd)
  stop_all
  ;;
*) echo "$usage" >&2; exit 2 ;;
esac
