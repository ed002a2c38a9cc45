#!/usr/bin/env bash
# Starts/stops a throwaway redis-server on a free loopback port, all state in STATE_DIR.
#   bash test/servers/redis.sh start STATE_DIR   -> writes STATE_DIR/env (REDIS_URL, REDIS_PORT)
#   bash test/servers/redis.sh stop STATE_DIR
# When redis-server is built with TLS, the same server also listens on a TLS port with a
# certificate from a private CA: REDIS_TLS_URL (rediss://) and REDIS_CA_FILE in the env file.
set -euo pipefail
# shellcheck source=test-ca.sh
. "$(dirname "$0")/test-ca.sh"
cmd=${1:?usage: redis.sh start|stop STATE_DIR}
dir=${2:?usage: redis.sh start|stop STATE_DIR}

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

case "$cmd" in
start)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  port=${REDIS_PORT:-$(free_port)}
  tls=()
  tls_port=
  # Debian builds redis-server with TLS (linked to libssl); older or custom builds may not be.
  # A restart in the same dir (tests that stop and start Redis) keeps the CA it made first.
  # ldd's output is taken whole: `ldd | grep -q` can fail under pipefail (grep exits early, ldd gets SIGPIPE).
  libs=$(ldd "$(command -v redis-server)" 2>/dev/null || true)
  if [[ $libs == *libssl* ]] \
    && { [ -s "$dir/tls/server.pem" ] || make_test_ca "$dir/tls"; }; then
    tls_port=$(free_port)
    while [ "$tls_port" = "$port" ]; do tls_port=$(free_port); done
    tls=(--tls-port "$tls_port" --tls-cert-file "$dir/tls/server.pem" --tls-key-file "$dir/tls/server.key"
      --tls-ca-cert-file "$dir/tls/ca.pem" --tls-auth-clients no)
  fi
  # No persistence: tests want a clean server; REDIS_APPENDONLY=yes (the queue's production
  # setting, see docs/s3s3listen.md) keeps every write across a crash. --daemonize returns once it listens.
  aof=no
  [[ ${REDIS_APPENDONLY:-no} == yes ]] && aof=yes
  redis-server --bind 127.0.0.1 --port "$port" "${tls[@]}" --save '' --appendonly "$aof" --appendfsync always --daemonize yes \
    --pidfile "$dir/redis.pid" --dir "$dir" --logfile "$dir/redis.log" >/dev/null
  for _ in $(seq 1 100); do
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
  redis-cli -p "$port" ping 2>/dev/null | grep -q PONG || { echo "redis: did not start; see $dir/redis.log" >&2; exit 1; }
  {
    printf 'REDIS_URL=redis://127.0.0.1:%s/0\nREDIS_PORT=%s\n' "$port" "$port"
    if [ -n "$tls_port" ]; then
      printf 'REDIS_TLS_URL=rediss://127.0.0.1:%s/0\nREDIS_CA_FILE=%s\n' "$tls_port" "$dir/tls/ca.pem"
    fi
  } | tee "$dir/env"
  ;;
stop)
  if [[ -f "$dir/redis.pid" ]]; then
    pid=$(cat "$dir/redis.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/redis.pid"
  fi
  ;;
*) echo "usage: redis.sh start|stop STATE_DIR" >&2; exit 2 ;;
esac
