#!/usr/bin/env bash
# make bench: oxistore-server and redis-server side by side on loopback, the same
# redis-benchmark loads against each in turn, every figure printed as a ratio
# oxistore/Redis (this machine is shared and noisy: only ratios from one run mean much).
# Durable: oxistore appendfsync always vs Redis appendonly yes + appendfsync always.
# Not durable: oxistore appendfsync no vs Redis without persistence.
# Usage: scripts/bench-server.sh [oxistore-server binary]   (BENCH_N requests per test)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
ox_bin=${1:-$top/build/rel/oxistore-server}
n=${BENCH_N:-100000}
work=$(mktemp -d "${TMPDIR:-/tmp}/oxbench.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_ping() { for _ in $(seq 1 500); do redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.02; done; echo "server on $1 did not start" >&2; exit 1; }

start_ox() { # port fsync
  mkdir -p "$work/ox$1"
  "$ox_bin" --port "$1" --dir "$work/ox$1" --appendfsync "$2" --loglevel warning > "$work/ox$1.log" 2>&1 &
  pids+=($!); wait_ping "$1"
}
start_redis() { # port durable(yes/no)
  mkdir -p "$work/r$1"
  if [ "$2" = yes ]; then extra=(--appendonly yes --appendfsync always); else extra=(--appendonly no); fi
  redis-server --port "$1" --bind 127.0.0.1 --save "" --dir "$work/r$1" --daemonize no \
    --loglevel warning "${extra[@]}" > "$work/r$1.log" 2>&1 &
  pids+=($!); wait_ping "$1"
}
# rps of one test: port test clients pipeline
rps() {
  redis-benchmark -p "$1" -t "$2" -c "$3" -P "$4" -n "$n" -r 100000 -d 100 --csv -q 2>/dev/null \
    | awk -F'","' 'NR>1 {gsub(/"/,"",$2); print $2; exit}'
}

printf '%-10s %-5s %-4s %-4s %14s %14s %8s\n' mode test c P oxistore redis ratio
for mode in durable volatile; do
  op=$(free_port); rp=$(free_port)
  if [ $mode = durable ]; then start_ox "$op" always; start_redis "$rp" yes
  else start_ox "$op" no; start_redis "$rp" no; fi
  for t in set get; do
    for cp in "1 1" "50 1" "50 16"; do
      set -- $cp
      a=$(rps "$op" $t "$1" "$2"); b=$(rps "$rp" $t "$1" "$2")
      ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
      printf '%-10s %-5s %-4s %-4s %14s %14s %7sx\n' $mode $t "$1" "$2" "$a" "$b" "$ratio"
    done
  done
done
echo "(requests/s; ratio = oxistore / Redis; goals: GET c=50 >= 1.0x, durable SET c=50 >= 1.2x)"
