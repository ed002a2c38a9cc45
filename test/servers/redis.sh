#!/usr/bin/env bash
# Starts/stops a throwaway redis-server on a free loopback port, all state in STATE_DIR.
#   bash test/servers/redis.sh start STATE_DIR   -> writes STATE_DIR/env (REDIS_URL, REDIS_PORT)
#   bash test/servers/redis.sh stop STATE_DIR
set -euo pipefail
cmd=${1:?usage: redis.sh start|stop STATE_DIR}
dir=${2:?usage: redis.sh start|stop STATE_DIR}

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

case "$cmd" in
start)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  port=${REDIS_PORT:-$(free_port)}
  # No persistence: tests want a clean server; --daemonize returns once it listens.
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize yes \
    --pidfile "$dir/redis.pid" --dir "$dir" --logfile "$dir/redis.log" >/dev/null
  for _ in $(seq 1 100); do
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
  redis-cli -p "$port" ping 2>/dev/null | grep -q PONG || { echo "redis: did not start; see $dir/redis.log" >&2; exit 1; }
  printf 'REDIS_URL=redis://127.0.0.1:%s/0\nREDIS_PORT=%s\n' "$port" "$port" | tee "$dir/env"
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
