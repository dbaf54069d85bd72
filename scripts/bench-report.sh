#!/usr/bin/env bash
# make bench: the full performance report, oxistore-server beside redis-server on loopback,
# written to BENCHMARKS.md (and the plot bench/throughput.png). Every figure stands beside
# Redis's from the same run, with the ratio oxistore/Redis: the machine is shared and noisy,
# only same-run ratios mean much. (`make bench-quick` is the short table of
# scripts/bench-server.sh.)
#
# Sections:
#   matrix  GET SET MGET(10 keys) INCR at c=1, c=50, c=50 -P 16; values of 100 B and 4 KiB;
#           three persistence pairs: oxistore appendfsync always / Redis appendonly yes +
#           appendfsync always; everysec / appendonly yes + everysec; oxistore no / Redis
#           without persistence. Requests/s, p50 and p99 (redis-benchmark --csv) per figure.
#           GET and MGET read a key space loaded beforehand (every key they ask for exists).
#   types   redis-benchmark's own tests of the data types (LPUSH RPUSH LPOP RPOP SADD HSET
#           SPOP ZADD ZPOPMIN LRANGE_100 LRANGE_600) at c=50 and c=50 -P 16, under the
#           durable pair and the not-durable one (goals: >= 1.0x durable, >= 0.8x not
#           durable, LRANGE_600 >= 0.7x).
#   pubsub  PUBLISH of a 32-byte message at c=50 with 1 and with 100 subscribers (connections
#           of bench-util.py subscribe, reading everything) on each server, no persistence
#           (Redis appendonly no, oxistore appendfsync no: PUBLISH writes nothing anyway).
#   scripts EVALSHA of a one-GET and of a one-INCR Lua script at c=50, under the durable pair
#           (always / appendonly yes + always) and the not-durable one (no / no persistence),
#           over a key space of BENCH_R keys of 100 B loaded beforehand.
#   plot    SET and GET (100 B, durable: always / always) at BENCH_CLIENTS clients.
#   disk    on a fresh durable pair (always / always): disk bytes written per SET at c=50
#           (/proc/PID/io write_bytes before and after each figure; goal <= 3x Redis); then
#           3 x BENCH_REWRITE_N SETs -P 16 over BENCH_REWRITE_KEYS keys of 100 B into a fresh
#           oxistore: its data file against a copy made by `oxistore-check compact` (goal <= 2x).
#   zset    a sorted set of BENCH_ZSET members loaded into each server (ZADD, 1000 members per
#           command, redis-cli --pipe): load rate, ZRANGEBYSCORE of 100 and ZRANK at random
#           places, RSS against Redis's used_memory.
#   queue   a sorted set of BENCH_N members of one score, taken from its low end one member
#           at a time (ZPOPMIN, ZREMRANGEBYRANK q 0 0; ZPOPMIN again once a rank was asked,
#           with the rank index), c=50, until it is empty: each removal leaves a deletion in
#           the write buffer, which a walk from the end would step over (zset_fmt.h's
#           bounds).
#   repl    replication, oxistore against Redis, both durable (always / appendonly yes +
#           always, replicas alike): SET c=50 on a master alone and with 2 replicas attached
#           (goal: >= 0.9x of itself alone), on every core, and pinned (master and benchmark
#           on CPU 0, replicas on CPU 1), the replica lag meanwhile (bench-util.py lag:
#           from a write's acknowledgement to the replica serving it; goal < 1 s), then a full
#           sync of BENCH_REPL_KEYS keys of 100 B: from the replica's start to a replica that
#           serves the data (link up, sync done), against Redis's full sync of the same keys.
#   large   BENCH_KEYS keys loaded into each server with redis-cli --pipe: load rate (goal
#           >= 1.5x Redis), size on disk, RSS (goal: oxistore's anonymous RSS <=
#           write-buffer-limit + 100 MiB), restart-to-first-reply after kill -9 right after the
#           load (goal <= 1 s), and after a clean SHUTDOWN / after an AOF rewrite.
#
# Knobs (environment):
#   BENCH_N        requests per figure at c>=10 (default 100000; c<10 runs BENCH_N/10)
#   BENCH_REPEAT   runs per figure (default 3), alternating the servers; the median is reported
#   BENCH_R        key space of the matrix and the plot (default 100000 keys)
#   BENCH_KEYS     keys of the large-dataset section (default 10000000)
#   BENCH_ZSET     members of the zset section (default 10000000)
#   BENCH_ZRANK_N  ZRANK requests of the zset section (default 20000)
#   BENCH_LARGE_D  value size of the large-dataset section (default 100 bytes)
#   BENCH_LOAD_CHUNK  keys per redis-cli --pipe run of the large-dataset load (default 1000000)
#   BENCH_LOAD_FSYNC  appendfsync of both servers in the large-dataset section (default always)
#   BENCH_REWRITE_N     SETs per run of the disk section's rewrites (default 300000, 3 runs)
#   BENCH_REWRITE_KEYS  their key space (default 100000)
#   BENCH_REPL_KEYS keys of the replication section's full sync (default 10000000)
#   BENCH_CLIENTS  client counts of the plot (default "1 2 5 10 20 50 100 200")
#   BENCH_IO_THREADS  oxistore's io-threads (default: the server's, cores minus one, at least 1)
#   BENCH_SECTIONS which sections to run (default "matrix types pubsub scripts repl plot disk
#                  zset queue large")
#   BENCH_OUT      the report (default BENCHMARKS.md at the repository root)
#   BENCH_PNG      the plot (default bench/throughput.png)
# Usage: scripts/bench-report.sh [oxistore-server binary]
# Scratch data lives in build/bench-work.XXXXXX (removed at the end).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
ox_bin=$(realpath "${1:-$top/build/rel/oxistore-server}")
check_bin=$(dirname "$ox_bin")/oxistore-check # beside the server, as make all builds them
N=${BENCH_N:-100000}
REPEAT=${BENCH_REPEAT:-3}
R=${BENCH_R:-100000}
KEYS=${BENCH_KEYS:-10000000}
LARGE_D=${BENCH_LARGE_D:-100}
ZSET=${BENCH_ZSET:-10000000}
ZRANK_N=${BENCH_ZRANK_N:-20000}
CHUNK=${BENCH_LOAD_CHUNK:-1000000}
LOAD_FSYNC=${BENCH_LOAD_FSYNC:-always}
RW_N=${BENCH_REWRITE_N:-300000}
RW_KEYS=${BENCH_REWRITE_KEYS:-100000}
CLIENTS=${BENCH_CLIENTS:-1 2 5 10 20 50 100 200}
IOT=${BENCH_IO_THREADS:-$(( $(nproc) > 2 ? $(nproc) - 1 : 1 ))}
SECTIONS=${BENCH_SECTIONS:-matrix types pubsub scripts repl plot disk zset queue large}
REPL_KEYS=${BENCH_REPL_KEYS:-10000000}
PIN= RB_PIN= # CPUs a server, or redis-benchmark, is pinned to (taskset -c); empty: none
OUT=${BENCH_OUT:-$top/BENCHMARKS.md}
PNG=${BENCH_PNG:-$top/bench/throughput.png}
util=$top/scripts/bench-util.py
cmdline="BENCH_N=$N BENCH_REPEAT=$REPEAT BENCH_R=$R BENCH_KEYS=$KEYS BENCH_ZSET=$ZSET BENCH_ZRANK_N=$ZRANK_N BENCH_LARGE_D=$LARGE_D BENCH_LOAD_CHUNK=$CHUNK BENCH_LOAD_FSYNC=$LOAD_FSYNC BENCH_REWRITE_N=$RW_N BENCH_REWRITE_KEYS=$RW_KEYS BENCH_REPL_KEYS=$REPL_KEYS BENCH_CLIENTS=\"$CLIENTS\" BENCH_IO_THREADS=$IOT BENCH_SECTIONS=\"$SECTIONS\" scripts/bench-report.sh"

