#!/usr/bin/env bash
# Starts or stops the test servers together, each in DIR/<name>, the slow ones in parallel.
#   bash test/servers/all.sh start DIR [ceph] [swift] [redis]   (default: all three)
#   bash test/servers/all.sh stop DIR
# On start, DIR/<name>/env holds each server's endpoint and credentials.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?usage: all.sh start|stop DIR [ceph] [swift] [redis]}
dir=${2:?usage: all.sh start|stop DIR [ceph] [swift] [redis]}
shift 2
names=("$@")
((${#names[@]})) || names=(ceph swift redis)

case "$cmd" in
start)
  mkdir -p "$dir"
  pids=()
  for n in "${names[@]}"; do
    bash "$here/$n.sh" start "$dir/$n" >/dev/null &
    pids+=("$!")
  done
  failed=()
  for i in "${!names[@]}"; do
    wait "${pids[$i]}" || failed+=("${names[$i]}")
  done
  if ((${#failed[@]})); then
    echo "servers: ${failed[*]} did not start (logs in $dir)" >&2
    exit 1
  fi
  ;;
stop)
  for n in ceph swift redis; do
    [[ -d "$dir/$n" ]] && bash "$here/$n.sh" stop "$dir/$n" >/dev/null 2>&1 || true
  done
  ;;
*) echo "usage: all.sh start|stop DIR [ceph] [swift] [redis]" >&2; exit 2 ;;
esac
