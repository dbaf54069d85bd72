#!/usr/bin/env bash
# Three oxistore servers behind twemproxy (nutcracker), all on loopback, as in
# conf/nutcracker.yml: servers on 127.0.0.1:7001-7003, the proxy on 127.0.0.1:22121. Builds
# the server if needed, keeps data under $CLUSTER_DIR (default data/cluster; it survives
# restarts), prints how to connect, and stops everything on Ctrl-C (or when one of them
# exits). README.md, "Scaling out", lists what works through the proxy.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
conf="$top/conf/nutcracker.yml"
dir=${CLUSTER_DIR:-$top/data/cluster}
bin="$top/build/rel/oxistore-server"

if ! command -v nutcracker >/dev/null 2>&1; then
  echo "cluster-demo: nutcracker is not installed: run scripts/deps.sh (Debian package nutcracker)" >&2
  exit 1
fi
make -s -C "$top" build/rel/oxistore-server || exit 1

# The proxy's and servers' addresses, read from the configuration.
listen=$(sed -n 's/^ *listen: *//p' "$conf" | head -n 1)
mapfile -t servers < <(sed -n 's/^ *- *\([0-9.]*:[0-9]*\):[0-9]* *\([^ ]*\).*/\1 \2/p' "$conf")
pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "cluster-demo: stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  exit "${1:-0}"
}
trap 'stop 0' INT TERM
trap 'stop 1' EXIT

# Polls (deadline 15 s) until PING on host:port answers; gives up if pid exited.
wait_ping() {
  local host=$1 port=$2 pid=$3 deadline=$(( $(date +%s) + 15 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(redis-cli -h "$host" -p "$port" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.1
  done
  return 1
}

for s in "${servers[@]}"; do
  read -r addr name <<<"$s"
  host=${addr%:*}; port=${addr##*:}
  mkdir -p "$dir/$name"
  "$bin" --bind "$host" --port "$port" --dir "$dir/$name" --logfile "$dir/$name.log" &
  pids+=($!)
  if ! wait_ping "$host" "$port" "${pids[-1]}"; then
    echo "cluster-demo: $name did not start on $addr; its log:" >&2
    tail -n 20 "$dir/$name.log" >&2
    exit 1
  fi
  echo "cluster-demo: $name on $addr, data in $dir/$name"
done

nutcracker -c "$conf" -a 127.0.0.1 -s 22222 -o "$dir/nutcracker.log" &
pids+=($!)
if ! wait_ping "${listen%:*}" "${listen##*:}" "${pids[-1]}"; then
  echo "cluster-demo: nutcracker did not start on $listen; its log:" >&2
  tail -n 20 "$dir/nutcracker.log" >&2
  exit 1
fi
cat <<MSG
cluster-demo: twemproxy on $listen (stats: curl -s 127.0.0.1:22222), log in $dir/nutcracker.log
  redis-cli -h ${listen%:*} -p ${listen##*:}            # through the proxy
  redis-cli -h $host -p $port               # one shard directly (the last one started)
Ctrl-C stops everything.
MSG
wait -n "${pids[@]}"
echo "cluster-demo: a process exited" >&2
stop 1