mkdir -p "$top/build"
work=$(mktemp -d "$top/build/bench-work.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
started=$(date +%s)
log() { printf '[%4ds] %s\n' $(( $(date +%s) - started )) "$*" >&2; }

# ---- servers ----------------------------------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_ping() { # port pid
  for _ in $(seq 1 3000); do
    redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.02
  done
  echo "server on port $1 did not start" >&2; exit 1
}
# Each start sets PID (of the server) and returns when it answers PING (or, with nowait, at once).
ox_start() { # port dir fsync [nowait]; PIN=cpu list: pinned with taskset
  mkdir -p "$2"
  ${PIN:+taskset -c "$PIN"} "$ox_bin" --port "$1" --dir "$2" --appendfsync "$3" --io-threads "$IOT" \
    --loglevel warning >> "$2.log" 2>&1 &
  PID=$!; pids+=("$PID")
  [ "${4:-}" = nowait ] || wait_ping "$1" "$PID"
}
redis_start() { # port dir fsync(always|everysec|no) [nowait]
  mkdir -p "$2"
  local extra=(--appendonly no)
  [ "$3" = no ] || extra=(--appendonly yes --appendfsync "$3")
  ${PIN:+taskset -c "$PIN"} redis-server --port "$1" --bind 127.0.0.1 --save "" --dir "$2" --daemonize no \
    --loglevel warning "${extra[@]}" >> "$2.log" 2>&1 &
  PID=$!; pids+=("$PID")
  [ "${4:-}" = nowait ] || wait_ping "$1" "$PID"
}
srv_start() { if [ "$1" = ox ]; then shift; ox_start "$@"; else shift; redis_start "$@"; fi; }
# A replica of 127.0.0.1:MASTER: kind port dir fsync master (PID set; returns at once).
replica_start() {
  mkdir -p "$3"
  if [ "$1" = ox ]; then
    ${PIN:+taskset -c "$PIN"} "$ox_bin" --port "$2" --dir "$3" --appendfsync "$4" --io-threads "$IOT" \
      --loglevel warning --replicaof 127.0.0.1 "$5" >> "$3.log" 2>&1 &
  else
    ${PIN:+taskset -c "$PIN"} redis-server --port "$2" --bind 127.0.0.1 --save "" --dir "$3" --daemonize no \
      --loglevel warning --appendonly yes --appendfsync "$4" --replicaof 127.0.0.1 "$5" \
      >> "$3.log" 2>&1 &
  fi
  PID=$!; pids+=("$PID")
}
# Polls until the replica on port serves its master's data: link up, no sync in progress.
wait_synced() {
  for _ in $(seq 1 360000); do
    [ "$(info_field "$1" replication master_link_status)" = up ] &&
      [ "$(info_field "$1" replication master_sync_in_progress)" = 0 ] && return 0
    sleep 0.01
  done
  echo "replica on port $1 did not sync" >&2; exit 1
}
kill9() { kill -9 "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
stop() { # port pid: SHUTDOWN, then wait for the process
  redis-cli -p "$1" shutdown >/dev/null 2>&1 || true
  for _ in $(seq 1 6000); do kill -0 "$2" 2>/dev/null || break; sleep 0.05; done
  kill9 "$2"
}
rss_kb() { awk -v f="$2" '$1 == f":" {print $2}' "/proc/$1/status"; }
# /proc/PID/io write_bytes: bytes the process (every thread) sent, or caused to be sent, to
# the storage layer, counted when a page-cache page is dirtied, not when the disk writes it.
io_wb() { awk '$1 == "write_bytes:" { print $2 }' "/proc/$1/io"; }
# The thread of pid named comm (pthread_setname_np): its task directory, or nothing.
thread_dir() { # pid comm
  local t
  for t in /proc/"$1"/task/*; do [ "$(cat "$t/comm" 2>/dev/null)" = "$2" ] && { echo "$t"; return; }; done
}
thread_wb() { local t; t=$(thread_dir "$1" "$2"); if [ -n "$t" ]; then io_wb "${t#/proc/}"; else echo 0; fi; }
info_field() { redis-cli -p "$1" info "$2" | tr -d '\r' | awk -F: -v k="$3" '$1 == k { print $2 }'; }
load() { # port file: redis-cli --pipe, which returns when every reply is in
  redis-cli -p "$1" --pipe < "$2" > "$work/pipe.out" 2>&1 || { cat "$work/pipe.out" >&2; exit 1; }
  grep -q 'errors: 0' "$work/pipe.out" || { cat "$work/pipe.out" >&2; exit 1; }
}

# ---- redis-benchmark ---------------------------------------------------------------------
nreq() { if [ "$1" -lt 10 ]; then echo $(( N / 10 > 500 ? N / 10 : 500 )); else echo "$N"; fi; }
# One figure: port test clients pipeline size -> "rps p50 p99"
# The scripts of the scripts section, loaded with SCRIPT LOAD: EVALSHA names them.
SCRIPT_GET="return redis.call('get', KEYS[1])"
SCRIPT_INCR="return redis.call('incr', KEYS[1])"
sha_of() { printf '%s' "$1" | sha1sum | cut -c1-40; }
bench1() {
  local port=$1 t=$2 c=$3 p=$4 d=$5 n args want=${2^^}
  n=$(nreq "$c")
  case $t in
    MGET) args=(MGET); for _ in 1 2 3 4 5 6 7 8 9 10; do args+=(key:__rand_int__); done ;;
    PUBLISH) args=(PUBLISH bench:ch xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx) ;;
    EVALSHA_GET) args=(EVALSHA "$(sha_of "$SCRIPT_GET")" 1 key:__rand_int__); want=EVALSHA ;;
    EVALSHA_INCR) args=(EVALSHA "$(sha_of "$SCRIPT_INCR")" 1 counter:__rand_int__); want=EVALSHA ;;
    *) args=(-t "${t,,}") ;;
  esac
  # the line of the test itself (LRANGE_100 is preceded by the LPUSH that fills its list)
  ${RB_PIN:+taskset -c "$RB_PIN"} redis-benchmark -p "$port" -c "$c" -P "$p" -n "$n" -r "$R" -d "$d" --csv "${args[@]}" 2>/dev/null \
    | awk -F, -v want="$want" 'NR > 1 { gsub(/"/, ""); split($1, w, " "); if (w[1] == want) { print $2, $5, $7; exit } }' \
    | grep . || echo "0 0 0"
}
# median of each column over lines of numbers
median_cols() { python3 -c '
import sys, statistics
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
print(" ".join("%g" % statistics.median(c) for c in zip(*rows)))'; }
# One pair of figures, BENCH_REPEAT times, alternating which server goes first (the first
# time per PAIRK): port_ox port_redis test clients pipeline size -> "ox: rps p50 p99  redis: rps p50 p99"
# (medians of each column over the repeats).
PAIRK=0
pair() {
  local i os=() rs=()
  for (( i = 0; i < REPEAT; i++ )); do
    if (( (PAIRK + i) % 2 == 0 )); then os+=("$(bench1 "$1" "${@:3}")"); rs+=("$(bench1 "$2" "${@:3}")")
    else rs+=("$(bench1 "$2" "${@:3}")"); os+=("$(bench1 "$1" "${@:3}")"); fi
  done
  PAIRK=$(( PAIRK + 1 ))
  echo "$(printf '%s\n' "${os[@]}" | median_cols) $(printf '%s\n' "${rs[@]}" | median_cols)"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) print "n/a"; else if (a / b < 0.1) printf "%.2g", a / b; else printf "%.2f", a / b }'; }
fmt_rps() { awk -v a="$1" 'BEGIN { printf "%.0f", a }'; }

# ---- report ------------------------------------------------------------------------------
md=$work/report.md
sum=$work/summary.md
: > "$sum"
emit() { printf '%s\n' "$@" >> "$md"; }
date_run=$(date -u '+%Y-%m-%d %H:%M UTC')
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
ox_ver=$("$ox_bin" --version 2>/dev/null | head -1)
git_rev=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
git_dirty=$(git -C "$top" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo " (with uncommitted changes)" || true)
r_ver=$(redis-server --version)
rb_ver=$(redis-benchmark --version)

# ---- section: matrix ---------------------------------------------------------------------
matrix() {
  emit "## Matrix" "" \
    "redis-benchmark, one client thread, loopback, random keys among $R (\`-r $R\`)." \
    "Requests per figure: $N at c=50, $(nreq 1) at c=1. GET and MGET read a key space of" \
    "$R keys of the benchmark's value size, loaded into each server (\`redis-cli --pipe\`)" \
    "before the figures: every key they ask for exists. MGET is" \
    "\`MGET key:__rand_int__\` ×10 (one request, ten keys). INCR has no value size: it" \
    "appears under 100 B only. Latencies in ms (p50 / p99) for oxistore | Redis." \
    "Each figure is the median of $REPEAT runs (each column's median apart), the two servers'" \
    "runs interleaved, alternating which went first." ""
  local mode d t cfg c p op rp opid rpid resp
  for mode in always everysec no; do
    case $mode in
      always) title="Durable: oxistore \`appendfsync always\` vs Redis \`appendonly yes\`, \`appendfsync always\`" ;;
      everysec) title="oxistore \`appendfsync everysec\` vs Redis \`appendonly yes\`, \`appendfsync everysec\`" ;;
      no) title="Not durable: oxistore \`appendfsync no\` vs Redis without persistence (\`appendonly no\`, \`save \"\"\`)" ;;
    esac
    emit "### $title" ""
    for d in 100 4096; do
      log "matrix: $mode, $d-byte values"
      op=$(free_port); rp=$(free_port)
      ox_start "$op" "$work/m-ox-$mode-$d" "$mode"; opid=$PID
      redis_start "$rp" "$work/m-r-$mode-$d" "$mode"; rpid=$PID
      resp=$work/keys-$d.resp
      [ -f "$resp" ] || "$util" gen 0 "$R" "$d" > "$resp"
      load "$op" "$resp"; load "$rp" "$resp"
      emit "**Values of $( [ $d = 100 ] && echo "100 bytes" || echo "4 KiB" )**" "" \
        "| command | clients | pipeline | oxistore req/s | Redis req/s | ratio | p50 ms ox \\| Redis | p99 ms ox \\| Redis |" \
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
      for t in GET SET MGET INCR; do
        [ $t = INCR ] && [ "$d" != 100 ] && continue
        for cfg in "1 1" "50 1" "50 16"; do
          set -- $cfg; c=$1; p=$2
          set -- $(pair "$op" "$rp" $t "$c" "$p" "$d")
          emit "| $t | $c | $p | $(fmt_rps "$1") | $(fmt_rps "$4") | **$(ratio "$1" "$4")x** | $2 \\| $5 | $3 \\| $6 |"
          if [ "$d" = 100 ] && [ "$c" = 50 ] && [ "$p" = 1 ] && { [ $t = GET ] || [ $t = SET ]; }; then
            echo "| $t, c=50, 100 B | $mode | $(fmt_rps "$1") | $(fmt_rps "$4") | **$(ratio "$1" "$4")x** | $2 \\| $5 | $3 \\| $6 |" >> "$sum"
          fi
        done
      done
      emit ""
      stop "$op" "$opid"; stop "$rp" "$rpid"
      rm -rf "$work/m-ox-$mode-$d" "$work/m-r-$mode-$d"
    done
  done
  rm -f "$work"/keys-*.resp
}

# ---- section: pubsub ---------------------------------------------------------------------------
pubsub() {
  emit "## Pub/Sub" "" \
    "PUBLISH of a 32-byte message to a channel, c=50, $N requests per figure, median of $REPEAT" \
    "runs, the servers interleaved, with 1 and with 100 subscribers per server (Python" \
    "connections that read everything; every subscriber is still there at the end). No" \
    "persistence on either side." "" \
    "| subscribers | oxistore req/s | Redis req/s | ratio | p99 ms ox \\| Redis |" \
    "| ---: | ---: | ---: | ---: | ---: |"
  local op rp opid rpid subs sp=() left
  log "pubsub"
  op=$(free_port); rp=$(free_port)
  ox_start "$op" "$work/p-ox" no; opid=$PID
  redis_start "$rp" "$work/p-r" no; rpid=$PID
  for subs in 1 100; do
    sp=()
    for port in "$op" "$rp"; do
      python3 "$util" subscribe "$port" bench:ch "$subs" > "$work/sub-$port" &
      sp+=($!)
    done
    for port in "$op" "$rp"; do
      for _ in $(seq 1 600); do grep -q ready "$work/sub-$port" 2>/dev/null && break; sleep 0.05; done
    done
    set -- $(pair "$op" "$rp" PUBLISH 50 1 32)
    left="$(redis-cli -p "$op" pubsub numsub bench:ch | tail -1)/$(redis-cli -p "$rp" pubsub numsub bench:ch | tail -1)"
    kill "${sp[@]}" 2>/dev/null || true
    wait "${sp[@]}" 2>/dev/null || true
    [ "$left" = "$subs/$subs" ] || log "pubsub: subscribers left at the end: $left of $subs"
    emit "| $subs | $(fmt_rps "$1") | $(fmt_rps "$4") | **$(ratio "$1" "$4")x** | $3 \\| $6 |"
  done
  emit ""
  stop "$op" "$opid"; stop "$rp" "$rpid"
  rm -rf "$work/p-ox" "$work/p-r"
}

# ---- section: scripts ----------------------------------------------------------------------
scripts() {
  emit "## Scripts" "" \
    "EVALSHA of \`$SCRIPT_GET\` and of \`$SCRIPT_INCR\` (SCRIPT LOAD first), c=50, random" \
    "keys among $R (GET: \`key:N\`, loaded beforehand with 100 B values; INCR: \`counter:N\`)," \
    "$N requests per figure, median of $REPEAT runs, the servers interleaved. A script runs" \
    "in oxistore's writer thread, inside its batch's transaction, read-only or not." "" \
    "| script | persistence (oxistore / Redis) | oxistore req/s | Redis req/s | ratio | p99 ms ox \\| Redis |" \
    "| --- | --- | ---: | ---: | ---: | ---: |"
  local mode op rp opid rpid t resp=$work/keys-s.resp
  "$util" gen 0 "$R" 100 > "$resp"
  for mode in always no; do
    log "scripts: $mode"
    op=$(free_port); rp=$(free_port)
    ox_start "$op" "$work/s-ox-$mode" "$mode"; opid=$PID
    redis_start "$rp" "$work/s-r-$mode" "$mode"; rpid=$PID
    load "$op" "$resp"; load "$rp" "$resp"
    for port in "$op" "$rp"; do
      redis-cli -p "$port" script load "$SCRIPT_GET" > /dev/null
      redis-cli -p "$port" script load "$SCRIPT_INCR" > /dev/null
    done
    for t in EVALSHA_GET EVALSHA_INCR; do
      set -- $(pair "$op" "$rp" "$t" 50 1 100)
      emit "| ${t#EVALSHA_} | $( [ $mode = always ] && echo "always / appendonly yes, always" || echo "no / none" ) | $(fmt_rps "$1") | $(fmt_rps "$4") | **$(ratio "$1" "$4")x** | $3 \\| $6 |"
    done
    stop "$op" "$opid"; stop "$rp" "$rpid"
    rm -rf "$work/s-ox-$mode" "$work/s-r-$mode"
  done
  rm -f "$resp"
  emit ""
}

# ---- section: queue -------------------------------------------------------------------------
queue() {
  local s t port pid dir res ranked
  "$util" genz q 0 "$N" 1000 0 > "$work/queue.resp"
  emit "## A sorted set taken from its low end" "" \
    "One key \`q\` of $N members of score 0 (\`m:000000000000\` …, ZADD of 1000 members by" \
    "\`redis-cli --pipe\`), then redis-benchmark c=50 sends the command below $N times: the set" \
    "empties one member at a time. Each removal leaves a deletion in oxistore's write buffer" \
    "until a checkpoint; a sorted set's bounds (keyspace/zset_fmt.h) let each walk from the end" \
    "seek past them. \"ranked\": a ZRANK first, which gives the set its rank index (oxistore:" \
    "once the index is whole). Both servers \`appendfsync $LOAD_FSYNC\` (Redis \`appendonly" \
    "yes\`)." "" \
    "| test | oxistore req/s | Redis req/s | ratio | p99 ms ox \\| Redis |" \
    "| --- | ---: | ---: | ---: | ---: |"
  for t in "ZPOPMIN q" "ZREMRANGEBYRANK q 0 0" "ranked ZPOPMIN q"; do
    declare -A res=()
    for s in ox redis; do
      port=$(free_port); dir=$work/q-$s
      log "queue: $s $t"
      srv_start $s "$port" "$dir" "$LOAD_FSYNC"; pid=$PID
      load "$port" "$work/queue.resp"
      ranked=${t%% *}
      if [ "$ranked" = ranked ]; then
        local before=$(info_field "$port" stats zset_rank_indexes_built)
        redis-cli -p "$port" zrank q m:000000000000 > /dev/null
        if [ $s = ox ]; then
          for _ in $(seq 6000); do
            [ "$(info_field "$port" stats zset_rank_indexes_built)" != "$before" ] && break
            sleep 0.05
          done
        fi
      fi
      res[$s]=$(bench_cmd "$port" 50 "$N" ${t#ranked })
      res[$s.card]=$(redis-cli -p "$port" zcard q)
      stop "$port" "$pid"
      rm -rf "$dir"
    done
    set -- ${res[ox]}; local o=$1 o99=$3
    set -- ${res[redis]}; local r=$1 r99=$3
    emit "| $t | $(fmt_rps "$o") | $(fmt_rps "$r") | **$(ratio "$o" "$r")x** | $o99 \\| $r99 |"
    [ "${res[ox.card]}" = 0 ] && [ "${res[redis.card]}" = 0 ] ||
      log "queue: $t left ZCARD ${res[ox.card]} / ${res[redis.card]}"
  done
  emit ""
  rm -f "$work/queue.resp"
}

# ---- section: repl -------------------------------------------------------------------------
repl() {
  emit "## Replication" "" \
    "Both durable: oxistore \`appendfsync always\` against Redis \`appendonly yes\`," \
    "\`appendfsync always\`, on the master and on its replicas alike. SET of 100 B at c=50," \
    "$N requests per figure, median of $REPEAT runs: on a master alone, then with two" \
    "replicas attached (synced first). The lag is measured meanwhile by \`bench-util.py lag\`:" \
    "every 50 ms a SET on the master, then the time from its acknowledgement until a replica" \
    "serves it (p50 / p99 / max). Goals: >= 0.9x of the master alone, lag < 1 s. A first" \
    "run fills the key space (not counted). Two placements: everything on every core (the" \
    "replicas then take CPU from the master: on 2 cores, three durable servers and the" \
    "benchmark share them), and, with 2 cores or more, the master and redis-benchmark pinned" \
    "to CPU 0 and the replicas to CPU 1 (\`taskset\`), as replicas on other machines would" \
    "leave the master's CPU alone." "" \
    "| server | placement | SET req/s alone | with 2 replicas | with / alone | lag p50 / p99 / max ms |" \
    "| --- | --- | ---: | ---: | ---: | ---: |"
  local kind mp r1 r2 mpid p1 p2 alone with lg lp i place
  declare -A W
  for place in shared pinned; do
    [ "$place" = pinned ] && [ "$(nproc)" -lt 2 ] && continue
    for kind in ox redis; do
      log "repl: $kind, SET alone and with 2 replicas ($place)"
      mp=$(free_port); r1=$(free_port); r2=$(free_port)
      [ "$place" = pinned ] && PIN=0 RB_PIN=0
      srv_start "$kind" "$mp" "$work/r-$kind-m" always; mpid=$PID
      bench1 "$mp" SET 50 1 100 > /dev/null # fills the key space
      alone=$(for (( i = 0; i < REPEAT; i++ )); do bench1 "$mp" SET 50 1 100; done | median_cols)
      [ "$place" = pinned ] && PIN=1
      replica_start "$kind" "$r1" "$work/r-$kind-1" always "$mp"; p1=$PID
      replica_start "$kind" "$r2" "$work/r-$kind-2" always "$mp"; p2=$PID
      PIN=
      wait_ping "$r1" "$p1"; wait_ping "$r2" "$p2"; wait_synced "$r1"; wait_synced "$r2"
      python3 "$util" lag "$mp" "$r1" > "$work/lag-$kind" & lp=$!
      with=$(for (( i = 0; i < REPEAT; i++ )); do bench1 "$mp" SET 50 1 100; done | median_cols)
      RB_PIN=
      kill "$lp"; wait "$lp" 2>/dev/null || true
      lg=$(cat "$work/lag-$kind")
      set -- $alone; a=$1; set -- $with; W[$kind-$place]=$1
      emit "| $( [ $kind = ox ] && echo oxistore || echo Redis ) | $place | $(fmt_rps "$a") | $(fmt_rps "$1") | **$(ratio "$1" "$a")x** | $(echo "$lg" | sed 's| | / |g') |"
      kill9 "$p1"; kill9 "$p2"; stop "$mp" "$mpid" # a Redis replica refuses SHUTDOWN while it writes its first AOF
      rm -rf "$work/r-$kind-m" "$work/r-$kind-1" "$work/r-$kind-2"
    done
  done
  emit "" "With 2 replicas, oxistore against Redis: **$(ratio "${W[ox-shared]}" "${W[redis-shared]}")x** (shared)$( [ -n "${W[ox-pinned]:-}" ] && echo ", **$(ratio "${W[ox-pinned]}" "${W[redis-pinned]}")x** (pinned)")." ""
  emit "### Full sync" "" \
    "$REPL_KEYS keys of 100 B loaded into a master (\`redis-cli --pipe\`), then a replica" \
    "started with \`--replicaof\`: seconds from its start until it serves the data (link up," \
    "sync finished). oxistore sends a hot backup of its store file, loaded whole in place of" \
    "the replica's; Redis sends an RDB." "" \
    "| server | keys | seconds to a serving replica | DBSIZE on the replica |" \
    "| --- | ---: | ---: | ---: |"
  local resp=$work/keys-repl.resp t0 secs first n
  declare -A S
  for kind in ox redis; do
    log "repl: $kind, full sync of $REPL_KEYS keys"
    mp=$(free_port); r1=$(free_port)
    srv_start "$kind" "$mp" "$work/f-$kind-m" always; mpid=$PID
    for (( first = 0; first < REPL_KEYS; first += CHUNK )); do
      n=$(( REPL_KEYS - first < CHUNK ? REPL_KEYS - first : CHUNK ))
      "$util" gen "$first" "$n" 100 > "$resp"
      load "$mp" "$resp"
    done
    rm -f "$resp"
    t0=$(date +%s.%N)
    replica_start "$kind" "$r1" "$work/f-$kind-1" always "$mp"; p1=$PID
    wait_ping "$r1" "$p1"; wait_synced "$r1"
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    S[$kind]=$secs
    emit "| $( [ $kind = ox ] && echo oxistore || echo Redis ) | $REPL_KEYS | $secs | $(redis-cli -p "$r1" dbsize) |"
    kill9 "$p1"; stop "$mp" "$mpid"
    rm -rf "$work/f-$kind-m" "$work/f-$kind-1"
  done
  emit "" "Time to a serving replica, oxistore / Redis: **$(ratio "${S[ox]}" "${S[redis]}")x** (lower is faster)." ""
}

# ---- section: types ------------------------------------------------------------------------
types() {
  emit "## Data types" "" \
    "redis-benchmark's own tests of the data types, $N requests per figure, median of $REPEAT" \
    "runs, the servers interleaved. LRANGE_100/600 read lists the benchmark fills first. Goals:" \
    ">= 1.0x under the durable pair, >= 0.8x under the other (LRANGE_600 >= 0.7x)." ""
  local mode t cfg c p op rp opid rpid goal
  for mode in always no; do
    emit "### $( [ $mode = always ] && echo "Durable (always / always)" || echo "Not durable (no / no persistence)" )" "" \
      "| test | clients | pipeline | oxistore req/s | Redis req/s | ratio | goal | p99 ms ox \\| Redis |" \
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    log "types: $mode"
    op=$(free_port); rp=$(free_port)
    ox_start "$op" "$work/t-ox-$mode" "$mode"; opid=$PID
    redis_start "$rp" "$work/t-r-$mode" "$mode"; rpid=$PID
    for t in LPUSH RPUSH LPOP RPOP SADD HSET SPOP ZADD ZPOPMIN LRANGE_100 LRANGE_600; do
      for cfg in "50 1" "50 16"; do
        set -- $cfg; c=$1; p=$2
        goal=$( [ $mode = always ] && echo 1.0 || { [ $t = LRANGE_600 ] && echo 0.7 || echo 0.8; } )
        set -- $(pair "$op" "$rp" $t "$c" "$p" 100)
        emit "| $t | $c | $p | $(fmt_rps "$1") | $(fmt_rps "$4") | **$(ratio "$1" "$4")x** | $goal | $3 \\| $6 |"
      done
    done
    emit ""
    stop "$op" "$opid"; stop "$rp" "$rpid"
    rm -rf "$work/t-ox-$mode" "$work/t-r-$mode"
  done
}

# ---- section: zset ------------------------------------------------------------------------
# One figure of an arbitrary command: port clients requests command... -> "rps p50 p99"
bench_cmd() {
  local port=$1 c=$2 n=$3; shift 3
  redis-benchmark -p "$port" -c "$c" -n "$n" -r "$ZSET" --csv "$@" 2>/dev/null \
    | awk -F, 'NR == 2 { gsub(/"/, ""); print $2, $5, $7 }' | grep . || echo "0 0 0"
}
zset() {
  local port pid dir t0 t1 s f first=0 i=0 chunks=() zn=$(( N / 10 > 1000 ? N / 10 : 1000 ))
  log "zset: generating $ZSET members"
  while [ "$first" -lt "$ZSET" ]; do
    local cnt=$(( ZSET - first < CHUNK ? ZSET - first : CHUNK ))
    chunks+=("$work/zset-$i.resp")
    "$util" genz bigz "$first" "$cnt" 1000 > "$work/zset-$i.resp"
    first=$(( first + cnt )); i=$(( i + 1 ))
  done
  declare -A res
  for s in ox redis; do
    port=$(free_port); dir=$work/z-$s
    log "zset: loading $s"
    srv_start $s "$port" "$dir" "$LOAD_FSYNC"; pid=$PID
    t0=$(date +%s.%N)
    for f in "${chunks[@]}"; do load "$port" "$f"; done
    t1=$(date +%s.%N)
    res[$s.load]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    res[$s.rate]=$(awk -v a="$t0" -v b="$t1" -v n="$ZSET" 'BEGIN { printf "%.0f", n / (b - a) }')
    res[$s.card]=$(redis-cli -p "$port" zcard bigz)
    log "zset: $s ZRANGEBYSCORE, ZRANK"
    res[$s.range]=$(bench_cmd "$port" 50 "$zn" ZRANGEBYSCORE bigz __rand_int__ +inf LIMIT 0 100)
    res[$s.build]=-
    if [ $s = ox ]; then # the first rank asked builds the set's rank index in the background
      t0=$(date +%s.%N)
      redis-cli -p "$port" zrank bigz m:000000000000 > /dev/null
      for i in $(seq 36000); do # an hour at most
        [ "$(info_field "$port" stats zset_rank_indexes_built)" = 1 ] && break; sleep 0.1
      done
      t1=$(date +%s.%N)
      res[$s.build]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    fi
    res[$s.rank]=$(bench_cmd "$port" 10 "$ZRANK_N" ZRANK bigz m:__rand_int__)
    res[$s.rss]=$(rss_kb "$pid" VmRSS); res[$s.anon]=$(rss_kb "$pid" RssAnon)
    [ $s = redis ] && res[$s.used]=$(info_field "$port" memory used_memory)
    res[$s.du]=$(du -sk "$dir" | cut -f1)
    stop "$port" "$pid"
    rm -rf "$dir"
  done
  rm -f "${chunks[@]}"
  set -- ${res[ox.range]}; local orr=$1 or99=$3
  set -- ${res[redis.range]}; local rr=$1 rr99=$3
  set -- ${res[ox.rank]}; local ork=$1 ork99=$3
  set -- ${res[redis.rank]}; local rk=$1 rk99=$3
  mib() { awk -v k="$1" 'BEGIN { printf "%.0f MiB", k / 1024 }'; }
  emit "## A sorted set of $ZSET members" "" \
    "One key \`bigz\` with members \`m:000000000000\` … scored by their number, sent as ZADD" \
    "commands of 1000 members by \`redis-cli --pipe\` to a fresh server, in ${#chunks[@]} runs; both" \
    "servers with \`appendfsync $LOAD_FSYNC\` (Redis \`appendonly yes\`). Then redis-benchmark with" \
    "\`-r $ZSET\`: \`ZRANGEBYSCORE bigz __rand_int__ +inf LIMIT 0 100\` ($zn requests, c=50) and" \
    "\`ZRANK bigz m:__rand_int__\` ($ZRANK_N requests, c=10). oxistore builds a sorted set's rank" \
    "index (keyspace/zset_fmt.h) when a rank is first asked of it, in the writer's background" \
    "slices: the table gives the time from that first ZRANK to the index being whole, and ZRANK" \
    "is measured after it. oxistore's data is in its file; its RSS is mostly the page cache of" \
    "that file (file-backed), Redis's is its data set (\`used_memory\`)." "" \
    "| | oxistore | Redis | ratio |" "| --- | ---: | ---: | ---: |" \
    "| load time (s) | ${res[ox.load]} | ${res[redis.load]} | **$(ratio "${res[ox.load]}" "${res[redis.load]}")x** |" \
    "| load rate (members/s) | ${res[ox.rate]} | ${res[redis.rate]} | **$(ratio "${res[ox.rate]}" "${res[redis.rate]}")x** |" \
    "| ZCARD after load | ${res[ox.card]} | ${res[redis.card]} | |" \
    "| ZRANGEBYSCORE of 100 (req/s; p99 ms) | $(fmt_rps "$orr"); $or99 | $(fmt_rps "$rr"); $rr99 | **$(ratio "$orr" "$rr")x** |" \
    "| rank index build after the first ZRANK (s) | ${res[ox.build]} | - | |" \
    "| ZRANK (req/s; p99 ms) | $(fmt_rps "$ork"); $ork99 | $(fmt_rps "$rk"); $rk99 | **$(ratio "$ork" "$rk")x** |" \
    "| RSS at the end (oxistore: anonymous; after the index's build) against Redis's used_memory | $(mib "${res[ox.rss]}") ($(mib "${res[ox.anon]}")) | $(mib $(( ${res[redis.used]} / 1024 ))) | **$(ratio "${res[ox.anon]}" $(( ${res[redis.used]} / 1024 )))x** anonymous |" \
    "| size on disk | $(mib "${res[ox.du]}") | $(mib "${res[redis.du]}") | **$(ratio "${res[ox.du]}" "${res[redis.du]}")x** |" ""
}

# ---- section: plot -------------------------------------------------------------------------
plot() {
  log "plot: throughput vs clients"
  local op rp opid rpid c t o r dat=$work/plot.dat
  op=$(free_port); rp=$(free_port)
  ox_start "$op" "$work/p-ox" always; opid=$PID
  redis_start "$rp" "$work/p-r" always; rpid=$PID
  "$util" gen 0 "$R" 100 > "$work/keys.resp"
  load "$op" "$work/keys.resp"; load "$rp" "$work/keys.resp"
  echo "# clients ox_set redis_set ox_get redis_get" > "$dat"
  emit "## Throughput against clients" "" \
    "Durable pair (oxistore \`appendfsync always\`, Redis \`appendonly yes\` + \`appendfsync always\`)," \
    "100-byte values, no pipelining, $N requests per point ($(nreq 1) below 10 clients), median of $REPEAT" \
    "interleaved runs per point." "" \
    "![throughput against clients]($(realpath -m --relative-to="$(dirname "$OUT")" "$PNG"))" "" \
    "| clients | SET oxistore | SET Redis | SET ratio | GET oxistore | GET Redis | GET ratio |" \
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for c in $CLIENTS; do
    local row=("$c") line="| $c"
    for t in SET GET; do
      set -- $(pair "$op" "$rp" $t "$c" 1 100)
      o=$1; r=$4
      row+=("$o" "$r")
      line+=" | $(fmt_rps "$o") | $(fmt_rps "$r") | **$(ratio "$o" "$r")x**"
    done
    echo "${row[*]}" >> "$dat"
    emit "$line |"
  done
  emit ""
  stop "$op" "$opid"; stop "$rp" "$rpid"
  mkdir -p "$(dirname "$PNG")"
  gnuplot <<EOF
set terminal pngcairo size 900,900 font "sans,11" noenhanced
set output "$PNG"
set multiplot layout 2,1 title "oxistore vs Redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), durable (fsync always), 100-byte values, loopback, $(nproc) cores, $date_run"
set logscale x 2
set xtics ($(echo $CLIENTS | sed 's/\([0-9][0-9]*\)/"\1" \1/g; s/ "/, "/g'))
set grid
set key top left
set xlabel "clients (redis-benchmark -c)"
set ylabel "requests per second"
set format y "%.0s%c"
set yrange [0:*]
plot "$dat" using 1:2 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "SET oxistore", \
     "$dat" using 1:3 with linespoints lw 2 pt 7 dt 2 lc rgb "#d62728" title "SET Redis", \
     "$dat" using 1:4 with linespoints lw 2 pt 5 lc rgb "#2ca02c" title "GET oxistore", \
     "$dat" using 1:5 with linespoints lw 2 pt 5 dt 2 lc rgb "#ff7f0e" title "GET Redis"
set ylabel "ratio oxistore / Redis"
set format y "%.1f"
set yrange [0:*]
plot "$dat" using 1:(\$2/\$3) with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "SET", \
     "$dat" using 1:(\$4/\$5) with linespoints lw 2 pt 5 lc rgb "#2ca02c" title "GET", \
     1 with lines lc rgb "black" dt 3 notitle
unset multiplot
EOF
}

# ---- section: disk --------------------------------------------------------------------------
# One figure of disk bytes per SET: port pid ox|redis -> "rps bytes/SET checkpoint-bytes/SET
# SETs/commit" (the last two oxistore's alone, 0 for Redis). The checkpointer thread's
# write_bytes is its part; the rest is the writer's log, its new segments included.
disk1() {
  local port=$1 pid=$2 s=$3 n w0 w1 k0=0 k1=0 c0=0 c1=0 rps
  n=$(nreq 50)
  w0=$(io_wb "$pid")
  [ "$s" = ox ] && { k0=$(thread_wb "$pid" ox-checkpoint); c0=$(info_field "$port" stats writer_commits); }
  rps=$(bench1 "$port" SET 50 1 100 | cut -d' ' -f1)
  w1=$(io_wb "$pid")
  [ "$s" = ox ] && { k1=$(thread_wb "$pid" ox-checkpoint); c1=$(info_field "$port" stats writer_commits); }
  awk -v r="$rps" -v w="$(( w1 - w0 ))" -v k="$(( k1 - k0 ))" -v c="$(( c1 - c0 ))" -v n="$n" \
    'BEGIN { printf "%s %.0f %.0f %.1f\n", r, w / n, k / n, (c > 0 ? n / c : 0) }'
}
disk() {
  local op rp opid rpid i os=() rs=() o=() dir f size live lsize csize pages
  [ -x "$check_bin" ] || { echo "$check_bin: not found (make all builds it)" >&2; exit 1; }
  log "disk: bytes written per SET"
  op=$(free_port); rp=$(free_port)
  ox_start "$op" "$work/d-ox" always; opid=$PID
  redis_start "$rp" "$work/d-r" always; rpid=$PID
  for (( i = 0; i < REPEAT; i++ )); do
    if (( i % 2 == 0 )); then os+=("$(disk1 "$op" "$opid" ox)"); rs+=("$(disk1 "$rp" "$rpid" redis)")
    else rs+=("$(disk1 "$rp" "$rpid" redis)"); os+=("$(disk1 "$op" "$opid" ox)"); fi
  done
  set -- $(printf '%s\n' "${os[@]}" | median_cols) $(printf '%s\n' "${rs[@]}" | median_cols)
  o=("$@")
  stop "$op" "$opid"; stop "$rp" "$rpid"
  rm -rf "$work/d-ox" "$work/d-r"
  emit "## Disk" "" \
    "### Bytes written per SET" "" \
    "Durable pair (oxistore \`appendfsync always\`, Redis \`appendonly yes\` + \`appendfsync always\`)," \
    "fresh servers, \`SET\` of 100-byte values at 50 clients, no pipelining, $N requests over $R" \
    "random keys; median of $REPEAT interleaved runs. Bytes: the growth of \`write_bytes\` in" \
    "\`/proc/PID/io\` over the run, divided by the requests. The kernel counts there each page" \
    "(folio) of the page cache a write turns dirty, at its size, not the bytes written nor" \
    "what the disk later writes: after each fdatasync the page is clean again and the next" \
    "commit's few hundred bytes count a whole one. On kernels whose page cache uses large" \
    "folios (ext4 from Linux 6.x) a file written in large writes sits in large folios, and" \
    "each commit there would count (and write back) up to 64 KiB: oxistore zero-fills its" \
    "log segments one 4 KiB page per write for that reason (see bytes per commit). oxistore's" \
    "bytes include its checkpoints (LMDB written from the write buffer, when the active" \
    "buffer reaches half of \`write-buffer-limit\` or is 60 s old: shown apart) and the zeros of" \
    "each new 16 MiB log segment; Redis's include its automatic AOF rewrites, if one ran." "" \
    "| | oxistore | Redis | ratio |" "| --- | ---: | ---: | ---: |" \
    "| disk bytes written per SET (goal ≤ 3x) | $(fmt_rps "${o[1]}") | $(fmt_rps "${o[5]}") | **$(ratio "${o[1]}" "${o[5]}")x** |" \
    "| of which oxistore's checkpoints | $(fmt_rps "${o[2]}") | | |" \
    "| SETs per commit (group commit) / bytes per commit | ${o[3]} / $(awk -v b="${o[1]}" -v c="${o[3]}" 'BEGIN { printf "%.0f", b * c }') | | |" \
    "| requests/s during those runs | $(fmt_rps "${o[0]}") | $(fmt_rps "${o[4]}") | $(ratio "${o[0]}" "${o[4]}")x |" ""

  log "disk: data file after rewrites"
  op=$(free_port); dir=$work/d-rw; f=$dir/oxistore.mdb
  ox_start "$op" "$dir" always; opid=$PID
  for i in 1 2 3; do
    redis-benchmark -p "$op" -c 50 -P 16 -t set -n "$RW_N" -r "$RW_KEYS" -d 100 -q > /dev/null 2>&1
  done
  live=$(stat -c %s "$f")
  "$check_bin" compact "$f" "$work/d-live.mdb" > /dev/null
  lsize=$(stat -c %s "$work/d-live.mdb")
  stop "$op" "$opid"
  size=$(stat -c %s "$f")
  pages=$("$check_bin" stat "$f" | awk -F': ' '$1 == "pages" { p = $2 } $1 == "free pages" { f = $2 } END { print p " / " f }')
  "$check_bin" compact "$f" "$work/d-compact.mdb" > /dev/null
  csize=$(stat -c %s "$work/d-compact.mdb")
  mibb() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
  emit "### Data file after rewrites" "" \
    "A fresh oxistore (\`appendfsync always\`), then three times" \
    "\`redis-benchmark -t set -n $RW_N -r $RW_KEYS -d 100 -P 16\` (50 clients): every key" \
    "rewritten many times. Then SHUTDOWN (its last checkpoint writes the write buffer to LMDB)," \
    "and the size of the data file (\`oxistore.mdb\` alone, not its log) against that of a" \
    "copy made then by \`oxistore-check compact FILE DEST\` (LMDB's pages in use, without the" \
    "free ones): what LMDB's copy-on-write leaves as free pages after rewrites. The tool also" \
    "works on a running store; when the log then holds commits the file lacks, it rebuilds" \
    "the data key by key instead (full pages: smaller than a page copy): that copy, made just" \
    "before the SHUTDOWN, is shown too. All from this run, no Redis beside it." "" \
    "| | size | ratio to the compacted copy |" "| --- | ---: | ---: |" \
    "| data file after the rewrites and SHUTDOWN (goal ≤ 2x) | $(mibb "$size") | **$(ratio "$size" "$csize")x** |" \
    "| its pages / free pages (\`oxistore-check stat\`) | $pages | |" \
    "| compacted copy, after the SHUTDOWN | $(mibb "$csize") | 1x |" \
    "| data file before the SHUTDOWN (what the last checkpoint had written) | $(mibb "$live") | $(ratio "$live" "$csize")x |" \
    "| compacted copy made while the server ran, before the SHUTDOWN | $(mibb "$lsize") | $(ratio "$lsize" "$csize")x |" ""
  rm -rf "$dir" "$work/d-compact.mdb" "$work/d-live.mdb"
}

# ---- section: large dataset ---------------------------------------------------------------
aof_wait() { # port: until Redis has no AOF rewrite running or scheduled
  while redis-cli -p "$1" info persistence | grep -q 'aof_rewrite_in_progress:1\|aof_rewrite_scheduled:1'; do sleep 0.1; done
}
large() {
  local key port pid dir t0 t1 s f a first=0 i=0 chunks=()
  log "large: generating $KEYS SET commands"
  while [ "$first" -lt "$KEYS" ]; do
    local cnt=$(( KEYS - first < CHUNK ? KEYS - first : CHUNK ))
    chunks+=("$work/large-$i.resp")
    "$util" gen "$first" "$cnt" "$LARGE_D" > "$work/large-$i.resp"
    first=$(( first + cnt )); i=$(( i + 1 ))
  done
  key=$(printf 'key:%012d' $(( KEYS - 1 )))
  emit "## Large dataset: $KEYS keys" "" \
    "$KEYS distinct keys (\`key:000000000000\` …) with $LARGE_D-byte values, sent by" \
    "\`redis-cli --pipe\` to a fresh server, in ${#chunks[@]} runs of at most $CHUNK keys one after" \
    "the other ($(du -ch "${chunks[@]}" | tail -1 | cut -f1) of generated RESP in all); both servers with" \
    "\`appendfsync $LOAD_FSYNC\` (Redis \`appendonly yes\`, and its default automatic AOF rewrite)." \
    "Load time ends when the last reply of the last run is in. The runs keep each generated" \
    "file small; one pipe would do as well: oxistore stops reading a client whose writes in" \
    "flight reach 4096 commands or 32 MiB, as Redis stops reading while it works, so a" \
    "pipeline's backlog waits in TCP, not in either server's memory. See the RSS rows." \
    "Restart: the time from starting the server process until \`GET $key\` returns its value" \
    "(polled every 2 ms; Redis answers \`-LOADING\` meanwhile). Disk: \`du\` of the data" \
    "directory (oxistore: \`oxistore.mdb\` + its write-ahead log's 16 MiB segments" \
    "\`oxistore.mdb-wal.<16 hex>\`; Redis: \`appendonlydir/\`)." \
    "RSS includes, for oxistore, the pages of the memory-mapped LMDB file it has touched" \
    "(RssFile: page cache, reclaimable), shown apart from its anonymous memory. oxistore's" \
    "anonymous memory is not its data (that lives in the file and the page cache): its" \
    "buffers and caches, the write buffer first (\`write-buffer-limit\`); Redis's is its data" \
    "set. The goal bounds oxistore's anonymous RSS by \`write-buffer-limit\` + 100 MiB, after the" \
    "load and at its peak (sampled after each run of the load)." \
    "The kill -9 comes right after the load (oxistore: RSS and INFO persistence read, nothing" \
    "else), so the log holds what the write buffer held then: the active buffer (a checkpoint" \
    "starts when it reaches half of \`write-buffer-limit\`, or 60 s after its first write) and" \
    "a frozen one if its checkpoint was still running. The table gives INFO's" \
    "\`write_buffer_bytes\`, \`checkpoint_in_progress\` and \`commits_since_checkpoint\` (the" \
    "commits the restart replays) read just before the kill." ""
  declare -A res
  for s in ox redis; do
    port=$(free_port); dir=$work/l-$s
    log "large: loading $s"
    srv_start $s "$port" "$dir" "$LOAD_FSYNC"; pid=$PID
    res[$s.anonpeak]=0
    t0=$(date +%s.%N)
    for f in "${chunks[@]}"; do
      load "$port" "$f"
      a=$(rss_kb "$pid" RssAnon)
      if (( a > res[$s.anonpeak] )); then res[$s.anonpeak]=$a; fi
    done
    t1=$(date +%s.%N)
    res[$s.load]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    res[$s.rate]=$(awk -v a="$t0" -v b="$t1" -v n="$KEYS" 'BEGIN { printf "%.0f", n / (b - a) }')
    res[$s.dbsize]=$(redis-cli -p "$port" dbsize)
    if [ $s = redis ]; then # an automatic AOF rewrite the load started: let it finish
      aof_wait "$port"
      res[$s.rewrites]=$(redis-cli -p "$port" info persistence | awk -F: '/^aof_rewrites:/ { print $2 + 0 }')
    fi
    # everysec: let the last second reach the disk before the kill (always: at once, so
    # that oxistore's write buffer is as the load left it, not drained by a checkpoint)
    [ "$LOAD_FSYNC" = always ] || sleep 2
    if [ $s = ox ]; then # what the log holds for the replay, as the kill will find it
      res[$s.wbl]=$(redis-cli -p "$port" config get write-buffer-limit | tail -1)
      res[$s.wbb]=$(info_field "$port" persistence write_buffer_bytes)
      res[$s.ckpt]=$(info_field "$port" persistence checkpoint_in_progress)
      res[$s.pending]=$(info_field "$port" persistence commits_since_checkpoint)
    fi
    res[$s.rss]=$(rss_kb "$pid" VmRSS); res[$s.anon]=$(rss_kb "$pid" RssAnon); res[$s.file]=$(rss_kb "$pid" RssFile)
    if (( res[$s.anon] > res[$s.anonpeak] )); then res[$s.anonpeak]=${res[$s.anon]}; fi
    log "large: $s kill -9 and restart"
    kill9 "$pid"
    res[$s.du]=$(du -sk "$dir" | cut -f1)
    res[$s.files]=$(cd "$dir" && find . -type f -printf '%P %s\n' | sort | awk '{ printf "%s%s %.0f MiB", (NR>1?", ":""), $1, $2/1048576 }')
    t0=$(date +%s.%N); srv_start $s "$port" "$dir" "$LOAD_FSYNC" nowait; pid=$PID
    res[$s.restart1]=$("$util" waitget "$port" "$key" "$LARGE_D" "$t0")
    res[$s.dbsize1]=$(redis-cli -p "$port" dbsize)
    res[$s.rss1]=$(rss_kb "$pid" VmRSS); res[$s.anon1]=$(rss_kb "$pid" RssAnon)
    if [ $s = redis ]; then
      # What a long-running Redis restarts from: an AOF rewritten to an RDB-preamble base.
      log "large: redis BGREWRITEAOF"
      t0=$(date +%s.%N)
      redis-cli -p "$port" bgrewriteaof > /dev/null
      sleep 0.2
      aof_wait "$port"
      t1=$(date +%s.%N)
      res[$s.rewrite]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
      res[$s.du2]=$(du -sk "$dir" | cut -f1)
    fi
    log "large: $s SHUTDOWN and restart"
    stop "$port" "$pid"
    [ $s = ox ] && res[$s.du2]=$(du -sk "$dir" | cut -f1)
    t0=$(date +%s.%N); srv_start $s "$port" "$dir" "$LOAD_FSYNC" nowait; pid=$PID
    res[$s.restart2]=$("$util" waitget "$port" "$key" "$LARGE_D" "$t0")
    res[$s.dbsize2]=$(redis-cli -p "$port" dbsize)
    stop "$port" "$pid"
    rm -rf "$dir"
  done
  rm -f "${chunks[@]}"
  mib() { awk -v k="$1" 'BEGIN { printf "%.0f MiB", k / 1024 }'; }
  local bound=$(( ${res[ox.wbl]} / 1024 + 100 * 1024 )) # KiB: write-buffer-limit + 100 MiB
  emit "| | oxistore | Redis | ratio |" "| --- | ---: | ---: | ---: |" \
    "| load time (s) | ${res[ox.load]} | ${res[redis.load]} | **$(ratio "${res[ox.load]}" "${res[redis.load]}")x** |" \
    "| load rate (keys/s; goal ≥ 1.5x) | ${res[ox.rate]} | ${res[redis.rate]} | **$(ratio "${res[ox.rate]}" "${res[redis.rate]}")x** |" \
    "| DBSIZE after load | ${res[ox.dbsize]} | ${res[redis.dbsize]} | |" \
    "| Redis: automatic AOF rewrites during the load (waited for before the rows below) | | ${res[redis.rewrites]} | |" \
    "| size on disk after load | $(mib "${res[ox.du]}") | $(mib "${res[redis.du]}") | **$(ratio "${res[ox.du]}" "${res[redis.du]}")x** |" \
    "| files after load | ${res[ox.files]} | ${res[redis.files]} | |" \
    "| RSS after load | $(mib "${res[ox.rss]}") | $(mib "${res[redis.rss]}") | **$(ratio "${res[ox.rss]}" "${res[redis.rss]}")x** |" \
    "| of which anonymous / file-backed | $(mib "${res[ox.anon]}") / $(mib "${res[ox.file]}") | $(mib "${res[redis.anon]}") / $(mib "${res[redis.file]}") | |" \
    "| oxistore: anonymous RSS after load, and its peak during the load, against write-buffer-limit ($(mib $(( ${res[ox.wbl]} / 1024 )))) + 100 MiB (goal ≤ 1x) | $(mib "${res[ox.anon]}"), peak $(mib "${res[ox.anonpeak]}") / $(mib "$bound") | | **$(ratio "${res[ox.anon]}" "$bound")x**, peak **$(ratio "${res[ox.anonpeak]}" "$bound")x** |" \
    "| oxistore at the kill -9: write buffer bytes (of the limit), a checkpoint running (1/0), commits the log held after the last checkpoint | $(mib $(( ${res[ox.wbb]} / 1024 ))) of $(mib $(( ${res[ox.wbl]} / 1024 ))), ${res[ox.ckpt]}, ${res[ox.pending]} | | |" \
    "| restart after kill -9 → first GET with data (s; goal ≤ 1 s) | ${res[ox.restart1]} | ${res[redis.restart1]} | **$(ratio "${res[ox.restart1]}" "${res[redis.restart1]}")x** |" \
    "| DBSIZE after that restart | ${res[ox.dbsize1]} | ${res[redis.dbsize1]} | |" \
    "| RSS at first reply (anonymous: about the replayed write buffer, for oxistore) | $(mib "${res[ox.rss1]}") ($(mib "${res[ox.anon1]}")) | $(mib "${res[redis.rss1]}") ($(mib "${res[redis.anon1]}")) | |" \
    "| Redis: BGREWRITEAOF (s) | | ${res[redis.rewrite]} | |" \
    "| size on disk, oxistore after SHUTDOWN, Redis after rewrite | $(mib "${res[ox.du2]}") | $(mib "${res[redis.du2]}") | **$(ratio "${res[ox.du2]}" "${res[redis.du2]}")x** |" \
    "| restart after that (oxistore: clean SHUTDOWN; Redis: RDB-preamble AOF) → first GET with data (s) | ${res[ox.restart2]} | ${res[redis.restart2]} | **$(ratio "${res[ox.restart2]}" "${res[redis.restart2]}")x** |" \
    "| DBSIZE after that restart | ${res[ox.dbsize2]} | ${res[redis.dbsize2]} | |" ""
}

# ---- run -------------------------------------------------------------------------------------
: > "$md"
for sec in $SECTIONS; do
  case $sec in matrix|types|pubsub|scripts|repl|plot|disk|zset|queue|large) $sec ;; *) echo "unknown section $sec" >&2; exit 2 ;; esac
done
elapsed=$(( $(date +%s) - started ))

{
  echo "# oxistore benchmarks"
  echo
  echo "Generated by \`make bench\`: \`$cmdline build/rel/oxistore-server\` (about $(( (elapsed + 30) / 60 )) min)."
  echo
  echo "> **Read ratios, not figures.** The machine is shared: other builds and tests ran beside"
  echo "> this benchmark, and loopback benchmarks on $(nproc) cores put client and server on the"
  echo "> same cores. An absolute figure from here says little; only the ratio of two figures"
  echo "> from the same run means much, so every figure stands beside Redis's with the ratio"
  echo "> oxistore/Redis (above 1 = oxistore ahead for req/s; for times and sizes, below 1 = oxistore"
  echo "> smaller)."
  echo
  echo "- date: $date_run"
  echo "- machine: $(nproc) cores, $cpu, kernel $(uname -r), $(awk '/MemTotal/ { printf "%.0f GiB", $2/1048576 }' /proc/meminfo) RAM, data on $(df -h "$top" | awk 'NR==2 {print $1}')"
  echo "- oxistore: $ox_ver, git $git_rev$git_dirty, release build (\`make all\`, -O2)"
  echo "- Redis: $r_ver; $rb_ver"
  echo "- configuration: oxistore \`--io-threads $IOT\` (I/O threads answering reads, plus its one"
  echo "  writer thread), \`--loglevel warning\`, defaults otherwise; Redis single-threaded"
  echo "  (\`io-threads 1\`, its default), \`--save \"\"\`, defaults otherwise. Both on 127.0.0.1,"
  echo "  data on the same disk, running side by side while each figure's load went to one of them;"
  echo "  redis-benchmark ran on the same $(nproc) cores."
  echo
  if [ -s "$sum" ]; then
    echo "## Headline (100-byte values, 50 clients, no pipelining)"
    echo
    echo "| figure | persistence | oxistore req/s | Redis req/s | ratio | p50 ms ox \\| Redis | p99 ms ox \\| Redis |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
    cat "$sum"
    echo
  fi
  cat "$md"
} > "$work/final.md"
mv "$work/final.md" "$OUT"
log "wrote $OUT$(case " $SECTIONS " in *" plot "*) echo " and $PNG" ;; esac) in ${elapsed}s"
